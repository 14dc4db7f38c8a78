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
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { ComputerInterfaces } from '../../src/calls/computer-interfaces.js';
import { applyDecision, routingPresence, RoutingService, RoutingTable, type IncomingCall } from '../../src/calls/routing/index.js';
import { BringUpVariant, ConnectionState, CstaEventKind, CtiLink } from '../../src/cti/index.js';
import { bindLinkToModel, PbxModel } from '../../src/model/index.js';
import { PbxSimulator } from '../../src/sim/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { makeRuleSets } from './routing-workload.js';

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

const round = (x: number, digits = 4): number => Number(x.toPrecision(digits));

function percentile(v: number[], p: number): number {
  const s = Float64Array.from(v).sort();
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

type Mode = 'service' | 'baseline';

async function run(mode: Mode, table: RoutingTable, users: string[], rate: number, seconds: number): Promise<{ latencies: number[]; routed: number }> {
  const callers = Array.from({ length: 200 }, (_, i) => String(3000 + i));
  const sim = new PbxSimulator();
  const addr = await sim.start({ cstaPort: 0, extensions: [...users, ...callers, '3999'], systemStatusIntervalMs: 0 });
  const link = new CtiLink({
    host: '127.0.0.1', port: addr.csta.port, devices: users, bringUp: BringUpVariant.SystemRegister,
    registration: { address: 'sip:switchhook@127.0.0.1:5060' }, requestTimeoutMs: 10_000, heartbeatIntervalMs: 0,
  });
  const model = new PbxModel();
  bindLinkToModel(link, model);
  const up = once(link, 'up');
  link.start();
  await up;
  let measuring = false;
  const latencies: number[] = [];
  let service: RoutingService | undefined;
  if (mode === 'service') {
    service = new RoutingService({ link, model, table, clients: new ComputerInterfaces({ domain: 'pbx.example' }), gatewayNumber: '3999', metrics: new MetricsRegistry() });
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
      const applied = applyDecision(link, table.decide(device, call), { callId: ev.callId, deviceId: device }, { voipDestination: () => '3999' });
      const t1 = performance.now();
      applied.done.catch(() => undefined);
      if (measuring) latencies.push(t1 - t0);
    });
  }
  const sw = sim.core;
  let next = 0;
  const timers = new Set<NodeJS.Timeout>();
  const dialOne = (): void => {
    const caller = callers[next++ % callers.length]!;
    try {
      sw.dial(caller, users[Math.floor(Math.random() * users.length)]!);
    } catch {
      return;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      try {
        sw.onHook(caller);
      } catch {
        // already on hook
      }
    }, 100);
    timers.add(t);
  };
  const drive = async (ms: number): Promise<void> => {
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < ms) {
      const due = Math.floor(((performance.now() - start) * rate) / 1000);
      while (sent < due) {
        dialOne();
        sent++;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  await drive(1000); // warm-up
  measuring = true;
  await drive(seconds * 1000);
  measuring = false;
  await new Promise((r) => setTimeout(r, 300));
  for (const t of timers) clearTimeout(t);
  service?.close();
  await link.stop();
  await sim.stop();
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
