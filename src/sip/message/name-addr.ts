import { TOKEN } from './charset.js';
import { SipParseError } from './errors.js';
import { Parameterised, Scanner, formatParams, quote, splitList } from './scanner.js';
import { SipUri, parseUri } from './uri.js';

/**
 * A `name-addr` or `addr-spec` with header parameters, as in From, To, Contact, Route, Record-Route,
 * Refer-To (RFC 3261 20.10, 20.20, 20.39, 25.1).
 */
export class NameAddr extends Parameterised {
  // Declared here, set in the constructor in this order (assignments rather than class-field definitions:
  // several are made per received message, and V8 creates objects faster this way).
  /** Display name, unquoted, or `undefined` when absent. */
  declare displayName: string | undefined;
  /** With raw parameters: the first `tag` value found by the native scan (null: a flag), if it found one. */
  private declare scannedTag: string | null | undefined;
  /** The URI: parsed, or its text until first read. */
  private declare u: SipUri | string;
  private declare readonly what: string;

  /** `uri` may be given as text; it is then parsed when first read (lazily). */
  constructor(
    uri: SipUri | string,
    displayName?: string,
    params?: Iterable<[string, string | null]>,
    what = 'address',
    adoptParams?: Map<string, string | null> | string,
  ) {
    super(adoptParams ?? new Map(params ?? []));
    this.displayName = displayName;
    this.scannedTag = undefined;
    this.u = uri;
    this.what = what;
  }

  /**
   * @internal A name-addr from the native scan's offsets (src/native/sip.ts): URI text, display name,
   * parameters as received (`head[ps, pe)`) and the value of the first `tag` parameter when there is one.
   */
  static scanned(uri: string, displayName: string | undefined, what: string, head: string, ps: number, pe: number, tag: string | null | undefined): NameAddr {
    const na = new NameAddr(uri, displayName, undefined, what, head);
    na.rawStart = ps;
    na.rawEnd = pe;
    na.scannedTag = tag;
    return na;
  }

  /** The URI, parsed when first read; throws {@link SipParseError} naming the header when malformed. */
  get uri(): SipUri {
    const u = this.u;
    if (typeof u !== 'string') return u;
    try {
      return (this.u = parseUri(u));
    } catch (err) {
      if (err instanceof SipParseError) throw new SipParseError(`${this.what}: ${err.reason}`);
      throw err;
    }
  }

  set uri(value: SipUri) {
    this.u = value;
  }

  /** The URI as text (as written when parsed from a message). */
  get uriText(): string {
    const u = this.u;
    return typeof u === 'string' ? u : u.toString();
  }

  /** Parses one name-addr/addr-spec with its parameters; throws {@link SipParseError}. */
  static parse(text: string, what = 'name-addr'): NameAddr {
    return parseNameAddrText(text, what);
  }

  /** `tag` parameter (RFC 3261 19.3). */
  get tag(): string | undefined {
    if (this.scannedTag !== undefined && typeof this.ps === 'string') return this.scannedTag ?? undefined;
    return this.param('tag') ?? undefined;
  }

  set tag(value: string | undefined) {
    if (value === undefined) this.params.delete('tag');
    else this.params.set('tag', value);
  }

  /** `expires` parameter of a Contact (RFC 3261 20.10), when present and numeric. */
  get expires(): number | undefined {
    const v = this.params.get('expires');
    if (v == null || !/^[0-9]{1,10}$/.test(v)) return undefined;
    return Math.min(Number(v), 0xffffffff);
  }

  /** `q` parameter of a Contact (RFC 3261 20.10), when present. */
  get q(): number | undefined {
    const v = this.params.get('q');
    return v == null ? undefined : Number(v);
  }

  clone(): NameAddr {
    const u = this.u;
    return new NameAddr(typeof u === 'string' ? u : u.clone(), this.displayName, this.params, this.what);
  }

  /** Always in name-addr form (`<uri>`), which is correct whatever the URI holds. */
  override toString(): string {
    let s = '';
    if (this.displayName !== undefined && this.displayName !== '') {
      s = /^[^\s"]+( [^\s"]+)*$/.test(this.displayName) && allToken(this.displayName) ? this.displayName : quote(this.displayName);
      s += ' ';
    }
    return s + `<${this.uriText}>` + formatParams(this.params);
  }
}

function allToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && (c >= 128 || TOKEN[c] !== 1)) return false;
  }
  return true;
}

/** The Contact wildcard `*` (RFC 3261 10.2.2). */
export const WILDCARD = '*';
/** One value of a Contact header: an address or the wildcard. */
export type ContactValue = NameAddr | typeof WILDCARD;

/** Parses one name-addr or addr-spec with parameters (RFC 3261 25.1, 20); `what` names the header in errors. */
export function parseNameAddrText(text: string, what: string): NameAddr {
  return fastNameAddr(text, what) ?? parseNameAddr(new Scanner(text, what));
}

const T = "!%'*+\\-.0-9A-Z_`a-z~";
/** Parameters: token names; token, host or quoted values (quoted ones without `;`, `=`, `\\`, for splitting). */
const PARAMS = `((?:;[${T}]+(?:=(?:[${T}:\\[\\]]+|"[^"\\\\;=]*"))?)*)`;
/** `"Display" <uri>;params`, `Display Name <uri>;params`, `<uri>;params`, with at most one space before `<`. */
const NAME_ADDR_RE = new RegExp(`^(?:"([^"\\\\]*)" ?|([${T}]+(?: [${T}]+)*) ?)?<([^<>\\s"]+)>${PARAMS}$`);
/** `scheme:rest;params` where the URI has no `;`, `,`, `?` (RFC 3261 20). */
const ADDR_SPEC_RE = new RegExp(`^([A-Za-z][A-Za-z0-9+\\-.]*:[^\\s;,?<>"]+)${PARAMS}$`);

/**
 * The common forms in one compiled regular expression; `undefined` sends anything else (LWS around
 * separators, escapes, quoted parameter values) to the full grammar.
 */
function fastNameAddr(v: string, what: string): NameAddr | undefined {
  let m = NAME_ADDR_RE.exec(v);
  let uri: string;
  let displayName: string | undefined;
  let ps: string;
  if (m !== null) {
    displayName = m[1] ?? m[2];
    uri = m[3]!;
    ps = m[4]!;
  } else {
    m = ADDR_SPEC_RE.exec(v);
    if (m === null) return undefined;
    uri = m[1]!;
    ps = m[2]!;
  }
  return new NameAddr(uri, displayName, undefined, what, ps);
}

/** Parses a name-addr or addr-spec and its parameters from the scanner (RFC 3261 25.1, 20). */
export function parseNameAddr(sc: Scanner): NameAddr {
  sc.ws();
  let displayName: string | undefined;
  let bracketed = false;
  if (sc.peek() === 0x22) {
    displayName = sc.quoted('display name');
    sc.ws();
    if (sc.peek() !== 0x3c) sc.fail("expected '<' after the display name");
    bracketed = true;
  } else if (sc.peek() === 0x3c) {
    bracketed = true;
  } else {
    // display-name = *(token LWS) (RFC 3261 25.1), or an addr-spec when a scheme's ':' comes first.
    // Liberal (RFC 3261 preface to 25): a backslash pair outside quotes (`\"name\"`), seen from real phones.
    const t = sc.text;
    const start = sc.pos;
    let i = start;
    let special = false;
    while (i < t.length) {
      const c = t.charCodeAt(i);
      if (c === 0x5c && i + 1 < t.length) {
        i += 2;
        special = true;
      } else if (c === 0x20 || c === 0x09) {
        i++;
        special = true;
      } else if (c < 128 && TOKEN[c] === 1) i++;
      else break;
    }
    const stop = i < t.length ? t.charCodeAt(i) : -1;
    if (stop === 0x3c && i > start) {
      displayName = t.slice(start, i).trim().replace(/\\(.)/g, '$1');
      sc.pos = i;
      bracketed = true;
    } else if (stop !== 0x3a || special || i === start) {
      sc.fail('display name must be tokens or a quoted string');
    }
  }
  let uri: string;
  if (bracketed) {
    const close = sc.text.indexOf('>', sc.pos);
    if (close < 0) sc.fail("missing '>'");
    uri = sc.text.slice(sc.pos + 1, close);
    sc.pos = close + 1;
  } else {
    const start = sc.pos;
    const t = sc.text;
    while (sc.pos < t.length) {
      const c = t.charCodeAt(sc.pos);
      if (c === 0x3b || c === 0x20 || c === 0x09 || c === 0x2c) break;
      sc.pos++;
    }
    uri = t.slice(start, sc.pos);
    if (uri.indexOf('?') >= 0) sc.fail('a URI with headers must be enclosed in <>');
  }
  const na = new NameAddr(uri, displayName, undefined, sc.what);
  sc.params(na.params, 'address');
  sc.end('address');
  return na;
}

/** Parses a comma-separated list of addresses (Contact, Route, Record-Route, Path). */
export function parseNameAddrList(values: readonly string[], what: string): NameAddr[] {
  const out: NameAddr[] = [];
  for (const v of values) {
    for (const part of splitList(v)) {
      if (part === '') throw new SipParseError(`${what}: empty list element`);
      out.push(parseNameAddrText(part, what));
    }
  }
  return out;
}
