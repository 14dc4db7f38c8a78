import t from 'tap';

import { registerCallControlRoutes } from '../../../src/calls/control/index.js';
import { HookState } from '../../../src/model/index.js';
import { JsonHttpServer } from '../../../src/util/http.js';
import { startControlRig, until } from './helpers.js';

t.test('admin API: hold, retrieve, answer on another phone, forward, dnd, dial with progress, transfer, problems', async (t) => {
  const rig = await startControlRig();
  const http = new JsonHttpServer('admin');
  registerCallControlRoutes(http, rig.control, { principal: 'ops' });
  const addr = await http.listen('127.0.0.1', 0);
  const denied = new JsonHttpServer('admin2');
  registerCallControlRoutes(denied, rig.control, { principal: 'mallory' });
  const addr2 = await denied.listen('127.0.0.1', 0);
  t.teardown(async () => {
    await http.close();
    await denied.close();
    await rig.close();
  });
  const { sim, model } = rig;
  const call = async (method: string, path: string, body?: unknown, port = addr.port) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type'), json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };

  const dial = await call('POST', '/api/phones/2000/dial', { to: '2001' });
  t.equal(dial.status, 202);
  const id = dial.json!['id'] as string;
  t.equal(dial.json!['location'], `/api/requests/${id}`);
  await until(model, () => model.hookState('2001') === HookState.Ringing, '2001 ringing');
  sim.core.offHook('2001');
  await until(model, () => model.hookState('2000') === HookState.Talking, 'talking');
  const progress = await call('GET', `/api/requests/${id}`);
  t.equal(progress.json!['state'], 'connected');
  t.same((progress.json!['progress'] as Array<{ step: string }>).map((p) => p.step).filter((s, i, a) => a.indexOf(s) === i), ['initiated', 'ringing', 'connected']);
  t.equal((await call('GET', '/api/requests/nope')).status, 404);

  t.equal((await call('POST', '/api/phones/2000/hold', {})).status, 200);
  await until(model, () => model.hookState('2000') === HookState.Held, 'held');
  t.equal((await call('POST', '/api/phones/2000/retrieve')).status, 200);
  await until(model, () => model.hookState('2000') === HookState.Talking, 'retrieved');
  const st = await call('GET', '/api/phones/2000');
  t.equal(st.json!['state'], 'talking');

  const conflict = await call('POST', '/api/phones/2000/retrieve');
  t.equal(conflict.status, 409);
  t.equal(conflict.type, 'application/problem+json');
  t.equal(conflict.json!['code'], 'CALL_ERR_NO_SUITABLE_CALL');

  const refused = await call('POST', '/api/phones/2000/transfer', { to: '7777' });
  t.equal(refused.status, 422);
  t.same(refused.json!['cause'], { code: 'CTI_ERR_CSTA_OPERATION', message: (refused.json!['cause'] as { message: string }).message, category: 'operation', value: 'invalidDestination' });
  t.equal((await call('POST', '/api/phones/2000/transfer', { to: '2002', mode: 'sideways' })).status, 400);
  t.equal((await call('POST', '/api/phones/2000/transfer', { to: '2002' })).status, 200);
  await until(model, () => model.hookState('2002') === HookState.Ringing, 'transferred');
  t.equal((await call('POST', '/api/phones/2002/answer', { on: '2003' })).status, 200);
  await until(model, () => model.hookState('2003') === HookState.Talking, 'answered on 2003');
  t.equal((await call('POST', '/api/phones/2003/clear')).status, 200);

  const fwd = await call('POST', '/api/phones/2000/forward', { type: 'forwardNoAns', to: 'sip:alice-soft@example.com', on: true });
  t.same(fwd.json, { type: 'forwardNoAns', on: true, to: '2099' });
  t.equal((await call('POST', '/api/phones/2000/forward', { on: 'yes' })).status, 400);
  t.equal((await call('POST', '/api/phones/2000/forward', { to: 'sip:x@y', on: true })).status, 422);
  t.equal((await call('POST', '/api/phones/2000/dnd', { on: true })).status, 200);
  t.equal((await call('POST', '/api/phones/2000/deflect', {})).status, 400);
  t.equal((await call('POST', '/api/phones/2000/deflect', { to: '2001' })).status, 409);
  t.equal((await call('POST', '/api/phones/4711/hold')).status, 404);
  t.equal((await call('POST', '/api/phones/2000/hold', [1])).status, 400);
  t.equal((await call('POST', '/api/phones/2000/hold', {}, addr2.port)).status, 403, 'not an admin principal');
});
