/**
 * Records captures/calls/refer-softphone.pcap: the user's own SIP clients move a trunk call between the PDSV
 * digital desk phone 2000 and the softphone with REFER (RFC 3515): the desktop client refers the daemon to
 * the user's computer interface (`sip:u2000@...`), the softphone's identity refers it back to `sip:2000@...`,
 * and another user's REFER gets 403. Call control resolves both targets to SoftphoneTransfer (docs/transfers.md),
 * so the CSTA, gateway SIP, RTP and PDSV traffic is that of desk-softphone-transfer.pcap, plus the REFERs and
 * their sipfrag NOTIFYs. Everything runs in this process on loopback; tshark captures only this rig's ports.
 * Run from the repository root: node --import @tapjs/typescript/import captures/calls/record-refer-softphone.ts
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CallControl, OwnershipTable } from '../../src/calls/control/index.js';
import { ReferTransfers } from '../../src/calls/uacsta/index.js';
import { PdsvLampState } from '../../src/native/pdsv.js';
import { Notifier } from '../../src/sip/subscription/notifier.js';
import { ClientSubscriptionState, Subscriber } from '../../src/sip/subscription/subscriber.js';
import { SipStack } from '../../src/sip/ua/stack.js';
import { until } from '../../test/helpers/rtp.js';
import { startTransferRig } from '../../test/helpers/transfer-rig.js';

const file = 'captures/calls/refer-softphone.pcap';
const SIM: [number, number] = [41040, 41079];
const DAEMON: [number, number] = [46040, 46079];
const raw = join(mkdtempSync(join(tmpdir(), 'sh-capture-')), 'raw.pcap');
const rig = await startTransferRig({ extensions: ['2000', '2001'], softphones: ['2000'], digital: ['2000'], simPorts: SIM, daemonPorts: DAEMON });
const ownership = new OwnershipTable({
  users: [
    { user: 'alice', phones: ['2000'], aors: ['sip:alice@example.com', 'sip:u2000@127.0.0.1'] },
    { user: 'bob', phones: ['2001'], aors: ['sip:bob@example.com'] },
  ],
});
const control = new CallControl({ link: rig.cti.link, model: rig.cti.model, ownership, transferTargets: rig.transfer });
const notifier = new Notifier(rig.daemonStack.ua);
new ReferTransfers({ ua: rig.daemonStack.ua, notifier, control, model: rig.cti.model });
const client = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: 'client', userAgent: 'desktop-client' });
await client.start();
const subscriber = new Subscriber(client.ua);
const sp = rig.softphones.get('2000')!;
const daemonSip = rig.daemonStack.localAddress('udp')!.port;
const ports = {
  csta: rig.cti.sim.address.csta.port,
  daemonSip,
  gatewaySip: rig.gatewayStack.localAddress('udp')!.port,
  softphoneSip: sp.stack.localAddress('udp')!.port,
  clientSip: client.localAddress('udp')!.port,
  pdsvSignals: rig.lines.signalAddress().port,
};
const known = [ports.csta, ports.daemonSip, ports.gatewaySip, ports.softphoneSip, ports.clientSip, ports.pdsvSignals];
const filter = [`tcp port ${ports.csta}`, ...known.slice(1).map((p) => `udp port ${p}`), `udp portrange ${SIM[0]}-${SIM[1]}`, `udp portrange ${DAEMON[0]}-${DAEMON[1]}`].join(' or ');
const tshark = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', raw], { stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise<void>((resolve) => tshark.stderr.on('data', (d: Buffer) => d.toString().includes('Capturing on') && resolve()));

const refer = async (from: string, ruriUser: string, referTo: string): Promise<{ status: number; frags: string[] }> => {
  const sub = subscriber.refer({ uri: `sip:${ruriUser}@127.0.0.1:${daemonSip}`, from: `<${from}>`, to: `<sip:${ruriUser}@127.0.0.1>`, referTo: `<${referTo}>` });
  const frags: string[] = [];
  sub.on('notify', (req: { body: Buffer }) => frags.push(req.body.toString().trim()));
  const status = (await sub.ready).response.status;
  if (status === 202) await until(() => sub.state === ClientSubscriptionState.Terminated, 30_000, 'REFER done');
  return { status, frags };
};

const phone = rig.phones.get('2000')!;
const { far } = await rig.gateway.externalCall('5550100', '2000');
await phone.waitFor((s) => s.lamps[1] === PdsvLampState.On && s.voiceReceived >= 25, 'desk talking');
const steps = [
  { step: 'bob refers 2000 to u2000', ...(await refer('sip:bob@example.com', '2000', `sip:u2000@127.0.0.1:${daemonSip}`)) },
  { step: 'alice refers 2000 to u2000', ...(await refer('sip:alice@example.com', '2000', `sip:u2000@127.0.0.1:${daemonSip}`)) },
];
await sp.current!.waitReceived(25);
const before = phone.state().voiceReceived;
steps.push({ step: 'the softphone refers to 2000', ...(await refer('sip:u2000@127.0.0.1', 'u2000', 'sip:2000@127.0.0.1')) });
await phone.waitFor((s) => s.voiceReceived >= before + 25, 'back on the desk');
phone.onHook();
await new Promise((r) => setTimeout(r, 500));
tshark.kill('SIGINT');
await new Promise((r) => tshark.once('exit', r));
const list = known.join(', ');
const mine = `tcp.port in {${ports.csta}} or (udp.srcport in {${list}, ${SIM[0]}..${SIM[1]}, ${DAEMON[0]}..${DAEMON[1]}} or udp.dstport in {${list}, ${SIM[0]}..${SIM[1]}, ${DAEMON[0]}..${DAEMON[1]}}) and not (sip and not udp.port in {${list}})`;
spawnSync('tshark', ['-r', raw, '-Y', mine, '-w', file], { stdio: 'inherit' });
const summary = { ports, farEndPort: far.port, far: far.stats(), steps };
writeFileSync('captures/calls/refer-softphone.json', `${JSON.stringify(summary, null, 2)}\n`);
control.close();
notifier.close();
await client.close();
await rig.close();
console.log(JSON.stringify(summary));
