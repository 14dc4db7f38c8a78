/**
 * cti-model: the CTI hot path end to end, CSTA bytes to device change events. The switch-to-client stream
 * of `captures/csta/busy-hour.pcapng` goes through the native frame reader, the event normaliser
 * (`normaliseEvent`) and the model (`PbxModel.apply`, one listener), against a baseline that frames in JS
 * and parses each document with fast-xml-parser into the same `CstaMessage` shape before the same
 * normaliser and model. Both must end with the same model state and change count. Each side warms up, then
 * the best of several trials counts.
 *
 * Usage: npm run bench -- cti-model [--trials N] [--file capture.pcapng]
 */
import { join } from 'node:path';

import { XMLParser } from 'fast-xml-parser';

import { normaliseEvent } from '../../src/cti/index.js';
import { PbxModel } from '../../src/model/index.js';
import { CstaFrameReader, type CstaMessage, type CstaTransferredConnection } from '../../src/native/csta.js';
import { packageRoot } from '../../src/util/package-root.js';
import { readCaptureTcp } from '../../src/util/pcap/index.js';

interface Input {
  /** Switch-to-client chunks in arrival order. */
  chunks: Buffer[];
  devices: string[];
  deviceByXref: Map<string, string>;
  events: number;
}

async function load(file: string): Promise<Input> {
  const byFlow = new Map<string, { port: number; chunks: Buffer[] }>();
  await readCaptureTcp(file, {
    data(flow, bytes) {
      let f = byFlow.get(flow.id);
      if (!f) byFlow.set(flow.id, (f = { port: flow.srcPort, chunks: [] }));
      f.chunks.push(bytes);
    },
  });
  // The switch is the side whose stream carries events; MonitorStart (client) and its response (switch)
  // pair each monitorCrossRefID with its device by invokeID.
  const decoded = [...byFlow.values()].map((f) => ({ f, messages: new CstaFrameReader().push(Buffer.concat(f.chunks)).messages }));
  const sw = decoded.find((d) => d.messages.some((m) => m.root.endsWith('Event')));
  const client = decoded.find((d) => d !== sw);
  if (!sw || !client) throw new Error(`${file}: no CSTA link with events`);
  const deviceByInvoke = new Map<number, string>();
  for (const m of client.messages) if (m.root === 'MonitorStart') deviceByInvoke.set(m.invokeId, m.devices.find((d) => d.role === 'deviceObject')!.id);
  const deviceByXref = new Map<string, string>();
  for (const m of sw.messages) {
    if (m.root === 'MonitorStartResponse' && m.monitorCrossRefId !== undefined) deviceByXref.set(m.monitorCrossRefId, deviceByInvoke.get(m.invokeId)!);
  }
  return {
    chunks: sw.f.chunks,
    devices: [...deviceByInvoke.values()],
    deviceByXref,
    events: sw.messages.filter((m) => m.root.endsWith('Event')).length,
  };
}

// ---- baseline: JS framing + fast-xml-parser into the CstaMessage shape

type XNode = Record<string, unknown>;
const parser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false, preserveOrder: true, trimValues: true });

function tagOf(n: XNode): string {
  for (const k in n) if (k !== ':@') return k;
  return '';
}
function kids(n: XNode, tag: string): XNode[] {
  return (n[tag] as XNode[] | undefined) ?? [];
}
function leafText(children: XNode[]): string | undefined {
  if (children.length === 0) return '';
  if (children.length === 1 && '#text' in children[0]!) return String(children[0]!['#text']);
  return undefined;
}
function child(children: XNode[], tag: string): string | undefined {
  for (const c of children) if (tagOf(c) === tag) return leafText(kids(c, tag));
  return undefined;
}

function walk(tag: string, children: XNode[], m: CstaMessage): void {
  const text = leafText(children);
  if (text !== undefined) {
    if (tag === 'monitorCrossRefID') m.monitorCrossRefId ??= text;
    else if (tag === 'localConnectionInfo') m.localConnectionInfo ??= text;
    else if (tag === 'cause') m.cause ??= text;
    else if (!(tag in m.fields)) m.fields[tag] = text;
    return;
  }
  if (tag === 'connectionListItem') {
    const item: CstaTransferredConnection = {};
    for (const c of children) {
      const t = tagOf(c);
      const k = kids(c, t);
      if (t === 'newConnection') {
        const call = child(k, 'callID');
        const dev = child(k, 'deviceID');
        if (call !== undefined) item.newCallId = call;
        if (dev !== undefined) item.newDeviceId = dev;
      } else if (t === 'oldConnection') {
        const call = child(k, 'callID');
        const dev = child(k, 'deviceID');
        if (call !== undefined) item.oldCallId = call;
        if (dev !== undefined) item.oldDeviceId = dev;
      }
    }
    m.transferredConnections.push(item);
    return;
  }
  const callId = child(children, 'callID');
  const deviceId = child(children, 'deviceID');
  if (callId !== undefined || deviceId !== undefined) {
    m.connections.push({ role: tag, callId: callId ?? '', deviceId: deviceId ?? '' });
    return;
  }
  const ident = child(children, 'deviceIdentifier');
  if (ident !== undefined) {
    m.devices.push({ role: tag, id: ident });
    return;
  }
  for (const c of children) {
    const t = tagOf(c);
    if (t !== '#text') walk(t, kids(c, t), m);
  }
}

function parseBaseline(invokeId: number, xml: Buffer): CstaMessage {
  const doc = parser.parse(xml.toString('utf8')) as XNode[];
  const rootNode = doc.find((n) => tagOf(n) !== '?xml')!;
  const root = tagOf(rootNode);
  const m: CstaMessage = { invokeId, root, connections: [], devices: [], transferredConnections: [], fields: {}, xml };
  for (const c of kids(rootNode, root)) {
    const t = tagOf(c);
    if (t !== '#text') walk(t, kids(c, t), m);
  }
  return m;
}

function baselineFrames(chunks: Buffer[], onMessage: (m: CstaMessage) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  for (const chunk of chunks) {
    let buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const len = buf.readUInt16BE(2);
      if (len <= 8) throw new Error('bad frame length');
      if (buf.length < len) break;
      onMessage(parseBaseline(Number(buf.toString('latin1', 4, 8)), buf.subarray(8, len)));
      buf = buf.subarray(len);
    }
    pending = buf;
  }
}

// ---- the pipeline both sides share after parsing

function run(input: Input, native: boolean): { ms: number; changes: number; state: string } {
  const model = new PbxModel({ devices: input.devices });
  for (const d of input.devices) model.resync(d, []);
  let changes = 0;
  model.onChange((c) => {
    if (c.oldState !== c.newState) changes++;
  });
  const onMessage = (m: CstaMessage): void => {
    if (!m.root.endsWith('Event')) return;
    const device = input.deviceByXref.get(m.monitorCrossRefId ?? '');
    if (device === undefined) return;
    const ev = normaliseEvent(m);
    if (ev) model.apply(device, ev);
  };
  const t0 = process.hrtime.bigint();
  if (native) {
    const reader = new CstaFrameReader();
    for (const c of input.chunks) for (const m of reader.push(c).messages) onMessage(m);
  } else {
    baselineFrames(input.chunks, onMessage);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, changes, state: JSON.stringify(model.devices().map((d) => [d.device, d.state, d.calls.length])) };
}

export default async function main(args: string[]): Promise<void> {
  const fileArg = args.indexOf('--file');
  const trialsArg = args.indexOf('--trials');
  const file = fileArg >= 0 ? args[fileArg + 1]! : join(packageRoot(), 'captures', 'csta', 'busy-hour.pcapng');
  const trials = trialsArg >= 0 ? Number(args[trialsArg + 1]) : 7;
  const input = await load(file);
  const best = { native: Infinity, baseline: Infinity };
  let check: { native?: string; baseline?: string } = {};
  for (let i = 0; i < 3; i++) {
    check = { native: run(input, true).state, baseline: run(input, false).state };
  }
  if (check.native !== check.baseline) throw new Error('native and baseline pipelines disagree on the model state');
  let changes = 0;
  for (let i = 0; i < trials; i++) {
    const n = run(input, true);
    const b = run(input, false);
    if (n.changes !== b.changes) throw new Error('native and baseline pipelines disagree on the changes');
    changes = n.changes;
    best.native = Math.min(best.native, n.ms);
    best.baseline = Math.min(best.baseline, b.ms);
  }
  const perSec = (ms: number): number => Math.round((input.events / ms) * 1000);
  console.log(`cti-model: ${input.events} events, ${input.devices.length} devices, ${changes} hook-state changes; best of ${trials} trials`);
  console.log(`  native scanner + normaliser + model : ${best.native.toFixed(1)} ms, ${perSec(best.native)} events/s, ${((best.native * 1e6) / input.events).toFixed(0)} ns/event`);
  console.log(`  fast-xml-parser + normaliser + model: ${best.baseline.toFixed(1)} ms, ${perSec(best.baseline)} events/s`);
  console.log(
    JSON.stringify({
      bench: 'cti-model',
      events: input.events,
      devices: input.devices.length,
      hookStateChanges: changes,
      nativeMs: Number(best.native.toFixed(2)),
      baselineMs: Number(best.baseline.toFixed(2)),
      nativeEventsPerSec: perSec(best.native),
      baselineEventsPerSec: perSec(best.baseline),
      ratio: Number((best.baseline / best.native).toFixed(2)),
    }),
  );
}
