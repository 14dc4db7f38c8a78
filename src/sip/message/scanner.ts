import { TOKEN } from './charset.js';
import { SipParseError } from './errors.js';

/**
 * A cursor over one unfolded header value that follows RFC 3261 25.1 LWS rules: `SWS` may appear around
 * every separator (`;`, `=`, `,`, `/`, `:`). Typed header parsers are built on it.
 */
export class Scanner {
  pos = 0;

  constructor(
    readonly text: string,
    /** Header name for error reasons. */
    readonly what: string,
  ) {}

  get eof(): boolean {
    return this.pos >= this.text.length;
  }

  /** Code of the character at the cursor, -1 at the end. */
  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  /** Skips spaces and tabs (the value is already unfolded); returns whether any were skipped. */
  ws(): boolean {
    const start = this.pos;
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09) break;
      this.pos++;
    }
    return this.pos > start;
  }

  /** Consumes `ch` (with optional whitespace before and after) when it is next; returns whether it was. */
  accept(ch: number): boolean {
    const save = this.pos;
    this.ws();
    if (this.peek() === ch) {
      this.pos++;
      this.ws();
      return true;
    }
    this.pos = save;
    return false;
  }

  /** Like {@link accept}, but a missing separator is a parse error. */
  expect(ch: number, context: string): void {
    if (!this.accept(ch)) this.fail(`expected '${String.fromCharCode(ch)}' ${context}`);
  }

  /** Reads a non-empty `token`; a missing one is a parse error naming `context`. */
  token(context: string): string {
    const start = this.pos;
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c >= 128 || TOKEN[c] !== 1) break;
      this.pos++;
    }
    if (this.pos === start) this.fail(`expected a token for ${context}`);
    return t.slice(start, this.pos);
  }

  /** Reads characters while they are in `table`; may be empty. */
  span(table: Uint8Array): string {
    const start = this.pos;
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c >= 128 || table[c] !== 1) break;
      this.pos++;
    }
    return t.slice(start, this.pos);
  }

  /**
   * Reads a `quoted-string` at the cursor (RFC 3261 25.1) and returns its content with `quoted-pair`s
   * decoded. An unterminated string is a parse error (RFC 4475 3.1.2.6).
   */
  quoted(context: string): string {
    const t = this.text;
    if (t.charCodeAt(this.pos) !== 0x22) this.fail(`expected a quoted string for ${context}`);
    let i = this.pos + 1;
    let out = '';
    let from = i;
    for (;;) {
      if (i >= t.length) this.fail(`unterminated quoted string in ${context}`);
      const c = t.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        if (i + 1 >= t.length) this.fail(`unterminated quoted string in ${context}`);
        const n = t.charCodeAt(i + 1);
        if (n === 0x0a || n === 0x0d) this.fail(`bad quoted-pair in ${context}`);
        out += t.slice(from, i) + t[i + 1];
        i += 2;
        from = i;
        continue;
      }
      i++;
    }
    out += t.slice(from, i);
    this.pos = i + 1;
    return out;
  }

  /** Reads a `gen-value` (token, host or quoted-string); quoted values keep their quotes. */
  genValue(context: string): string {
    if (this.peek() === 0x22) {
      const start = this.pos;
      this.quoted(context);
      return this.text.slice(start, this.pos);
    }
    const start = this.pos;
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c >= 128 || (TOKEN[c] !== 1 && c !== 0x5b && c !== 0x5d && c !== 0x3a)) break;
      this.pos++;
    }
    if (this.pos === start) this.fail(`empty value for ${context}`);
    return t.slice(start, this.pos);
  }

  /**
   * Reads `*( SEMI generic-param )` (RFC 3261 25.1) into `into` with lower-case names; an empty parameter
   * (`;;`) is a parse error (RFC 4475 3.1.2.1). Stops before anything that is not `;`.
   */
  params(into: Map<string, string | null>, context: string): void {
    while (this.accept(0x3b)) {
      const name = this.token(`a ${context} parameter name`).toLowerCase();
      let value: string | null = null;
      if (this.accept(0x3d)) value = this.genValue(`${context} parameter ${name}`);
      into.set(name, value);
    }
  }

  /** Fails unless only whitespace is left. */
  end(context: string): void {
    this.ws();
    if (!this.eof) this.fail(`unexpected '${this.text.slice(this.pos, this.pos + 16)}' in ${context}`);
  }

  fail(reason: string): never {
    throw new SipParseError(`${this.what}: ${reason}`);
  }
}

/** Serialises parameters as `;name=value` (`;name` for flags). */
export function formatParams(params: ReadonlyMap<string, string | null>): string {
  let s = '';
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** Removes the quotes and quoted-pair escapes of a quoted parameter value; other values are returned as is. */
export function unquote(value: string): string {
  if (value.length < 2 || value.charCodeAt(0) !== 0x22) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Quotes a display name or parameter value as a `quoted-string` (RFC 3261 25.1). */
export function quote(value: string): string {
  return '"' + value.replace(/(["\\])/g, '\\$1') + '"';
}

/**
 * Splits a header value at top-level commas (not inside quotes or angle brackets), for headers whose
 * grammar is a comma-separated list (RFC 3261 7.3.1). Each part is trimmed.
 */
export function splitList(value: string): string[] {
  if (value.indexOf(',') < 0) return [value.trim()];
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3c) depth++;
    else if (c === 0x3e) depth = Math.max(0, depth - 1);
    else if (c === 0x2c && depth === 0) {
      out.push(value.slice(from, i).trim());
      from = i + 1;
    }
  }
  out.push(value.slice(from).trim());
  return out;
}

/**
 * Parses a parameter string already checked by a fast-path expression or the native scan
 * (`;name[=value]...`, token names, no quotes or whitespace), `t[start, end)`, into a Map with lower-case
 * names.
 */
export function paramsFromRange(t: string, start: number, end: number): Map<string, string | null> {
  const params = new Map<string, string | null>();
  let i = start + 1;
  while (i <= end) {
    let e = t.indexOf(';', i);
    if (e < 0 || e > end) e = end;
    const eq = t.indexOf('=', i);
    if (eq < 0 || eq > e) params.set(t.slice(i, e).toLowerCase(), null);
    else params.set(t.slice(i, eq).toLowerCase(), t.slice(eq + 1, e));
    i = e + 1;
  }
  return params;
}

/**
 * A header value with `;name[=value]` parameters (a Via, a name-addr), kept as received until they are
 * first needed as a Map: `ps` is the Map once needed; before, the parameters as received, and while
 * `rawStart` is not negative the native scan's head view they are not yet sliced from (`ps[rawStart,
 * rawEnd)`), so a value read only for one parameter slices nothing.
 */
export abstract class Parameterised {
  protected declare ps: Map<string, string | null> | string;
  protected declare rawStart: number;
  protected declare rawEnd: number;

  constructor(ps: Map<string, string | null> | string) {
    this.ps = ps;
    this.rawStart = -1;
    this.rawEnd = 0;
  }

  /** The parameters, lower-case names. */
  get params(): Map<string, string | null> {
    const ps = this.ps;
    if (typeof ps !== 'string') return ps;
    const map = this.rawStart < 0 ? paramsFromRange(ps, 0, ps.length) : paramsFromRange(ps, this.rawStart, this.rawEnd);
    this.rawStart = -1;
    return (this.ps = map);
  }

  /** Parameters as received, or `undefined` once they are in the Map. */
  protected raw(): string | undefined {
    const ps = this.ps;
    if (typeof ps !== 'string') return undefined;
    if (this.rawStart < 0) return ps;
    const raw = this.rawStart === this.rawEnd ? '' : ps.slice(this.rawStart, this.rawEnd);
    this.ps = raw;
    this.rawStart = -1;
    return raw;
  }

  /** A parameter by lower-case name: its value, `null` for a flag, `undefined` when absent. */
  protected param(name: string): string | null | undefined {
    const raw = this.raw();
    if (raw !== undefined) {
      const v = findParam(raw, name);
      if (v !== undefined) return v;
    }
    return this.params.get(name);
  }
}

/**
 * Looks a lower-case parameter up in such a string without building the Map: the value, `null` for a flag,
 * or `undefined` when not found as written in lower case (the caller then consults the Map).
 */
export function findParam(ps: string, name: string): string | null | undefined {
  let from = 0;
  for (;;) {
    const at = ps.indexOf(name, from);
    if (at < 0) return undefined;
    const end = at + name.length;
    if (ps.charCodeAt(at - 1) === 0x3b) {
      const c = ps.charCodeAt(end);
      if (c === 0x3d) {
        const e = ps.indexOf(';', end + 1);
        return ps.slice(end + 1, e < 0 ? ps.length : e);
      }
      if (end === ps.length || c === 0x3b) return null;
    }
    from = end;
  }
}
