import t from 'tap';

import { G711Error, G711Law, g711Decode, g711Encode, g711Silence, g711Transcode } from '../../src/native/g711.js';

/**
 * ITU-T G.711 (11/1988) as printed: per segment, the first decision value, the step between decision
 * values, and the first decoder output value. Table 2 (mu-law) counts in units where the top decision
 * value is 8159; its first interval of segment 0 is [0, 1) with output 0. Table 1 (A-law) counts in units
 * where the top decision value is 4096. Samples here are 16-bit: mu-law units x 4, A-law units x 8.
 */
const ULAW_SEGMENTS: [number, number, number][] = [
  [1, 2, 2], // segment 0 after its first interval [0,1) -> 0: 1..31 step 2, outputs 2..30
  [31, 4, 33],
  [95, 8, 99],
  [223, 16, 231],
  [479, 32, 495],
  [991, 64, 1023],
  [2015, 128, 2079],
  [4063, 256, 4191],
];
const ULAW_TOP = 8159;
const ALAW_SEGMENTS: [number, number, number][] = [
  [0, 2, 1],
  [32, 2, 33],
  [64, 4, 66],
  [128, 8, 132],
  [256, 16, 264],
  [512, 32, 528],
  [1024, 64, 1056],
  [2048, 128, 2112],
];
const ALAW_TOP = 4096;

interface Level {
  readonly lower: number; // decision value at the bottom of the interval
  readonly upper: number;
  readonly output: number;
}

// The 128 magnitude levels of each law, indexed by the 7-bit magnitude code (segment << 4 | step).
function ulawLevels(): Level[] {
  const levels: Level[] = [{ lower: 0, upper: 1, output: 0 }];
  for (let q = 1; q < 16; q++) levels.push({ lower: 2 * q - 1, upper: 2 * q + 1, output: 2 * q });
  for (let s = 1; s < 8; s++) {
    const [start, step, first] = ULAW_SEGMENTS[s]!;
    for (let q = 0; q < 16; q++) levels.push({ lower: start + q * step, upper: start + (q + 1) * step, output: first + q * step });
  }
  return levels;
}

function alawLevels(): Level[] {
  return ALAW_SEGMENTS.flatMap(([start, step, first]) =>
    Array.from({ length: 16 }, (_, q) => ({ lower: start + q * step, upper: start + (q + 1) * step, output: first + q * step })),
  );
}

const ulaw = ulawLevels();
const alaw = alawLevels();

// Character signals: mu-law inverts all bits (positive: 0xFF - m, negative: 0x7F - m); A-law sets the sign
// bit for positive values and inverts the even bits (XOR 0x55).
const ulawCode = (m: number, negative: boolean) => (negative ? 0x7f : 0xff) - m;
const alawCode = (m: number, negative: boolean) => ((negative ? 0 : 0x80) | m) ^ 0x55;

t.test('the printed tables are complete: 128 contiguous levels ending at the top decision value', async (t) => {
  for (const [levels, top] of [
    [ulaw, ULAW_TOP],
    [alaw, ALAW_TOP],
  ] as const) {
    t.equal(levels.length, 128);
    t.equal(levels[0]!.lower, 0);
    t.equal(levels[127]!.upper, top);
    for (let i = 1; i < 128; i++) t.equal(levels[i]!.lower, levels[i - 1]!.upper);
  }
  t.equal(ulaw[127]!.output, 8031);
  t.equal(alaw[127]!.output, 4032);
});

t.test('every one of the 256 mu-law and A-law codes decodes to its G.711 table value', async (t) => {
  const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const u = g711Decode(G711Law.Pcmu, codes);
  const a = g711Decode(G711Law.Pcma, codes);
  for (let m = 0; m < 128; m++) {
    for (const negative of [false, true]) {
      const sign = negative ? -1 : 1;
      t.equal(u[ulawCode(m, negative)], sign * ulaw[m]!.output * 4 || 0, `mu-law m=${m} ${negative ? '-' : '+'}`);
      t.equal(a[alawCode(m, negative)], sign * alaw[m]!.output * 8, `A-law m=${m} ${negative ? '-' : '+'}`);
    }
  }
});

function expectedCode(levels: Level[], scale: number, sample: number, code: (m: number, neg: boolean) => number): number {
  const mag = Math.floor(Math.abs(sample) / scale);
  let m = levels.findIndex((l) => mag >= l.lower && mag < l.upper);
  if (m < 0) m = 127; // beyond the top decision value: clip to the largest magnitude
  return code(m, sample < 0);
}

t.test('every 16-bit sample encodes into the interval the G.711 decision values give it', async (t) => {
  const all = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
  const u = g711Encode(G711Law.Pcmu, all);
  const a = g711Encode(G711Law.Pcma, all);
  let uBad = 0;
  let aBad = 0;
  for (let i = 0; i < all.length; i++) {
    if (u[i] !== expectedCode(ulaw, 4, all[i]!, ulawCode)) uBad++;
    if (a[i] !== expectedCode(alaw, 8, all[i]!, alawCode)) aBad++;
  }
  t.equal(uBad, 0, 'mu-law');
  t.equal(aBad, 0, 'A-law');
});

t.test('segment boundaries, clipping, sign and the bit inversions', async (t) => {
  const enc = (law: G711Law, ...s: number[]) => [...g711Encode(law, Int16Array.from(s))];
  // mu-law: 14-bit magnitude 30 is the last of segment 0, 31 the first of segment 1 (x4 in 16-bit).
  t.same(enc(G711Law.Pcmu, 0, 3, 4, 120, 124, -124), [0xff, 0xff, 0xfe, 0xf0, 0xef, 0x6f]);
  // A-law: 13-bit magnitude 31 is the last of segment 0, 32 the first of segment 1 (x8 in 16-bit).
  t.same(enc(G711Law.Pcma, 0, 15, 16, 248, 256, -256), [0xd5, 0xd5, 0xd4, 0xda, 0xc5, 0x45]);
  // Clipping at both ends.
  t.same(enc(G711Law.Pcmu, 32767, 31612, 31611, -32768), [0x80, 0x80, 0x81, 0x00]);
  t.same(enc(G711Law.Pcma, 32767, 32768 - 512, -32768), [0xaa, 0xaa, 0x2a]);
  // Silence: mu-law +0 is 0xFF (all bits inverted), A-law +0 is 0xD5 (0x80 with even bits inverted, 0x55).
  t.equal(g711Silence(G711Law.Pcmu), 0xff);
  t.equal(g711Silence(G711Law.Pcma), 0xd5);
  t.same([...g711Decode(G711Law.Pcmu, Uint8Array.of(0xff, 0x7f))], [0, 0]);
  t.same([...g711Decode(G711Law.Pcma, Uint8Array.of(0xd5, 0x55, 0x80, 0x00))], [8, -8, 5504, -5504]);
  // Sign symmetry: -x encodes to the code of x with only the sign bit changed.
  for (const x of [1, 100, 1000, 10000, 32767]) {
    t.equal(enc(G711Law.Pcmu, -x)[0]! ^ enc(G711Law.Pcmu, x)[0]!, 0x80, `mu-law ${x}`);
    t.equal(enc(G711Law.Pcma, -x)[0]! ^ enc(G711Law.Pcma, x)[0]!, 0x80, `A-law ${x}`);
  }
});

t.test('round trips: decode then encode gives every code back', async (t) => {
  const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const u = g711Encode(G711Law.Pcmu, g711Decode(G711Law.Pcmu, codes));
  const a = g711Encode(G711Law.Pcma, g711Decode(G711Law.Pcma, codes));
  for (let i = 0; i < 256; i++) {
    t.equal(u[i], i === 0x7f ? 0xff : i, `mu-law ${i}`); // -0 comes back as +0
    t.equal(a[i], i, `A-law ${i}`);
  }
});

t.test('transcoding tables re-quantise the decoded value in the other law', async (t) => {
  const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const u2a = g711Transcode(G711Law.Pcmu, codes);
  const a2u = g711Transcode(G711Law.Pcma, codes);
  t.same([...u2a], [...g711Encode(G711Law.Pcma, g711Decode(G711Law.Pcmu, codes))]);
  t.same([...a2u], [...g711Encode(G711Law.Pcmu, g711Decode(G711Law.Pcma, codes))]);
  t.equal(u2a[0xff], 0xd5, 'silence stays silence');
  t.equal(u2a[0x80], 0xaa, 'the loudest mu-law code becomes the loudest A-law code');
  const uDec = g711Decode(G711Law.Pcmu, codes);
  const aDec = g711Decode(G711Law.Pcma, u2a);
  for (let i = 0; i < 256; i++) {
    t.ok(Math.sign(uDec[i]!) * Math.sign(aDec[i]!) >= 0, `sign kept for ${i}`);
  }
  // A-law has no zero level: its smallest value (+8, code 0xD5) is mu-law's first step (0xFE).
  t.equal(g711Transcode(G711Law.Pcma, new Uint8Array(160).fill(0xd5)).every((c) => c === 0xfe), true);
});

t.test('an unknown law is a G711Error', async (t) => {
  t.throws(() => g711Decode('G722' as G711Law, new Uint8Array(1)), G711Error);
  t.throws(() => g711Silence('L16' as G711Law), { code: 'G711_ERR_LAW' });
});
