import t from 'tap';

import {
  CallControlError,
  OwnershipTable,
  ProgressStep,
  RequesterKind,
  TransferMode,
  canonicalAor,
  statusOfCtiError,
  type Requester,
} from '../../../src/calls/control/index.js';
import { ConnectionState, CstaErrorCategory, CtiError, CtiErrorCode, ForwardingType } from '../../../src/cti/index.js';
import { HookState } from '../../../src/model/index.js';
import { ownership, startControlRig, until } from './helpers.js';

const alice: Requester = { kind: RequesterKind.Sip, aor: '"Alice" <sip:alice@Example.COM:5060;transport=tcp>' };
const bob: Requester = { kind: RequesterKind.Sip, aor: 'sip:bob@example.com' };
const ops: Requester = { kind: RequesterKind.Admin, name: 'ops' };

t.test('hold and retrieve; ownership and unknown phone errors', async (t) => {
  const rig = await startControlRig();
  t.teardown(() => rig.close());
  const { sim, model, control } = rig;
  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, '2000 ringing');
  sim.core.offHook('2000');
  await until(model, () => model.hookState('2000') === HookState.Talking, '2000 talking');

  await t.rejects(control.hold(bob, '2000'), { code: 'CALL_ERR_NOT_OWNER', sipStatus: 403, httpStatus: 403 });
  await t.rejects(control.hold(alice, '4711'), { code: 'CALL_ERR_UNKNOWN_PHONE', sipStatus: 404 });
  await t.rejects(control.hold(alice, '2000', 'nope'), { code: 'CALL_ERR_UNKNOWN_CALL' });
  await t.rejects(control.retrieve(alice, '2000'), { code: 'CALL_ERR_NO_SUITABLE_CALL', httpStatus: 409 });

  const held = await control.hold(alice, '2000');
  await until(model, () => model.hookState('2000') === HookState.Held, '2000 held');
  t.equal(sim.core.phone('2000').calls[0]!.state, ConnectionState.Held);
  await control.retrieve(ops, '2000', held.callId);
  await until(model, () => model.hookState('2000') === HookState.Talking, '2000 talking again');
  await control.clear({ kind: RequesterKind.Embedded, user: 'alice' }, '2000');
  await until(model, () => model.hookState('2000') === HookState.Idle, '2000 idle');
  await t.rejects(control.clear({ kind: RequesterKind.Embedded, user: 'bob' }, '2000'), { code: 'CALL_ERR_NOT_OWNER' });
});

t.test('a PBX refusal carries the CSTA error and its mapped statuses', async (t) => {
  const rig = await startControlRig();
  t.teardown(() => rig.close());
  const { sim, model, control } = rig;
  sim.core.setDoNotDisturb('2001', true);
  await until(model, () => model.device('2001')?.doNotDisturb === true, 'dnd');
  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, '2000 ringing');
  // The simulator refuses a deflection to a number it does not have: operation/invalidDestination.
  const err = await control.deflect(alice, '2000', '7777').then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof CallControlError);
  const e = err as CallControlError;
  t.equal(e.code, 'CALL_ERR_REFUSED');
  t.equal(e.cti?.category, CstaErrorCategory.Operation);
  t.equal(e.cti?.value, 'invalidDestination');
  t.equal(e.sipStatus, 404);
  t.equal(e.httpStatus, 422);
  await t.rejects(control.deflect(alice, '2000', 'sip:nobody@example.com'), { code: 'CALL_ERR_UNMAPPED_TARGET' });
  await t.rejects(control.forward(alice, '2000', { type: 'sideways', on: true, to: '2001' }), { code: 'CALL_ERR_BAD_REQUEST' });
  await t.rejects(control.forward(alice, '2000', { type: 'forwardBusy', on: true }), { code: 'CALL_ERR_BAD_REQUEST' });
});

t.test('forward immediately to a VoIP client (mapped number), on busy and on no answer to PBX phones', async (t) => {
  const rig = await startControlRig({ noAnswerMs: 200 });
  t.teardown(() => rig.close());
  const { sim, model, control } = rig;
  t.same(await control.forward(alice, '2000', { type: ForwardingType.Immediate, on: true, to: 'sip:alice-soft@example.com' }), {
    type: 'forwardImmediate',
    on: true,
    to: '2099',
  });
  await until(model, () => model.device('2000')!.forwarding.some((f) => f.type === ForwardingType.Immediate && f.to === '2099'), 'forwarding reported');
  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2099') === HookState.Ringing, 'the VoIP gateway number rings');
  t.equal(model.hookState('2000'), HookState.Idle, 'the desk phone does not ring');
  sim.core.onHook('2001');
  await until(model, () => model.hookState('2099') === HookState.Idle, 'cleared');
  await control.forward(alice, '2000', { type: ForwardingType.Immediate, on: false });
  t.same(sim.core.phone('2000').forwarding, {});

  await control.forward(alice, '2000', { type: ForwardingType.Busy, on: true, to: '2005' });
  await control.forward(alice, '2000', { type: ForwardingType.NoAnswer, on: true, to: '2003' });
  sim.core.dial('2002', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, '2000 ringing');
  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2005') === HookState.Ringing, 'busy: forwarded to 2005');
  await until(model, () => model.hookState('2003') === HookState.Ringing, 'no answer: forwarded to 2003');
  t.equal(model.hookState('2000'), HookState.Idle);
});

t.test('answer at the phone, and answer on a second PBX phone (deflect there, answer there)', async (t) => {
  const rig = await startControlRig();
  t.teardown(() => rig.close());
  const { sim, model, control } = rig;
  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, '2000 ringing');
  await t.rejects(control.answer(alice, '2000', { on: '2002' }), { code: 'CALL_ERR_NOT_OWNER' }, 'alice does not own 2002');
  const there = await control.answer(alice, '2000', { on: '2005' });
  t.equal(there.deviceId, '2005');
  await until(model, () => model.hookState('2005') === HookState.Talking && model.hookState('2001') === HookState.Talking, 'talking on 2005');
  t.equal(model.hookState('2000'), HookState.Idle);
  sim.core.onHook('2005');
  await until(model, () => model.hookState('2001') === HookState.Idle, 'cleared');

  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, '2000 ringing');
  await control.answer(alice, '2000');
  await until(model, () => model.hookState('2000') === HookState.Talking, '2000 answered');
  await t.rejects(control.answer(alice, '2000'), { code: 'CALL_ERR_NO_SUITABLE_CALL' });
});

t.test('click to dial: progress with hook states, then failure with cause', async (t) => {
  const rig = await startControlRig();
  t.teardown(() => rig.close());
  const { sim, model, control } = rig;
  const r = await control.dial(alice, '2000', 'sip:2001@pbx.example.com');
  t.equal(r.target, '2001');
  await until(model, () => model.hookState('2001') === HookState.Ringing, '2001 ringing');
  await until(model, () => r.last?.step === ProgressStep.Ringing, 'ringing reported');
  sim.core.offHook('2001');
  await until(model, () => r.last?.step === ProgressStep.Connected, 'connected reported');
  sim.core.onHook('2001');
  await until(model, () => r.done, 'cleared');
  t.same(
    r.progress.map((p) => [p.step, p.hook]).filter((p) => p[1] !== HookState.Idle || p[0] !== ProgressStep.Initiated),
    [
      [ProgressStep.Initiated, HookState.OffHook],
      [ProgressStep.Ringing, HookState.Ringback],
      [ProgressStep.Connected, HookState.Talking],
      [ProgressStep.Cleared, HookState.Idle],
    ],
  );
  t.equal(control.request(r.id), r);
  t.throws(() => control.request('nope'), { code: 'CALL_ERR_UNKNOWN_REQUEST' });

  sim.core.setDoNotDisturb('2002', true);
  await until(model, () => model.device('2002')?.doNotDisturb === true, 'dnd');
  const f = await control.dial(alice, '2000', '2002');
  await until(model, () => f.done, 'failed and cleared');
  const failed = f.progress.find((p) => p.step === ProgressStep.Failed);
  t.equal(failed?.cause, 'doNotDisturb');
  t.equal(f.last?.step, ProgressStep.Cleared);
  t.equal(model.hookState('2000'), HookState.Idle, 'the phone is back on hook');
  t.equal(r.toJSON()['state'], 'cleared');

  sim.core.offHook('2001');
  await until(model, () => model.hookState('2001') === HookState.OffHook, '2001 off hook');
  const busy = await control.dial(bob, '2001', '2000').then(
    () => undefined,
    (e: unknown) => e as CallControlError,
  );
  t.equal(busy?.code, 'CALL_ERR_REFUSED');
  t.equal(busy?.cti?.category, CstaErrorCategory.StateIncompatibility);
  t.equal(busy?.sipStatus, 488);
});

t.test('transfers: single step, consultation, and a refused transfer leaves the call where it was', async (t) => {
  const rig = await startControlRig();
  t.teardown(() => rig.close());
  const { sim, model, control } = rig;
  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, 'ringing');
  sim.core.offHook('2000');
  await until(model, () => model.hookState('2000') === HookState.Talking, 'talking');
  const r = await control.transfer(alice, '2000', '2002');
  t.equal(r.mode, TransferMode.SingleStep);
  await until(model, () => model.hookState('2002') === HookState.Ringing && model.hookState('2000') === HookState.Idle, 'transferred');
  sim.core.offHook('2002');
  await until(model, () => model.hookState('2002') === HookState.Talking, '2002 talking');

  // Consultation: 2002 (owned by nobody; the admin acts) consults 2003, then transfers.
  const c = await control.transfer(ops, '2002', '2003', { mode: TransferMode.Consultation });
  t.equal(c.mode, TransferMode.Consultation);
  await until(model, () => model.hookState('2003') === HookState.Ringing && model.hookState('2002') === HookState.Idle, 'consultation transferred');
  sim.core.offHook('2003');
  await until(model, () => model.hookState('2001') === HookState.Talking && model.hookState('2003') === HookState.Talking, '2001 and 2003 talk');

  // 2004 busy: the consultation fails, the transfer is refused, 2003 gets its call back.
  sim.core.offHook('2004');
  await until(model, () => model.hookState('2004') === HookState.OffHook, '2004 busy');
  const err = await control.transfer(ops, '2003', '2004', { mode: TransferMode.Consultation }).then(
    () => undefined,
    (e: unknown) => e as CallControlError,
  );
  t.equal(err?.code, 'CALL_ERR_REFUSED');
  await until(model, () => model.hookState('2003') === HookState.Talking && model.hookState('2001') === HookState.Talking, 'call restored');
  t.equal(sim.core.calls().length, 2, 'the original call and 2004 dial tone only');
  await t.rejects(control.transfer(ops, '2003', '2004', { mode: 'sideways' as TransferMode }), { code: 'CALL_ERR_BAD_REQUEST' });
});

t.test('do not disturb and snapshot', async (t) => {
  const rig = await startControlRig();
  t.teardown(() => rig.close());
  const { model, control } = rig;
  await control.doNotDisturb(alice, '2000', true);
  await until(model, () => model.device('2000')?.doNotDisturb === true, 'dnd on');
  t.equal(control.snapshot(alice, '2000').doNotDisturb, true);
  t.throws(() => control.snapshot(bob, '2000'), { code: 'CALL_ERR_NOT_OWNER' });
});

t.test('ownership table and status mapping', async (t) => {
  const table = new OwnershipTable(ownership);
  t.equal(canonicalAor('"A" <SIP:alice@EXAMPLE.com:5061;transport=tls>'), 'sip:alice@example.com');
  t.equal(canonicalAor('tel:+4930123;phone-context=x'), 'tel:+4930123');
  t.ok(table.aorOwns('sips:alice@example.com', '2005'));
  t.notOk(table.aorOwns('sip:Alice@example.com', '2000'), 'the user part is case-sensitive');
  t.equal(table.numberFor('tel:2001'), '2001');
  t.equal(table.numberFor('sip:2001@pbx'), '2001');
  t.equal(table.numberFor('<sip:alice-soft@example.com>'), '2099');
  t.throws(() => new OwnershipTable({ users: [{ user: 'x', phones: [], aors: [] }] }), { code: 'CALL_ERR_BAD_REQUEST' });
  t.throws(() => new OwnershipTable({ users: [{ user: 'x', phones: ['1'], aors: [] }, { user: 'y', phones: ['1'], aors: [] }] }), { code: 'CALL_ERR_BAD_REQUEST' });
  t.throws(() => new OwnershipTable({ users: [], voipTargets: [{ uri: 'sip:a@b', number: 'abc' }] }), { code: 'CALL_ERR_BAD_REQUEST' });
  const s = (code: CtiErrorCode, category?: CstaErrorCategory, value?: string) =>
    statusOfCtiError(new CtiError(code, 'x', { ...(category ? { category } : {}), ...(value ? { value } : {}) }));
  t.same(s(CtiErrorCode.LinkDown), { sip: 503, http: 503 });
  t.same(s(CtiErrorCode.Timeout), { sip: 504, http: 504 });
  t.same(s(CtiErrorCode.CstaOperation, CstaErrorCategory.Operation, 'invalidConnectionID'), { sip: 481, http: 404 });
  t.same(s(CtiErrorCode.CstaOperation, CstaErrorCategory.Operation, 'generic'), { sip: 488, http: 400 });
  t.same(s(CtiErrorCode.CstaSecurity, CstaErrorCategory.Security, 'x'), { sip: 403, http: 403 });
  t.same(s(CtiErrorCode.CstaSystemResource, CstaErrorCategory.SystemResourceAvailability, 'resourceBusy'), { sip: 486, http: 503 });
  t.same(s(CtiErrorCode.CstaSystemResource, CstaErrorCategory.SystemResourceAvailability, 'serviceBusy'), { sip: 480, http: 503 });
  t.same(s(CtiErrorCode.CstaState, CstaErrorCategory.StateIncompatibility, 'resourceBusy'), { sip: 486, http: 409 });
  t.same(s(CtiErrorCode.CstaPerformance, CstaErrorCategory.PerformanceManagement, 'x'), { sip: 480, http: 503 });
  t.same(s(CtiErrorCode.CstaUnspecified, CstaErrorCategory.Unspecified, 'x'), { sip: 500, http: 502 });
  t.same(s(CtiErrorCode.BadArgument), { sip: 400, http: 400 });
});
