import { randomFillSync } from 'node:crypto';

import { SipRequest, SipResponse, type SipMessage } from './message.js';
import { NameAddr } from './name-addr.js';
import { REASON_PHRASES } from './reason-phrases.js';
import { SipUri } from './uri.js';
import { MAGIC_COOKIE, Via } from './via.js';
import { latin1 } from '../../util/buffer-text.js';

export { REASON_PHRASES };

/**
 * Random bytes for branches and tags, drawn from the CSPRNG 4 KiB at a time: one fill serves hundreds of
 * requests instead of one crypto call each (a third of the cost of building a NOTIFY before). Every byte
 * is used once.
 */
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;

/** `bytes` fresh random bytes as base64url. */
function token(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += bytes;
  return pool.toString('base64url', start, poolOffset);
}

const BASE64URL = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');
/** The cookie followed by room for 16 base64url characters. */
const branchText = Buffer.from(MAGIC_COOKIE + '0'.repeat(16), 'latin1');

/**
 * A branch parameter with the RFC 3261 8.1.1.7 magic cookie, unique in space and time: the cookie and
 * 12 random bytes as base64url, made as one flat string (not the cookie joined to a token, which V8 keeps
 * as a pair to flatten at its first hashing: every fan-out transaction is keyed by its branch).
 */
export function generateBranch(): string {
  if (poolOffset + 12 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  let o = MAGIC_COOKIE.length;
  for (let i = poolOffset, end = poolOffset + 12; i < end; i += 3) {
    const n = (pool[i]! << 16) | (pool[i + 1]! << 8) | pool[i + 2]!;
    branchText[o++] = BASE64URL[n >>> 18]!;
    branchText[o++] = BASE64URL[(n >>> 12) & 63]!;
    branchText[o++] = BASE64URL[(n >>> 6) & 63]!;
    branchText[o++] = BASE64URL[n & 63]!;
  }
  poolOffset += 12;
  return latin1(branchText, 0, o);
}

/** A From/To tag with at least 32 bits of randomness (RFC 3261 19.3). */
export function generateTag(): string {
  return token(8);
}

/** A globally unique Call-ID (RFC 3261 8.1.1.4), optionally `@host`. */
export function generateCallId(host?: string): string {
  return host ? `${token(16)}@${host}` : token(16);
}

/** What {@link createRequest} needs; the rest of the headers can be added afterwards. */
export interface RequestInit {
  method: string;
  uri: SipUri | string;
  from: NameAddr | string;
  to: NameAddr | string;
  /** Defaults to a new Call-ID. */
  callId?: string;
  /** Defaults to 1. */
  cseq?: number;
  /** The top Via (a branch is generated when it has none); more can be added with `addHeader`. */
  via?: Via;
  /** Contact value(s). */
  contact?: NameAddr | string | ReadonlyArray<NameAddr | string>;
  /** Defaults to 70 (RFC 3261 8.1.1.6). */
  maxForwards?: number;
  /** Other headers, in order. */
  headers?: ReadonlyArray<[string, string]>;
  body?: Buffer | string;
  contentType?: string;
}

/**
 * Builds a request with the headers RFC 3261 8.1.1 requires (Request-URI, To, From, Call-ID, CSeq,
 * Max-Forwards, Via). A From without a tag gets a new one (8.1.1.3).
 */
export function createRequest(init: RequestInit): SipRequest {
  const req = new SipRequest(init.method, typeof init.uri === 'string' ? SipUri.parse(init.uri) : init.uri);
  if (init.via) {
    const via = init.via.clone();
    if (!via.branch) via.branch = generateBranch();
    req.setHeader('via', via.toString());
  }
  req.setHeader('max-forwards', String(init.maxForwards ?? 70));
  const from = typeof init.from === 'string' ? NameAddr.parse(init.from, 'From') : init.from.clone();
  if (!from.tag) from.tag = generateTag();
  req.setHeader('from', from.toString());
  req.setHeader('to', typeof init.to === 'string' ? NameAddr.parse(init.to, 'To').toString() : init.to.toString());
  req.setHeader('call-id', init.callId ?? generateCallId());
  req.setHeader('cseq', `${init.cseq ?? 1} ${init.method}`);
  if (init.contact !== undefined) {
    const list = Array.isArray(init.contact) ? init.contact : [init.contact];
    req.setHeader('contact', list.map(String));
  }
  for (const [name, value] of init.headers ?? []) req.addHeader(name, value);
  if (init.contentType) req.setHeader('content-type', init.contentType);
  if (init.body !== undefined) req.body = init.body;
  return req;
}

/**
 * Builds a response to `request` (RFC 3261 8.2.6): Via lines, From, Call-ID, CSeq copied byte for byte,
 * To copied with `toTag` added when the request's To has none (not for 100 Trying, 8.2.6.2). Works on a
 * partially parsed request (a `SipParseError.partial`), copying whatever of those headers is present.
 */
export function createResponse(request: SipMessage, status: number, reason?: string, toTag?: string): SipResponse {
  const res = new SipResponse(status, reason ?? REASON_PHRASES[status] ?? '');
  const copy = (name: string) => {
    const values = rawLines(request, name);
    if (values.length > 0) res.setHeader(name, values);
  };
  copy('via');
  copy('from');
  copy('to');
  copy('call-id');
  copy('cseq');
  if (status > 100) {
    const to = request.header('to');
    if (to !== undefined) {
      try {
        const parsed = request.to;
        if (!parsed.tag) {
          const withTag = parsed.clone();
          withTag.tag = toTag ?? generateTag();
          res.setHeader('to', withTag.toString());
        }
      } catch {
        // An unparsable To is copied as received; the response still reaches the sender (8.2.6.2).
      }
    }
  }
  return res;
}

/** Every line of a header, unsplit. */
function rawLines(m: SipMessage, name: string): string[] {
  const out: string[] = [];
  const n = m.headerCount(name);
  if (n === 0) return out;
  if (n === 1) return [m.header(name)!];
  // Several lines: list headers are split by headers(); re-join them one value per line.
  return m.headers(name);
}
