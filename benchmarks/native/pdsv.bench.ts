/**
 * `npm run bench -- pdsv`: decoding a PDSV TCP stream (signals with some voice and keep-alives, cut into
 * 1400-byte chunks) into typed events through the native deframer, against a baseline deframer written in
 * plain TypeScript that does the same work (sync hunt, header check, CRC-16/CCITT-FALSE, header and signal
 * decode; voice counted, not turned into objects, in both). Both
 * run in this process after a warm-up; the last line is the JSON result with the ratio.
 */
import { G711Law } from '../../src/native/g711.js';
import {
  encodePdsvLink,
  encodePdsvSignal,
  encodePdsvVoice,
  PdsvDecoder,
  PdsvDirection,
  PdsvHookState,
  PdsvLampState,
  PdsvLinkKind,
  PdsvLinkStatus,
  PdsvTone,
  type PdsvSignal,
} from '../../src/native/pdsv.js';

function buildStream(frames: number): { stream: Buffer; signals: number } {
  const parts: Buffer[] = [];
  const seq = new Map<number, number>();
  let signals = 0;
  const next = (port: number) => {
    const s = seq.get(port) ?? 0;
    seq.set(port, (s + 1) & 0xffff);
    return s;
  };
  const down: PdsvSignal[] = [
    { type: 'lamp', appearance: 1, state: PdsvLampState.Flash },
    { type: 'display', row: 0, column: 0, clear: true, text: 'Call from 2001 Alice Example' },
    { type: 'tone', tone: PdsvTone.Ringback },
  ];
  for (let i = 0; i < frames; i++) {
    const port = i % 64;
    const address = { direction: PdsvDirection.ToPhone, port, sequence: next(port) };
    if (i % 10 === 9) {
      parts.push(encodePdsvVoice(address, { codec: G711Law.Pcmu, timestamp: i * 160, payload: new Uint8Array(160).fill(0xff) }));
    } else if (i % 50 === 0) {
      parts.push(encodePdsvLink(address, { kind: PdsvLinkKind.KeepAlive, status: PdsvLinkStatus.InService, interval: 5 }));
    } else {
      parts.push(encodePdsvSignal(address, down[i % down.length]!));
      signals++;
    }
  }
  return { stream: Buffer.concat(parts), signals };
}

// ---- Baseline: the same deframing in TypeScript ----
const crcTable = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  crcTable[i] = c;
}

const hecTable = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let b = 0; b < 8; b++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  hecTable[i] = c;
}

function hec(buf: Uint8Array, start: number): number {
  let crc = 0;
  for (let i = start; i < start + 8; i++) crc = hecTable[crc ^ buf[i]!]!;
  return crc ^ 0x55;
}

function crc16(buf: Uint8Array, start: number, end: number): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ crcTable[((crc >> 8) ^ buf[i]!) & 0xff]!) & 0xffff;
  return crc;
}

const hooks = [PdsvHookState.OnHook, PdsvHookState.OffHook, PdsvHookState.Flash];
const lamps = [PdsvLampState.Off, PdsvLampState.On, PdsvLampState.Flash, PdsvLampState.Wink];
const toneList = Object.values(PdsvTone);

class BaselineDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private readonly last = new Map<number, number>();
  voiceFrames = 0;

  push(chunk: Buffer): unknown[] {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const events: unknown[] = [];
    let pos = 0;
    while (pos + 1 < buf.length) {
      if (buf[pos] !== 0xa5 || buf[pos + 1] !== 0x3c) {
        pos++;
        continue;
      }
      if (buf.length - pos < 11) break;
      const len = buf.readUInt16BE(pos + 8);
      if (hec(buf, pos + 2) !== buf[pos + 10] || buf[pos + 2]! >> 4 !== 1 || len > 512) {
        pos++;
        continue;
      }
      const total = 13 + len;
      if (buf.length - pos < total) break;
      if (crc16(buf, pos + 2, pos + 11 + len) !== buf.readUInt16BE(pos + 11 + len)) {
        pos++;
        continue;
      }
      const port = buf.readUInt16BE(pos + 4);
      const sequence = buf.readUInt16BE(pos + 6);
      const key = (port << 1) | ((buf[pos + 2]! >> 3) & 1);
      const prev = this.last.get(key);
      this.last.set(key, sequence);
      const gap = prev === undefined ? 0 : (sequence - prev - 1) & 0xffff;
      const p = pos + 11;
      const type = buf[pos + 3];
      if (type === 1) {
        const id = buf[p];
        let signal: unknown;
        if (id === 1) signal = { type: 'hook', state: hooks[buf[p + 1]!] };
        else if (id === 3) {
          const n = buf[p + 4]!;
          signal = { type: 'display', row: buf[p + 1], column: buf[p + 2], clear: (buf[p + 3]! & 1) === 1, text: buf.toString('latin1', p + 5, p + 5 + n) };
        } else if (id === 4) signal = { type: 'lamp', appearance: buf[p + 1], state: lamps[buf[p + 2]!] };
        else if (id === 6) signal = { type: 'tone', tone: toneList[buf[p + 1]!] };
        events.push({ kind: 'signal', port, sequence, gap, signal });
      } else if (type === 2) {
        this.voiceFrames++;
      } else if (type === 3) {
        events.push({ kind: 'link', port, sequence, gap, interval: buf[p + 2] });
      }
      pos += total;
    }
    this.pending = Buffer.from(buf.subarray(pos));
    return events;
  }
}

function chunks(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < stream.length; off += size) out.push(stream.subarray(off, off + size));
  return out;
}

// CPU time of this process (user + system), not wall time: the machine is shared, and a busy neighbour
// stretches wall time without changing the work done.
function time(fn: () => number): { ms: number; events: number } {
  const start = process.cpuUsage();
  const events = fn();
  const used = process.cpuUsage(start);
  return { ms: (used.user + used.system) / 1000, events };
}

// Trials alternate between the two so that load from other processes hits both alike; best of each.
function bestInterleaved(trials: number, a: () => number, b: () => number): [number, number] {
  let bestA = Infinity;
  let bestB = Infinity;
  for (let i = 0; i < trials; i++) {
    bestA = Math.min(bestA, time(a).ms);
    bestB = Math.min(bestB, time(b).ms);
  }
  return [bestA, bestB];
}

export default async function run(args: string[]): Promise<void> {
  const frames = Number(args[0] ?? 200000);
  const { stream } = buildStream(frames);
  const parts = chunks(stream, 1400);
  const native = () => {
    const d = new PdsvDecoder();
    let n = 0;
    for (const c of parts) {
      const batch = d.push(c);
      n += batch.events.length + batch.voiceFrames; // voice stays native: counted, not turned into objects
    }
    return n;
  };
  const baseline = () => {
    const d = new BaselineDecoder();
    let n = 0;
    for (const c of parts) n += d.push(c).length;
    return n + d.voiceFrames;
  };
  // Warm-up, and a check that both decode every frame.
  const warm = [native(), baseline(), native(), baseline()];
  if (warm.some((n) => n !== frames)) throw new Error(`decoders disagree: ${warm.join(', ')} of ${frames}`);
  const [n, b] = bestInterleaved(9, native, baseline);
  const mbps = (ms: number) => stream.length / 1e6 / (ms / 1000);
  console.log(`native:   ${n.toFixed(1)} ms CPU, ${(frames / (n / 1000)).toFixed(0)} frames/s, ${mbps(n).toFixed(1)} MB/s`);
  console.log(`baseline: ${b.toFixed(1)} ms CPU, ${(frames / (b / 1000)).toFixed(0)} frames/s, ${mbps(b).toFixed(1)} MB/s`);
  console.log(
    JSON.stringify({
      benchmark: 'pdsv',
      frames,
      bytes: stream.length,
      nativeFramesPerSec: Math.round(frames / (n / 1000)),
      baselineFramesPerSec: Math.round(frames / (b / 1000)),
      ratio: Number((b / n).toFixed(2)),
    }),
  );
}
