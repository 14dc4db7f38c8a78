import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { TransferPhase } from '../../../src/calls/transfer/index.js';
import { PdsvLampState } from '../../../src/native/pdsv.js';
import { Baresip } from '../../helpers/baresip.js';
import { requireCapture, rtpStreamTo } from '../../helpers/capture.js';
import { until } from '../../helpers/rtp.js';
import { startTransferRig } from '../../helpers/transfer-rig.js';

const SIM_PORTS: [number, number] = [41000, 41999];

t.test('baresip as the softphone: desk -> baresip -> desk three times, one SSRC and no gaps towards the far end (tshark)', async (t) => {
  const rig = await startTransferRig({ softphones: [], simPorts: SIM_PORTS, daemonPorts: [46000, 46999] });
  t.teardown(() => rig.close());
  const daemonPort = rig.daemonStack.localAddress('udp')!.port;
  const baresip = await Baresip.start('u2000', daemonPort);
  t.teardown(() => baresip.stop());
  await until(() => rig.registrar.lookup('sip:u2000@127.0.0.1').length === 1, 20_000, 'baresip registered');

  // A capture on lo of the simulator's media range.
  const pcap = join(mkdtempSync(join(tmpdir(), 'sh-transfer-')), 'far.pcap');
  const capture = await requireCapture(t, `udp portrange ${SIM_PORTS[0]}-${SIM_PORTS[1]}`, pcap);

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
  await capture.stop();

  const stream = rtpStreamTo(pcap, farPort);
  t.ok(stream.packets > 100, `tshark saw the far end's stream (${stream.packets} packets)`);
  t.equal(stream.ssrcs, 1, 'one SSRC towards the far end');
  t.equal(stream.backwards, 0, 'sequence numbers never go back');
  t.equal(stream.stalled, 0, 'timestamps always advance');
  t.ok(stream.gaps <= 2, `sequence numbers continuous (gaps: ${stream.gaps})`);
});
