/**
 * Header names: compact forms (RFC 3261 7.3.3 and the IANA registry), the spelling used when switchhook
 * writes a header, and which headers are comma-separated lists or must appear once.
 */

const COMPACT: Record<string, string> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

const SPELLING: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
  'rack': 'RAck',
  'rseq': 'RSeq',
};

/** Headers whose values form a comma-separated list (RFC 3261 7.3.1, 25.1), so they may be split. */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via', 'contact', 'route', 'record-route', 'path', 'service-route', 'allow', 'supported', 'require',
  'proxy-require', 'unsupported', 'accept', 'accept-encoding', 'accept-language', 'allow-events',
  'content-encoding', 'content-language', 'in-reply-to', 'warning', 'call-info', 'alert-info', 'error-info',
  'accept-contact', 'reject-contact', 'request-disposition',
]);

/** Headers that may appear at most once (RFC 3261 7.3.1; RFC 4475 3.3.8, 3.3.9). */
export const SINGLE_HEADERS: readonly string[] = [
  'call-id', 'cseq', 'from', 'to', 'max-forwards', 'content-length', 'content-type', 'expires',
];

const cache = new Map<string, string>();

/** The lower-case full name of a header name as written (compact forms expanded). */
export function headerKey(name: string): string {
  let key = cache.get(name);
  if (key !== undefined) return key;
  key = name.toLowerCase();
  if (key.length === 1) key = COMPACT[key] ?? key;
  if (cache.size < 4096) cache.set(name, key);
  return key;
}

/** The spelling switchhook writes for a header key (`call-id` -> `Call-ID`). */
export function headerSpelling(key: string): string {
  return SPELLING[key] ?? key.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
}
