/**
 * The daemon's back-to-back MSRP relay. A session has two legs; each leg is one MSRP session between the
 * daemon and one client, with its own daemon URI `msrp://host:port/<leg-id>;tcp` given to that client in the
 * SDP (`a=path`, RFC 4975 section 8.1) and `a=setup:passive` (RFC 6135: the client connects). The relay
 * accepts TCP connections, binds each to the leg named by the session-id of the first request's To-Path
 * (checking the From-Path against the client's `a=path`, RFC 4975 section 5.4), and relays every SEND chunk
 * and REPORT to the other leg with that leg's paths, a fresh transaction id, and the same Message-ID,
 * Byte-Range, end-line flag and body. A SEND's response goes back only after the other client answered, so
 * a failure reaches the sender (RFC 4975 section 7.3).
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

import { MetricsRegistry, type Counter } from '../../util/metrics.js';
import { MsrpConnection } from './connection.js';
import { msrpHeader, msrpId, msrpSessionId, pathUris, type MsrpMessage, MsrpContinuation } from './message.js';

/** Options of an {@link MsrpRelay}. */
export interface MsrpRelayOptions {
  host?: string;
  port?: number;
  /** Host written in the daemon's MSRP URIs (default: the bound host). */
  advertiseHost?: string;
  metrics?: MetricsRegistry;
  /** How long a chunk waits for the other client to connect (default 10 s). */
  peerWaitMs?: number;
  /** Most chunks queued per leg waiting for the other client (default 64). */
  maxQueued?: number;
  transactionTimeoutMs?: number;
  maxMessageBytes?: number;
}

/** One side of a relayed session. */
export interface MsrpLeg {
  /** Session-id of the daemon's URI for this leg. */
  readonly id: string;
  /** The daemon's URI this leg's client sends to. */
  readonly localUri: string;
  /** The client's `a=path` (last URI: the client itself), once its SDP is known. */
  remotePath: string | undefined;
  connection: MsrpConnection | undefined;
  /**
   * For a client without MSRP: complete messages addressed to this leg go to the sink (the application
   * sends them by other means, e.g. SIP MESSAGE) instead of a connection; resolves with a SIP-like status.
   */
  sink?: (message: { body: Buffer; contentType: string; messageId: string }) => Promise<number>;
}

/** A relayed session: two legs. */
export interface MsrpRelaySession {
  readonly id: string;
  readonly legs: readonly [MsrpLeg, MsrpLeg];
}

/** Events of an {@link MsrpRelay}: `message` after a chunk was delivered to the other leg. */
export interface MsrpRelayEvents {
  message: [session: MsrpRelaySession, from: 0 | 1, chunk: MsrpMessage];
  bound: [session: MsrpRelaySession, leg: 0 | 1];
}

interface Waiter {
  run: () => void;
  fail: (status: number, comment: string) => void;
  timer: NodeJS.Timeout;
}

/** The MSRP relay (B2BUA for MSRP). `start()`, `createSession()`, `closeSession()`, `close()`. */
export class MsrpRelay extends EventEmitter<MsrpRelayEvents> {
  private server: Server | undefined;
  private hostPort = '';
  private bound: { host: string; port: number } | undefined;
  private readonly legs = new Map<string, { session: MsrpRelaySession; side: 0 | 1 }>();
  private readonly sessions = new Map<string, MsrpRelaySession>();
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly sockets = new Set<Socket>();
  /** Chunks of messages on their way to a sink, by leg id and Message-ID. */
  private readonly assembling = new Map<string, Buffer[]>();
  private readonly o: MsrpRelayOptions;
  private readonly relayed: Counter;
  private readonly dropped: Counter;

  constructor(o: MsrpRelayOptions = {}) {
    super();
    this.o = o;
    const metrics = o.metrics ?? new MetricsRegistry();
    this.relayed = metrics.counter('switchhook_msrp_relayed_total', 'MSRP requests relayed between the legs of a session, by method.');
    this.dropped = metrics.counter('switchhook_msrp_rejected_total', 'MSRP requests refused or connections dropped by the relay, by reason.');
  }

  /** Listen; resolves with the bound port. */
  async start(): Promise<{ host: string; port: number }> {
    const server = createServer((s) => this.accept(s));
    this.server = server;
    const host = this.o.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port ?? 0, host, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    this.hostPort = `${this.o.advertiseHost ?? host}:${port}`;
    this.bound = { host: this.o.advertiseHost ?? host, port };
    return { ...this.bound };
  }

  /** The advertised address (after {@link start}). */
  get address(): { host: string; port: number } {
    if (!this.bound) throw new Error('MSRP relay not started');
    return { ...this.bound };
  }

  /** A new session with two legs (their daemon URIs go into the SDP sent to each client). */
  createSession(): MsrpRelaySession {
    if (!this.server) throw new Error('MSRP relay not started');
    const leg = (): MsrpLeg => {
      const id = msrpId();
      return { id, localUri: `msrp://${this.hostPort}/${id};tcp`, remotePath: undefined, connection: undefined };
    };
    const session: MsrpRelaySession = { id: msrpId(), legs: [leg(), leg()] };
    this.sessions.set(session.id, session);
    this.legs.set(session.legs[0].id, { session, side: 0 });
    this.legs.set(session.legs[1].id, { session, side: 1 });
    return session;
  }

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** End a session: close both legs' connections. */
  closeSession(s: MsrpRelaySession): void {
    if (!this.sessions.delete(s.id)) return;
    for (const leg of s.legs) {
      this.legs.delete(leg.id);
      leg.connection?.close();
      const waiters = this.waiting.get(leg.id) ?? [];
      this.waiting.delete(leg.id);
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.fail(481, 'Session Closed');
      }
      for (const k of [...this.assembling.keys()]) if (k.startsWith(leg.id + ' ')) this.assembling.delete(k);
    }
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const conn = new MsrpConnection(socket, {
      ...(this.o.transactionTimeoutMs !== undefined ? { transactionTimeoutMs: this.o.transactionTimeoutMs } : {}),
      ...(this.o.maxMessageBytes !== undefined ? { maxMessageBytes: this.o.maxMessageBytes } : {}),
    });
    let bound: { session: MsrpRelaySession; side: 0 | 1 } | undefined;
    conn.on('protocolError', () => this.dropped.inc({ reason: 'parse' }));
    conn.on('request', (m) => {
      const target = this.legOf(m);
      if (!target) {
        // RFC 4975 section 7.3: 481 for a session that does not exist.
        this.dropped.inc({ reason: 'noSession' });
        conn.respond(m, 481, 'No Such Session');
        return;
      }
      const leg = target.session.legs[target.side];
      if (!bound) {
        const from = pathUris(msrpHeader(m, 'from-path'));
        // RFC 4975 section 5.4: the From-Path must match the path the client gave in its SDP.
        if (leg.connection || (leg.remotePath !== undefined && from[from.length - 1] !== leg.remotePath)) {
          this.dropped.inc({ reason: 'pathMismatch' });
          conn.respond(m, 403, 'Path Mismatch');
          return;
        }
        leg.remotePath ??= from[from.length - 1];
        leg.connection = conn;
        bound = target;
        conn.once('close', () => {
          if (leg.connection === conn) leg.connection = undefined;
        });
        this.emit('bound', target.session, target.side);
        this.flush(leg);
      } else if (bound.session !== target.session || bound.side !== target.side) {
        this.dropped.inc({ reason: 'wrongConnection' });
        conn.respond(m, 403, 'Wrong Connection');
        return;
      }
      this.relay(target.session, target.side, m);
    });
  }

  private legOf(m: MsrpMessage): { session: MsrpRelaySession; side: 0 | 1 } | undefined {
    const to = pathUris(msrpHeader(m, 'to-path'));
    const id = to.length > 0 ? msrpSessionId(to[0]!) : undefined;
    return id !== undefined ? this.legs.get(id) : undefined;
  }

  private relay(session: MsrpRelaySession, side: 0 | 1, m: MsrpMessage): void {
    const from = session.legs[side];
    const to = session.legs[side === 0 ? 1 : 0];
    // An empty SEND opens the connection (RFC 4975 section 5.4): answered, not relayed.
    if (m.method === 'SEND' && m.body === undefined && m.continuation === MsrpContinuation.Complete && !msrpHeader(m, 'content-type')) {
      from.connection?.respond(m, 200, 'OK');
      return;
    }
    if (m.method !== 'SEND' && m.method !== 'REPORT') {
      // RFC 4975 section 7.3: 501 for a method we do not understand.
      this.dropped.inc({ reason: 'method' });
      from.connection?.respond(m, 501, 'Not Implemented');
      return;
    }
    if (to.sink) {
      this.toSink(session, side, to, m);
      return;
    }
    const deliver = (): void => {
      const conn = to.connection;
      if (!conn || conn.isClosed || !to.remotePath) {
        from.connection?.respond(m, 481, 'Peer Gone');
        this.dropped.inc({ reason: 'peerGone' });
        return;
      }
      const headers: Array<[string, string]> = [['to-path', to.remotePath], ['from-path', to.localUri]];
      for (const [k, v] of m.headers) if (k !== 'to-path' && k !== 'from-path') headers.push([k, v]);
      const out: MsrpMessage = { transactionId: msrpId(), method: m.method!, headers, continuation: m.continuation };
      if (m.body !== undefined) out.body = m.body;
      this.relayed.inc({ method: m.method! });
      conn.request(out).then(
        (res) => {
          this.emit('message', session, side, m);
          if (res) from.connection?.respond(m, res.status!, res.comment);
        },
        () => {
          this.dropped.inc({ reason: 'peerTimeout' });
          from.connection?.respond(m, 408, 'Request Timeout');
        },
      );
    };
    this.whenConnected(to, deliver, (status, comment) => from.connection?.respond(m, status, comment));
  }

  /** Run `run` once `leg`'s client is connected (at once if it is); `fail` after the wait or when the queue is full. */
  private whenConnected(leg: MsrpLeg, run: () => void, fail: (status: number, comment: string) => void): void {
    if (leg.connection) {
      run();
      return;
    }
    const queue = this.waiting.get(leg.id) ?? [];
    if (queue.length >= (this.o.maxQueued ?? 64)) {
      this.dropped.inc({ reason: 'queueFull' });
      fail(413, 'Queue Full');
      return;
    }
    const w: Waiter = {
      run,
      fail,
      timer: setTimeout(() => {
        const q = this.waiting.get(leg.id);
        if (q) q.splice(q.indexOf(w), 1);
        this.dropped.inc({ reason: 'peerAbsent' });
        fail(408, 'Peer Not Connected');
      }, this.o.peerWaitMs ?? 10_000),
    };
    queue.push(w);
    this.waiting.set(leg.id, queue);
  }

  /** Reassemble a message for a leg with a sink (RFC 4975 section 5.1 chunks, by Message-ID). */
  private toSink(session: MsrpRelaySession, side: 0 | 1, to: MsrpLeg, m: MsrpMessage): void {
    const from = session.legs[side];
    if (m.method !== 'SEND') return; // REPORTs for a sink leg have nowhere to go
    const messageId = msrpHeader(m, 'message-id') ?? '';
    const key = `${to.id} ${messageId}`;
    const parts = this.assembling.get(key) ?? [];
    if (m.body) parts.push(m.body);
    if (m.continuation === MsrpContinuation.More) {
      if (parts.reduce((n, b) => n + b.length, 0) > (this.o.maxMessageBytes ?? 1 << 20)) {
        this.assembling.delete(key);
        this.dropped.inc({ reason: 'tooLarge' });
        from.connection?.respond(m, 413, 'Message Too Large');
        return;
      }
      this.assembling.set(key, parts);
      from.connection?.respond(m, 200, 'OK');
      return;
    }
    this.assembling.delete(key);
    if (m.continuation === MsrpContinuation.Aborted) {
      from.connection?.respond(m, 200, 'OK');
      return;
    }
    this.relayed.inc({ method: 'SEND' });
    to.sink!({ body: Buffer.concat(parts), contentType: msrpHeader(m, 'content-type') ?? 'text/plain', messageId }).then(
      (status) => {
        this.emit('message', session, side, m);
        // SIP status to MSRP status (RFC 4975 section 10 codes).
        const msrp = status < 300 ? 200 : status === 408 || status === 415 || status === 413 ? status : 403;
        from.connection?.respond(m, msrp, msrp === 200 ? 'OK' : 'Not Delivered');
      },
      () => from.connection?.respond(m, 403, 'Not Delivered'),
    );
  }

  /**
   * Send a whole message to one leg's client as if from the other leg (a client without MSRP wrote it):
   * one SEND, waiting for the client to connect. Resolves with the client's MSRP status.
   */
  inject(session: MsrpRelaySession, side: 0 | 1, body: Buffer, contentType: string): Promise<number> {
    const leg = session.legs[side];
    return new Promise((resolve) => {
      this.whenConnected(leg, () => {
        const conn = leg.connection;
        if (!conn || conn.isClosed || !leg.remotePath) {
          resolve(481);
          return;
        }
        this.relayed.inc({ method: 'SEND' });
        conn.sendMessage({ toPath: leg.remotePath, fromPath: leg.localUri, body, contentType }).then(
          () => resolve(200),
          (err: { status?: number }) => resolve(err.status ?? 408),
        );
      }, (status) => resolve(status));
    });
  }

  private flush(leg: MsrpLeg): void {
    const q = this.waiting.get(leg.id);
    if (!q) return;
    this.waiting.delete(leg.id);
    for (const w of q) {
      clearTimeout(w.timer);
      w.run();
    }
  }

  /** Close every session and the listener. */
  async close(): Promise<void> {
    for (const s of [...this.sessions.values()]) this.closeSession(s);
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
