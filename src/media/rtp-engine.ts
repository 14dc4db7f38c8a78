import { rtpAddon, RTP_DROP_REASONS, type NativeEngineStats, type NativeLegSettings, type NativeLegStats,
  type NativeRtpEvent } from '../native/rtp.js';
import { createLogger } from '../util/log.js';
import { MetricsRegistry, type Counter, type Gauge } from '../util/metrics.js';
import { fromNative, MediaError } from './errors.js';
import { RtpBridge, type RtpBridgeOwner } from './rtp-bridge.js';
import { RtpLeg, toNativeSettings, type RtpLegOptions, type RtpLegOwner } from './rtp-leg.js';

const log = createLogger('media');

/** The bridge thread's I/O backend (see {@link RtpEngineOptions.backend}). */
export type RtpBackend = 'auto' | 'io_uring' | 'epoll';

const BACKENDS: readonly RtpBackend[] = ['auto', 'io_uring', 'epoll'];

/** Default adaptive moderation bound of the io_uring backend, microseconds. */
export const DEFAULT_MODERATION_US = 500;

/** Where legs bind and which ports they take. */
export interface RtpEngineOptions {
  /** IPv4 address the legs bind to (default 127.0.0.1). */
  bindAddress?: string;
  /** Lowest and highest port of the RTP/RTCP range (even/odd pairs inside it). */
  portMin?: number;
  portMax?: number;
  /**
   * Nice value for the bridge thread (-20..19; below 0 needs CAP_SYS_NICE). Media relays commonly run above
   * ordinary work so that packets are not queued behind it. Default: inherited.
   */
  threadNice?: number;
  /**
   * Coalescing, in microseconds (0..10000, default 0 = off): after a wake-up that relayed packets the bridge
   * thread naps this long, so the next wake-up finds more datagrams per socket. Fewer context switches and
   * system calls per packet under load, at the price of at most this much added latency.
   */
  coalesceUs?: number;
  /**
   * UDP segmentation offload on send (udp(7) UDP_SEGMENT, default true): equal-size datagrams of one wake-up
   * for one destination leave as one message the kernel splits. The datagrams on the wire are the same; the
   * bridge turns it off by itself (with an error event) where the kernel refuses it.
   */
  gso?: boolean;
  /**
   * Connected send sockets (default true): RTP towards a leg's remote leaves through a second socket bound
   * to the leg's RTP port (SO_REUSEPORT) and connected to that remote, so the kernel keeps the route instead
   * of looking it up for every datagram (udp(7)); it is connected again when the remote moves. Datagrams from
   * the remote arrive on it and are handled like the leg's own. The bytes on the wire, their source port and
   * every counter are the same either way; a leg whose second socket the kernel refuses sends unconnected
   * (`stats().sendConnectFailures`).
   */
  connectSend?: boolean;
  /**
   * How the bridge thread moves datagrams: `'io_uring'` (multishot receives into provided buffers, sends
   * submitted together, one io_uring_enter per wake-up; Linux >= 6.1, else creating the engine fails),
   * `'epoll'` (epoll, recvmmsg, sendmmsg) or `'auto'` (io_uring where the kernel offers it, epoll otherwise,
   * with an `error` event saying why). Default: the `SWITCHHOOK_RTP_BACKEND` environment variable, else
   * `'auto'`. `stats().backend` says which one runs.
   */
  backend?: RtpBackend;
  /**
   * Adaptive moderation bound of the io_uring backend, microseconds (0..1000, default
   * {@link DEFAULT_MODERATION_US}; 0 = off). While the recent packet rate brings at least two datagrams
   * within the bound, each wait returns once about that many are ready or the bound passed with at least
   * one, so a wake-up carries many datagrams; at low rates and when idle every datagram wakes the thread.
   * Adds at most the bound to a packet's latency. Ignored by the epoll backend.
   */
  moderationUs?: number;
  /**
   * Provided receive buffers of the io_uring backend, a fixed power of two in [1, 32768]. Default: 4096,
   * growing with the legs (two per leg, up to 32768; `stats().recvBuffers`). Each holds one datagram
   * between its arrival and its send; while none is free, datagrams wait in their socket's queue
   * and the receives the kernel ended (ENOBUFS, `stats().recvNoBuffers`) are armed again once the buffers are
   * back (`stats().recvRearms`). Ignored by the epoll backend.
   */
  receiveBuffers?: number;
  metrics?: MetricsRegistry;
}

/**
 * The media engine: one native bridge thread and the legs and bridges on it. Everything it owns is
 * released by {@link RtpEngine.close}, which also stops the thread.
 */
export class RtpEngine implements RtpLegOwner, RtpBridgeOwner {
  private handle: number | undefined;
  private readonly legs = new Map<number, RtpLeg>();
  private readonly bridges = new Map<RtpLeg, RtpBridge>();
  private readonly legsGauge: Gauge;
  private readonly eventsCounter: Counter;
  private readonly dropsCounter: Counter;
  private readonly packetsCounter: Counter;

  constructor(options: RtpEngineOptions = {}) {
    const portMin = options.portMin ?? 30000;
    const portMax = options.portMax ?? 39999;
    if (!Number.isInteger(portMin) || !Number.isInteger(portMax) || portMin < 1024 || portMax > 65535 ||
      portMax - portMin < 1) {
      throw new MediaError('MEDIA_ERR_ARGUMENT', `bad RTP port range ${portMin}-${portMax}`);
    }
    const threadNice = options.threadNice ?? 0;
    if (!Number.isInteger(threadNice) || threadNice < -20 || threadNice > 19) {
      throw new MediaError('MEDIA_ERR_ARGUMENT', `threadNice must be an integer in [-20, 19], got ${threadNice}`);
    }
    const coalesceUs = options.coalesceUs ?? 0;
    if (!Number.isInteger(coalesceUs) || coalesceUs < 0 || coalesceUs > 10_000) {
      throw new MediaError('MEDIA_ERR_ARGUMENT', `coalesceUs must be an integer in [0, 10000], got ${coalesceUs}`);
    }
    const backend = options.backend ?? (process.env['SWITCHHOOK_RTP_BACKEND'] as RtpBackend | undefined) ?? 'auto';
    if (!BACKENDS.includes(backend)) {
      throw new MediaError('MEDIA_ERR_ARGUMENT', `backend must be one of ${BACKENDS.join(', ')}, got ${String(backend)}`);
    }
    const moderationUs = options.moderationUs ?? DEFAULT_MODERATION_US;
    if (!Number.isInteger(moderationUs) || moderationUs < 0 || moderationUs > 1000) {
      throw new MediaError('MEDIA_ERR_ARGUMENT', `moderationUs must be an integer in [0, 1000], got ${moderationUs}`);
    }
    const receiveBuffers = options.receiveBuffers ?? 0;
    if (options.receiveBuffers !== undefined && (!Number.isInteger(receiveBuffers) || receiveBuffers < 1 ||
      receiveBuffers > 32768 || (receiveBuffers & (receiveBuffers - 1)) !== 0)) {
      throw new MediaError('MEDIA_ERR_ARGUMENT',
        `receiveBuffers must be a power of two in [1, 32768], got ${receiveBuffers}`);
    }
    const metrics = options.metrics ?? new MetricsRegistry();
    this.legsGauge = metrics.gauge('switchhook_rtp_legs', 'RTP legs open on the bridge.');
    this.eventsCounter = metrics.counter('switchhook_rtp_events_total', 'Events from the RTP bridge by type.');
    this.dropsCounter = metrics.counter('switchhook_rtp_dropped_total',
      'Datagrams the RTP bridge dropped, by reason (counted when a leg is disposed).');
    this.packetsCounter = metrics.counter('switchhook_rtp_packets_total',
      'RTP packets relayed, by direction (counted when a leg is disposed).');
    try {
      this.handle = rtpAddon.rtpEngineCreate(
        { bindAddress: options.bindAddress ?? '127.0.0.1', portMin, portMax, threadNice, coalesceUs,
          gso: options.gso ?? true, connectSend: options.connectSend ?? true, backend, moderationUs, receiveBuffers },
        (events) => this.onEvents(events),
      );
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** True until {@link RtpEngine.close}. */
  get open(): boolean {
    return this.handle !== undefined;
  }

  /** Number of legs not yet disposed. */
  get legCount(): number {
    return this.legs.size;
  }

  /** Binds a port pair from the range and starts relaying for it. */
  createLeg(options: RtpLegOptions = {}): RtpLeg {
    const engine = this.requireOpen();
    const settings = toNativeSettings(options);
    let created: { id: number; rtpPort: number; rtcpPort: number };
    try {
      created = rtpAddon.rtpLegCreate(engine, settings);
    } catch (err) {
      throw fromNative(err);
    }
    const leg = new RtpLeg(this, created.id, created.rtpPort, created.rtcpPort, options);
    this.legs.set(leg.id, leg);
    this.legsGauge.set(this.legs.size);
    return leg;
  }

  /** Joins two open legs A<->B. Neither may already be in a bridge. */
  bridge(a: RtpLeg, b: RtpLeg): RtpBridge {
    this.requireOpen();
    const bridge = new RtpBridge(this, a, b);
    this.connect(bridge, a, b);
    return bridge;
  }

  /** Engine-wide counters, including the bridge thread's CPU time. */
  stats(): NativeEngineStats {
    return rtpAddon.rtpEngineStats(this.requireOpen());
  }

  /** Disposes every leg and bridge and stops the bridge thread. Idempotent. */
  close(): void {
    if (this.handle === undefined) return;
    for (const bridge of new Set(this.bridges.values())) bridge.markDisposed();
    this.bridges.clear();
    for (const leg of [...this.legs.values()]) this.disposeLeg(leg);
    rtpAddon.rtpEngineClose(this.handle);
    this.handle = undefined;
  }

  /** @internal */
  updateLeg(leg: RtpLeg, settings: NativeLegSettings): void {
    rtpAddon.rtpLegUpdate(this.requireOpen(), leg.id, settings);
  }

  /** @internal */
  legStats(leg: RtpLeg): NativeLegStats {
    try {
      return rtpAddon.rtpLegStats(this.requireOpen(), leg.id);
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** @internal */
  disposeLeg(leg: RtpLeg): void {
    if (this.handle === undefined || this.legs.get(leg.id) !== leg) return;
    const bridge = this.bridges.get(leg);
    if (bridge) bridge.dispose();
    const final = rtpAddon.rtpLegStats(this.handle, leg.id);
    for (const reason of RTP_DROP_REASONS) {
      if (final.drops[reason] > 0) this.dropsCounter.inc({ reason }, final.drops[reason]);
    }
    this.packetsCounter.inc({ direction: 'in' }, final.rxPackets);
    this.packetsCounter.inc({ direction: 'out' }, final.txPackets);
    rtpAddon.rtpLegDestroy(this.handle, leg.id);
    this.legs.delete(leg.id);
    this.legsGauge.set(this.legs.size);
    leg.markDisposed();
  }

  /** @internal Joins `a` and `b` for `bridge` (a new bridge, or a move within one). */
  connect(bridge: RtpBridge, a: RtpLeg, b: RtpLeg): void {
    const engine = this.requireOpen();
    for (const leg of [a, b]) {
      if (this.legs.get(leg.id) !== leg) throw new MediaError('MEDIA_ERR_NO_LEG', `RTP leg ${leg.id} is not open`);
      const other = this.bridges.get(leg);
      if (other && other !== bridge) throw new MediaError('MEDIA_ERR_BRIDGE', `RTP leg ${leg.id} is already bridged`);
    }
    if (a === b) throw new MediaError('MEDIA_ERR_BRIDGE', 'cannot join a leg to itself');
    for (const leg of bridge.legs) {
      if (leg !== a && leg !== b && this.bridges.get(leg) === bridge) this.bridges.delete(leg);
    }
    rtpAddon.rtpLegConnect(engine, a.id, b.id);
    this.bridges.set(a, bridge);
    this.bridges.set(b, bridge);
  }

  /** @internal */
  release(bridge: RtpBridge): void {
    for (const leg of bridge.legs) {
      if (this.bridges.get(leg) !== bridge) continue;
      this.bridges.delete(leg);
      if (this.handle !== undefined) rtpAddon.rtpLegDisconnect(this.handle, leg.id);
    }
  }

  private onEvents(events: NativeRtpEvent[]): void {
    for (const e of events) {
      this.eventsCounter.inc({ type: e.type });
      const leg = this.legs.get(e.leg);
      if (!leg) {
        if (e.type === 'error') log.rateLimited('warn', 'rtp-error', `RTP bridge: ${e.text ?? 'error'} errno ${e.a}`);
        continue;
      }
      leg.deliver(e.type, e.a, e.b, e.c, e.address, e.port, e.text);
    }
  }

  private requireOpen(): number {
    if (this.handle === undefined) throw new MediaError('MEDIA_ERR_CLOSED', 'RTP engine is closed');
    return this.handle;
  }
}
