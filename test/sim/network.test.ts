import t from 'tap';

import { ConnectionState, CstaEventKind, type CstaEvent } from '../../src/cti/index.js';
import { startRig } from '../helpers/cti.js';

t.test('a call routed to the network: NetworkReached, then Established or Failed, over CSTA', async (t) => {
  const rig = await startRig({ extensions: ['2000', '2001'] });
  t.teardown(() => rig.close());
  const core = rig.sim.core;
  core.setNetworkRoutes({ isNetwork: (to) => to.startsWith('9') });
  const seen: CstaEvent[] = [];
  rig.link.on('event', (device, ev) => device === '2000' && seen.push(ev));
  const waitKind = async (kind: CstaEventKind) => {
    const end = Date.now() + 10_000;
    while (!seen.some((e) => e.kind === kind)) {
      if (Date.now() > end) throw new Error(`no ${kind}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return seen.find((e) => e.kind === kind)!;
  };

  const c = await rig.link.makeCall('2000', '95550100');
  const reached = await waitKind(CstaEventKind.NetworkReached);
  t.equal(reached.subjectDevice, '95550100', 'outbound connection is the network device');
  t.equal(reached.callId, c.callId);
  t.equal(core.calls()[0]!.connections['95550100'], ConnectionState.Alerting);
  core.networkAnswered(c.callId, '95550100');
  const est = await waitKind(CstaEventKind.Established);
  t.equal(est.subjectDevice, '95550100');
  t.throws(() => core.networkAnswered(c.callId, '95550100'), { name: 'SimError', message: /not in call/ }, 'answered twice');
  core.clearConnection('95550100', c.callId);
  await waitKind(CstaEventKind.ConnectionCleared);
  t.same(core.calls(), [], 'the call ends when the network leaves');

  seen.length = 0;
  const c2 = await rig.link.makeCall('2000', '95550101');
  await waitKind(CstaEventKind.NetworkReached);
  core.networkFailed(c2.callId, '95550101', 'busy');
  const failed = await waitKind(CstaEventKind.Failed);
  t.equal(failed.cause, 'busy');
  t.equal(core.calls()[0]!.connections['95550101'], ConnectionState.Fail);
  t.throws(() => core.networkFailed('nope', '95550101', 'busy'), { name: 'SimError', message: /not in call/ });
  core.onHook('2000');

  t.throws(() => core.incomingNetworkCall('2001', '2000'), { name: 'SimError', message: /is a phone/ }, 'a phone is not a trunk party');
  const inc = core.incomingNetworkCall('5550199', '2000');
  t.same(core.phone('2000').calls.map((x) => [x.callId, x.state]), [[inc.callId, ConnectionState.Alerting]]);
  core.setNetworkRoutes(undefined);
  t.equal(core.isNetwork('95550100'), false);
});
