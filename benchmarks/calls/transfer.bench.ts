/**
 * `npm run bench -- transfer`: moving a call between a digital desk phone and a softphone, end to end on
 * loopback: the PBX simulator (CSTA over TCP, PDSV line, VoIP gateway on SIP/UDP, trunk far end sending
 * 20 ms G.711), the daemon side (CTI link, model, SIP stack + registrar, native RTP bridge,
 * SoftphoneTransfer) and an in-process softphone that auto-answers.
 *
 * 1. Latency: time from the transfer request to media flowing on the new side (first RTP packet at the
 *    softphone; first PDSV voice frame at the desk phone), over `--transfers` transfers (1000; alternating
 *    desk -> softphone and back in one call). Baseline in the same run: the PBX's gateway INVITEs the
 *    softphone directly (no daemon, no B2BUA, no bridge) on a CTI SingleStepTransferCall; same measure.
 * 2. Capacity: concurrent bridged calls (trunk far end <-> gateway <-> daemon bridge <-> softphone, each
 *    side sending 50 packets/s) held for `--hold-ms` (8000) at <= 0.1% loss, ramping by `--step` (50) up to
 *    `--max-calls` (400). The test endpoints are JavaScript, so this bounds the rig, not only the bridge.
 * Options: `--transfers N`, `--baseline N` (200), `--max-calls N`, `--step N`, `--hold-ms N`.
 */
import { performance } from 'node:perf_hooks';

import { PdsvLampState } from '../../src/native/pdsv.js';
import { RtpStream } from '../../src/sim/index.js';
import { startTransferRig, type TransferRig } from '../../test/helpers/transfer-rig.js';
import { option } from '../args.js';

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Starts a trunk call to `ext`'s digital phone and waits until it talks. */
async function deskCall(rig: TransferRig, ext: string, from: string): Promise<RtpStream> {
  const phone = rig.phones.get(ext)!;
  const { far } = await rig.gateway.externalCall(from, ext);
  await phone.waitFor((s) => s.lamps[1] === PdsvLampState.On && s.voiceReceived >= 3, 'desk talking', 15_000);
  return far;
}

/** `n` transfers alternating desk -> softphone -> desk; each timed to first media on the new side. */
async function measureDaemon(rig: TransferRig, n: number): Promise<{ toSoftphone: number[]; toDesk: number[] }> {
  const phone = rig.phones.get('2000')!;
  const sp = rig.softphones.get('2000')!;
  await deskCall(rig, '2000', '5550100');
  const toSoftphone: number[] = [];
  const toDesk: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      const before = sp.streams.length;
      const t0 = performance.timeOrigin + performance.now();
      await rig.transfer.toSoftphone('2000');
      await until(() => sp.streams.length > before && sp.current!.stats().received > 0, 10_000, 'softphone media');
      toSoftphone.push(sp.current!.stats().firstAt - t0);
    } else {
      const before = phone.state().voiceReceived;
      const t0 = performance.now();
      const first = phone.waitFor((s) => s.voiceReceived > before && s.lamps[1] === PdsvLampState.On, 'desk media', 10_000).then(() => performance.now());
      await rig.transfer.toDesk('2000');
      toDesk.push((await first) - t0);
    }
    if (i % 100 === 99) log(`  ${i + 1} transfers`);
  }
  phone.onHook();
  await until(() => rig.cti.sim.core.calls().length === 0 && rig.cti.model.callsOf('2000').length === 0, 10_000, 'call cleared');
  return { toSoftphone, toDesk };
}

/** Baseline: the gateway INVITEs the softphone itself; a raw SingleStepTransferCall moves the call. */
async function measureDirect(rig: TransferRig, n: number): Promise<number[]> {
  const sp = rig.softphones.get('2000')!;
  const phone = rig.phones.get('2000')!;
  rig.gateway.setRoute('u2000', `sip:u2000@127.0.0.1:${sp.stack.localAddress('udp')!.port}`);
  await deskCall(rig, '2000', '5550101');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    await until(() => rig.cti.model.callsOf('2000').some((c) => c.state === 'connected'), 10_000, 'desk call in the model');
    const call = rig.cti.model.callsOf('2000').find((c) => c.state === 'connected');
    if (!call) throw new Error('desk phone has no call');
    const before = sp.streams.length;
    const t0 = performance.timeOrigin + performance.now();
    await rig.cti.link.singleStepTransferCall({ callId: call.callId, deviceId: '2000' }, 'sip:u2000@127.0.0.1');
    await until(() => sp.streams.length > before && sp.current!.stats().received > 0, 10_000, 'softphone media (direct)');
    out.push(Math.max(sp.current!.stats().firstAt - t0, 0));
    // Back to the desk: SingleStepTransferCall of the gateway's connection.
    const calls = rig.cti.sim.core.calls();
    const voip = calls.find((c) => c.connections['u2000'] !== undefined);
    if (!voip) throw new Error('no VoIP call');
    const deskBefore = phone.state().voiceReceived;
    await rig.cti.link.singleStepTransferCall({ callId: voip.callId, deviceId: 'u2000' }, '2000');
    await phone.waitFor((s) => s.voiceReceived > deskBefore && s.lamps[1] === PdsvLampState.On, 'desk media (direct)', 10_000);
  }
  phone.onHook();
  await until(() => rig.cti.sim.core.calls().length === 0, 10_000, 'call cleared');
  return out;
}

/** Holds `n` bridged calls for `holdMs`; loss over every stream in both directions. */
async function holdCalls(n: number, holdMs: number): Promise<{ lossPct: number; expected: number }> {
  const extensions = Array.from({ length: n }, (_, i) => String(3000 + i));
  const rig = await startTransferRig({ extensions, simPorts: [20000, 27999], daemonPorts: [28000, 35999] });
  try {
    const fars: RtpStream[] = [];
    for (const [i, ext] of extensions.entries()) {
      fars.push(await deskCall(rig, ext, String(5560000 + i)));
      await rig.transfer.toSoftphone(ext);
    }
    const sps = extensions.map((e) => rig.softphones.get(e)!.current!);
    await new Promise((r) => setTimeout(r, 500));
    const start = [...fars, ...sps].map((s) => s.stats());
    await new Promise((r) => setTimeout(r, holdMs));
    const end = [...fars, ...sps].map((s) => s.stats());
    // What each side sent in the window is what the other should have received.
    let expected = 0;
    let received = 0;
    for (let i = 0; i < n; i++) {
      const far0 = start[i]!;
      const far1 = end[i]!;
      const sp0 = start[n + i]!;
      const sp1 = end[n + i]!;
      expected += far1.sent - far0.sent + (sp1.sent - sp0.sent);
      received += sp1.received - sp0.received + (far1.received - far0.received);
    }
    for (const ext of extensions) rig.phones.get(ext)!.onHook();
    for (const ext of extensions) {
      const u = rig.transfer.list().find((v) => v.device === ext);
      if (u?.phase === 'onSoftphone') {
        const sp = rig.softphones.get(ext)!;
        for (const d of [...sp.stack.ua.dialogs.values()]) await sp.stack.bye(d).catch(() => undefined);
      }
    }
    return { lossPct: expected === 0 ? 100 : Math.max(0, (100 * (expected - received)) / expected), expected };
  } finally {
    await rig.close();
  }
}

export default async function transferBench(args: string[]): Promise<void> {
  const transfers = option(args, 'transfers', 1000);
  const baselineN = option(args, 'baseline', 200);
  const maxCalls = option(args, 'max-calls', 400);
  const step = option(args, 'step', 50);
  const holdMs = option(args, 'hold-ms', 8000);

  log('warm-up');
  {
    const rig = await startTransferRig({ extensions: ['2000'], transfer: { softphoneAnswerMs: 5000 } });
    try {
      await measureDaemon(rig, 20);
    } finally {
      await rig.close();
    }
  }
  log(`switchhook: ${transfers} transfers`);
  const rig = await startTransferRig({ extensions: ['2000'], transfer: { softphoneAnswerMs: 5000 } });
  let daemon: { toSoftphone: number[]; toDesk: number[] };
  let direct: number[];
  try {
    daemon = await measureDaemon(rig, transfers);
    log(`baseline (gateway INVITEs the softphone directly): ${baselineN} transfers`);
    direct = await measureDirect(rig, baselineN);
  } finally {
    await rig.close();
  }
  const all = [...daemon.toSoftphone, ...daemon.toDesk];
  const p50 = pct(all, 0.5);
  const p99 = pct(all, 0.99);
  const spP50 = pct(daemon.toSoftphone, 0.5);
  const directP50 = pct(direct, 0.5);
  log(`to softphone: p50 ${spP50.toFixed(2)} ms p99 ${pct(daemon.toSoftphone, 0.99).toFixed(2)} ms`);
  log(`to desk:      p50 ${pct(daemon.toDesk, 0.5).toFixed(2)} ms p99 ${pct(daemon.toDesk, 0.99).toFixed(2)} ms`);
  log(`baseline direct to softphone: p50 ${directP50.toFixed(2)} ms p99 ${pct(direct, 0.99).toFixed(2)} ms`);
  log(`ratio (switchhook / direct, to softphone p50): ${(spP50 / directP50).toFixed(2)}`);

  let held = 0;
  let heldLoss = 0;
  for (let n = step; n <= maxCalls; n += step) {
    const r = await holdCalls(n, holdMs);
    log(`${n} concurrent bridged calls: loss ${r.lossPct.toFixed(3)}% of ${r.expected} packets`);
    if (r.lossPct > 0.1) break;
    held = n;
    heldLoss = r.lossPct;
  }
  console.log(JSON.stringify({
    bench: 'transfer',
    p50Ms: Number(p50.toFixed(3)),
    p99Ms: Number(p99.toFixed(3)),
    transfers: all.length,
    toSoftphoneP50Ms: Number(spP50.toFixed(3)),
    toDeskP50Ms: Number(pct(daemon.toDesk, 0.5).toFixed(3)),
    baselineDirectP50Ms: Number(directP50.toFixed(3)),
    ratioToBaseline: Number((spP50 / directP50).toFixed(3)),
    concurrentCalls: held,
    lossPct: Number(heldLoss.toFixed(4)),
  }));
}
