/**
 * Records captures/calls/desk-softphone-transfer.pcap: a trunk call to a PDSV digital desk phone, moved to
 * the user's softphone and back twice (CSTA over TCP, SIP and RTP over UDP, PDSV signals and voice over
 * UDP), then hung up at the desk. Everything runs in this process on loopback (the PBX simulator with its
 * VoIP gateway and digital line, the daemon side with SoftphoneTransfer, an in-process softphone); tshark
 * captures only this rig's ports.
 * Run from the repository root: node --import @tapjs/typescript/import captures/calls/record-transfer.ts
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PdsvLampState } from '../../src/native/pdsv.js';
import { startTransferRig } from '../../test/helpers/transfer-rig.js';

const file = 'captures/calls/desk-softphone-transfer.pcap';
// Narrow media ranges, so that nobody else's traffic on this host falls into the capture.
const SIM: [number, number] = [41000, 41039];
const DAEMON: [number, number] = [46000, 46039];
const raw = join(mkdtempSync(join(tmpdir(), 'sh-capture-')), 'raw.pcap');
const rig = await startTransferRig({ extensions: ['2000'], simPorts: SIM, daemonPorts: DAEMON });
const sp = rig.softphones.get('2000')!;
const ports = {
  csta: rig.cti.sim.address.csta.port,
  daemonSip: rig.daemonStack.localAddress('udp')!.port,
  gatewaySip: rig.gatewayStack.localAddress('udp')!.port,
  softphoneSip: sp.stack.localAddress('udp')!.port,
  pdsvSignals: rig.lines.signalAddress().port,
};
const filter = [
  `tcp port ${ports.csta}`,
  `udp port ${ports.daemonSip}`,
  `udp port ${ports.gatewaySip}`,
  `udp port ${ports.softphoneSip}`,
  `udp port ${ports.pdsvSignals}`,
  `udp portrange ${SIM[0]}-${SIM[1]}`,
  `udp portrange ${DAEMON[0]}-${DAEMON[1]}`,
].join(' or ');
const tshark = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', raw], { stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise<void>((resolve) => tshark.stderr.on('data', (d: Buffer) => d.toString().includes('Capturing on') && resolve()));

const phone = rig.phones.get('2000')!;
const { far } = await rig.gateway.externalCall('5550100', '2000');
await phone.waitFor((s) => s.lamps[1] === PdsvLampState.On && s.voiceReceived >= 25, 'desk talking');
const legs: Array<{ round: number; gatewayLeg: number; softphoneLeg: number }> = [];
for (let round = 0; round < 2; round++) {
  const view = await rig.transfer.toSoftphone('2000');
  legs.push({ round, gatewayLeg: view.legs!.gateway, softphoneLeg: view.legs!.softphone });
  await sp.current!.waitReceived(25);
  const before = phone.state().voiceReceived;
  await rig.transfer.toDesk('2000');
  await phone.waitFor((s) => s.voiceReceived >= before + 25, 'back on the desk');
}
phone.onHook();
await new Promise((r) => setTimeout(r, 500));
tshark.kill('SIGINT');
await new Promise((r) => tshark.once('exit', r));
// Keep only datagrams between this rig's own sockets (both ends known or in the rig's ranges).
const known = [ports.csta, ports.daemonSip, ports.gatewaySip, ports.softphoneSip, ports.pdsvSignals].join(', ');
const mine = `tcp.port in {${ports.csta}} or (udp.srcport in {${known}, ${SIM[0]}..${SIM[1]}, ${DAEMON[0]}..${DAEMON[1]}} or udp.dstport in {${known}, ${SIM[0]}..${SIM[1]}, ${DAEMON[0]}..${DAEMON[1]}}) and not (sip and not udp.port in {${known}})`;
spawnSync('tshark', ['-r', raw, '-Y', mine, '-w', file], { stdio: 'inherit' });
const summary = { ports, farEndPort: far.port, far: far.stats(), legs };
writeFileSync('captures/calls/desk-softphone-transfer.json', `${JSON.stringify(summary, null, 2)}\n`);
await rig.close();
console.log(JSON.stringify(summary));
