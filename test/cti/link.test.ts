import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

import { encodeCstaFrame } from '../../src/native/csta.js';
import { BringUpVariant, CtiError, CtiErrorCode, CtiLink, ForwardingType, HeartbeatKind, LinkState, maxClientInvokeId } from '../../src/cti/index.js';
import { HookState, PbxModel, bindLinkToModel } from '../../src/model/index.js';
import { PbxSimulator, SimBringUp } from '../../src/sim/index.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { linkState, startRig, until } from '../helpers/cti.js';

async function waitFor(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('SystemRegister bring-up tells the switch our address; the switch SystemStatus is answered', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const [client] = rig.sim.csta.clients();
  t.equal(client!.registeredAddress, 'sip:switchhook@127.0.0.1:5060', 'claim 9: the switch knows our address');
  t.equal(client!.applicationId, 'switchhook');
  t.equal(rig.link.systemRegisterId, client!.sysStatRegisterId);
  await waitFor(() => rig.sim.csta.clients()[0]!.systemStatusAnswered >= 1, 'SystemStatus answered');
  const statuses: string[] = [];
  rig.link.on('systemStatus', (s) => statuses.push(s));
  rig.sim.csta.sendSystemStatus('disabled');
  await waitFor(() => rig.sim.csta.clients()[0]!.systemStatusAnswered >= 2, 'second SystemStatus answered');
  t.same(statuses, ['disabled']);
});

t.test('ECMA-354 application session: registration in applicationSpecificInfo, kept alive past its duration', async (t) => {
  const metrics = new MetricsRegistry();
  const rig = await startRig({
    sim: { bringUp: SimBringUp.ApplicationSession, maxSessionSeconds: 2, metrics },
    link: { bringUp: BringUpVariant.ApplicationSession, sessionSeconds: 2, registration: { address: 'sips:10.1.2.3:5061', applicationId: 'site-a' } },
  });
  t.teardown(() => rig.close());
  const [client] = rig.sim.csta.clients();
  t.equal(client!.registeredAddress, 'sips:10.1.2.3:5061');
  t.equal(client!.applicationId, 'site-a');
  t.equal(rig.link.applicationSessionId, client!.sessionId);
  const resets = metrics.counter('switchhook_sim_requests_total', '');
  await waitFor(() => resets.get({ service: 'ResetApplicationSessionTimer' }) >= 3, 'three keep-alives', 20_000);
  t.equal(rig.link.state, LinkState.Up);
  t.equal(rig.link.stats.connects, 1, 'the session never expired');
  t.equal(rig.sim.csta.clients()[0]!.sessionId, client!.sessionId);
});

t.test('a switch that insists on an application session refuses MonitorStart after SystemRegister', async (t) => {
  const rig = await startRig({ sim: { bringUp: SimBringUp.ApplicationSession }, link: { bringUp: BringUpVariant.ApplicationSession } });
  t.teardown(() => rig.close());
  const link = new CtiLink({ host: '127.0.0.1', port: rig.sim.address.csta.port, devices: ['2000'], bringUp: BringUpVariant.SystemRegister, heartbeatIntervalMs: 0 });
  const failed = once(link, 'deviceFailed');
  link.start();
  const [device, err] = (await failed) as [string, CtiError];
  t.equal(device, '2000');
  t.equal(err.code, CtiErrorCode.CstaSecurity);
  await linkState(link, LinkState.Up);
  await link.stop();
});

t.test('heartbeats go out; an unanswered heartbeat takes the link down and it comes back', async (t) => {
  const metrics = new MetricsRegistry();
  const rig = await startRig({ sim: { metrics }, link: { heartbeatIntervalMs: 100, requestTimeoutMs: 1000, heartbeat: HeartbeatKind.SystemStatus } });
  t.teardown(() => rig.close());
  const requests = metrics.counter('switchhook_sim_requests_total', '');
  await waitFor(() => requests.get({ service: 'SystemStatus' }) >= 2, 'heartbeats');
  const down = once(rig.link, 'down');
  rig.sim.csta.setResponding(false);
  const [info] = (await down) as [{ reason: CtiError }];
  t.equal(info.reason.code, CtiErrorCode.HeartbeatLost);
  await until(rig.model, () => rig.model.hookState('2000') === HookState.Unknown, 'devices unknown');
  rig.sim.csta.setResponding(true);
  await linkState(rig.link, LinkState.Up);
  await until(rig.model, () => rig.model.hookState('2000') === HookState.Idle, 'devices resynced');
});

t.test('link dropped mid-call: devices go unknown, then back to the right state from SnapshotDevice', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const { sim, link, model } = rig;
  sim.core.dial('2000', '2001');
  sim.core.answer('2001');
  sim.core.dial('2003', '2002');
  await until(model, () => model.hookState('2000') === HookState.Talking && model.hookState('2002') === HookState.Ringing, 'calls up');
  const talking = model.device('2000')!.calls[0]!;

  const down = once(link, 'down');
  t.equal(sim.csta.dropLinks(), 1);
  await down;
  for (const d of ['2000', '2001', '2002', '2003']) t.equal(model.hookState(d), HookState.Unknown, `${d} unknown while the link is down`);
  t.same(model.device('2000')!.calls, [], 'no stale calls');

  // While the link is down 2002 answers: the snapshot must show it.
  sim.core.answer('2002');
  await linkState(link, LinkState.Up);
  await until(
    model,
    () => ['2000', '2001', '2002', '2003'].every((d) => model.hookState(d) === HookState.Talking),
    'all four talking again',
  );
  const after = model.device('2000')!.calls[0]!;
  t.equal(after.callId, talking.callId);
  t.equal(after.remote, '2001', 'direction and remote kept across the resync');
  t.equal(after.direction, talking.direction);
  t.ok(rig.changes.some((c) => c.device === '2000' && c.reason === 'linkLost' && c.newState === HookState.Unknown));
  t.ok(rig.changes.some((c) => c.device === '2000' && c.reason === 'resync' && c.oldState === HookState.Unknown));

  // Events after the resync apply as usual.
  sim.core.onHook('2001');
  await until(model, () => model.hookState('2000') === HookState.Idle && model.hookState('2001') === HookState.Idle, 'hang up after resync');
});

t.test('a request in flight when the link drops fails with CTI_ERR_LINK_LOST and is never resent', async (t) => {
  const metrics = new MetricsRegistry();
  const rig = await startRig({ sim: { metrics } });
  t.teardown(() => rig.close());
  const { sim, link } = rig;
  sim.csta.setResponding(false);
  const pending = link.makeCall('2000', '2001');
  const requests = metrics.counter('switchhook_sim_requests_total', '');
  await waitFor(() => requests.get({ service: 'MakeCall' }) === 1, 'MakeCall reached the switch');
  sim.csta.setResponding(true);
  sim.csta.dropLinks();
  const err = (await pending.catch((e: unknown) => e)) as CtiError;
  t.equal(err.code, CtiErrorCode.LinkLost);
  t.equal(err.outcomeUnknown, true);
  t.equal(err.service, 'MakeCall');
  await linkState(link, LinkState.Up);
  t.equal(await link.requestSystemStatus(), 'normal');
  t.equal(requests.get({ service: 'MakeCall' }), 1, 'MakeCall was not replayed');
  t.same(sim.core.calls(), [], 'and no call was made');
  t.equal(link.inFlight, 0);
});

t.test('requests time out with CTI_ERR_TIMEOUT; requests while down fail with CTI_ERR_LINK_DOWN', async (t) => {
  const rig = await startRig({ link: { requestTimeoutMs: 300 } });
  t.teardown(() => rig.close());
  const { sim, link } = rig;
  sim.csta.setResponding(false);
  const err = (await link.holdCall({ callId: 'X', deviceId: '2000' }).catch((e: unknown) => e)) as CtiError;
  t.equal(err.code, CtiErrorCode.Timeout);
  t.equal(err.outcomeUnknown, true);
  t.equal(link.inFlight, 1, 'the timed-out invokeID stays reserved');
  sim.csta.setResponding(true);
  const idle = new CtiLink({ host: '127.0.0.1', port: 1, devices: [] });
  await t.rejects(idle.makeCall('2000', '2001'), { code: CtiErrorCode.LinkDown });
  await idle.stop();
  t.equal(idle.state, LinkState.Stopped);
});

t.test('invokeIDs wrap from 8999 to 0 across more than 9000 requests', async (t) => {
  const rig = await startRig({ devices: [] });
  t.teardown(() => rig.close());
  const { link } = rig;
  const seen = new Set<number>();
  let wrapped = false;
  let last = -1;
  link.on('message', (m) => {
    if (m.root !== 'RequestSystemStatusResponse') return;
    if (m.invokeId < last) wrapped = true;
    last = m.invokeId;
    seen.add(m.invokeId);
  });
  const total = maxClientInvokeId + 1 + 200;
  for (let done = 0; done < total; done += 500) {
    const batch = await Promise.all(Array.from({ length: Math.min(500, total - done) }, () => link.requestSystemStatus()));
    t.ok(batch.every((s) => s === 'normal'));
  }
  t.ok(wrapped, 'the IDs wrapped');
  t.ok(seen.has(maxClientInvokeId) && seen.has(0), '8999 and 0 both used');
  t.notOk([...seen].some((id) => id > maxClientInvokeId), 'never above 8999');
  t.equal(link.inFlight, 0);
});

t.test('CSTAErrorCode from the switch becomes a typed CtiError', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const { link } = rig;
  const unknownDevice = (await link.makeCall('9999', '2001').catch((e: unknown) => e)) as CtiError;
  t.equal(unknownDevice.code, CtiErrorCode.CstaOperation);
  t.equal(unknownDevice.category, 'operation');
  t.equal(unknownDevice.value, 'invalidDeviceID');
  t.equal(unknownDevice.outcomeUnknown, false);
  const badCall = (await link.answerCall({ callId: 'nope', deviceId: '2000' }).catch((e: unknown) => e)) as CtiError;
  t.equal(badCall.code, CtiErrorCode.CstaOperation);
  t.equal(badCall.value, 'invalidConnectionID');
  const c = await link.makeCall('2000', '2001');
  const wrongState = (await link.answerCall({ callId: c.callId, deviceId: '2000' }).catch((e: unknown) => e)) as CtiError;
  t.equal(wrongState.code, CtiErrorCode.CstaState);
  t.equal(wrongState.category, 'stateIncompatibility');
  t.equal(wrongState.value, 'noCallToAnswer');
  const unsupported = (await link.request('GetDoNotDisturb', '<GetDoNotDisturb><device>2000</device></GetDoNotDisturb>', ['GetDoNotDisturbResponse']).catch((e: unknown) => e)) as CtiError;
  t.equal(unsupported.code, CtiErrorCode.CstaOperation);
  t.equal(unsupported.value, 'serviceNotSupported');
  const unexpected = (await link.request('RequestSystemStatus', '<RequestSystemStatus/>', ['SomethingElse']).catch((e: unknown) => e)) as CtiError;
  t.equal(unexpected.code, CtiErrorCode.UnexpectedResponse);
});

t.test('bad frames from the switch are counted; an unrecoverable stream closes the link with a reason', async (t) => {
  const metrics = new MetricsRegistry();
  const rig = await startRig({ link: { metrics, maxConsecutiveBadFrames: 4 } });
  t.teardown(() => rig.close());
  const { sim, link } = rig;
  // A well-framed document that is not XML: dropped and counted, the link stays up.
  sim.csta.injectRaw(encodeCstaFrame(9999, '<DeliveredEvent><monitorCrossRefID>1</monitorCrossRefID'));
  await waitFor(() => link.stats.badFrames === 1, 'bad frame counted');
  t.equal(link.state, LinkState.Up);
  t.equal(await link.requestSystemStatus(), 'normal', 'the stream is still in sync');
  t.equal(metrics.counter('switchhook_cti_bad_frames_total', '').get({ code: 'CTI_ERR_XML' }), 1);
  // An event for a monitor we never started: counted and dropped.
  sim.csta.injectRaw(encodeCstaFrame(9999, '<HeldEvent><monitorCrossRefID>nope</monitorCrossRefID><heldConnection><callID>1</callID><deviceID>2000</deviceID></heldConnection></HeldEvent>'));
  await waitFor(() => link.stats.eventsDropped === 1, 'event dropped');
  // Garbage: more consecutive bad frames than allowed, the link closes with CTI_ERR_BAD_FRAME.
  const down = once(link, 'down');
  const junk = encodeCstaFrame(9999, '<a><b></a>');
  sim.csta.injectRaw(Buffer.concat([junk, junk, junk, junk, junk]));
  const [info] = (await down) as [{ reason: CtiError }];
  t.equal(info.reason.code, CtiErrorCode.BadFrame);
  t.match(info.reason.message, /consecutive bad frames/);
  await linkState(link, LinkState.Up);
});

t.test('a stream that never resynchronises is fatal', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const down = once(rig.link, 'down');
  rig.sim.csta.injectRaw(Buffer.alloc(300_000, 0x41));
  const [info] = (await down) as [{ reason: CtiError }];
  t.equal(info.reason.code, CtiErrorCode.BadFrame);
  t.match(info.reason.message, /unrecoverable/);
  t.equal((info.reason.cause as { code: string }).code, 'CTI_ERR_RESYNC');
});

t.test('reconnect backoff is bounded and jittered; stop() ends the retries', async (t) => {
  const delays: number[] = [];
  const link = new CtiLink({
    host: '127.0.0.1',
    port: 1,
    devices: ['2000'],
    heartbeatIntervalMs: 0,
    backoff: { initialMs: 10, maxMs: 40, factor: 2, jitter: 0.5 },
    random: () => 1,
  });
  link.on('down', (i) => delays.push(i.retryInMs!));
  link.start();
  t.throws(() => link.start(), /already/);
  await waitFor(() => delays.length >= 5, 'five attempts');
  await link.stop();
  t.same(delays.slice(0, 5), [5, 10, 20, 20, 20], 'halved by the jitter, capped at maxMs');
  t.equal(link.state, LinkState.Stopped);
});

t.test('stop() leaves no connection behind at the switch', async (t) => {
  const rig = await startRig({ link: { heartbeatIntervalMs: 1000 } });
  await rig.link.stop();
  await waitFor(() => rig.sim.csta.clients().length === 0, 'switch sees the close');
  t.equal(rig.link.inFlight, 0);
  await t.rejects(rig.link.requestSystemStatus(), { code: CtiErrorCode.LinkDown });
  await rig.sim.stop();
});

t.test('CSTA over TLS', async (t) => {
  const dir = t.testdir({});
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const pem = readFileSync(cert);
  const rig = await startRig({ sim: { tls: { key: readFileSync(key), cert: pem } }, link: { tls: { ca: pem } } });
  t.teardown(() => rig.close());
  const c = await rig.link.makeCall('2000', '2001');
  await until(rig.model, () => rig.model.hookState('2001') === HookState.Ringing, 'ringing over TLS');
  t.equal(rig.model.device('2001')!.calls[0]!.callId, c.callId);
  const down = once(rig.link, 'down');
  rig.sim.csta.dropLinks();
  await down;
  await linkState(rig.link, LinkState.Up);
  await until(rig.model, () => rig.model.hookState('2001') === HookState.Ringing, 'resynced over TLS');
});

t.test('a certificate the link does not trust keeps it down', async (t) => {
  const dir = t.testdir({});
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const sim = new PbxSimulator();
  const addr = await sim.start({ cstaPort: 0, extensions: ['1'], tls: { key: readFileSync(key), cert: readFileSync(cert) } });
  const link = new CtiLink({ host: '127.0.0.1', port: addr.csta.port, devices: ['1'], tls: true, heartbeatIntervalMs: 0, backoff: { initialMs: 10_000 } });
  const down = once(link, 'down');
  link.start();
  const [info] = (await down) as [{ reason: CtiError }];
  t.equal(info.reason.code, CtiErrorCode.Socket);
  await link.stop();
  await sim.stop();
});

t.test('nothing is left behind: sockets, servers and timers all closed', async (t) => {
  const count = (): Record<string, number> => {
    const c: Record<string, number> = {};
    for (const r of process.getActiveResourcesInfo()) if (r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout') c[r] = (c[r] ?? 0) + 1;
    return c;
  };
  const before = count();
  const rig = await startRig({ sim: { controlPort: 0, systemStatusIntervalMs: 1000, noAnswerMs: 60_000 }, link: { heartbeatIntervalMs: 1000 } });
  await rig.link.setForwarding('2001', ForwardingType.NoAnswer, true, '2002');
  await rig.link.makeCall('2000', '2001');
  await until(rig.model, () => rig.model.hookState('2001') === HookState.Ringing, 'ringing with a no-answer timer running');
  t.ok((count()['TCPSocketWrap'] ?? 0) > (before['TCPSocketWrap'] ?? 0));
  await rig.close();
  await waitFor(() => JSON.stringify(count()) === JSON.stringify(before), 'resources back to the baseline', 5000).catch(() => undefined);
  t.same(count(), before);
});

t.test('an event listener that throws does not break the link', async (t) => {
  const metrics = new MetricsRegistry();
  const rig = await startRig({ link: { metrics } });
  t.teardown(() => rig.close());
  let thrown = 0;
  rig.link.prependListener('event', () => {
    if (thrown++ === 0) throw new Error('subscriber bug');
  });
  rig.sim.core.dial('2000', '2001');
  await until(rig.model, () => rig.model.hookState('2001') === HookState.Ringing, 'later events still flow');
  t.equal(metrics.counter('switchhook_cti_events_dropped_total', '').get({ reason: 'listenerError', root: 'ServiceInitiatedEvent' }), 1);
  t.equal(rig.link.state, LinkState.Up);
});

t.test('SystemStatus messagesLost makes the link re-read every device', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const resyncs: string[] = [];
  rig.model.onChange((c) => c.reason === 'resync' && resyncs.push(c.device));
  rig.sim.csta.sendSystemStatus('messagesLost');
  await waitFor(() => resyncs.length === 4, 'four resyncs');
  t.same(resyncs.sort(), ['2000', '2001', '2002', '2003']);
});

for (const variant of [BringUpVariant.SystemRegister, BringUpVariant.ApplicationSession]) {
  t.test(`a switch at its application limit refuses the ${variant} bring-up; the link retries until a place frees`, async (t) => {
    const metrics = new MetricsRegistry();
    const rig = await startRig({ sim: { maxApplications: 1, metrics }, link: { bringUp: variant } });
    t.teardown(() => rig.close());
    const second = new CtiLink({ host: '127.0.0.1', port: rig.sim.address.csta.port, devices: ['2000'], bringUp: variant, heartbeatIntervalMs: 0, backoff: { initialMs: 20, maxMs: 100 } });
    const down = once(second, 'down');
    second.start();
    const [info] = (await down) as [{ reason: CtiError }];
    t.equal(info.reason.code, variant === BringUpVariant.SystemRegister ? CtiErrorCode.CstaSystemResource : CtiErrorCode.BringUpRefused);
    await rig.link.stop();
    const requests = metrics.counter('switchhook_sim_requests_total', '');
    t.equal(requests.get({ service: variant === BringUpVariant.SystemRegister ? 'SystemRegisterCancel' : 'StopApplicationSession' }), 1, 'the first link ended politely');
    await linkState(second, LinkState.Up);
    await second.stop();
  });
}

/** Makes the simulated switch run `change` once, right after it takes `device`'s next snapshot. */
function changeAfterSnapshot(sim: PbxSimulator, device: string, change: () => void): () => boolean {
  const snapshot = sim.core.snapshot.bind(sim.core);
  let done = false;
  sim.core.snapshot = (d) => {
    const calls = snapshot(d);
    if (d === device && !done) {
      done = true;
      sim.core.snapshot = snapshot;
      change();
    }
    return calls;
  };
  return () => done;
}

t.test('an event the switch sends right after a SnapshotDevice response is applied on top of that snapshot', async (t) => {
  const sim = new PbxSimulator();
  const addr = await sim.start({ cstaPort: 0, extensions: ['2000', '2001'], systemStatusIntervalMs: 0 });
  t.teardown(() => sim.stop());
  // The switch takes 2000's snapshot (idle), then 2000 goes off hook: its event follows the response in the
  // same TCP write, while the link is still waiting for 2001's snapshot.
  const offHook = changeAfterSnapshot(sim, '2000', () => sim.core.offHook('2000'));
  const link = new CtiLink({ host: '127.0.0.1', port: addr.csta.port, devices: ['2000', '2001'], heartbeatIntervalMs: 0 });
  const model = new PbxModel();
  bindLinkToModel(link, model);
  const order: string[] = [];
  link.on('snapshot', (d) => order.push(`snapshot ${d}`));
  link.on('event', (d, ev) => order.push(`${ev.kind} ${d}`));
  const up = once(link, 'up');
  link.start();
  t.teardown(() => link.stop());
  await up;
  t.ok(offHook(), 'the switch went off hook right after the snapshot');
  t.equal(model.hookState('2000'), HookState.OffHook, 'the off-hook event was not overwritten by the older snapshot');
  t.ok(order.indexOf('snapshot 2000') < order.indexOf('serviceInitiated 2000'), `snapshot first, then the event: ${order.join(', ')}`);

  // The same holds for a resync after messagesLost: the snapshot shows the call, the cleared event follows it.
  changeAfterSnapshot(sim, '2000', () => sim.core.onHook('2000'));
  order.length = 0;
  sim.csta.sendSystemStatus('messagesLost');
  await waitFor(() => order.includes('snapshot 2000') && order.includes('connectionCleared 2000'), 'the resync and the cleared event');
  t.ok(order.indexOf('snapshot 2000') < order.indexOf('connectionCleared 2000'), `snapshot first, then the event: ${order.join(', ')}`);
  t.equal(model.hookState('2000'), HookState.Idle, 'the resync did not bring back the cleared call');
});
