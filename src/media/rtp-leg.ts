import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';

import type { NativeLegSettings, NativeLegStats } from '../native/rtp.js';
import { MediaError } from './errors.js';

/** Where a leg's far end is: its RTP port and, unless it is the next port up, its RTCP port. */
export interface RtpAddress {
  address: string;
  port: number;
  rtcpPort?: number;
}

/** How a leg treats RTCP (RFC 3550 §6): relay the far ends' reports or terminate them here. */
export type RtcpHandling = 'relay' | 'terminate';

/** Settings of one RTP leg; every field can change later through {@link RtpLeg.update}. */
export interface RtpLegOptions {
  /** The far end from SDP; without it the leg learns it from the first valid RTP packet. */
  remote?: RtpAddress;
  /** Accept RTP/RTCP only from the remote (from SDP or learned), so nobody else can take the stream. */
  strictSource?: boolean;
  /** The payload type the far end sends and receives: 0 PCMU, 8 PCMA (RFC 3551), or a dynamic one. */
  payloadType?: number;
  /** RFC 4733 telephone-event payload type, or null when the far end does not use it. */
  telephoneEventPayloadType?: number | null;
  /** RTP clock rate of the audio payload (8000 for G.711). */
  clockRate?: number;
  /** Emit `idle` when no RTP arrived for this long; 0 never. */
  idleTimeoutMs?: number;
  /** Cap on packets per second accepted from the far end; 0 none. */
  rateLimitPps?: number;
  /** Larger datagrams are dropped as oversize. */
  maxPacketSize?: number;
  rtcp?: RtcpHandling;
  /** Nominal interval of the reports the bridge generates (terminate mode), RFC 3550 §6.2. */
  rtcpIntervalMs?: number;
  /** The SSRC the far end sees; by default the first source's SSRC is kept. */
  ssrc?: number;
  /** SDES CNAME in generated reports (RFC 3550 §6.5.1). */
  cname?: string;
  /**
   * Makes this a PDSV leg: its far end is a line gateway sending and receiving PDSV voice frames
   * (docs/pdsv.md §5) of this line port, packetised to 20 ms RTP towards the peer leg and back.
   * `payloadType` is then the line's G.711 law (0 or 8).
   */
  pdsvLine?: number;
}

/** A finished RFC 4733 event, reported once however many end packets arrived. */
export interface RtpDigit {
  /** Event code (RFC 4733 §3.2): 0-9 digits, 10 `*`, 11 `#`, 12-15 A-D, 16 flash. */
  event: number;
  /** `0`-`9`, `*`, `#`, `A`-`D`, `flash`, or the number for other events. */
  digit: string;
  /** Duration in RTP timestamp units. */
  duration: number;
  /** Power level in -dBm0 (0-63). */
  volume: number;
}

/** A leg's counters; `drops` by reason. */
export type RtpLegStats = NativeLegStats;

export interface RtpLegEvents {
  learned: [remote: { address: string; port: number; rtcp: boolean }];
  idle: [];
  digit: [digit: RtpDigit];
  error: [error: MediaError];
}

/** Life cycle of a leg. */
export enum RtpLegState {
  /** Ports bound, the bridge thread relays. */
  Open = 'open',
  /** Ports released; nothing can be done with it. */
  Disposed = 'disposed',
}

/** What a leg needs from its engine; implemented by {@link RtpEngine}. */
export interface RtpLegOwner {
  updateLeg(leg: RtpLeg, settings: NativeLegSettings): void;
  legStats(leg: RtpLeg): NativeLegStats;
  disposeLeg(leg: RtpLeg): void;
}

const DIGITS = '0123456789*#ABCD';

/** Name of an RFC 4733 §3.2 event code. */
export function digitName(event: number): string {
  if (event < DIGITS.length) return DIGITS[event]!;
  if (event === 16) return 'flash';
  return String(event);
}

function checkInt(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MediaError('MEDIA_ERR_ARGUMENT', `${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

/** Validates options and turns them into the addon's settings. */
export function toNativeSettings(o: RtpLegOptions): NativeLegSettings {
  const s: NativeLegSettings = {};
  if (o.remote) {
    if (!isIPv4(o.remote.address)) {
      throw new MediaError('MEDIA_ERR_ARGUMENT', `remote address must be IPv4, got ${o.remote.address}`);
    }
    checkInt('remote port', o.remote.port, 1, 65535);
    checkInt('remote RTCP port', o.remote.rtcpPort, 1, 65535);
    s.remoteAddress = o.remote.address;
    s.remotePort = o.remote.port;
    s.remoteRtcpPort = o.remote.rtcpPort ?? (o.remote.port === 65535 ? o.remote.port : o.remote.port + 1);
  }
  checkInt('payloadType', o.payloadType, 0, 127);
  if (o.telephoneEventPayloadType !== null) checkInt('telephoneEventPayloadType', o.telephoneEventPayloadType, 0, 127);
  checkInt('clockRate', o.clockRate, 1, 192000);
  checkInt('idleTimeoutMs', o.idleTimeoutMs, 0, 2 ** 31);
  checkInt('rateLimitPps', o.rateLimitPps, 0, 10_000_000);
  checkInt('maxPacketSize', o.maxPacketSize, 12, 2000);
  checkInt('rtcpIntervalMs', o.rtcpIntervalMs, 100, 600_000);
  checkInt('ssrc', o.ssrc, 0, 0xffffffff);
  checkInt('pdsvLine', o.pdsvLine, 0, 65535);
  if (o.pdsvLine !== undefined) {
    if (o.payloadType !== undefined && o.payloadType !== 0 && o.payloadType !== 8) {
      throw new MediaError('MEDIA_ERR_ARGUMENT', `a PDSV leg carries G.711 (payload type 0 or 8), not ${o.payloadType}`);
    }
    s.pdsvPort = o.pdsvLine;
  }
  if (o.rtcp !== undefined && o.rtcp !== 'relay' && o.rtcp !== 'terminate') {
    throw new MediaError('MEDIA_ERR_ARGUMENT', `rtcp must be 'relay' or 'terminate', got ${String(o.rtcp)}`);
  }
  s.strictSource = o.strictSource ?? false;
  s.audioPt = o.payloadType ?? 0;
  s.telephoneEventPt = o.telephoneEventPayloadType ?? 255;
  s.clockRate = o.clockRate ?? 8000;
  s.idleTimeoutMs = o.idleTimeoutMs ?? 0;
  s.rateLimitPps = o.rateLimitPps ?? 0;
  s.maxPacketSize = o.maxPacketSize ?? 1500;
  s.rtcpMode = o.rtcp === 'terminate' ? 1 : 0;
  s.rtcpIntervalMs = o.rtcpIntervalMs ?? 5000;
  s.outSsrc = o.ssrc ?? 0;
  if (o.cname !== undefined) s.cname = o.cname;
  return s;
}

/**
 * One RTP/RTCP port pair on the bridge (RFC 3550 §11: RTP on an even port, RTCP on the next), facing one
 * far end. Join two legs with {@link RtpEngine.bridge}. Call {@link RtpLeg.dispose} to release the ports.
 */
export class RtpLeg extends EventEmitter<RtpLegEvents> {
  private current: RtpLegOptions;
  private stateValue = RtpLegState.Open;
  private learnedRemote: RtpAddress | undefined;

  /** @internal Created by {@link RtpEngine.createLeg}. */
  constructor(
    private readonly owner: RtpLegOwner,
    /** The engine's id of this leg. */
    readonly id: number,
    /** Local RTP port (even). */
    readonly rtpPort: number,
    /** Local RTCP port (rtpPort + 1). */
    readonly rtcpPort: number,
    options: RtpLegOptions,
  ) {
    super();
    this.current = { ...options };
  }

  get state(): RtpLegState {
    return this.stateValue;
  }

  /** The options as last set. */
  get options(): Readonly<RtpLegOptions> {
    return this.current;
  }

  /** The far end: from SDP, or as learned from its packets. */
  get remote(): RtpAddress | undefined {
    return this.current.remote ?? this.learnedRemote;
  }

  /** Changes settings (e.g. the remote from a re-INVITE's SDP); unspecified fields keep their values. */
  update(changes: RtpLegOptions): void {
    this.assertOpen();
    const next = { ...this.current, ...changes };
    this.owner.updateLeg(this, toNativeSettings(next));
    this.current = next;
  }

  /** Current counters, read from the bridge thread without stopping it. */
  stats(): RtpLegStats {
    this.assertOpen();
    return this.owner.legStats(this);
  }

  /** Releases the ports and leaves any bridge. Idempotent. */
  dispose(): void {
    if (this.stateValue === RtpLegState.Disposed) return;
    this.owner.disposeLeg(this);
    this.stateValue = RtpLegState.Disposed;
    this.removeAllListeners();
  }

  /** @internal Marks the leg disposed when its engine closed. */
  markDisposed(): void {
    this.stateValue = RtpLegState.Disposed;
    this.removeAllListeners();
  }

  /** @internal Called by the engine with this leg's share of an event batch. */
  deliver(type: 'learned' | 'idle' | 'digit' | 'error', a: number, b: number, c: number, address?: string,
    port?: number, text?: string): void {
    switch (type) {
      case 'learned':
        if (a === 0 && address !== undefined && port !== undefined) this.learnedRemote = { address, port };
        this.emit('learned', { address: address ?? '', port: port ?? 0, rtcp: a === 1 });
        return;
      case 'idle':
        this.emit('idle');
        return;
      case 'digit':
        this.emit('digit', { event: a, digit: digitName(a), duration: b, volume: c });
        return;
      case 'error':
        if (this.listenerCount('error') > 0) {
          this.emit('error', new MediaError('MEDIA_ERR_SOCKET', `${text ?? 'socket'} failed: errno ${a}`));
        }
        return;
      default:
        throw new MediaError('MEDIA_ERR_ENGINE', `unknown RTP event ${String(type)}`);
    }
  }

  private assertOpen(): void {
    if (this.stateValue !== RtpLegState.Open) throw new MediaError('MEDIA_ERR_CLOSED', `RTP leg ${this.id} is disposed`);
  }
}
