import t from 'tap';

import { ConnectionState, CstaEventKind, ForwardingType } from '../../src/cti/index.js';
import { SimError, SimSwitch, type SimEvent } from '../../src/sim/index.js';

function sw(extensions = ['2000', '2001', '2002', '2003'], noAnswerMs?: number): { s: SimSwitch; events: SimEvent[] } {
  const s = new SimSwitch(noAnswerMs === undefined ? { extensions } : { extensions, noAnswerMs });
  const events: SimEvent[] = [];
  s.onEvent((e) => events.push(e));
  return { s, events };
}

function refused(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof SimError) return err.value;
    throw err;
  }
  return undefined;
}

const kinds = (events: SimEvent[]): string[] => events.map((e) => `${e.kind}:${e.subject}`);

t.test('off-hook, dial, answer, hang up: the event sequence of a real switch', async (t) => {
  const { s, events } = sw();
  s.offHook('2000');
  s.dial('2000', '2001');
  t.equal(s.phone('2001').calls[0]!.state, ConnectionState.Alerting);
  s.offHook('2001');
  s.onHook('2000');
  t.same(kinds(events), [
    'serviceInitiated:2000',
    'originated:2000',
    'delivered:2001',
    'established:2001',
    'connectionCleared:2000',
    'connectionCleared:2001',
  ]);
  const delivered = events[2]!;
  t.same([...delivered.involved], [
    ['2000', ConnectionState.Connected],
    ['2001', ConnectionState.Alerting],
  ], 'each involved device with its own connection state');
  t.equal(delivered.callingDevice, '2000');
  t.same(s.calls(), []);
  t.equal(s.phone('2001').hook, 'offHook', 'the far end still holds the handset');
  s.onHook('2001');
  t.equal(s.phone('2001').hook, 'onHook');
  t.equal(refused(() => s.onHook('2001')), 'invalidObjectState');
});

t.test('busy, unknown number, DND, forwarding immediate/busy/no-answer', async (t) => {
  const { s, events } = sw(['2000', '2001', '2002', '2003'], 20);
  t.teardown(() => s.close());
  s.dial('2000', '2001');
  s.dial('2002', '2001');
  t.equal(events.at(-1)!.kind, CstaEventKind.Failed);
  t.equal(events.at(-1)!.cause, 'busy');
  t.equal(s.phone('2002').calls[0]!.state, ConnectionState.Fail);
  s.onHook('2002');
  s.dial('2002', '555');
  t.equal(events.at(-1)!.cause, 'destNotObtainable');
  s.onHook('2002');
  s.setDoNotDisturb('2003', true);
  t.equal(events.at(-1)!.kind, CstaEventKind.DoNotDisturb);
  s.dial('2002', '2003');
  t.equal(events.at(-1)!.cause, 'doNotDisturb');
  s.onHook('2002');
  s.setDoNotDisturb('2003', false);

  s.setForwarding('2001', ForwardingType.Busy, true, '2003');
  s.dial('2002', '2001');
  t.equal(events.at(-1)!.kind, CstaEventKind.Delivered);
  t.equal(events.at(-1)!.subject, '2003', 'busy forwarding');
  t.equal(events.at(-1)!.lastRedirection, '2001');
  s.onHook('2002');
  s.onHook('2000');
  s.setForwarding('2001', ForwardingType.Busy, false);
  t.same(s.phone('2001').forwarding, {});

  s.setForwarding('2001', ForwardingType.Immediate, true, '2002');
  s.dial('2000', '2001');
  t.equal(s.phone('2002').calls[0]!.state, ConnectionState.Alerting, 'immediate forwarding');
  s.onHook('2000');
  s.setForwarding('2001', ForwardingType.Immediate, false);
  t.equal(refused(() => s.setForwarding('2001', ForwardingType.Immediate, true, '2001')), 'invalidForwardingDestination');

  s.setForwarding('2001', ForwardingType.NoAnswer, true, '2003');
  s.dial('2000', '2001');
  const diverted = new Promise<SimEvent>((resolve) => s.onEvent((e) => e.kind === CstaEventKind.Delivered && resolve(e)));
  const d = await diverted;
  t.equal(d.subject, '2003', 'no-answer forwarding after the timer');
  t.ok(events.some((e) => e.kind === CstaEventKind.Diverted && e.cause === 'callForwardNoAnswer'));
  t.equal(s.phone('2001').calls.length, 0);
});

t.test('hold, retrieve, consultation, transfer (also before the consulted party answers)', async (t) => {
  const { s, events } = sw();
  const c = s.dial('2000', '2001');
  s.answer('2001');
  t.equal(refused(() => s.hold('2002')), 'noActiveCall');
  s.hold('2000');
  t.equal(refused(() => s.hold('2000')), 'noActiveCall');
  t.equal(refused(() => s.answer('2000')), 'noCallToAnswer');
  s.retrieve('2000');
  t.equal(refused(() => s.retrieve('2000')), 'noHeldCall');
  const consult = s.consultation('2000', c.callId, '2002');
  t.not(consult.callId, c.callId);
  t.same(kinds(events.slice(-4)), ['held:2000', 'serviceInitiated:2000', 'originated:2000', 'delivered:2002']);
  t.equal(events.at(-3)!.cause, 'consultation');
  events.length = 0;
  const moved = s.transfer('2000');
  t.equal(moved.deviceId, '2002');
  t.equal(events[0]!.kind, CstaEventKind.Transferred);
  t.same(events[0]!.moved!.map((m) => m.deviceId).sort(), ['2001', '2002']);
  t.equal(events[1]!.kind, CstaEventKind.Delivered, 'the consulted party still rings, now in the new call');
  t.equal(s.calls().length, 1);
  t.same(s.calls()[0]!.connections, { '2001': ConnectionState.Connected, '2002': ConnectionState.Alerting });
  s.answer('2002');
  s.onHook('2002');
  t.same(s.calls(), []);
});

t.test('retrieve clears a pending dial tone; single-step transfer and deflect rules', async (t) => {
  const { s } = sw();
  const c = s.dial('2000', '2001');
  s.answer('2001');
  s.hold('2000');
  s.offHook('2000');
  t.equal(s.phone('2000').calls.length, 2);
  s.retrieve('2000', c.callId);
  t.equal(s.phone('2000').calls.length, 1);
  t.equal(refused(() => s.singleStepTransfer('2000', c.callId, '9999')), 'invalidDestination');
  t.equal(refused(() => s.deflect('2000', c.callId, '2002')), 'noCallToAnswer');
  t.equal(refused(() => s.answer('2000', 'nope')), 'invalidConnectionID');
  t.equal(refused(() => s.phone('77')), 'invalidDeviceID');
  t.equal(refused(() => s.dial('2002', '')), 'invalidCalledDevice');
  t.equal(refused(() => s.makeCall('2000', '2002')), 'invalidObjectState');
  t.equal(refused(() => s.transfer('2000')), 'noHeldCall');
  const moved = s.singleStepTransfer('2000', undefined, '2002');
  t.same(s.phone('2000').calls, []);
  t.equal(s.phone('2002').calls[0]!.callId, moved.callId);
  t.equal(s.snapshot('2001')[0]!.callId, moved.callId);
  s.deflect('2002', undefined, '2003');
  t.equal(s.phone('2003').calls[0]!.state, ConnectionState.Alerting);
  t.equal(s.extensions().length, 4);
  t.ok(s.hasDevice('2003'));
});
