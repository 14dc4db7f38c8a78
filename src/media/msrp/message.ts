/**
 * MSRP messages (RFC 4975 section 7.1): a start line `MSRP <transact-id> <method>` or
 * `MSRP <transact-id> <status> [comment]`, header fields, an optional body, and the end-line
 * `-------<transact-id><flag>` whose flag is `$` (complete), `+` (more chunks follow) or `#` (aborted).
 * {@link MsrpParser} frames a TCP byte stream into messages; {@link serializeMsrp} writes one.
 */
import { randomBytes } from 'node:crypto';

import { SwitchhookError } from '../../util/errors.js';

/** Bad MSRP on the wire or misuse of the MSRP core; `code` is `MSRP_ERR_*`. */
export class MsrpError extends SwitchhookError {
  constructor(
    code: `MSRP_ERR_${string}`,
    message: string,
    /** The MSRP status to answer with, when the error is about a request (RFC 4975 section 7.3). */
    readonly status?: number,
  ) {
    super(code, message);
  }
}

/** The end-line flag (RFC 4975 section 7.1). */
export enum MsrpContinuation {
  /** `$`: the last chunk of the message. */
  Complete = '$',
  /** `+`: more chunks follow. */
  More = '+',
  /** `#`: the sender aborted the message. */
  Aborted = '#',
}

/** One MSRP request or response. Header names are kept lower-case. */
export interface MsrpMessage {
  transactionId: string;
  /** `SEND`, `REPORT`, or another method; undefined for a response. */
  method?: string;
  /** Response status; undefined for a request. */
  status?: number;
  /** Response comment (`OK`). */
  comment?: string;
  /** Headers in order: lower-case name, value. */
  headers: Array<[string, string]>;
  body?: Buffer;
  continuation: MsrpContinuation;
}

/** The byte range header `Byte-Range: start-end/total` (RFC 4975 section 9); `*` is undefined. */
export interface ByteRange {
  start: number;
  end: number | undefined;
  total: number | undefined;
}

const SEVEN_DASHES = '-------';
/** RFC 4975 section 9: transact-id = ident (4-32 chars of alphanum and `.-+%=`). */
const IDENT_RE = /^[A-Za-z0-9][A-Za-z0-9.\-+%=]{3,31}$/;
const METHOD_RE = /^[A-Z]+$/;

/** A fresh transaction id or Message-ID (RFC 4975 section 7.1: hard to guess). */
export function msrpId(): string {
  // 80 random bits, alphanumeric only: an ident must start with an alphanumeric (RFC 4975 section 9).
  return randomBytes(10).toString('hex');
}

/** First value of a header. */
export function msrpHeader(m: MsrpMessage, name: string): string | undefined {
  const n = name.toLowerCase();
  for (const [k, v] of m.headers) if (k === n) return v;
  return undefined;
}

/** Replace (or add) a header. */
export function setMsrpHeader(m: MsrpMessage, name: string, value: string): void {
  const n = name.toLowerCase();
  const i = m.headers.findIndex(([k]) => k === n);
  if (i >= 0) m.headers[i] = [n, value];
  else m.headers.push([n, value]);
}

/** Parse `Byte-Range` (RFC 4975 section 9). @throws MsrpError `MSRP_ERR_BYTE_RANGE`. */
export function parseByteRange(value: string): ByteRange {
  const m = /^\s*([0-9]{1,15})-([0-9]{1,15}|\*)\/([0-9]{1,15}|\*)\s*$/.exec(value);
  if (!m) throw new MsrpError('MSRP_ERR_BYTE_RANGE', `bad Byte-Range '${value}'`, 400);
  const start = Number(m[1]);
  const end = m[2] === '*' ? undefined : Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (start < 1 || (end !== undefined && end < start - 1) || (total !== undefined && end !== undefined && end > total)) {
    throw new MsrpError('MSRP_ERR_BYTE_RANGE', `inconsistent Byte-Range '${value}'`, 400);
  }
  return { start, end, total };
}

/** Format a Byte-Range value. */
export function formatByteRange(r: ByteRange): string {
  return `${r.start}-${r.end ?? '*'}/${r.total ?? '*'}`;
}

/** Write a message to bytes (RFC 4975 section 7.1). A body gets the blank line and trailing CRLF. */
export function serializeMsrp(m: MsrpMessage): Buffer {
  const start = m.method !== undefined ? `MSRP ${m.transactionId} ${m.method}` : `MSRP ${m.transactionId} ${m.status}${m.comment ? ' ' + m.comment : ''}`;
  let head = start + '\r\n';
  // RFC 4975 section 7.1: To-Path first, From-Path second.
  const ordered = [...m.headers].sort((a, b) => rank(a[0]) - rank(b[0]));
  for (const [k, v] of ordered) head += `${canonicalName(k)}: ${v}\r\n`;
  const end = `${SEVEN_DASHES}${m.transactionId}${m.continuation}\r\n`;
  if (m.body === undefined) return Buffer.from(head + end, 'utf8');
  return Buffer.concat([Buffer.from(head + '\r\n', 'utf8'), m.body, Buffer.from('\r\n' + end, 'utf8')]);
}

function rank(name: string): number {
  return name === 'to-path' ? 0 : name === 'from-path' ? 1 : 2;
}

const CANONICAL: Record<string, string> = {
  'to-path': 'To-Path', 'from-path': 'From-Path', 'message-id': 'Message-ID', 'byte-range': 'Byte-Range',
  'content-type': 'Content-Type', 'success-report': 'Success-Report', 'failure-report': 'Failure-Report', status: 'Status',
};

function canonicalName(n: string): string {
  return CANONICAL[n] ?? n.replace(/(^|-)([a-z])/g, (_s, d: string, c: string) => d + c.toUpperCase());
}

/** Limits of a {@link MsrpParser}. */
export interface MsrpParserOptions {
  /** Largest message (head + body) accepted, bytes; default 1 MiB. */
  maxMessageBytes?: number;
}

/**
 * Frames an MSRP byte stream (RFC 4975 section 7.1) into messages. Feed it chunks with {@link push}; it
 * returns the complete messages. A framing error throws {@link MsrpError} and the stream is unusable (the
 * connection must be closed, RFC 4975 section 7.3).
 */
export class MsrpParser {
  private buf: Buffer = Buffer.alloc(0);
  private readonly max: number;

  constructor(o: MsrpParserOptions = {}) {
    this.max = o.maxMessageBytes ?? 1 << 20;
  }

  /** Bytes waiting for the rest of their message. */
  get pending(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): MsrpMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: MsrpMessage[] = [];
    for (;;) {
      const r = this.next();
      if (!r) break;
      out.push(r);
    }
    if (this.buf.length > this.max) throw new MsrpError('MSRP_ERR_TOO_LARGE', `MSRP message over ${this.max} bytes`, 413);
    return out;
  }

  private next(): MsrpMessage | undefined {
    const b = this.buf;
    const lineEnd = b.indexOf('\r\n');
    if (lineEnd < 0) {
      if (b.length > 1024) throw new MsrpError('MSRP_ERR_START_LINE', 'no MSRP start line within 1024 bytes', 400);
      return undefined;
    }
    const startLine = b.toString('utf8', 0, lineEnd);
    const parts = startLine.split(' ');
    if (parts[0] !== 'MSRP' || parts.length < 3 || !IDENT_RE.test(parts[1]!)) {
      throw new MsrpError('MSRP_ERR_START_LINE', `bad MSRP start line '${startLine.slice(0, 80)}'`, 400);
    }
    const tid = parts[1]!;
    const msg: MsrpMessage = { transactionId: tid, headers: [], continuation: MsrpContinuation.Complete };
    if (/^[0-9]{3}$/.test(parts[2]!)) {
      msg.status = Number(parts[2]);
      if (parts.length > 3) msg.comment = parts.slice(3).join(' ');
    } else if (METHOD_RE.test(parts[2]!) && parts.length === 3) {
      msg.method = parts[2]!;
    } else {
      throw new MsrpError('MSRP_ERR_START_LINE', `bad MSRP start line '${startLine.slice(0, 80)}'`, 400);
    }
    const endLine = `${SEVEN_DASHES}${tid}`;
    let pos = lineEnd + 2;
    for (;;) {
      const e = b.indexOf('\r\n', pos);
      if (e < 0) return undefined;
      const line = b.toString('utf8', pos, e);
      if (line.startsWith(endLine) && line.length === endLine.length + 1) {
        // No body: the end-line follows the headers (RFC 4975 section 7.1).
        msg.continuation = flag(line[line.length - 1]!);
        this.buf = b.subarray(e + 2);
        return msg;
      }
      if (line === '') {
        // Body: up to CRLF end-line.
        const marker = Buffer.from(`\r\n${endLine}`);
        let search = e + 2;
        for (;;) {
          const at = b.indexOf(marker, search);
          if (at < 0 || at + marker.length + 3 > b.length) return undefined;
          const f = String.fromCharCode(b[at + marker.length]!);
          if ((f === '$' || f === '+' || f === '#') && b[at + marker.length + 1] === 13 && b[at + marker.length + 2] === 10) {
            msg.body = Buffer.from(b.subarray(e + 2, at));
            msg.continuation = flag(f);
            this.buf = b.subarray(at + marker.length + 3);
            return msg;
          }
          search = at + 1;
        }
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw new MsrpError('MSRP_ERR_HEADER', `bad MSRP header line '${line.slice(0, 80)}'`, 400);
      msg.headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
      pos = e + 2;
    }
  }
}

function flag(c: string): MsrpContinuation {
  switch (c) {
    case '$': return MsrpContinuation.Complete;
    case '+': return MsrpContinuation.More;
    case '#': return MsrpContinuation.Aborted;
    default: throw new MsrpError('MSRP_ERR_END_LINE', `bad end-line flag '${c}'`, 400);
  }
}

/** The session-id of an MSRP URI `msrp://host:port/session-id;tcp` (RFC 4975 section 6). */
export function msrpSessionId(uri: string): string | undefined {
  const m = /^msrps?:\/\/[^/]+\/([^;\s]+);tcp$/i.exec(uri.trim());
  return m?.[1];
}

/** Split a To-Path / From-Path value into its URIs (RFC 4975 section 9: space separated). */
export function pathUris(value: string | undefined): string[] {
  return value ? value.trim().split(/\s+/) : [];
}

/** Split a body into SEND chunks of at most `size` bytes with their Byte-Range (RFC 4975 section 5.1). */
export function chunkBody(body: Buffer, size: number): Array<{ range: ByteRange; data: Buffer; last: boolean }> {
  if (size < 1) throw new MsrpError('MSRP_ERR_CHUNK_SIZE', 'chunk size must be at least 1');
  const out: Array<{ range: ByteRange; data: Buffer; last: boolean }> = [];
  if (body.length === 0) return [{ range: { start: 1, end: 0, total: 0 }, data: body, last: true }];
  for (let off = 0; off < body.length; off += size) {
    const data = body.subarray(off, Math.min(body.length, off + size));
    out.push({ range: { start: off + 1, end: off + data.length, total: body.length }, data, last: off + size >= body.length });
  }
  return out;
}
