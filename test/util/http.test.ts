import t from 'tap';

import { HttpProblem, JsonHttpServer } from '../../src/util/http.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { SwitchhookError } from '../../src/util/errors.js';

t.test('routes, params, JSON bodies and problem details', async (t) => {
  const metrics = new MetricsRegistry();
  const server = new JsonHttpServer('test', metrics)
    .route('GET', '/things/:id', (req) => ({ json: { id: req.params['id'], q: req.query.get('q') } }))
    .route('POST', '/things', (req) => ({ status: 201, json: { got: req.body } }))
    .route('GET', '/text', () => ({ text: 'hello', contentType: 'text/plain' }))
    .route('POST', '/empty', () => ({}))
    .route('GET', '/teapot', () => {
      throw new HttpProblem(418, "I'm a teapot", 'short and stout');
    })
    .route('GET', '/boom', () => {
      throw new Error('kaput');
    })
    .route('GET', '/cause', () => {
      throw Object.assign(new SwitchhookError('CTI_ERR_INVALID_CALL', 'no such call'), { httpStatus: 404 });
    });
  const addr = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${addr.port}`;

  let r = await fetch(`${base}/things/a%20b?q=1`);
  t.same(await r.json(), { id: 'a b', q: '1' });
  r = await fetch(`${base}/things`, { method: 'POST', body: JSON.stringify({ x: 1 }) });
  t.equal(r.status, 201);
  t.same(await r.json(), { got: { x: 1 } });
  r = await fetch(`${base}/text`);
  t.equal(await r.text(), 'hello');
  r = await fetch(`${base}/empty`, { method: 'POST' });
  t.equal(r.status, 204);

  r = await fetch(`${base}/things`, { method: 'POST', body: '{nope' });
  t.equal(r.status, 400);
  t.equal(r.headers.get('content-type'), 'application/problem+json');
  t.match(await r.json(), { status: 400, detail: /not JSON/ });
  r = await fetch(`${base}/nowhere`);
  t.equal(r.status, 404);
  r = await fetch(`${base}/things`, { method: 'DELETE' });
  t.equal(r.status, 405);
  r = await fetch(`${base}/teapot`);
  t.match(await r.json(), { status: 418, title: "I'm a teapot", detail: 'short and stout' });
  r = await fetch(`${base}/boom`);
  t.equal(r.status, 500);
  r = await fetch(`${base}/cause`);
  t.match(await r.json(), { status: 404, code: 'CTI_ERR_INVALID_CALL', cause: { code: 'CTI_ERR_INVALID_CALL' } });
  r = await fetch(`${base}/things`, { method: 'POST', body: 'x'.repeat((1 << 20) + 1) });
  t.equal(r.status, 413);

  t.ok(metrics.counter('switchhook_test_http_errors_total', '').total() >= 6);
});
