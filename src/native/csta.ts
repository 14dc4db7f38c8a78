/**
 * CSTA XML over TCP: the frame reader and event scanner of the native core (`native/csta/`), typed.
 *
 * Framing (the de-facto "CSTA XML without SOAP" transport of OpenScape Voice/Business, HiPath, Zultys and
 * Avaya AES; ECMA-323 messages): every frame is an 8-byte header, bytes 0-1 `00 00`, bytes 2-3 the total
 * length INCLUDING the header as uint16 big-endian, bytes 4-7 the invokeID as 4 ASCII digits, then one
 * XML document. The scanner matches local element names only, so every ECMA-323 edition (ed2 to ed6) and
 * vendor namespace typos decode alike.
 *
 * Errors and resynchronisation:
 * - `CTI_ERR_FRAME_MAGIC` (bytes 0-1 not `00 00`), `CTI_ERR_FRAME_LENGTH` (length field <= 8),
 *   `CTI_ERR_FRAME_TOO_LARGE` (length above `maxFrameBytes`), `CTI_ERR_INVOKE_ID` (non-digit invokeID):
 *   the header cannot be trusted, so the reader hunts for the next plausible header (`00 00`, a length in
 *   range, 4 digits, then `<`) and counts the bytes it skips (`stats.skippedBytes`). Not fatal.
 * - `CTI_ERR_FRAME_LENGTH` also when the document ends before the frame does (a stale length field that
 *   swallowed the start of the next frame): the reader resynchronises from the end of the document. Not fatal.
 * - `CTI_ERR_XML`: the body is not well-formed enough to scan (no root, unbalanced or mismatched tags,
 *   truncated markup). The frame boundary was sound, so only that frame is dropped. Not fatal.
 * - `CTI_ERR_RESYNC`: no plausible header within `maxResyncBytes`; the stream is garbage. FATAL: the reader
 *   closes (further input is ignored) and the link must close with this error as its reason.
 * - `CTI_ERR_FRAME_TRUNCATED`: reported by {@link CstaFrameReader.end} when the stream ended inside a frame.
 *
 * Messages hold views into the pushed chunks (no copy): a caller must not reuse a chunk's memory after
 * pushing it (sockets and file reads hand over fresh buffers).
 */
import { SwitchhookError } from '../util/errors.js';
import type { Counter, MetricsRegistry } from '../util/metrics.js';
import { addon } from './addon.js';

/** A ConnectionID (ECMA-269 §6.1.3: callID + deviceID) and the local name of the element wrapping it. */
export interface CstaConnectionRef {
  /** e.g. 'connection', 'establishedConnection', 'droppedConnection', 'heldConnection', 'callToBeAnswered'. */
  role: string;
  /** Opaque call identifier; '' when the element carried only a deviceID. */
  callId: string;
  /** Opaque device identifier; '' when the element carried only a callID. */
  deviceId: string;
}

/** A device in a role, e.g. `<callingDevice><deviceIdentifier>X</deviceIdentifier></callingDevice>`. */
export interface CstaDeviceRef {
  /** Local name of the element holding the device: 'callingDevice', 'alertingDevice', 'newDestination' ... */
  role: string;
  /** Text of `<deviceIdentifier>` (or `<device>`, `<numberDialed>`) when wrapped, else the element's text. */
  id: string;
}

/** One `<connectionListItem>` of a TransferedEvent's `<transferredConnections>` (ECMA-269 §17.2.21). */
export interface CstaTransferredConnection {
  newCallId?: string;
  newDeviceId?: string;
  oldCallId?: string;
  oldDeviceId?: string;
}

/** What the CTI core needs from one CSTA XML message (ECMA-323), scanned natively. */
export interface CstaMessage {
  /** From the 8-byte header; 9999 for unsolicited events on OpenScape Voice. */
  invokeId: number;
  /** Local name of the root element, e.g. 'DeliveredEvent', 'MakeCallResponse', 'CSTAErrorCode'. */
  root: string;
  monitorCrossRefId?: string;
  connections: CstaConnectionRef[];
  devices: CstaDeviceRef[];
  localConnectionInfo?: string;
  cause?: string;
  transferredConnections: CstaTransferredConnection[];
  /**
   * Every other leaf element's text by local name, first occurrence wins (e.g. 'systemStatus',
   * 'sysStatRegisterID', 'sessionID', 'forwardingType', for CSTAErrorCode the error child such as 'operation').
   */
  fields: Record<string, string>;
  /** View (subarray, no copy) of the frame's XML body. */
  xml: Buffer;
}

/** Stable codes of {@link CstaFrameError}. */
export type CstaFrameErrorCode =
  | 'CTI_ERR_FRAME_MAGIC'
  | 'CTI_ERR_FRAME_LENGTH'
  | 'CTI_ERR_FRAME_TOO_LARGE'
  | 'CTI_ERR_INVOKE_ID'
  | 'CTI_ERR_XML'
  | 'CTI_ERR_RESYNC'
  | 'CTI_ERR_FRAME_TRUNCATED';

/** A bad frame on a CSTA link. `fatal` means the stream cannot resynchronise: close the link with it. */
export class CstaFrameError extends SwitchhookError {
  declare readonly code: CstaFrameErrorCode;
  /** The stream cannot resynchronise; the link must close with this error as the reason. */
  readonly fatal: boolean;
  /** Offset in the stream (bytes pushed before) where the bad frame starts. */
  readonly offset: number;
  /** invokeID of the frame when its header was sound. */
  readonly invokeId?: number;

  constructor(code: CstaFrameErrorCode, message: string, opts: { fatal: boolean; offset: number; invokeId?: number }) {
    super(code, message);
    this.fatal = opts.fatal;
    this.offset = opts.offset;
    if (opts.invokeId !== undefined) this.invokeId = opts.invokeId;
  }
}

/** Options of {@link CstaFrameReader}. */
export interface CstaFrameReaderOptions {
  /** Largest accepted frame, header included (9 to 65535, the uint16 length field's range); default 65535. */
  maxFrameBytes?: number;
  /** Bytes one resynchronisation may skip before the stream is declared garbage (fatal); default 262144. */
  maxResyncBytes?: number;
  /**
   * Slots of the stream's string cache (a power of two, 0 disables it; default 4096, 64 bytes each):
   * repeated names and values (callIDs, device identifiers, causes) become JS strings once.
   */
  stringCacheSlots?: number;
  /** Counts frames, bad frames by code and skipped bytes. */
  metrics?: MetricsRegistry;
}

// Batch layout: mirrors native/csta/scanner.h.
const HDR_CONSUMED = 0;
const HDR_SKIPPED = 2;
const HDR_FATAL = 5;
const HDR_USED = 6;
const HDR_FULL = 7;
const HDR_DEFS = 8;
const HDR_WORDS = 9;
const CACHE_SLOT_BYTES = 64;
const TAG_MESSAGE = 1;
const MESSAGE_HEAD = 7;
const RECORD_WORDS = 9;
const REC_CROSSREF = 1;
const REC_CONNECTION = 2;
const REC_DEVICE = 3;
const REC_LCI = 4;
const REC_CAUSE = 5;
const REC_TRANSFERRED = 6;
const REC_FIELD = 7;

const ERROR_CODES: readonly (CstaFrameErrorCode | undefined)[] = [
  undefined,
  'CTI_ERR_FRAME_MAGIC',
  'CTI_ERR_FRAME_LENGTH',
  'CTI_ERR_FRAME_TOO_LARGE',
  'CTI_ERR_INVOKE_ID',
  'CTI_ERR_XML',
  'CTI_ERR_RESYNC',
];

const XML_PROBLEMS: readonly string[] = [
  'unknown problem',
  'no root element',
  'document ends inside markup or with open elements',
  'end tag does not match the open element',
  'bad markup after <',
  'elements nested too deep',
  'text outside the root element',
  'bad attribute syntax',
];

type Utf8Slicer = (this: Buffer, start: number, end: number) => string;
const utf8Slice: Utf8Slicer =
  (Buffer.prototype as unknown as { utf8Slice?: Utf8Slicer }).utf8Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('utf8', start, end);
  };

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const ENTITY = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([A-Za-z]+));/g;

function decodeEntities(text: string): string {
  return text.replace(ENTITY, (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return Object.hasOwn(NAMED_ENTITIES, name) ? NAMED_ENTITIES[name]! : whole;
    const code = hex !== undefined ? parseInt(hex, 16) : parseInt(dec!, 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/**
 * Decodes the text of an element that holds entity references, CDATA sections or comments (XML 1.0 §2.4,
 * §2.5, §2.7, §4.1): comments go, CDATA content stays verbatim, entities outside CDATA are replaced.
 */
export function decodeXmlText(raw: string): string {
  if (raw.indexOf('<') < 0) return decodeEntities(raw);
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const lt = raw.indexOf('<', i);
    if (lt < 0) {
      out += decodeEntities(raw.slice(i));
      break;
    }
    out += decodeEntities(raw.slice(i, lt));
    if (raw.startsWith('<![CDATA[', lt)) {
      const end = raw.indexOf(']]>', lt + 9);
      out += raw.slice(lt + 9, end < 0 ? raw.length : end);
      i = end < 0 ? raw.length : end + 3;
    } else if (raw.startsWith('<!--', lt)) {
      const end = raw.indexOf('-->', lt + 4);
      i = end < 0 ? raw.length : end + 3;
    } else {
      out += '<';
      i = lt + 1;
    }
  }
  return out.trim();
}

/** Record kinds of a {@link CstaBatch} (mirrors native/csta/scanner.h). */
export const CstaRecordKind = {
  /** v0 = monitorCrossRefID */
  CrossRef: 1,
  /** v0 = role element name, v1 = callID, v2 = deviceID */
  Connection: 2,
  /** v0 = role element name, v1 = device identifier */
  Device: 3,
  /** v0 = localConnectionInfo */
  LocalConnectionInfo: 4,
  /** v0 = cause */
  Cause: 5,
  /** v0 = new callID, v1 = new deviceID, v2 = old callID, v3 = old deviceID */
  Transferred: 6,
  /** v0 = leaf element name, v1 = text */
  Field: 7,
} as const;

/** Words of one record in {@link CstaBatch.words}. */
export const CSTA_RECORD_WORDS = RECORD_WORDS;

/**
 * Reads the batch a native scan wrote: `words` is the batch (header + entries), `data` the scanned bytes.
 * The low-level face of the scanner, for hot paths that want to avoid building {@link CstaMessage} objects:
 * a message entry at word `at` holds records from {@link firstRecord} to {@link endRecord}, each
 * {@link CSTA_RECORD_WORDS} words, of kind {@link kind} with values read by {@link value}. Values are
 * slices of `data`, decoded bytes in the scratch area or slots of the stream's string cache, so a batch is
 * only valid inside the callback that received it.
 */
export class CstaBatch {
  constructor(
    /** The bytes the scan ran over. */
    readonly data: Buffer,
    /** The batch words (a view of the reader's array). */
    readonly words: Int32Array,
    /** The stream's string cache, by slot. */
    readonly strings: string[],
    /** Decoded values of this batch. */
    readonly scratch: Buffer,
  ) {}

  private stable: Int32Array | undefined;

  /** A copy of the batch words that outlives the batch (made once per batch). */
  stableWords(): Int32Array {
    return (this.stable ??= this.words.slice());
  }

  /** invokeID of the message at `at`. */
  invokeId(at: number): number {
    return this.words[at + 2]!;
  }

  /** Local name of the root element of the message at `at`. */
  root(at: number): string {
    return this.text(this.words[at + 5]!, this.words[at + 6]!, 0);
  }

  /** Word index of the first record of the message at `at`. */
  firstRecord(at: number): number {
    return at + MESSAGE_HEAD;
  }

  /** Word index after the last record of the message at `at`. */
  endRecord(at: number): number {
    return at + this.words[at + 1]!;
  }

  /** Kind ({@link CstaRecordKind}) of the record at word `r`. */
  kind(r: number): number {
    return this.words[r]! & 0xff;
  }

  /** Value `i` (0-3) of the record at word `r`; undefined when absent. */
  value(r: number, i: number): string | undefined {
    const s = this.words[r + 1 + 2 * i]!;
    const l = this.words[r + 2 + 2 * i]!;
    if (s < 0) return undefined;
    return this.text(s, l, (this.words[r]! >> (8 + 2 * i)) & 3);
  }

  /** The string of a value given as (`s`, `l`) words and its 2-bit `how` (see native/csta/scanner.h). */
  text(s: number, l: number, how: number): string {
    if (l < 0) return this.strings[s]!;
    if (l === 0) return '';
    if (how === 2) return utf8Slice.call(this.scratch, s, s + l);
    const raw = utf8Slice.call(this.data, s, s + l);
    return how === 0 ? raw : decodeXmlText(raw);
  }

  /**
   * Builds the {@link CstaMessage} of the message entry at word index `at`. Its `fields` and `xml` are built
   * on first read (from a copy of the batch words, so the message outlives the batch).
   */
  message(at: number): CstaMessage {
    const w = this.words;
    const end = at + w[at + 1]!;
    const xmlStart = w[at + 3]!;
    const connections: CstaConnectionRef[] = [];
    const devices: CstaDeviceRef[] = [];
    const transferredConnections: CstaTransferredConnection[] = [];
    let monitorCrossRefId: string | undefined;
    let localConnectionInfo: string | undefined;
    let cause: string | undefined;
    let hasFields = false;
    for (let r = at + MESSAGE_HEAD; r < end; r += RECORD_WORDS) {
      const kind = w[r]! & 0xff;
      const flags = w[r]! >> 8;
      switch (kind) {
        case REC_CROSSREF:
          monitorCrossRefId = this.text(w[r + 1]!, w[r + 2]!, flags & 3);
          break;
        case REC_CONNECTION:
          connections.push({
            role: this.text(w[r + 1]!, w[r + 2]!, flags & 3),
            callId: this.text(w[r + 3]!, w[r + 4]!, (flags >> 2) & 3),
            deviceId: this.text(w[r + 5]!, w[r + 6]!, (flags >> 4) & 3),
          });
          break;
        case REC_DEVICE:
          devices.push({ role: this.text(w[r + 1]!, w[r + 2]!, flags & 3), id: this.text(w[r + 3]!, w[r + 4]!, (flags >> 2) & 3) });
          break;
        case REC_LCI:
          localConnectionInfo = this.text(w[r + 1]!, w[r + 2]!, flags & 3);
          break;
        case REC_CAUSE:
          cause = this.text(w[r + 1]!, w[r + 2]!, flags & 3);
          break;
        case REC_TRANSFERRED: {
          const item: CstaTransferredConnection = {};
          if (w[r + 1]! >= 0) item.newCallId = this.text(w[r + 1]!, w[r + 2]!, flags & 3);
          if (w[r + 3]! >= 0) item.newDeviceId = this.text(w[r + 3]!, w[r + 4]!, (flags >> 2) & 3);
          if (w[r + 5]! >= 0) item.oldCallId = this.text(w[r + 5]!, w[r + 6]!, (flags >> 4) & 3);
          if (w[r + 7]! >= 0) item.oldDeviceId = this.text(w[r + 7]!, w[r + 8]!, (flags >> 6) & 3);
          transferredConnections.push(item);
          break;
        }
        case REC_FIELD:
          hasFields = true;
          break;
        default:
          throw new Error(`csta batch: unknown record kind ${kind}`);
      }
    }
    const msg = new ScannedMessage(
      w[at + 2]!,
      this.root(at),
      connections,
      devices,
      transferredConnections,
      this.data,
      xmlStart,
      w[at + 4]!,
      hasFields ? this.stableWords() : undefined,
      at,
    );
    if (monitorCrossRefId !== undefined) msg.monitorCrossRefId = monitorCrossRefId;
    if (localConnectionInfo !== undefined) msg.localConnectionInfo = localConnectionInfo;
    if (cause !== undefined) msg.cause = cause;
    return msg;
  }
}

/**
 * A scanned message: plain data properties, with `fields` and `xml` built on first read. `toJSON()` includes
 * both (the XML as text), so `JSON.stringify` shows the whole message.
 */
class ScannedMessage implements CstaMessage {
  monitorCrossRefId?: string;
  localConnectionInfo?: string;
  cause?: string;
  readonly #data: Buffer;
  readonly #words: Int32Array | undefined;
  readonly #at: number;
  readonly #xmlStart: number;
  readonly #xmlEnd: number;
  #fields: Record<string, string> | undefined;
  #xml: Buffer | undefined;

  constructor(
    public invokeId: number,
    public root: string,
    public connections: CstaConnectionRef[],
    public devices: CstaDeviceRef[],
    public transferredConnections: CstaTransferredConnection[],
    data: Buffer,
    xmlStart: number,
    xmlEnd: number,
    words: Int32Array | undefined,
    at: number,
  ) {
    this.#data = data;
    this.#xmlStart = xmlStart;
    this.#xmlEnd = xmlEnd;
    this.#words = words;
    this.#at = at;
  }

  get fields(): Record<string, string> {
    if (this.#fields === undefined) {
      const w = this.#words;
      this.#fields = w ? buildFields(this.#data, w, this.#at + MESSAGE_HEAD, this.#at + w[this.#at + 1]!) : {};
    }
    return this.#fields;
  }

  set fields(value: Record<string, string>) {
    this.#fields = value;
  }

  get xml(): Buffer {
    return (this.#xml ??= this.#data.subarray(this.#xmlStart, this.#xmlEnd));
  }

  set xml(value: Buffer) {
    this.#xml = value;
  }

  toJSON(): Record<string, unknown> {
    return { ...(this as object), fields: this.fields, xml: this.xml.toString('utf8') };
  }
}

/** The `fields` of a message from a copy of its records: every FIELD record, first occurrence wins. */
function buildFields(data: Buffer, w: Int32Array, first: number, end: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let r = first; r < end; r += RECORD_WORDS) {
    if ((w[r]! & 0xff) !== REC_FIELD) continue;
    const name = w[r + 2]! === 0 ? '' : utf8Slice.call(data, w[r + 1]!, w[r + 1]! + w[r + 2]!);
    if (Object.hasOwn(fields, name)) continue;
    const l = w[r + 4]!;
    const raw = l === 0 ? '' : utf8Slice.call(data, w[r + 3]!, w[r + 3]! + l);
    // The scanner flags CDATA and comments in these leaves but leaves entity references to be found here.
    const text = (w[r]! >> 10) & 3 || raw.includes('&') ? decodeXmlText(raw) : raw;
    // defineProperty: an element named __proto__ is a field like any other.
    Object.defineProperty(fields, name, { value: text, enumerable: true, writable: true, configurable: true });
  }
  return fields;
}

/**
 * Splits one CSTA XML byte stream (one TCP direction) into messages. Each {@link push} is one native
 * call that scans every frame the chunk completes and returns them as a batch.
 */
export class CstaFrameReader {
  /** Frames decoded, bad frames, bytes pushed, bytes skipped while resynchronising. */
  readonly stats = { frames: 0, errors: 0, bytes: 0, skippedBytes: 0 };
  private readonly maxFrameBytes: number;
  private readonly maxResyncBytes: number;
  /** [resyncing, bytes skipped in this resync, cache generation]: see native/csta/binding.cpp. */
  private readonly state = new Int32Array(3);
  private readonly cache: Uint8Array;
  private readonly scratch: Buffer;
  private readonly strings: string[];
  private out = new Int32Array(1 << 14);
  /** Bytes of an incomplete frame (or of a possible header while resynchronising), in arrival order. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Stream offset of the first byte of `pending` (or of the next chunk). */
  private base = 0;
  private fatalError: CstaFrameError | undefined;
  private readonly counters: { frames: Counter; errors: Counter; skipped: Counter } | undefined;

  constructor(opts: CstaFrameReaderOptions = {}) {
    const max = opts.maxFrameBytes ?? 65535;
    if (!Number.isInteger(max) || max < 9 || max > 65535) throw new RangeError(`maxFrameBytes must be 9..65535, got ${max}`);
    const resync = opts.maxResyncBytes ?? 262144;
    if (!Number.isInteger(resync) || resync < 1 || resync > 0x7fffffff) throw new RangeError(`bad maxResyncBytes ${resync}`);
    this.maxFrameBytes = max;
    this.maxResyncBytes = resync;
    const slots = opts.stringCacheSlots ?? 4096;
    if (!Number.isInteger(slots) || slots < 0 || slots > 1 << 20 || (slots & (slots - 1)) !== 0) {
      throw new RangeError(`stringCacheSlots must be 0 or a power of two up to 2^20, got ${slots}`);
    }
    this.cache = new Uint8Array(slots * CACHE_SLOT_BYTES);
    // Decoded values of one batch; when it runs out, values are decoded in TypeScript instead.
    this.scratch = Buffer.alloc(65536);
    this.strings = new Array<string>(slots).fill('');
    if (opts.metrics) {
      this.counters = {
        frames: opts.metrics.counter('switchhook_cti_frames_total', 'CSTA frames decoded'),
        errors: opts.metrics.counter('switchhook_cti_frame_errors_total', 'Bad CSTA frames, by error code'),
        skipped: opts.metrics.counter('switchhook_cti_resync_skipped_bytes_total', 'Bytes skipped while resynchronising a CSTA stream'),
      };
    }
  }

  /** The fatal error that closed this reader, if any; input after it is ignored. */
  get closedBy(): CstaFrameError | undefined {
    return this.fatalError;
  }

  /**
   * Feeds bytes; returns the messages completed by this chunk (one native call) and the bad frames.
   * `fields` and `xml` of a message are accessors built on first read: read them by name (a spread
   * `{...message}` leaves them out; `JSON.stringify` includes them).
   */
  push(chunk: Buffer): { messages: CstaMessage[]; errors: CstaFrameError[] } {
    const messages: CstaMessage[] = [];
    const errors: CstaFrameError[] = [];
    this.scan(chunk, (batch, at) => void messages.push(batch.message(at)), errors);
    return { messages, errors };
  }

  /**
   * The hot-path face of {@link push}: hands each batch and the word index of each message entry to
   * `onMessage` instead of building {@link CstaMessage} objects (read them with {@link CstaBatch.message} or
   * straight from {@link CstaBatch.words}). Bad frames go to `onError` in stream order among the messages,
   * and are returned.
   */
  pushBatch(
    chunk: Buffer,
    onMessage: (batch: CstaBatch, at: number) => void,
    onError?: (error: CstaFrameError) => void,
  ): CstaFrameError[] {
    const errors: CstaFrameError[] = [];
    this.scan(chunk, onMessage, errors, onError);
    return errors;
  }

  /**
   * Drops any partial frame and hunts for the next plausible header, e.g. after bytes of the stream were
   * lost (a capture gap). The dropped bytes count as skipped.
   */
  resynchronise(): void {
    const left = this.pendingLength;
    this.stats.skippedBytes += left;
    if (left > 0) this.counters?.skipped.inc(undefined, left);
    this.base += left;
    this.pending = [];
    this.pendingLength = 0;
    this.state[0] = 1;
    this.state[1] = 0;
  }

  /** Ends the stream: reports a frame left incomplete (`CTI_ERR_FRAME_TRUNCATED`) and resets the reader. */
  end(): CstaFrameError[] {
    const errors: CstaFrameError[] = [];
    const left = this.pendingLength;
    if (left > 0 && this.state[0] === 0 && !this.fatalError) {
      const p = Buffer.concat(this.pending);
      const declared = p.length >= 4 ? p.readUInt16BE(2) : undefined;
      const err = new CstaFrameError(
        'CTI_ERR_FRAME_TRUNCATED',
        `stream ended inside a frame: ${left} bytes${declared !== undefined ? ` of ${declared} declared` : ''}`,
        { fatal: false, offset: this.base },
      );
      this.count(err);
      errors.push(err);
    } else if (left > 0) {
      this.stats.skippedBytes += left;
      this.counters?.skipped.inc(undefined, left);
    }
    this.base += left;
    this.pending = [];
    this.pendingLength = 0;
    this.state[0] = 0;
    this.state[1] = 0;
    return errors;
  }

  private scan(
    chunk: Buffer,
    onMessage: (batch: CstaBatch, at: number) => void,
    errors: CstaFrameError[],
    onError?: (error: CstaFrameError) => void,
  ): void {
    this.stats.bytes += chunk.length;
    if (this.fatalError) {
      this.base += chunk.length;
      return;
    }
    const parts = this.pending;
    if (parts.length > 0) {
      // A frame started in earlier chunks: join only its own bytes, not the whole new chunk.
      const first = parts[0]!;
      const need = this.state[0] === 0 && first.length >= 8 ? first.readUInt16BE(2) - this.pendingLength : -1;
      this.pending = [];
      this.pendingLength = 0;
      if (need > chunk.length) {
        parts.push(chunk);
        this.pending = parts;
        this.pendingLength = parts.reduce((n, p) => n + p.length, 0);
        return;
      }
      if (need > 0) {
        parts.push(chunk.subarray(0, need));
        const rest = this.scanBuffer(Buffer.concat(parts), onMessage, errors, onError);
        chunk = rest.length > 0 ? Buffer.concat([rest, chunk.subarray(need)]) : chunk.subarray(need);
      } else {
        parts.push(chunk);
        chunk = Buffer.concat(parts);
      }
      if (this.fatalError) return;
    }
    const rest = this.scanBuffer(chunk, onMessage, errors, onError);
    if (rest.length > 0) {
      this.pending = [rest];
      this.pendingLength = rest.length;
    }
  }

  /** Scans `buf` (one native call, more when the batch array fills up); returns the bytes left unscanned. */
  private scanBuffer(
    buf: Buffer,
    onMessage: (batch: CstaBatch, at: number) => void,
    errors: CstaFrameError[],
    onError?: (error: CstaFrameError) => void,
  ): Buffer {
    for (;;) {
      this.state[2] = this.state[2]! >= 0x7fffffff ? 1 : this.state[2]! + 1;
      addon.cstaScan(buf, this.out, this.state, this.maxFrameBytes, this.maxResyncBytes, this.cache, this.scratch);
      const out = this.out;
      const defs = out[HDR_DEFS]!;
      for (let i = 1, d = out.length - 4; i <= defs; i++, d -= 4) {
        const how = out[d + 3]!;
        const raw = utf8Slice.call(how === 2 ? this.scratch : buf, out[d + 1]!, out[d + 1]! + out[d + 2]!);
        this.strings[out[d]!] = how === 1 ? decodeXmlText(raw) : raw;
      }
      const consumed = out[HDR_CONSUMED]!;
      const used = out[HDR_USED]!;
      const skipped = out[HDR_SKIPPED]!;
      if (skipped > 0) {
        this.stats.skippedBytes += skipped;
        this.counters?.skipped.inc(undefined, skipped);
      }
      if (used > HDR_WORDS) {
        // A view, not a copy: a batch is only valid inside the callbacks below.
        const w = out.subarray(0, used);
        const batch = new CstaBatch(buf, w, this.strings, this.scratch);
        for (let at = HDR_WORDS; at < used; at += w[at + 1]!) {
          if (w[at] === TAG_MESSAGE) {
            this.stats.frames++;
            this.counters?.frames.inc();
            onMessage(batch, at);
          } else {
            const err = this.error(w, at);
            this.count(err);
            errors.push(err);
            if (err.fatal) this.fatalError = err;
            onError?.(err);
          }
        }
      }
      this.base += consumed;
      buf = buf.subarray(consumed);
      if (out[HDR_FATAL] === 1) {
        this.base += buf.length;
        return buf.subarray(buf.length);
      }
      if (out[HDR_FULL] !== 1) return buf;
      if (consumed === 0) this.out = new Int32Array(this.out.length * 2);
    }
  }

  private count(err: CstaFrameError): void {
    this.stats.errors++;
    this.counters?.errors.inc({ code: err.code });
  }

  private error(w: Int32Array, at: number): CstaFrameError {
    const code = ERROR_CODES[w[at + 2]!] ?? 'CTI_ERR_XML';
    const offset = this.base + w[at + 3]!;
    const invokeId = w[at + 4]! >= 0 ? w[at + 4]! : undefined;
    const detail = w[at + 5]!;
    const fatal = w[at + 6] === 1;
    let message: string;
    switch (code) {
      case 'CTI_ERR_FRAME_MAGIC':
        message = `frame header does not start with 00 00 (got ${detail.toString(16).padStart(4, '0')})`;
        break;
      case 'CTI_ERR_FRAME_LENGTH':
        message = detail <= 8 ? `frame length ${detail} is not above the 8-byte header` : `frame length ${detail} does not match the XML document inside it`;
        break;
      case 'CTI_ERR_FRAME_TOO_LARGE':
        message = `frame length ${detail} exceeds the ${this.maxFrameBytes}-byte cap`;
        break;
      case 'CTI_ERR_INVOKE_ID':
        message = 'invokeID is not 4 ASCII digits';
        break;
      case 'CTI_ERR_XML':
        message = `malformed XML in frame: ${XML_PROBLEMS[detail] ?? XML_PROBLEMS[0]}`;
        break;
      case 'CTI_ERR_RESYNC':
        message = `no CSTA frame header found in ${detail} bytes; closing the stream`;
        break;
      default:
        throw new Error(`unexpected CSTA error code ${String(code)} from the scanner`);
    }
    return new CstaFrameError(code, `${message} at stream offset ${offset}`, { fatal, offset, ...(invokeId !== undefined ? { invokeId } : {}) });
  }
}

/**
 * Frames one CSTA XML message: `00 00`, uint16 big-endian total length (header included), the invokeID as
 * 4 ASCII digits, then the UTF-8 body. Throws a RangeError for an invokeID outside 0..9999 or a frame
 * longer than 65535 bytes.
 */
export function encodeCstaFrame(invokeId: number, xml: string | Buffer): Buffer {
  if (!Number.isInteger(invokeId) || invokeId < 0 || invokeId > 9999) throw new RangeError(`invokeID must be 0..9999, got ${invokeId}`);
  const bodyLength = typeof xml === 'string' ? Buffer.byteLength(xml, 'utf8') : xml.length;
  const total = bodyLength + 8;
  if (total > 0xffff) throw new RangeError(`CSTA frame of ${total} bytes exceeds the 65535-byte length field`);
  const frame = Buffer.allocUnsafe(total);
  frame[0] = 0;
  frame[1] = 0;
  frame.writeUInt16BE(total, 2);
  frame.write(String(invokeId).padStart(4, '0'), 4, 'latin1');
  if (typeof xml === 'string') frame.write(xml, 8, 'utf8');
  else xml.copy(frame, 8);
  return frame;
}

/**
 * Scans one unframed CSTA XML document (e.g. the `application/csta+xml` body of a SIP INFO, ECMA TR/87
 * uaCSTA) with the same native scanner as the TCP link: the body is framed with invokeID 0 and pushed
 * through a shared {@link CstaFrameReader} (each push is one whole frame, so the reader is back at a frame
 * boundary after it; it is replaced after any error). Throws the scanner's {@link CstaFrameError}
 * (`CTI_ERR_XML`, `CTI_ERR_FRAME_TOO_LARGE`) for a body it cannot read.
 */
let bodyReader: CstaFrameReader | undefined;

export function scanCstaXml(xml: Buffer | string): CstaMessage {
  const length = typeof xml === 'string' ? Buffer.byteLength(xml, 'utf8') : xml.length;
  if (length === 0 || length + 8 > 0xffff) {
    throw new CstaFrameError(length === 0 ? 'CTI_ERR_XML' : 'CTI_ERR_FRAME_TOO_LARGE', `CSTA XML body of ${length} bytes cannot be scanned`, { fatal: false, offset: 0 });
  }
  const reader = (bodyReader ??= new CstaFrameReader({ stringCacheSlots: 1024 }));
  const { messages, errors } = reader.push(encodeCstaFrame(0, xml));
  if (errors.length > 0) {
    bodyReader = undefined;
    throw errors[0]!;
  }
  const m = messages[0];
  if (m === undefined) throw new CstaFrameError('CTI_ERR_XML', 'CSTA XML body holds no document', { fatal: false, offset: 0 });
  return m;
}
