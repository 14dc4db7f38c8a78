import { DEFAULT_LIMITS, type SipLimits } from '../message/message.js';

/** What {@link StreamFramer.push} found in the stream. */
export type FramerEvent =
  /** One complete message (start line, headers and Content-Length bytes of body). */
  | { readonly kind: 'message'; readonly buf: Buffer }
  /** RFC 5626 3.5.1 keepalive ping (double CRLF): answer with a single CRLF. */
  | { readonly kind: 'ping' }
  /** RFC 5626 3.5.1 keepalive pong (single CRLF). */
  | { readonly kind: 'pong' }
  /**
   * A message that cannot be delivered. `fatal`: framing is lost and the connection must be closed.
   * Otherwise (a body over the cap) the body is skipped and `head` holds the start line and headers so
   * the receiver can answer 413.
   */
  | { readonly kind: 'error'; readonly reason: string; readonly status: number; readonly fatal: boolean; readonly head?: Buffer };

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LENGTH_RE = /(?:^|\n)(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/gi;

/**
 * Frames SIP messages on a byte stream (TCP, TLS) by Content-Length (RFC 3261 18.3), with header and
 * body limits, and recognises RFC 5626 3.5.1 CRLF keepalives between messages. Received bytes are kept as
 * slices of the chunks; at most one copy per message is made when a message spans chunks.
 */
export class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);
  private scanFrom = 0;
  private skip = 0;
  private broken = false;
  /** Set by the owner after sending a ping, so that a lone CRLF is taken as the pong. */
  awaitingPong = false;
  private readonly limits: SipLimits;

  constructor(limits: Partial<SipLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes buffered and not yet framed. */
  get buffered(): number {
    return this.pending.length;
  }

  /** Feeds a chunk; returns what became complete. After a fatal error every later chunk is ignored. */
  push(chunk: Buffer): FramerEvent[] {
    const out: FramerEvent[] = [];
    if (this.broken) return out;
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return out;
    }
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const ev = this.next();
      if (!ev) break;
      out.push(ev);
      if (ev.kind === 'error' && ev.fatal) {
        this.broken = true;
        this.pending = Buffer.alloc(0);
        break;
      }
    }
    return out;
  }

  private next(): FramerEvent | undefined {
    const p = this.pending;
    if (p.length === 0) return undefined;
    if (p[0] === 0x0d || p[0] === 0x0a) return this.keepalive();
    const idx = p.indexOf(CRLFCRLF, this.scanFrom);
    if (idx < 0) {
      if (p.length > this.limits.maxHeaderBytes) {
        return { kind: 'error', reason: `headers larger than ${this.limits.maxHeaderBytes} bytes`, status: 513, fatal: true };
      }
      this.scanFrom = Math.max(0, p.length - 3);
      return undefined;
    }
    const headEnd = idx + 4;
    if (headEnd > this.limits.maxHeaderBytes) {
      return { kind: 'error', reason: `headers larger than ${this.limits.maxHeaderBytes} bytes`, status: 513, fatal: true };
    }
    const head = p.toString('latin1', 0, idx + 2);
    let length: string | undefined;
    LENGTH_RE.lastIndex = 0;
    for (let m = LENGTH_RE.exec(head); m; m = LENGTH_RE.exec(head)) {
      const v = m[1]!.trim();
      if (length !== undefined && length !== v) {
        return { kind: 'error', reason: 'conflicting Content-Length values', status: 400, fatal: true };
      }
      length = v;
    }
    if (length === undefined) {
      return { kind: 'error', reason: 'missing Content-Length on a stream transport', status: 400, fatal: true };
    }
    if (!/^[0-9]+$/.test(length)) {
      return { kind: 'error', reason: `Content-Length is not a number: '${length.slice(0, 20)}'`, status: 400, fatal: true };
    }
    const bodyLength = Number(length);
    if (length.length > 10 || bodyLength > this.limits.maxBodyBytes) {
      const headBuf = p.subarray(0, headEnd);
      const have = p.length - headEnd;
      if (have >= bodyLength) this.pending = p.subarray(headEnd + bodyLength);
      else {
        this.skip = bodyLength - have;
        this.pending = Buffer.alloc(0);
      }
      this.scanFrom = 0;
      return { kind: 'error', reason: `body larger than ${this.limits.maxBodyBytes} bytes`, status: 413, fatal: false, head: headBuf };
    }
    const total = headEnd + bodyLength;
    if (p.length < total) {
      this.scanFrom = idx;
      return undefined;
    }
    this.pending = p.subarray(total);
    this.scanFrom = 0;
    return { kind: 'message', buf: p.subarray(0, total) };
  }

  /** CRLF at a message boundary: RFC 5626 3.5.1 ping (CRLFCRLF) or pong (CRLF); RFC 3261 7.5 stray CRLF. */
  private keepalive(): FramerEvent | undefined {
    const p = this.pending;
    if (p[0] === 0x0a) {
      this.pending = p.subarray(1);
      return this.next();
    }
    if (p.length < 2) return undefined;
    if (p[1] !== 0x0a) {
      this.pending = p.subarray(1);
      return this.next();
    }
    if (p.length >= 4 && p[2] === 0x0d && p[3] === 0x0a) {
      this.pending = p.subarray(4);
      return { kind: 'ping' };
    }
    if (p.length === 2 && !this.awaitingPong) return undefined;
    if (p.length === 3 && p[2] === 0x0d) return undefined;
    this.pending = p.subarray(2);
    if (!this.awaitingPong) return this.next();
    this.awaitingPong = false;
    return { kind: 'pong' };
  }
}
