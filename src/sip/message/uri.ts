import { HNVCHAR, HOSTCHAR, PARAMCHAR, PASSWORD, SCHEME, USER, allIn, isIn, unescapeUri } from './charset.js';
import { SipParseError } from './errors.js';

/** Parameters whose presence in only one URI makes the URIs differ (RFC 3261 19.1.4). */
const SIGNIFICANT_PARAMS = ['user', 'ttl', 'method', 'maddr'];

/**
 * A URI as used in SIP: `sip:` and `sips:` (RFC 3261 19.1), `tel:` (RFC 3966) with their parameters and
 * headers, or any other absolute URI kept opaque (RFC 3261 25.1 `absoluteURI`, e.g. RFC 4475 3.3.2).
 * Parts keep their escapes as written; comparisons decode them.
 */
export class SipUri {
  /** Lower-case scheme: `sip`, `sips`, `tel` or another. */
  scheme: string;
  /** User part (`sip`/`sips`), or the telephone-subscriber number (`tel`), escapes kept. */
  user: string | undefined;
  password: string | undefined;
  /** Host name, IPv4 address or `[IPv6]` reference; empty for `tel:` and opaque URIs. */
  host: string;
  port: number | undefined;
  /** Scheme-specific text of a URI that is neither SIP nor tel. */
  opaque: string | undefined;
  private paramMap: Map<string, string | null> | undefined;
  private headerList: Array<[string, string]> | undefined;

  constructor(init: {
    scheme?: string;
    user?: string;
    password?: string;
    host?: string;
    port?: number;
    params?: Iterable<[string, string | null]>;
    headers?: Iterable<[string, string]>;
    opaque?: string;
  }) {
    this.scheme = (init.scheme ?? 'sip').toLowerCase();
    this.user = init.user;
    this.password = init.password;
    this.host = init.host ?? '';
    this.port = init.port;
    this.opaque = init.opaque;
    // Made when first needed: most URIs on the hot path (From, To, Contact of a response) have neither.
    if (init.params !== undefined) {
      const m = new Map(init.params);
      if (m.size > 0) this.paramMap = m;
    }
    if (init.headers !== undefined) {
      const h = [...init.headers];
      if (h.length > 0) this.headerList = h;
    }
  }

  /** URI parameters, lower-case names; `null` for a parameter without a value (`;lr`). */
  get params(): Map<string, string | null> {
    return (this.paramMap ??= new Map());
  }

  /** URI headers (`?name=value&...`), names as written. */
  get headers(): Array<[string, string]> {
    return (this.headerList ??= []);
  }

  /** Parses a URI; throws {@link SipParseError} when it breaks RFC 3261 25.1 (e.g. contains whitespace). */
  static parse(text: string): SipUri {
    return parseUri(text);
  }

  /** True for `sip:` and `sips:` URIs. */
  get isSip(): boolean {
    return this.scheme === 'sip' || this.scheme === 'sips';
  }

  /** The value of a parameter (`null` for a flag), or `undefined` when absent. */
  param(name: string): string | null | undefined {
    return this.paramMap?.get(name.toLowerCase());
  }

  /** `transport` parameter in lower case, if any. */
  get transport(): string | undefined {
    return this.paramMap?.get('transport')?.toLowerCase();
  }

  /** `host:port` (the port only when present). */
  get hostport(): string {
    return this.port === undefined ? this.host : `${this.host}:${this.port}`;
  }

  clone(): SipUri {
    return new SipUri({
      scheme: this.scheme,
      ...(this.user !== undefined ? { user: this.user } : {}),
      ...(this.password !== undefined ? { password: this.password } : {}),
      host: this.host,
      ...(this.port !== undefined ? { port: this.port } : {}),
      ...(this.paramMap ? { params: this.paramMap } : {}),
      ...(this.headerList ? { headers: this.headerList } : {}),
      ...(this.opaque !== undefined ? { opaque: this.opaque } : {}),
    });
  }

  toString(): string {
    if (!this.isSip && this.scheme !== 'tel') return `${this.scheme}:${this.opaque ?? ''}`;
    let s = this.scheme + ':';
    if (this.scheme === 'tel') s += this.user ?? '';
    else {
      if (this.user !== undefined) s += this.password !== undefined ? `${this.user}:${this.password}@` : `${this.user}@`;
      s += this.hostport;
    }
    if (this.paramMap) for (const [k, v] of this.paramMap) s += v === null ? `;${k}` : `;${k}=${v}`;
    if (this.headerList && this.headerList.length > 0) s += '?' + this.headerList.map(([k, v]) => `${k}=${v}`).join('&');
    return s;
  }

  /** URI equality of RFC 3261 19.1.4 (for `sip`/`sips`; RFC 3966 5 for `tel`; text otherwise). */
  equals(other: SipUri): boolean {
    if (this.scheme !== other.scheme) return false;
    if (!this.isSip && this.scheme !== 'tel') return (this.opaque ?? '') === (other.opaque ?? '');
    if (this.scheme === 'tel') {
      return (
        stripVisual(this.user ?? '') === stripVisual(other.user ?? '') && paramsEqual(this.params, other.params, true)
      );
    }
    if (unescapeUri(this.user ?? '\0') !== unescapeUri(other.user ?? '\0')) return false;
    if (unescapeUri(this.password ?? '\0') !== unescapeUri(other.password ?? '\0')) return false;
    if (this.host.toLowerCase() !== other.host.toLowerCase()) return false;
    if (this.port !== other.port) return false;
    if (!paramsEqual(this.params, other.params, false)) return false;
    if (this.headers.length !== other.headers.length) return false;
    const mine = new Map(this.headers.map(([k, v]) => [k.toLowerCase(), unescapeUri(v)]));
    for (const [k, v] of other.headers) if (mine.get(k.toLowerCase()) !== unescapeUri(v)) return false;
    return true;
  }
}

function stripVisual(n: string): string {
  return n.replace(/[-.()]/g, '').toLowerCase();
}

function paramsEqual(a: Map<string, string | null>, b: Map<string, string | null>, all: boolean): boolean {
  const norm = (v: string | null | undefined) => (v == null ? v : unescapeUri(v).toLowerCase());
  for (const [k, v] of a) {
    if (b.has(k)) {
      if (norm(v) !== norm(b.get(k))) return false;
    } else if (all || SIGNIFICANT_PARAMS.includes(k)) return false;
  }
  for (const k of b.keys()) if (!a.has(k) && (all || SIGNIFICANT_PARAMS.includes(k))) return false;
  return true;
}

function fail(text: string, why: string): never {
  throw new SipParseError(`bad URI '${text.length > 64 ? text.slice(0, 64) + '...' : text}': ${why}`);
}

/** Parses `;name[=value]` pairs of a URI; `text` starts after the first `;`. */
function parseUriParams(all: string, text: string, into: Map<string, string | null>): void {
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (!allIn(PARAMCHAR, name)) fail(all, 'bad parameter name');
    let value: string | null = null;
    if (eq >= 0) {
      value = part.slice(eq + 1);
      if (value.length > 0 && !allIn(PARAMCHAR, value)) fail(all, `bad value of parameter ${name}`);
    }
    into.set(name.toLowerCase(), value);
  }
}

/** Parses a URI (see {@link SipUri}); throws {@link SipParseError}. */
export function parseUri(text: string): SipUri {
  if (/\s/.test(text)) fail(text, 'whitespace inside the URI');
  const colon = text.indexOf(':');
  if (colon <= 0) fail(text, 'no scheme');
  const c0 = text.charCodeAt(0) | 0x20;
  if (c0 < 0x61 || c0 > 0x7a) fail(text, 'scheme must start with a letter');
  for (let i = 1; i < colon; i++) if (!isIn(SCHEME, text.charCodeAt(i))) fail(text, 'bad scheme');
  const scheme = text.slice(0, colon).toLowerCase();
  const rest = text.slice(colon + 1);
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x3c || c === 0x3e || c === 0x22) fail(text, 'character not allowed in a URI');
  }
  if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') {
    if (rest.length === 0) fail(text, 'empty URI');
    return new SipUri({ scheme, opaque: rest });
  }
  const uri = new SipUri({ scheme });
  if (scheme === 'tel') {
    const semi = rest.indexOf(';');
    const number = semi < 0 ? rest : rest.slice(0, semi);
    if (!/^(\+[0-9().-]*[0-9][0-9().-]*|[0-9A-Fa-f*#().-]*[0-9A-Fa-f*#][0-9A-Fa-f*#().-]*)$/.test(number)) {
      fail(text, 'bad telephone-subscriber');
    }
    uri.user = number;
    if (semi >= 0) parseUriParams(text, rest.slice(semi + 1), uri.params);
    return uri;
  }
  let p = 0;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const pc = userinfo.indexOf(':');
    const user = pc < 0 ? userinfo : userinfo.slice(0, pc);
    if (!allIn(USER, user)) fail(text, 'bad user part');
    uri.user = user;
    if (pc >= 0) {
      const password = userinfo.slice(pc + 1);
      if (password.length > 0 && !allIn(PASSWORD, password)) fail(text, 'bad password');
      uri.password = password;
    }
    p = at + 1;
  }
  let hostEnd: number;
  if (rest.charCodeAt(p) === 0x5b) {
    hostEnd = rest.indexOf(']', p);
    if (hostEnd < 0) fail(text, 'unterminated IPv6 reference');
    hostEnd++;
  } else {
    hostEnd = p;
    while (hostEnd < rest.length) {
      const c = rest.charCodeAt(hostEnd);
      if (c === 0x3a || c === 0x3b || c === 0x3f) break;
      hostEnd++;
    }
  }
  const host = rest.slice(p, hostEnd);
  if (!allIn(HOSTCHAR, host)) fail(text, 'bad host');
  uri.host = host;
  p = hostEnd;
  if (rest.charCodeAt(p) === 0x3a) {
    let q = p + 1;
    while (q < rest.length && rest.charCodeAt(q) >= 0x30 && rest.charCodeAt(q) <= 0x39) q++;
    if (q === p + 1 || q - p > 6) fail(text, 'bad port');
    const port = Number(rest.slice(p + 1, q));
    if (port > 65535) fail(text, 'port out of range');
    uri.port = port;
    p = q;
  }
  const qm = rest.indexOf('?', p);
  const paramsEnd = qm < 0 ? rest.length : qm;
  if (p < paramsEnd) {
    if (rest.charCodeAt(p) !== 0x3b) fail(text, 'unexpected characters after host');
    parseUriParams(text, rest.slice(p + 1, paramsEnd), uri.params);
  }
  if (qm >= 0) {
    for (const part of rest.slice(qm + 1).split('&')) {
      const eq = part.indexOf('=');
      if (eq <= 0) fail(text, 'bad header');
      const name = part.slice(0, eq);
      const value = part.slice(eq + 1);
      if (!allIn(HNVCHAR, name) || (value.length > 0 && !allIn(HNVCHAR, value))) fail(text, 'bad header');
      uri.headers.push([name, value]);
    }
  }
  return uri;
}
