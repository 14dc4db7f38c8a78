/**
 * HTTP Digest authentication for SIP: RFC 3261 section 22, RFC 8760 (SHA-256 and SHA-512/256 algorithms
 * for SIP), RFC 7616 (the HTTP Digest scheme, `qop=auth`), RFC 2617 (the original MD5 computation).
 * Pure functions plus a server (challenge, nonce with expiry and `stale=true`, nonce-count check) and a
 * client (answer a challenge with Authorization / Proxy-Authorization).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { SwitchhookError } from '../../util/errors.js';
import { systemClock, type Clock } from '../transaction/clock.js';

/** Digest algorithms supported (RFC 8760 section 2.1: SHA-256 preferred, MD5 for backward compatibility). */
export type DigestAlgorithm = 'MD5' | 'SHA-256';

/** An authentication failure with a stable code. */
export class SipAuthError extends SwitchhookError {
  constructor(code: `SIP_ERR_AUTH_${string}`, message: string) {
    super(code, message);
  }
}

/** A parsed credentials or challenge header value: scheme and lower-cased parameter names. */
export interface AuthHeader {
  scheme: string;
  params: Map<string, string>;
}

/**
 * Parse a WWW-Authenticate / Authorization (or Proxy- variant) header value (RFC 3261 section 25.1,
 * `challenge` and `credentials` productions). Quoted strings are unescaped.
 * @throws SipAuthError `SIP_ERR_AUTH_SYNTAX` on malformed input.
 */
export function parseAuthHeader(value: string): AuthHeader {
  const m = /^\s*([A-Za-z][A-Za-z0-9._-]*)\s+/.exec(value);
  if (!m) throw new SipAuthError('SIP_ERR_AUTH_SYNTAX', `no auth scheme in '${value.slice(0, 60)}'`);
  const params = new Map<string, string>();
  let i = m[0].length;
  const s = value;
  while (i < s.length) {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
    if (i >= s.length) break;
    const nameStart = i;
    while (i < s.length && /[A-Za-z0-9._-]/.test(s[i]!)) i++;
    const name = s.slice(nameStart, i).toLowerCase();
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    if (!name || s[i] !== '=') throw new SipAuthError('SIP_ERR_AUTH_SYNTAX', `bad auth parameter at ${nameStart}`);
    i++;
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    let val = '';
    if (s[i] === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        const c = s[i]!;
        if (c === '\\' && i + 1 < s.length) {
          val += s[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          val += c;
          i++;
        }
      }
      if (!closed) throw new SipAuthError('SIP_ERR_AUTH_SYNTAX', `unterminated quoted value for ${name}`);
    } else {
      const start = i;
      while (i < s.length && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
      val = s.slice(start, i);
    }
    params.set(name, val);
  }
  return { scheme: m[1]!, params };
}

const unquoted = new Set(['algorithm', 'nc', 'qop', 'stale']);

/** Serialise an auth header value; `qop` in a challenge is quoted, in credentials it is a token. */
export function formatAuthHeader(scheme: string, params: ReadonlyArray<[string, string]>, challenge = false): string {
  const parts = params.map(([k, v]) => {
    const bare = unquoted.has(k) && !(challenge && k === 'qop');
    return bare ? `${k}=${v}` : `${k}="${v.replace(/(["\\])/g, '\\$1')}"`;
  });
  return `${scheme} ${parts.join(', ')}`;
}

function hash(algorithm: DigestAlgorithm, data: string): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(data, 'utf8').digest('hex');
}

/** Normalise an `algorithm=` value; undefined means MD5 (RFC 7616 section 3.3). */
export function parseAlgorithm(value: string | undefined): DigestAlgorithm | undefined {
  if (value === undefined) return 'MD5';
  switch (value.toUpperCase()) {
    case 'MD5':
      return 'MD5';
    case 'SHA-256':
      return 'SHA-256';
    default:
      return undefined;
  }
}

/** H(A1) = H(username ":" realm ":" password) (RFC 7616 section 3.4.2). */
export function digestHA1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hash(algorithm, `${username}:${realm}:${password}`);
}

/** Inputs to the request-digest (RFC 7616 section 3.4.1). */
export interface DigestInputs {
  algorithm: DigestAlgorithm;
  /** H(A1), or give username/realm/password. */
  ha1?: string;
  username: string;
  realm: string;
  password?: string;
  method: string;
  uri: string;
  nonce: string;
  /** With qop=auth: nonce count (8 hex digits) and client nonce. Without qop: the RFC 2069 form. */
  qop?: 'auth';
  nc?: string;
  cnonce?: string;
}

/** The `response=` value: KD(H(A1), nonce:nc:cnonce:qop:H(A2)), or KD(H(A1), nonce:H(A2)) without qop. */
export function computeDigestResponse(i: DigestInputs): string {
  const ha1 = i.ha1 ?? digestHA1(i.algorithm, i.username, i.realm, i.password ?? '');
  const ha2 = hash(i.algorithm, `${i.method}:${i.uri}`);
  if (i.qop === 'auth') return hash(i.algorithm, `${ha1}:${i.nonce}:${i.nc}:${i.cnonce}:auth:${ha2}`);
  return hash(i.algorithm, `${ha1}:${i.nonce}:${ha2}`);
}

/** What a server needs for one user: the password, or H(A1) per algorithm. */
export type DigestCredential = { password: string } | { ha1: Partial<Record<DigestAlgorithm, string>> };

/** Looks a user up; undefined when unknown. */
export type DigestUserLookup = (username: string, realm: string) => DigestCredential | undefined;

/** Options of a {@link DigestServer}. */
export interface DigestServerOptions {
  realm: string;
  lookup: DigestUserLookup;
  /** Algorithms offered, in order of preference (RFC 8760 section 2.4: one challenge per algorithm). */
  algorithms?: DigestAlgorithm[];
  /** Nonce lifetime; an older nonce with a correct response is rejected with stale=true. Default 300 s. */
  nonceTtlMs?: number;
  /** HMAC key for nonces; random per server by default. */
  secret?: Buffer;
  /** Nonces whose nonce count is tracked at most (oldest forgotten first). Default 10,000. */
  maxTrackedNonces?: number;
  clock?: Clock;
}

/** Why verification failed; `stale` asks the client to retry with a fresh nonce (RFC 7616 section 3.3). */
export type DigestVerdict =
  | { ok: true; username: string }
  | { ok: false; stale: boolean; reason: 'missing' | 'syntax' | 'realm' | 'nonce' | 'stale' | 'nc' | 'user' | 'response' | 'algorithm' | 'uri' };

/**
 * The server side of Digest: issues nonces (time + random + HMAC, so any nonce it issued is recognised
 * without storing it), checks responses, nonce expiry and strictly increasing nonce counts.
 */
export class DigestServer {
  readonly realm: string;
  private readonly lookup: DigestUserLookup;
  private readonly algorithms: DigestAlgorithm[];
  private readonly ttl: number;
  private readonly secret: Buffer;
  private readonly maxTracked: number;
  private readonly clock: Clock;
  private readonly lastNc = new Map<string, number>();

  constructor(o: DigestServerOptions) {
    this.realm = o.realm;
    this.lookup = o.lookup;
    this.algorithms = o.algorithms ?? ['SHA-256', 'MD5'];
    this.ttl = o.nonceTtlMs ?? 300_000;
    this.secret = o.secret ?? randomBytes(32);
    this.maxTracked = o.maxTrackedNonces ?? 10_000;
    this.clock = o.clock ?? systemClock;
  }

  /** A fresh nonce: base64url of issue time, random bytes and their HMAC. */
  createNonce(): string {
    const body = `${Math.floor(this.clock.now())}.${randomBytes(9).toString('base64url')}`;
    const mac = createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, 22);
    return `${body}.${mac}`;
  }

  /** WWW-Authenticate / Proxy-Authenticate values, one per offered algorithm (RFC 8760 section 2.4). */
  challenge(stale = false): string[] {
    const nonce = this.createNonce();
    return this.algorithms.map((algorithm) => {
      const params: Array<[string, string]> = [
        ['realm', this.realm],
        ['nonce', nonce],
        ['algorithm', algorithm],
        ['qop', 'auth'],
      ];
      if (stale) params.push(['stale', 'true']);
      return formatAuthHeader('Digest', params, true);
    });
  }

  /** Number of nonces whose nonce count is tracked (bounded by maxTrackedNonces). */
  get trackedNonces(): number {
    return this.lastNc.size;
  }

  /**
   * Check credentials from an Authorization / Proxy-Authorization header for `method`. `requestUri` is
   * compared with the `uri=` parameter when given (RFC 3261 section 22.4 leaves it to the server).
   */
  verify(headerValue: string | undefined, method: string, requestUri?: string): DigestVerdict {
    if (headerValue === undefined) return { ok: false, stale: false, reason: 'missing' };
    let parsed: AuthHeader;
    try {
      parsed = parseAuthHeader(headerValue);
    } catch {
      return { ok: false, stale: false, reason: 'syntax' };
    }
    const p = parsed.params;
    if (parsed.scheme.toLowerCase() !== 'digest') return { ok: false, stale: false, reason: 'syntax' };
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    if (username === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return { ok: false, stale: false, reason: 'syntax' };
    }
    if (p.get('realm') !== this.realm) return { ok: false, stale: false, reason: 'realm' };
    const algorithm = parseAlgorithm(p.get('algorithm'));
    if (!algorithm || !this.algorithms.includes(algorithm)) return { ok: false, stale: false, reason: 'algorithm' };
    if (requestUri !== undefined && uri !== requestUri) return { ok: false, stale: false, reason: 'uri' };
    const issued = this.nonceIssuedAt(nonce);
    if (issued === undefined) return { ok: false, stale: false, reason: 'nonce' };
    const cred = this.lookup(username, this.realm);
    if (!cred) return { ok: false, stale: false, reason: 'user' };
    const ha1 = 'password' in cred ? digestHA1(algorithm, username, this.realm, cred.password) : cred.ha1[algorithm];
    if (ha1 === undefined) return { ok: false, stale: false, reason: 'algorithm' };
    const qop = p.get('qop');
    if (qop !== undefined && qop !== 'auth') return { ok: false, stale: false, reason: 'syntax' };
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    if (qop === 'auth' && (nc === undefined || !/^[0-9a-fA-F]{8}$/.test(nc) || cnonce === undefined)) {
      return { ok: false, stale: false, reason: 'syntax' };
    }
    const expected = computeDigestResponse({
      algorithm, ha1, username, realm: this.realm, method, uri, nonce,
      ...(qop === 'auth' ? { qop: 'auth' as const, nc: nc!, cnonce: cnonce! } : {}),
    });
    const a = Buffer.from(expected);
    const b = Buffer.from(response.toLowerCase());
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, stale: false, reason: 'response' };
    // RFC 7616 section 3.3: a correct response with an expired nonce is answered with stale=true.
    if (this.clock.now() - issued > this.ttl) {
      this.lastNc.delete(nonce);
      return { ok: false, stale: true, reason: 'stale' };
    }
    if (qop === 'auth') {
      const count = parseInt(nc!, 16);
      const last = this.lastNc.get(nonce) ?? 0;
      if (count <= last) return { ok: false, stale: false, reason: 'nc' };
      this.lastNc.delete(nonce);
      this.lastNc.set(nonce, count);
      if (this.lastNc.size > this.maxTracked) this.lastNc.delete(this.lastNc.keys().next().value!);
    }
    return { ok: true, username };
  }

  private nonceIssuedAt(nonce: string): number | undefined {
    const dot = nonce.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const body = nonce.slice(0, dot);
    const mac = createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, 22);
    if (mac !== nonce.slice(dot + 1)) return undefined;
    const issued = Number(body.slice(0, body.indexOf('.')));
    return Number.isFinite(issued) ? issued : undefined;
  }
}

/** A user's credentials on the client side. */
export interface DigestClientCredentials {
  username: string;
  password: string;
}

/**
 * The client side: answers a challenge (RFC 3261 section 22.2/22.3) with qop=auth when offered,
 * counting nonce uses per nonce.
 */
export class DigestClient {
  private readonly nc = new Map<string, number>();

  constructor(private readonly creds: DigestClientCredentials) {}

  /**
   * Pick the best challenge among header values (SHA-256 over MD5, RFC 8760 section 2.4) and produce
   * the credentials header value for `method` and `uri`.
   * @throws SipAuthError `SIP_ERR_AUTH_UNSUPPORTED` when no challenge uses a known algorithm.
   */
  authorize(challenges: readonly string[], method: string, uri: string): string {
    let chosen: { h: AuthHeader; algorithm: DigestAlgorithm } | undefined;
    for (const value of challenges) {
      let h: AuthHeader;
      try {
        h = parseAuthHeader(value);
      } catch {
        continue;
      }
      if (h.scheme.toLowerCase() !== 'digest') continue;
      const algorithm = parseAlgorithm(h.params.get('algorithm'));
      if (!algorithm) continue;
      if (!chosen || (algorithm === 'SHA-256' && chosen.algorithm === 'MD5')) chosen = { h, algorithm };
    }
    if (!chosen) throw new SipAuthError('SIP_ERR_AUTH_UNSUPPORTED', 'no supported Digest challenge');
    const p = chosen.h.params;
    const realm = p.get('realm') ?? '';
    const nonce = p.get('nonce') ?? '';
    const qopOffered = (p.get('qop') ?? '').split(',').map((q) => q.trim());
    const useQop = qopOffered.includes('auth');
    const out: Array<[string, string]> = [
      ['username', this.creds.username],
      ['realm', realm],
      ['nonce', nonce],
      ['uri', uri],
    ];
    let response: string;
    if (useQop) {
      const count = (this.nc.get(nonce) ?? 0) + 1;
      this.nc.set(nonce, count);
      if (this.nc.size > 64) this.nc.delete(this.nc.keys().next().value!);
      const nc = count.toString(16).padStart(8, '0');
      const cnonce = randomBytes(12).toString('base64url');
      response = computeDigestResponse({
        algorithm: chosen.algorithm, username: this.creds.username, realm, password: this.creds.password,
        method, uri, nonce, qop: 'auth', nc, cnonce,
      });
      out.push(['response', response], ['algorithm', chosen.algorithm], ['cnonce', cnonce], ['qop', 'auth'], ['nc', nc]);
    } else {
      response = computeDigestResponse({
        algorithm: chosen.algorithm, username: this.creds.username, realm, password: this.creds.password, method, uri, nonce,
      });
      out.push(['response', response], ['algorithm', chosen.algorithm]);
    }
    const opaque = p.get('opaque');
    if (opaque !== undefined) out.push(['opaque', opaque]);
    return formatAuthHeader('Digest', out);
  }
}
