import t from 'tap';

import { G711Law } from '../../src/native/g711.js';
import {
  encodePdsvLink,
  encodePdsvSignal,
  encodePdsvVoice,
  pdsvCrc16,
  pdsvKeyCode,
  pdsvKeyName,
  PdsvDecoder,
  PdsvDirection,
  PdsvError,
  PdsvHookState,
  PdsvLampState,
  PdsvLinkKind,
  PdsvLinkStatus,
  PdsvRingCadence,
  PdsvSequenceIssue,
  PdsvTone,
  type PdsvEvent,
  type PdsvSignal,
} from '../../src/native/pdsv.js';

const UP = PdsvDirection.ToGateway;
const DOWN = PdsvDirection.ToPhone;

// An independent bitwise CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0).
function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

// Builds a frame by hand from docs/pdsv.md §3, for inputs the encoder refuses to make.
function rawFrame(o: {
  flags?: number;
  dir?: 0 | 1;
  type: number;
  port?: number;
  seq?: number;
  payload: number[];
  length?: number;
}): Buffer {
  const payload = Buffer.from(o.payload);
  const f = Buffer.alloc(12 + payload.length);
  f[0] = 0xa5;
  f[1] = 0x3c;
  f[2] = o.flags ?? (0x10 | ((o.dir ?? 1) << 3));
  f[3] = o.type;
  f.writeUInt16BE(o.port ?? 1, 4);
  f.writeUInt16BE(o.seq ?? 0, 6);
  f.writeUInt16BE(o.length ?? payload.length, 8);
  payload.copy(f, 10);
  f.writeUInt16BE(crc16(f.subarray(2, 10 + payload.length)), 10 + payload.length);
  return f;
}

const signalsDown: PdsvSignal[] = [
  { type: 'display', row: 0, column: 0, clear: true, text: '' },
  { type: 'display', row: 3, column: 10, clear: false, text: 'Line 2: 4711 Bob ~!@#$%^&*()' },
  { type: 'display', row: 1, column: 0, clear: false, text: 'x'.repeat(40) },
  ...Object.values(PdsvLampState).map((state, i) => ({ type: 'lamp' as const, appearance: i * 21, state })),
  { type: 'lamp', appearance: 64, state: PdsvLampState.Flash },
  ...Object.values(PdsvRingCadence).map((cadence) => ({ type: 'ringer' as const, on: true, cadence })),
  { type: 'ringer', on: false, cadence: PdsvRingCadence.Normal },
  ...Object.values(PdsvTone).map((tone) => ({ type: 'tone' as const, tone })),
];
const keys = [...'0123456789*#', 'hold', 'transfer', 'conference', 'release', 'redial', 'mute', 'speaker'];
const signalsUp: PdsvSignal[] = [
  ...Object.values(PdsvHookState).map((state) => ({ type: 'hook' as const, state })),
  ...[...keys, 'headset', 'volume-up', 'volume-down', 'messages', 'line-1', 'line-64'].map((key) => ({
    type: 'key' as const,
    key,
  })),
];

function signalsOf(events: PdsvEvent[]): PdsvSignal[] {
  return events.flatMap((e) => (e.kind === 'signal' ? [e.signal] : []));
}

t.test('CRC-16/CCITT-FALSE has the catalogued check value 0x29B1', async (t) => {
  t.equal(pdsvCrc16(Buffer.from('123456789', 'ascii')), 0x29b1);
  t.equal(crc16(Buffer.from('123456789', 'ascii')), 0x29b1);
  t.equal(pdsvCrc16(new Uint8Array(0)), 0xffff);
});

t.test('a hook frame is byte-exact with docs/pdsv.md §8 example', async (t) => {
  const f = encodePdsvSignal(
    { direction: UP, port: 0x0102, sequence: 7, reset: true },
    { type: 'hook', state: PdsvHookState.OffHook },
  );
  t.equal(f.toString('hex'), 'a53c1c0101020007000201017466');
  t.equal(f.readUInt16BE(12), crc16(f.subarray(2, 12)));
});

t.test('every signal message round-trips, in both directions', async (t) => {
  let seq = 0;
  const stream = Buffer.concat([
    ...signalsDown.map((s) => encodePdsvSignal({ direction: DOWN, port: 9, sequence: seq++ }, s)),
    ...signalsUp.map((s, i) => encodePdsvSignal({ direction: UP, port: 9, sequence: i }, s)),
  ]);
  const dec = new PdsvDecoder();
  const { events, errors } = dec.push(stream);
  t.same(errors, []);
  t.same(signalsOf(events), [...signalsDown, ...signalsUp]);
  t.equal(events[0]!.port, 9);
  t.equal(events[0]!.direction, DOWN);
  t.equal(events.at(-1)!.direction, UP);
  t.equal(events.at(-1)!.sequence, signalsUp.length - 1);
  const c = dec.counters();
  t.equal(c.signalFrames, signalsDown.length + signalsUp.length);
  t.equal(c.bytes, stream.length);
  t.equal(dec.buffered, 0);
});

t.test('voice frames round-trip for both codecs and both sizes; voice is counted unless delivered', async (t) => {
  const frames = [G711Law.Pcmu, G711Law.Pcma].flatMap((codec, i) =>
    [80, 160].map((n, j) => ({
      codec,
      timestamp: 0xfffffff0 + i * 2 + j,
      talkspurt: j === 0,
      payload: Uint8Array.from({ length: n }, (_, k) => (k * 7 + i) & 0xff),
    })),
  );
  const stream = Buffer.concat(frames.map((v, i) => encodePdsvVoice({ direction: DOWN, port: 3, sequence: i }, v)));
  const delivering = new PdsvDecoder({ deliverVoice: true });
  const got = delivering.push(stream);
  t.same(got.errors, []);
  t.same(
    got.events.map((e) => (e.kind === 'voice' ? [e.codec, e.timestamp, e.talkspurt, e.samples, [...e.payload!]] : e)),
    frames.map((v) => [v.codec, v.timestamp, v.talkspurt, v.payload.length, [...v.payload]]),
  );
  const counting = new PdsvDecoder();
  const counted = counting.push(stream);
  t.equal(counted.events.length, 4);
  t.equal(counted.events.every((e) => e.kind === 'voice' && e.payload === undefined), true);
  t.equal(counting.counters().voiceFrames, 4);
});

t.test('link frames round-trip', async (t) => {
  const links = [
    { kind: PdsvLinkKind.KeepAlive, status: PdsvLinkStatus.InService, interval: 1 },
    { kind: PdsvLinkKind.KeepAliveAck, status: PdsvLinkStatus.OutOfService, interval: 60 },
  ];
  const dec = new PdsvDecoder();
  const out = links.map((l, i) => dec.pushDatagram(encodePdsvLink({ direction: UP, port: 65535, sequence: i }, l)));
  t.same(
    out.map((b) => b.events[0]),
    links.map((link, i) => ({ kind: 'link', port: 65535, direction: UP, sequence: i, reset: false, link })),
  );
  t.equal(dec.counters().linkFrames, 2);
});

t.test('key names and codes map both ways', async (t) => {
  for (let code = 0; code < 256; code++) {
    const name = pdsvKeyName(code);
    if (name !== undefined) t.equal(pdsvKeyCode(name), code, name);
  }
  t.equal(pdsvKeyCode('line-65'), undefined);
  t.equal(pdsvKeyCode('line-0'), undefined);
  t.equal(pdsvKeyCode('nope'), undefined);
  t.equal(pdsvKeyName(0x0c), undefined);
});

t.test('the encoder refuses what the protocol does not allow', async (t) => {
  const down = { direction: DOWN, port: 1, sequence: 0 };
  const up = { direction: UP, port: 1, sequence: 0 };
  const cases: [() => unknown, string][] = [
    [() => encodePdsvSignal(down, { type: 'hook', state: PdsvHookState.OffHook }), 'PDSV_ERR_DIRECTION'],
    [() => encodePdsvSignal(up, { type: 'tone', tone: PdsvTone.Busy }), 'PDSV_ERR_DIRECTION'],
    [() => encodePdsvSignal(up, { type: 'key', key: 'F13' }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal(down, { type: 'display', row: 0, column: 0, clear: false, text: 'é' }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal(down, { type: 'display', row: 0, column: 1, clear: false, text: 'y'.repeat(40) }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal(down, { type: 'display', row: 4, column: 0, clear: false, text: 'a' }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal(down, { type: 'display', row: 0, column: 0, clear: false, text: 'z'.repeat(41) }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal(down, { type: 'lamp', appearance: 65, state: PdsvLampState.On }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal(down, { type: 'lamp', appearance: 1, state: 'blink' as PdsvLampState }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal(down, { type: 'lamp', appearance: 300, state: PdsvLampState.On }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal(down, { type: 'bell' } as unknown as PdsvSignal), 'PDSV_ERR_TYPE'],
    [() => encodePdsvSignal({ ...down, port: 70000 }, { type: 'tone', tone: PdsvTone.Off }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal({ ...down, sequence: -1 }, { type: 'tone', tone: PdsvTone.Off }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvSignal({ ...down, direction: 'up' as PdsvDirection }, { type: 'tone', tone: PdsvTone.Off }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvVoice(down, { codec: G711Law.Pcmu, timestamp: 0, payload: new Uint8Array(100) }), 'PDSV_ERR_LENGTH'],
    [() => encodePdsvVoice(down, { codec: G711Law.Pcmu, timestamp: 2 ** 32, payload: new Uint8Array(80) }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvVoice(down, { codec: 'G722' as G711Law, timestamp: 0, payload: new Uint8Array(80) }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvLink(up, { kind: PdsvLinkKind.KeepAlive, status: PdsvLinkStatus.InService, interval: 0 }), 'PDSV_ERR_FIELD'],
    [() => encodePdsvLink(up, { kind: 'ping' as PdsvLinkKind, status: PdsvLinkStatus.InService, interval: 5 }), 'PDSV_ERR_FIELD'],
  ];
  for (const [fn, code] of cases) {
    let caught: unknown;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof PdsvError, `${code} is a PdsvError`);
    t.equal((caught as PdsvError).code, code);
  }
});

function errorCodes(errors: PdsvError[]): string[] {
  return errors.map((e) => e.code);
}

const hookUp = (seq: number, port = 1) =>
  encodePdsvSignal({ direction: UP, port, sequence: seq }, { type: 'hook', state: PdsvHookState.OffHook });

t.test('a bad CRC is reported and the next frame is still found', async (t) => {
  const bad = hookUp(0);
  bad[11] ^= 0x01;
  const dec = new PdsvDecoder();
  const { events, errors } = dec.push(Buffer.concat([bad, hookUp(1), hookUp(2)]));
  t.same(errorCodes(errors), ['PDSV_ERR_CRC'], 'frame 1 is the first the decoder accepts: no gap');
  t.equal(errors[0]!.port, 1);
  t.same(events.map((e) => e.sequence), [1, 2]);
  t.equal(dec.counters().crcErrors, 1);
  t.equal(dec.counters().syncErrors, 0, 'bytes dropped while resynchronising are not a sync error');
});

t.test('length errors: over the maximum, and wrong for the message', async (t) => {
  const dec = new PdsvDecoder();
  const huge = rawFrame({ type: 1, payload: [1, 1], length: 600 });
  const wrong = rawFrame({ type: 1, payload: [1, 1, 0] });
  const shortVoice = rawFrame({ type: 2, dir: 0, payload: [0, 0, 0, 0, 0, 0, ...new Array(100).fill(0xff)] });
  const { events, errors } = dec.push(Buffer.concat([huge, wrong, shortVoice, hookUp(1)]));
  t.same(errorCodes(errors), ['PDSV_ERR_LENGTH', 'PDSV_ERR_LENGTH', 'PDSV_ERR_LENGTH']);
  t.equal(events.length, 1);
  t.equal(dec.counters().lengthErrors, 3);
  const dgram = new PdsvDecoder();
  t.same(errorCodes(dgram.pushDatagram(Buffer.concat([hookUp(0), Buffer.from([0])])).errors), ['PDSV_ERR_LENGTH']);
});

t.test('truncated frames: a short datagram and a stream that ends mid-frame', async (t) => {
  const f = hookUp(0);
  const dgram = new PdsvDecoder();
  t.same(errorCodes(dgram.pushDatagram(f.subarray(0, 13)).errors), ['PDSV_ERR_TRUNCATED']);
  t.same(errorCodes(dgram.pushDatagram(f.subarray(0, 5)).errors), ['PDSV_ERR_TRUNCATED']);
  t.same(errorCodes(dgram.pushDatagram(Buffer.from('hello')).errors), ['PDSV_ERR_SYNC']);
  const stream = new PdsvDecoder();
  t.same(stream.push(f.subarray(0, 9)), { events: [], errors: [] });
  t.equal(stream.buffered, 9);
  const end = stream.finish();
  t.same(errorCodes(end.errors), ['PDSV_ERR_TRUNCATED']);
  t.equal(end.errors[0]!.count, 9);
  t.equal(stream.buffered, 0);
  t.same(stream.finish(), { events: [], errors: [] }, 'finishing twice reports nothing');
});

t.test('garbage between frames is skipped and reported once per run', async (t) => {
  const garbage = Buffer.from([0x00, 0xa5, 0x00, 0x3c, 0xa5, 0xa5, 0xff]);
  const dec = new PdsvDecoder();
  const { events, errors } = dec.push(Buffer.concat([garbage, hookUp(0), garbage, hookUp(1)]));
  t.same(events.map((e) => e.sequence), [0, 1]);
  t.same(errorCodes(errors), ['PDSV_ERR_SYNC', 'PDSV_ERR_SYNC']);
  t.same(errors.map((e) => e.count), [7, 7]);
  t.equal(errors[0]!.port, undefined);
  const c = dec.counters();
  t.equal(c.syncErrors, 2);
  t.equal(c.bytesSkipped, 14);
  const tail = new PdsvDecoder();
  tail.push(Buffer.concat([hookUp(0), Buffer.from([1, 2, 0xa5])]));
  t.same(errorCodes(tail.finish().errors), ['PDSV_ERR_SYNC'], 'trailing garbage is reported at the end');
});

t.test('sequence: gaps, duplicates, late frames, wrap-around and reset', async (t) => {
  const dec = new PdsvDecoder();
  const seqs = [65533, 65534, 65535, 0, 1, 1, 4, 2, 5];
  const { events, errors } = dec.push(Buffer.concat(seqs.map((s) => hookUp(s))));
  t.same(events.map((e) => e.sequence), [65533, 65534, 65535, 0, 1, 4, 5]);
  t.same(
    errors.map((e) => [e.code, e.issue, e.sequence, e.count]),
    [
      ['PDSV_ERR_SEQUENCE', PdsvSequenceIssue.Duplicate, 1, 0],
      ['PDSV_ERR_SEQUENCE', PdsvSequenceIssue.Gap, 4, 2],
      ['PDSV_ERR_SEQUENCE', PdsvSequenceIssue.Late, 2, 0],
    ],
  );
  const c = dec.counters();
  t.same([c.wraps, c.sequenceGaps, c.framesLost, c.duplicates, c.late], [1, 1, 2, 1, 1]);
  const reset = encodePdsvSignal(
    { direction: UP, port: 1, sequence: 0, reset: true },
    { type: 'hook', state: PdsvHookState.OnHook },
  );
  const after = dec.push(Buffer.concat([reset, hookUp(1)]));
  t.same(after.errors, [], 'a reset frame restarts numbering without an error');
  t.equal(after.events[0]!.reset, true);
  t.equal(dec.counters().resets, 1);
  const wrapGap = new PdsvDecoder().push(Buffer.concat([hookUp(65534), hookUp(1)]));
  t.same(wrapGap.errors.map((e) => e.count), [2], 'a gap across the wrap counts 65535 and 0 as lost');
  const ports = new PdsvDecoder().push(Buffer.concat([hookUp(10, 1), hookUp(500, 2), hookUp(11, 1), hookUp(501, 2)]));
  t.same(ports.errors, [], 'each port has its own sequence space');
});

t.test('header and payload checks: version, type, message, field, direction, reserved bits', async (t) => {
  const dec = new PdsvDecoder();
  const frames = [
    rawFrame({ flags: 0x28, type: 1, payload: [1, 1] }),
    rawFrame({ type: 9, seq: 1, payload: [1, 1] }),
    rawFrame({ type: 1, seq: 2, payload: [0x7f, 1] }),
    rawFrame({ type: 1, seq: 3, payload: [1, 3] }),
    rawFrame({ type: 1, seq: 4, payload: [2, 0x0c] }),
    rawFrame({ type: 1, seq: 5, payload: [4, 1, 1] }),
    rawFrame({ type: 1, dir: 0, seq: 6, payload: [3, 0, 0, 0, 1, 0x07] }),
    rawFrame({ type: 1, dir: 0, seq: 7, payload: [3, 0, 0, 2, 0] }),
    rawFrame({ type: 1, dir: 0, seq: 8, payload: [5, 2, 0] }),
    rawFrame({ type: 2, seq: 9, payload: [9, 0, 0, 0, 0, 0, ...new Array(80).fill(0)] }),
    rawFrame({ type: 2, seq: 10, payload: [0, 2, 0, 0, 0, 0, ...new Array(80).fill(0)] }),
    rawFrame({ type: 3, seq: 11, payload: [3, 0, 5] }),
    rawFrame({ type: 3, seq: 12, payload: [1, 0, 61] }),
    rawFrame({ flags: 0x19, type: 1, seq: 13, payload: [1, 1] }),
    rawFrame({ type: 1, seq: 14, payload: [] }),
  ];
  // Each frame on its own port, so no sequence errors mix in.
  const { events, errors } = dec.push(Buffer.concat(frames.map((f, i) => rewritePort(f, 100 + i))));
  t.same(events, []);
  t.same(errorCodes(errors), [
    'PDSV_ERR_VERSION',
    'PDSV_ERR_TYPE',
    'PDSV_ERR_TYPE',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_DIRECTION',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_FIELD',
    'PDSV_ERR_LENGTH',
  ]);
  const c = dec.counters();
  t.same([c.versionErrors, c.typeErrors, c.fieldErrors, c.directionErrors], [1, 2, 10, 1]);
  for (const e of errors) t.type(e.message, 'string');
});

function rewritePort(frame: Buffer, port: number): Buffer {
  const f = Buffer.from(frame);
  f.writeUInt16BE(port, 4);
  f.writeUInt16BE(crc16(f.subarray(2, f.length - 2)), f.length - 2);
  return f;
}

// A mixed stream: every message type, voice, link, garbage and a corrupted frame.
function mixedStream(): Buffer {
  let seq = 0;
  const bad = hookUp(99, 2);
  bad[bad.length - 1] ^= 0xff;
  return Buffer.concat([
    Buffer.from([0x13, 0x37]),
    ...signalsDown.map((s) => encodePdsvSignal({ direction: DOWN, port: 4, sequence: seq++ }, s)),
    bad,
    encodePdsvVoice({ direction: DOWN, port: 4, sequence: seq++ }, {
      codec: G711Law.Pcma,
      timestamp: 160,
      payload: new Uint8Array(160).fill(0xa5),
    }),
    Buffer.from([0xa5, 0x3c, 0xa5]),
    ...signalsUp.map((s, i) => encodePdsvSignal({ direction: UP, port: 4, sequence: i }, s)),
    encodePdsvLink({ direction: UP, port: 4, sequence: signalsUp.length }, {
      kind: PdsvLinkKind.KeepAlive,
      status: PdsvLinkStatus.InService,
      interval: 5,
    }),
  ]);
}

function summary(d: PdsvDecoder, chunks: Uint8Array[]): unknown {
  const events: PdsvEvent[] = [];
  const errors: string[] = [];
  for (const chunk of [...chunks.map((c) => d.push(c)), d.finish()]) {
    events.push(...chunk.events);
    errors.push(...chunk.errors.map((e) => `${e.code}:${e.count}`));
  }
  return { events, errors, counters: d.counters() };
}

t.test('streaming is independent of chunk boundaries (whole, every byte, random cuts)', async (t) => {
  const stream = mixedStream();
  const whole = summary(new PdsvDecoder({ deliverVoice: true }), [stream]) as { events: PdsvEvent[]; errors: string[] };
  t.equal(whole.events.length, signalsDown.length + signalsUp.length + 2);
  t.ok(whole.errors.includes('PDSV_ERR_CRC:0'));
  t.ok(whole.errors.some((e) => e.startsWith('PDSV_ERR_SYNC')));
  const bytewise = [...stream].map((b) => Uint8Array.of(b));
  t.same(summary(new PdsvDecoder({ deliverVoice: true }), bytewise), whole, 'split at every byte');
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let trial = 0; trial < 20; trial++) {
    const chunks: Uint8Array[] = [];
    for (let off = 0; off < stream.length; ) {
      const n = 1 + rand(64);
      chunks.push(stream.subarray(off, off + n));
      off += n;
    }
    t.same(summary(new PdsvDecoder({ deliverVoice: true }), chunks), whole, `random cuts ${trial}`);
  }
});

t.test('reset forgets buffered bytes, sequence state and counters', async (t) => {
  const dec = new PdsvDecoder();
  dec.push(Buffer.concat([hookUp(5), hookUp(6).subarray(0, 4)]));
  t.equal(dec.buffered, 4);
  dec.reset();
  t.equal(dec.buffered, 0);
  t.equal(dec.counters().frames, 0);
  t.same(dec.push(hookUp(1)).errors, [], 'no sequence history after reset');
});

t.test('a decoder survives random garbage', async (t) => {
  const dec = new PdsvDecoder();
  let seed = 7;
  const junk = Buffer.alloc(20000);
  for (let i = 0; i < junk.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    junk[i] = i % 97 === 0 ? 0xa5 : i % 97 === 1 ? 0x3c : seed >> 16;
  }
  const out = dec.push(junk);
  const end = dec.finish();
  t.ok(out.errors.length + end.errors.length > 0);
  t.equal(dec.counters().bytes, junk.length);
  t.same(dec.push(hookUp(0)).events.length, 1, 'and still decodes a good frame afterwards');
});
