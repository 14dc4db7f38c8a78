import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { TransferPhase } from '../../../src/calls/transfer/index.js';
import { PdsvLampState } from '../../../src/native/pdsv.js';
import { Baresip } from '../../helpers/baresip.js';
import { until, UdpPeer } from '../../helpers/rtp.js';
import { startTransferRig } from '../../helpers/transfer-rig.js';

const SIM_PORTS: [number, number] = [41000, 41999];

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

t.test('baresip as the softphone: desk -> baresip -> desk three times, one SSRC and no gaps towards the far end (tshark)', async (t) => {
  const rig = await startTransferRig({ softphones: [], simPorts: SIM_PORTS, daemonPorts: [46000, 46999] });
  t.teardown(() => rig.close());
  const daemonPort = rig.daemonStack.localAddress('udp')!.port;
  const baresip = await Baresip.start('u2000', daemonPort);
  t.teardown(() => baresip.stop());
  await until(() => rig.registrar.lookup('sip:u2000@127.0.0.1').length === 1, 20_000, 'baresip registered');

  // tshark on lo for the simulator's media range; a probe datagram proves it is capturing.
  const dir = mkdtempSync(join(tmpdir(), 'sh-transfer-'));
  const pcap = join(dir, 'far.pcap');
  const probe = await UdpPeer.open();
  t.teardown(() => probe.close());
  const tshark = spawn('tshark', ['-i', 'lo', '-f', `udp portrange ${SIM_PORTS[0]}-${SIM_PORTS[1]} or udp port ${probe.port}`, '-w', pcap],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let tsErr = '';
  tshark.stderr!.on('data', (d: Buffer) => (tsErr += d.toString()));
  t.teardown(async () => {
    if (tshark.exitCode === null) tshark.kill('SIGINT');
    await exited(tshark);
  });
  await until(() => /Capturing on/.test(tsErr) || tshark.exitCode !== null, 30_000, 'tshark started');
  await probe.send(Buffer.from('probe'), probe.port);

  const phone = rig.phones.get('2000')!;
  const { far } = await rig.gateway.externalCall('5550100', '2000');
  await phone.waitFor((s) => s.lamps[1] === PdsvLampState.On && s.voiceReceived >= 10, 'desk phone talking');
  for (let round = 0; round < 3; round++) {
    const view = await rig.transfer.toSoftphone('2000');
    t.equal(view.phase, TransferPhase.OnSoftphone, `round ${round}: on baresip`);
    const legs = rig.daemonEngine;
    t.equal(legs.legCount, 2, 'two daemon legs while bridged');
    const farBefore = far.stats().received;
    await until(() => far.stats().received > farBefore + 25, 15_000, 'far end hears baresip (its echo)');
    const deskBefore = phone.state().voiceReceived;
    await rig.transfer.toDesk('2000');
    await phone.waitFor((s) => s.voiceReceived > deskBefore + 10, 'back on the desk phone');
  }
  const farPort = far.port;
  phone.onHook();
  await until(() => rig.daemonEngine.legCount === 0 && rig.gateway.sessionCount() === 0 && rig.daemonStack.ua.dialogs.size === 0, 10_000, 'released');
  await new Promise((r) => setTimeout(r, 300));
  tshark.kill('SIGINT');
  await exited(tshark);

  const fields = spawnSync('tshark', ['-r', pcap, '-d', `udp.port==${farPort},rtp`, '-Y', `udp.dstport==${farPort}`, '-T', 'fields',
    '-e', 'rtp.ssrc', '-e', 'rtp.seq', '-e', 'rtp.timestamp'], { encoding: 'utf8' });
  const rows = fields.stdout.trim().split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  t.ok(rows.length > 100, `tshark saw the far end's stream (${rows.length} packets)`);
  t.equal(new Set(rows.map((r) => r[0])).size, 1, 'one SSRC towards the far end');
  let gaps = 0;
  let backwards = 0;
  let stalled = 0;
  for (let i = 1; i < rows.length; i++) {
    const d = (Number(rows[i]![1]) - Number(rows[i - 1]![1]) - 1) & 0xffff;
    if (d >= 0x8000) backwards++;
    else gaps += d;
    const dt = (Number(rows[i]![2]) - Number(rows[i - 1]![2])) >>> 0;
    if (dt === 0 || dt >= 0x80000000) stalled++;
  }
  t.equal(backwards, 0, 'sequence numbers never go back');
  t.equal(stalled, 0, 'timestamps always advance');
  t.ok(gaps <= 2, `sequence numbers continuous (gaps: ${gaps})`);
});
