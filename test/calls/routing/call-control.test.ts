import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { applyDecision, routingPresence, RoutingRequest, RoutingTable, type AppliedDecision } from '../../../src/calls/routing/index.js';
import { ConnectionState, CstaEventKind } from '../../../src/cti/index.js';
import { HookState, type DeviceSnapshot } from '../../../src/model/index.js';
import { PhonePresenceState } from '../../../src/presence/phone-state.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { startRig } from '../../helpers/cti.js';

t.test('a Delivered event is routed by the user\'s rules into the CSTA request, against the PBX simulator', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'routing-cti-'));
  const store = new SqliteStore(dir);
  const rig = await startRig({ extensions: ['2000', '2001', '2002', '2003', '2004', '2005', '2006', '2007', '3000'], devices: ['2000', '2001'] });
  t.teardown(async () => {
    await rig.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const table = new RoutingTable(store);
  await table.put('2000', {
    timeZone: 'Europe/Berlin',
    rules: [
      { id: 'boss', conditions: { caller: { exact: '2002' } }, action: { type: 'answer' } },
      { id: 'nuisance', conditions: { caller: { exact: '2003' } }, action: { type: 'reject' } },
      { id: 'colleague', conditions: { caller: { exact: '2004' } }, action: { type: 'transfer-extension', extension: '2001' } },
      { id: 'softphone', conditions: { caller: { exact: '2005' } }, action: { type: 'transfer-sip', uri: 'sip:2000@pc.example' } },
      { id: 'message', conditions: { caller: { exact: '2006' } }, action: { type: 'end-and-message', text: '{{caller}} called' } },
    ],
  }, 0);
  const applied: AppliedDecision[] = [];
  const voip: (string | undefined)[] = [];
  rig.link.on('event', (device, ev) => {
    if (ev.kind !== CstaEventKind.Delivered || ev.localState !== ConnectionState.Alerting || device !== '2000') return;
    const caller = ev.callingDevice;
    const decision = table.decide(device, { ...(caller ? { caller } : {}), at: Date.now(), presence: routingPresence(rig.model.device(device)) });
    applied.push(applyDecision(rig.link, decision, { callId: ev.callId, deviceId: device }, {
      voipDestination: (uri) => {
        voip.push(uri);
        return '3000';
      },
    }));
  });
  const sw = rig.sim.core;
  const routed = async (caller: string): Promise<AppliedDecision> => {
    const before = applied.length;
    sw.dial(caller, '2000');
    const deadline = Date.now() + 10_000;
    while (applied.length === before) {
      if (Date.now() > deadline) throw new Error(`no Delivered for ${caller}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const a = applied[applied.length - 1]!;
    await a.done;
    return a;
  };
  const stateAt = (ext: string) => sw.phone(ext).calls.map((c) => c.state);

  t.match(await routed('2002'), { request: RoutingRequest.AnswerCall });
  t.same(stateAt('2000'), [ConnectionState.Connected], 'answered');
  sw.onHook('2002');
  t.same(stateAt('2000'), []);

  t.match(await routed('2003'), { request: RoutingRequest.ClearConnection });
  t.same(stateAt('2000'), [], 'the ringing stopped');
  sw.onHook('2003');

  t.match(await routed('2004'), { request: RoutingRequest.DeflectCall, destination: '2001' });
  t.same(stateAt('2001'), [ConnectionState.Alerting], 'now ringing at 2001');
  t.same(stateAt('2000'), []);
  sw.onHook('2004');

  t.match(await routed('2005'), { request: RoutingRequest.DeflectCall, destination: '3000' });
  t.same(voip, ['sip:2000@pc.example'], 'the gateway number for the SIP URI');
  t.same(stateAt('3000'), [ConnectionState.Alerting]);
  sw.onHook('2005');

  t.match(await routed('2006'), { request: RoutingRequest.ClearConnection });
  sw.onHook('2006');

  t.match(await routed('2007'), { request: RoutingRequest.None }, 'no rule: it rings');
  t.same(stateAt('2000'), [ConnectionState.Alerting]);
  sw.onHook('2007');
});

t.test('transfers to SIP need a gateway destination', async (t) => {
  const cc = { answerCall: async () => {}, clearConnection: async () => {}, deflectCall: async () => {} };
  const decision = { user: '2000', version: 1, ruleIndex: 0, ruleId: 'x', action: 'transfer-computer' } as const;
  t.throws(() => applyDecision(cc, { ...decision, action: decision.action as never }, { callId: '1', deviceId: '2000' }), { code: 'ROUTING_ERR_NO_GATEWAY' });
});

t.test('the presence the rules see, from the CTI model', async (t) => {
  const dev = (state: HookState, extra: Partial<DeviceSnapshot> = {}): DeviceSnapshot => ({ device: '2000', state, stateSince: 0, version: 1, calls: [], forwarding: [], doNotDisturb: false, ...extra });
  t.equal(routingPresence(undefined), PhonePresenceState.Unknown);
  t.equal(routingPresence(dev(HookState.Unknown, { doNotDisturb: true })), PhonePresenceState.Unknown);
  t.equal(routingPresence(dev(HookState.Idle)), PhonePresenceState.Idle);
  t.equal(routingPresence(dev(HookState.OffHook)), PhonePresenceState.OffHook);
  t.equal(routingPresence(dev(HookState.Ringing)), PhonePresenceState.Ringing);
  t.equal(routingPresence(dev(HookState.Ringback)), PhonePresenceState.Calling);
  t.equal(routingPresence(dev(HookState.Talking)), PhonePresenceState.OnCall);
  t.equal(routingPresence(dev(HookState.Held)), PhonePresenceState.Held);
  t.equal(routingPresence(dev(HookState.Ringing, { doNotDisturb: true })), PhonePresenceState.DoNotDisturb);
  t.equal(routingPresence(dev(HookState.Idle, { forwarding: [{ type: 'forwardImmediate' as never, on: true, to: '2001' }] })), PhonePresenceState.Forwarded);
});
