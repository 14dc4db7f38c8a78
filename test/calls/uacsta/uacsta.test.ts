import t from 'tap';

import { ReferTransfers, UaCstaServer } from '../../../src/calls/uacsta/index.js';
import { HookState } from '../../../src/model/index.js';
import { scanCstaXml } from '../../../src/native/csta.js';
import type { SipRequest } from '../../../src/sip/message/index.js';
import { Notifier } from '../../../src/sip/subscription/notifier.js';
import { ClientSubscriptionState, Subscriber } from '../../../src/sip/subscription/subscriber.js';
import { SipStack } from '../../../src/sip/ua/stack.js';
import { startControlRig, until } from '../control/helpers.js';

const ns = 'http://www.ecma-international.org/standards/ecma-323/csta/ed3';
const csta = { contentType: 'application/csta+xml', headers: { 'Content-Disposition': 'signal;handling=required' } };
const line = (ext: string) =>
  `<RequestSystemStatus xmlns="${ns}"><extensions><privateData><private><lcs:line xmlns:lcs="http://schemas.microsoft.com/Lcs/2005/04/RCCExtension">tel:${ext};phone-context=dialstring</lcs:line></private></privateData></extensions></RequestSystemStatus>`;

async function setup(t: { teardown(fn: () => unknown): void }) {
  const rig = await startControlRig();
  const daemon = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  const [bound] = await daemon.start();
  const uacsta = new UaCstaServer({ ua: daemon.ua, control: rig.control, model: rig.model });
  const refers = new ReferTransfers({ ua: daemon.ua, notifier: new Notifier(daemon.ua), control: rig.control, model: rig.model, uacsta });
  const client = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: 'alice' });
  await client.start();
  const events: string[] = [];
  client.use('INFO', (req, res) => {
    events.push(scanCstaXml(req.body).root);
    res.send(200);
  });
  t.teardown(async () => {
    await uacsta.close();
    await client.close();
    await daemon.close();
    await rig.close();
  });
  const uri = `sip:2000@127.0.0.1:${bound!.port}`;
  return { rig, daemon, uacsta, refers, client, events, uri, port: bound!.port };
}

t.test('uaCSTA: INVITE with RequestSystemStatus, INFO requests answered in the 200 body, events in INFO', async (t) => {
  const { rig, uacsta, client, events, uri, daemon } = await setup(t);
  const { sim, model } = rig;
  const inv = await client.request({ method: 'INVITE', uri, from: '<sip:alice@example.com>', to: `<${uri}>`, body: line('2000'), ...csta });
  t.equal(inv.response.status, 200);
  t.match(inv.response.body.toString(), /<RequestSystemStatusResponse xmlns="[^"]*ed3"><systemStatus>normal<\/systemStatus>/);
  t.match(inv.response.header('content-type'), /application\/csta\+xml/);
  const dialog = inv.dialog!;
  t.equal(uacsta.size, 1);
  const info = async (xml: string) => {
    const r = await client.request({ method: 'INFO', dialog, body: xml, ...csta });
    return { status: r.response.status, body: r.response.body.toString(), root: r.response.body.length ? scanCstaXml(r.response.body) : undefined };
  };
  t.match((await info(`<GetCSTAFeatures xmlns="${ns}"/>`)).body, /<makeCall>true<\/makeCall>/);
  const mon = await info(`<MonitorStart xmlns="${ns}"><monitorObject><deviceObject>tel:2000;phone-context=dialstring</deviceObject></monitorObject></MonitorStart>`);
  t.equal(mon.root?.root, 'MonitorStartResponse');
  const xref = mon.root!.monitorCrossRefId;
  t.ok(xref);
  t.equal((await info(`<MonitorStart xmlns="${ns}"><monitorObject><deviceObject>2001</deviceObject></monitorObject></MonitorStart>`)).status, 403, "bob's phone");
  t.equal((await info(`<MonitorStart xmlns="${ns}"><monitorObject><deviceObject>4711</deviceObject></monitorObject></MonitorStart>`)).status, 404);
  t.equal((await info('<MakeCall><callingDevice>2000')).status, 400, 'bad XML');

  const mc = await info(`<MakeCall xmlns="${ns}"><callingDevice>tel:2000;phone-context=dialstring</callingDevice><calledDirectoryNumber>tel:2001</calledDirectoryNumber><autoOriginate>doNotPrompt</autoOriginate></MakeCall>`);
  t.equal(mc.root?.root, 'MakeCallResponse');
  const callId = mc.root!.connections.find((c) => c.role === 'callingDevice')!.callId;
  t.ok(callId);
  await until(model, () => model.hookState('2001') === HookState.Ringing, '2001 ringing');
  sim.core.offHook('2001');
  await until(model, () => model.hookState('2000') === HookState.Talking, 'talking');
  const hold = await info(`<HoldCall xmlns="${ns}"><callToBeHeld><callID>${callId}</callID><deviceID>2000</deviceID></callToBeHeld></HoldCall>`);
  t.equal(hold.root?.root, 'HoldCallResponse');
  await until(model, () => model.hookState('2000') === HookState.Held, 'held');
  const bad = await info(`<HoldCall xmlns="${ns}"><callToBeHeld><callID>${callId}</callID><deviceID>2000</deviceID></callToBeHeld></HoldCall>`);
  t.equal(bad.status, 200);
  t.equal(bad.root?.root, 'CSTAErrorCode', 'holding a held call: a CSTA error in the 200 body');
  t.equal(bad.root?.fields['stateIncompatibility'], 'incorrectObjectState');
  t.equal((await info(`<RetrieveCall xmlns="${ns}"><callToBeRetrieved><callID>${callId}</callID><deviceID>2000</deviceID></callToBeRetrieved></RetrieveCall>`)).root?.root, 'RetrieveCallResponse');
  const snap = await info(`<SnapshotDevice xmlns="${ns}"><snapshotObject>2000</snapshotObject></SnapshotDevice>`);
  t.match(snap.body, new RegExp(`<callID>${callId}</callID>.*<localConnectionState>connected</localConnectionState>`));
  t.equal((await info(`<SetDoNotDisturb xmlns="${ns}"><device>2000</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>`)).root?.root, 'SetDoNotDisturbResponse');
  t.equal(
    (await info(`<SetForwarding xmlns="${ns}"><device>2000</device><activateForward>true</activateForward><forwardingType>forwardBusy</forwardingType><forwardDN>sip:alice-soft@example.com</forwardDN></SetForwarding>`)).root?.root,
    'SetForwardingResponse',
  );
  t.same(sim.core.phone('2000').forwarding, { forwardBusy: '2099' }, 'VoIP client URI mapped to its PBX number');
  t.equal((await info(`<Foo xmlns="${ns}"/>`)).root?.fields['operation'], 'requestIncompatibleWithObject');
  t.equal((await client.request({ method: 'INFO', dialog, body: 'x', contentType: 'text/plain' })).response.status, 415);
  const clr = await info(`<ClearConnection xmlns="${ns}"><connectionToBeCleared><callID>${callId}</callID><deviceID>2000</deviceID></connectionToBeCleared></ClearConnection>`);
  t.equal(clr.root?.root, 'ClearConnectionResponse');
  await until(model, () => model.hookState('2000') === HookState.Idle, 'idle');
  const want = ['ServiceInitiatedEvent', 'OriginatedEvent', 'DeliveredEvent', 'EstablishedEvent', 'HeldEvent', 'RetrievedEvent', 'DoNotDisturbEvent', 'ForwardingEvent', 'ConnectionClearedEvent'];
  for (let i = 0; i < 500 && !want.every((w) => events.includes(w)); i++) await new Promise((r) => setTimeout(r, 20));
  t.same(want.filter((w) => !events.includes(w)), [], `events seen: ${events.join(', ')}`);
  t.equal((await info(`<MonitorStop xmlns="${ns}"><monitorCrossRefID>${xref}</monitorCrossRefID></MonitorStop>`)).root?.root, 'MonitorStopResponse');
  const bye = await client.bye(dialog);
  t.equal(bye.status, 200);
  t.equal(uacsta.size, 0);
  t.equal(daemon.ua.dialogs.size, 0, 'no dialog outlives its usage');
});

t.test('uaCSTA: INVITE refused for a non-owner (403), an unknown line (404), bad bodies', async (t) => {
  const { client, uri, port } = await setup(t);
  const invite = async (from: string, body: string, to = uri) =>
    (await client.request({ method: 'INVITE', uri: to, from: `<${from}>`, to: `<${to}>`, body, ...csta })).response.status;
  t.equal(await invite('sip:bob@example.com', line('2000')), 403);
  t.equal(await invite('sip:alice@example.com', line('4711')), 404);
  t.equal(await invite('sip:alice@example.com', '<RequestSystemStatus'), 400);
  t.equal(await invite('sip:alice@example.com', `<MakeCall xmlns="${ns}"/>`), 488);
  // No lcs:line: the To user names the line.
  const r = await client.request({ method: 'INVITE', uri: `sip:2005@127.0.0.1:${port}`, from: '<sip:alice@example.com>', body: `<RequestSystemStatus xmlns="${ns}"/>`, ...csta });
  t.equal(r.response.status, 200);
  await client.bye(r.dialog!);
});

t.test('REFER: inside the uaCSTA dialog and outside a dialog; non-owner 403; PBX refusal in the final NOTIFY', async (t) => {
  const { rig, client, uri, daemon, refers } = await setup(t);
  const { sim, model } = rig;
  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, 'ringing');
  sim.core.offHook('2000');
  await until(model, () => model.hookState('2000') === HookState.Talking, 'talking');
  const subscriber = new Subscriber(client.ua);
  const frags = async (sub: ReturnType<Subscriber['refer']>) => {
    const out: string[] = [];
    sub.on('notify', (req: SipRequest) => out.push(req.body.toString().trim()));
    const status = (await sub.ready).response.status;
    for (let i = 0; i < 1000 && sub.state !== ClientSubscriptionState.Terminated && status < 300; i++) await new Promise((r) => setTimeout(r, 10));
    return { status, out };
  };
  // Bob may not transfer alice's call.
  const denied = await frags(subscriber.refer({ uri, from: '<sip:bob@example.com>', referTo: '<sip:2002@pbx.example.com>' }));
  t.equal(denied.status, 403);
  // The PBX refuses a target it does not have: 404 in the final sipfrag; the call stays.
  const refused = await frags(subscriber.refer({ uri, from: '<sip:alice@example.com>', referTo: '<sip:7777@pbx.example.com>' }));
  t.equal(refused.status, 202);
  t.same(refused.out, ['SIP/2.0 100 Trying', 'SIP/2.0 404 Not Found']);
  t.equal(model.hookState('2000'), HookState.Talking);

  // Inside the uaCSTA dialog of alice's line.
  const inv = await client.request({ method: 'INVITE', uri, from: '<sip:alice@example.com>', to: `<${uri}>`, body: line('2000'), ...csta });
  const ok = await frags(subscriber.refer({ dialog: inv.dialog!, referTo: '<tel:2002>' }));
  t.equal(ok.status, 202);
  t.same(ok.out, ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
  await until(model, () => model.hookState('2002') === HookState.Ringing && model.hookState('2000') === HookState.Idle, 'transferred to 2002');
  t.equal(refers.inProgress, 0);
  await client.bye(inv.dialog!);
  for (let i = 0; i < 1000 && daemon.ua.dialogs.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(daemon.ua.dialogs.size, 0, 'REFER and uaCSTA dialogs all ended');
});

t.test('uaCSTA: an event INFO answered 481 ends the session; close() ends the rest with BYE', async (t) => {
  const { rig, uacsta, uri, daemon, port } = await setup(t);
  const { sim, model } = rig;
  const gone = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: 'alice' });
  await gone.start();
  t.teardown(() => gone.close());
  gone.use('INFO', (_req, res) => res.send(481));
  const a = await gone.request({ method: 'INVITE', uri, from: '<sip:alice@example.com>', to: `<${uri}>`, body: line('2000'), ...csta });
  await gone.request({ method: 'INFO', dialog: a.dialog!, body: `<MonitorStart xmlns="${ns}"><monitorObject><deviceObject>2000</deviceObject></monitorObject></MonitorStart>`, ...csta });
  const byes: string[] = [];
  const other = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: 'bob' });
  await other.start();
  t.teardown(() => other.close());
  other.use('BYE', (req, _res, next) => {
    byes.push(req.message.callId);
    next();
  });
  const b = await other.request({ method: 'INVITE', uri: `sip:2001@127.0.0.1:${port}`, from: '<sip:bob@example.com>', body: line('2001'), ...csta });
  t.equal(b.response.status, 200);
  t.equal(uacsta.size, 2);
  sim.core.offHook('2000');
  await until(model, () => model.hookState('2000') === HookState.OffHook, 'off hook');
  for (let i = 0; i < 1000 && uacsta.size > 1; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(uacsta.size, 1, 'the 481 ended alice\'s uaCSTA session');
  await uacsta.close();
  for (let i = 0; i < 1000 && byes.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.same(byes, [b.dialog!.callId], 'close() sent BYE to the remaining client');
  t.equal(daemon.ua.dialogs.size, 0);
});

t.test('scanCstaXml: empty and oversized bodies', async (t) => {
  t.throws(() => scanCstaXml(''), { code: 'CTI_ERR_XML' });
  t.throws(() => scanCstaXml(Buffer.alloc(70_000, 0x20)), { code: 'CTI_ERR_FRAME_TOO_LARGE' });
  t.throws(() => scanCstaXml('<a><b></a>'), { code: 'CTI_ERR_XML' });
  t.equal(scanCstaXml('<RequestSystemStatus/>').root, 'RequestSystemStatus', 'the shared reader recovers after an error');
});
