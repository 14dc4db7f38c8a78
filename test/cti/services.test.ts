import t from 'tap';

import { ConnectionState, CstaEdition, CtiErrorCode, DeflectShape, ForwardingType } from '../../src/cti/index.js';
import { CallDirection, HookState } from '../../src/model/index.js';
import { startRig, until } from '../helpers/cti.js';

t.test('MakeCall, AnswerCall, HoldCall, RetrieveCall, ClearConnection', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const { link, model, sim } = rig;
  const c = await link.makeCall('2000', '2001');
  t.equal(c.deviceId, '2000');
  t.ok(c.callId.length > 0, 'callID from MakeCallResponse');
  await until(model, () => model.hookState('2001') === HookState.Ringing && model.hookState('2000') === HookState.Ringback, 'ringing');
  const ringing = model.device('2001')!.calls[0]!;
  t.equal(ringing.callId, c.callId, 'same call at both ends');
  t.equal(ringing.direction, CallDirection.Incoming);
  t.equal(ringing.remote, '2000');
  t.equal(model.device('2000')!.calls[0]!.direction, CallDirection.Outgoing);
  t.equal(model.device('2000')!.calls[0]!.remote, '2001');

  await link.answerCall({ callId: c.callId, deviceId: '2001' });
  await until(model, () => model.hookState('2001') === HookState.Talking && model.hookState('2000') === HookState.Talking, 'talking');
  t.ok(model.device('2001')!.calls[0]!.answeredAt, 'answer time recorded');

  await link.holdCall({ callId: c.callId, deviceId: '2000' });
  await until(model, () => model.hookState('2000') === HookState.Held, '2000 held');
  t.equal(model.hookState('2001'), HookState.Talking, 'the held party still talks (hears music)');
  t.equal(model.device('2001')!.calls[0]!.parties['2000'], ConnectionState.Held);

  await link.retrieveCall({ callId: c.callId, deviceId: '2000' });
  await until(model, () => model.hookState('2000') === HookState.Talking, '2000 retrieved');

  await link.clearConnection({ callId: c.callId, deviceId: '2001' });
  await until(model, () => model.hookState('2000') === HookState.Idle && model.hookState('2001') === HookState.Idle, 'idle');
  t.same(sim.core.calls(), [], 'no call left in the switch');
});

t.test('ConsultationCall then TransferCall: callIDs change, the model follows transferredConnections', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const { link, model } = rig;
  const first = await link.makeCall('2000', '2001');
  await until(model, () => model.hookState('2001') === HookState.Ringing, 'ringing');
  await link.answerCall({ callId: first.callId, deviceId: '2001' });
  await until(model, () => model.hookState('2000') === HookState.Talking, 'talking');

  // 2001 consults 2002 then transfers 2000 to it.
  const consult = await link.consultationCall({ callId: first.callId, deviceId: '2001' }, '2002');
  t.not(consult.callId, first.callId, 'the consultation is a new call');
  t.equal(consult.deviceId, '2001');
  await until(model, () => model.hookState('2002') === HookState.Ringing && model.hookState('2001') === HookState.Ringback, 'consultation ringing');
  t.equal(model.device('2001')!.calls.find((c) => c.callId === first.callId)?.state, ConnectionState.Held, 'first call held');
  await link.answerCall({ callId: consult.callId, deviceId: '2002' });
  await until(model, () => model.hookState('2002') === HookState.Talking, 'consulted answers');

  const moved = await link.transferCall({ callId: first.callId, deviceId: '2001' }, { callId: consult.callId, deviceId: '2001' });
  t.ok(moved, 'TransferCallResponse names the new call');
  await until(model, () => model.hookState('2001') === HookState.Idle, 'transferring device idle');
  const a = model.device('2000')!.calls;
  const b = model.device('2002')!.calls;
  t.equal(a.length, 1);
  t.equal(b.length, 1);
  t.equal(a[0]!.callId, moved!.callId, '2000 follows to the new callID');
  t.equal(b[0]!.callId, moved!.callId, '2002 follows to the new callID');
  t.equal(a[0]!.replaces, first.callId, 'the new call replaces the old one at 2000');
  t.equal(b[0]!.replaces, consult.callId, 'and the consultation at 2002');
  t.equal(a[0]!.remote, '2002');
  t.equal(b[0]!.remote, '2000');
  t.equal(model.hookState('2000'), HookState.Talking);
  t.equal(model.hookState('2002'), HookState.Talking);
  const ended = rig.changes.filter((c) => c.device === '2000' && c.reason === 'transferred');
  t.equal(ended.length, 1, 'one change at 2000 for the transfer');
  t.same(
    ended[0]!.calls.map((c) => [c.call.callId, c.ended]).sort(),
    [
      [first.callId, true],
      [moved!.callId, false],
    ].sort(),
    'the change ends the old callID and starts the new one',
  );
});

t.test('SingleStepTransferCall: a new call rings at the target', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const { link, model } = rig;
  const c = await link.makeCall('2000', '2001');
  await until(model, () => model.hookState('2001') === HookState.Ringing, 'ringing');
  await link.answerCall({ callId: c.callId, deviceId: '2001' });
  await until(model, () => model.hookState('2000') === HookState.Talking, 'talking');
  const moved = await link.singleStepTransferCall({ callId: c.callId, deviceId: '2001' }, '2003');
  t.ok(moved);
  t.not(moved!.callId, c.callId);
  await until(model, () => model.hookState('2003') === HookState.Ringing && model.hookState('2001') === HookState.Idle, 'target rings');
  t.equal(model.hookState('2000'), HookState.Ringback, 'the transferred party hears ringback');
  t.equal(model.device('2000')!.calls[0]!.callId, moved!.callId);
  t.equal(model.device('2003')!.calls[0]!.remote, '2000');
});

for (const [edition, shape] of [
  [CstaEdition.Ed4, DeflectShape.Plain],
  [CstaEdition.Ed5, DeflectShape.Device],
] as const) {
  t.test(`DeflectCall with a ${shape} newDestination (${edition})`, async (t) => {
    const rig = await startRig({ link: { edition }, sim: { edition } });
    t.teardown(() => rig.close());
    const { link, model } = rig;
    const sent: string[] = [];
    const c = await link.makeCall('2000', '2001');
    await until(model, () => model.hookState('2001') === HookState.Ringing, 'ringing');
    link.on('message', (m) => sent.push(m.root));
    await link.deflectCall({ callId: c.callId, deviceId: '2001' }, '2002');
    await until(model, () => model.hookState('2002') === HookState.Ringing && model.hookState('2001') === HookState.Idle, 'deflected');
    t.equal(model.hookState('2000'), HookState.Ringback);
    t.equal(model.device('2000')!.calls[0]!.remote, '2002', 'the caller sees the new destination');
    t.ok(sent.includes('DivertedEvent'));
  });
}

t.test('SetForwarding and SetDoNotDisturb: features in the model, forwarded and refused calls', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const { link, model } = rig;
  await link.setForwarding('2001', ForwardingType.Immediate, true, '2002');
  await until(model, () => model.device('2001')!.forwarding.length === 1, 'forwarding event');
  t.same(model.device('2001')!.forwarding, [{ type: ForwardingType.Immediate, on: true, to: '2002' }]);
  await link.makeCall('2000', '2001');
  await until(model, () => model.hookState('2002') === HookState.Ringing, 'forwarded call rings at 2002');
  t.equal(model.hookState('2001'), HookState.Idle);
  await link.setForwarding('2001', ForwardingType.Immediate, false);
  await until(model, () => model.device('2001')!.forwarding.length === 0, 'forwarding off');

  await link.setDoNotDisturb('2003', true);
  await until(model, () => model.device('2003')!.doNotDisturb, 'dnd on');
  const c2 = model.device('2002')!.calls[0]!;
  await link.clearConnection({ callId: c2.callId, deviceId: '2002' });
  await until(model, () => model.hookState('2000') === HookState.Idle, 'call over');
  await link.makeCall('2000', '2003');
  await until(model, () => model.device('2000')!.calls[0]?.state === ConnectionState.Fail, 'DND refuses the call');
  t.equal(model.hookState('2000'), HookState.OffHook, 'the caller hears busy tone');
  t.equal(model.hookState('2003'), HookState.Idle);
  await link.setDoNotDisturb('2003', false);
  await until(model, () => !model.device('2003')!.doNotDisturb, 'dnd off');
  await t.rejects(link.setForwarding('2001', ForwardingType.Busy, true), { code: CtiErrorCode.BadArgument });
});

t.test('SnapshotDevice, MonitorStop and MonitorStart, RequestSystemStatus', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const { link, model, sim } = rig;
  const c = await link.makeCall('2000', '2001');
  await until(model, () => model.hookState('2001') === HookState.Ringing, 'ringing');
  t.same(await link.snapshotDevice('2001'), [{ callId: c.callId, deviceId: '2001', state: ConnectionState.Alerting }]);
  t.same(await link.snapshotDevice('2000'), [{ callId: c.callId, deviceId: '2000', state: ConnectionState.Connected }]);
  t.same(await link.snapshotDevice('2003'), []);
  t.equal(await link.requestSystemStatus(), 'normal');

  const before = link.crossRefOf('2003');
  t.ok(before);
  await link.monitorStop('2003');
  t.equal(link.crossRefOf('2003'), undefined);
  t.notOk(link.monitoredDevices.includes('2003'));
  t.notOk(Object.values(sim.csta.clients()[0]!.monitors).includes('2003'), 'the switch dropped the monitor');
  const xref = await link.monitorStart('2003');
  t.not(xref, before, 'a new cross reference');
  t.equal(link.crossRefOf('2003'), xref);
});
