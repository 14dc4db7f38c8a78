import t, { type Test } from 'tap';

import { makeCalls, makeRuleSets, prng } from '../../../benchmarks/calls/routing-workload.js';
import {
  CompiledRuleSet, interpretRuleSet, parseInstant, RoutingActionType, zoneClock, type IncomingCall, type RuleSet,
} from '../../../src/calls/routing/index.js';
import { localFacts } from '../../../src/calls/routing/explain.js';
import { PhonePresenceState } from '../../../src/presence/phone-state.js';

const utc = (iso: string): number => Date.parse(iso);
const idle = PhonePresenceState.Idle;

/** Decide with the compiled form and check the reference interpreter agrees. */
function decide(t: Test, set: RuleSet, call: IncomingCall) {
  const compiled = new CompiledRuleSet('2001', 1, set).decide(call);
  t.same(compiled, interpretRuleSet('2001', 1, set, call), 'compiled and interpreted decisions agree', { diagnostic: false });
  return compiled;
}

t.test('every action, and the default when nothing matches', async (t) => {
  const set: RuleSet = {
    timeZone: 'UTC',
    rules: [
      { id: 'a', conditions: { caller: { exact: '1' } }, action: { type: 'answer' } },
      { id: 'b', conditions: { caller: { exact: '2' } }, action: { type: 'reject' } },
      { id: 'c', conditions: { caller: { exact: '3' } }, action: { type: 'transfer-extension', extension: '2002' } },
      { id: 'd', conditions: { caller: { exact: '4' } }, action: { type: 'transfer-computer' } },
      { id: 'e', conditions: { caller: { exact: '5' } }, action: { type: 'transfer-computer', uri: 'sip:2001-pc@lan' } },
      { id: 'f', conditions: { caller: { exact: '6' } }, action: { type: 'transfer-sip', uri: 'sip:alice@example.com' } },
      { id: 'g', conditions: { caller: [{ exact: '7' }, { anonymous: true }] }, action: { type: 'end-and-message', text: '{{caller}} ({{callerName}}) called {{user}} at {{time}} on {{day}} {{date}}' } },
      { id: 'h', conditions: { caller: { exact: '8' } }, action: { type: 'ring' } },
    ],
  };
  const at = utc('2026-12-24T18:05:00Z');
  const d = (caller: string | undefined, callerName?: string) => decide(t, set, { ...(caller === undefined ? {} : { caller }), ...(callerName ? { callerName } : {}), at, presence: idle });
  t.match(d('1'), { action: RoutingActionType.Answer, ruleIndex: 0, ruleId: 'a', version: 1, user: '2001' });
  t.match(d('2'), { action: RoutingActionType.Reject, ruleId: 'b' });
  t.match(d('3'), { action: RoutingActionType.TransferExtension, target: '2002' });
  t.same(d('4'), { user: '2001', version: 1, ruleIndex: 3, ruleId: 'd', action: RoutingActionType.TransferComputer });
  t.match(d('5'), { action: RoutingActionType.TransferComputer, target: 'sip:2001-pc@lan' });
  t.match(d('6'), { action: RoutingActionType.TransferSip, target: 'sip:alice@example.com' });
  t.match(d('7', 'Bob'), { action: RoutingActionType.EndAndMessage, message: '7 (Bob) called 2001 at 18:05 on Thu 2026-12-24' });
  t.match(d(undefined), { action: RoutingActionType.EndAndMessage, message: 'anonymous (anonymous) called 2001 at 18:05 on Thu 2026-12-24' });
  t.match(d('8'), { action: RoutingActionType.Ring, ruleId: 'h' });
  t.same(d('9'), { user: '2001', version: 1, ruleIndex: -1, ruleId: undefined, action: RoutingActionType.Ring });
  const withDefault: RuleSet = { ...set, default: { type: 'end-and-message', text: 'missed {{caller}}' } };
  t.match(decide(t, withDefault, { caller: '9', at, presence: idle }), { ruleIndex: -1, action: RoutingActionType.EndAndMessage, message: 'missed 9' });
  t.throws(() => new CompiledRuleSet('2001', 1, set).decide({ at: Number.NaN, presence: idle }), RangeError);
  t.throws(() => new CompiledRuleSet('2001', 1, { timeZone: 'UTC', rules: [{ id: 'x', conditions: { time: { from: 'noon' } }, action: { type: 'answer' } }] }), { code: 'ROUTING_ERR_INVALID' });
  t.equal(new CompiledRuleSet('2001', 1, set).decide({ caller: '1', at, presence: '__proto__' as never }).ruleId, 'a', 'an unknown presence value matches no presence condition');
});

t.test('caller conditions: exact, prefix, range, pattern, regex, anonymous', async (t) => {
  const set: RuleSet = {
    timeZone: 'UTC',
    rules: [
      { id: 'exact', conditions: { caller: [{ exact: '5551234' }, { exact: '+4930123' }] }, action: { type: 'answer' } },
      { id: 'prefix', conditions: { caller: [{ prefix: '0800' }, { prefix: '08001' }, { prefix: '+1900' }] }, action: { type: 'reject' } },
      { id: 'range', conditions: { caller: [{ range: '5550000-5559999' }, { range: '2000-2099' }] }, action: { type: 'transfer-extension', extension: '2100' } },
      { id: 'pattern', conditions: { caller: { pattern: '_NXX[2-5]XXX' } }, action: { type: 'transfer-computer' } },
      { id: 'regex', conditions: { caller: { regex: '^\\+44(20|161)' } }, action: { type: 'transfer-sip', uri: 'sip:uk@example.com' } },
      { id: 'anon', conditions: { caller: { anonymous: true } }, action: { type: 'end-and-message', text: 'withheld' } },
    ],
  };
  const cases: [string | undefined, string | undefined][] = [
    ['5551234', 'exact'],
    ['+4930123', 'exact'],
    ['080012345', 'prefix'],
    ['0800', 'prefix'],
    ['080', undefined],
    ['+19005550000', 'prefix'],
    ['5550000', 'range'],
    ['5559999', 'range'],
    ['5560000', undefined],
    ['2050', 'range'],
    ['20500', undefined],
    ['5559*99', undefined],
    ['2003000', 'pattern'],
    ['2006000', undefined],
    ['1003000', undefined],
    ['+442071234567', 'regex'],
    ['+441611234567', 'regex'],
    ['+443001234567', undefined],
    ['+4420' + '1'.repeat(60), undefined],
    [undefined, 'anon'],
    ['', 'anon'],
  ];
  for (const [caller, id] of cases) {
    const call: IncomingCall = { at: utc('2026-01-05T10:00:00Z'), presence: idle };
    if (caller !== undefined) call.caller = caller;
    t.equal(decide(t, set, call).ruleId, id, `caller ${caller ?? '(none)'} -> ${id ?? 'default'}`);
  }
});

t.test('presence decides between rules', async (t) => {
  const set: RuleSet = {
    timeZone: 'Europe/Berlin',
    rules: [
      { id: 'busy', conditions: { presence: ['on-call', 'held'] }, action: { type: 'end-and-message', text: '{{user}} is on the phone' } },
      { id: 'dnd', conditions: { presence: 'dnd' }, action: { type: 'reject' } },
      { id: 'away', conditions: { presence: ['unknown'], caller: { prefix: '2' } }, action: { type: 'transfer-computer' } },
    ],
  };
  const at = utc('2026-06-01T10:00:00Z');
  const expected: Record<string, string | undefined> = {
    idle: undefined, 'off-hook': undefined, ringing: undefined, calling: undefined, 'on-call': 'busy', held: 'busy',
    dnd: 'dnd', forwarded: undefined, unknown: 'away',
  };
  for (const state of Object.values(PhonePresenceState)) {
    t.equal(decide(t, set, { caller: '2002', at, presence: state }).ruleId, expected[state], `presence ${state}`);
  }
  t.equal(decide(t, set, { caller: '5551234', at, presence: PhonePresenceState.Unknown }).ruleId, undefined, 'ANDed with the caller');
});

t.test('a window crossing midnight, and the week wrapping from Sunday to Monday', async (t) => {
  const set: RuleSet = {
    timeZone: 'Europe/Berlin',
    rules: [
      { id: 'fri-night', conditions: { time: { days: ['fri'], from: '22:00', to: '06:00' } }, action: { type: 'transfer-extension', extension: '2999' } },
      { id: 'sun-night', conditions: { time: { days: ['sun'], from: '23:30', to: '00:30' } }, action: { type: 'reject' } },
    ],
  };
  const z = (local: string) => parseInstant(local, 'Europe/Berlin');
  const steps: [string, string | undefined][] = [
    ['2026-01-09T21:59', undefined],
    ['2026-01-09T22:00', 'fri-night'],
    ['2026-01-10T00:00', 'fri-night'],
    ['2026-01-10T05:59', 'fri-night'],
    ['2026-01-10T06:00', undefined],
    ['2026-01-10T22:00', undefined],
    ['2026-01-11T23:29', undefined],
    ['2026-01-11T23:30', 'sun-night'],
    ['2026-01-12T00:29', 'sun-night'],
    ['2026-01-12T00:30', undefined],
  ];
  for (const [local, id] of steps) t.equal(decide(t, set, { caller: '1', at: z(local), presence: idle }).ruleId, id, `${local} Berlin -> ${id ?? 'default'}`);
});

t.test('DST: windows follow the wall clock in Europe/Berlin', async (t) => {
  const set: RuleSet = {
    timeZone: 'Europe/Berlin',
    rules: [
      { id: 'sunday-morning', conditions: { time: { days: ['sun'], from: '08:00', to: '09:00' } }, action: { type: 'answer' } },
      { id: 'small-hours', conditions: { time: { days: ['sun'], from: '02:00', to: '03:00' } }, action: { type: 'reject' } },
    ],
  };
  const at = (iso: string) => decide(t, set, { caller: '1', at: utc(iso), presence: idle }).ruleId;
  // 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST.
  t.equal(at('2026-03-22T07:30:00Z'), 'sunday-morning', 'a week before, 07:30 UTC is 08:30 CET');
  t.equal(at('2026-03-29T07:30:00Z'), undefined, 'after spring forward, 07:30 UTC is 09:30 CEST');
  t.equal(at('2026-03-29T06:30:00Z'), 'sunday-morning', '06:30 UTC is 08:30 CEST');
  t.equal(at('2026-03-29T00:59:00Z'), undefined, '01:59 CET');
  t.equal(at('2026-03-29T01:00:00Z'), undefined, '03:00 CEST: the 02:00-03:00 hour never happens');
  // 2026-10-25 01:00 UTC: 03:00 CEST becomes 02:00 CET; 02:00-03:00 happens twice.
  t.equal(at('2026-10-24T23:59:00Z'), undefined, '01:59 CEST');
  t.equal(at('2026-10-25T00:00:00Z'), 'small-hours', '02:00 CEST');
  t.equal(at('2026-10-25T00:59:00Z'), 'small-hours', '02:59 CEST');
  t.equal(at('2026-10-25T01:00:00Z'), 'small-hours', '02:00 CET (again)');
  t.equal(at('2026-10-25T01:59:00Z'), 'small-hours', '02:59 CET');
  t.equal(at('2026-10-25T02:00:00Z'), undefined, '03:00 CET');
  t.equal(at('2026-10-25T07:30:00Z'), 'sunday-morning', 'after fall back, 07:30 UTC is 08:30 CET');
});

t.test('DST: office hours in America/New_York', async (t) => {
  const set: RuleSet = {
    timeZone: 'America/New_York',
    rules: [{ id: 'office', conditions: { time: { days: ['mon-fri'], from: '09:00', to: '17:00' } }, action: { type: 'answer' } }],
    default: { type: 'transfer-sip', uri: 'sip:voicemail@example.com' },
  };
  const at = (iso: string) => decide(t, set, { caller: '1', at: utc(iso), presence: idle }).action;
  // 2026-03-08 07:00 UTC: EST (-5) becomes EDT (-4); 2026-11-01 06:00 UTC: back to EST.
  t.equal(at('2026-03-06T13:59:00Z'), 'transfer-sip', 'Fri 08:59 EST');
  t.equal(at('2026-03-06T14:00:00Z'), 'answer', 'Fri 09:00 EST');
  t.equal(at('2026-03-09T12:59:00Z'), 'transfer-sip', 'Mon 08:59 EDT');
  t.equal(at('2026-03-09T13:00:00Z'), 'answer', 'Mon 09:00 EDT');
  t.equal(at('2026-03-09T20:59:00Z'), 'answer', 'Mon 16:59 EDT');
  t.equal(at('2026-03-09T21:00:00Z'), 'transfer-sip', 'Mon 17:00 EDT');
  t.equal(at('2026-10-30T13:00:00Z'), 'answer', 'Fri 09:00 EDT');
  t.equal(at('2026-11-02T13:30:00Z'), 'transfer-sip', 'Mon 08:30 EST');
  t.equal(at('2026-11-02T14:00:00Z'), 'answer', 'Mon 09:00 EST');
  t.equal(at('2026-11-01T14:00:00Z'), 'transfer-sip', 'Sunday');
});

t.test('dated exceptions: holidays make a rule match or not', async (t) => {
  const set: RuleSet = {
    timeZone: 'Europe/Berlin',
    rules: [
      { id: 'holiday', conditions: { dates: ['12-24..12-26', '2027-01-01'] }, action: { type: 'transfer-extension', extension: '2900' } },
      { id: 'office', conditions: { time: { days: ['mon-fri'], from: '08:00', to: '17:00' }, exceptDates: ['12-31'] }, action: { type: 'answer' } },
      { id: 'new-year', conditions: { dates: '12-30..01-02', time: { from: '00:00', to: '12:00' } }, action: { type: 'reject' } },
    ],
  };
  const z = (local: string) => decide(t, set, { caller: '1', at: parseInstant(local, 'Europe/Berlin'), presence: idle }).ruleId;
  t.equal(z('2026-12-23T10:00'), 'office');
  t.equal(z('2026-12-23T23:59'), undefined);
  t.equal(z('2026-12-24T00:00'), 'holiday', 'the holiday starts at local midnight');
  t.equal(z('2026-12-24T10:00'), 'holiday');
  t.equal(z('2026-12-26T23:59'), 'holiday');
  t.equal(z('2026-12-28T10:00'), 'office');
  t.equal(z('2026-12-31T10:00'), 'new-year', 'office is excepted on 12-31, the wrapping yearly range matches');
  t.equal(z('2026-12-31T14:00'), undefined);
  t.equal(z('2027-01-01T10:00'), 'holiday');
  t.equal(z('2027-01-04T10:00'), 'office');
  t.equal(decide(t, set, { caller: '1', at: utc('2026-12-23T23:30:00Z'), presence: idle }).ruleId, 'holiday', '23:30 UTC is already the 24th in Berlin');
});

t.test('disabled rules never match', async (t) => {
  const set: RuleSet = {
    timeZone: 'UTC',
    rules: [
      { id: 'off', enabled: false, action: { type: 'reject' } },
      { id: 'on', enabled: true, action: { type: 'answer' } },
    ],
  };
  t.match(decide(t, set, { at: 0, presence: idle }), { ruleId: 'on', ruleIndex: 1 });
  t.equal(new CompiledRuleSet('u', 1, set).rules.length, 1);
});

t.test('the zone clock and its caches agree with Intl, in zones with odd offsets and DST', async (t) => {
  const r = prng(7);
  for (const zone of ['Europe/Berlin', 'America/New_York', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'America/St_Johns', 'Pacific/Chatham', 'UTC']) {
    const clock = zoneClock(zone);
    const wrong: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const at = utc('2026-01-01T00:00:00Z') + Math.floor(r() * 366 * 86400e3);
      const mine = clock.at(at);
      const ref = localFacts(zone, at);
      const date = `${mine.year}-${String(mine.month).padStart(2, '0')}-${String(mine.day).padStart(2, '0')}`;
      if (date !== ref.date || mine.minuteOfWeek !== ref.minuteOfWeek) wrong.push(`${new Date(at).toISOString()}: ${date} ${mine.minuteOfWeek} vs ${ref.date} ${ref.minuteOfWeek}`);
    }
    t.same(wrong, [], `${zone}: 3000 instants`);
  }
  const berlin = zoneClock('Europe/Berlin');
  const before = berlin.lookups;
  const base = utc('2030-05-05T10:00:00Z');
  for (let i = 0; i < 1000; i++) berlin.at(base + i * 50);
  t.ok(berlin.lookups - before <= 2, 'a minute of calls costs at most one Intl look-up per quarter-hour edge');
});

t.test('local times given for a zone map to the right instant, across DST gaps and overlaps', async (t) => {
  t.equal(new Date(parseInstant('2026-12-24T18:00', 'Europe/Berlin')).toISOString(), '2026-12-24T17:00:00.000Z');
  t.equal(new Date(parseInstant('2026-07-01T18:00', 'Europe/Berlin')).toISOString(), '2026-07-01T16:00:00.000Z');
  t.equal(new Date(parseInstant('2026-03-29T02:30', 'Europe/Berlin')).toISOString(), '2026-03-29T01:30:00.000Z', 'skipped: shifted forward');
  t.equal(new Date(parseInstant('2026-10-25T02:30', 'Europe/Berlin')).toISOString(), '2026-10-25T00:30:00.000Z', 'repeated: the first');
  t.equal(new Date(parseInstant('2026-11-01T01:30', 'America/New_York')).toISOString(), '2026-11-01T05:30:00.000Z');
  t.equal(new Date(parseInstant('2026-12-24T18:00:30Z', 'Europe/Berlin')).toISOString(), '2026-12-24T18:00:30.000Z', 'absolute with Z');
  t.equal(new Date(parseInstant('2026-12-24T18:00+02:00', 'Europe/Berlin')).toISOString(), '2026-12-24T16:00:00.000Z');
  t.ok(Number.isNaN(parseInstant('tomorrow', 'UTC')));
  t.ok(Number.isNaN(parseInstant('2026-13-01T00:00', 'UTC')));
});

t.test('compiled and interpreted evaluation agree on a large mixed workload', async (t) => {
  const sets = makeRuleSets(12, 50, 3);
  const compiled = new Map([...sets].map(([u, s]) => [u, new CompiledRuleSet(u, 1, s)]));
  const calls = makeCalls([...sets.keys()], 6000, utc('2026-12-20T00:00:00Z'), 14 * 86400e3, 4);
  const wrong: string[] = [];
  const matchedBy = new Set<number>();
  for (const { user, call } of calls) {
    const a = compiled.get(user)!.decide(call);
    const b = interpretRuleSet(user, 1, sets.get(user)!, call);
    matchedBy.add(a.ruleIndex);
    if (JSON.stringify(a) !== JSON.stringify(b)) wrong.push(`${user} ${JSON.stringify(call)}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
  t.same(wrong.slice(0, 5), [], `${calls.length} calls`);
  t.ok(matchedBy.size > 20, `many different rules decided (${matchedBy.size})`);
});
