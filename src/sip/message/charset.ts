/**
 * Character classes of the RFC 3261 25.1 grammar, as 128-entry lookup tables (ASCII only; every octet at or
 * above 0x80 is outside all of them).
 */

function table(chars: string, alnum: boolean): Uint8Array {
  const t = new Uint8Array(128);
  if (alnum) {
    for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
    for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
    for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  }
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

/** `token` (RFC 3261 25.1). */
export const TOKEN = table("-.!%*_+`'~", true);
/** `unreserved` (mark and alphanumerics) plus `%` for escapes. */
const UNRESERVED = "-_.!~*'()%";
/** Characters of a URI `user` part: unreserved, escaped, user-unreserved (RFC 3261 19.1.1). */
export const USER = table(UNRESERVED + '&=+$,;?/', true);
/** Characters of a URI `password` part. */
export const PASSWORD = table(UNRESERVED + '&=+$,', true);
/** Characters of a URI parameter name or value (`paramchar`). */
export const PARAMCHAR = table(UNRESERVED + '[]/:&+$', true);
/** Characters of a URI header name or value (`hnv-unreserved`, unreserved, escaped). */
export const HNVCHAR = table(UNRESERVED + '[]/?:+$', true);
/** Characters of a host name, IPv4 address or IPv6 reference. */
export const HOSTCHAR = table('-._[]:', true);
/** `word` of a Call-ID (RFC 3261 25.1). */
export const WORD = table("-.!%*_+`'~()<>:\\\"/[]?{}", true);
/** Scheme characters after the first letter (RFC 3986 3.1). */
export const SCHEME = table('+-.', true);

/** True when `code` is in the table (false for anything non-ASCII). */
export function isIn(t: Uint8Array, code: number): boolean {
  return code < 128 && t[code] === 1;
}

/** True when every character of `s` is in the table. */
export function allIn(t: Uint8Array, s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || t[c] !== 1) return false;
  }
  return s.length > 0;
}

/** Decodes `%HH` escapes (RFC 3261 25.1 `escaped`); a `%` not followed by two hex digits stays as it is. */
export function unescapeUri(s: string): string {
  if (s.indexOf('%') < 0) return s;
  return s.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}
