/**
 * PDSV (private digital signals and voice, `docs/pdsv.md`): typed encoders for signal, voice and link
 * frames, and a streaming {@link PdsvDecoder} over the native deframer that returns each push's events
 * and errors as one batch. Voice is carried natively; here it is only counted unless asked for.
 *
 * Frame check: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, check value 0x29B1 over "123456789").
 * Codec numbers follow RTP payload types (RFC 3551 §6: PCMU = 0, PCMA = 8).
 */
import { SwitchhookError } from '../util/errors.js';
import { addon, type NativePdsvDecoder } from './addon.js';
import { G711Law } from './g711.js';

/** Which way a frame travels. */
export enum PdsvDirection {
  /** Gateway to phone (downstream): display, lamps, ringer, tones. */
  ToPhone = 'to-phone',
  /** Phone to gateway (upstream): hook, keys. */
  ToGateway = 'to-gateway',
}

export enum PdsvHookState {
  OnHook = 'on-hook',
  OffHook = 'off-hook',
  Flash = 'flash',
}

export enum PdsvLampState {
  Off = 'off',
  On = 'on',
  Flash = 'flash',
  Wink = 'wink',
}

export enum PdsvRingCadence {
  Normal = 'normal',
  Internal = 'internal',
  Priority = 'priority',
}

export enum PdsvTone {
  Off = 'off',
  Dial = 'dial',
  Ringback = 'ringback',
  Busy = 'busy',
  Reorder = 'reorder',
  CallWaiting = 'call-waiting',
  Confirm = 'confirm',
}

export enum PdsvLinkKind {
  KeepAlive = 'keepalive',
  KeepAliveAck = 'keepalive-ack',
}

export enum PdsvLinkStatus {
  InService = 'in-service',
  OutOfService = 'out-of-service',
}

/** What a sequence error is about (docs/pdsv.md §6). */
export enum PdsvSequenceIssue {
  /** Frames are missing before this one; the frame itself was delivered. */
  Gap = 'gap',
  /** The same sequence number again; dropped. */
  Duplicate = 'duplicate',
  /** Older than the last frame (reordered); dropped. */
  Late = 'late',
}

/** Stable error codes of the PDSV family. */
export const PdsvErrorCode = {
  Sync: 'PDSV_ERR_SYNC',
  Crc: 'PDSV_ERR_CRC',
  Length: 'PDSV_ERR_LENGTH',
  Truncated: 'PDSV_ERR_TRUNCATED',
  Version: 'PDSV_ERR_VERSION',
  Type: 'PDSV_ERR_TYPE',
  Field: 'PDSV_ERR_FIELD',
  Direction: 'PDSV_ERR_DIRECTION',
  Sequence: 'PDSV_ERR_SEQUENCE',
  NoRoute: 'PDSV_ERR_NO_ROUTE',
  Closed: 'PDSV_ERR_CLOSED',
} as const;
export type PdsvErrorCode = (typeof PdsvErrorCode)[keyof typeof PdsvErrorCode];

/** A PDSV failure: bad input from the line (with where it was found) or a bad request to send. */
export class PdsvError extends SwitchhookError {
  constructor(
    code: PdsvErrorCode,
    message: string,
    /** Line port of the frame, when its header was readable. */
    readonly port?: number,
    /** Sequence number of the frame, when its header was readable. */
    readonly sequence?: number,
    /** Bytes skipped (sync, truncated) or frames lost (sequence gap). */
    readonly count = 0,
    readonly issue?: PdsvSequenceIssue,
  ) {
    super(code, message);
  }
}

/** Where a frame goes: line port, direction, sequence number and the sequence-reset flag. */
export interface PdsvAddress {
  readonly direction: PdsvDirection;
  /** Line port on the gateway, 0..65535. */
  readonly port: number;
  /** 0..65535, one counter per port and direction. */
  readonly sequence: number;
  /** Set on the first frame after the sender (re)started numbering. */
  readonly reset?: boolean;
}

export type PdsvSignal =
  | { readonly type: 'hook'; readonly state: PdsvHookState }
  | { readonly type: 'key'; readonly key: string }
  | {
      readonly type: 'display';
      readonly row: number;
      readonly column: number;
      readonly clear: boolean;
      readonly text: string;
    }
  | { readonly type: 'lamp'; readonly appearance: number; readonly state: PdsvLampState }
  | { readonly type: 'ringer'; readonly on: boolean; readonly cadence: PdsvRingCadence }
  | { readonly type: 'tone'; readonly tone: PdsvTone };

export interface PdsvVoice {
  readonly codec: G711Law;
  /** 8 kHz sample clock of the first sample (wraps at 2^32). */
  readonly timestamp: number;
  /** First frame of a talkspurt (like the RTP marker bit). */
  readonly talkspurt?: boolean;
  /** 80 (10 ms) or 160 (20 ms) G.711 codes. */
  readonly payload: Uint8Array;
}

export interface PdsvLink {
  readonly kind: PdsvLinkKind;
  readonly status: PdsvLinkStatus;
  /** Sender's keep-alive period in seconds, 1..60. */
  readonly interval: number;
}

interface EventBase {
  readonly port: number;
  readonly direction: PdsvDirection;
  readonly sequence: number;
  readonly reset: boolean;
}

export interface PdsvSignalEvent extends EventBase {
  readonly kind: 'signal';
  readonly signal: PdsvSignal;
}

export interface PdsvVoiceEvent extends EventBase {
  readonly kind: 'voice';
  readonly codec: G711Law;
  readonly timestamp: number;
  readonly talkspurt: boolean;
  readonly samples: number;
  /** The codes, only when the decoder was made with `deliverVoice`. */
  readonly payload?: Uint8Array;
}

export interface PdsvLinkEvent extends EventBase {
  readonly kind: 'link';
  readonly link: PdsvLink;
}

export type PdsvEvent = PdsvSignalEvent | PdsvVoiceEvent | PdsvLinkEvent;

/** Decoder counters (docs/pdsv.md §7), cumulative since creation or {@link PdsvDecoder.reset}. */
export interface PdsvCounters {
  readonly bytes: number;
  readonly frames: number;
  readonly signalFrames: number;
  readonly voiceFrames: number;
  readonly linkFrames: number;
  readonly syncErrors: number;
  readonly bytesSkipped: number;
  readonly crcErrors: number;
  readonly lengthErrors: number;
  readonly truncated: number;
  readonly versionErrors: number;
  readonly typeErrors: number;
  readonly fieldErrors: number;
  readonly directionErrors: number;
  readonly sequenceGaps: number;
  readonly framesLost: number;
  readonly duplicates: number;
  readonly late: number;
  readonly wraps: number;
  readonly resets: number;
}

/** One push's output: events in wire order and the errors met on the way. */
export interface PdsvBatch {
  readonly events: PdsvEvent[];
  readonly errors: PdsvError[];
}

// Wire numbers (docs/pdsv.md §4-5), in enum order.
const MSG_HOOK = 1;
const MSG_KEY = 2;
const MSG_DISPLAY = 3;
const MSG_LAMP = 4;
const MSG_RINGER = 5;
const MSG_TONE = 6;
const hookStates = [PdsvHookState.OnHook, PdsvHookState.OffHook, PdsvHookState.Flash];
const lampStates = [PdsvLampState.Off, PdsvLampState.On, PdsvLampState.Flash, PdsvLampState.Wink];
const cadences = [PdsvRingCadence.Normal, PdsvRingCadence.Internal, PdsvRingCadence.Priority];
const tones = [
  PdsvTone.Off,
  PdsvTone.Dial,
  PdsvTone.Ringback,
  PdsvTone.Busy,
  PdsvTone.Reorder,
  PdsvTone.CallWaiting,
  PdsvTone.Confirm,
];
const linkKinds = [undefined, PdsvLinkKind.KeepAlive, PdsvLinkKind.KeepAliveAck];
const linkStatuses = [PdsvLinkStatus.InService, PdsvLinkStatus.OutOfService];
const sequenceIssues = [undefined, PdsvSequenceIssue.Gap, PdsvSequenceIssue.Duplicate, PdsvSequenceIssue.Late];

/** Fixed keys by wire code; appearance keys are `line-N` (code 0x40 + N - 1, N = 1..64). */
const fixedKeys: ReadonlyMap<number, string> = new Map([
  ...[...'0123456789*#'].map((k, i) => [i, k] as [number, string]),
  [0x10, 'hold'],
  [0x11, 'transfer'],
  [0x12, 'conference'],
  [0x13, 'release'],
  [0x14, 'redial'],
  [0x15, 'mute'],
  [0x16, 'speaker'],
  [0x17, 'headset'],
  [0x18, 'volume-up'],
  [0x19, 'volume-down'],
  [0x1a, 'messages'],
]);
const keyCodes: ReadonlyMap<string, number> = new Map([...fixedKeys].map(([c, k]) => [k, c]));
const APPEARANCE_KEY = 0x40;
const MAX_APPEARANCE = 64;

/** The name of a key code (`'5'`, `'#'`, `'hold'`, `'line-3'`), or undefined for an unassigned code. */
export function pdsvKeyName(code: number): string | undefined {
  const fixed = fixedKeys.get(code);
  if (fixed !== undefined) return fixed;
  if (code >= APPEARANCE_KEY && code < APPEARANCE_KEY + MAX_APPEARANCE) return `line-${code - APPEARANCE_KEY + 1}`;
  return undefined;
}

/** The wire code of a key name, or undefined when there is no such key. */
export function pdsvKeyCode(name: string): number | undefined {
  const fixed = keyCodes.get(name);
  if (fixed !== undefined) return fixed;
  const m = /^line-([1-9][0-9]?)$/.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= MAX_APPEARANCE ? APPEARANCE_KEY + n - 1 : undefined;
}

function codecNumber(codec: G711Law): number {
  switch (codec) {
    case G711Law.Pcmu:
      return 0;
    case G711Law.Pcma:
      return 8;
    default:
      throw new PdsvError(PdsvErrorCode.Field, `unknown codec ${String(codec)}`);
  }
}

function directionNumber(direction: PdsvDirection): number {
  switch (direction) {
    case PdsvDirection.ToPhone:
      return 0;
    case PdsvDirection.ToGateway:
      return 1;
    default:
      throw new PdsvError(PdsvErrorCode.Field, `unknown direction ${String(direction)}`);
  }
}

function checkAddress(a: PdsvAddress): void {
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 0xffff) {
    throw new PdsvError(PdsvErrorCode.Field, `port ${a.port} is not 0..65535`);
  }
  if (!Number.isInteger(a.sequence) || a.sequence < 0 || a.sequence > 0xffff) {
    throw new PdsvError(PdsvErrorCode.Field, `sequence ${a.sequence} is not 0..65535`, a.port);
  }
}

function enumIndex<T>(values: readonly T[], value: T, what: string, port: number): number {
  const i = values.indexOf(value);
  if (i < 0) throw new PdsvError(PdsvErrorCode.Field, `unknown ${what} ${String(value)}`, port);
  return i;
}

function checkDirection(a: PdsvAddress, want: PdsvDirection, what: string): void {
  if (a.direction !== want) {
    throw new PdsvError(PdsvErrorCode.Direction, `${what} travels ${want}, not ${a.direction}`, a.port, a.sequence);
  }
}

const latin = new TextDecoder('latin1');

/**
 * Encodes one signal frame (docs/pdsv.md §4). Hook and key messages go {@link PdsvDirection.ToGateway};
 * display, lamp, ringer and tone go {@link PdsvDirection.ToPhone}. Throws {@link PdsvError} with
 * `PDSV_ERR_FIELD` or `PDSV_ERR_DIRECTION` for a message the protocol does not allow.
 */
export function encodePdsvSignal(address: PdsvAddress, signal: PdsvSignal): Buffer {
  checkAddress(address);
  const dir = directionNumber(address.direction);
  let id: number;
  let a = 0;
  let b = 0;
  let c = 0;
  let text: Uint8Array | null = null;
  switch (signal.type) {
    case 'hook':
      checkDirection(address, PdsvDirection.ToGateway, 'hook');
      id = MSG_HOOK;
      a = enumIndex(hookStates, signal.state, 'hook state', address.port);
      break;
    case 'key': {
      checkDirection(address, PdsvDirection.ToGateway, 'key');
      const code = pdsvKeyCode(signal.key);
      if (code === undefined) throw new PdsvError(PdsvErrorCode.Field, `unknown key ${signal.key}`, address.port);
      id = MSG_KEY;
      a = code;
      break;
    }
    case 'display':
      checkDirection(address, PdsvDirection.ToPhone, 'display');
      if (!/^[\x20-\x7e]*$/.test(signal.text)) {
        throw new PdsvError(PdsvErrorCode.Field, 'display text must be printable ASCII', address.port);
      }
      id = MSG_DISPLAY;
      a = signal.row;
      b = signal.column;
      c = signal.clear ? 1 : 0;
      text = Buffer.from(signal.text, 'latin1');
      break;
    case 'lamp':
      checkDirection(address, PdsvDirection.ToPhone, 'lamp');
      id = MSG_LAMP;
      a = signal.appearance;
      b = enumIndex(lampStates, signal.state, 'lamp state', address.port);
      break;
    case 'ringer':
      checkDirection(address, PdsvDirection.ToPhone, 'ringer');
      id = MSG_RINGER;
      a = signal.on ? 1 : 0;
      b = enumIndex(cadences, signal.cadence, 'cadence', address.port);
      break;
    case 'tone':
      checkDirection(address, PdsvDirection.ToPhone, 'tone');
      id = MSG_TONE;
      a = enumIndex(tones, signal.tone, 'tone', address.port);
      break;
    default:
      throw new PdsvError(PdsvErrorCode.Type, `unknown signal ${(signal as { type: string }).type}`, address.port);
  }
  if (![a, b, c].every((v) => Number.isInteger(v) && v >= 0 && v <= 0xff)) {
    throw new PdsvError(PdsvErrorCode.Field, `${signal.type} field out of range`, address.port);
  }
  const frame = addon.pdsvBuildSignal(dir, address.port, address.sequence, address.reset === true, id, a, b, c, text);
  if (!frame) throw new PdsvError(PdsvErrorCode.Field, `${signal.type} field out of range`, address.port);
  return frame;
}

/** Encodes one voice frame (docs/pdsv.md §5): 80 or 160 codes, either direction. */
export function encodePdsvVoice(address: PdsvAddress, voice: PdsvVoice): Buffer {
  checkAddress(address);
  if (voice.payload.length !== 80 && voice.payload.length !== 160) {
    throw new PdsvError(PdsvErrorCode.Length, `voice frames carry 80 or 160 samples, not ${voice.payload.length}`);
  }
  if (!Number.isInteger(voice.timestamp) || voice.timestamp < 0 || voice.timestamp > 0xffffffff) {
    throw new PdsvError(PdsvErrorCode.Field, `timestamp ${voice.timestamp} is not a 32-bit unsigned integer`);
  }
  const frame = addon.pdsvBuildVoice(
    directionNumber(address.direction),
    address.port,
    address.sequence,
    address.reset === true,
    codecNumber(voice.codec),
    voice.talkspurt ? 1 : 0,
    voice.timestamp,
    voice.payload,
  );
  if (!frame) throw new PdsvError(PdsvErrorCode.Field, 'voice field out of range', address.port);
  return frame;
}

/** Encodes one link frame (keep-alive or its acknowledgement, with the sender's status). */
export function encodePdsvLink(address: PdsvAddress, link: PdsvLink): Buffer {
  checkAddress(address);
  const kind = linkKinds.indexOf(link.kind);
  const status = linkStatuses.indexOf(link.status);
  if (kind < 1 || status < 0 || !Number.isInteger(link.interval) || link.interval < 1 || link.interval > 60) {
    throw new PdsvError(PdsvErrorCode.Field, 'link field out of range', address.port);
  }
  const frame = addon.pdsvBuildLink(
    directionNumber(address.direction),
    address.port,
    address.sequence,
    address.reset === true,
    kind,
    status,
    link.interval,
  );
  if (!frame) throw new PdsvError(PdsvErrorCode.Field, 'link field out of range', address.port);
  return frame;
}

/** CRC-16/CCITT-FALSE of `bytes` (the PDSV frame check; 0x29B1 for ASCII "123456789"). */
export function pdsvCrc16(bytes: Uint8Array): number {
  return addon.pdsvCrc16(bytes);
}

const nativeCodes = addon.pdsvErrorCodes();
const RECORD_WORDS = 11;
const REC_SIGNAL = 1;
const REC_VOICE = 2;
const REC_LINK = 3;
const REC_ERROR = 4;

function errorMessage(code: string, issue: PdsvSequenceIssue | undefined, count: number): string {
  switch (code) {
    case PdsvErrorCode.Sync:
      return `${count} bytes outside any frame skipped`;
    case PdsvErrorCode.Crc:
      return 'frame check sequence (CRC-16/CCITT-FALSE) mismatch';
    case PdsvErrorCode.Length:
      return 'length field out of range or wrong for the frame type';
    case PdsvErrorCode.Truncated:
      return `frame cut short after ${count} bytes`;
    case PdsvErrorCode.Version:
      return 'unsupported protocol version';
    case PdsvErrorCode.Type:
      return 'unknown frame type or message';
    case PdsvErrorCode.Field:
      return 'field value out of range';
    case PdsvErrorCode.Direction:
      return 'message sent in the wrong direction';
    case PdsvErrorCode.Sequence:
      return issue === PdsvSequenceIssue.Gap ? `sequence gap: ${count} frames lost` : `${issue} frame dropped`;
    default:
      throw new PdsvError(PdsvErrorCode.Type, `unknown native error ${code}`);
  }
}

/**
 * Streaming PDSV decoder over the native deframer. {@link push} takes TCP stream bytes cut anywhere;
 * {@link pushDatagram} takes one UDP datagram (exactly one frame). Each returns the batch of events and
 * errors found; bad input never throws. Sequence numbers are checked per port and direction.
 */
export class PdsvDecoder {
  private readonly native: NativePdsvDecoder;

  /** @param options.deliverVoice copy voice codes into {@link PdsvVoiceEvent.payload} (else counted only) */
  constructor(private readonly options: { readonly deliverVoice?: boolean } = {}) {
    this.native = new addon.PdsvDecoder(options.deliverVoice === true);
  }

  /** Feeds stream bytes; frames may span calls. */
  push(bytes: Uint8Array): PdsvBatch {
    return this.unpack(this.native.push(bytes));
  }

  /** Feeds one datagram holding exactly one frame. */
  pushDatagram(bytes: Uint8Array): PdsvBatch {
    return this.unpack(this.native.pushDatagram(bytes));
  }

  /** End of stream: a partial frame left over is reported as `PDSV_ERR_TRUNCATED`. */
  finish(): PdsvBatch {
    return this.unpack(this.native.finish());
  }

  /** Forgets buffered bytes, sequence state and counters. */
  reset(): void {
    this.native.reset();
  }

  /** Bytes held while waiting for the rest of a frame. */
  get buffered(): number {
    return this.native.buffered();
  }

  counters(): PdsvCounters {
    return this.native.counters() as unknown as PdsvCounters;
  }

  private unpack(batch: ArrayBuffer | undefined): PdsvBatch {
    const events: PdsvEvent[] = [];
    const errors: PdsvError[] = [];
    if (!batch) return { events, errors };
    const head = new Int32Array(batch, 0, 2);
    const count = head[0]!;
    const words = new Int32Array(batch, 8, count * RECORD_WORDS);
    const data = new Uint8Array(batch, head[1]!);
    for (let r = 0; r < count; r++) {
      const w = r * RECORD_WORDS;
      const kind = words[w]!;
      const base: EventBase = {
        port: words[w + 1]!,
        direction: words[w + 2] === 1 ? PdsvDirection.ToGateway : PdsvDirection.ToPhone,
        sequence: words[w + 3]!,
        reset: words[w + 4] === 1,
      };
      const id = words[w + 5]!;
      const a = words[w + 6]!;
      const b = words[w + 7]!;
      const c = words[w + 8]!;
      const off = words[w + 9]!;
      const len = words[w + 10]!;
      switch (kind) {
        case REC_SIGNAL:
          events.push({ kind: 'signal', ...base, signal: this.signal(id, a, b, c, data.subarray(off, off + len)) });
          break;
        case REC_VOICE:
          events.push({
            kind: 'voice',
            ...base,
            codec: id === 8 ? G711Law.Pcma : G711Law.Pcmu,
            talkspurt: (a & 1) === 1,
            samples: b,
            timestamp: c >>> 0,
            ...(this.options.deliverVoice ? { payload: data.slice(off, off + len) } : {}),
          });
          break;
        case REC_LINK:
          events.push({ kind: 'link', ...base, link: { kind: linkKinds[id]!, status: linkStatuses[a]!, interval: b } });
          break;
        case REC_ERROR: {
          const code = nativeCodes[id] as PdsvErrorCode;
          const issue = sequenceIssues[a];
          const known = code !== PdsvErrorCode.Sync;
          errors.push(
            new PdsvError(
              code,
              errorMessage(code, issue, b),
              known ? base.port : undefined,
              known ? base.sequence : undefined,
              b,
              issue,
            ),
          );
          break;
        }
        default:
          throw new PdsvError(PdsvErrorCode.Type, `unknown native record kind ${kind}`);
      }
    }
    return { events, errors };
  }

  private signal(id: number, a: number, b: number, c: number, text: Uint8Array): PdsvSignal {
    switch (id) {
      case MSG_HOOK:
        return { type: 'hook', state: hookStates[a]! };
      case MSG_KEY:
        return { type: 'key', key: pdsvKeyName(a)! };
      case MSG_DISPLAY:
        return { type: 'display', row: a, column: b, clear: (c & 1) === 1, text: latin.decode(text) };
      case MSG_LAMP:
        return { type: 'lamp', appearance: a, state: lampStates[b]! };
      case MSG_RINGER:
        return { type: 'ringer', on: a === 1, cadence: cadences[b]! };
      case MSG_TONE:
        return { type: 'tone', tone: tones[a]! };
      default:
        throw new PdsvError(PdsvErrorCode.Type, `unknown native message ${id}`);
    }
  }
}
