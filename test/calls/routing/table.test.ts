import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t, { type Test } from 'tap';

import {
  checkUser, formatExplanation, messageTargetFor, RoutingActionType, RoutingError, RoutingTable, RULES_COLLECTION,
  type RoutingChange, type RuleSet,
} from '../../../src/calls/routing/index.js';
import { PhonePresenceState } from '../../../src/presence/phone-state.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { MetricsRegistry } from '../../../src/util/metrics.js';

const answerAll: RuleSet = { timeZone: 'Europe/Berlin', rules: [{ id: 'all', action: { type: 'answer' } }] };
const rejectAll: RuleSet = { timeZone: 'Europe/Berlin', rules: [{ id: 'none', action: { type: 'reject' } }] };
const call = { caller: '5551234', at: Date.parse('2026-12-24T17:00:00Z'), presence: PhonePresenceState.Idle };

function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'routing-'));
  const stores: SqliteStore[] = [];
  const open = () => {
    const s = new SqliteStore(dir);
    stores.push(s);
    return s;
  };
  t.teardown(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, open };
}

t.test('put, get, versions, and stale writes refused', async (t) => {
  const { open } = setup(t);
  const metrics = new MetricsRegistry();
  const table = new RoutingTable(open(), { metrics, now: () => Date.parse('2026-11-21T00:00:00Z') });
  t.equal(await table.get('2001'), undefined);
  const v1 = await table.put('2001', answerAll, 0);
  t.same(v1, { user: '2001', version: 1, updatedAt: '2026-11-21T00:00:00.000Z', ruleSet: answerAll });
  t.same(await table.get('2001'), v1);
  await t.rejects(table.put('2001', rejectAll, 0), { code: 'ROUTING_ERR_VERSION', message: /at version 1, the write was based on version 0/ });
  const v2 = await table.put('2001', rejectAll, 1);
  t.equal(v2.version, 2);
  await t.rejects(table.put('2001', answerAll, 1), { code: 'ROUTING_ERR_VERSION' }, 'a write based on version 1 is stale now');
  await t.rejects(table.delete('2001', 1), { code: 'ROUTING_ERR_VERSION' });
  t.equal((await table.get('2001'))!.version, 2, 'refused writes changed nothing');
  t.equal(metrics.counter('switchhook_routing_writes_rejected_total', '').get(), 3);
  await table.delete('2001', 2);
  t.equal(await table.get('2001'), undefined);
  await t.rejects(table.delete('2001', 0), { code: 'ROUTING_ERR_NOT_FOUND' });
  t.equal((await table.put('2001', answerAll, 0)).version, 1, 'a new rule set after a delete starts again');
});

t.test('two writes based on the same version: exactly one wins', async (t) => {
  const { open } = setup(t);
  const table = new RoutingTable(open());
  await table.put('2001', answerAll, 0);
  const results = await Promise.allSettled([table.put('2001', rejectAll, 1), table.put('2001', answerAll, 1)]);
  t.same(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  t.match(results.find((r) => r.status === 'rejected'), { reason: { code: 'ROUTING_ERR_VERSION' } });
  t.equal((await table.get('2001'))!.version, 2);
});

t.test('an invalid rule set is refused with every problem, naming rule and field', async (t) => {
  const { open } = setup(t);
  const table = new RoutingTable(open());
  const bad = { timeZone: 'Europe/Berlin', rules: [{ id: 'lunch', conditions: { time: { days: ['noon'] } }, action: { type: 'nap' } }] };
  const err = await table.put('2001', bad, 0).catch((e: unknown) => e);
  t.ok(err instanceof RoutingError);
  t.match(err, { code: 'ROUTING_ERR_INVALID', issues: [{ path: 'rules[0] (id "lunch").conditions.time.days[0]' }, { path: 'rules[0] (id "lunch").action.type' }] });
  t.match((err as Error).message, /rules\[0\] \(id "lunch"\)\.conditions\.time\.days\[0\]: must be one of mon\.\.sun/);
  t.same(table.validate(bad).length, 2, 'dry run reports the same');
  t.same(table.validate(answerAll), []);
  t.equal(await table.get('2001'), undefined, 'nothing stored');
  t.throws(() => checkUser('bad user'), { code: 'ROUTING_ERR_USER' });
  await t.rejects(table.put('', answerAll, 0), { code: 'ROUTING_ERR_USER' });
});

t.test('a write takes effect on the next call without a restart; a decision in progress keeps its rule set', async (t) => {
  const { open } = setup(t);
  const metrics = new MetricsRegistry();
  const table = new RoutingTable(open(), { metrics });
  t.match(table.decide('2001', call), { action: RoutingActionType.Ring, version: 0, ruleIndex: -1 }, 'no rule set: it rings');
  await table.put('2001', answerAll, 0);
  t.match(table.decide('2001', call), { action: RoutingActionType.Answer, version: 1 });
  const inProgress = table.compiledFor('2001')!;
  await table.put('2001', rejectAll, 1);
  t.match(table.decide('2001', call), { action: RoutingActionType.Reject, version: 2 }, 'swapped in');
  t.match(inProgress.decide(call), { action: RoutingActionType.Answer, version: 1 }, 'the old compiled form is untouched');
  await table.delete('2001', 2);
  t.match(table.decide('2001', call), { action: RoutingActionType.Ring, version: 0 });
  t.throws(() => table.decide('2001', { ...call, at: Number.NaN }), { code: 'ROUTING_ERR_INPUT' });
  t.equal(metrics.counter('switchhook_routing_decisions_total', '').get(), 4);
  t.equal(metrics.counter('switchhook_routing_bad_input_total', '').get(), 1);
});

t.test('subscribers hear every change; a second daemon reloads from the shared store', async (t) => {
  const { open } = setup(t);
  const a = new RoutingTable(open());
  const b = new RoutingTable(open());
  const heard: RoutingChange[] = [];
  const reloads: Promise<void>[] = [];
  const stop = a.subscribe((change) => {
    heard.push(change);
    reloads.push(b.reload(change.user));
  });
  a.subscribe(() => {
    throw new Error('a broken listener does not stop the others');
  });
  await a.put('2001', answerAll, 0);
  await Promise.all(reloads);
  t.match(b.decide('2001', call), { action: RoutingActionType.Answer, version: 1 }, 'b follows a');
  await a.put('2001', rejectAll, 1);
  await Promise.all(reloads);
  t.match(b.decide('2001', call), { action: RoutingActionType.Reject, version: 2 });
  await a.delete('2001', 2);
  await Promise.all(reloads);
  t.match(b.decide('2001', call), { action: RoutingActionType.Ring, version: 0 });
  t.same(heard, [
    { user: '2001', version: 1, origin: 'write' },
    { user: '2001', version: 2, origin: 'write' },
    { user: '2001', version: 0, origin: 'write' },
  ]);
  stop();
  await a.put('2001', answerAll, 0);
  t.equal(heard.length, 3, 'unsubscribed');
  const bHeard: RoutingChange[] = [];
  b.subscribe((c) => bHeard.push(c));
  await b.reload('2001');
  t.same(bHeard, [{ user: '2001', version: 1, origin: 'reload' }]);
});

t.test('a watching table follows writes made by another process through the store', async (t) => {
  const { open } = setup(t);
  const writer = new RoutingTable(open());
  const daemon = new RoutingTable(open());
  t.teardown(() => daemon.close());
  await writer.put('2001', answerAll, 0);
  t.equal(await daemon.load(), 1);
  const heard: RoutingChange[] = [];
  daemon.subscribe((c) => heard.push(c));
  await daemon.sync();
  t.same(heard, [], 'nothing changed since load');
  daemon.watch(10);
  daemon.watch(10);
  const waitFor = async (pred: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await writer.put('2001', rejectAll, 1);
  await waitFor(() => heard.length >= 1, 'the change to 2001');
  t.match(daemon.decide('2001', call), { action: RoutingActionType.Reject, version: 2 });
  await writer.put('2002', answerAll, 0);
  await waitFor(() => heard.length >= 2, 'the new user 2002');
  await writer.delete('2001', 2);
  await waitFor(() => heard.length >= 3, 'the delete of 2001');
  t.same(heard, [
    { user: '2001', version: 2, origin: 'reload' },
    { user: '2002', version: 1, origin: 'reload' },
    { user: '2001', version: 0, origin: 'reload' },
  ]);
  t.match(daemon.decide('2001', call), { action: RoutingActionType.Ring, version: 0 });
  t.match(daemon.decide('2002', call), { action: RoutingActionType.Answer });
  await daemon.close();
});

t.test('load at start compiles every stored rule set and skips a corrupt one', async (t) => {
  const { open } = setup(t);
  const store = open();
  const first = new RoutingTable(store);
  await first.put('2001', answerAll, 0);
  await first.put('2002', rejectAll, 0);
  await store.put(RULES_COLLECTION, '2003', { user: '2003', version: 1, updatedAt: '', ruleSet: { timeZone: 'Nowhere/Null', rules: [] } });
  const metrics = new MetricsRegistry();
  const restarted = new RoutingTable(open(), { metrics });
  t.equal(await restarted.load(), 2);
  t.match(restarted.decide('2001', call), { action: RoutingActionType.Answer });
  t.match(restarted.decide('2002', call), { action: RoutingActionType.Reject });
  t.match(restarted.decide('2003', call), { action: RoutingActionType.Ring, version: 0 });
  t.equal(metrics.counter('switchhook_routing_bad_input_total', '').get(), 1);
});

t.test('explain reads the stored rule set', async (t) => {
  const { open } = setup(t);
  const table = new RoutingTable(open());
  await t.rejects(table.explain('2001', call), { code: 'ROUTING_ERR_NOT_FOUND' });
  await table.put('2001', {
    timeZone: 'Europe/Berlin',
    rules: [
      { id: 'office', conditions: { time: { days: ['mon-fri'], from: '08:00', to: '17:00' } }, action: { type: 'answer' } },
      { id: 'evening', conditions: { caller: { prefix: '555' } }, action: { type: 'transfer-sip', uri: 'sip:alice@example.com' } },
      { id: 'catch-all', action: { type: 'reject' } },
    ],
  }, 0);
  const e = await table.explain('2001', call);
  t.match(e, { version: 1, decision: { ruleIndex: 1, ruleId: 'evening', action: 'transfer-sip', target: 'sip:alice@example.com' } });
  t.match(e.rules[2], { matched: true, shadowed: true });
  const text = formatExplanation(e);
  t.match(text, /- time: 18:00 Thu in Europe\/Berlin is outside mon-fri 08:00-17:00/);
  t.match(text, /rules\[2\] \(id "catch-all"\): would match, but an earlier rule matched first/);
  await t.rejects(table.explain('2001', { ...call, at: Number.NaN }), { code: 'ROUTING_ERR_INPUT' });
});

t.test('the instant message goes to the caller\'s computer interface', async (t) => {
  const options = { isExtension: (n: string) => /^2\d{3}$/.test(n), domain: 'pbx.example' };
  const directory = (n: string) => (n === '+4930123' ? 'sip:bob@desk.example' : undefined);
  t.equal(await messageTargetFor('2002', options), 'sip:2002@pbx.example', 'an extension of this PBX');
  t.equal(await messageTargetFor('+4930123', { ...options, directory }), 'sip:bob@desk.example', 'found in the directory');
  t.equal(await messageTargetFor('2002', { ...options, directory: async () => 'sip:2002-pc@lan' }), 'sip:2002-pc@lan', 'directory first');
  t.equal(await messageTargetFor('+4930999', { ...options, directory }), undefined, 'unknown outside caller');
  t.equal(await messageTargetFor(undefined, options), undefined, 'anonymous');
});
