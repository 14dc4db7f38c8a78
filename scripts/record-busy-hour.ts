/**
 * Records `captures/csta/busy-hour.pcapng`: the CSTA XML traffic of a busy hour at a 100-extension PBX,
 * compressed in time. Starts the simulator and a CTI link client monitoring every extension, starts
 * `tshark -i lo -f 'tcp port P'`, drives a seeded mix of calls (answered, unanswered, busy, hold/retrieve,
 * single-step and consultation transfers, deflections, click-to-dial through the link, DND toggles), then
 * stops everything and prints one JSON summary line.
 *
 * usage: npm run build && node dist/scripts/record-busy-hour.js [--calls N] [--out FILE] [--extensions SPEC]
 *        [--seed N] [--concurrency N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { BringUpVariant, ConnectionState, CtiLink, LinkState } from '../src/cti/index.js';
import { HookState, PbxModel, bindLinkToModel } from '../src/model/index.js';
import { PbxSimulator, SimError, seededRandom, type SimSwitch } from '../src/sim/index.js';
import { expandExtensions } from '../src/util/extensions.js';
import { MetricsRegistry } from '../src/util/metrics.js';
import { packageRoot } from '../src/util/package-root.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    out: { type: 'string', default: 'captures/csta/busy-hour.pcapng' },
    extensions: { type: 'string', default: '2000-2099' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '24' },
  },
});

const random = seededRandom(Number(values.seed));
const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const extensions = expandExtensions(values.extensions);
const totalCalls = Number(values.calls);
const concurrency = Number(values.concurrency);
const out = resolve(packageRoot(), values.out);
const stats: Record<string, number> = {};
const count = (k: string): void => void (stats[k] = (stats[k] ?? 0) + 1);

const free = new Set(extensions);
const inCall = new Set<string>();

function reserve(n: number): string[] | undefined {
  if (free.size < n) return undefined;
  const pool = [...free];
  const picked: string[] = [];
  while (picked.length < n) {
    const e = pool.splice(Math.floor(random() * pool.length), 1)[0]!;
    picked.push(e);
  }
  for (const e of picked) free.delete(e);
  return picked;
}

function release(core: SimSwitch, exts: string[]): void {
  for (const e of exts) {
    for (const c of core.phone(e).calls) {
      try {
        core.clearConnection(e, c.callId);
      } catch (err) {
        if (!(err instanceof SimError)) throw err;
      }
    }
    if (core.phone(e).hook === 'offHook') core.onHook(e);
    inCall.delete(e);
    free.add(e);
  }
}

function callOf(core: SimSwitch, ext: string, state: ConnectionState): string | undefined {
  return core.phone(ext).calls.find((c) => c.state === state)?.callId;
}

/** Runs a CTI service; refusals (the phone moved on meanwhile) are part of real traffic and counted. */
async function viaLink(name: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
    count(`cti:${name}`);
  } catch (err) {
    count(`cti:${name}:${(err as { code?: string }).code ?? 'error'}`);
  }
}

async function scenario(core: SimSwitch, link: CtiLink): Promise<void> {
  const roll = random();
  const useLink = random() < 0.25;
  const parties = reserve(roll < 0.1 ? 3 : 2);
  if (!parties) {
    await sleep(5);
    return;
  }
  const [a, b, c] = parties as [string, string, string | undefined];
  try {
    if (roll < 0.05 && inCall.size > 0) {
      // Busy: dial somebody who is in a call (or ringing).
      const target = [...inCall][Math.floor(random() * inCall.size)]!;
      core.dial(a, target);
      count('busy-attempt');
      await sleep(between(20, 80));
      return;
    }
    inCall.add(a).add(b);
    if (useLink) await viaLink('MakeCall', () => link.makeCall(a, b));
    else {
      core.offHook(a);
      await sleep(between(5, 30));
      core.dial(a, b);
    }
    await sleep(between(20, 120));
    if (roll < 0.1 && c !== undefined) {
      // Consultation transfer: B answers, consults C, C answers, B completes.
      core.answer(b);
      await sleep(between(20, 100));
      core.consultation(b, undefined, c);
      inCall.add(c);
      await sleep(between(20, 80));
      if (useLink) await viaLink('AnswerCall', async () => link.answerCall({ callId: callOf(core, c, ConnectionState.Alerting)!, deviceId: c }));
      else core.answer(c);
      await sleep(between(20, 80));
      core.transfer(b);
      count('consultation-transfer');
      await sleep(between(50, 200));
      core.onHook(random() < 0.5 ? a : c);
      return;
    }
    if (roll < 0.25) {
      // No answer: the caller gives up.
      await sleep(between(30, 150));
      core.onHook(a);
      count('no-answer');
      return;
    }
    if (roll < 0.28) {
      // Deflect the ringing call to a free phone.
      const d = reserve(1);
      if (d) {
        parties.push(d[0]!);
        inCall.add(d[0]!);
        if (useLink) await viaLink('DeflectCall', async () => link.deflectCall({ callId: callOf(core, b, ConnectionState.Alerting)!, deviceId: b }, d[0]!));
        else core.deflect(b, undefined, d[0]!);
        await sleep(between(20, 80));
        core.answer(d[0]!);
        count('deflect');
        await sleep(between(50, 200));
        core.onHook(d[0]!);
        return;
      }
    }
    if (useLink && callOf(core, b, ConnectionState.Alerting) !== undefined) await viaLink('AnswerCall', async () => link.answerCall({ callId: callOf(core, b, ConnectionState.Alerting)!, deviceId: b }));
    else core.answer(b);
    await sleep(between(50, 250));
    if (roll < 0.4) {
      // Hold and retrieve.
      if (useLink) await viaLink('HoldCall', async () => link.holdCall({ callId: callOf(core, a, ConnectionState.Connected)!, deviceId: a }));
      else core.hold(a);
      await sleep(between(30, 150));
      if (useLink) await viaLink('RetrieveCall', async () => link.retrieveCall({ callId: callOf(core, a, ConnectionState.Held)!, deviceId: a }));
      else core.retrieve(a);
      count('hold-retrieve');
      await sleep(between(30, 150));
    } else if (roll < 0.46) {
      // Single-step transfer of the caller to a free phone, which answers.
      const d = reserve(1);
      if (d) {
        parties.push(d[0]!);
        inCall.add(d[0]!);
        if (useLink) await viaLink('SingleStepTransferCall', async () => link.singleStepTransferCall({ callId: callOf(core, b, ConnectionState.Connected)!, deviceId: b }, d[0]!));
        else core.singleStepTransfer(b, undefined, d[0]!);
        await sleep(between(20, 100));
        core.answer(d[0]!);
        count('single-step-transfer');
        await sleep(between(50, 200));
      }
    } else if (roll < 0.48) {
      // DND toggled by the user during the call, through the link.
      await viaLink('SetDoNotDisturb', () => link.setDoNotDisturb(b, true));
      await sleep(between(20, 60));
      await viaLink('SetDoNotDisturb', () => link.setDoNotDisturb(b, false));
    }
    // Hang up (sometimes through ClearConnection).
    const who = random() < 0.5 ? a : b;
    const call = callOf(core, who, ConnectionState.Connected);
    if (useLink && call !== undefined) await viaLink('ClearConnection', () => link.clearConnection({ callId: call, deviceId: who }));
    else core.onHook(who);
    count('answered');
  } catch (err) {
    if (!(err instanceof SimError)) throw err;
    count(`sim:${err.value}`);
  } finally {
    release(core, parties);
  }
}

async function startTshark(port: number): Promise<ChildProcess> {
  mkdirSync(dirname(out), { recursive: true });
  const ts = spawn('tshark', ['-i', 'lo', '-f', `tcp port ${port}`, '-w', out, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`tshark did not start: ${err}`)), 30_000);
    ts.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Capturing on')) {
        clearTimeout(timer);
        // dumpcap announces the interface slightly before its capture filter is live: give it a moment, so
        // the capture holds the connection from its SYN and the whole bring-up.
        setTimeout(resolveReady, 2000);
      }
    });
    ts.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tshark exited with ${code}: ${err}`));
    });
  });
  return ts;
}

const sim = new PbxSimulator();
const addr = await sim.start({ cstaPort: 0, extensions, systemStatusIntervalMs: 2000 });
const tshark = await startTshark(addr.csta.port);
const metrics = new MetricsRegistry();
const link = new CtiLink({
  host: '127.0.0.1',
  port: addr.csta.port,
  devices: extensions,
  bringUp: BringUpVariant.SystemRegister,
  registration: { address: 'sip:switchhook@127.0.0.1:5060', applicationId: 'switchhook' },
  heartbeatIntervalMs: 5000,
  requestTimeoutMs: 10_000,
  metrics,
});
const model = new PbxModel({ metrics });
bindLinkToModel(link, model);
link.start();
await once(link, 'up');
const started = Date.now();

let launched = 0;
async function worker(): Promise<void> {
  while (launched < totalCalls) {
    launched++;
    await scenario(sim.core, link);
    await sleep(between(0, 20));
  }
}
await Promise.all(Array.from({ length: concurrency }, () => worker()));

// Let the last events reach the model, then check it agrees with the switch.
const deadline = Date.now() + 30_000;
while (model.devices().some((d) => d.state !== HookState.Idle) && Date.now() < deadline) await sleep(20);
const notIdle = model.devices().filter((d) => d.state !== HookState.Idle).map((d) => `${d.device}:${d.state}`);
if (link.state !== LinkState.Up) throw new Error(`link is ${link.state}`);
await link.stop();
await sim.stop();
await sleep(500);
tshark.kill('SIGINT');
await once(tshark, 'exit');

console.log(
  JSON.stringify({
    file: values.out,
    bytes: statSync(out).size,
    calls: launched,
    seconds: (Date.now() - started) / 1000,
    events: metrics.counter('switchhook_cti_events_total', '').total(),
    frames: metrics.counter('switchhook_cti_frames_total', '').total(),
    modelMismatches: notIdle,
    mix: stats,
  }),
);
