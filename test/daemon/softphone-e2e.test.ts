/**
 * Issue 6 end to end through a config-built daemon: the user's own SIP clients move their call between the
 * PDSV desk phone and baresip (the softphone, registered with the daemon) with REFER, the far end hears one
 * continuous RTP stream (tshark), the desk phone rings, lights and displays on the way back, a non-owner's
 * REFER gets 403, the admin transfer routes check the admin principal, and the desktop client dials with
 * uaCSTA MakeCall.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { RtpEngine } from '../../src/media/rtp-engine.js';
import { scanCstaXml } from '../../src/native/csta.js';
import { PdsvLampState } from '../../src/native/pdsv.js';
import { SimDigitalLines, SimDigitalPhone, SimVoipGateway } from '../../src/sim/index.js';
import { ClientSubscriptionState, Subscriber } from '../../src/sip/subscription/subscriber.js';
import { SipStack } from '../../src/sip/ua/index.js';
import { setLogLevel } from '../../src/util/log.js';
import { Baresip } from '../helpers/baresip.js';
import { requireCapture, rtpStreamTo } from '../helpers/capture.js';
import { daemonOnSimulator } from '../helpers/daemon.js';
import { until } from '../helpers/rtp.js';

setLogLevel('silent');

const SIM_PORTS: [number, number] = [42500, 42999];
const ns = 'http://www.ecma-international.org/standards/ecma-323/csta/ed3';
const csta = { contentType: 'application/csta+xml', headers: { 'Content-Disposition': 'signal;handling=required' } };

t.test('REFER moves the call desk -> baresip -> desk three times through the daemon, then uaCSTA and the admin API; non-owners get 403; uaCSTA MakeCall', async (t) => {
  const { sim, daemon, addr, base } = await daemonOnSimulator(t, ['2000', '2001', '2002'], {
    sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }], domain: 'pbx.example' },
    admin: { host: '127.0.0.1', port: 0 },
    callControl: {
      adminPrincipal: 'ops',
      admins: ['ops'],
      users: [
        { user: 'alice', phones: ['2000'], aors: ['sip:alice@pbx.example', 'sip:alicesp@127.0.0.1'] },
        { user: 'bob', phones: ['2001'], aors: ['sip:bob@pbx.example'] },
      ],
    },
    transfers: {
      rtpPorts: [47500, 47999],
      softphoneAnswerMs: 10_000,
      gatewayInviteMs: 10_000,
      deskAnswerMs: 15_000,
      users: [{ device: '2000', user: 'alice', softphoneAor: 'sip:alicesp@127.0.0.1' }],
    },
  });
  const sipPort = addr.sip![0]!.port;

  // The simulator's VoIP gateway routes the computer interface "alice" to the daemon; 2000 is a PDSV phone.
  // The switch side sends one datagram per packet (no GSO), so the tshark capture sees each RTP packet.
  const simEngine = new RtpEngine({ portMin: SIM_PORTS[0], portMax: SIM_PORTS[1], gso: false });
  t.teardown(() => simEngine.close());
  const lines = new SimDigitalLines(sim.core, simEngine);
  await lines.start();
  t.teardown(() => lines.close());
  const gatewayStack = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: 'gateway', userAgent: 'sim-gateway' });
  await gatewayStack.start();
  t.teardown(() => gatewayStack.close());
  const gateway = new SimVoipGateway(sim.core, gatewayStack, simEngine, lines, { routes: { alice: `sip:alice@127.0.0.1:${sipPort}` }, inviteTimeoutMs: 10_000 });
  t.teardown(() => gateway.close());
  const phone = new SimDigitalPhone({ line: 1, signalling: lines.signalAddress(), voice: lines.addPhone('2000', 1), autoAnswer: true });
  await phone.start();
  t.teardown(() => phone.close());

  const baresip = await Baresip.start('alicesp', sipPort);
  t.teardown(() => baresip.stop());
  await until(() => daemon.registrar!.lookup('sip:alicesp@127.0.0.1').length === 1, 20_000, 'baresip registered with the daemon');

  // The desktop clients (alice's, her softphone's identity, bob's) send REFER from one in-process stack.
  const client = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: 'client' });
  await client.start();
  t.teardown(() => client.close());
  const subscriber = new Subscriber(client.ua);
  const refer = async (from: string, ruriUser: string, referTo: string): Promise<{ status: number; frags: string[] }> => {
    const sub = subscriber.refer({
      uri: `sip:${ruriUser}@127.0.0.1:${sipPort}`,
      from: `<${from}>`,
      to: `<sip:${ruriUser}@127.0.0.1>`,
      referTo: `<${referTo}>`,
      headers: { 'Referred-By': `<${from}>` },
    });
    const frags: string[] = [];
    sub.on('notify', (req: { body: Buffer }) => frags.push(req.body.toString().trim()));
    const status = (await sub.ready).response.status;
    if (status === 202) await until(() => sub.state === ClientSubscriptionState.Terminated, 40_000, `REFER to ${referTo} finished`);
    return { status, frags };
  };

  // A capture on lo of the simulator's media range.
  const pcap = join(mkdtempSync(join(tmpdir(), 'sh-e2e-pcap-')), 'far.pcap');
  const capture = await requireCapture(t, `udp portrange ${SIM_PORTS[0]}-${SIM_PORTS[1]}`, pcap);

  const { far } = await gateway.externalCall('5550100', '2000');
  await phone.waitFor((s) => s.lamps[1] === PdsvLampState.On && s.voiceReceived >= 10, 'desk phone talking');

  // A non-owner's REFER is refused before any subscription; the call stays on the desk phone.
  const forbidden = await refer('sip:bob@pbx.example', '2000', `sip:alice@127.0.0.1:${sipPort}`);
  t.equal(forbidden.status, 403, "bob may not move alice's call");
  t.equal(daemon.transfers!.list()[0]!.phase, 'onDesk');
  const talking = phone.state().voiceReceived;
  await phone.waitFor((s) => s.voiceReceived > talking + 10, 'desk phone still talking');
  // The admin routes check the admin principal's ownership like call control: an unknown phone is 404.
  const unknown = await fetch(`${base}/api/transfers/4711/softphone`, { method: 'POST' });
  t.equal(unknown.status, 404);
  t.match(await unknown.json(), { code: 'CALL_ERR_UNKNOWN_PHONE', title: 'Not Found' });

  for (let round = 0; round < 3; round++) {
    // Alice's desktop client: "move my call to my computer".
    const toSoftphone = await refer('sip:alice@pbx.example', '2000', `sip:alice@127.0.0.1:${sipPort}`);
    t.equal(toSoftphone.status, 202, `round ${round}: REFER accepted`);
    t.same(toSoftphone.frags, ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK'], `round ${round}: sipfrag 100 then 200 once bridged`);
    t.equal(daemon.transfers!.list()[0]!.phase, 'onSoftphone');
    const farBefore = far.stats().received;
    await until(() => far.stats().received > farBefore + 25, 15_000, 'far end hears baresip (its echo)');

    // The softphone's identity: "back to my desk phone 2000".
    const logFrom = phone.state().log.length;
    const deskBefore = phone.state().voiceReceived;
    const toDesk = await refer('sip:alicesp@127.0.0.1', 'alicesp', 'sip:2000@127.0.0.1');
    t.equal(toDesk.status, 202);
    t.same(toDesk.frags, ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK'], `round ${round}: back on the desk`);
    await phone.waitFor((s) => s.voiceReceived > deskBefore + 10, 'desk phone hears the far end again');
    const signals = phone.state().log.slice(logFrom);
    t.ok(signals.includes('ringer:on'), `round ${round}: the desk phone rang`);
    t.ok(signals.some((s) => s.startsWith('lamp:1:')), `round ${round}: its line lamp changed`);
    t.ok(signals.some((s) => s.startsWith('display:') && s.length > 'display:'.length), `round ${round}: its display showed the caller`);
  }
  t.equal(daemon.transfers!.list()[0]!.phase, 'onDesk');

  // Fourth round: alice's uaCSTA session (ECMA TR/87) asks for SingleStepTransferCall to her computer
  // interface; the admin API (principal "ops") brings the call back.
  const uri = `sip:2000@127.0.0.1:${sipPort}`;
  const line = `<RequestSystemStatus xmlns="${ns}"><extensions><privateData><private><lcs:line xmlns:lcs="http://schemas.microsoft.com/Lcs/2005/04/RCCExtension">tel:2000;phone-context=dialstring</lcs:line></private></privateData></extensions></RequestSystemStatus>`;
  client.use('INFO', (_req, res) => res.send(200));
  const inv = await client.request({ method: 'INVITE', uri, from: '<sip:alice@pbx.example>', to: `<${uri}>`, body: line, ...csta });
  t.equal(inv.response.status, 200, 'uaCSTA session open');
  const info = (xml: string) => client.request({ method: 'INFO', dialog: inv.dialog!, body: xml, ...csta });
  const callId = daemon.model.callsOf('2000').find((c) => c.state === 'connected')!.callId;
  const sst = await info(
    `<SingleStepTransferCall xmlns="${ns}"><activeCall><callID>${callId}</callID><deviceID>2000</deviceID></activeCall><transferredTo>sip:alice@127.0.0.1:${sipPort}</transferredTo></SingleStepTransferCall>`,
  );
  t.equal(sst.response.status, 200);
  t.equal(scanCstaXml(sst.response.body).root, 'SingleStepTransferCallResponse');
  t.equal(daemon.transfers!.list()[0]!.phase, 'onSoftphone', 'uaCSTA moved the call to the softphone');
  const farBefore = far.stats().received;
  await until(() => far.stats().received > farBefore + 25, 15_000, 'far end hears baresip again');
  const deskBefore = phone.state().voiceReceived;
  const back = await fetch(`${base}/api/transfers/2000/desk`, { method: 'POST' });
  t.equal(back.status, 200);
  t.match(await back.json(), { device: '2000', phase: 'onDesk' });
  await phone.waitFor((s) => s.voiceReceived > deskBefore + 10, 'desk phone talking after the admin request');

  const farPort = far.port;
  phone.onHook();
  await until(() => daemon.transfers!.activeSessions === 0 && gateway.sessionCount() === 0, 10_000, 'released');
  await new Promise((r) => setTimeout(r, 300));
  await capture.stop();

  const stream = rtpStreamTo(pcap, farPort);
  t.ok(stream.packets > 100, `tshark saw the far end's stream (${stream.packets} packets)`);
  t.equal(stream.ssrcs, 1, 'one SSRC towards the far end');
  t.equal(stream.backwards, 0, 'sequence numbers never go back');
  t.ok(stream.gaps <= 2, `sequence numbers continuous (gaps: ${stream.gaps})`);

  // uaCSTA MakeCall from alice's desktop client in the same session: 2000 -> 2002.
  const mc = await client.request({
    method: 'INFO',
    dialog: inv.dialog!,
    body: `<MakeCall xmlns="${ns}"><callingDevice>tel:2000;phone-context=dialstring</callingDevice><calledDirectoryNumber>tel:2002</calledDirectoryNumber><autoOriginate>doNotPrompt</autoOriginate></MakeCall>`,
    ...csta,
  });
  t.equal(mc.response.status, 200);
  t.equal(scanCstaXml(mc.response.body).root, 'MakeCallResponse');
  await until(() => (daemon.model.device('2002')?.calls ?? []).length > 0, 10_000, '2002 is called');
  const inv2 = await client.request({ method: 'INVITE', uri: `sip:2001@127.0.0.1:${sipPort}`, from: '<sip:alice@pbx.example>', body: line.replace('tel:2000', 'tel:2001'), ...csta });
  t.equal(inv2.response.status, 403, "alice may not open a uaCSTA session for bob's phone");
  await client.bye(inv.dialog!);
});
