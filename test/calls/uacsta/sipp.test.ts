import t from 'tap';

import { HookState } from '../../../src/model/index.js';
import { fixtures, killPeers, runSipp } from '../../sip/interop/peers.js';
import { startSipControlRig, until } from '../control/helpers.js';
import { freeUdpPort } from '../../helpers/peers.js';

t.teardown(killPeers);

t.test('sipp as a uaCSTA client: INVITE + INFO MakeCall, CSTA responses in the 200 bodies, event INFOs', async (t) => {
  const rig = await startSipControlRig();
  t.teardown(() => rig.close());
  const { model, sim } = rig;
  const { done } = runSipp(['-sf', `${fixtures}uacsta-makecall.xml`, '-m', '1', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), rig.target]);
  await until(model, () => model.hookState('2001') === HookState.Ringing, 'MakeCall rings 2001', 30_000);
  sim.core.offHook('2001');
  const r = await done;
  t.equal(r.code, 0, r.code === 0 ? 'sipp scenario passed' : r.stderr.slice(-1500));
  t.match(r.messages, /MakeCallResponse/);
  t.equal(rig.uacsta.size, 0, 'the BYE ended the uaCSTA dialog');
  t.equal(rig.stack.ua.dialogs.size, 0);
  t.equal(model.hookState('2000'), HookState.Talking, 'the call outlives the client dialog');
});

t.test('sipp REFER: transfer of the user call, sipfrag NOTIFYs; a non-owner gets 403', async (t) => {
  const rig = await startSipControlRig();
  t.teardown(() => rig.close());
  const { model, sim } = rig;
  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, 'ringing');
  sim.core.offHook('2000');
  await until(model, () => model.hookState('2000') === HookState.Talking, 'talking');
  const forbidden = await runSipp(['-sf', `${fixtures}refer-forbidden.xml`, '-m', '1', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), rig.target]).done;
  t.equal(forbidden.code, 0, forbidden.code === 0 ? 'sipp scenario passed' : forbidden.stderr.slice(-1500));
  t.equal(model.hookState('2000'), HookState.Talking);
  const ok = await runSipp(['-sf', `${fixtures}refer-transfer.xml`, '-m', '1', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), rig.target]).done;
  t.equal(ok.code, 0, ok.code === 0 ? 'sipp scenario passed' : ok.stderr.slice(-1500));
  await until(model, () => model.hookState('2002') === HookState.Ringing && model.hookState('2000') === HookState.Idle, 'transferred to 2002');
  for (let i = 0; i < 1000 && rig.stack.ua.dialogs.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(rig.stack.ua.dialogs.size, 0, 'the REFER dialog ended with its subscription');
});
