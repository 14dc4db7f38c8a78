/**
 * Typed facade over the native RTP bridge (`native/rtp/`): one engine is one bridge thread that owns every
 * leg's sockets. Calls here only post commands to that thread or read counters; RTP itself never enters
 * JavaScript. Events (address learned, idle, RFC 4733 digits, errors) arrive in batches.
 */
import { addon } from './addon.js';

/** Drop reasons counted per leg by the bridge (`native/rtp/bridge.h` DropReason). */
export const RTP_DROP_REASONS = [
  'short',
  'version',
  'malformed',
  'oversize',
  'rate',
  'source',
  'payloadType',
  'noPeer',
  'sendFailed',
] as const;

export type RtpDropReason = (typeof RTP_DROP_REASONS)[number];

/** Settings of one leg as the addon reads them; `src/media/` validates them before they get here. */
export interface NativeLegSettings {
  /** Set for a leg whose far end is a PDSV line (voice frames of this line port) instead of RTP. */
  pdsvPort?: number;
  remoteAddress?: string;
  remotePort?: number;
  remoteRtcpPort?: number;
  strictSource?: boolean;
  audioPt?: number;
  /** 255: none. */
  telephoneEventPt?: number;
  clockRate?: number;
  idleTimeoutMs?: number;
  rateLimitPps?: number;
  maxPacketSize?: number;
  /** 0 relay, 1 terminate. */
  rtcpMode?: 0 | 1;
  rtcpIntervalMs?: number;
  outSsrc?: number;
  cname?: string;
}

/** One event from the bridge thread. `a`, `b`, `c` depend on `type` (see native/rtp/bridge.h). */
export interface NativeRtpEvent {
  type: 'learned' | 'idle' | 'digit' | 'error';
  leg: number;
  a: number;
  b: number;
  c: number;
  address?: string;
  port?: number;
  text?: string;
}

/** Counters of one leg (RFC 3550 §6.4.1 for expected, lost and jitter). */
export interface NativeLegStats {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  rtcpRx: number;
  rtcpTx: number;
  digits: number;
  transcoded: number;
  expected: number;
  lost: number;
  /** Interarrival jitter in RTP timestamp units (RFC 3550 A.8). */
  jitter: number;
  inSsrc: number;
  outSsrc: number;
  /** Round-trip time from the far end's reports (RFC 3550 §6.4.1), microseconds; 0 until known. */
  rttUs: number;
  drops: Record<RtpDropReason, number>;
}

export interface NativeEngineStats {
  /** CPU time of the bridge thread, nanoseconds. */
  cpuNs: number;
  wakeups: number;
  batches: number;
  commands: number;
  /** Messages sent with UDP segmentation offload (several datagrams each). */
  gsoMessages: number;
  /** io_uring: multishot receives ended for want of a provided buffer (ENOBUFS). */
  recvNoBuffers: number;
  /** io_uring: provided receive buffers in the ring (0 on epoll). */
  recvBuffers: number;
  /** io_uring: receives armed again after they ended. */
  recvRearms: number;
  /** Connected send sockets: connect() calls (first use, remote changes). */
  sendConnects: number;
  /** Connected send sockets the kernel refused (that leg sends unconnected). */
  sendConnectFailures: number;
  legs: number;
  /** The backend the bridge thread runs. */
  backend: 'io_uring' | 'epoll';
}

export interface NativeEngineOptions {
  bindAddress?: string;
  portMin?: number;
  portMax?: number;
  /** Nice value of the bridge thread (setpriority(2)); 0 leaves it as inherited. */
  threadNice?: number;
  /** Nap after a busy wake-up, microseconds (0: off). */
  coalesceUs?: number;
  /** UDP segmentation offload on send (default true). */
  gso?: boolean;
  /** RTP to a leg's remote through a second socket on its port connected to the remote (default true). */
  connectSend?: boolean;
  /** 'auto' (io_uring where the kernel has it, else epoll), 'io_uring' (or fail) or 'epoll'. */
  backend?: 'auto' | 'io_uring' | 'epoll';
  /** Adaptive moderation bound of the io_uring backend, microseconds (0: off). */
  moderationUs?: number;
  /** io_uring provided receive buffers, a power of two in [1, 32768], fixed (0 or absent: growing with the legs). */
  receiveBuffers?: number;
}

/** Receiver statistics of a packet sequence (RFC 3550 A.1, A.3, A.8). */
export interface RtpAnalysis {
  received: number;
  expected: number;
  extendedMax: number;
  lost: number;
  /** 8-bit fixed point fraction (RFC 3550 §6.4.1). */
  fractionLost: number;
  jitter: number;
}

/** The addon's RTP functions (registered by InitRtp in native/napi/rtp_binding.cpp). */
export interface RtpAddon {
  rtpEngineCreate(options: NativeEngineOptions, onEvents: (events: NativeRtpEvent[]) => void): number;
  rtpEngineClose(engine: number): void;
  rtpEngineStats(engine: number): NativeEngineStats;
  rtpLegCreate(engine: number, settings: NativeLegSettings): { id: number; rtpPort: number; rtcpPort: number };
  rtpLegUpdate(engine: number, leg: number, settings: NativeLegSettings): void;
  rtpLegConnect(engine: number, a: number, b: number): void;
  rtpLegDisconnect(engine: number, leg: number): void;
  rtpLegDestroy(engine: number, leg: number): void;
  rtpLegStats(engine: number, leg: number): NativeLegStats;
  /** Runs the bridge's receiver statistics over crafted packets; arrivals in RTP timestamp units. */
  rtpAnalyze(seqs: number[], timestamps: number[], arrivals: number[]): RtpAnalysis;
}

/** The native functions, typed. */
export const rtpAddon: RtpAddon = addon;
