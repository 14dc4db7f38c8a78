/**
 * `npm run bench -- routing`: routing decisions per second with 100 users of 50 rules each (every condition
 * kind mixed, most rules not matching, so evaluation walks far), calls arriving 5 ms apart (200 calls/s of
 * simulated time), and the decision time p50/p99. The baseline in the same run is the straightforward
 * evaluator: per call it reads the stored JSON record, re-validates it and interprets the rules with Intl
 * for the local time. Both must agree on every decision they both take.
 *
 * Then the CTI part: a PBX simulator (in this process) with the users' phones, 200 caller phones and a VoIP
 * gateway number, and a CTI link monitoring the users. Callers dial users at `--rate` calls/s (200) for
 * `--cti-seconds` (6), each hanging up 100 ms later; each Delivered event at a user is decided and the CSTA request (AnswerCall,
 * ClearConnection, DeflectCall) sent at once. Measured: Delivered event in -> request out (the daemon's
 * part), dial -> request out (adds the switch, TCP and the frame scanner), and request -> switch answer.
 * The same run with the baseline evaluator deciding gives the ratio.
 * Options: `--calls N` (default 200000), `--users N` (100), `--rules N` (50), `--rate N`, `--cti-seconds N`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import {
  applyDecision, interpretRuleSet, routingPresence, RoutingRequest, RoutingTable, validateRuleSet, type IncomingCall, type RoutingDecision,
  type VersionedRuleSet,
} from '../../src/calls/routing/index.js';
import { ConnectionState, CstaEventKind } from '../../src/cti/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { option, round } from '../args.js';
import { CtiTraffic, gatewayNumber } from './cti-traffic.js';
import { makeCalls, makeRuleSets } from './routing-workload.js';

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface CtiFigures {
  offered: number;
  deliveredPerSec: number;
  decided: number;
  errors: number;
  eventToRequest: Float64Array;
  dialToRequest: Float64Array;
  roundTrip: Float64Array;
}

/** Drive the simulator at `rate` calls/s for `seconds`; route every Delivered at a user with `decide`. */
async function ctiRun(users: readonly string[], decide: (user: string, call: IncomingCall) => RoutingDecision, rate: number, seconds: number): Promise<CtiFigures> {
  const traffic = await CtiTraffic.start(users);
  const { link, model } = traffic;
  const monitored = new Set(users);
  const dialledAt = new Map<string, number>();
  const eventToRequest: number[] = [];
  const dialToRequest: number[] = [];
  const roundTrip: number[] = [];
  let decided = 0;
  let errors = 0;
  let measuring = false;
  link.on('event', (device, ev) => {
    if (ev.kind !== CstaEventKind.Delivered || ev.localState !== ConnectionState.Alerting || !monitored.has(device)) return;
    const t0 = performance.now();
    const call: IncomingCall = { at: Date.now(), presence: routingPresence(model.device(device)) };
    if (ev.callingDevice) call.caller = ev.callingDevice;
    const decision = decide(device, call);
    const applied = applyDecision(link, decision, { callId: ev.callId, deviceId: device }, { voipDestination: () => gatewayNumber });
    const t1 = performance.now();
    if (!measuring) {
      applied.done.catch(() => undefined); // a race with the caller's hang-up: the call is already gone
      return;
    }
    decided++;
    eventToRequest.push(t1 - t0);
    const dialled = dialledAt.get(ev.callId);
    if (dialled !== undefined) {
      dialledAt.delete(ev.callId);
      dialToRequest.push(t1 - dialled);
    }
    if (applied.request !== RoutingRequest.None) applied.done.then(() => roundTrip.push(performance.now() - t1), () => errors++);
  });
  let offered = 0;
  await traffic.drive(rate, 1000);
  measuring = true;
  const t0 = performance.now();
  await traffic.drive(rate, seconds * 1000, (callId, at) => {
    offered++;
    dialledAt.set(callId, at);
  });
  measuring = false;
  const elapsed = performance.now() - t0;
  await traffic.stop(500);
  const sorted = (xs: number[]) => Float64Array.from(xs).sort();
  return { offered: (offered * 1000) / elapsed, deliveredPerSec: (decided * 1000) / elapsed, decided, errors, eventToRequest: sorted(eventToRequest), dialToRequest: sorted(dialToRequest), roundTrip: sorted(roundTrip) };
}

export default async function routingBench(args: string[]): Promise<void> {
  const users = option(args, 'users', 100);
  const rulesPerUser = option(args, 'rules', 50);
  const count = option(args, 'calls', 200_000);
  const sets = makeRuleSets(users, rulesPerUser, 1);
  const userKeys = [...sets.keys()];
  const start = Date.parse('2026-12-22T10:00:00Z');
  const calls = makeCalls(userKeys, count, start, count * 5, 2);

  const dir = mkdtempSync(join(tmpdir(), 'routing-bench-'));
  const store = new SqliteStore(dir);
  try {
    const table = new RoutingTable(store);
    for (const [user, set] of sets) await table.put(user, set, 0);
    const stored = new Map<string, string>();
    for (const user of userKeys) stored.set(user, JSON.stringify(await table.get(user)));

    // Compiled: warm up, then throughput trials, then per-decision timing.
    let sink = 0;
    let walked = 0;
    let defaults = 0;
    for (let i = 0; i < Math.min(count, 50_000); i++) sink += table.decide(calls[i]!.user, calls[i]!.call).ruleIndex;
    let best = Infinity;
    let bestCpu = Infinity;
    for (let trial = 0; trial < 3; trial++) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < count; i++) sink += table.decide(calls[i]!.user, calls[i]!.call).ruleIndex;
      best = Math.min(best, performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1000);
    }
    const latency = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const d = table.decide(calls[i]!.user, calls[i]!.call);
      latency[i] = performance.now() - t0;
      if (d.ruleIndex < 0) defaults++;
      walked += d.ruleIndex < 0 ? rulesPerUser : d.ruleIndex + 1;
    }
    latency.sort();
    const decisionsPerSec = count / (best / 1000);
    const decisionsPerCpuSec = count / (bestCpu / 1000);

    // Baseline: parse, validate and interpret the stored record per call.
    const baselineCount = Math.max(1, Math.min(count, Math.floor(count / 40)));
    const naive = (i: number): RoutingDecision => {
      const { user, call } = calls[i]!;
      const rec = JSON.parse(stored.get(user)!) as VersionedRuleSet;
      if (validateRuleSet(rec.ruleSet).length > 0) throw new Error('stored rule set invalid');
      return interpretRuleSet(user, rec.version, rec.ruleSet, call);
    };
    for (let i = 0; i < Math.min(baselineCount, 500); i++) sink += naive(i).ruleIndex;
    const baseLatency = new Float64Array(baselineCount);
    let mismatches = 0;
    const b0 = performance.now();
    const bCpu0 = process.cpuUsage();
    for (let i = 0; i < baselineCount; i++) {
      const t0 = performance.now();
      const d = naive(i);
      baseLatency[i] = performance.now() - t0;
      const c = table.decide(calls[i]!.user, calls[i]!.call);
      if (c.ruleIndex !== d.ruleIndex || c.action !== d.action || c.message !== d.message) mismatches++;
    }
    const baseElapsed = performance.now() - b0;
    const bCpu = process.cpuUsage(bCpu0);
    // The cross-check decides each call once more with the compiled form; its CPU time is negligible (~1/100).
    const baselineDecisionsPerCpuSec = baselineCount / ((bCpu.user + bCpu.system) / 1e6);
    const baseCompare = baseLatency.reduce((a, b) => a + b, 0);
    baseLatency.sort();
    const baselineDecisionsPerSec = baselineCount / (baseCompare / 1000);

    // A second, fairer baseline: interpret the already-parsed rule set (no parse, no validation).
    const parsed = new Map([...stored].map(([u, text]) => [u, JSON.parse(text) as VersionedRuleSet]));
    const interpretCount = baselineCount * 4;
    for (let i = 0; i < Math.min(interpretCount, 2000); i++) sink += interpretRuleSet(calls[i]!.user, 1, parsed.get(calls[i]!.user)!.ruleSet, calls[i]!.call).ruleIndex;
    const i0 = performance.now();
    for (let i = 0; i < interpretCount; i++) sink += interpretRuleSet(calls[i]!.user, 1, parsed.get(calls[i]!.user)!.ruleSet, calls[i]!.call).ruleIndex;
    const interpretDecisionsPerSec = interpretCount / ((performance.now() - i0) / 1000);

    console.log(`routing: ${users} users x ${rulesPerUser} rules, ${count} calls 5 ms apart from ${new Date(start).toISOString()}`);
    console.log(`  CPU time: compiled ${round(decisionsPerCpuSec)} decisions per CPU second, baseline ${round(baselineDecisionsPerCpuSec)}, ratio ${round(decisionsPerCpuSec / baselineDecisionsPerCpuSec)}x ` +
      '(wall-clock figures below include time the process waited for a CPU on a busy machine)');
    console.log(`  compiled: ${round(decisionsPerSec)} decisions/s, p50 ${round(percentile(latency, 0.5) * 1000)} us, p99 ${round(percentile(latency, 0.99) * 1000)} us, ` +
      `${round(walked / count, 3)} rules walked per call, ${round((100 * defaults) / count, 3)}% fell to the default`);
    console.log(`  baseline (parse + validate + interpret with Intl per call): ${round(baselineDecisionsPerSec)} decisions/s over ${baselineCount} calls ` +
      `(${round(baseElapsed)} ms with the cross-check), p50 ${round(percentile(baseLatency, 0.5) * 1000)} us, p99 ${round(percentile(baseLatency, 0.99) * 1000)} us`);
    console.log(`  interpreting the parsed rule set only (no parse, no validation): ${round(interpretDecisionsPerSec)} decisions/s, ratio ${round(decisionsPerSec / interpretDecisionsPerSec)}x`);
    console.log(`  decisions that differ between the two: ${mismatches}; ratio ${round(decisionsPerSec / baselineDecisionsPerSec)}x`);
    if (Number.isNaN(sink)) throw new Error('unreachable: keeps the decisions alive');
    if (mismatches > 0) process.exitCode = 1;

    const rate = option(args, 'rate', 200);
    const seconds = option(args, 'cti-seconds', 6);
    const cti = await ctiRun(userKeys, (user, call) => table.decide(user, call), rate, seconds);
    const ctiBase = await ctiRun(userKeys, (user, call) => {
      const rec = JSON.parse(stored.get(user)!) as VersionedRuleSet;
      if (validateRuleSet(rec.ruleSet).length > 0) throw new Error('stored rule set invalid');
      return interpretRuleSet(user, rec.version, rec.ruleSet, call);
    }, rate, seconds);
    const ms = (xs: Float64Array, p: number) => round(percentile(xs, p));
    for (const [name, f] of [['compiled', cti], ['baseline', ctiBase]] as const) {
      console.log(`  CTI ${name}: ${round(f.offered)} calls/s dialled, ${f.decided} Delivered routed (${round(f.deliveredPerSec)}/s; the rest found the user busy), ${f.errors} requests refused (the caller had hung up first); ` +
        `Delivered -> request p50 ${ms(f.eventToRequest, 0.5)} ms p99 ${ms(f.eventToRequest, 0.99)} ms; ` +
        `dial -> request p50 ${ms(f.dialToRequest, 0.5)} ms p99 ${ms(f.dialToRequest, 0.99)} ms; ` +
        `request -> switch answer (requests sent only) p50 ${ms(f.roundTrip, 0.5)} ms p99 ${ms(f.roundTrip, 0.99)} ms`);
    }
    console.log(JSON.stringify({
      bench: 'routing',
      users,
      rulesPerUser,
      calls: count,
      decisionsPerSec: Math.round(decisionsPerSec),
      p50Ms: ms(cti.eventToRequest, 0.5),
      p99Ms: ms(cti.eventToRequest, 0.99),
      decisionP50Ms: round(percentile(latency, 0.5)),
      decisionP99Ms: round(percentile(latency, 0.99)),
      decisionsPerCpuSec: Math.round(decisionsPerCpuSec),
      rulesWalkedPerCall: round(walked / count, 3),
      baselineDecisionsPerSec: Math.round(baselineDecisionsPerSec),
      baselineP50Ms: round(percentile(baseLatency, 0.5)),
      baselineP99Ms: round(percentile(baseLatency, 0.99)),
      ratio: round(decisionsPerSec / baselineDecisionsPerSec),
      baselineDecisionsPerCpuSec: Math.round(baselineDecisionsPerCpuSec),
      cpuRatio: round(decisionsPerCpuSec / baselineDecisionsPerCpuSec),
      interpretDecisionsPerSec: Math.round(interpretDecisionsPerSec),
      interpretRatio: round(decisionsPerSec / interpretDecisionsPerSec),
      mismatches,
      ctiCallsPerSec: round(cti.offered),
      ctiDelivered: cti.decided,
      ctiDeliveredPerSec: round(cti.deliveredPerSec),
      ctiRequestErrors: cti.errors,
      dialToRequestP50Ms: ms(cti.dialToRequest, 0.5),
      dialToRequestP99Ms: ms(cti.dialToRequest, 0.99),
      requestRoundTripP50Ms: ms(cti.roundTrip, 0.5),
      requestRoundTripP99Ms: ms(cti.roundTrip, 0.99),
      baselineDeliveredToRequestP50Ms: ms(ctiBase.eventToRequest, 0.5),
      baselineDeliveredToRequestP99Ms: ms(ctiBase.eventToRequest, 0.99),
      baselineDialToRequestP50Ms: ms(ctiBase.dialToRequest, 0.5),
      baselineDialToRequestP99Ms: ms(ctiBase.dialToRequest, 0.99),
      deliveredToRequestRatioP50: round(percentile(ctiBase.eventToRequest, 0.5) / percentile(cti.eventToRequest, 0.5)),
    }));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
