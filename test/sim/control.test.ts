import t from 'tap';

import { CtiLink, LinkState } from '../../src/cti/index.js';
import { HookState } from '../../src/model/index.js';
import { PbxSimulator } from '../../src/sim/index.js';
import { runSim } from '../../src/cli/commands/sim.js';
import { main } from '../../src/cli/main.js';
import { linkState, startRig, until } from '../helpers/cti.js';

async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

t.test('HTTP control API drives the phones; the link and model follow', async (t) => {
  const rig = await startRig({ sim: { controlPort: 0 } });
  t.teardown(() => rig.close());
  const { model, sim, link } = rig;
  const base = `http://127.0.0.1:${sim.address.control!.port}`;
  t.equal((await api(base, 'POST', '/phones/2000/offhook')).status, 200);
  const dialled = await api(base, 'POST', '/phones/2000/dial', { to: '2001' });
  t.equal(dialled.status, 200);
  t.equal(dialled.json.deviceId, '2000');
  await until(model, () => model.hookState('2001') === HookState.Ringing, 'ringing');
  const phone = await api(base, 'GET', '/phones/2001');
  t.equal(phone.json.calls[0].state, 'alerting');
  t.equal(phone.json.hook, 'onHook');
  t.equal((await api(base, 'POST', '/phones/2001/answer')).status, 200);
  await until(model, () => model.hookState('2000') === HookState.Talking, 'talking');
  t.equal((await api(base, 'POST', '/phones/2000/hold')).status, 200);
  await until(model, () => model.hookState('2000') === HookState.Held, 'held');
  t.equal((await api(base, 'POST', '/phones/2000/retrieve')).status, 200);
  const calls = await api(base, 'GET', '/calls');
  t.equal(calls.json.length, 1);
  t.same(calls.json[0].connections, { '2000': 'connected', '2001': 'connected' });
  t.equal((await api(base, 'POST', '/phones/2001/transfer', { to: '2002' })).status, 200);
  await until(model, () => model.hookState('2002') === HookState.Ringing, 'single-step transfer');
  t.equal((await api(base, 'POST', '/phones/2002/deflect', { to: '2003' })).status, 200);
  await until(model, () => model.hookState('2003') === HookState.Ringing, 'deflected');
  t.equal((await api(base, 'POST', '/phones/2003/answer')).status, 200);
  t.equal((await api(base, 'POST', '/phones/2003/consult', { to: '2001' })).status, 200);
  t.equal((await api(base, 'POST', '/phones/2001/answer')).status, 200);
  t.equal((await api(base, 'POST', '/phones/2003/complete-transfer')).status, 200);
  await until(model, () => model.hookState('2003') === HookState.Idle && model.hookState('2001') === HookState.Talking, 'consult transfer');
  t.equal((await api(base, 'POST', '/phones/2001/onhook')).status, 200);
  await until(model, () => model.hookState('2000') === HookState.Idle, 'over');

  const fwd = await api(base, 'POST', '/phones/2002/forward', { type: 'forwardBusy', to: '2003' });
  t.same(fwd.json.forwarding, { forwardBusy: '2003' });
  await until(model, () => model.device('2002')!.forwarding.length === 1, 'forwarding in the model');
  t.same((await api(base, 'POST', '/phones/2002/forward', { type: 'forwardBusy', on: false })).json.forwarding, {});
  t.equal((await api(base, 'POST', '/phones/2002/dnd', { on: true })).json.doNotDisturb, true);
  await until(model, () => model.device('2002')!.doNotDisturb, 'dnd in the model');

  // Errors: unknown phone 404, wrong state 409, bad input 400, unknown route 404.
  const unknown = await api(base, 'POST', '/phones/9999/offhook');
  t.equal(unknown.status, 404);
  t.match(unknown.json, { code: 'SIM_ERR_OPERATION', cause: { category: 'operation', value: 'invalidDeviceID' } });
  t.equal((await api(base, 'POST', '/phones/2000/answer')).status, 409);
  t.equal((await api(base, 'POST', '/phones/2000/dial', {})).status, 400);
  t.equal((await api(base, 'POST', '/phones/2000/dial', 'not json')).status, 400);
  t.equal((await api(base, 'POST', '/phones/2000/forward', { type: 'sideways', to: '2001' })).status, 400);
  t.equal((await api(base, 'POST', '/phones/2000/dnd', { on: 'yes' })).status, 400);
  t.equal((await api(base, 'POST', '/phones/2000/jump')).status, 404);
  t.equal((await api(base, 'GET', '/nowhere')).status, 404);
  t.equal((await api(base, 'DELETE', '/calls')).status, 405);
  t.equal((await api(base, 'GET', '/phones')).json.length, 4);

  const info = await api(base, 'GET', '/link');
  t.equal(info.json.clients.length, 1);
  t.equal(info.json.clients[0].registeredAddress, 'sip:switchhook@127.0.0.1:5060');
  t.equal((await api(base, 'POST', '/link/status', { status: 'normal' })).status, 200);
  const dropped = await api(base, 'POST', '/link/drop');
  t.equal(dropped.json.dropped, 1);
  await until(model, () => model.hookState('2000') === HookState.Unknown, 'unknown after the drop');
  await linkState(link, LinkState.Up);
  await until(model, () => model.hookState('2000') === HookState.Idle, 'resynced');
});

t.test('events go only to the monitors of the devices involved', async (t) => {
  const rig = await startRig({ devices: ['2000', '2001'] });
  t.teardown(() => rig.close());
  const roots: string[] = [];
  rig.link.on('message', (m) => m.root.endsWith('Event') && roots.push(m.root));
  rig.sim.core.dial('2002', '2003');
  rig.sim.core.answer('2003');
  rig.sim.core.onHook('2003');
  rig.sim.core.dial('2002', '2001');
  await until(rig.model, () => rig.model.hookState('2001') === HookState.Ringing, '2001 rings');
  t.same(roots, ['DeliveredEvent'], 'nothing about the call between unmonitored phones');
});

t.test('the simulator stops cleanly; a second start is refused; port clash is reported', async (t) => {
  const sim = new PbxSimulator();
  t.throws(() => sim.core, /not started/);
  t.throws(() => sim.csta, /not started/);
  t.throws(() => sim.address, /not started/);
  const addr = await sim.start({ cstaPort: 0, controlPort: 0, extensions: ['1'] });
  await t.rejects(sim.start({ cstaPort: 0, extensions: ['1'] }), /already started/);
  const clash = new PbxSimulator();
  await t.rejects(clash.start({ cstaPort: addr.csta.port, extensions: ['1'] }), { code: 'EADDRINUSE' });
  const link = new CtiLink({ host: '127.0.0.1', port: addr.csta.port, devices: ['1'], heartbeatIntervalMs: 0, backoff: { initialMs: 10_000 } });
  link.start();
  await linkState(link, LinkState.Up);
  await sim.stop();
  await linkState(link, LinkState.Backoff);
  await link.stop();
});

t.test('switchhook sim: starts on the given ports, stops on abort', async (t) => {
  let out = '';
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
  const ac = new AbortController();
  const done = runSim(['--csta-port', '0', '--control-port', '0', '--extensions', '3000-3009', '--edition', 'ed5', '--bring-up', 'systemRegister', '--system-status-ms', '0'], io, ac.signal);
  const deadline = Date.now() + 10_000;
  while (!out.includes('control on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const m = /control on (http:\/\/[\d.]+:\d+)/.exec(out);
  t.ok(m, out);
  const phones = (await (await fetch(`${m![1]}/phones`)).json()) as unknown[];
  t.equal(phones.length, 10);
  ac.abort();
  t.equal(await done, 0);
  t.match(out, /stopped/);
  await t.rejects(runSim(['--csta-port', 'x'], io, ac.signal), RangeError);
  await t.rejects(runSim(['--bring-up', 'x'], io, ac.signal), RangeError);
  await t.rejects(runSim(['--system-status-ms=1.5'], io, ac.signal), RangeError);
  await t.rejects(runSim(['--bogus'], io, ac.signal));
  let usage = '';
  t.equal(await main(['sim', '--help'], { out: (s) => void (usage += s), err: () => undefined }), 0);
  t.match(usage, /--csta-port/);
});
