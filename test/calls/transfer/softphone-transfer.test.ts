import t, { type Test } from 'tap';

import { TransferError, TransferPhase } from '../../../src/calls/transfer/index.js';
import { PdsvLampState } from '../../../src/native/pdsv.js';
import { JsonHttpServer } from '../../../src/util/http.js';
import { until } from '../../helpers/rtp.js';
import { startTransferRig, type TransferRig } from '../../helpers/transfer-rig.js';

/** Nothing outlives the call: no legs on either engine, no dialogs, no gateway sessions. */
async function assertClean(t: Test, rig: TransferRig): Promise<void> {
  await until(() => rig.daemonEngine.legCount === 0 && rig.gateway.sessionCount() === 0 && rig.daemonStack.ua.dialogs.size === 0 &&
    rig.gatewayStack.ua.dialogs.size === 0, 10_000, 'media legs and dialogs released');
  t.equal(rig.transfer.activeSessions, 0, 'no bridged session left');
  t.equal(rig.daemonEngine.legCount, 0, 'no daemon RTP leg left');
}

/** Starts a trunk call to 2000 and waits until the digital phone talks to the far end. */
async function callDesk(rig: TransferRig) {
  const phone = rig.phones.get('2000')!;
  const { callId, far } = await rig.gateway.externalCall('5550100', '2000');
  await phone.waitFor((s) => s.log.includes('ringer:on') && s.display === 'Connected 5550100', 'ringing, then answered');
  await far.waitReceived(10);
  await phone.waitFor((s) => s.voiceReceived >= 10, 'voice on the desk phone');
  return { callId, far, phone };
}

t.test('desk phone -> softphone -> desk, three times in one call, with continuous RTP towards the far end', async (t) => {
  const rig = await startTransferRig();
  t.teardown(() => rig.close());
  const { far, phone } = await callDesk(rig);
  t.same(phone.state().log.slice(0, 3), ['ringer:on', 'lamp:1:flash', 'display:Call from 5550100'], 'PDSV ringer, lamp and display');
  const sp = rig.softphones.get('2000')!;
  for (let round = 0; round < 3; round++) {
    const view = await rig.transfer.toSoftphone('2000');
    t.equal(view.phase, TransferPhase.OnSoftphone);
    t.ok(view.voipCallId, 'the VoIP call has its callID from the TransferedEvent');
    const stream = sp.current!;
    await stream.waitReceived(10);
    const farBefore = far.stats().received;
    await until(() => far.stats().received > farBefore + 10, 10_000, 'far end hears the softphone');
    t.equal(phone.state().lamps[1], PdsvLampState.Off, 'desk lamp off while on the softphone');
    const deskBefore = phone.state().voiceReceived;
    await rig.transfer.toDesk('2000');
    await phone.waitFor((s) => s.voiceReceived > deskBefore + 10, 'voice back on the desk phone');
    t.equal(phone.state().lamps[1], PdsvLampState.On, 'desk lamp on again');
    t.equal(rig.daemonEngine.legCount, 0, 'VoIP legs released once the desk phone has the call');
  }
  const s = far.stats();
  t.equal(s.ssrcs.length, 1, 'the far end saw one SSRC');
  t.equal(s.reordered, 0, 'no sequence number went backwards');
  t.ok(s.gaps <= 2, `no sequence gaps beyond loopback loss (${s.gaps})`);
  t.equal(sp.streams.length, 3, 'three softphone calls');
  for (const st of sp.streams) t.equal(st.stats().ssrcs.length, 1, 'each softphone call: one SSRC');
  phone.onHook();
  await assertClean(t, rig);
});

t.test('softphone does not answer: the call goes back to the desk phone', async (t) => {
  const rig = await startTransferRig({ transfer: { softphoneAnswerMs: 800 } });
  t.teardown(() => rig.close());
  const { far, phone } = await callDesk(rig);
  rig.softphones.get('2000')!.mode = 'ignore';
  await t.rejects(rig.transfer.toSoftphone('2000'), { code: 'TRANSFER_ERR_NO_ANSWER' });
  await phone.waitFor((s) => s.lamps[1] === PdsvLampState.On && s.offHook, 'desk phone has the call again');
  const before = far.stats().received;
  await until(() => far.stats().received > before + 10, 10_000, 'far end hears the desk phone');
  t.equal(rig.transfer.list()[0]!.phase, TransferPhase.OnDesk);
  t.equal(far.stats().ssrcs.length, 1);
  phone.onHook();
  await assertClean(t, rig);
});

t.test('gateway INVITE fails: the CTI transfer is undone', async (t) => {
  const rig = await startTransferRig({ transfer: { gatewayInviteMs: 1000 } });
  t.teardown(() => rig.close());
  const { far, phone } = await callDesk(rig);
  // The PBX's route now points at a URI nobody serves: the daemon answers 404 to the gateway.
  rig.gateway.setRoute('u2000', `sip:nobody@127.0.0.1:${rig.daemonStack.localAddress('udp')!.port}`);
  await t.rejects(rig.transfer.toSoftphone('2000'), { code: 'TRANSFER_ERR_GATEWAY' });
  await phone.waitFor((s) => s.lamps[1] === PdsvLampState.On && s.offHook, 'desk phone has the call again');
  const before = far.stats().received;
  await until(() => far.stats().received > before + 10, 10_000, 'far end hears the desk phone');
  phone.onHook();
  await assertClean(t, rig);
});

t.test('refusals: unknown desk phone, no call, softphone not registered, wrong state', async (t) => {
  const rig = await startTransferRig();
  t.teardown(() => rig.close());
  await t.rejects(rig.transfer.toSoftphone('9999'), { code: 'TRANSFER_ERR_USER' });
  await t.rejects(rig.transfer.toSoftphone('2000'), { code: 'TRANSFER_ERR_NO_CALL' });
  await t.rejects(rig.transfer.toDesk('2000'), { code: 'TRANSFER_ERR_STATE' });
  const err = await rig.transfer.toSoftphone('2000').catch((e: unknown) => e);
  t.ok(err instanceof TransferError);
  t.equal((err as TransferError).httpStatus, 409);
  await rig.softphones.get('2001')!.stack.request({
    method: 'REGISTER',
    uri: `sip:127.0.0.1:${rig.daemonStack.localAddress('udp')!.port}`,
    from: '<sip:u2001@127.0.0.1>',
    to: '<sip:u2001@127.0.0.1>',
    headers: { Expires: '0' },
  });
  await t.rejects(rig.transfer.toSoftphone('2001'), { code: 'TRANSFER_ERR_NOT_REGISTERED' });
  // An INVITE to a computer interface with an SDP we cannot bridge is refused with 488; the unregistered one with 480.
  const daemon = `127.0.0.1:${rig.daemonStack.localAddress('udp')!.port}`;
  const bad = await rig.gatewayStack.request({ method: 'INVITE', uri: `sip:u2000@${daemon}`, body: Buffer.from('v=0\r\nm=video 9 RTP/AVP 96\r\n'), contentType: 'application/sdp' });
  t.equal(bad.response.status, 488);
  const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40998 RTP/AVP 0\r\n';
  const unregistered = await rig.gatewayStack.request({ method: 'INVITE', uri: `sip:u2001@${daemon}`, body: Buffer.from(sdp), contentType: 'application/sdp' });
  t.equal(unregistered.response.status, 480);
  await assertClean(t, rig);
});

t.test('the softphone hangs up: the PBX call ends and nothing is left', async (t) => {
  const rig = await startTransferRig();
  t.teardown(() => rig.close());
  const { far } = await callDesk(rig);
  await rig.transfer.toSoftphone('2000');
  const sp = rig.softphones.get('2000')!;
  await sp.current!.waitReceived(5);
  const [dialog] = [...sp.stack.ua.dialogs.values()];
  await sp.stack.bye(dialog!);
  await until(() => rig.cti.sim.core.calls().length === 0, 10_000, 'call cleared in the PBX');
  t.equal(far.stats().ssrcs.length, 1);
  await assertClean(t, rig);
});

t.test('admin routes: list, move to the softphone and back, problem details on refusal', async (t) => {
  const rig = await startTransferRig({ extensions: ['2000'] });
  t.teardown(() => rig.close());
  const http = new JsonHttpServer('admin');
  rig.transfer.registerRoutes(http);
  const addr = await http.listen('127.0.0.1', 0);
  t.teardown(() => http.close());
  const base = `http://127.0.0.1:${addr.port}`;
  const list = (await (await fetch(`${base}/api/transfers`)).json()) as Array<{ device: string; phase: string }>;
  t.same(list.map((v) => [v.device, v.phase]), [['2000', 'onDesk']]);
  const refused = await fetch(`${base}/api/transfers/2000/softphone`, { method: 'POST' });
  t.equal(refused.status, 409, 'no call: 409');
  t.match(await refused.json(), { code: 'TRANSFER_ERR_NO_CALL' });
  const { phone } = await callDesk(rig);
  const moved = await fetch(`${base}/api/transfers/2000/softphone`, { method: 'POST' });
  t.equal(moved.status, 200);
  t.match(await moved.json(), { phase: 'onSoftphone', legs: { gateway: Number, softphone: Number } });
  const back = await fetch(`${base}/api/transfers/2000/desk`, { method: 'POST' });
  t.equal(back.status, 200);
  t.match(await back.json(), { phase: 'onDesk' });
  phone.onHook();
  await assertClean(t, rig);
});
