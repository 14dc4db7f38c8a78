import t from 'tap';

import { HookState } from '../../src/model/index.js';
import { startRig, until } from '../helpers/cti.js';

t.test('a call from 2000 to 2001 through the simulator', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.close());
  const { sim, model } = rig;
  t.equal(model.hookState('2000'), HookState.Idle);
  sim.core.offHook('2000');
  await until(model, () => model.hookState('2000') === HookState.OffHook, '2000 offHook');
  sim.core.dial('2000', '2001');
  await until(model, () => model.hookState('2001') === HookState.Ringing && model.hookState('2000') === HookState.Ringback, 'ringing');
  sim.core.answer('2001');
  await until(model, () => model.hookState('2001') === HookState.Talking && model.hookState('2000') === HookState.Talking, 'talking');
  sim.core.onHook('2001');
  await until(model, () => model.hookState('2001') === HookState.Idle && model.hookState('2000') === HookState.Idle, 'idle');
  t.pass();
});
