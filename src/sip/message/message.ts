import { TOKEN } from './charset.js';
import { SipParseError } from './errors.js';
import { LIST_HEADERS, SINGLE_INDEX, headerKey, headerSpelling, knownHeader } from './header-names.js';
import { type ContactValue, NameAddr, WILDCARD, parseNameAddrList, parseNameAddrText } from './name-addr.js';
import { Scanner, splitList } from './scanner.js';
import { SipUri, parseUri } from './uri.js';
import { Via, parseViaList, parseViaValue } from './via.js';
import { SIP_HEADER_WORDS, SIP_ITEM_NEXT, SipScanWord } from '../../native/sip.js';
import { REASON_BY_STATUS } from './reason-phrases.js';
import { Hot, NAME_KEYS, TOKENS, scanner } from './scan.js';
import { latin1 } from '../../util/buffer-text.js';

// Word offsets of the scan record (src/native/sip.ts) as module constants: the accessors read them for
// every message, and V8 loads a constant for less than a property of the enum object.
const W_BASE = SipScanWord.Base;
const W_BODY_START = SipScanWord.BodyStart;
const W_BODY_END = SipScanWord.BodyEnd;
const W_KIND = SipScanWord.Kind;
const W_LINE0 = SipScanWord.Line0;
const W_LINE1 = SipScanWord.Line1;
const W_LINE2 = SipScanWord.Line2;
const W_ITEM_BASE = SipScanWord.ItemBase;
const W_METHOD_TOKEN = SipScanWord.MethodToken;
const W_FIRST_HEADER = SipScanWord.FirstHeader;
const HEADER_WORDS = SIP_HEADER_WORDS;
const ITEM_NEXT = SIP_ITEM_NEXT;
/** Word (from the record's start) holding where the first item of each hot header is. */
const SLOT_VIA = SipScanWord.SlotBase + Hot.Via - 1;
const SLOT_FROM = SipScanWord.SlotBase + Hot.From - 1;
const SLOT_TO = SipScanWord.SlotBase + Hot.To - 1;
const SLOT_CONTACT = SipScanWord.SlotBase + Hot.Contact - 1;
const SLOT_ROUTE = SipScanWord.SlotBase + Hot.Route - 1;
const SLOT_RECORD_ROUTE = SipScanWord.SlotBase + Hot.RecordRoute - 1;
const SLOT_CSEQ = SipScanWord.SlotBase + Hot.CSeq - 1;
const SLOT_CALL_ID = SipScanWord.SlotBase + Hot.CallId - 1;
/** The scanner's record ring (one array for the scanner's life). */
const RING = scanner.record;

/** One header line: offsets of its value in the head view until the value is read or replaced. */
interface HeaderEntry {
  /** Lower-case full name (compact forms expanded). */
  readonly key: string;
  /** Name as written (taken from the head view when first needed) or as switchhook spells it. */
  name: string | undefined;
  /** Offsets of the name and the value in the head view (= byte offsets from `base`). */
  readonly ns: number;
  readonly ne: number;
  readonly start: number;
  end: number;
  /** The value spans continuation lines (RFC 3261 7.3.1 folding). */
  folded: boolean;
  /** The value, once read or set. */
  value: string | undefined;
}

/** `CSeq` (RFC 3261 20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

/** Limits applied by {@link parseMessage} and the stream framer. */
export interface SipLimits {
  /** Bytes of start line plus headers (default 32 KiB); larger is refused with 513. */
  maxHeaderBytes: number;
  /** Bytes of body (default 64 KiB); larger is refused with 413. */
  maxBodyBytes: number;
  /** Number of header lines (default 256). */
  maxHeaders: number;
}

const MAX_HEADER_BYTES = 32 * 1024;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_HEADERS = 256;
/** Default {@link SipLimits}. */
export const DEFAULT_LIMITS: Readonly<SipLimits> = Object.freeze({ maxHeaderBytes: MAX_HEADER_BYTES, maxBodyBytes: MAX_BODY_BYTES, maxHeaders: MAX_HEADERS });

const EMPTY = Buffer.alloc(0);
const NON_ASCII = /[^\x00-\x7f]/;
const MAX_UINT32 = 0xffffffff;
/** Headers every message must carry (RFC 3261 8.1.1). */
const MANDATORY = ['via', 'from', 'to', 'call-id', 'cseq'] as const;
const RFC1123 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$/;
/** Headers {@link SipMessage.validate} checks only when present, other than the hot ones of the scan record. */
const RARE_KEYS: ReadonlySet<string> = new Set(['max-forwards', 'expires', 'date', 'retry-after']);
/** 1 for the name ids (src/sip/message/scan.ts NAME_KEYS) of {@link RARE_KEYS}. */
const RARE_IDS = Uint8Array.from(NAME_KEYS, (k) => (RARE_KEYS.has(k) ? 1 : 0));

/** Bits of the mask of optional headers {@link SipMessage.validate} checks only when present. */
const HAS_CONTACT = 1;
const HAS_ROUTE = 2;
const HAS_RECORD_ROUTE = 4;
/** Any of {@link RARE_KEYS}; Max-Forwards is checked with them. */
const HAS_RARE = 8;
const CHECK_ALL = HAS_CONTACT | HAS_ROUTE | HAS_RECORD_ROUTE | HAS_RARE;

/** Where the values of the first `From: ` and `To: ` lines of the last request given to {@link findSentNames} start (-1: none). */
let sentFrom = -1;
let sentTo = -1;

/**
 * Finds the first `From: ` and `To: ` lines (as this endpoint writes them: full names, one space) in the
 * head of a request's bytes: one pass over the line starts, ending at the empty line.
 */
function findSentNames(sent: Buffer): void {
  sentFrom = -1;
  sentTo = -1;
  // Line to line by the LF bytes (Buffer#indexOf of a byte: memchr).
  for (let i = sent.indexOf(0x0a); i > 0; i = sent.indexOf(0x0a, i + 1)) {
    if (sent[i - 1] !== 0x0d) continue;
    const c = sent[i + 1];
    if (c === 0x0d && sent[i + 2] === 0x0a) return;
    if (c === 0x46) {
      // From:
      if (sentFrom < 0 && sent[i + 2] === 0x72 && sent[i + 3] === 0x6f && sent[i + 4] === 0x6d && sent[i + 5] === 0x3a && sent[i + 6] === 0x20) sentFrom = i + 7;
    } else if (c === 0x54) {
      // To:
      if (sentTo < 0 && sent[i + 2] === 0x6f && sent[i + 3] === 0x3a && sent[i + 4] === 0x20) sentTo = i + 5;
    }
    if (sentFrom >= 0 && sentTo >= 0) return;
  }
}

/**
 * A SIP message (RFC 3261 7). Parsed messages keep the receive buffer and header offsets; a header value
 * becomes a string when first read and a typed value (Via, From, CSeq...) when its accessor is first used.
 * Until something is changed, {@link toBuffer} returns the received bytes unchanged.
 */
export abstract class SipMessage {
  // Fields are declared here and set in the constructor (assignments, not class-field definitions: one
  // message is made per received message, and V8 creates objects faster this way).
  /** `SIP/2.0` (on the prototype: the only version there is, RFC 3261 7). */
  declare version: string;
  /** The message bytes as received (or last serialised). */
  protected declare raw: Buffer | undefined;
  /** The receive buffer. */
  private declare src: Buffer | undefined;
  /**
   * A latin1 view of the start line and headers, so that string offsets are byte offsets; header values are
   * slices of it (re-decoded as UTF-8 from `src` when they hold non-ASCII bytes).
   */
  private declare head: string | undefined;
  /** Byte offset of `head` in `src`. */
  private declare base: number;
  private declare entryList: HeaderEntry[] | undefined;
  private declare bodyBuf: Buffer | undefined;
  private declare bodyStart: number;
  /** End of the body, which ends the message. */
  private declare bodyEnd: number;
  private declare dirty: boolean;
  // Typed header values parsed so far (undefined: not parsed yet; null: header absent).
  private declare typedVia: Via[] | undefined;
  private declare typedFrom: NameAddr | undefined;
  private declare typedTo: NameAddr | undefined;
  private declare typedCallId: string | undefined;
  private declare typedCseq: CSeq | undefined;
  private declare typedContact: ContactValue[] | undefined;
  /** Route, Record-Route, Max-Forwards and Expires once one of them is read (few messages are asked for them). */
  private declare rare: RareHeaders | undefined;
  /** Lap of the ring in which the record was written (to tell whether the ring has come round to it). */
  private declare recLap: number;
  /**
   * Word index of the message's record of the native scan (src/native/sip.ts, in the scanner's ring), -1
   * when it has none. The record holds the header lines not yet made into entries and the pre-split values
   * of the hot headers, valid while the headers and `head` are those received.
   */
  private declare recAt: number;

  constructor() {
    this.raw = undefined;
    this.src = undefined;
    this.head = undefined;
    this.base = 0;
    this.entryList = undefined;
    this.bodyBuf = EMPTY;
    this.bodyStart = 0;
    this.bodyEnd = 0;
    this.dirty = true;
    this.typedVia = undefined;
    this.typedFrom = undefined;
    this.typedTo = undefined;
    this.typedCallId = undefined;
    this.typedCseq = undefined;
    this.typedContact = undefined;
    this.rare = undefined;
    this.recLap = 0;
    this.recAt = -1;
  }

  /** True for requests. */
  abstract readonly isRequest: boolean;
  /** The start line without its CRLF. */
  abstract startLine(): string;

  // --- generic header access -------------------------------------------------------------------------

  /** Header lines in order; made from the scan's header records when first needed. */
  protected get entries(): HeaderEntry[] {
    if (this.entryList !== undefined) return this.entryList;
    const list: HeaderEntry[] = [];
    const w = this.record();
    if (w !== undefined) {
      const head = this.head!;
      const end = this.recAt + w[this.recAt + W_ITEM_BASE]!;
      for (let h = this.recAt + W_FIRST_HEADER; h < end; h += HEADER_WORDS) {
        const id = w[h]!;
        const ns = w[h + 1]!;
        const ne = w[h + 2]!;
        const key = id >= 0 ? NAME_KEYS[id]! : headerKey(head.slice(ns, ne));
        list.push({ key, name: undefined, ns, ne, start: w[h + 3]!, end: w[h + 4]!, folded: false, value: undefined });
      }
    }
    return (this.entryList = list);
  }

  /** First value of a header (name case-insensitive, compact forms accepted), or `undefined`. */
  header(name: string): string | undefined {
    const key = headerKey(name);
    if (this.scannedHeader(key) === -1) return undefined;
    for (const e of this.entries) if (e.key === key) return this.valueOf(e);
    return undefined;
  }

  /**
   * Every value of a header in order; values of list headers (RFC 3261 7.3.1: Via, Contact, Route, Allow,
   * Supported...) are split at commas.
   */
  headers(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    const list = LIST_HEADERS.has(key);
    for (const e of this.entries) {
      if (e.key !== key) continue;
      const v = this.valueOf(e);
      if (list) for (const part of splitList(v)) out.push(part);
      else out.push(v);
    }
    return out;
  }

  /** True when the header is present at least once. */
  hasHeader(name: string): boolean {
    const key = headerKey(name);
    const h = this.scannedHeader(key);
    if (h !== undefined) return h >= 0;
    for (const e of this.entries) if (e.key === key) return true;
    return false;
  }

  /**
   * Word index in the scan ring of the first header record of `key`, -1 when there is none, read from the
   * scan's header records (no entry objects made for a lookup); undefined once entries exist or when the
   * message has no scan record.
   */
  private scannedHeader(key: string): number | undefined {
    if (this.entryList !== undefined) return undefined;
    const w = this.record();
    if (w === undefined) return undefined;
    const end = this.recAt + w[this.recAt + W_ITEM_BASE]!;
    for (let h = this.recAt + W_FIRST_HEADER; h < end; h += HEADER_WORDS) {
      const id = w[h]!;
      if (id >= 0 ? NAME_KEYS[id] === key : headerKey(this.head!.slice(w[h + 1], w[h + 2])) === key) return h;
    }
    return -1;
  }

  /** Number of header lines carrying this header. */
  headerCount(name: string): number {
    const key = headerKey(name);
    let n = 0;
    for (const e of this.entries) if (e.key === key) n++;
    return n;
  }

  /** Names (lower-case, full form) of the headers present, in order, without repeats. */
  headerNames(): string[] {
    return [...new Set(this.entries.map((e) => e.key))];
  }

  /** Replaces every line of a header with one line per value (at the first line's place). */
  setHeader(name: string, value: string | readonly string[]): this {
    const key = headerKey(name);
    const values = typeof value === 'string' ? [value] : value;
    let at = this.entries.findIndex((e) => e.key === key);
    if (at >= 0) this.removeEntries(key);
    else at = this.entries.length;
    const spelled = headerSpelling(key);
    this.entries.splice(at, 0, ...values.map((v) => newEntry(key, spelled, v)));
    this.touch();
    return this;
  }

  /** Adds a header line after the existing ones, or before them with `{ first: true }` (Via, Record-Route). */
  addHeader(name: string, value: string, options: { first?: boolean } = {}): this {
    const key = headerKey(name);
    const entry = newEntry(key, headerSpelling(key), value);
    if (options.first) {
      const at = this.entries.findIndex((e) => e.key === key);
      this.entries.splice(at < 0 ? this.entries.length : at, 0, entry);
    } else {
      let at = -1;
      for (let i = 0; i < this.entries.length; i++) if (this.entries[i]!.key === key) at = i;
      this.entries.splice(at < 0 ? this.entries.length : at + 1, 0, entry);
    }
    this.touch();
    return this;
  }

  /** Removes every line of a header; returns how many were removed. */
  removeHeader(name: string): number {
    const key = headerKey(name);
    const n = this.removeEntries(key);
    if (n > 0) this.touch();
    return n;
  }

  /**
   * Replaces the first value of a list header (e.g. the top Via), splitting a comma-separated line when
   * needed so the other values stay as they were.
   */
  replaceFirstValue(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.entries.findIndex((e) => e.key === key);
    if (at < 0) return this.addHeader(name, value);
    const e = this.entries[at]!;
    const parts = LIST_HEADERS.has(key) ? splitList(this.valueOf(e)) : [];
    const spelled = this.nameOf(e);
    const replacement = [newEntry(key, spelled, value)];
    if (parts.length > 1) replacement.push(newEntry(key, spelled, parts.slice(1).join(', ')));
    this.entries.splice(at, 1, ...replacement);
    this.touch();
    return this;
  }

  // --- typed accessors -------------------------------------------------------------------------------

  /** Every Via value, topmost first (RFC 3261 20.42). */
  get via(): Via[] {
    if (this.typedVia !== undefined) return this.typedVia;
    const w = this.record();
    if (w !== undefined) {
      const scanned = this.scannedVias(w);
      if (scanned !== undefined) return (this.typedVia = scanned);
    }
    let single: HeaderEntry | undefined;
    let n = 0;
    for (const e of this.entries) {
      if (e.key === 'via') {
        single = e;
        n++;
      }
    }
    if (n === 1) {
      const v = this.valueOf(single!);
      if (v.indexOf(',') < 0) return (this.typedVia = [parseViaValue(v)]);
    }
    return (this.typedVia = parseViaList(this.rawValues('via')));
  }

  set via(vias: readonly Via[]) {
    this.setHeader('via', vias.map(String));
  }

  /** The topmost Via, or `undefined` when there is none. */
  get topVia(): Via | undefined {
    return this.via[0];
  }

  /** From (RFC 3261 20.20); throws when missing or malformed. */
  get from(): NameAddr {
    return (this.typedFrom ??= this.scannedNameAddr(SLOT_FROM, 'From') ?? parseNameAddrText(this.required('from'), 'From'));
  }

  set from(v: NameAddr) {
    this.setHeader('from', v.toString());
  }

  /** To (RFC 3261 20.39); throws when missing or malformed. */
  get to(): NameAddr {
    return (this.typedTo ??= this.scannedNameAddr(SLOT_TO, 'To') ?? parseNameAddrText(this.required('to'), 'To'));
  }

  set to(v: NameAddr) {
    this.setHeader('to', v.toString());
  }

  /** Call-ID (RFC 3261 20.8); throws when missing. */
  get callId(): string {
    return (this.typedCallId ??= this.readCallId());
  }

  /** CSeq (RFC 3261 20.16); the number must fit 32 bits (RFC 4475 3.1.2.4). */
  get cseq(): CSeq {
    return (this.typedCseq ??= this.readCSeq());
  }

  /** Contact values (RFC 3261 20.10); `'*'` for the wildcard; empty when absent. */
  get contact(): ContactValue[] {
    return (this.typedContact ??= this.scannedNameAddrs(SLOT_CONTACT, 'Contact') ?? this.readContact());
  }

  private readContact(): ContactValue[] {
    const it = this.record();
    if (it !== undefined && this.scannedWildcard(it)) return [WILDCARD];
    const values = this.rawValues('contact');
    if (values.length === 1 && values[0]!.trim() === WILDCARD) return [WILDCARD];
    return parseNameAddrList(values, 'Contact');
  }

  /** Route values (RFC 3261 20.34). */
  get route(): NameAddr[] {
    const r = (this.rare ??= newRare());
    return (r.route ??= this.scannedNameAddrs(SLOT_ROUTE, 'Route') ?? parseNameAddrList(this.rawValues('route'), 'Route'));
  }

  /** Record-Route values (RFC 3261 20.30). */
  get recordRoute(): NameAddr[] {
    const r = (this.rare ??= newRare());
    return (r.recordRoute ??=
      this.scannedNameAddrs(SLOT_RECORD_ROUTE, 'Record-Route') ?? parseNameAddrList(this.rawValues('record-route'), 'Record-Route'));
  }

  /** Max-Forwards (RFC 3261 20.22), 0-255; `undefined` when absent. */
  get maxForwards(): number | undefined {
    const r = (this.rare ??= newRare());
    if (r.maxForwards === undefined) r.maxForwards = this.integer('max-forwards', 'Max-Forwards', 255) ?? null;
    return r.maxForwards ?? undefined;
  }

  /** Expires in seconds (RFC 3261 20.19); `undefined` when absent. */
  get expires(): number | undefined {
    const r = (this.rare ??= newRare());
    if (r.expires === undefined) r.expires = this.integer('expires', 'Expires', MAX_UINT32) ?? null;
    return r.expires ?? undefined;
  }

  /** Content-Type as written (RFC 3261 20.15). */
  get contentType(): string | undefined {
    return this.header('content-type');
  }

  /** The body; setting it makes the next {@link toBuffer} write a matching Content-Length. */
  get body(): Buffer {
    return (this.bodyBuf ??= this.src!.subarray(this.bodyStart, this.bodyEnd));
  }

  set body(value: Buffer | string) {
    this.bodyBuf = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.dirty = true;
  }

  // --- validation and serialisation ------------------------------------------------------------------

  /**
   * Checks the rules a receiver must enforce before processing (RFC 3261 8.2, 16.3; RFC 4475 3.1.2, 3.3):
   * mandatory headers present and well formed, CSeq method matching a request's method, scalar ranges,
   * Date in GMT. Throws {@link SipParseError} (status 400) naming the first fault; results stay cached for
   * the typed accessors. `sent`: for a response, the request it answers as this endpoint wrote it. A From or
   * To value equal, byte for byte, to that request's (RFC 3261 section 8.2.6.2: the UAS copies them) was
   * checked when the request was written, so its URI is not parsed again; any other value is.
   */
  validate(sent?: Buffer): this {
    try {
      let present = this.presentInScan();
      if (present < 0) {
        let missing: string[] | undefined;
        for (const k of MANDATORY) if (!this.hasHeader(k)) (missing ??= []).push(k);
        if (missing !== undefined) throw new SipParseError(`missing ${missing.map(headerSpelling).join(', ')}`);
        present = CHECK_ALL;
      }
      this.checkFields(sent, present);
    } catch (err) {
      if (err instanceof SipParseError && err.partial === undefined) {
        throw new SipParseError(err.reason, { status: err.status, partial: this });
      }
      throw err;
    }
    return this;
  }

  /**
   * Which optional headers a scanned message has, from its native scan record: the hot headers from the
   * record's slot words, the others {@link validate} checks from one pass over its header records (a mask of
   * the `HAS_` bits). -1 when the message has no scan record, has header entries already, or
   * lacks a mandatory header: {@link validate} then looks each header up by name.
   */
  private presentInScan(): number {
    if (this.entryList !== undefined) return -1;
    const w = this.record();
    if (w === undefined) return -1;
    const r = this.recAt;
    // A scanned header line of a hot header always makes an item, so its slot word is 0 only when absent.
    if (w[r + SLOT_VIA] === 0 || w[r + SLOT_FROM] === 0 || w[r + SLOT_TO] === 0 || w[r + SLOT_CALL_ID] === 0 || w[r + SLOT_CSEQ] === 0) {
      return -1;
    }
    let present = 0;
    if (w[r + SLOT_CONTACT] !== 0) present |= HAS_CONTACT;
    if (w[r + SLOT_ROUTE] !== 0) present |= HAS_ROUTE;
    if (w[r + SLOT_RECORD_ROUTE] !== 0) present |= HAS_RECORD_ROUTE;
    const end = r + w[r + W_ITEM_BASE]!;
    for (let h = r + W_FIRST_HEADER; h < end; h += HEADER_WORDS) {
      const id = w[h]!;
      if (id >= 0 ? RARE_IDS[id] === 1 : RARE_KEYS.has(headerKey(this.head!.slice(w[h + 1], w[h + 2])))) {
        present |= HAS_RARE;
        break;
      }
    }
    return present;
  }

  /**
   * {@link validate}'s checks after the mandatory headers, in order; an optional header whose bit is not in
   * `present` is known to be absent and not looked up.
   */
  private checkFields(sent: Buffer | undefined, present: number): void {
    this.checkRequestLine();
    if (sent !== undefined) findSentNames(sent);
    if (sent === undefined || !this.copiedFrom(sent, 'from', SLOT_FROM, sentFrom)) void this.from.uri;
    if (sent === undefined || !this.copiedFrom(sent, 'to', SLOT_TO, sentTo)) void this.to.uri;
    void this.callId;
    this.checkCSeq();
    if (this.via.length === 0) throw new SipParseError('missing Via');
    const rare = (present & HAS_RARE) !== 0;
    if (rare) void this.maxForwards;
    if (present & HAS_CONTACT) for (const c of this.contact) if (c !== WILDCARD) void c.uri;
    if (rare) this.checkRare();
    if (present & HAS_ROUTE) for (const x of this.route) void x.uri;
    if (present & HAS_RECORD_ROUTE) for (const x of this.recordRoute) void x.uri;
  }

  /** CSeq well formed, and naming a request's own method. */
  private checkCSeq(): void {
    const cseq = this.cseq;
    if (this.isRequest) {
      const method = (this as unknown as SipRequest).method;
      if (cseq.method !== method) throw new SipParseError(`CSeq method ${cseq.method} does not match ${method}`);
    }
  }

  /** Expires, Date and Retry-After in range. */
  private checkRare(): void {
    void this.expires;
    const date = this.header('date');
    if (date !== undefined && !RFC1123.test(date)) throw new SipParseError('Date: not an RFC 1123 date in GMT');
    const retry = this.header('retry-after');
    if (retry !== undefined) {
      const m = /^([0-9]+)/.exec(retry);
      if (!m || m[1]!.length > 10 || Number(m[1]) > MAX_UINT32) throw new SipParseError('Retry-After: out of range');
    }
  }

  /**
   * True when the first `key` header's value is on one line and equal byte for byte to the value of `sent`
   * (a request's bytes) that starts at `at` (-1: `sent` has no such line) and ends its line.
   */
  private copiedFrom(sent: Buffer, key: string, slot: number, at: number): boolean {
    if (at < 0 || this.head === undefined) return false;
    let start: number;
    let end: number;
    const w = this.entryList === undefined ? this.record() : undefined;
    if (w !== undefined) {
      // The header record of the slot's first item; a scanned message is never folded (the scanner leaves
      // folding to the grammar path).
      const i = this.firstItem(w, slot);
      if (i < 0) return false;
      const h = this.recAt + W_FIRST_HEADER + w[i]! * HEADER_WORDS;
      start = w[h + 3]!;
      end = w[h + 4]!;
    } else {
      let e: HeaderEntry | undefined;
      for (const x of this.entries) {
        if (x.key === key) {
          e = x;
          break;
        }
      }
      if (e === undefined || e.folded) return false;
      start = e.start;
      end = e.end;
    }
    const src = this.src;
    if (src === undefined) return false;
    const base = this.base;
    while (end > start && (src[base + end - 1] === 0x20 || src[base + end - 1] === 0x09)) end--;
    const n = end - start;
    if (at + n + 1 >= sent.length || sent[at + n] !== 0x0d || sent[at + n + 1] !== 0x0a) return false;
    const from = base + start;
    for (let i = 0; i < n; i++) if (src[from + i] !== sent[at + i]) return false;
    return true;
  }

  /** Request-line checks that need the parsed URI (overridden by requests). */
  protected checkRequestLine(): void {}

  /**
   * The message on the wire. Unchanged parsed messages return their received bytes; otherwise headers are
   * written in order with a Content-Length matching the body.
   */
  toBuffer(): Buffer {
    if (!this.dirty && this.src) return (this.raw ??= this.src.subarray(this.base, this.bodyEnd));
    if (!this.dirty && this.raw) return this.raw;
    const body = this.body;
    let head = this.startLine() + '\r\n';
    let wroteLength = false;
    for (const e of this.entries) {
      if (e.key === 'content-length') {
        e.value = String(body.length);
        if (wroteLength) continue;
        wroteLength = true;
        head += `${this.nameOf(e)}: ${e.value}\r\n`;
        continue;
      }
      head += `${this.nameOf(e)}: ${this.valueOf(e)}\r\n`;
    }
    if (!wroteLength) head += `Content-Length: ${body.length}\r\n`;
    head += '\r\n';
    const out = body.length > 0 ? Buffer.concat([Buffer.from(head, 'utf8'), body]) : Buffer.from(head, 'utf8');
    this.rebase();
    this.recAt = -1;
    this.raw = out;
    this.src = undefined;
    this.head = undefined;
    this.dirty = false;
    return out;
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }

  // --- internals -------------------------------------------------------------------------------------

  /** @internal Called by the parser: the message is `src[base, bodyEnd)`, its body `src[bodyStart, bodyEnd)`. */
  static attach(m: SipMessage, src: Buffer, head: string, base: number, bodyStart: number, bodyEnd: number): void {
    m.src = src;
    m.head = head;
    m.base = base;
    m.raw = undefined;
    m.bodyStart = bodyStart;
    m.bodyEnd = bodyEnd;
    m.bodyBuf = bodyStart < bodyEnd ? undefined : EMPTY;
    m.dirty = false;
  }

  /** @internal Called by the parser. */
  static pushEntry(m: SipMessage, key: string, ns: number, ne: number, start: number, end: number): void {
    m.entries.push({ key, name: undefined, ns, ne, start, end, folded: false, value: undefined });
  }

  /** @internal The value of header line `i`. */
  static entryValue(m: SipMessage, i: number): string {
    return m.valueOf(m.entries[i]!);
  }

  /** @internal Called by the parser on a continuation line. */
  static extendLast(m: SipMessage, end: number): boolean {
    const e = m.entries[m.entries.length - 1];
    if (!e) return false;
    e.end = end;
    e.folded = true;
    return true;
  }

  /**
   * @internal Called by the parser on a new message with the native scan record (src/native/sip.ts) of
   * `src` at word `at` of ring `w`, written in lap `lap`: header lines made into entries when
   * first needed, item records read in place by the typed accessors.
   */
  static attachScanned(m: SipMessage, src: Buffer, head: string, w: Int32Array, at: number, lap: number): void {
    const bodyStart = w[at + W_BODY_START]!;
    const end = w[at + W_BODY_END]!;
    m.src = src;
    m.head = head;
    m.base = w[at + W_BASE]!;
    m.bodyStart = bodyStart;
    m.bodyEnd = end;
    m.bodyBuf = bodyStart < end ? undefined : EMPTY;
    m.dirty = false;
    m.recAt = at;
    m.recLap = lap;
  }

  /** `[start, end)` of the head view (start line and headers as received). */
  protected headSlice(start: number, end: number): string {
    return this.head!.slice(start, end);
  }

  /** True when the head view holds `text` at `at`. */
  protected headHas(text: string, at: number): boolean {
    return this.head!.startsWith(text, at);
  }

  /** Takes the record at word `at` of the ring, written in lap `lap`. */
  private place(at: number, lap: number): void {
    this.recAt = at;
    this.recLap = lap;
  }

  /**
   * The ring holding this message's scan record, or `undefined` when it has none. When the ring has come
   * round to the record, the received bytes are scanned again: the same record, at a new place.
   */
  private record(): Int32Array | undefined {
    if (this.recAt < 0) return undefined;
    if (!scanner.intact(this.recLap, this.recAt)) {
      if (scanner.rescan(this.src!) !== this.head) throw new Error('SIP message: the receive buffer changed after parsing');
      this.place(scanner.at, scanner.lap);
    }
    return RING;
  }

  /** Word index in the ring of the first item of a hot header (`slot`: its SLOT_ word), or -1 when none. */
  private firstItem(it: Int32Array, slot: number): number {
    const i = it[this.recAt + slot]!;
    return i === 0 ? -1 : this.recAt + i;
  }

  /** Word index in the ring of the item after item `i` of the same hot header, or -1 when none. */
  private nextItem(it: Int32Array, i: number): number {
    const n = it[i + ITEM_NEXT]!;
    return n === 0 ? -1 : this.recAt + n;
  }

  /** Every Via value from the scan, or `undefined` when one is not in the canonical form. */
  private scannedVias(it: Int32Array): Via[] | undefined {
    const first = this.firstItem(it, SLOT_VIA);
    if (first < 0) return [];
    if (it[first + 3] !== 1) return undefined;
    // Made with its first value: most messages have one, and an array literal holds just that.
    const out = [this.viaAt(it, first)];
    for (let i = this.nextItem(it, first); i >= 0; i = this.nextItem(it, i)) {
      if (it[i + 3] !== 1) return undefined;
      out.push(this.viaAt(it, i));
    }
    return out;
  }

  /** The Via of item record `i` (canonical). */
  private viaAt(it: Int32Array, i: number): Via {
    const head = this.head!;
    const port = it[i + 8]!;
    const b = it[i + 11]!;
    return Via.scanned(
      token(head, it[i + 4]!, it[i + 5]!, it[i + 13]!),
      head.slice(it[i + 6], it[i + 7]),
      port < 0 ? undefined : port,
      head,
      it[i + 9]!,
      it[i + 10]!,
      b < 0 ? undefined : b === it[i + 12] ? null : head.slice(b, it[i + 12]),
    );
  }

  /** The name-addr of item record `i` (canonical). */
  private nameAddrAt(it: Int32Array, i: number, what: string): NameAddr {
    const head = this.head!;
    const display = it[i + 4] === 0 ? undefined : head.slice(it[i + 5], it[i + 6]);
    const t = it[i + 11]!;
    const tag = t < 0 ? undefined : t === it[i + 12] ? null : head.slice(t, it[i + 12]);
    return NameAddr.scanned(head.slice(it[i + 7], it[i + 8]), display, what, head, it[i + 9]!, it[i + 10]!, tag);
  }

  /** The first From/To line from the scan, or `undefined` (not scanned, absent, or not canonical). */
  private scannedNameAddr(slot: number, what: string): NameAddr | undefined {
    const it = this.record();
    if (it === undefined) return undefined;
    const i = this.firstItem(it, slot);
    return i >= 0 && it[i + 3] === 1 ? this.nameAddrAt(it, i, what) : undefined;
  }

  /** Every value of a name-addr list header from the scan, or `undefined` when one is not canonical. */
  private scannedNameAddrs(slot: number, what: string): NameAddr[] | undefined {
    const it = this.record();
    if (it === undefined) return undefined;
    const first = this.firstItem(it, slot);
    if (first < 0) return [];
    if (it[first + 3] !== 1) return undefined;
    const out = [this.nameAddrAt(it, first, what)];
    for (let i = this.nextItem(it, first); i >= 0; i = this.nextItem(it, i)) {
      if (it[i + 3] !== 1) return undefined;
      out.push(this.nameAddrAt(it, i, what));
    }
    return out;
  }

  /** True when the scan found one Contact value and it is the wildcard `*` (RFC 3261 10.2.2). */
  private scannedWildcard(it: Int32Array): boolean {
    const first = this.firstItem(it, SLOT_CONTACT);
    if (first < 0 || this.nextItem(it, first) >= 0) return false;
    const h = this.recAt + W_FIRST_HEADER + it[first]! * HEADER_WORDS;
    return this.head!.slice(it[h + 3], it[h + 4]).trim() === WILDCARD;
  }

  private readCallId(): string {
    const it = this.record();
    if (it !== undefined) {
      const i = this.firstItem(it, SLOT_CALL_ID);
      if (i >= 0 && it[i + 3] === 1) return this.head!.slice(it[i + 4], it[i + 5]);
    }
    const v = this.required('call-id');
    if (/\s/.test(v)) throw new SipParseError('Call-ID: whitespace inside the value');
    return v;
  }

  private readCSeq(): CSeq {
    const it = this.record();
    if (it !== undefined) {
      const i = this.firstItem(it, SLOT_CSEQ);
      if (i >= 0 && it[i + 3] === 1) {
        // The word holds the number's 32 bits; most fit an int32, which stays a small integer.
        const seq = it[i + 4]!;
        return { seq: seq >= 0 ? seq : seq + 0x100000000, method: token(this.head!, it[i + 5]!, it[i + 6]!, it[i + 7]!) };
      }
    }
    const text = this.required('cseq');
    const sp = text.indexOf(' ');
    if (sp > 0 && sp <= 10 && isDigits(text.slice(0, sp))) {
      const method = text.slice(sp + 1);
      let ok = method.length > 0;
      for (let i = 0; ok && i < method.length; i++) {
        const c = method.charCodeAt(i);
        if (c >= 128 || TOKEN[c] !== 1) ok = false;
      }
      const seq = Number(text.slice(0, sp));
      if (ok && seq <= MAX_UINT32) return { seq, method };
    }
    const sc = new Scanner(text, 'CSeq');
    sc.ws();
    const digits = sc.span(DIGITS);
    if (digits === '') sc.fail('missing sequence number');
    const seq = Number(digits);
    if (digits.length > 10 || seq > MAX_UINT32) sc.fail('sequence number out of range');
    if (!sc.ws()) sc.fail('expected whitespace after the sequence number');
    const method = sc.token('method');
    sc.end('CSeq');
    return { seq, method };
  }

  private nameOf(e: HeaderEntry): string {
    return (e.name ??= this.head!.slice(e.ns, e.ne));
  }

  protected valueOf(e: HeaderEntry): string {
    if (e.value !== undefined) return e.value;
    let v = this.head!.slice(e.start, e.end);
    if (NON_ASCII.test(v)) v = this.src!.toString('utf8', this.base + e.start, this.base + e.end);
    if (e.folded) v = v.replace(/[ \t]*\r?\n[ \t]+/g, ' ');
    const last = v.charCodeAt(v.length - 1);
    if (last === 0x20 || last === 0x09) v = v.trimEnd();
    e.value = v;
    return v;
  }

  private rawValues(key: string): string[] {
    const out: string[] = [];
    for (const e of this.entries) if (e.key === key) out.push(this.valueOf(e));
    return out;
  }

  private required(key: string): string {
    for (const e of this.entries) if (e.key === key) return this.valueOf(e);
    throw new SipParseError(`missing ${headerSpelling(key)}`);
  }

  private integer(key: string, what: string, max: number): number | undefined {
    const v = this.header(key);
    if (v === undefined) return undefined;
    if (!/^[0-9]+$/.test(v)) throw new SipParseError(`${what}: not a number`);
    const n = Number(v);
    if (v.replace(/^0+(?=.)/, '').length > 10 || n > max) throw new SipParseError(`${what}: out of range`);
    return n;
  }

  private removeEntries(key: string): number {
    let n = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i]!.key === key) {
        this.entries.splice(i, 1);
        n++;
      }
    }
    return n;
  }

  /** A header changed: typed values are parsed again when next read. */
  protected touch(): void {
    this.typedVia = this.typedFrom = this.typedTo = this.typedContact = undefined;
    this.typedCallId = this.typedCseq = undefined;
    this.rare = undefined;
    if (this.recAt >= 0) {
      void this.entries;
      this.recAt = -1;
    }
    this.dirty = true;
  }

  /** Before serialising replaces the buffer, every entry takes its value as a string. */
  private rebase(): void {
    for (const e of this.entries) {
      this.nameOf(e);
      this.valueOf(e);
    }
  }
}

Object.defineProperty(SipMessage.prototype, 'version', { value: 'SIP/2.0', writable: true, configurable: true });

/** Typed values of the headers few messages are asked for (undefined: not parsed yet; null: header absent). */
interface RareHeaders {
  route: NameAddr[] | undefined;
  recordRoute: NameAddr[] | undefined;
  maxForwards: number | null | undefined;
  expires: number | null | undefined;
}

function newRare(): RareHeaders {
  return { route: undefined, recordRoute: undefined, maxForwards: undefined, expires: undefined };
}

const DIGITS = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) DIGITS[c] = 1;

function newEntry(key: string, name: string, value: string): HeaderEntry {
  return { key, name, ns: 0, ne: 0, start: 0, end: 0, folded: false, value };
}

/** A SIP request (RFC 3261 7.1). */
export class SipRequest extends SipMessage {
  declare readonly isRequest: true;
  /** Method, case-sensitive (RFC 3261 7.1). */
  declare method: string;
  /** The Request-URI as written; `undefined` while a scanned one is not yet sliced from the head view. */
  private declare uriText: string | undefined;
  /** Offsets of a scanned Request-URI in the head view. */
  private declare uriStart: number;
  private declare uriEnd: number;
  private declare uriParsed: SipUri | undefined;

  constructor(method: string, uri: SipUri | string) {
    super();
    this.method = method;
    this.uriParsed = undefined;
    this.uriStart = 0;
    this.uriEnd = 0;
    if (typeof uri === 'string') this.uriText = uri;
    else {
      this.uriText = uri.toString();
      this.uriParsed = uri;
    }
  }

  /** @internal A request from a native scan: the Request-URI is `start, end` of the head view. */
  static scanned(method: string, start: number, end: number): SipRequest {
    const req = new SipRequest(method, '');
    req.uriText = undefined;
    req.uriStart = start;
    req.uriEnd = end;
    return req;
  }

  /** The Request-URI as written. */
  private text(): string {
    return (this.uriText ??= this.headSlice(this.uriStart, this.uriEnd));
  }

  /** The Request-URI, parsed when first read; throws {@link SipParseError} when malformed. */
  get uri(): SipUri {
    if (!this.uriParsed) this.uriParsed = parseUri(this.text());
    return this.uriParsed;
  }

  set uri(value: SipUri | string) {
    this.uriText = value.toString();
    this.uriParsed = typeof value === 'string' ? undefined : value;
    this.touch();
  }

  /** The Request-URI exactly as written. */
  get uriString(): string {
    return this.uriParsed ? this.uriParsed.toString() : this.text();
  }

  startLine(): string {
    return `${this.method} ${this.uriString} ${this.version}`;
  }

  protected override checkRequestLine(): void {
    const uri = this.uri;
    if (uri.isSip && uri.headers.length > 0) throw new SipParseError('Request-URI must not contain headers');
  }
}

/** A SIP response (RFC 3261 7.2). */
export class SipResponse extends SipMessage {
  declare readonly isRequest: false;
  declare status: number;
  /** The reason phrase; `undefined` while a scanned one is not yet taken from the head view. */
  private declare reasonText: string | undefined;
  /** Offsets of a scanned reason phrase in the head view. */
  private declare reasonStart: number;
  private declare reasonEnd: number;

  constructor(status: number, reason: string);
  /** @internal A scanned response (the parser attaches its head view): the phrase is `reasonStart, reasonEnd` of it. */
  constructor(status: number, reason: undefined, reasonStart: number, reasonEnd: number);
  constructor(status: number, reason: string | undefined, reasonStart = 0, reasonEnd = 0) {
    super();
    this.status = status;
    this.reasonText = reason;
    this.reasonStart = reasonStart;
    this.reasonEnd = reasonEnd;
  }

  /**
   * The reason phrase (RFC 3261 7.2), taken from the head view when first read: the string of
   * {@link REASON_BY_STATUS} when it is the usual one.
   */
  get reason(): string {
    if (this.reasonText !== undefined) return this.reasonText;
    const start = this.reasonStart;
    const end = this.reasonEnd;
    const usual = REASON_BY_STATUS[this.status];
    return (this.reasonText =
      usual !== undefined && usual.length === end - start && this.headHas(usual, start) ? usual : this.headSlice(start, end));
  }

  set reason(value: string) {
    this.reasonText = value;
  }

  startLine(): string {
    return `${this.version} ${this.status} ${this.reason}`;
  }
}

// `isRequest` lives on the prototypes: one field fewer to make per message.
Object.defineProperty(SipRequest.prototype, 'isRequest', { value: true });
Object.defineProperty(SipResponse.prototype, 'isRequest', { value: false });

/** Type guard for requests. */
export function isRequest(m: SipMessage): m is SipRequest {
  return m.isRequest;
}

/** `head.slice(start, end)`, or the string of token `id` (src/sip/message/scan.ts TOKENS) when the scan named one. */
function token(head: string, start: number, end: number, id: number): string {
  return id >= 0 ? TOKENS[id]! : head.slice(start, end);
}

function isTokenRange(t: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = t.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return false;
  }
  return true;
}

function isToken(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return false;
  }
  return t.length > 0;
}

function isDigits(t: string): boolean {
  if (t.length === 0) return false;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Parses one SIP message (RFC 3261 7, grammar of 25.1) from a datagram or a framed stream message.
 * Leading CRLFs are skipped (RFC 3261 7.5). The body is what Content-Length says; bytes after it are
 * ignored (RFC 4475 3.1.1.11); with no Content-Length the rest of the buffer is the body (RFC 3261 18.3).
 *
 * The native scanner (src/native/sip.ts) reads the framing and the structure of the hot headers in one
 * call; what it leaves (folding, LWS, faults...) goes to the RFC 3261 25.1 grammar below, which gives every
 * verdict. The start line and headers are viewed once as a latin1 string (offsets equal byte offsets);
 * header values are slices of it, decoded when first read; the body is a view of `buf`.
 *
 * Throws {@link SipParseError} naming the first fault; when the start line was readable the error's
 * `partial` holds the message with every header line, so a 400 (or 505, 513, 413) can be addressed.
 */
export function parseMessage(buf: Buffer, limits: Partial<SipLimits> = DEFAULT_LIMITS): SipMessage {
  // The default limits take a short path (few bytes of code, which V8 then inlines into the caller).
  if (limits !== DEFAULT_LIMITS) return parseLimited(buf, limits);
  const head = scanner.scan(buf, MAX_HEADER_BYTES, MAX_BODY_BYTES, MAX_HEADERS);
  return head !== undefined ? fromScan(buf, head) : parseGrammar(buf, MAX_HEADER_BYTES, MAX_BODY_BYTES, MAX_HEADERS);
}

/** {@link parseMessage} under other limits; those not given are the defaults. */
function parseLimited(buf: Buffer, limits: Partial<SipLimits>): SipMessage {
  const maxHeaderBytes = limits.maxHeaderBytes ?? MAX_HEADER_BYTES;
  const maxBodyBytes = limits.maxBodyBytes ?? MAX_BODY_BYTES;
  const maxHeaders = limits.maxHeaders ?? MAX_HEADERS;
  const head = scanner.scan(buf, maxHeaderBytes, maxBodyBytes, maxHeaders);
  return head !== undefined ? fromScan(buf, head) : parseGrammar(buf, maxHeaderBytes, maxBodyBytes, maxHeaders);
}

/** Builds the message the native scanner just described (src/native/sip.ts): no fault was found. */
function fromScan(buf: Buffer, head: string): SipMessage {
  const w = RING;
  const at = scanner.at;
  const l1 = w[at + W_LINE1]!;
  const l2 = w[at + W_LINE2]!;
  const msg =
    w[at + W_KIND] === 1
      ? SipRequest.scanned(token(head, 0, w[at + W_LINE0]!, w[at + W_METHOD_TOKEN]!), l1, l2)
      : new SipResponse(w[at + W_LINE0]!, undefined, l1, l2);
  SipMessage.attachScanned(msg, buf, head, w, at, scanner.lap);
  return msg;
}

/**
 * The RFC 3261 25.1 grammar path for what the native scanner leaves (folding, single headers repeated with
 * another value, unusual start lines, every fault): it finds the first fault, its reason and status.
 */
function parseGrammar(buf: Buffer, maxHeaderBytes: number, maxBodyBytes: number, maxHeaders: number): SipMessage {
  const len = buf.length;
  let pos = 0;
  while (pos < len && (buf[pos] === 0x0d || buf[pos] === 0x0a)) pos++;
  if (pos >= len) throw new SipParseError('empty message');
  const base = pos;
  // One latin1 view of the head (string offsets are byte offsets), first over a window that holds most
  // whole messages, widened to the header limit when the empty line is not in it.
  const window = Math.min(len, pos + Math.min(8192, maxHeaderBytes + 4));
  let headLimit = window;
  let head = latin1(buf, pos, headLimit);
  if (headLimit < len && head.indexOf('\r\n\r\n') < 0 && head.indexOf('\n\n') < 0) {
    headLimit = Math.min(len, pos + maxHeaderBytes + 4);
    head = latin1(buf, pos, headLimit);
  }
  const hlen = head.length;
  let eol = head.indexOf('\n');
  if (eol < 0) eol = hlen;
  if (eol > maxHeaderBytes) throw new SipParseError('start line too long', { status: 414 });
  const line = head.slice(0, eol > 0 && head.charCodeAt(eol - 1) === 0x0d ? eol - 1 : eol);
  let fault: { reason: string; status: number } | undefined;
  let msg: SipMessage;
  if (line.startsWith('SIP/')) {
    const r = parseStatusLine(line);
    msg = new SipResponse(r.status, r.reason);
    if (r.fault) fault = { reason: r.fault, status: 400 };
  } else {
    const c0 = line.charCodeAt(0);
    if (c0 >= 128 || TOKEN[c0] !== 1) throw new SipParseError('junk before the start line');
    const r = parseRequestLine(line);
    if (!r) throw new SipParseError('junk before the start line');
    msg = new SipRequest(r.method, r.uri);
    if (r.fault) fault = r.fault;
  }
  SipMessage.attach(msg, buf, head, base, len, len);
  // Header lines up to the empty line.
  let p = eol + 1;
  let bodyStart = -1;
  let seen = 0;
  let lengthAt = -1;
  let lengthCount = 0;
  let count = 0;
  while (p < hlen) {
    let lf = head.indexOf('\n', p);
    if (lf < 0) lf = hlen;
    const le = lf > p && head.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf;
    if (le === p) {
      bodyStart = base + Math.min(lf + 1, hlen);
      if (bodyStart - base > maxHeaderBytes + 4) {
        throw new SipParseError(`headers larger than ${maxHeaderBytes} bytes`, { status: 513, partial: msg });
      }
      break;
    }
    const c0 = head.charCodeAt(p);
    if (c0 === 0x20 || c0 === 0x09) {
      if (!SipMessage.extendLast(msg, le)) fault ??= { reason: 'continuation line before any header', status: 400 };
      p = lf + 1;
      continue;
    }
    // Name: up to the colon (found natively), recognised by length and first and last letters, then
    // compared; only unknown names are checked character by character against `token`.
    const colon = head.indexOf(':', p);
    let ne = colon;
    while (ne > p && (head.charCodeAt(ne - 1) === 0x20 || head.charCodeAt(ne - 1) === 0x09)) ne--;
    const known = colon < 0 || colon > le || ne === p ? undefined : knownHeader(head, p, ne);
    let key: string;
    if (known !== undefined) key = known.key;
    else if (colon >= 0 && colon < le && ne > p && isTokenRange(head, p, ne)) key = headerKey(head.slice(p, ne));
    else {
      fault ??= { reason: `malformed header line '${head.slice(p, Math.min(le, p + 32))}'`, status: 400 };
      p = lf + 1;
      continue;
    }
    const i = colon;
    let vs = i + 1;
    let ch = head.charCodeAt(vs);
    while (vs < le && (ch === 0x20 || ch === 0x09)) ch = head.charCodeAt(++vs);
    SipMessage.pushEntry(msg, key, p, ne, vs, le);
    if (++count > maxHeaders) throw new SipParseError(`more than ${maxHeaders} header lines`, { status: 513, partial: msg });
    const bit = known !== undefined ? known.single : (SINGLE_INDEX.get(key) ?? 0);
    if (bit !== 0) {
      // A repeat of a single-valued header is a fault (RFC 4475 3.3.8) unless it repeats the same value.
      if (seen & bit && msg.header(key) !== head.slice(vs, le).trimEnd()) {
        fault ??= { reason: `${headerSpelling(key)} appears more than once`, status: 400 };
      }
      seen |= bit;
      if (key === 'content-length') {
        lengthCount++;
        lengthAt = count - 1;
      }
    }
    p = lf + 1;
  }
  if (bodyStart < 0) {
    if (headLimit < len) throw new SipParseError(`headers larger than ${maxHeaderBytes} bytes`, { status: 513, partial: msg });
    throw new SipParseError(fault?.reason ?? 'headers not ended by an empty line', { status: fault?.status ?? 400, partial: msg });
  }
  let bodyEnd = len;
  if (lengthCount > 0) {
    const t = SipMessage.entryValue(msg, lengthAt);
    if (!isDigits(t)) {
      fault ??= { reason: `Content-Length is not a number: '${t.slice(0, 20)}'`, status: 400 };
    } else if (t.length > 10 || Number(t) > maxBodyBytes) {
      fault ??= { reason: `body larger than ${maxBodyBytes} bytes`, status: 413 };
    } else if (bodyStart + Number(t) > len) {
      fault ??= { reason: 'Content-Length larger than the message', status: 400 };
    } else bodyEnd = bodyStart + Number(t);
  } else if (len - bodyStart > maxBodyBytes) {
    fault ??= { reason: `body larger than ${maxBodyBytes} bytes`, status: 413 };
  }
  SipMessage.attach(msg, buf, head, base, bodyStart, bodyEnd);
  if (fault) throw new SipParseError(fault.reason, { status: fault.status, partial: msg });
  return msg;
}

function parseStatusLine(line: string): { status: number; reason: string; fault?: string } {
  if (line.startsWith('SIP/2.0 ') && (line.length === 11 || line.charCodeAt(11) === 0x20)) {
    const status = (line.charCodeAt(8) - 0x30) * 100 + (line.charCodeAt(9) - 0x30) * 10 + (line.charCodeAt(10) - 0x30);
    if (status >= 100 && status <= 699 && isDigits(line.slice(8, 11))) return { status, reason: line.slice(12) };
  }
  const m = /^SIP\/([0-9]+\.[0-9]+) ([0-9]+)(?: (.*))?$/.exec(line);
  if (!m) return { status: 0, reason: '', fault: 'malformed Status-Line' };
  const digits = m[2]!;
  const status = Number(digits);
  if (digits.length !== 3 || status < 100 || status > 699) {
    return { status: 0, reason: m[3] ?? '', fault: `bad status code '${digits.slice(0, 12)}'` };
  }
  if (m[1] !== '2.0') return { status, reason: m[3] ?? '', fault: `unsupported SIP version ${m[1]}` };
  return { status, reason: m[3] ?? '' };
}

function parseRequestLine(
  line: string,
): { method: string; uri: string; fault?: { reason: string; status: number } } | undefined {
  const sp1 = line.indexOf(' ');
  if (sp1 <= 0) return undefined;
  const method = line.slice(0, sp1);
  if (line.endsWith(' SIP/2.0')) {
    const uri = line.slice(sp1 + 1, line.length - 8);
    if (uri.length > 0 && uri.indexOf(' ') < 0 && uri.indexOf('\t') < 0 && uri.charCodeAt(0) !== 0x3c && isToken(method)) {
      return { method, uri };
    }
  }
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return undefined;
  }
  const sp2 = line.indexOf(' ', sp1 + 1);
  const uri = sp2 < 0 ? line.slice(sp1 + 1) : line.slice(sp1 + 1, sp2);
  const version = sp2 < 0 ? '' : line.slice(sp2 + 1);
  const bad = (reason: string, status = 400) => ({ method, uri, fault: { reason, status } });
  if (uri === '') return bad('extra whitespace in the Request-Line');
  if (version.indexOf(' ') >= 0 || line.indexOf('\t') >= 0) return bad('extra whitespace in the Request-Line');
  if (uri.charCodeAt(0) === 0x3c) return bad('Request-URI enclosed in <>');
  const vm = /^SIP\/([0-9]+\.[0-9]+)$/i.exec(version);
  if (!vm) return bad('malformed Request-Line');
  if (vm[1] !== '2.0') return bad(`SIP version ${vm[1]} not supported`, 505);
  return { method, uri };
}
