/**
 * Presence fan-out: hook changes injected straight into the model (`PbxModel.apply`, CSTA
 * ServiceInitiated / ConnectionCleared events) become NOTIFYs from the presence service over UDP on
 * loopback, to subscribers held by a separate receiver process (notify-receiver.ts) that answers each.
 *   (a) 1,000 phones x 10 dialog-package subscribers: latency at 1,000 hook events/s (each NOTIFY names the
 *       hook change it carries), then the highest steady rate with no NOTIFY lost (distinct NOTIFYs
 *       delivered = events x 10);
 *   (b) one phone x 10,000 presence subscribers, one hook change: time until the last NOTIFY arrives (the
 *       median of five such changes; every one is reported).
 * Memory: heap + external memory (after GC) per subscription, over the last 9,000 of (a)'s 10,000.
 * Baseline in the same run: Kamailio presence + presence_dialoginfo, fed by PUBLISH (kamailio-presence.cfg).
 * Last line: one JSON object.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { ConnectionState, CstaEventKind, type CstaEvent } from '../../src/cti/index.js';
import { PbxModel } from '../../src/model/index.js';
import { PresenceService } from '../../src/presence/index.js';
import { SipStack } from '../../src/sip/ua/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { setLogLevel } from '../../src/util/log.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { kamailioBaseline, type BaselineFigures } from './kamailio-baseline.js';

const here = dirname(fileURLToPath(import.meta.url));
const epoch = (): number => performance.timeOrigin + performance.now();

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A receiver child process and its JSON-line conversation. */
export class Receiver {
  readonly port: Promise<number>;
  private readonly waiters: Array<(o: Record<string, unknown>) => void> = [];
  constructor(private readonly proc: ChildProcess) {
    const rl = createInterface({ input: proc.stdout! });
    let ready: (p: number) => void;
    this.port = new Promise((r) => (ready = r));
    rl.on('line', (line) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o['ready']) ready(o['port'] as number);
      else this.waiters.shift()?.(o);
    });
  }

  static start(): Receiver {
    return new Receiver(spawn(process.execPath, [join(here, 'notify-receiver.js')], { stdio: ['pipe', 'pipe', 'inherit'] }));
  }

  ask(o: object): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.proc.stdin!.write(JSON.stringify(o) + '\n');
    });
  }

  stop(): void {
    if (this.proc.exitCode === null && this.proc.pid) process.kill(this.proc.pid, 'SIGKILL');
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Drive `events` hook changes at `rate` per second over the devices, round robin: each change takes a
 * device off hook (new call) or back on hook. `onEvent` sees each device and its injection time.
 */
async function drive(rate: number, seconds: number, next: (i: number) => void): Promise<number> {
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (sent < due) next(sent++);
    // A 1 ms tick, not a busy loop: the injector shares the process (and its core) with switchhook.
    await new Promise((r) => setTimeout(r, 1));
  }
  return sent;
}

/**
 * Hook changes as CSTA events applied to the model: a device's even-numbered change takes it off hook with
 * call `DEVICE-K` (K the change's index), the next puts it back on hook, clearing that call.
 */
class HookDriver {
  constructor(private readonly model: PbxModel) {}

  toggle(device: string, k: number): void {
    if (k % 2 === 0) this.model.apply(device, ev(CstaEventKind.ServiceInitiated, device, `${device}-${k}`, ConnectionState.Initiated));
    else this.model.apply(device, ev(CstaEventKind.ConnectionCleared, device, `${device}-${k - 1}`, ConnectionState.Null));
  }
}

function ev(kind: CstaEventKind, device: string, callId: string, localState: ConnectionState): CstaEvent {
  return { kind, monitorCrossRefId: device, callId, subjectDevice: device, localState, moved: [], ...(kind === CstaEventKind.ConnectionCleared ? { actingDevice: device, cause: 'normalClearing' } : {}) };
}

interface Figures {
  notifyPerSec: number;
  /** Every change of the reported step reached every subscriber (no merging). */
  lossless: boolean;
  p50Ms: number;
  p99Ms: number;
  /** Shape (b): the median of the fan-outs, first hook change to the last of 10,000 NOTIFYs. */
  fanout10kMs: number;
  /** Every fan-out of shape (b), in order (the first is the coldest). */
  fanout10kRunsMs: number[];
  bytesPerSubscription: number;
  /** CPU time of the notifier per NOTIFY in the reported step, microseconds. */
  cpuUsPerNotify: number;
  /** Distinct NOTIFYs delivered in the first step (1,000 hook events/s) and the number expected. */
  notifies1k: number;
  expected1k: number;
}

/** Devices of shape (a) and the receptionist of shape (b). */
export const devicesA = Array.from({ length: 1000 }, (_, i) => String(20000 + i));
export const receptionist = '30000';

/**
 * Both shapes against a notifier at `target`: the receiver subscribes, `inject(device, k)` makes the k-th
 * hook change of a device (k counts from 0 over the whole run: even off hook with call `DEVICE-k`, odd back
 * on hook). `measure` is called once before and once after the last 9,000 of (a)'s 10,000 subscriptions
 * are made (the first 1,000 warm the code paths), each time after the SUBSCRIBE transactions are gone.
 * CPU per NOTIFY is the notifier's CPU time over a step (until its last NOTIFY) over the NOTIFYs delivered.
 */
export async function runShapes(
  target: string,
  inject: (device: string, k: number) => void,
  label: string,
  /** CPU time used so far by the notifier under test (every process of it), ms. */
  cpuMs: () => number,
  measure?: () => void,
): Promise<Omit<Figures, 'bytesPerSubscription'>> {
  // PRESENCE_SHAPE=a or b runs one shape (b alone: no memory figure either) while iterating; reports run both.
  const shapes = process.env['PRESENCE_SHAPE'] ?? 'ab';
  const rx = Receiver.start();
  await rx.port;
  const changes = new Map<string, number[]>();
  /** The next hook change of a device, its injection time kept under its index. */
  const change = (d: string): void => {
    let times = changes.get(d);
    if (!times) changes.set(d, (times = []));
    times.push(epoch());
    inject(d, times.length - 1);
  };
  try {
    const skipped = { notifyPerSec: NaN, lossless: false, cpuUsPerNotify: NaN, notifies1k: NaN, expected1k: NaN, lat: [] as number[] };
    const { lat, ...a } = shapes.includes('a') ? await shapeA() : skipped;
    const b = shapes.includes('b') ? await shapeB() : { median: NaN, runs: [] };
    return { ...a, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), fanout10kMs: b.median, fanout10kRunsMs: b.runs };
  } finally {
    rx.stop();
  }

  async function shapeA() {
    // SUBSCRIBE server transactions linger for Timer J (64*T1 = 32 s, RFC 3261 section 17.2.2): wait them out.
    if (measure) {
      await rx.ask({ cmd: 'subscribe', target, event: 'dialog', devices: devicesA.slice(0, 100), per: 10 });
      await sleep(33_000);
      measure();
      await rx.ask({ cmd: 'subscribe', target, event: 'dialog', devices: devicesA.slice(100), per: 10 });
      await sleep(33_000);
      measure();
    } else {
      await rx.ask({ cmd: 'subscribe', target, event: 'dialog', devices: devicesA, per: 10 });
    }

    // (a) latency at 1,000 hook events/s: each NOTIFY names the hook change whose state it carries.
    await drive(1000, 1, (i) => change(devicesA[i % devicesA.length]!)); // warm-up
    await sleep(1000);
    await rx.ask({ cmd: 'record', on: true });
    await drive(1000, 5, (i) => change(devicesA[i % devicesA.length]!));
    await sleep(1500);
    await rx.ask({ cmd: 'record', on: false });
    const dir = mkdtempSync(join(tmpdir(), 'sh-bench-rx-'));
    const file = join(dir, 'arrivals.bin');
    await rx.ask({ cmd: 'dump', file });
    const rec = new Float64Array(readFileSync(file).buffer.slice(0));
    rmSync(dir, { recursive: true, force: true });
    const lat: number[] = [];
    for (let i = 0; i + 2 < rec.length; i += 3) {
      const t0 = changes.get(String(rec[i]))?.[rec[i + 1]!];
      if (t0 !== undefined) lat.push(rec[i + 2]! - t0);
    }
    lat.sort((x, y) => x - y);

    // (a) throughput: raise the steady rate while every NOTIFY arrives (delivered = events x 10). The figure
    // is the best lossless step; when even the lowest step merged some changes, its delivery rate is given
    // and `lossless` is false.
    let notifyPerSec = 0;
    let lossless = false;
    let bestLossy = 0;
    let cpuUsPerNotify = NaN;
    let notifies1k = 0;
    let expected1k = 0;
    // PRESENCE_STEPS (comma-separated rates) shortens the ramp while iterating; reports use the full one.
    const steps = process.env['PRESENCE_STEPS']?.split(',').map(Number) ?? [1000, 2000, 3000, 4000, 5000, 5500, 6000, 7000, 8000, 10000];
    for (const rate of steps) {
      await rx.ask({ cmd: 'reset' });
      const c0 = cpuMs();
      const t0 = epoch();
      const events = await drive(rate, 3, (i) => change(devicesA[i % devicesA.length]!));
      let st = await rx.ask({ cmd: 'stats' });
      let stalled = 0;
      for (let prev = -1; stalled < 10 && (st['notifies'] as number) < events * 10; ) {
        await sleep(100);
        st = await rx.ask({ cmd: 'stats' });
        stalled = (st['notifies'] as number) === prev ? stalled + 1 : 0;
        prev = st['notifies'] as number;
      }
      const delivered = st['notifies'] as number;
      if (!expected1k) {
        notifies1k = delivered;
        expected1k = events * 10;
      }
      const spanMs = (st['last'] as number) - t0;
      const achieved = Math.round(delivered / (spanMs / 1000));
      const cpu = ((cpuMs() - c0) * 1000) / Math.max(1, delivered);
      process.stderr.write(`${label} at ${rate} hook events/s: ${delivered}/${events * 10} NOTIFYs (${st['repeats'] as number} repeated CSeqs) in ${Math.round(spanMs)} ms = ${achieved}/s, ${cpu.toFixed(1)} us CPU per NOTIFY\n`);
      if (delivered < events * 10) {
        if (!lossless) cpuUsPerNotify = cpu;
        bestLossy = Math.max(bestLossy, achieved);
        break;
      }
      lossless = true;
      if (achieved > notifyPerSec) cpuUsPerNotify = cpu;
      notifyPerSec = Math.max(notifyPerSec, achieved);
      if (spanMs > 3000 * 1.25) break;
      await sleep(500);
    }
    if (!lossless) notifyPerSec = bestLossy;
    await sleep(1000);
    return { notifyPerSec, lossless, cpuUsPerNotify, notifies1k, expected1k, lat };
  }

  async function shapeB(): Promise<{ median: number; runs: number[] }> {
    // (b) one receptionist phone watched by 10,000 presence subscribers. The machine is shared and noisy, so
    // the hook change is made PRESENCE_FANOUTS times (default 5, alternately off and on hook, each once no
    // NOTIFY has arrived for 1 s); the figure is the median, and every run is reported. A run that does not
    // complete within 10 s counts as NaN (and makes the median NaN if it is one of the middle ones).
    await rx.ask({ cmd: 'subscribe', target, event: 'presence', devices: [receptionist], per: 10_000 });
    const trials = Math.max(1, Number(process.env['PRESENCE_FANOUTS'] ?? 5));
    const runs: number[] = [];
    for (let t = 0; t < trials; t++) {
      await quiet();
      await rx.ask({ cmd: 'reset' });
      const tb = epoch();
      change(receptionist);
      let st = await rx.ask({ cmd: 'stats' });
      for (let w = 0; w < 500 && (st['notifies'] as number) < 10_000; w++) {
        await sleep(20);
        st = await rx.ask({ cmd: 'stats' });
      }
      const ms = (st['notifies'] as number) >= 10_000 ? (st['last'] as number) - tb : NaN;
      process.stderr.write(`${label} fan-out ${t + 1}/${trials}: ${st['notifies'] as number} NOTIFYs, ${Number.isFinite(ms) ? ms.toFixed(1) : 'incomplete'} ms\n`);
      runs.push(ms);
    }
    // A fan-out counts only its own NOTIFYs: late ones of the step before (a notifier behind on shape (a),
    // or on the previous fan-out) must have stopped arriving, 1 s without any (at most 30 s).
    async function quiet(): Promise<void> {
      let seen = (await rx.ask({ cmd: 'stats' }))['notifies'] as number;
      for (let still = 0, w = 0; still < 4 && w < 120; w++) {
        await sleep(250);
        const now = (await rx.ask({ cmd: 'stats' }))['notifies'] as number;
        still = now === seen ? still + 1 : 0;
        seen = now;
      }
    }
    const sorted = [...runs].sort((x, y) => (Number.isNaN(x) ? 1 : Number.isNaN(y) ? -1 : x - y));
    return { median: sorted[(sorted.length - 1) >> 1]!, runs };
  }
}

async function switchhookRun(): Promise<Figures> {
  const data = mkdtempSync(join(tmpdir(), 'sh-bench-presence-'));
  const metrics = new MetricsRegistry();
  const model = new PbxModel({ metrics, devices: [...devicesA, receptionist] });
  for (const d of [...devicesA, receptionist]) model.resync(d, []);
  const stack = new SipStack({ listen: ['udp:127.0.0.1:0'], metrics, transport: { udpBufferBytes: 16 * 1024 * 1024 } });
  const [addr] = await stack.start();
  const store = new SqliteStore(data);
  const presence = new PresenceService({ stack, model, store, domain: 'bench.invalid', maxSubscriptions: 50_000 });
  await presence.start();
  const driver = new HookDriver(model);
  try {
    // Memory per subscription: heap and external (Buffer/ArrayBuffer) memory after GC, grown by 9,000
    // subscriptions over the first 1,000.
    const marks: Array<{ bytes: number; subs: number }> = [];
    const cpu = (): number => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const figures = await runShapes(`127.0.0.1:${addr!.port}`, (d, k) => driver.toggle(d, k), 'switchhook', cpu, () => {
      gc();
      gc();
      const m = process.memoryUsage();
      marks.push({ bytes: m.heapUsed + m.external, subs: presence.notifier.size });
    });
    const [m0, m1] = marks;
    const bytesPerSubscription = m0 && m1 && m1.subs > m0.subs ? Math.round((m1.bytes - m0.bytes) / (m1.subs - m0.subs)) : NaN;
    return { ...figures, bytesPerSubscription };
  } finally {
    await presence.close();
    await stack.close();
    await store.close();
    rmSync(data, { recursive: true, force: true });
  }
}

const round = (x: number, d = 3): number => (Number.isFinite(x) ? Number(x.toFixed(d)) : x);

/** Runs both shapes against switchhook, then against Kamailio; prints one JSON line last. */
export default async function main(): Promise<void> {
  setLogLevel('warn');
  // PRESENCE_ONLY=switchhook|kamailio runs one side while iterating; reports run both.
  const only = process.env['PRESENCE_ONLY'];
  const sh = only === 'kamailio' ? { notifyPerSec: NaN, lossless: false, p50Ms: NaN, p99Ms: NaN, fanout10kMs: NaN, fanout10kRunsMs: [], bytesPerSubscription: NaN, cpuUsPerNotify: NaN, notifies1k: NaN, expected1k: NaN } : await switchhookRun();
  process.stderr.write(`switchhook: ${JSON.stringify(sh)}\n`);
  let k: BaselineFigures | undefined;
  try {
    if (only === 'switchhook') throw new Error('skipped (PRESENCE_ONLY=switchhook)');
    k = await kamailioBaseline();
    process.stderr.write(`kamailio: ${JSON.stringify(k)}\n`);
  } catch (err) {
    process.stderr.write(`kamailio baseline failed: ${(err as Error).message}\n`);
  }
  console.log(
    JSON.stringify({
      bench: 'presence-fanout',
      notifyPerSec: sh.notifyPerSec,
      notifyLossless: sh.lossless,
      p50Ms: round(sh.p50Ms),
      p99Ms: round(sh.p99Ms),
      fanout10kMs: round(sh.fanout10kMs, 1),
      fanout10kRunsMs: sh.fanout10kRunsMs.map((x) => round(x, 1)),
      bytesPerSubscription: sh.bytesPerSubscription,
      cpuUsPerNotify: round(sh.cpuUsPerNotify, 1),
      kamailioCpuUsPerNotify: k ? round(k.cpuUsPerNotify, 1) : null,
      kamailioNotifyPerSec: k?.notifyPerSec ?? null,
      kamailioLossless: k?.lossless ?? null,
      kamailioP99Ms: k ? round(k.p99Ms) : null,
      kamailioFanout10kMs: k ? round(k.fanout10kMs, 1) : null,
      kamailioFanout10kRunsMs: k ? k.fanout10kRunsMs.map((x) => round(x, 1)) : null,
      kamailioNotifiesAt1k: k ? `${k.notifies1k}/${k.expected1k}` : null,
      ratio: k && k.notifyPerSec > 0 ? round(sh.notifyPerSec / k.notifyPerSec, 2) : null,
      injection: 'model.apply',
    }),
  );
}
