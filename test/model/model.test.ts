import t from 'tap';

import { ConnectionState, CstaEventKind, ForwardingType, type CstaEvent } from '../../src/cti/index.js';
import { CallDirection, HookState, PbxModel, type DeviceChange } from '../../src/model/index.js';
import { MetricsRegistry } from '../../src/util/metrics.js';

function ev(kind: CstaEventKind, callId: string, subjectDevice: string, extra: Partial<CstaEvent> = {}): CstaEvent {
  return { kind, monitorCrossRefId: '1', callId, subjectDevice, moved: [], ...extra };
}

function model(devices: string[]): { m: PbxModel; changes: DeviceChange[]; clock: { now: number } } {
  const clock = { now: 1000 };
  const m = new PbxModel({ devices, now: () => clock.now });
  const changes: DeviceChange[] = [];
  m.onChange((c) => changes.push(c));
  for (const d of devices) m.resync(d, []);
  changes.length = 0;
  return { m, changes, clock };
}

t.test('a basic call, seen from both monitors (ECMA-269 §17.3 event sequence)', async (t) => {
  const { m, changes, clock } = model(['A', 'B']);
  t.equal(m.hookState('A'), HookState.Idle);
  m.apply('A', ev(CstaEventKind.ServiceInitiated, 'c1', 'A', { localState: ConnectionState.Initiated }));
  t.equal(m.hookState('A'), HookState.OffHook);
  m.apply('A', ev(CstaEventKind.Originated, 'c1', 'A', { callingDevice: 'A', calledDevice: 'B', localState: ConnectionState.Connected }));
  t.equal(m.hookState('A'), HookState.OffHook, 'dialled, nothing delivered yet');
  const d = ev(CstaEventKind.Delivered, 'c1', 'B', { callingDevice: 'A', calledDevice: 'B', actingDevice: 'B' });
  m.apply('A', { ...d, localState: ConnectionState.Connected });
  m.apply('B', { ...d, localState: ConnectionState.Alerting });
  t.equal(m.hookState('A'), HookState.Ringback);
  t.equal(m.hookState('B'), HookState.Ringing);
  t.equal(m.apply('B', { ...d, localState: ConnectionState.Alerting }), undefined, 'a repeated event changes nothing');
  clock.now = 2000;
  const e = ev(CstaEventKind.Established, 'c1', 'B', { callingDevice: 'A', calledDevice: 'B', actingDevice: 'B', localState: ConnectionState.Connected });
  const ca = m.apply('A', e)!;
  m.apply('B', e);
  t.equal(ca.oldState, HookState.Ringback);
  t.equal(ca.newState, HookState.Talking);
  t.equal(ca.remote, 'B');
  t.equal(ca.direction, CallDirection.Outgoing);
  t.equal(ca.call!.answeredAt, 2000);
  t.equal(m.hookState('B'), HookState.Talking);
  t.equal(m.device('B')!.calls[0]!.direction, CallDirection.Incoming);
  t.equal(m.device('B')!.stateSince, 2000);
  const cl = ev(CstaEventKind.ConnectionCleared, 'c1', 'B', { actingDevice: 'B' });
  const a1 = m.apply('A', { ...cl, localState: ConnectionState.Connected })!;
  t.equal(a1.newState, HookState.OffHook, 'the far end hung up: A hears tone');
  m.apply('B', { ...cl, localState: ConnectionState.Null });
  m.apply('A', ev(CstaEventKind.ConnectionCleared, 'c1', 'A', { localState: ConnectionState.Null }));
  t.equal(m.hookState('A'), HookState.Idle);
  t.equal(m.hookState('B'), HookState.Idle);
  const last = changes.filter((c) => c.device === 'A').at(-1)!;
  t.equal(last.calls[0]!.ended, true);
  t.equal(last.calls[0]!.call.state, ConnectionState.Null);
  const versions = changes.filter((c) => c.device === 'A').map((c) => c.version);
  t.same(versions, [...versions].sort((x, y) => x - y), 'versions rise');
});

t.test('hold, retrieve, failed, queued, callCleared, network reached', async (t) => {
  const { m } = model(['A', 'B']);
  m.apply('A', ev(CstaEventKind.Originated, 'c1', 'A', { calledDevice: 'B', localState: ConnectionState.Connected }));
  m.apply('A', ev(CstaEventKind.Established, 'c1', 'B', { localState: ConnectionState.Connected }));
  m.apply('A', ev(CstaEventKind.Held, 'c1', 'A'));
  t.equal(m.hookState('A'), HookState.Held);
  m.apply('A', ev(CstaEventKind.Retrieved, 'c1', 'A'));
  t.equal(m.hookState('A'), HookState.Talking);
  m.apply('A', ev(CstaEventKind.Held, 'c1', 'B'));
  t.equal(m.device('A')!.calls[0]!.parties['B'], ConnectionState.Held);
  t.equal(m.hookState('A'), HookState.Talking, 'held by the far end is still a call');
  m.apply('A', ev(CstaEventKind.CallCleared, 'c1', 'A'));
  t.equal(m.hookState('A'), HookState.Idle);

  m.apply('A', ev(CstaEventKind.Originated, 'c2', 'A', { calledDevice: 'X', localState: ConnectionState.Connected }));
  m.apply('A', ev(CstaEventKind.Failed, 'c2', 'A', { cause: 'busy', localState: ConnectionState.Fail }));
  t.equal(m.device('A')!.calls[0]!.state, ConnectionState.Fail);
  t.equal(m.hookState('A'), HookState.OffHook);
  m.apply('A', ev(CstaEventKind.ConnectionCleared, 'c2', 'A'));

  m.apply('B', ev(CstaEventKind.Queued, 'c3', 'B', { callingDevice: 'Z' }));
  t.equal(m.hookState('B'), HookState.Ringing, 'queued at the device rings');
  m.apply('A', ev(CstaEventKind.Originated, 'c4', 'A', { calledDevice: '0049301234', localState: ConnectionState.Connected }));
  m.apply('A', ev(CstaEventKind.NetworkReached, 'c4', 'T1', { calledDevice: '0049301234', localState: ConnectionState.Connected }));
  t.equal(m.device('A')!.calls[0]!.remote, '0049301234');
  m.apply('A', ev(CstaEventKind.Failed, 'c4', 'T1', { localState: ConnectionState.Connected }));
  t.equal(m.device('A')!.calls[0]!.parties['T1'], ConnectionState.Fail);
  m.apply('A', ev(CstaEventKind.Retrieved, 'c4', 'T1', { localState: ConnectionState.Null }));
  t.equal(m.hookState('A'), HookState.Idle, 'localConnectionInfo null ends the call at the device');
});

t.test('a call first seen through another device event is created from localConnectionInfo', async (t) => {
  const { m } = model(['A']);
  t.equal(m.apply('A', ev(CstaEventKind.Established, 'c9', 'B', { localState: ConnectionState.Null })), undefined);
  m.apply('A', ev(CstaEventKind.Established, 'c9', 'B', { callingDevice: 'A', localState: ConnectionState.Connected }));
  t.equal(m.hookState('A'), HookState.Talking);
  t.equal(m.device('A')!.calls[0]!.direction, CallDirection.Outgoing);
});

t.test('diverted: the call leaves the diverting device; the caller sees the new destination', async (t) => {
  const { m } = model(['A', 'B']);
  m.apply('A', ev(CstaEventKind.Originated, 'c1', 'A', { calledDevice: 'B', localState: ConnectionState.Connected }));
  m.apply('A', ev(CstaEventKind.Delivered, 'c1', 'B', { localState: ConnectionState.Connected }));
  m.apply('B', ev(CstaEventKind.Delivered, 'c1', 'B', { callingDevice: 'A' }));
  const div = ev(CstaEventKind.Diverted, 'c1', 'B', { actingDevice: 'B', newDestination: 'C' });
  m.apply('B', { ...div, localState: ConnectionState.Null });
  m.apply('A', { ...div, localState: ConnectionState.Connected });
  t.equal(m.hookState('B'), HookState.Idle);
  t.equal(m.device('A')!.calls[0]!.remote, 'C');
  t.equal(m.hookState('A'), HookState.OffHook, 'until C is delivered');
});

t.test('conference: two calls fold into one with both parties', async (t) => {
  const { m } = model(['A', 'B']);
  m.apply('A', ev(CstaEventKind.Established, 'c1', 'B', { callingDevice: 'A', localState: ConnectionState.Connected }));
  m.apply('A', ev(CstaEventKind.Held, 'c1', 'A'));
  m.apply('A', ev(CstaEventKind.Established, 'c2', 'C', { callingDevice: 'A', localState: ConnectionState.Connected }));
  m.apply('B', ev(CstaEventKind.Established, 'c1', 'B', { callingDevice: 'A' }));
  const conf = ev(CstaEventKind.Conferenced, 'c1', 'A', { secondaryCallId: 'c2', actingDevice: 'A', newDestination: 'C', localState: ConnectionState.Connected });
  m.apply('A', conf);
  const calls = m.device('A')!.calls;
  t.equal(calls.length, 1);
  t.equal(calls[0]!.callId, 'c1');
  t.same(Object.keys(calls[0]!.parties).sort(), ['B', 'C']);
  t.equal(m.hookState('A'), HookState.Talking);
  m.apply('B', conf);
  t.same(Object.keys(m.device('B')!.calls[0]!.parties).sort(), ['A', 'C'], 'B learns the added party');
  m.apply(
    'B',
    ev(CstaEventKind.Conferenced, 'c1', 'A', {
      actingDevice: 'A',
      moved: [
        { deviceId: 'B', newCallId: 'c7', oldCallId: 'c1' },
        { deviceId: 'C', newCallId: 'c7' },
      ],
    }),
  );
  t.equal(m.device('B')!.calls[0]!.callId, 'c7', 'a conference with a new callID');
  t.equal(m.device('B')!.calls[0]!.replaces, 'c1');
});

t.test('transfer seen by the transferred party without oldConnection (OpenScape shape)', async (t) => {
  const { m } = model(['B']);
  m.apply('B', ev(CstaEventKind.Delivered, 'old', 'B', { callingDevice: 'A' }));
  m.apply('B', ev(CstaEventKind.Established, 'old', 'B', { callingDevice: 'A' }));
  m.apply(
    'B',
    ev(CstaEventKind.Transferred, 'old', 'A', {
      actingDevice: 'A',
      newDestination: 'C',
      moved: [
        { deviceId: 'C', newCallId: 'new' },
        { deviceId: 'B', newCallId: 'new' },
      ],
    }),
  );
  const c = m.device('B')!.calls;
  t.equal(c.length, 1);
  t.equal(c[0]!.callId, 'new');
  t.equal(c[0]!.remote, 'C');
  t.equal(c[0]!.direction, CallDirection.Incoming, 'direction carried over');
  const empty = model(['B']).m;
  empty.apply('B', ev(CstaEventKind.Established, 'x', 'B', { callingDevice: 'A' }));
  empty.apply('B', ev(CstaEventKind.Transferred, 'x', 'A', { actingDevice: 'A', newDestination: 'C' }));
  t.equal(empty.device('B')!.calls[0]!.callId, 'x', 'no moved list: same callID, new partner');
  t.equal(empty.device('B')!.calls[0]!.remote, 'C');
});

t.test('unknown until resync; features apply any time; resync learns peer states', async (t) => {
  const metrics = new MetricsRegistry();
  const m = new PbxModel({ devices: ['A', 'B'], metrics });
  t.equal(m.hookState('A'), HookState.Unknown);
  t.equal(m.apply('A', ev(CstaEventKind.Delivered, 'c1', 'A', { callingDevice: 'B' })), undefined, 'call events wait for the snapshot');
  t.equal(metrics.counter('switchhook_model_events_ignored_total', '').get({ reason: 'awaitingResync' }), 1);
  t.ok(m.apply('A', ev(CstaEventKind.DoNotDisturb, '', 'A', { doNotDisturb: true })));
  t.equal(m.apply('A', ev(CstaEventKind.DoNotDisturb, '', 'A', { doNotDisturb: true })), undefined, 'no change');
  m.apply('A', ev(CstaEventKind.Forwarding, '', 'A', { forwarding: { type: ForwardingType.Busy, on: true, to: 'C' } }));
  t.same(m.device('A')!.forwarding, [{ type: ForwardingType.Busy, on: true, to: 'C' }]);
  m.resync('A', [{ callId: 'c1', deviceId: 'A', state: ConnectionState.Connected }]);
  t.equal(m.hookState('A'), HookState.Talking, 'connected with unknown parties counts as talking');
  m.resync('B', [{ callId: 'c1', deviceId: 'B', state: ConnectionState.Alerting }]);
  t.equal(m.hookState('B'), HookState.Ringing);
  t.equal(m.hookState('A'), HookState.Ringback, 'A learns that B is still ringing');
  t.equal(m.device('A')!.calls[0]!.remote, 'B');
  t.equal(m.device('B')!.calls[0]!.parties['A'], ConnectionState.Connected);
  t.equal(m.apply('X', ev(CstaEventKind.Held, 'c1', 'X')), undefined);
  t.equal(metrics.counter('switchhook_model_events_ignored_total', '').get({ reason: 'unknownDevice' }), 1);
  t.equal(m.resync('X', []), undefined);
  m.linkLost();
  t.equal(m.hookState('A'), HookState.Unknown);
  t.same(m.device('A')!.calls, []);
  t.same(m.device('A')!.forwarding, [{ type: ForwardingType.Busy, on: true, to: 'C' }], 'features survive the link loss');
  m.resync('A', [
    { callId: 'c1', deviceId: 'A', state: ConnectionState.Held },
    { callId: 'other', deviceId: 'Z', state: ConnectionState.Connected },
  ]);
  t.equal(m.device('A')!.calls.length, 1);
  t.equal(m.device('A')!.calls[0]!.remote, 'B', 'the remote known before the loss is kept');
  t.equal(m.hookState('A'), HookState.Held);
  m.resync('A', []);
  t.equal(m.hookState('A'), HookState.Idle);
});

t.test('listeners: errors are counted and the listener stays; unsubscribe; devices list', async (t) => {
  const metrics = new MetricsRegistry();
  const m = new PbxModel({ devices: ['A'], metrics });
  let calls = 0;
  m.onChange(() => {
    calls++;
    throw new Error('boom');
  });
  const seen: string[] = [];
  const off = m.onChange((c) => seen.push(c.reason));
  m.resync('A', []);
  m.apply('A', ev(CstaEventKind.ServiceInitiated, 'c', 'A'));
  t.equal(calls, 2, 'the throwing listener is still called');
  t.equal(metrics.counter('switchhook_model_listener_errors_total', '').get(), 2);
  t.same(seen, ['resync', 'serviceInitiated'], 'the others still get every change');
  off();
  m.apply('A', ev(CstaEventKind.ConnectionCleared, 'c', 'A'));
  t.equal(seen.length, 2);
  m.addDevice('B');
  t.same(m.deviceIds(), ['A', 'B']);
  t.ok(m.has('B'));
  t.same(m.callsOf('A'), []);
  t.same(m.callsOf('Q'), []);
  t.equal(m.devices().length, 2);
  t.same(JSON.parse(JSON.stringify(m.devices())), m.devices(), 'snapshots are plain JSON');
  t.ok(m.removeDevice('B'));
  t.equal(m.hookState('B'), undefined);
});
