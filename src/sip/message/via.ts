import { HOSTCHAR } from './charset.js';
import { Parameterised, Scanner, findParam, formatParams, splitList } from './scanner.js';
import { SipParseError } from './errors.js';

/** The RFC 3261 8.1.1.7 branch prefix of transaction identifiers. */
export const MAGIC_COOKIE = 'z9hG4bK';

/** One Via header value (RFC 3261 20.42, 18.2.1; RFC 3581 `rport`). */
export class Via extends Parameterised {
  // Declared here, set in the constructor in this order (assignments rather than class-field definitions:
  // one Via is made per received message, and V8 creates objects faster this way).
  /** `SIP` and `2.0` are on the prototype; a Via holds its own only when it differs (one in millions). */
  declare protocolName: string;
  declare protocolVersion: string;
  /** Upper-case transport: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS` or an extension. */
  declare transport: string;
  declare host: string;
  declare port: number | undefined;
  /** With raw parameters: the first `branch` value found by the native scan (null: a flag), if it found one. */
  private declare scannedBranch: string | null | undefined;

  constructor(init: {
    transport: string;
    host: string;
    port?: number;
    params?: Iterable<[string, string | null]>;
    protocolName?: string;
    protocolVersion?: string;
  }, adoptParams?: Map<string, string | null> | string) {
    super(adoptParams ?? new Map(init.params ?? []));
    if (init.protocolName !== undefined && init.protocolName !== 'SIP') this.protocolName = init.protocolName;
    if (init.protocolVersion !== undefined && init.protocolVersion !== '2.0') this.protocolVersion = init.protocolVersion;
    const t = init.transport;
    this.transport = t === 'UDP' || t === 'TCP' || isUpper(t) ? t : t.toUpperCase();
    this.host = init.host;
    this.port = init.port;
    this.scannedBranch = undefined;
  }

  /**
   * @internal A Via from the native scan's offsets (src/native/sip.ts): the canonical form (an upper-case
   * transport), parameters as received (`head[ps, pe)`) and the value of the first `branch` parameter when
   * there is one.
   */
  static scanned(transport: string, host: string, port: number | undefined, head: string, ps: number, pe: number, branch: string | null | undefined): Via {
    // A fresh literal, not one shared object: storing this message's strings into a long-lived object
    // would take V8's write barrier on every store, and once inlined the literal is never allocated.
    const via = new Via({ transport, host, port }, head);
    via.rawStart = ps;
    via.rawEnd = pe;
    via.scannedBranch = branch;
    return via;
  }

  get branch(): string | undefined {
    if (this.scannedBranch !== undefined && typeof this.ps === 'string') return this.scannedBranch ?? undefined;
    return this.param('branch') ?? undefined;
  }

  set branch(v: string | undefined) {
    setOrDelete(this.params, 'branch', v);
  }

  /** `received` (RFC 3261 18.2.1). */
  get received(): string | undefined {
    return this.param('received') ?? undefined;
  }

  set received(v: string | undefined) {
    setOrDelete(this.params, 'received', v);
  }

  /** `rport` (RFC 3581): `true` when present without a value, the port when filled in. */
  get rport(): number | true | undefined {
    const v = this.param('rport');
    if (v === undefined) return undefined;
    return v === null ? true : Number(v);
  }

  set rport(v: number | true | undefined) {
    if (v === undefined) this.params.delete('rport');
    else this.params.set('rport', v === true ? null : String(v));
  }

  get maddr(): string | undefined {
    return this.param('maddr') ?? undefined;
  }

  /** True when the branch carries the RFC 3261 magic cookie (else the transaction is RFC 2543 style). */
  get hasMagicCookie(): boolean {
    return this.branch?.startsWith(MAGIC_COOKIE) ?? false;
  }

  clone(): Via {
    return new Via(this);
  }

  override toString(): string {
    const port = this.port === undefined ? '' : `:${this.port}`;
    return `${this.protocolName}/${this.protocolVersion}/${this.transport} ${this.host}${port}${formatParams(this.params)}`;
  }
}

Object.defineProperty(Via.prototype, 'protocolName', { value: 'SIP', writable: true, configurable: true });
Object.defineProperty(Via.prototype, 'protocolVersion', { value: '2.0', writable: true, configurable: true });

function isUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return false;
  }
  return true;
}

function setOrDelete(m: Map<string, string | null>, k: string, v: string | undefined): void {
  if (v === undefined) m.delete(k);
  else m.set(k, v);
}

/** Parses one via-parm (RFC 3261 25.1), LWS allowed around separators (RFC 4475 3.1.1.1). */
export function parseViaValue(text: string): Via {
  return fastVia(text) ?? slowVia(text);
}

const T = "!%'*+\\-.0-9A-Z_`a-z~";
/** The canonical form: `SIP/2.0/UDP host[:port]` then `;name[=value]` parameters, no whitespace. */
const VIA_RE = new RegExp(`^SIP/2\\.0/([${T}]+) ([A-Za-z0-9.\\-_]+)(?::([0-9]{1,5}))?((?:;[${T}]+(?:=[${T}:\\[\\]]+)?)*)$`);

/** A `ttl` parameter in any case (RFC 3261 7.3.1: parameter names are case-insensitive); the grammar range-checks it. */
const TTL_PARAM = /;ttl(?:=|;|$)/i;

/**
 * The common canonical form in one compiled regular expression; `undefined` sends anything else (LWS,
 * IPv6 references, extension parameters with quoted values) to the full grammar.
 */
function fastVia(v: string): Via | undefined {
  const m = VIA_RE.exec(v);
  if (m === null) return undefined;
  const ps = m[4]!;
  const rport = findParam(ps, 'rport');
  if ((rport != null && !/^[0-9]{1,5}$/.test(rport)) || TTL_PARAM.test(ps)) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && port > 65535) return undefined;
  return new Via({ transport: m[1]!, host: m[2]!, port }, ps);
}

function slowVia(text: string): Via {
  const sc = new Scanner(text, 'Via');
  sc.ws();
  const protocolName = sc.token('protocol name');
  sc.expect(0x2f, 'in sent-protocol');
  const protocolVersion = sc.token('protocol version');
  sc.expect(0x2f, 'in sent-protocol');
  const transport = sc.token('transport');
  if (!sc.ws()) sc.fail('expected whitespace before sent-by');
  let host: string;
  if (sc.peek() === 0x5b) {
    const close = text.indexOf(']', sc.pos);
    if (close < 0) sc.fail('unterminated IPv6 reference');
    host = text.slice(sc.pos, close + 1);
    sc.pos = close + 1;
  } else {
    host = sc.span(HOST_NO_COLON);
    if (host === '') sc.fail('missing sent-by host');
  }
  let port: number | undefined;
  if (sc.accept(0x3a)) {
    const digits = sc.span(DIGITS);
    if (digits === '' || digits.length > 5 || Number(digits) > 65535) sc.fail('bad sent-by port');
    port = Number(digits);
  }
  const via = new Via({ protocolName, protocolVersion, transport, host, port });
  sc.params(via.params, 'Via');
  sc.end('Via');
  const rport = via.params.get('rport');
  if (rport != null && !/^[0-9]{1,5}$/.test(rport)) sc.fail('bad rport');
  const ttl = via.params.get('ttl');
  if (ttl !== undefined && (ttl === null || !/^[0-9]{1,3}$/.test(ttl) || Number(ttl) > 255)) sc.fail('bad ttl');
  return via;
}

const HOST_NO_COLON = HOSTCHAR.slice();
HOST_NO_COLON[0x3a] = 0;
HOST_NO_COLON[0x5b] = 0;
HOST_NO_COLON[0x5d] = 0;
const DIGITS = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) DIGITS[c] = 1;

/** Parses every Via value of the given header lines (each may hold a comma-separated list). */
export function parseViaList(values: readonly string[]): Via[] {
  const out: Via[] = [];
  for (const v of values) {
    for (const part of splitList(v)) {
      if (part === '') throw new SipParseError('Via: empty list element');
      out.push(parseViaValue(part));
    }
  }
  return out;
}
