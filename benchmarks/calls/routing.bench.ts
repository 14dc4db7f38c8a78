/**
 * `npm run bench -- routing`: routing decisions per second with 100 users of 50 rules each (every condition
 * kind mixed, most rules not matching, so evaluation walks far), calls arriving 5 ms apart (200 calls/s of
 * simulated time), and the decision time p50/p99. The baseline in the same run is the straightforward
 * evaluator: per call it reads the stored JSON record, re-validates it and interprets the rules with Intl
 * for the local time. Both must agree on every decision they both take.
 * Options: `--calls N` (default 200000), `--users N` (100), `--rules N` (50).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { interpretRuleSet, RoutingTable, validateRuleSet, type RoutingDecision, type VersionedRuleSet } from '../../src/calls/routing/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { makeCalls, makeRuleSets } from './routing-workload.js';

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const round = (x: number, digits = 4): number => Number(x.toPrecision(digits));

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
    for (let trial = 0; trial < 3; trial++) {
      const t0 = performance.now();
      for (let i = 0; i < count; i++) sink += table.decide(calls[i]!.user, calls[i]!.call).ruleIndex;
      best = Math.min(best, performance.now() - t0);
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
    for (let i = 0; i < baselineCount; i++) {
      const t0 = performance.now();
      const d = naive(i);
      baseLatency[i] = performance.now() - t0;
      const c = table.decide(calls[i]!.user, calls[i]!.call);
      if (c.ruleIndex !== d.ruleIndex || c.action !== d.action || c.message !== d.message) mismatches++;
    }
    const baseElapsed = performance.now() - b0;
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
    console.log(`  compiled: ${round(decisionsPerSec)} decisions/s, p50 ${round(percentile(latency, 0.5) * 1000)} us, p99 ${round(percentile(latency, 0.99) * 1000)} us, ` +
      `${round(walked / count, 3)} rules walked per call, ${round((100 * defaults) / count, 3)}% fell to the default`);
    console.log(`  baseline (parse + validate + interpret with Intl per call): ${round(baselineDecisionsPerSec)} decisions/s over ${baselineCount} calls ` +
      `(${round(baseElapsed)} ms with the cross-check), p50 ${round(percentile(baseLatency, 0.5) * 1000)} us, p99 ${round(percentile(baseLatency, 0.99) * 1000)} us`);
    console.log(`  interpreting the parsed rule set only (no parse, no validation): ${round(interpretDecisionsPerSec)} decisions/s, ratio ${round(decisionsPerSec / interpretDecisionsPerSec)}x`);
    console.log(`  decisions that differ between the two: ${mismatches}; ratio ${round(decisionsPerSec / baselineDecisionsPerSec)}x`);
    if (Number.isNaN(sink)) throw new Error('unreachable: keeps the decisions alive');
    if (mismatches > 0) process.exitCode = 1;
    console.log(JSON.stringify({
      bench: 'routing',
      users,
      rulesPerUser,
      calls: count,
      decisionsPerSec: Math.round(decisionsPerSec),
      p50Ms: round(percentile(latency, 0.5)),
      p99Ms: round(percentile(latency, 0.99)),
      rulesWalkedPerCall: round(walked / count, 3),
      baselineDecisionsPerSec: Math.round(baselineDecisionsPerSec),
      baselineP50Ms: round(percentile(baseLatency, 0.5)),
      baselineP99Ms: round(percentile(baseLatency, 0.99)),
      ratio: round(decisionsPerSec / baselineDecisionsPerSec),
      interpretDecisionsPerSec: Math.round(interpretDecisionsPerSec),
      interpretRatio: round(decisionsPerSec / interpretDecisionsPerSec),
      mismatches,
    }));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
