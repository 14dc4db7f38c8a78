import { createRequire } from 'node:module';
import { join } from 'node:path';

import { packageRoot } from '../util/package-root.js';
import type { RtpAddon } from './rtp.js';

/**
 * The raw exports of the compiled addon (`build/Release/switchhook.node`). Each native module adds its
 * functions here; only the typed wrappers in `src/native/` use this object directly.
 */
export interface NativeAddon extends RtpAddon {
  readonly abiVersion: number;
  /**
   * native/csta: scans CSTA XML frames in `data` into the batch array `out` (layout in
   * native/csta/scanner.h); `state` = [resyncing, bytes skipped in this resync, cache generation]. Use
   * CstaFrameReader (./csta.ts), which validates the arguments.
   */
  cstaScan(
    data: Uint8Array,
    out: Int32Array,
    state: Int32Array,
    maxFrameBytes: number,
    maxResyncBytes: number,
    cache: Uint8Array,
    scratch: Uint8Array,
  ): void;

  /** G.711 decode (`law` 0 = PCMU, 8 = PCMA) of codes to 16-bit linear samples (native/g711). */
  g711Decode(law: number, codes: Uint8Array): Int16Array;
  /** G.711 encode of 16-bit linear samples. */
  g711Encode(law: number, samples: Int16Array): Uint8Array;
  /** Transcodes codes of law `fromLaw` to the other law through the 256-entry tables. */
  g711Transcode(fromLaw: number, codes: Uint8Array): Uint8Array;

  /** CRC-16/CCITT-FALSE (native/pdsv). */
  pdsvCrc16(bytes: Uint8Array): number;
  /** PDSV error code strings indexed by the native error number (0 = `PDSV_OK`). */
  pdsvErrorCodes(): string[];
  /** One PDSV signal frame, or null when a field is out of range. */
  pdsvBuildSignal(
    direction: number,
    port: number,
    sequence: number,
    reset: boolean,
    id: number,
    a: number,
    b: number,
    c: number,
    text: Uint8Array | null,
  ): Buffer | null;
  /** One PDSV voice frame, or null when a field is out of range. */
  pdsvBuildVoice(
    direction: number,
    port: number,
    sequence: number,
    reset: boolean,
    codec: number,
    flags: number,
    timestamp: number,
    samples: Uint8Array,
  ): Buffer | null;
  /** One PDSV link (keep-alive) frame, or null when a field is out of range. */
  pdsvBuildLink(
    direction: number,
    port: number,
    sequence: number,
    reset: boolean,
    kind: number,
    status: number,
    interval: number,
  ): Buffer | null;
  /**
   * native/sip: a scanner with this header name table (lower-case names, single-valued groups, roles, slots)
   * writing into the record ring `out`, each record within `room` words of where it starts; `tokens` (up to
   * 64 of 1-16 bytes: methods, transports) are named in records by index; `baselineSimd` keeps its scans to
   * the x86-64 baseline instruction set where the CPU has AVX2 (same records). Returns its handle. Use
   * SipScanner (src/native/sip.ts).
   */
  sipInit(
    names: readonly string[],
    single: Uint8Array,
    roles: Uint8Array,
    slots: Uint8Array,
    out: Int32Array,
    room: number,
    tokens?: readonly string[],
    baselineSimd?: boolean,
  ): SipScannerHandle;
  /** native/sip: the limits of the scanner's following scans (int32 values). */
  sipLimits(handle: SipScannerHandle, maxHeaderBytes: number, maxBodyBytes: number, maxHeaders: number): void;
  /**
   * native/sip: the scan function of a scanner (it keeps the scanner alive). Each call scans one SIP message
   * into the ring at word `at`; when scanned, it returns the start line and headers as a latin1 string,
   * else `undefined`.
   */
  sipScanFunction(handle: SipScannerHandle): (buf: Uint8Array, at: number) => string | undefined;

  /**
   * native/net: a UDP socket polled by this thread's libuv loop. `onBatch(count)` runs once per received
   * batch (datagrams described in `recvMeta`), `onSendErrors(errno, count)` when backlog sends fail,
   * `onClosed()` once the fd is released. Use UdpSocket (./udp.ts), which validates the arguments.
   */
  readonly UdpSocket: new (
    options: NativeUdpOptions,
    onBatch: (count: number) => void,
    onSendErrors: (errno: number, count: number) => void,
    onClosed: () => void,
  ) => NativeUdpSocket;

  /** The streaming PDSV deframer; `deliverVoice` copies voice samples into the batches. */
  readonly PdsvDecoder: new (deliverVoice: boolean) => NativePdsvDecoder;
}

/** Options of the native UDP socket (native/napi/udp_binding.cpp); out-of-range numbers are clamped. */
export interface NativeUdpOptions {
  family: 4 | 6;
  host: string;
  port: number;
  recvBufferBytes?: number | undefined;
  sendBufferBytes?: number | undefined;
  recvSlots?: number | undefined;
  slotBytes?: number | undefined;
  sendCapacity?: number | undefined;
  sendSlabBytes?: number | undefined;
  maxQueue?: number | undefined;
  maxQueueBytes?: number | undefined;
}

/**
 * A native UDP socket. `recvSlab`/`recvMeta` (8 int32 per datagram: offset, length, port, family, address
 * bytes) hold the current receive batch; JavaScript stages sends in `sendSlab`/`sendMeta` (8 int32 per
 * datagram: offset, length, address index, port, then the address itself when the index is -4 or -6, laid
 * out as in `recvMeta`) and calls `flush(count)`, which returns how many failed.
 * `counters` is a Float64Array buffer in the order of UDP_COUNTERS (./udp.ts).
 */
export interface NativeUdpSocket {
  readonly host: string;
  readonly port: number;
  /** SO_RCVBUF / SO_SNDBUF as the kernel reports them after opening. */
  readonly recvBufferBytes: number;
  readonly sendBufferBytes: number;
  readonly recvSlab: ArrayBuffer;
  readonly recvMeta: ArrayBuffer;
  readonly sendSlab: ArrayBuffer;
  readonly sendMeta: ArrayBuffer;
  readonly counters: ArrayBuffer;
  addAddress(literal: string): number;
  clearAddresses(): void;
  flush(count: number): number;
  injectSendFault(errno: number, count: number): void;
  close(): void;
}

/** Opaque handle of a native SIP scanner. */
export interface SipScannerHandle {
  readonly __sipScanner: never;
}

/**
 * Native PDSV deframer. Each call returns one batch (an ArrayBuffer: `[count, dataOffset, voiceFrames]`,
 * then `count` records of 11 int32 words, then the bytes they point at), or undefined when nothing came out.
 */
export interface NativePdsvDecoder {
  push(bytes: Uint8Array): ArrayBuffer | undefined;
  pushDatagram(bytes: Uint8Array): ArrayBuffer | undefined;
  finish(): ArrayBuffer | undefined;
  reset(): void;
  buffered(): number;
  counters(): Record<string, number>;
}

const require = createRequire(import.meta.url);

/** The loaded addon; built by `npm install` / `npm ci` (node-gyp). */
export const addon: NativeAddon = require(join(packageRoot(), 'build', 'Release', 'switchhook.node')) as NativeAddon;
