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
  let spelt = spellingCache.get(key);
  if (spelt !== undefined) return spelt;
  spelt = Object.hasOwn(SPELLING, key) ? SPELLING[key]! : key.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
  if (spellingCache.size < 4096) spellingCache.set(key, spelt);
  return spelt;
}

const spellingCache = new Map<string, string>();

/** Bit of each single-valued header, for duplicate detection while parsing. */
export const SINGLE_INDEX: ReadonlyMap<string, number> = new Map(SINGLE_HEADERS.map((k, i) => [k, 1 << i]));

/** A header name the parser recognises without building a string. */
export interface KnownHeader {
  /** Lower-case spelling as written (a compact letter or the full name). */
  readonly lower: string;
  readonly key: string;
  /** Bit in {@link SINGLE_INDEX}, 0 when the header may repeat. */
  readonly single: number;
}

const COMMON = [
  'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'content-length', 'content-type', 'expires',
  'route', 'record-route', 'user-agent', 'server', 'allow', 'supported', 'require', 'proxy-require', 'unsupported',
  'accept', 'accept-encoding', 'accept-language', 'event', 'subscription-state', 'allow-events', 'date',
  'authorization', 'proxy-authorization', 'www-authenticate', 'proxy-authenticate', 'authentication-info',
  'retry-after', 'warning', 'subject', 'organization', 'priority', 'timestamp', 'min-expires', 'reason',
  'refer-to', 'referred-by', 'replaces', 'p-asserted-identity', 'p-preferred-identity', 'privacy', 'rseq', 'rack',
  'session-expires', 'min-se', 'path', 'service-route', 'sip-etag', 'sip-if-match', 'content-disposition',
  'content-encoding', 'content-language', 'mime-version', 'call-info', 'alert-info', 'error-info', 'in-reply-to',
  'reply-to', 'identity', 'identity-info', 'accept-contact', 'reject-contact', 'request-disposition',
];

/** Lookup key of a lower-case name: its length, first and last characters. */
function shapeOf(length: number, first: number, last: number): number {
  return (length << 16) | ((first | 0x20) << 8) | (last | 0x20);
}

/** Every name the parser recognises (common full names, then compact letters), with its key. */
export const KNOWN_NAMES: ReadonlyArray<{ readonly lower: string; readonly key: string }> = [
  ...COMMON.map((n) => ({ lower: n, key: n })),
  ...Object.entries(COMPACT).map(([lower, key]) => ({ lower, key })),
];

const BY_SHAPE = new Map<number, KnownHeader>();
for (const { lower, key } of KNOWN_NAMES) {
  const k = shapeOf(lower.length, lower.charCodeAt(0), lower.charCodeAt(lower.length - 1));
  if (!BY_SHAPE.has(k)) BY_SHAPE.set(k, { lower, key, single: SINGLE_INDEX.get(key) ?? 0 });
}

/**
 * The known header whose name is `text[start, end)` (case-insensitive), or `undefined` (then the caller
 * checks the name and falls back to {@link headerKey}).
 */
export function knownHeader(text: string, start: number, end: number): KnownHeader | undefined {
  const k = BY_SHAPE.get(shapeOf(end - start, text.charCodeAt(start), text.charCodeAt(end - 1)));
  if (k === undefined) return undefined;
  const lower = k.lower;
  for (let i = 0; i < lower.length; i++) if ((text.charCodeAt(start + i) | 0x20) !== lower.charCodeAt(i)) return undefined;
  return k;
}
