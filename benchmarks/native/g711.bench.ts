/**
 * `npm run bench -- g711`: G.711 encode (16-bit linear to mu-law and A-law) and mu-law to A-law
 * transcoding of 20 ms frames through the native tables, against the same work in plain TypeScript (the
 * classic segment search per sample, and a 256-entry lookup table for transcoding). Native is measured
 * twice: one call per 20 ms frame (N-API cost per frame, as a simulator would call it) and one call for
 * all frames (the table speed the RTP bridge gets calling the C++ directly). Everything runs in this
 * process after a warm-up; the last line is the JSON result with the ratios.
 */
import { G711Law, g711Encode, g711Transcode } from '../../src/native/g711.js';

function jsUlaw(pcm: number): number {
  const mask = pcm < 0 ? 0x7f : 0xff;
  let mag = Math.min(Math.abs(pcm) >> 2, 8158) + 33;
  let seg = 0;
  while (mag >= 64 << seg) seg++;
  mag = (seg << 4) | ((mag >> (seg + 1)) & 0x0f);
  return mag ^ mask;
}

function jsAlaw(pcm: number): number {
  const mask = pcm < 0 ? 0x55 : 0xd5;
  const x = Math.min(Math.abs(pcm) >> 3, 4095);
  if (x < 32) return (x >> 1) ^ mask;
  let seg = 1;
  while (x >= 32 << seg) seg++;
  return ((seg << 4) | ((x >> seg) & 0x0f)) ^ mask;
}

// CPU time of this process in ms (user + system), not wall time: the machine is shared.
function time(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

export default async function run(args: string[]): Promise<void> {
  const frames = Number(args[0] ?? 20000);
  const pcm = Array.from({ length: frames }, (_, f) =>
    Int16Array.from({ length: 160 }, (_, i) => Math.round(12000 * Math.sin((f * 160 + i) / 9.5))),
  );
  const ulaw = pcm.map((p) => g711Encode(G711Law.Pcmu, p));
  const u2aTable = g711Transcode(G711Law.Pcmu, Uint8Array.from({ length: 256 }, (_, i) => i));
  const out = new Uint8Array(160);
  const pcmAll = new Int16Array(frames * 160);
  pcm.forEach((p, f) => pcmAll.set(p, f * 160));
  const ulawAll = g711Encode(G711Law.Pcmu, pcmAll);
  const nativeEncodeBatch = () => {
    g711Encode(G711Law.Pcmu, pcmAll);
    g711Encode(G711Law.Pcma, pcmAll);
  };
  const nativeTranscodeBatch = () => {
    g711Transcode(G711Law.Pcmu, ulawAll);
  };
  const nativeEncode = () => {
    for (const p of pcm) {
      g711Encode(G711Law.Pcmu, p);
      g711Encode(G711Law.Pcma, p);
    }
  };
  const jsEncode = () => {
    for (const p of pcm) {
      for (let i = 0; i < 160; i++) out[i] = jsUlaw(p[i]!);
      for (let i = 0; i < 160; i++) out[i] = jsAlaw(p[i]!);
    }
  };
  const nativeTranscode = () => {
    for (const u of ulaw) g711Transcode(G711Law.Pcmu, u);
  };
  const jsTranscode = () => {
    for (const u of ulaw) for (let i = 0; i < 160; i++) out[i] = u2aTable[u[i]!]!;
  };
  // Warm-up and a check that both paths agree.
  for (let i = 0; i < 3; i++) {
    [nativeEncode, jsEncode, nativeTranscode, jsTranscode, nativeEncodeBatch, nativeTranscodeBatch].forEach((f) => f());
  }
  const probe = pcm[7]!;
  const native = g711Encode(G711Law.Pcma, probe);
  if (!native.every((c, i) => c === jsAlaw(probe[i]!))) throw new Error('native and TypeScript A-law disagree');
  // Trials alternate between the variants so that load from other processes hits them alike.
  const best = [Infinity, Infinity, Infinity, Infinity, Infinity, Infinity];
  const variants = [nativeEncode, jsEncode, nativeTranscode, jsTranscode, nativeEncodeBatch, nativeTranscodeBatch];
  for (let trial = 0; trial < 7; trial++) variants.forEach((f, i) => (best[i] = Math.min(best[i]!, time(f))));
  const [ne, je, nt, jt, neb, ntb] = best as [number, number, number, number, number, number];
  const msps = (ms: number, n: number) => n / 1e6 / (ms / 1000);
  const samples = frames * 160;
  console.log(`CPU time, best of 7 — encode (mu + A):  native per frame ${ne.toFixed(1)} ms, one call ${neb.toFixed(1)} ms, TypeScript ${je.toFixed(1)} ms`);
  console.log(`transcode mu->A:  native per frame ${nt.toFixed(1)} ms, one call ${ntb.toFixed(1)} ms, TypeScript ${jt.toFixed(1)} ms`);
  console.log(
    JSON.stringify({
      benchmark: 'g711',
      frames,
      encodeNativeMsamplesPerSec: Number(msps(ne, 2 * samples).toFixed(1)),
      encodeBaselineMsamplesPerSec: Number(msps(je, 2 * samples).toFixed(1)),
      encodeRatio: Number((je / ne).toFixed(2)),
      encodeBatchMsamplesPerSec: Number(msps(neb, 2 * samples).toFixed(1)),
      encodeBatchRatio: Number((je / neb).toFixed(2)),
      transcodeNativeMsamplesPerSec: Number(msps(nt, samples).toFixed(1)),
      transcodeBaselineMsamplesPerSec: Number(msps(jt, samples).toFixed(1)),
      transcodeRatio: Number((jt / nt).toFixed(2)),
      transcodeBatchMsamplesPerSec: Number(msps(ntb, samples).toFixed(1)),
      transcodeBatchRatio: Number((jt / ntb).toFixed(2)),
    }),
  );
}
