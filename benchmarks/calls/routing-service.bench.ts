/**
 * `npm run bench -- routing-service`: the routing table wired to the CTI events by {@link RoutingService},
 * against the PBX simulator (in this process): 100 users of 50 rules each (the `routing` workload), 200
 * caller phones dialling the users at `--rate` calls/s (200) for `--seconds` (6), each hanging up 100 ms
 * later. Measured per routed call: Delivered event in -> CSTA request written (the daemon's part: model
 * lookup, presence, decision, request). The baseline in the same run is the bare helper path the routing
 * engine was measured with (a link listener calling `table.decide` and `applyDecision` inline); the ratio
 * is baseline p99 / service p99 (1 = the service adds nothing).
 * Options: `--rate N`, `--seconds N`, `--users N`, `--rules N`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { ComputerInterfaces } from '../../src/calls/computer-interfaces.js';
import { applyDecision, routingPresence, RoutingService, RoutingTable, type IncomingCall } from '../../src/calls/routing/index.js';
import { ConnectionState, CstaEventKind } from '../../src/cti/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { option, round } from '../args.js';
import { CtiTraffic, gatewayNumber } from './cti-traffic.js';
import { makeRuleSets } from './routing-workload.js';

function percentile(v: number[], p: number): number {
  const s = Float64Array.from(v).sort();
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

type Mode = 'service' | 'baseline';

async function run(mode: Mode, table: RoutingTable, users: string[], rate: number, seconds: number): Promise<{ latencies: number[]; routed: number }> {
  const traffic = await CtiTraffic.start(users);
  const { link, model } = traffic;
  let measuring = false;
  const latencies: number[] = [];
  let service: RoutingService | undefined;
  if (mode === 'service') {
    service = new RoutingService({ link, model, table, clients: new ComputerInterfaces({ domain: 'pbx.example' }), gatewayNumber, metrics: new MetricsRegistry() });
    service.on('routed', (r) => {
      r.applied.done.catch(() => undefined);
      if (measuring) latencies.push(r.requestAt - r.eventAt);
    });
    service.start();
  } else {
    const monitored = new Set(users);
    link.on('event', (device, ev) => {
      if (ev.kind !== CstaEventKind.Delivered || ev.localState !== ConnectionState.Alerting || !monitored.has(device)) return;
      const t0 = performance.now();
      const call: IncomingCall = { at: Date.now(), presence: routingPresence(model.device(device)) };
      if (ev.callingDevice) call.caller = ev.callingDevice;
      const applied = applyDecision(link, table.decide(device, call), { callId: ev.callId, deviceId: device }, { voipDestination: () => gatewayNumber });
      const t1 = performance.now();
      applied.done.catch(() => undefined);
      if (measuring) latencies.push(t1 - t0);
    });
  }
  await traffic.drive(rate, 1000); // warm-up
  measuring = true;
  await traffic.drive(rate, seconds * 1000);
  measuring = false;
  service?.close();
  await traffic.stop(300);
  return { latencies, routed: latencies.length };
}

export default async function routingServiceBench(args: string[]): Promise<void> {
  const rate = option(args, 'rate', 200);
  const seconds = option(args, 'seconds', 6);
  const userCount = option(args, 'users', 100);
  const rules = option(args, 'rules', 50);
  const dir = mkdtempSync(join(tmpdir(), 'routing-service-bench-'));
  const store = new SqliteStore(dir);
  try {
    const table = new RoutingTable(store);
    const sets = makeRuleSets(userCount, rules, 1);
    for (const [user, set] of sets) await table.put(user, set, 0);
    const users = [...sets.keys()];
    const base = await run('baseline', table, users, rate, seconds);
    const svc = await run('service', table, users, rate, seconds);
    const f = (l: number[]) => ({ p50us: round(percentile(l, 0.5) * 1000), p99us: round(percentile(l, 0.99) * 1000), maxUs: round(Math.max(...l) * 1000) });
    const s = f(svc.latencies);
    const b = f(base.latencies);
    console.log(`routing-service: ${userCount} users x ${rules} rules, ${rate} calls/s for ${seconds} s against the PBX simulator`);
    console.log(`  RoutingService: ${svc.routed} Delivered routed, event -> request p50 ${s.p50us} us, p99 ${s.p99us} us, max ${s.maxUs} us`);
    console.log(`  baseline (inline helper listener): ${base.routed} routed, p50 ${b.p50us} us, p99 ${b.p99us} us, max ${b.maxUs} us`);
    console.log(JSON.stringify({ bench: 'routing-service', users: userCount, rules, rate, seconds, service: { routed: svc.routed, ...s }, baseline: { routed: base.routed, ...b }, ratioP99: round(b.p99us / s.p99us, 3) }));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
