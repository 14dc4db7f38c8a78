/**
 * cti-parse: CSTA XML frames of a busy-hour capture decoded by the native scanner and read in TypeScript,
 * against a pure-JS baseline (fast-xml-parser, framing in JS, the same fields extracted) in the same run.
 *
 * Input: `captures/csta/busy-hour.pcapng` (recorded from the PBX simulator) when present, its TCP streams
 * reassembled and pushed segment by segment; otherwise a generated corpus (benchmarks/cti/csta-corpus.ts)
 * pushed in 64 KiB reads. Every event's root, invokeID, monitorCrossRefID, callIDs and deviceIDs, devices
 * (role and id) and cause are materialised as JS strings and folded into a checksum that both sides must
 * agree on. Each side warms up first; the best of several trials counts.
 *
 * Usage: npm run bench -- cti-parse [--calls N] [--trials N] [--file capture.pcapng]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { XMLParser } from 'fast-xml-parser';

import { CSTA_RECORD_WORDS, CstaFrameReader, CstaRecordKind, type CstaBatch, type CstaMessage } from '../../src/native/csta.js';
import { packageRoot } from '../../src/util/package-root.js';
import { readCaptureTcp } from '../../src/util/pcap/index.js';
import { generateCorpus } from './csta-corpus.js';

interface Input {
  source: string;
  /** Per TCP direction, the chunks in arrival order. */
  streams: Buffer[][];
  frames: number;
  bytes: number;
}

/** What both sides fold every event into: string lengths and counts, so neither can skip work. */
class Checksum {
  events = 0;
  strings = 0;
  chars = 0;
  add(s: string | undefined): void {
    if (s === undefined) return;
    this.strings++;
    this.chars += s.length;
  }
}

async function loadInput(args: string[]): Promise<Input> {
  const fileArg = args.indexOf('--file');
  const callsArg = args.indexOf('--calls');
  const file = fileArg >= 0 ? args[fileArg + 1]! : join(packageRoot(), 'captures', 'csta', 'busy-hour.pcapng');
  if (existsSync(file)) {
    const byFlow = new Map<string, Buffer[]>();
    await readCaptureTcp(file, {
      data(flow, bytes) {
        let chunks = byFlow.get(flow.id);
        if (!chunks) byFlow.set(flow.id, (chunks = []));
        chunks.push(bytes);
      },
    });
    const streams = [...byFlow.values()].filter((c) => c[0]![0] === 0 && c[0]![1] === 0);
    let frames = 0;
    let bytes = 0;
    for (const s of streams) {
      const r = new CstaFrameReader();
      for (const c of s) {
        frames += r.push(c).messages.length;
        bytes += c.length;
      }
    }
    return { source: file, streams, frames, bytes };
  }
  const calls = callsArg >= 0 ? Number(args[callsArg + 1]) : 3000;
  const all = Buffer.concat(generateCorpus(calls));
  const frames = new CstaFrameReader().push(all).messages.length;
  const chunks: Buffer[] = [];
  for (let i = 0; i < all.length; i += 65536) chunks.push(all.subarray(i, i + 65536));
  return { source: `generated corpus (${calls} calls)`, streams: [chunks], frames, bytes: all.length };
}

// ---- native: pushBatch, fields read straight from the batch records

function nativeBatchPass(input: Input, sum: Checksum): void {
  const visit = (batch: CstaBatch, at: number): void => {
    sum.events++;
    sum.chars += batch.invokeId(at) & 0; // a number already
    sum.add(batch.root(at));
    const end = batch.endRecord(at);
    for (let r = batch.firstRecord(at); r < end; r += CSTA_RECORD_WORDS) {
      switch (batch.kind(r)) {
        case CstaRecordKind.CrossRef:
        case CstaRecordKind.Cause:
          sum.add(batch.value(r, 0));
          break;
        case CstaRecordKind.Connection:
          sum.add(batch.value(r, 1) ?? '');
          sum.add(batch.value(r, 2) ?? '');
          break;
        case CstaRecordKind.Device:
          sum.add(batch.value(r, 0));
          sum.add(batch.value(r, 1));
          break;
        default:
          break;
      }
    }
  };
  for (const chunks of input.streams) {
    const reader = new CstaFrameReader();
    for (const c of chunks) reader.pushBatch(c, visit);
  }
}

// ---- native: push(), CstaMessage objects

function readMessage(m: CstaMessage, sum: Checksum): void {
  sum.events++;
  sum.add(m.root);
  sum.add(m.monitorCrossRefId);
  for (const c of m.connections) {
    sum.add(c.callId);
    sum.add(c.deviceId);
  }
  for (const d of m.devices) {
    sum.add(d.role);
    sum.add(d.id);
  }
  sum.add(m.cause);
}

function nativeObjectPass(input: Input, sum: Checksum): void {
  for (const chunks of input.streams) {
    const reader = new CstaFrameReader();
    for (const c of chunks) for (const m of reader.push(c).messages) readMessage(m, sum);
  }
}

// ---- baseline: framing in JS, fast-xml-parser, the same extraction by walking the tree

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
});

type Node = string | { [k: string]: Node | Node[] };

function isDeviceRole(name: string): boolean {
  return name.endsWith('Device') || name === 'device' || name === 'newDestination' || name === 'calledDirectoryNumber' || name === 'deviceObject' || name === 'forwardDN' || name === 'forwardTo' || name === 'transferredTo';
}

function walk(name: string, node: Node, parent: string, sum: Checksum, seen: { xref: boolean; cause: boolean }): void {
  if (typeof node === 'string') {
    if (name === 'monitorCrossRefID') {
      if (!seen.xref) sum.add(node);
      seen.xref = true;
    } else if (name === 'cause') {
      if (!seen.cause) sum.add(node);
      seen.cause = true;
    } else if (name === 'deviceIdentifier' || name === 'numberDialed') {
      sum.add(parent);
      sum.add(node);
    } else if (isDeviceRole(name)) {
      sum.add(name);
      sum.add(node);
    }
    return;
  }
  if (name === 'transferredConnections') return;
  if ('callID' in node || 'deviceID' in node) {
    sum.add(typeof node.callID === 'string' ? node.callID : '');
    sum.add(typeof node.deviceID === 'string' ? node.deviceID : '');
  }
  for (const key in node) {
    if (key === 'callID' || key === 'deviceID') continue;
    const v = node[key]!;
    if (Array.isArray(v)) for (const item of v) walk(key, item, name, sum, seen);
    else walk(key, v, name, sum, seen);
  }
}

function baselinePass(input: Input, sum: Checksum): void {
  for (const chunks of input.streams) {
    let pending: Buffer | undefined;
    for (const c of chunks) {
      let buf = pending ? Buffer.concat([pending, c]) : c;
      let pos = 0;
      while (buf.length - pos >= 8) {
        const len = buf.readUInt16BE(pos + 2);
        if (buf[pos] !== 0 || buf[pos + 1] !== 0 || len <= 8) throw new Error('baseline: bad frame');
        if (buf.length - pos < len) break;
        const invokeId = Number(buf.toString('latin1', pos + 4, pos + 8));
        const doc = parser.parse(buf.toString('utf8', pos + 8, pos + len)) as Record<string, Node>;
        const root = Object.keys(doc)[0]!;
        sum.events++;
        sum.chars += invokeId & 0;
        sum.add(root);
        const body = doc[root]!;
        if (typeof body !== 'string') walk(root, body, '', sum, { xref: false, cause: false });
        pos += len;
      }
      buf = buf.subarray(pos);
      pending = buf.length > 0 ? buf : undefined;
    }
  }
}

/**
 * Events per second of CPU time (user + system of this process) and of wall time, best of `trials`; each
 * trial repeats the pass for at least `minMs` of CPU time. CPU time is the per-core figure: the benchmark
 * machine is shared, so wall time also counts the time other processes held the core.
 */
function measure(pass: (input: Input, sum: Checksum) => void, input: Input, trials: number, minMs: number): { perSec: number; wallPerSec: number; sum: Checksum } {
  let best = 0;
  let bestWall = 0;
  let last = new Checksum();
  pass(input, last); // warm-up
  pass(input, new Checksum());
  for (let t = 0; t < trials; t++) {
    let events = 0;
    const wall0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    let cpu = 0;
    do {
      last = new Checksum();
      pass(input, last);
      events += last.events;
      const used = process.cpuUsage(cpu0);
      cpu = (used.user + used.system) / 1e6;
    } while (cpu * 1000 < minMs);
    const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
    best = Math.max(best, events / cpu);
    bestWall = Math.max(bestWall, events / wall);
  }
  return { perSec: best, wallPerSec: bestWall, sum: last };
}

export default async function ctiParse(args: string[]): Promise<void> {
  const trialsArg = args.indexOf('--trials');
  const trials = trialsArg >= 0 ? Number(args[trialsArg + 1]) : 5;
  const input = await loadInput(args);
  console.log(`cti-parse: ${input.source}: ${input.frames} frames, ${input.bytes} bytes (${Math.round(input.bytes / input.frames)} bytes/frame), ${input.streams.length} stream(s)`);

  const batch = measure(nativeBatchPass, input, trials, 1000);
  console.log(`native batch (pushBatch, fields read from records): ${Math.round(batch.perSec)} events/s CPU, ${Math.round(batch.wallPerSec)} wall`);
  const objects = measure(nativeObjectPass, input, trials, 1000);
  console.log(`native objects (push(), CstaMessage): ${Math.round(objects.perSec)} events/s CPU, ${Math.round(objects.wallPerSec)} wall`);
  const baseline = measure(baselinePass, input, Math.min(trials, 3), 1000);
  console.log(`baseline (fast-xml-parser): ${Math.round(baseline.perSec)} events/s CPU, ${Math.round(baseline.wallPerSec)} wall`);

  const agree = batch.sum.events === baseline.sum.events && batch.sum.strings === baseline.sum.strings && batch.sum.chars === baseline.sum.chars;
  const objectsAgree = objects.sum.strings === batch.sum.strings && objects.sum.chars === batch.sum.chars;
  if (!agree || !objectsAgree) {
    console.log(`checksum mismatch: batch ${JSON.stringify(batch.sum)} objects ${JSON.stringify(objects.sum)} baseline ${JSON.stringify(baseline.sum)}`);
  }
  console.log(
    JSON.stringify({
      bench: 'cti-parse',
      eventsPerSec: Math.round(batch.perSec),
      baselineEventsPerSec: Math.round(baseline.perSec),
      ratio: Number((batch.perSec / baseline.perSec).toFixed(2)),
      wallEventsPerSec: Math.round(batch.wallPerSec),
      wallBaselineEventsPerSec: Math.round(baseline.wallPerSec),
      objectEventsPerSec: Math.round(objects.perSec),
      objectRatio: Number((objects.perSec / baseline.perSec).toFixed(2)),
      frames: input.frames,
      bytesPerFrame: Math.round(input.bytes / input.frames),
      checksumsAgree: agree && objectsAgree,
      source: input.source,
    }),
  );
}
