/**
 * One MSRP TCP connection (RFC 4975 section 6): frames incoming bytes, matches responses to the requests
 * sent on it (transaction ids, section 7.1), answers requests, and sends messages in chunks.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

import { chunkBody, formatByteRange, msrpHeader, msrpId, MsrpContinuation, MsrpError, MsrpParser, pathUris, serializeMsrp, type MsrpMessage } from './message.js';

/** Options of an {@link MsrpConnection}. */
export interface MsrpConnectionOptions {
  /** RFC 4975 section 7.1.1: a transaction with no response in this time fails (default 30 s). */
  transactionTimeoutMs?: number;
  maxMessageBytes?: number;
}

/** Events of an {@link MsrpConnection}. */
export interface MsrpConnectionEvents {
  /** A request arrived (SEND, REPORT, ...); the listener answers it with {@link MsrpConnection.respond}. */
  request: [message: MsrpMessage];
  /** Bad framing: the connection is being closed. */
  protocolError: [error: MsrpError];
  close: [];
}

interface Pending {
  resolve: (m: MsrpMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** What {@link MsrpConnection.sendMessage} sends: one message, possibly in several chunks. */
export interface OutgoingMsrpMessage {
  toPath: string;
  fromPath: string;
  body: Buffer | string;
  contentType?: string;
  messageId?: string;
  /** Chunk size in bytes (RFC 4975 section 5.1; default 2048). */
  chunkSize?: number;
  /** Extra headers, e.g. `Success-Report: yes`. */
  headers?: Array<[string, string]>;
}

/** An MSRP connection over a TCP socket. */
export class MsrpConnection extends EventEmitter<MsrpConnectionEvents> {
  private readonly parser: MsrpParser;
  private readonly pending = new Map<string, Pending>();
  private readonly timeoutMs: number;
  private closed = false;

  constructor(
    readonly socket: Socket,
    o: MsrpConnectionOptions = {},
  ) {
    super();
    this.timeoutMs = o.transactionTimeoutMs ?? 30_000;
    this.parser = new MsrpParser(o.maxMessageBytes !== undefined ? { maxMessageBytes: o.maxMessageBytes } : {});
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
  }

  /** Connect to `host:port` (the active side, RFC 4975 section 5.4). */
  static async connect(host: string, port: number, o: MsrpConnectionOptions = {}): Promise<MsrpConnection> {
    const socket = connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new MsrpConnection(socket, o);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(d: Buffer): void {
    let msgs: MsrpMessage[];
    try {
      msgs = this.parser.push(d);
    } catch (err) {
      this.emit('protocolError', err instanceof MsrpError ? err : new MsrpError('MSRP_ERR_PARSE', String(err)));
      this.close();
      return;
    }
    for (const m of msgs) {
      if (m.status !== undefined) {
        const p = this.pending.get(m.transactionId);
        if (!p) continue;
        this.pending.delete(m.transactionId);
        clearTimeout(p.timer);
        p.resolve(m);
      } else {
        this.emit('request', m);
      }
    }
  }

  private onClose(): void {
    if (!this.closed) this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new MsrpError('MSRP_ERR_CLOSED', `connection closed before the response to ${id}`));
    }
    this.pending.clear();
    this.emit('close');
  }

  /** Write any message as it is. */
  write(m: MsrpMessage): void {
    if (this.closed) throw new MsrpError('MSRP_ERR_CLOSED', 'MSRP connection closed');
    this.socket.write(serializeMsrp(m));
  }

  /**
   * Send a request and resolve with its response. A REPORT, or a SEND with `Failure-Report: no`, gets no
   * response (RFC 4975 section 7.1.2): it resolves with undefined once written.
   */
  request(m: MsrpMessage): Promise<MsrpMessage | undefined> {
    this.write(m);
    const noResponse = m.method === 'REPORT' || msrpHeader(m, 'failure-report') === 'no';
    if (noResponse) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(m.transactionId);
        reject(new MsrpError('MSRP_ERR_TIMEOUT', `no response to ${m.method} ${m.transactionId} in ${this.timeoutMs} ms`, 408));
      }, this.timeoutMs);
      this.pending.set(m.transactionId, { resolve, reject, timer });
    });
  }

  /**
   * Answer a request (RFC 4975 section 7.2): To-Path is the previous hop (first From-Path URI), From-Path
   * our URI (first To-Path URI). REPORTs are never answered.
   */
  respond(req: MsrpMessage, status: number, comment?: string): void {
    if (req.method === 'REPORT' || this.closed) return;
    if (status === 200 && msrpHeader(req, 'failure-report') === 'no') return;
    const to = pathUris(msrpHeader(req, 'from-path'))[0] ?? '';
    const from = pathUris(msrpHeader(req, 'to-path'))[0] ?? '';
    const res: MsrpMessage = { transactionId: req.transactionId, status, headers: [['to-path', to], ['from-path', from]], continuation: MsrpContinuation.Complete };
    if (comment) res.comment = comment;
    this.write(res);
  }

  /** Send one message as SEND chunks (RFC 4975 section 5.1), each awaiting its 200; resolves with the Message-ID. */
  async sendMessage(o: OutgoingMsrpMessage): Promise<string> {
    const messageId = o.messageId ?? msrpId();
    const body = typeof o.body === 'string' ? Buffer.from(o.body, 'utf8') : o.body;
    for (const c of chunkBody(body, o.chunkSize ?? 2048)) {
      const headers: Array<[string, string]> = [['to-path', o.toPath], ['from-path', o.fromPath], ['message-id', messageId], ['byte-range', formatByteRange(c.range)], ...(o.headers ?? [])];
      const m: MsrpMessage = { transactionId: msrpId(), method: 'SEND', headers, continuation: c.last ? MsrpContinuation.Complete : MsrpContinuation.More };
      if (body.length > 0) {
        headers.push(['content-type', o.contentType ?? 'text/plain']);
        m.body = c.data;
      }
      const res = await this.request(m);
      if (res && res.status !== 200) throw new MsrpError('MSRP_ERR_SEND_FAILED', `SEND ${messageId} answered ${res.status}`, res.status);
    }
    return messageId;
  }

  /** Close the socket; pending transactions fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }
}
