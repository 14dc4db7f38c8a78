import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, connect as netConnect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';

import { WebSocket, WebSocketServer } from 'ws';

import { UDP_COUNTERS, UdpSocket, type UdpBatch, type UdpCounters, type UdpSendFailure } from '../../native/udp.js';
import { createLogger } from '../../util/log.js';
import { MetricsRegistry, type Counter, type Gauge } from '../../util/metrics.js';
import { SipParseError } from '../message/errors.js';
import { DEFAULT_LIMITS, parseMessage, type SipLimits, type SipMessage } from '../message/message.js';
import type { Via } from '../message/via.js';
import { SipTransportError } from './errors.js';
import { StreamFramer } from './stream-framer.js';
import {
  defaultPort,
  isReliable,
  protocolFromToken,
  type AddressTarget,
  type BoundAddress,
  type HostPort,
  type ListenOptions,
  type MessageSource,
  type SendResult,
  type SendTarget,
  type SipProtocol,
  type TransportOptions,
} from './types.js';

const log = createLogger('sip.transport');
const PING = Buffer.from('\r\n\r\n');
const PONG = Buffer.from('\r\n');
/**
 * Datagrams per `recvmmsg` of the UDP sockets. A burst of 200 OKs (a fan-out's) is handed up 64 at a time:
 * its NOTIFYs then leave 64 per `sendmmsg`, and the receiver is woken a quarter as often as with 16.
 */
const UDP_RECV_BATCH = 64;

/** One connection of a connection-oriented transport (TCP, TLS, WebSocket). */
interface Connection {
  readonly id: string;
  readonly protocol: SipProtocol;
  readonly local: HostPort;
  readonly remote: HostPort;
  /** Registry keys this connection is found under (remote address, RFC 5923 aliases). */
  readonly keys: Set<string>;
  readonly framer: StreamFramer | undefined;
  write(buf: Buffer): void;
  /** Graceful close (pending writes are flushed). */
  end(): void;
  destroy(): void;
}

/** A bound UDP socket (native batched path, src/native/udp.ts) with its local address, read once. */
interface UdpSender {
  readonly socket: UdpSocket;
  readonly local: HostPort;
}

/** Label sets of the per-datagram counters, made once. */
const PROTOCOL_UDP = Object.freeze({ protocol: 'udp' as SipProtocol });
const KIND_SEND = Object.freeze({ kind: 'send' });
const PROTOCOL_LABELS: Readonly<Record<SipProtocol, Readonly<{ protocol: SipProtocol }>>> = Object.freeze({
  udp: PROTOCOL_UDP,
  tcp: Object.freeze({ protocol: 'tcp' }),
  tls: Object.freeze({ protocol: 'tls' }),
  ws: Object.freeze({ protocol: 'ws' }),
  wss: Object.freeze({ protocol: 'wss' }),
});

type Listener =
  | { readonly protocol: 'udp'; readonly address: BoundAddress; readonly sender: UdpSender }
  | { readonly protocol: 'tcp' | 'tls'; readonly address: BoundAddress; readonly server: NetServer }
  | { readonly protocol: 'ws' | 'wss'; readonly address: BoundAddress; readonly server: HttpServer; readonly wss: WebSocketServer };

/** Events of a {@link TransportLayer}. */
export interface TransportEvents {
  /**
   * A well-formed message (RFC 3261 18.2.1 / 18.1.2), requests with `received`/`rport` filled in; a response
   * not yet validated when the layer was made with `validateResponses: false`.
   */
  message: [message: SipMessage, source: MessageSource];
  /**
   * A malformed message, counted. `error.partial` is set when a response can be addressed (requests: answer
   * `error.status` with `error.reason`; responses: drop). On a stream whose framing is lost the connection
   * is closed right after this event; a response sent synchronously from the listener is flushed first.
   */
  parseError: [error: SipParseError, source: MessageSource];
  /** RFC 5626 3.5.1 pong received on a connection. */
  pong: [source: MessageSource];
  /** A connection was opened (either direction). */
  connection: [info: { connectionId: string; protocol: SipProtocol; local: HostPort; remote: HostPort }];
  /** A connection closed. */
  connectionClosed: [info: { connectionId: string; protocol: SipProtocol }];
  /** A socket or listener failed; the layer keeps running. */
  transportError: [error: SipTransportError];
}

function key(protocol: SipProtocol, host: string, port: number): string {
  return `${protocol}|${normalizeHost(host)}|${port}`;
}

/** Lower-cases, strips IPv6 brackets and the IPv4-mapped prefix, so addresses compare as equal. */
export function normalizeHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.startsWith('::ffff:') && isIP(h.slice(7)) === 4) h = h.slice(7);
  return h;
}

/**
 * The address a response goes to (RFC 3261 18.2.2, RFC 3581 4): the connection the request came on when
 * it is still open (reliable transports), else `maddr`, else `received` and `rport` (or the sent-by port).
 */
export function responseTarget(via: Via, source: MessageSource): SendTarget {
  if (source.connectionId !== undefined) return { connectionId: source.connectionId };
  const protocol = protocolFromToken(via.transport) ?? source.protocol;
  if (via.maddr) return { protocol, host: via.maddr, port: via.port ?? defaultPort(protocol), allowTcp: false };
  const host = via.received ?? via.host;
  const rport = via.rport;
  const port = typeof rport === 'number' ? rport : (via.port ?? defaultPort(protocol));
  return { protocol, host, port, allowTcp: false };
}

/**
 * SIP transport layer (RFC 3261 18; RFC 7118 for WebSocket): listeners, outgoing connections with reuse
 * by address and alias (RFC 5923), stream framing by Content-Length with limits, RFC 5626 3.5.1 CRLF
 * keepalives, `received`/`rport` stamping (RFC 3581), UDP to TCP switch for large requests (18.1.1).
 * Malformed input is counted and reported, never thrown.
 */
export class TransportLayer extends EventEmitter<TransportEvents> {
  private readonly bound: Listener[] = [];
  private readonly connections = new Map<string, Connection>();
  private readonly byKey = new Map<string, Connection>();
  private readonly connecting = new Map<string, Promise<Connection>>();
  private readonly ephemeralUdp: UdpSender[] = [];
  /** The socket each address family sends from (a listener's, else the ephemeral one). */
  private readonly udpSenders = new Map<4 | 6, UdpSender>();
  private nextId = 1;
  private closed = false;
  private readonly limits: SipLimits;
  private readonly udpMax: number;
  private readonly validateResponses: boolean;
  private readonly received: Counter;
  private readonly sent: Counter;
  private readonly malformed: Counter;
  private readonly keepalives: Counter;
  private readonly errors: Counter;
  private readonly open: Gauge;

  constructor(private readonly options: TransportOptions = {}) {
    super();
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.udpMax = options.udpMaxRequestBytes ?? 1300;
    this.validateResponses = options.validateResponses ?? true;
    const m = options.metrics ?? new MetricsRegistry();
    this.received = m.counter('sip_transport_messages_received_total', 'SIP messages received, by protocol');
    this.sent = m.counter('sip_transport_messages_sent_total', 'SIP messages sent, by protocol');
    this.malformed = m.counter('sip_messages_malformed_total', 'Malformed SIP messages received, by protocol');
    this.keepalives = m.counter('sip_transport_keepalives_total', 'RFC 5626 keepalives, by kind');
    this.errors = m.counter('sip_transport_errors_total', 'SIP transport errors, by kind');
    this.open = m.gauge('sip_transport_connections', 'Open SIP connections, by protocol');
  }

  /** Bound listeners. */
  get addresses(): BoundAddress[] {
    return this.bound.map((l) => ({ ...l.address }));
  }

  /** Open connection ids. */
  get connectionIds(): string[] {
    return [...this.connections.keys()];
  }

  /** Details of an open connection. */
  connectionInfo(id: string): { protocol: SipProtocol; local: HostPort; remote: HostPort } | undefined {
    const c = this.connections.get(id);
    return c && { protocol: c.protocol, local: { ...c.local }, remote: { ...c.remote } };
  }

  /** Opens a listener; resolves to the bound address (port 0 picks a free port). */
  async listen(opts: ListenOptions): Promise<BoundAddress> {
    if (this.closed) throw new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', 'transport layer is closed');
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? 0;
    try {
      switch (opts.protocol) {
        case 'udp':
          return await this.listenUdp(host, port);
        case 'tcp':
        case 'tls':
          return await this.listenStream(opts.protocol, host, port, opts);
        case 'ws':
        case 'wss':
          return await this.listenWs(opts.protocol, host, port, opts);
        default:
          throw new TypeError(`unknown protocol ${String(opts.protocol)}`);
      }
    } catch (err) {
      if (err instanceof SipTransportError) throw err;
      throw new SipTransportError('SIP_ERR_TRANSPORT_LISTEN', `cannot listen on ${opts.protocol} ${host}:${port}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Sends a message. Requests over UDP larger than 1300 bytes go over TCP when the target allows it, with
   * the top Via transport changed accordingly, falling back to UDP when TCP cannot connect (RFC 3261
   * 18.1.1). Connections are reused by address and alias. Rejects with {@link SipTransportError}.
   */
  async send(message: SipMessage, target: SendTarget): Promise<SendResult> {
    if (this.closed) throw new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', 'transport layer is closed');
    if ('connectionId' in target) {
      const conn = this.connections.get(target.connectionId);
      if (!conn) throw new SipTransportError('SIP_ERR_TRANSPORT_NO_CONNECTION', `no connection ${target.connectionId}`);
      return this.writeTo(conn, message.toBuffer());
    }
    let buf = message.toBuffer();
    if (target.protocol === 'udp' && message.isRequest && buf.length > this.udpMax && target.allowTcp !== false) {
      const original = message.headers('via')[0];
      const top = original === undefined ? undefined : message.topVia;
      if (top) {
        const viaTcp = top.clone();
        viaTcp.transport = 'TCP';
        message.replaceFirstValue('via', viaTcp.toString());
      }
      try {
        const conn = await this.connectTo({ ...target, protocol: 'tcp' });
        return this.writeTo(conn, message.toBuffer());
      } catch (err) {
        log.debug(`TCP for a large request to ${target.host}:${target.port} failed, using UDP: ${(err as Error).message}`);
        if (original !== undefined) message.replaceFirstValue('via', original);
        buf = message.toBuffer();
      }
    }
    switch (target.protocol) {
      case 'udp':
        return this.sendUdp(buf, normalizeHost(target.host), target.port);
      case 'tcp':
      case 'tls':
      case 'ws':
      case 'wss':
        return this.writeTo(await this.connectTo(target), buf);
      default:
        throw new SipTransportError('SIP_ERR_TRANSPORT_PROTOCOL', `unknown protocol ${String(target.protocol)}`);
    }
  }

  /**
   * Sends a message over UDP at once, with no promise: the datagram is staged on the native socket and
   * leaves with the others of this event-loop turn (one `sendmmsg`). Returns false when the message needs
   * {@link send} instead: a connection target or another protocol, a request large enough to go over TCP
   * (RFC 3261 18.1.1), or a host name to resolve. Failures known only when the datagrams leave are counted
   * and reported as `transportError` events; UDP retransmission (RFC 3261 17) covers a lost datagram.
   */
  sendNow(message: SipMessage, target: SendTarget): boolean {
    if (this.closed) throw new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', 'transport layer is closed');
    if ('connectionId' in target || target.protocol !== 'udp') return false;
    return this.sendBytesNow(message.toBuffer(), target, message.isRequest);
  }

  /**
   * {@link sendNow} for a message already written to bytes (a request when `request`), so its sender need
   * not build a message object only to have it written back: the bytes are staged as they are. False in
   * the same cases as {@link sendNow} (the caller then parses them and uses {@link send}).
   */
  sendBytesNow(buf: Buffer, target: SendTarget, request: boolean): boolean {
    if (this.closed) throw new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', 'transport layer is closed');
    if ('connectionId' in target || target.protocol !== 'udp') return false;
    if (request && buf.length > this.udpMax && target.allowTcp !== false) return false;
    const host = normalizeHost(target.host);
    const sender = this.udpSender(host);
    if (!this.stageUdp(sender, buf, host, target.port)) return false;
    this.sent.inc(PROTOCOL_UDP);
    return true;
  }

  /**
   * Sends the UDP datagrams staged so far now (one `sendmmsg` per socket) rather than at the end of this
   * event-loop turn: for a burst whose latency matters (a NOTIFY fan-out), so that the rest of the turn
   * (receipt of the next batch, a garbage collection during it) does not hold it back.
   */
  flushUdp(): void {
    for (const s of this.udpSenders.values()) s.socket.flush();
  }

  /** Counters of the native UDP sockets (listeners and ephemeral senders), summed. */
  udpCounters(): UdpCounters {
    const sum = Object.fromEntries(UDP_COUNTERS.map((k) => [k, 0])) as UdpCounters;
    const senders = [...this.bound.flatMap((l) => (l.protocol === 'udp' ? [l.sender] : [])), ...this.ephemeralUdp];
    for (const s of senders) {
      const c = s.socket.counters();
      for (const k of UDP_COUNTERS) sum[k] += c[k];
    }
    return sum;
  }

  /** Sends an RFC 5626 3.5.1 double-CRLF ping on a TCP/TLS connection; the pong arrives as a `pong` event. */
  ping(connectionId: string): void {
    const conn = this.connections.get(connectionId);
    if (!conn || !conn.framer) throw new SipTransportError('SIP_ERR_TRANSPORT_NO_CONNECTION', `no stream connection ${connectionId}`);
    conn.framer.awaitingPong = true;
    conn.write(PING);
    this.keepalives.inc({ kind: 'ping-sent' });
  }

  /** Closes one connection. */
  closeConnection(connectionId: string): void {
    this.connections.get(connectionId)?.destroy();
  }

  /** Closes every listener and connection; resolves when all are closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.connections.values()]) c.destroy();
    const waits: Promise<void>[] = [];
    for (const l of this.bound) {
      switch (l.protocol) {
        case 'udp':
          waits.push(l.sender.socket.close());
          break;
        case 'tcp':
        case 'tls':
          waits.push(new Promise((r) => l.server.close(() => r())));
          break;
        case 'ws':
        case 'wss':
          for (const client of l.wss.clients) client.terminate();
          waits.push(new Promise((r) => l.wss.close(() => r())));
          waits.push(new Promise((r) => l.server.close(() => r())));
          l.server.closeAllConnections();
          break;
        default:
          throw new TypeError('unknown listener');
      }
    }
    for (const s of this.ephemeralUdp) waits.push(s.socket.close());
    this.ephemeralUdp.length = 0;
    this.udpSenders.clear();
    await Promise.all(waits);
  }

  // --- listeners -------------------------------------------------------------------------------------

  private async listenUdp(host: string, port: number): Promise<BoundAddress> {
    // A host name binds its first IPv4 address, as a udp4 socket of node:dgram did.
    const address4 = isIP(normalizeHost(host)) === 0 ? (await lookup(host, { family: 4 })).address : normalizeHost(host);
    if (this.closed) throw new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', 'transport layer is closed');
    const sender = this.openUdp(address4, port);
    const address: BoundAddress = { protocol: 'udp', host: sender.local.host, port: sender.local.port };
    this.bound.push({ protocol: 'udp', address, sender });
    return { ...address };
  }

  /**
   * Opens a native UDP socket (src/native/udp.ts) with the configured kernel buffers (bursts at high
   * rates; see `udpBufferBytes`). Its local address is read once here, not per datagram.
   */
  private openUdp(host: string, port: number): UdpSender {
    const bytes = this.options.udpBufferBytes;
    let sender: UdpSender | undefined;
    const socket = new UdpSocket(
      { host, port, recvBufferBytes: bytes, sendBufferBytes: bytes, recvBatch: UDP_RECV_BATCH },
      (batch) => this.receiveUdp(sender!, batch),
      (failure) => this.udpFailed(sender!, failure),
    );
    sender = { socket, local: Object.freeze({ host: socket.host, port: socket.port }) };
    return sender;
  }

  private async listenStream(protocol: 'tcp' | 'tls', host: string, port: number, opts: ListenOptions): Promise<BoundAddress> {
    if (protocol === 'tls' && !opts.tls) throw new TypeError('tls listener needs tls options (key, cert)');
    const server =
      protocol === 'tls'
        ? createTlsServer(opts.tls!, (s) => this.adoptStream(s, 'tls'))
        : createNetServer((s) => this.adoptStream(s, 'tcp'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.fail('SIP_ERR_TRANSPORT_SOCKET', `${protocol} listener: ${err.message}`, err));
    if (protocol === 'tls') {
      server.on('tlsClientError', (err) => this.fail('SIP_ERR_TRANSPORT_SOCKET', `TLS handshake: ${err.message}`, err));
    }
    const a = server.address() as { address: string; port: number };
    const address: BoundAddress = { protocol, host: a.address, port: a.port };
    this.bound.push({ protocol, address, server });
    return { ...address };
  }

  private async listenWs(protocol: 'ws' | 'wss', host: string, port: number, opts: ListenOptions): Promise<BoundAddress> {
    if (protocol === 'wss' && !opts.tls) throw new TypeError('wss listener needs tls options (key, cert)');
    const server = protocol === 'wss' ? createHttpsServer(opts.tls!) : createHttpServer();
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket (RFC 7118) only\n');
    });
    const wss = new WebSocketServer({
      server,
      maxPayload: this.limits.maxHeaderBytes + this.limits.maxBodyBytes,
      verifyClient: (info: { req: IncomingMessage }) => {
        // RFC 7118 4.1: the "sip" subprotocol is mandatory.
        const offered = String(info.req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim().toLowerCase());
        if (!offered.includes('sip')) return false;
        return opts.wsPath === undefined || (info.req.url ?? '/').split('?')[0] === opts.wsPath;
      },
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    wss.on('connection', (ws, req) => this.adoptWs(ws, protocol, req.socket));
    wss.on('error', (err) => this.fail('SIP_ERR_TRANSPORT_SOCKET', `${protocol} listener: ${err.message}`, err));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.fail('SIP_ERR_TRANSPORT_SOCKET', `${protocol} listener: ${err.message}`, err));
    const a = server.address() as { address: string; port: number };
    const address: BoundAddress = { protocol, host: a.address, port: a.port };
    this.bound.push({ protocol, address, server, wss });
    return { ...address };
  }

  // --- connections -----------------------------------------------------------------------------------

  private register(conn: Connection): void {
    this.connections.set(conn.id, conn);
    const k = key(conn.protocol, conn.remote.host, conn.remote.port);
    conn.keys.add(k);
    this.byKey.set(k, conn);
    this.open.add(1, { protocol: conn.protocol });
    this.safeEmit('connection', { connectionId: conn.id, protocol: conn.protocol, local: conn.local, remote: conn.remote });
  }

  private unregister(conn: Connection): void {
    if (!this.connections.delete(conn.id)) return;
    for (const k of conn.keys) if (this.byKey.get(k) === conn) this.byKey.delete(k);
    this.open.add(-1, { protocol: conn.protocol });
    this.safeEmit('connectionClosed', { connectionId: conn.id, protocol: conn.protocol });
  }

  private adoptStream(socket: Socket, protocol: 'tcp' | 'tls'): Connection {
    const framer = new StreamFramer(this.limits);
    const conn: Connection = {
      id: `${protocol}-${this.nextId++}`,
      protocol,
      local: { host: normalizeHost(socket.localAddress ?? ''), port: socket.localPort ?? 0 },
      remote: { host: normalizeHost(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 },
      keys: new Set(),
      framer,
      write: (buf) => void socket.write(buf),
      end: () => void socket.end(),
      destroy: () => void socket.destroy(),
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onStreamData(conn, chunk));
    socket.on('error', (err) => this.fail('SIP_ERR_TRANSPORT_SOCKET', `${conn.id}: ${err.message}`, err));
    socket.on('close', () => this.unregister(conn));
    this.register(conn);
    return conn;
  }

  private onStreamData(conn: Connection, chunk: Buffer): void {
    const source: MessageSource = { protocol: conn.protocol, local: conn.local, remote: conn.remote, connectionId: conn.id };
    for (const ev of conn.framer!.push(chunk)) {
      switch (ev.kind) {
        case 'message':
          this.receive(ev.buf, source, conn);
          break;
        case 'ping':
          // RFC 5626 3.5.1: answer a double-CRLF ping with a single CRLF pong.
          this.keepalives.inc({ kind: 'ping' });
          conn.write(PONG);
          break;
        case 'pong':
          this.keepalives.inc({ kind: 'pong' });
          this.safeEmit('pong', source);
          break;
        case 'error': {
          this.malformed.inc({ protocol: conn.protocol });
          let partial: SipMessage | undefined;
          if (ev.head) {
            try {
              partial = parseMessage(ev.head, { ...this.limits, maxBodyBytes: Number.MAX_SAFE_INTEGER });
            } catch (err) {
              partial = err instanceof SipParseError ? err.partial : undefined;
            }
          }
          this.safeEmit('parseError', new SipParseError(ev.reason, { status: ev.status, partial }), source);
          if (ev.fatal) {
            this.errors.inc({ kind: 'framing' });
            conn.end();
          }
          break;
        }
        default:
          throw new TypeError('unknown framer event');
      }
    }
  }

  private adoptWs(ws: WebSocket, protocol: 'ws' | 'wss', socket: Socket): Connection {
    const conn: Connection = {
      id: `${protocol}-${this.nextId++}`,
      protocol,
      local: { host: normalizeHost(socket.localAddress ?? ''), port: socket.localPort ?? 0 },
      remote: { host: normalizeHost(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 },
      keys: new Set(),
      framer: undefined,
      write: (buf) => ws.send(buf, { binary: false }),
      end: () => ws.close(1000),
      destroy: () => ws.terminate(),
    };
    const source: MessageSource = { protocol, local: conn.local, remote: conn.remote, connectionId: conn.id };
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      // RFC 7118 5: one SIP message per WebSocket message.
      this.receive(buf, source, conn);
    });
    ws.on('error', (err) => this.fail('SIP_ERR_TRANSPORT_SOCKET', `${conn.id}: ${err.message}`, err));
    ws.on('close', () => this.unregister(conn));
    this.register(conn);
    return conn;
  }

  private connectTo(target: AddressTarget): Promise<Connection> {
    const k = key(target.protocol, target.host, target.port);
    const existing = this.byKey.get(k);
    if (existing) return Promise.resolve(existing);
    const pending = this.connecting.get(k);
    if (pending) return pending;
    const p = this.openConnection(target).finally(() => this.connecting.delete(k));
    this.connecting.set(k, p);
    return p;
  }

  private async openConnection(target: AddressTarget): Promise<Connection> {
    const timeout = this.options.connectTimeoutMs ?? 10_000;
    const host = normalizeHost(target.host);
    const what = `${target.protocol} ${host}:${target.port}`;
    try {
      switch (target.protocol) {
        case 'tcp':
        case 'tls': {
          const socket =
            target.protocol === 'tls'
              ? tlsConnect({ ...this.options.tlsClient, host, port: target.port, servername: target.servername ?? (isIP(host) ? undefined : host) })
              : netConnect({ host, port: target.port });
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => {
              socket.destroy();
              reject(new Error('connect timeout'));
            }, timeout);
            socket.once(target.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
              clearTimeout(timer);
              socket.off('error', reject);
              resolve();
            });
            socket.once('error', (err) => {
              clearTimeout(timer);
              reject(err);
            });
          });
          const conn = this.adoptStream(socket, target.protocol);
          conn.keys.add(key(target.protocol, target.host, target.port));
          this.byKey.set(key(target.protocol, target.host, target.port), conn);
          return conn;
        }
        case 'ws':
        case 'wss': {
          const h = isIP(host) === 6 ? `[${host}]` : host;
          const url = `${target.protocol}://${h}:${target.port}${target.wsPath ?? '/'}`;
          const ws = new WebSocket(url, 'sip', {
            ...this.options.tlsClient,
            handshakeTimeout: timeout,
            maxPayload: this.limits.maxHeaderBytes + this.limits.maxBodyBytes,
          });
          await new Promise<void>((resolve, reject) => {
            ws.once('open', () => {
              ws.off('error', reject);
              resolve();
            });
            ws.once('error', reject);
          });
          if (ws.protocol !== 'sip') {
            ws.terminate();
            throw new Error('server did not accept the "sip" subprotocol (RFC 7118 4.1)');
          }
          const raw = (ws as unknown as { _socket: Socket })._socket;
          const conn = this.adoptWs(ws, target.protocol, raw);
          conn.keys.add(key(target.protocol, target.host, target.port));
          this.byKey.set(key(target.protocol, target.host, target.port), conn);
          return conn;
        }
        default:
          throw new SipTransportError('SIP_ERR_TRANSPORT_PROTOCOL', `not a connection protocol: ${target.protocol}`);
      }
    } catch (err) {
      if (err instanceof SipTransportError) throw err;
      this.errors.inc({ kind: 'connect' });
      throw new SipTransportError('SIP_ERR_TRANSPORT_CONNECT', `cannot connect to ${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  private writeTo(conn: Connection, buf: Buffer): SendResult {
    try {
      conn.write(buf);
    } catch (err) {
      this.errors.inc(KIND_SEND);
      throw new SipTransportError('SIP_ERR_TRANSPORT_SEND', `send on ${conn.id} failed: ${(err as Error).message}`, { cause: err });
    }
    this.sent.inc(PROTOCOL_LABELS[conn.protocol]);
    return { protocol: conn.protocol, local: { ...conn.local }, remote: { ...conn.remote }, connectionId: conn.id };
  }

  /**
   * UDP send through {@link sendNow}'s path; a host name is resolved first (IPv4, as the family of a name
   * is). The datagram leaves at the end of this event-loop turn; failures then are reported as events.
   */
  private async sendUdp(buf: Buffer, host: string, port: number): Promise<SendResult> {
    let sender = this.udpSender(host);
    if (!this.stageUdp(sender, buf, host, port)) {
      let address: string;
      try {
        ({ address } = await lookup(host, { family: 4 }));
      } catch (err) {
        this.errors.inc(KIND_SEND);
        throw new SipTransportError('SIP_ERR_TRANSPORT_SEND', `UDP send to ${host}:${port} failed: ${(err as Error).message}`, { cause: err });
      }
      if (this.closed) throw new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', 'transport layer is closed');
      sender = this.udpSender(address);
      this.stageUdp(sender, buf, address, port);
    }
    this.sent.inc(PROTOCOL_UDP);
    return { protocol: 'udp', local: { ...sender.local }, remote: { host, port } };
  }

  /**
   * The socket UDP to `host` (normalised) leaves from: the first UDP listener of its family, else an
   * ephemeral socket bound on the wildcard address; remembered per family.
   */
  private udpSender(host: string): UdpSender {
    // After normalizeHost only IPv6 literals contain ':' (host names and IPv4 never do).
    const family: 4 | 6 = host.includes(':') ? 6 : 4;
    let sender = this.udpSenders.get(family);
    if (sender) return sender;
    for (const l of this.bound) {
      if (l.protocol === 'udp' && (isIP(l.address.host) === 6) === (family === 6)) {
        sender = l.sender;
        break;
      }
    }
    if (!sender) {
      sender = this.openUdp(family === 6 ? '::' : '0.0.0.0', 0);
      this.ephemeralUdp.push(sender);
    }
    this.udpSenders.set(family, sender);
    return sender;
  }

  /** Stages a datagram; false when `host` is not an address literal. A bad port is counted and thrown. */
  private stageUdp(sender: UdpSender, buf: Buffer, host: string, port: number): boolean {
    try {
      return sender.socket.send(buf, host, port);
    } catch (err) {
      this.errors.inc(KIND_SEND);
      throw new SipTransportError('SIP_ERR_TRANSPORT_SEND', `UDP send to ${host}:${port} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Send failures of one socket in one event-loop turn: counted, logged (rate-limited), reported. */
  private udpFailed(sender: UdpSender, failure: UdpSendFailure): void {
    this.errors.inc(KIND_SEND, failure.count);
    const message = `UDP send from ${sender.local.host}:${sender.local.port}: ${failure.count} datagram(s) failed, last ${failure.code}`;
    log.rateLimited('warn', 'SIP_ERR_TRANSPORT_SEND', message);
    this.safeEmit('transportError', new SipTransportError('SIP_ERR_TRANSPORT_SEND', message, { cause: failure }));
  }

  // --- receipt ---------------------------------------------------------------------------------------

  /** One native receive batch: each datagram is copied out of the reused slab and parsed (RFC 3261 18.3). */
  private receiveUdp(sender: UdpSender, batch: UdpBatch): void {
    for (let i = 0; i < batch.count; i++) {
      const buf = batch.copy(i);
      if (isBlank(buf)) {
        this.keepalives.inc({ kind: 'udp-crlf' });
        continue;
      }
      this.receive(buf, { protocol: 'udp', local: sender.local, remote: { host: batch.host(i), port: batch.port(i) } });
    }
  }

  private receive(buf: Buffer, source: MessageSource, conn?: Connection): void {
    let msg: SipMessage;
    try {
      msg = parseMessage(buf, this.limits);
      if (msg.isRequest || this.validateResponses) msg.validate();
    } catch (err) {
      this.malformed.inc({ protocol: source.protocol });
      if (err instanceof SipParseError) this.safeEmit('parseError', err, source);
      else this.fail('SIP_ERR_TRANSPORT_PROTOCOL', `parser failure: ${(err as Error).message}`, err);
      return;
    }
    this.received.inc(PROTOCOL_LABELS[source.protocol]);
    if (msg.isRequest) this.stampVia(msg, source, conn);
    this.safeEmit('message', msg, source);
  }

  /** RFC 3261 18.2.1 `received`, RFC 3581 4 `rport`, RFC 5923 `alias` on the top Via of a request. */
  private stampVia(msg: SipMessage, source: MessageSource, conn?: Connection): void {
    const via = msg.topVia!;
    let changed = false;
    if (via.rport === true) {
      via.rport = source.remote.port;
      via.received = source.remote.host;
      changed = true;
    } else if (normalizeHost(via.host) !== source.remote.host) {
      via.received = source.remote.host;
      changed = true;
    }
    if (changed) msg.replaceFirstValue('via', via.toString());
    if (conn && isReliable(conn.protocol) && via.params.has('alias')) {
      const k = key(conn.protocol, via.host, via.port ?? defaultPort(conn.protocol));
      conn.keys.add(k);
      this.byKey.set(k, conn);
    }
  }

  private fail(code: ConstructorParameters<typeof SipTransportError>[0], message: string, cause: unknown): void {
    this.errors.inc({ kind: 'socket' });
    log.rateLimited('warn', code, message);
    this.safeEmit('transportError', new SipTransportError(code, message, { cause }));
  }

  /** Emits without letting a listener's exception unwind into socket code. */
  private safeEmit<K extends keyof TransportEvents>(event: K, ...args: TransportEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: TransportEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      log.rateLimited('error', `listener-${String(event)}`, `${String(event)} listener threw: ${(err as Error).stack ?? String(err)}`);
    }
  }
}

function isBlank(buf: Buffer): boolean {
  for (const b of buf) if (b !== 0x0d && b !== 0x0a && b !== 0x20 && b !== 0x09) return false;
  return true;
}
