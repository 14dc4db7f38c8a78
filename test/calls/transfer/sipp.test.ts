import t from 'tap';

import { TransferPhase } from '../../../src/calls/transfer/index.js';
import { PdsvLampState } from '../../../src/native/pdsv.js';
import { until } from '../../helpers/rtp.js';
import { startTransferRig } from '../../helpers/transfer-rig.js';
import { killPeers, runSipp } from '../../sip/interop/peers.js';
import { freeUdpPort } from '../../helpers/peers.js';

t.teardown(() => killPeers());

t.test('sipp calls the PBX through its VoIP gateway (RTP echo); the call moves to the softphone and back', async (t) => {
  const rig = await startTransferRig({ extensions: ['2000'], simPorts: [42000, 42999], daemonPorts: [47000, 47999] });
  t.teardown(() => rig.close());
  const gw = rig.gatewayStack.localAddress('udp')!;
  const sipPort = await freeUdpPort();
  const mediaPort = await freeUdpPort();
  // sipp's built-in uac: INVITE sip:2000@gateway with PCMU SDP, ACK, holds 20 s echoing RTP, then BYE.
  const { done } = runSipp(['-sn', 'uac', '-s', '2000', '-m', '1', '-d', '20000', '-rtp_echo', '-mp', String(mediaPort), '-i', '127.0.0.1',
    '-p', String(sipPort), `${gw.host}:${gw.port}`], 60);
  const phone = rig.phones.get('2000')!;
  await phone.waitFor((s) => s.lamps[1] === PdsvLampState.On && s.voiceReceived >= 10, 'desk answered; sipp echoes its voice', 20_000);
  t.match(phone.state().display, /^Connected sipp/, 'PDSV display shows the SIP caller');

  const view = await rig.transfer.toSoftphone('2000');
  t.equal(view.phase, TransferPhase.OnSoftphone);
  t.equal(view.farDevice, 'sipp');
  const sp = rig.softphones.get('2000')!;
  await sp.current!.waitReceived(10, 15_000);
  t.same(sp.current!.stats().ssrcs.length, 1, 'the softphone hears its own stream echoed by sipp, one SSRC');

  const before = phone.state().voiceReceived;
  await rig.transfer.toDesk('2000');
  await phone.waitFor((s) => s.voiceReceived > before + 10, 'desk voice echoed again', 15_000);

  const run = await done;
  t.equal(run.code, 0, `sipp completed its call: ${run.stderr.slice(-500)}`);
  t.match(run.messages, /SIP\/2\.0 180/, 'gateway rang');
  t.match(run.messages, /SIP\/2\.0 200 OK[\s\S]*m=audio/, 'gateway answered with SDP');
  await phone.waitFor((s) => s.lamps[1] === PdsvLampState.Off, 'sipp hung up: desk lamp off', 10_000);
  await until(() => rig.daemonEngine.legCount === 0 && rig.gateway.sessionCount() === 0 && rig.cti.sim.core.calls().length === 0, 10_000, 'released');
});
