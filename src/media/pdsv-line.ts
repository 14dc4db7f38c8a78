/**
 * A PDSV line endpoint (docs/pdsv.md §9): the gateway side, which serves many line ports, or the phone
 * side, which speaks for one or more ports, over UDP (one frame per datagram) or TCP (frames back to back,
 * the gateway listens). Signals come and go as typed events; voice frames are carried and counted (and
 * handed up only when `deliverVoice` is set: the RTP bridge takes PDSV voice natively). Keep-alives run per
 * port and drive each port's link state.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

import {
  encodePdsvLink,
  encodePdsvSignal,
  encodePdsvVoice,
  PdsvDecoder,
  PdsvDirection,
  PdsvError,
  PdsvErrorCode,
  PdsvLinkKind,
  PdsvLinkStatus,
  type PdsvBatch,
  type PdsvEvent,
  type PdsvSignal,
  type PdsvVoice,
  type PdsvVoiceEvent,
} from '../native/pdsv.js';
import { createLogger } from '../util/log.js';
import { MetricsRegistry, type Counter } from '../util/metrics.js';

/** Which end of the line this endpoint is. */
export enum PdsvLineRole {
  /** The PBX's line gateway: sends display, lamps, ringer and tones; receives hook and keys. */
  Gateway = 'gateway',
  /** A digital phone (or a concentrator for several): sends hook and keys; receives the rest. */
  Phone = 'phone',
}

export enum PdsvTransport {
  Udp = 'udp',
  Tcp = 'tcp',
}

/** Link state of one port, from keep-alives and frames heard (docs/pdsv.md §6). */
export enum PdsvLinkState {
  Up = 'up',
  Down = 'down',
}

export interface PdsvLineOptions {
  readonly role: PdsvLineRole;
  readonly transport: PdsvTransport;
  /** Local address to bind (the gateway's listener or UDP socket; the phone's UDP socket). Default 127.0.0.1. */
  readonly host?: string;
  /** Local port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Phone role: where the gateway listens. */
  readonly gateway?: { readonly host: string; readonly port: number };
  /** Phone role: the line ports this endpoint speaks for. */
  readonly lines?: readonly number[];
  /** Keep-alive period per port in milliseconds (default 5000; 0 turns keep-alives and link timeouts off). */
  readonly keepAliveMs?: number;
  /** Hand voice frames up as `voice` events with their codes (otherwise they are only counted). */
  readonly deliverVoice?: boolean;
  readonly metrics?: MetricsRegistry;
}

/** A signal received on a port. */
export interface PdsvLineSignalEvent {
  readonly port: number;
  readonly sequence: number;
  readonly signal: PdsvSignal;
}

/** A port's link went up or down. */
export interface PdsvLineLinkEvent {
  readonly port: number;
  readonly state: PdsvLinkState;
  /** The status the peer last reported, when it reported one. */
  readonly status?: PdsvLinkStatus;
}

/** Frames sent and received by type, and errors met. */
export interface PdsvLineStats {
  readonly sent: { signal: number; voice: number; link: number };
  readonly received: { signal: number; voice: number; link: number };
  readonly errors: number;
}

type Route = { readonly kind: 'udp'; readonly host: string; readonly port: number } | { readonly kind: 'tcp'; readonly socket: Socket };

interface PortState {
  route?: Route;
  nextSequence: number;
  started: boolean;
  link: PdsvLinkState;
  lastHeard: number;
  peerInterval?: number;
  status?: PdsvLinkStatus;
}

export interface PdsvLine {
  on(event: 'signal', listener: (e: PdsvLineSignalEvent) => void): this;
  on(event: 'voice', listener: (e: PdsvVoiceEvent) => void): this;
  on(event: 'link', listener: (e: PdsvLineLinkEvent) => void): this;
  on(event: 'protocol-error', listener: (e: PdsvError) => void): this;
  once(event: 'signal', listener: (e: PdsvLineSignalEvent) => void): this;
  once(event: 'voice', listener: (e: PdsvVoiceEvent) => void): this;
  once(event: 'link', listener: (e: PdsvLineLinkEvent) => void): this;
  once(event: 'protocol-error', listener: (e: PdsvError) => void): this;
}

const log = createLogger('pdsv-line');
const LINK_TIMEOUT_INTERVALS = 3;

/**
 * One PDSV line endpoint. `start()` binds (gateway, UDP phone) or connects (TCP phone); `close()` stops
 * timers and sockets. Sending to a port with no known route throws `PDSV_ERR_NO_ROUTE`; bad input from the
 * wire is counted, logged (rate-limited) and emitted as `protocol-error`, never thrown.
 */
export class PdsvLine extends EventEmitter {
  private readonly ports = new Map<number, PortState>();
  private readonly sendDirection: PdsvDirection;
  private readonly receiveDirection: PdsvDirection;
  private readonly keepAliveMs: number;
  private readonly frames: Counter;
  private readonly errorCount: Counter;
  private readonly stats = { sent: { signal: 0, voice: 0, link: 0 }, received: { signal: 0, voice: 0, link: 0 }, errors: 0 };
  private udp?: UdpSocket;
  private server?: Server;
  private readonly tcpPeers = new Set<Socket>();
  private udpDecoder?: PdsvDecoder;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: PdsvLineOptions) {
    super();
    switch (options.role) {
      case PdsvLineRole.Gateway:
        this.sendDirection = PdsvDirection.ToPhone;
        this.receiveDirection = PdsvDirection.ToGateway;
        break;
      case PdsvLineRole.Phone:
        this.sendDirection = PdsvDirection.ToGateway;
        this.receiveDirection = PdsvDirection.ToPhone;
        if (!options.gateway) throw new PdsvError(PdsvErrorCode.NoRoute, 'a phone endpoint needs the gateway address');
        for (const line of options.lines ?? []) this.portState(line);
        break;
      default:
        throw new PdsvError(PdsvErrorCode.Field, `unknown role ${String(options.role)}`);
    }
    this.keepAliveMs = options.keepAliveMs ?? 5000;
    const metrics = options.metrics ?? new MetricsRegistry();
    this.frames = metrics.counter('switchhook_pdsv_frames_total', 'PDSV frames by role, direction (rx/tx) and type.');
    this.errorCount = metrics.counter('switchhook_pdsv_errors_total', 'PDSV frames or bytes dropped, by role and error code.');
  }

  /** Binds or connects; resolves when the endpoint can send. */
  async start(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    switch (this.options.transport) {
      case PdsvTransport.Udp:
        await this.startUdp(host);
        break;
      case PdsvTransport.Tcp:
        if (this.options.role === PdsvLineRole.Gateway) await this.listenTcp(host);
        else await this.connectTcp();
        break;
      default:
        throw new PdsvError(PdsvErrorCode.Field, `unknown transport ${String(this.options.transport)}`);
    }
    if (this.options.role === PdsvLineRole.Phone) {
      for (const port of this.ports.keys()) this.sendKeepAlive(port, PdsvLinkKind.KeepAlive);
    }
    if (this.keepAliveMs > 0) {
      this.timer = setInterval(() => this.tick(), this.keepAliveMs);
      this.timer.unref();
    }
  }

  /** The local address (listener or UDP socket; for a TCP phone, its connection's local end). */
  address(): AddressInfo {
    if (this.udp) return this.udp.address();
    if (this.server) return this.server.address() as AddressInfo;
    const [peer] = this.tcpPeers;
    if (peer) return { address: peer.localAddress!, port: peer.localPort!, family: peer.localFamily! };
    throw new PdsvError(PdsvErrorCode.Closed, 'endpoint is not started');
  }

  /** Sends a signal on `port`; the message must be one this role sends (docs/pdsv.md §4). */
  sendSignal(port: number, signal: PdsvSignal): void {
    const frame = encodePdsvSignal(this.nextAddress(port), signal);
    this.transmit(port, frame, 'signal');
  }

  /** Sends one voice frame (80 or 160 G.711 codes) on `port`. */
  sendVoice(port: number, voice: PdsvVoice): void {
    const frame = encodePdsvVoice(this.nextAddress(port), voice);
    this.transmit(port, frame, 'voice');
  }

  /** Link state of a port (down until the first frame from the peer). */
  linkState(port: number): PdsvLinkState {
    return this.ports.get(port)?.link ?? PdsvLinkState.Down;
  }

  /** Ports this endpoint knows: configured lines (phone) or learned from the phones (gateway). */
  knownPorts(): number[] {
    return [...this.ports.keys()].sort((a, b) => a - b);
  }

  counters(): PdsvLineStats {
    return {
      sent: { ...this.stats.sent },
      received: { ...this.stats.received },
      errors: this.stats.errors,
    };
  }

  /** Stops the keep-alive timer and closes every socket. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const waits: Promise<void>[] = [];
    if (this.udp) {
      const udp = this.udp;
      waits.push(new Promise((resolve) => udp.close(() => resolve())));
    }
    for (const peer of this.tcpPeers) {
      waits.push(new Promise((resolve) => peer.once('close', () => resolve())));
      peer.destroy();
    }
    if (this.server) {
      const server = this.server;
      waits.push(new Promise((resolve) => server.close(() => resolve())));
    }
    await Promise.all(waits);
  }

  private portState(port: number): PortState {
    let st = this.ports.get(port);
    if (!st) {
      if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
        throw new PdsvError(PdsvErrorCode.Field, `port ${port} is not 0..65535`);
      }
      st = { nextSequence: 0, started: false, link: PdsvLinkState.Down, lastHeard: 0 };
      this.ports.set(port, st);
    }
    return st;
  }

  private nextAddress(port: number): { direction: PdsvDirection; port: number; sequence: number; reset: boolean } {
    if (this.closed) throw new PdsvError(PdsvErrorCode.Closed, 'endpoint is closed', port);
    const st = this.ports.get(port);
    if (!st || !this.routeOf(port)) throw new PdsvError(PdsvErrorCode.NoRoute, `no route to line port ${port}`, port);
    const sequence = st.nextSequence;
    const reset = !st.started;
    st.nextSequence = (sequence + 1) & 0xffff;
    st.started = true;
    return { direction: this.sendDirection, port, sequence, reset };
  }

  private routeOf(port: number): Route | undefined {
    if (this.options.role === PdsvLineRole.Gateway) return this.ports.get(port)?.route;
    if (this.udp) return { kind: 'udp', host: this.options.gateway!.host, port: this.options.gateway!.port };
    const [peer] = this.tcpPeers;
    return peer ? { kind: 'tcp', socket: peer } : undefined;
  }

  private transmit(port: number, frame: Buffer, type: 'signal' | 'voice' | 'link'): void {
    const route = this.routeOf(port)!;
    switch (route.kind) {
      case 'udp':
        this.udp!.send(frame, route.port, route.host);
        break;
      case 'tcp':
        route.socket.write(frame);
        break;
      default:
        throw new PdsvError(PdsvErrorCode.NoRoute, 'unknown route kind');
    }
    this.stats.sent[type]++;
    this.frames.inc({ role: this.options.role, dir: 'tx', type });
  }

  private sendKeepAlive(port: number, kind: PdsvLinkKind): void {
    const interval = Math.min(60, Math.max(1, Math.round((this.keepAliveMs || 5000) / 1000)));
    const frame = encodePdsvLink(this.nextAddress(port), { kind, status: PdsvLinkStatus.InService, interval });
    this.transmit(port, frame, 'link');
  }

  // Keep-alive period: send to every routed port, and time out ports not heard for three of the peer's periods.
  private tick(): void {
    const now = Date.now();
    for (const [port, st] of this.ports) {
      if (!this.routeOf(port)) continue;
      this.sendKeepAlive(port, PdsvLinkKind.KeepAlive);
      const period = st.peerInterval !== undefined ? st.peerInterval * 1000 : this.keepAliveMs;
      if (st.link === PdsvLinkState.Up && now - st.lastHeard > LINK_TIMEOUT_INTERVALS * period) {
        this.setLink(port, st, PdsvLinkState.Down);
      }
    }
  }

  private setLink(port: number, st: PortState, state: PdsvLinkState): void {
    if (st.link === state) return;
    st.link = state;
    log.debug(`line port ${port} link ${state}`);
    this.emit('link', { port, state, ...(st.status !== undefined ? { status: st.status } : {}) } satisfies PdsvLineLinkEvent);
  }

  private async startUdp(host: string): Promise<void> {
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    this.udp = udp;
    this.udpDecoder = new PdsvDecoder({ deliverVoice: this.options.deliverVoice === true });
    const bindPort = this.options.port ?? 0;
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(bindPort, host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => log.warn(`udp socket error: ${err.message}`));
    udp.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const gw = this.options.gateway;
    if (this.options.role === PdsvLineRole.Phone && (rinfo.port !== gw!.port || rinfo.address !== gw!.host)) {
      this.fail(new PdsvError(PdsvErrorCode.NoRoute, `datagram from ${rinfo.address}:${rinfo.port}, not the gateway`));
      return;
    }
    this.handle(this.udpDecoder!.pushDatagram(msg), { kind: 'udp', host: rinfo.address, port: rinfo.port });
  }

  private async listenTcp(host: string): Promise<void> {
    const server = createServer((socket) => this.adoptTcp(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  private async connectTcp(): Promise<void> {
    const gw = this.options.gateway!;
    const socket = connect({ host: gw.host, port: gw.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.adoptTcp(socket);
  }

  private adoptTcp(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.tcpPeers.add(socket);
    const decoder = new PdsvDecoder({ deliverVoice: this.options.deliverVoice === true });
    const route: Route = { kind: 'tcp', socket };
    socket.on('data', (chunk: Buffer) => this.handle(decoder.push(chunk), route));
    socket.on('error', (err) => log.warn(`tcp connection error: ${err.message}`));
    socket.on('close', () => {
      this.tcpPeers.delete(socket);
      this.handle(decoder.finish(), route);
      for (const [port, st] of this.ports) {
        const routed = this.options.role === PdsvLineRole.Phone || (st.route?.kind === 'tcp' && st.route.socket === socket);
        if (!routed) continue;
        if (this.options.role === PdsvLineRole.Gateway) delete st.route;
        this.setLink(port, st, PdsvLinkState.Down);
      }
    });
  }

  private handle(batch: PdsvBatch, route: Route): void {
    for (const err of batch.errors) this.fail(err);
    for (const ev of batch.events) this.onEvent(ev, route);
  }

  private fail(err: PdsvError): void {
    this.stats.errors++;
    this.errorCount.inc({ role: this.options.role, code: err.code });
    log.rateLimited('warn', err.code, `${err.code}: ${err.message}${err.port !== undefined ? ` (port ${err.port})` : ''}`);
    this.emit('protocol-error', err);
  }

  private onEvent(ev: PdsvEvent, route: Route): void {
    if (ev.direction !== this.receiveDirection) {
      this.fail(new PdsvError(PdsvErrorCode.Direction, `a ${this.options.role} does not receive ${ev.direction} frames`, ev.port, ev.sequence));
      return;
    }
    let st = this.ports.get(ev.port);
    if (!st) {
      if (this.options.role === PdsvLineRole.Phone) {
        this.fail(new PdsvError(PdsvErrorCode.NoRoute, `frame for line port ${ev.port}, not one of this phone's`, ev.port, ev.sequence));
        return;
      }
      st = this.portState(ev.port);
    }
    if (this.options.role === PdsvLineRole.Gateway) st.route = route;
    st.lastHeard = Date.now();
    this.frames.inc({ role: this.options.role, dir: 'rx', type: ev.kind });
    this.stats.received[ev.kind]++;
    switch (ev.kind) {
      case 'link':
        st.peerInterval = ev.link.interval;
        st.status = ev.link.status;
        if (ev.link.kind === PdsvLinkKind.KeepAlive) this.sendKeepAlive(ev.port, PdsvLinkKind.KeepAliveAck);
        this.setLink(ev.port, st, ev.link.status === PdsvLinkStatus.InService ? PdsvLinkState.Up : PdsvLinkState.Down);
        break;
      case 'signal':
        this.setLink(ev.port, st, PdsvLinkState.Up);
        this.emit('signal', { port: ev.port, sequence: ev.sequence, signal: ev.signal } satisfies PdsvLineSignalEvent);
        break;
      case 'voice':
        this.setLink(ev.port, st, PdsvLinkState.Up);
        if (this.options.deliverVoice) this.emit('voice', ev);
        break;
      default:
        throw new PdsvError(PdsvErrorCode.Type, `unknown event ${(ev as { kind: string }).kind}`);
    }
  }
}
