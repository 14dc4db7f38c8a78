/**
 * The SIP message scanner of the native core (`native/sip/`), typed. One call per message checks the
 * framing of the common well-formed case (RFC 3261 7, 25.1) and writes offsets into one shared record:
 * start line, every header line with its name id, and the pre-split structure of the hot headers (each
 * Via value, From/To/Contact/Route/Record-Route name-addrs, CSeq, Call-ID). It never decides a fault: a
 * message it does not scan is parsed by the TypeScript grammar, which owns every verdict and error reason.
 *
 * Record layout (int32 words from the record's start; "rel" offsets are from the start line, i.e. offsets into the latin1 head):
 * `[status, base, bodyStart, bodyEnd, kind (1 request, 2 response), line0, line1, line2, headers, items,
 * itemBase, slot 1 ... slot 12, method token]`; request line0 = method end, line1/line2 = Request-URI (rel);
 * response line0 = status code, line1/line2 = reason phrase (rel); slot s = word index of the first item of
 * the names given slot s, 0 when none; method token = index of a request's method in the scanner's token
 * list, -1 when not in it (Via transports and CSeq methods are named the same way in their items). Header records from word 24, 5 words each: `[id, nameStart, nameEnd,
 * valueStart, lineEnd]` (rel; id indexes the name table, -1 when not in it). Item records from `itemBase` (relative to the record's start, right after the header records),
 * 15 words each: `[header index, header id, kind, canonical, ..., next]`, see native/sip/scanner.h; `next` (word
 * {@link SIP_ITEM_NEXT}) is the word index of the following item of the same slot, 0 when none, so the values
 * of one header are walked from its slot word without a search.
 */
import { addon, type SipScannerHandle } from './addon.js';

/** Word indexes of the record header. */
export enum SipScanWord {
  Status = 0,
  Base = 1,
  BodyStart = 2,
  BodyEnd = 3,
  Kind = 4,
  Line0 = 5,
  Line1 = 6,
  Line2 = 7,
  HeaderCount = 8,
  ItemCount = 9,
  ItemBase = 10,
  /** `SlotBase + s - 1`: word index (from the record's start) of the first item of slot `s`, 0 when none. */
  SlotBase = 11,
  /** Request: index of the method in the scanner's token list, -1 when not in it. */
  MethodToken = 23,
  FirstHeader = 24,
}

/** Highest slot number a name can be given (native/sip/scanner.h `kMaxSlot`). */
export const SIP_MAX_SLOT = 12;

/** Words per header record and per item record. */
export const SIP_HEADER_WORDS = 5;
export const SIP_ITEM_WORDS = 15;
/** Word of an item record holding the word index of the next item of the same slot (0: none). */
export const SIP_ITEM_NEXT = 14;

/** Item kinds (native/sip/scanner.h `ItemKind`). */
export enum SipItemKind {
  Via = 1,
  NameAddr = 2,
  CSeq = 3,
  CallId = 4,
}

/** Roles of named headers (native/sip/scanner.h `Role`). */
export enum SipHeaderRole {
  Other = 0,
  Via = 1,
  NameAddr = 2,
  NameAddrList = 3,
  CSeq = 4,
  CallId = 5,
  ContentLength = 6,
}

/** One entry of the name table given to the scanner. */
export interface SipNameEntry {
  /** Lower-case name as written (compact letter or full name). */
  readonly lower: string;
  /**
   * 0 when the header may repeat; else its group (1-64), the same for every spelling of one header, for
   * headers that may appear at most once (RFC 3261 7.3.1).
   */
  readonly single: number;
  readonly role: SipHeaderRole;
  /**
   * 0, or 1 to {@link SIP_MAX_SLOT}: the record then holds where the first item of the headers of this slot
   * is (word `SlotBase + slot - 1`), so a reader finds e.g. the first Via item without a search.
   */
  readonly slot?: number;
}

/** Words of the record ring (128 KiB, so it stays in the CPU cache): records are written one after another. */
const RING_WORDS = 32 * 1024;
/**
 * Words one scan may write from its start: 256 header lines and a few hundred list values. A message that
 * needs more is left to the grammar path.
 */
const RECORD_ROOM = 8 * 1024;
/** Limits of {@link SipScanner.rescan}: none (the message was accepted under the limits of its first scan). */
const NO_LIMIT = 0x7fffffff;

/** Laps of the ring are counted modulo this (so they stay small integers: V8 keeps them untagged). */
const LAP_MODULUS = 0x40000000;

/**
 * True while a record written at word `at` in lap `lap` of the ring is intact, the last scan having started
 * at word `lastAt` in lap `lastLap` (it may have written up to {@link RECORD_ROOM} words from there). Laps are
 * compared modulo {@link LAP_MODULUS}: a record held across 2^30 laps (over 10^11 messages) would alias.
 */
export function recordIntact(lastLap: number, lastAt: number, lap: number, at: number): boolean {
  const behind = (lastLap - lap) & (LAP_MODULUS - 1);
  return behind === 0 || (behind === 1 && lastAt + RECORD_ROOM <= at);
}

/**
 * A scanner bound to one name table (one per thread is enough: see src/sip/message/scan.ts). Records are
 * written one after another into a ring ({@link record}, no allocation per message): {@link scan} returns
 * where the record starts ({@link at}) and in which lap of the ring ({@link lap}); a record stays intact
 * until the ring has come round to it, which {@link intact} tells. A reader holding an older record scans
 * the same bytes again ({@link rescan}), which gives the same record at a new place.
 */
export class SipScanner {
  /** The ring the records are written into. */
  readonly record = new Int32Array(RING_WORDS);
  /** Word index in {@link record} of the record of the last successful {@link scan}. */
  at = 0;
  /** Lap of the ring (times it was restarted from word 0, modulo 2^30) in which that record was written. */
  lap = 0;
  /** Where the next scan writes: ring index and lap. */
  private next = 0;
  private nextLap = 0;
  /** Where the last scan started, successful or not (it may have written up to RECORD_ROOM words). */
  private lastAt = 0;
  private lastLap = 0;
  private maxHeaderBytes = 32 * 1024;
  private maxBodyBytes = 64 * 1024;
  private maxHeaders = 256;
  private readonly handle: SipScannerHandle;
  /** The native scan function bound to this scanner (no handle argument to unwrap per message). */
  private readonly scanFn: (buf: Uint8Array, at: number) => string | undefined;

  /**
   * `tokens` (up to 64 strings of 1-16 bytes, matched case-sensitively): request methods, Via transports and
   * CSeq methods equal to one of them are named in the record by its index, so the reader reuses the string.
   * The scanner uses AVX2 where the CPU has it; `options.baselineSimd` keeps it to the x86-64 baseline (the
   * records are the same: tests compare the two).
   */
  constructor(names: readonly SipNameEntry[], tokens: readonly string[] = [], options: { baselineSimd?: boolean } = {}) {
    this.handle = addon.sipInit(
      names.map((n) => n.lower),
      Uint8Array.from(names, (n) => n.single),
      Uint8Array.from(names, (n) => n.role),
      Uint8Array.from(names, (n) => n.slot ?? 0),
      this.record,
      RECORD_ROOM,
      tokens,
      options.baselineSimd === true,
    );
    this.scanFn = addon.sipScanFunction(this.handle);
  }

  /**
   * Scans `buf`. When scanned, returns its start line and headers as a latin1 string (string offsets are the
   * record's "rel" offsets) and sets {@link at} and {@link lap}; `undefined` when the grammar path must
   * parse it.
   */
  scan(buf: Uint8Array, maxHeaderBytes: number, maxBodyBytes: number, maxHeaders: number): string | undefined {
    if (maxHeaderBytes !== this.maxHeaderBytes || maxBodyBytes !== this.maxBodyBytes || maxHeaders !== this.maxHeaders) {
      this.limits(maxHeaderBytes, maxBodyBytes, maxHeaders);
    }
    let at = this.next;
    if (at > RING_WORDS - RECORD_ROOM) {
      this.nextLap = (this.nextLap + 1) & (LAP_MODULUS - 1);
      at = this.next = 0;
    }
    this.lastAt = at;
    this.lastLap = this.nextLap;
    const head = this.scanFn(buf, at);
    if (head === undefined) return undefined;
    const w = this.record;
    const used = w[at + SipScanWord.ItemBase]! + w[at + SipScanWord.ItemCount]! * SIP_ITEM_WORDS;
    this.at = at;
    this.lap = this.nextLap;
    this.next = at + used;
    return head;
  }

  /** True while the record that {@link scan} placed at word `at` in lap `lap` has not been written over. */
  intact(lap: number, at: number): boolean {
    return recordIntact(this.lastLap, this.lastAt, lap, at);
  }

  /**
   * Scans again bytes that an earlier {@link scan} accepted, with no limits (those of the first scan were
   * met): the same record, now at {@link at}; `undefined` only if `buf` changed since.
   */
  rescan(buf: Uint8Array): string | undefined {
    const { maxHeaderBytes, maxBodyBytes, maxHeaders } = this;
    const head = this.scan(buf, NO_LIMIT, NO_LIMIT, NO_LIMIT);
    this.limits(maxHeaderBytes, maxBodyBytes, maxHeaders);
    return head;
  }

  private limits(maxHeaderBytes: number, maxBodyBytes: number, maxHeaders: number): void {
    this.maxHeaderBytes = maxHeaderBytes;
    this.maxBodyBytes = maxBodyBytes;
    this.maxHeaders = maxHeaders;
    addon.sipLimits(this.handle, clamp(maxHeaderBytes), clamp(maxBodyBytes), clamp(maxHeaders));
  }
}

/** Limits beyond int32 mean "no limit" to the scanner. */
function clamp(n: number): number {
  return n >= 0x7fffffff ? 0x7fffffff : n < 0 ? 0 : Math.floor(n);
}
