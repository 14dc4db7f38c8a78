/**
 * A small DNS stub client over UDP with TCP fallback (RFC 1035 §4.2, RFC 7766), made for ENUM: unlike
 * `node:dns` it returns TTLs and the authority section (SOA for negative caching, RFC 2308). Answers are
 * accepted only from the server queried, with the query's ID and question (RFC 5452 §9.1); anything else is
 * dropped and counted. A truncated answer (TC) is retried over TCP. Every query settles: with a message, or
 * with an {@link EnumError} (`ENUM_ERR_TIMEOUT`, `ENUM_ERR_MALFORMED`, `ENUM_ERR_TCP`, `ENUM_ERR_CLOSED`).
 */
import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import net from 'node:net';

import { MetricsRegistry, type Counter } from '../util/metrics.js';
import { decodeMessage, encodeQuery, messageId, type DnsMessage } from './dns-wire.js';
import { EnumError } from './errors.js';

/** A DNS server address. */
export interface DnsServer {
  host: string;
  port: number;
}

interface ServerEntry extends DnsServer {
  family: 'udp4' | 'udp6';
}

/** Options of a {@link DnsClient}. */
export interface DnsClientOptions {
  /** Servers as `host:port`, `[v6]:port` or `host` (port 53), tried in turn on timeouts. */
  servers: string[];
  /** Time to wait for each try, ms (default 2000). */
  timeoutMs?: number;
  /** Tries per query, over the servers in turn (default 2). */
  tries?: number;
  metrics?: MetricsRegistry;
}

/** Parse `host:port`, `[v6]:port`, `v6` or `host`. */
export function parseServer(spec: string): DnsServer {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec) ?? (isIPv6(spec) ? [spec, spec, undefined] : /^([^:]+)(?::(\d+))?$/.exec(spec));
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new EnumError('ENUM_ERR_CONFIG', `bad DNS server address '${spec}'`);
  }
  return { host: m[1], port };
}

interface Pending {
  id: number;
  name: string;
  type: number;
  server: DnsServer;
  finish(err: EnumError | undefined, msg?: DnsMessage): void;
}

/** One DNS client with its own UDP socket(s); {@link close} ends every pending query. */
export class DnsClient {
  readonly servers: DnsServer[];
  private readonly entries: ServerEntry[];
  private readonly timeoutMs: number;
  private readonly tries: number;
  private readonly pending = new Map<number, Pending>();
  private readonly sockets = new Map<'udp4' | 'udp6', dgram.Socket>();
  private readonly tcpQueries = new Map<net.Socket, (err: EnumError) => void>();
  private closed = false;
  private next = 0;
  private readonly ids = new Uint16Array(512);
  private idNext = 512;
  private readonly dropped: Counter;
  private readonly errors: Counter;

  constructor(opts: DnsClientOptions) {
    if (opts.servers.length === 0) throw new EnumError('ENUM_ERR_CONFIG', 'no DNS server configured');
    this.servers = opts.servers.map(parseServer);
    this.entries = this.servers.map((s) => ({ ...s, family: isIPv6(s.host) ? 'udp6' : 'udp4' }));
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.tries = opts.tries ?? 2;
    const metrics = opts.metrics ?? new MetricsRegistry();
    this.dropped = metrics.counter('switchhook_dns_dropped_total', 'DNS datagrams dropped: unknown ID, wrong source or question, unparsable');
    this.errors = metrics.counter('switchhook_dns_errors_total', 'DNS queries that failed, by code');
  }

  /** Queries awaiting an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Send one query and resolve the server's answer (any RCODE; the caller interprets it).
   * Rejects only with {@link EnumError}.
   */
  async query(name: string, type: number): Promise<DnsMessage> {
    if (this.closed) throw new EnumError('ENUM_ERR_CLOSED', 'DNS client is closed');
    let last: EnumError | undefined;
    for (let attempt = 0; attempt < this.tries; attempt++) {
      const server = this.entries[(this.next + attempt) % this.entries.length]!;
      try {
        const msg = await this.udpQuery(server, name, type);
        if (!msg.tc) return msg;
        return await this.tcpQuery(server, name, type);
      } catch (err) {
        last = err as EnumError;
        if (last.code !== 'ENUM_ERR_TIMEOUT') break;
      }
    }
    this.next = (this.next + 1) % this.servers.length;
    this.errors.inc({ code: last!.code });
    throw last!;
  }

  private socketFor(server: ServerEntry): dgram.Socket {
    const family = server.family;
    let s = this.sockets.get(family);
    if (!s) {
      s = dgram.createSocket(family);
      s.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo));
      s.on('error', () => this.dropped.inc({ reason: 'socket-error' }));
      s.unref();
      this.sockets.set(family, s);
    }
    return s;
  }

  /** A random query ID not in use (RFC 5452 §9.2), drawn from a pool refilled by the CSPRNG. */
  private newId(): number {
    for (;;) {
      if (this.idNext === this.ids.length) {
        randomFillSync(this.ids);
        this.idNext = 0;
      }
      const id = this.ids[this.idNext++]!;
      if (!this.pending.has(id)) return id;
    }
  }

  private udpQuery(server: ServerEntry, name: string, type: number): Promise<DnsMessage> {
    return new Promise<DnsMessage>((resolve, reject) => {
      const id = this.newId();
      let packet: Buffer;
      try {
        packet = encodeQuery(id, name, type);
      } catch (err) {
        reject(err);
        return;
      }
      const timer = setTimeout(() => p.finish(new EnumError('ENUM_ERR_TIMEOUT', `no answer from ${server.host}:${server.port} for ${name} within ${this.timeoutMs} ms`)), this.timeoutMs);
      const p: Pending = {
        id,
        name,
        type,
        server,
        finish: (err, msg) => {
          if (this.pending.get(id) !== p) return;
          this.pending.delete(id);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(msg!);
        },
      };
      this.pending.set(id, p);
      this.socketFor(server).send(packet, server.port, server.host, (err) => {
        if (err) p.finish(new EnumError('ENUM_ERR_TIMEOUT', `cannot send to ${server.host}:${server.port}: ${err.message}`));
      });
    });
  }

  private onDatagram(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const id = messageId(buf);
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || rinfo.port !== p.server.port || !sameHost(rinfo.address, p.server.host)) {
      this.dropped.inc({ reason: id === undefined ? 'short' : 'unknown-id' });
      return;
    }
    let msg: DnsMessage;
    try {
      msg = decodeMessage(buf);
    } catch (err) {
      this.dropped.inc({ reason: 'malformed' });
      p.finish(err as EnumError);
      return;
    }
    if (!matches(msg, p)) {
      this.dropped.inc({ reason: 'mismatch' });
      return;
    }
    p.finish(undefined, msg);
  }

  /** RFC 7766: the same query over TCP with a two-octet length prefix. */
  private tcpQuery(server: DnsServer, name: string, type: number): Promise<DnsMessage> {
    return new Promise<DnsMessage>((resolve, reject) => {
      if (this.closed) {
        reject(new EnumError('ENUM_ERR_CLOSED', 'DNS client is closed'));
        return;
      }
      const id = this.newId();
      const q = encodeQuery(id, name, type);
      const frame = Buffer.alloc(q.length + 2);
      frame.writeUInt16BE(q.length, 0);
      q.copy(frame, 2);
      const sock = net.connect({ host: server.host, port: server.port });
      let got = Buffer.alloc(0);
      let done = false;
      const finish = (err: EnumError | undefined, msg?: DnsMessage): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.tcpQueries.delete(sock);
        sock.destroy();
        if (err) reject(err);
        else resolve(msg!);
      };
      const timer = setTimeout(() => finish(new EnumError('ENUM_ERR_TIMEOUT', `no TCP answer from ${server.host}:${server.port} for ${name}`)), this.timeoutMs);
      this.tcpQueries.set(sock, finish);
      sock.on('connect', () => sock.write(frame));
      sock.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length < 2) return;
        const len = got.readUInt16BE(0);
        if (got.length < 2 + len) return;
        try {
          const msg = decodeMessage(got.subarray(2, 2 + len));
          if (msg.id !== id || !matches(msg, { name, type })) finish(new EnumError('ENUM_ERR_MISMATCH', `TCP answer from ${server.host}:${server.port} does not match the query`));
          else finish(undefined, msg);
        } catch (err) {
          finish(err as EnumError);
        }
      });
      sock.on('error', (err) => finish(new EnumError('ENUM_ERR_TCP', `TCP to ${server.host}:${server.port}: ${err.message}`)));
      sock.on('close', () => finish(new EnumError('ENUM_ERR_TCP', `TCP connection to ${server.host}:${server.port} closed before an answer`)));
    });
  }

  /** Fail every pending query with `ENUM_ERR_CLOSED` and close the sockets. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.pending.values()]) p.finish(new EnumError('ENUM_ERR_CLOSED', 'DNS client closed'));
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
    for (const finish of [...this.tcpQueries.values()]) finish(new EnumError('ENUM_ERR_CLOSED', 'DNS client closed'));
  }
}

function sameHost(a: string, b: string): boolean {
  return a === b || a === `::ffff:${b}` || (b === 'localhost' && (a === '127.0.0.1' || a === '::1'));
}

/** RFC 5452 §9.1: the answer must carry the query's question. */
function matches(msg: DnsMessage, q: { name: string; type: number }): boolean {
  const question = msg.questions[0];
  return msg.qr && msg.questions.length === 1 && question!.type === q.type && question!.name.toLowerCase() === q.name.replace(/\.$/, '').toLowerCase();
}
