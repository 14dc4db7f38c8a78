/** The admin API with bearer tokens (RFC 6750): who may call what, and what a caller without a token gets. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { validateConfig } from '../../src/daemon/config.js';
import { Switchhook } from '../../src/daemon/switchhook.js';
import { setLogLevel } from '../../src/util/log.js';
import { daemonOnSimulator, dataDir } from '../helpers/daemon.js';

setLogLevel('silent');

const opsToken = 'ops-0123456789abcdef';
const aliceToken = 'alice-fedcba9876543210';

t.test('tokens name principals: admins use every route, a user only the call routes of its phones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-tokens-'));
  writeFileSync(join(dir, 'alice.token'), `${aliceToken}\n`);
  const { daemon, base } = await daemonOnSimulator(t, ['2000', '2001'], {
    admin: { host: '127.0.0.1', port: 0, tokens: [{ principal: 'ops', token: opsToken }, { principal: 'alice', tokenFile: join(dir, 'alice.token') }] },
    callControl: { adminPrincipal: 'ops', admins: ['ops'], users: [{ user: 'alice', phones: ['2000'], aors: ['sip:alice@pbx.example'] }] },
  });
  const as = (token: string | undefined, method = 'GET', body?: unknown): RequestInit => ({
    method,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

  t.equal((await fetch(`${base}/healthz`)).status, 200, 'liveness needs no token');

  const none = await fetch(`${base}/api/devices`);
  t.equal(none.status, 401);
  t.equal(none.headers.get('www-authenticate'), 'Bearer realm="admin"');
  t.match(await none.json(), { status: 401, code: 'HTTP_ERR_NO_TOKEN' });
  const wrong = await fetch(`${base}/api/devices`, as('not-a-valid-token-at-all'));
  t.equal(wrong.status, 401);
  t.match(wrong.headers.get('www-authenticate'), /error="invalid_token"/);
  t.equal((await fetch(`${base}/api/devices`, { headers: { authorization: `Basic ${Buffer.from('ops:x').toString('base64')}` } })).status, 401, 'only the Bearer scheme');

  t.equal((await fetch(`${base}/api/devices`, as(opsToken))).status, 200, 'the admin lists devices');
  const userList = await fetch(`${base}/api/devices`, as(aliceToken));
  t.equal(userList.status, 403, 'a user may not');
  t.match(await userList.json(), { code: 'HTTP_ERR_NOT_ADMIN' });

  t.equal((await fetch(`${base}/api/phones/2000`, as(aliceToken))).status, 200, "alice reads her own phone");
  const foreign = await fetch(`${base}/api/phones/2001`, as(aliceToken));
  t.equal(foreign.status, 403, "but not bob's");
  t.match(await foreign.json(), { code: 'CALL_ERR_NOT_OWNER' });
  t.equal((await fetch(`${base}/api/phones/2001`, as(opsToken))).status, 200, 'the admin reads any phone');

  // Alice dials from her phone and follows the request; the admin may follow it too.
  const dial = await fetch(`${base}/api/phones/2000/dial`, as(aliceToken, 'POST', { to: '2001' }));
  t.equal(dial.status, 202);
  const { id } = (await dial.json()) as { id: string };
  t.equal((await fetch(`${base}/api/requests/${id}`, as(aliceToken))).status, 200);
  t.equal((await fetch(`${base}/api/requests/${id}`, as(opsToken))).status, 200);
  t.equal((await fetch(`${base}/api/phones/2001/dnd`, as(aliceToken, 'POST', { on: true }))).status, 403, "alice may not set bob's DND");
  t.ok(daemon.callControl);
  const metrics = await (await fetch(`${base}/metrics`, as(opsToken))).text();
  t.match(metrics, /switchhook_admin_http_errors_total\{status="401"\} 3/, 'refusals are counted');
});

t.test('an unreadable or malformed token file stops the start with a clear error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-tokens-'));
  writeFileSync(join(dir, 'short.token'), 'abc\n');
  for (const [file, why] of [
    [join(dir, 'missing.token'), /cannot read the token file of 'ops'/],
    [join(dir, 'short.token'), /must hold one token of at least 16 characters/],
  ] as const) {
    const daemon = new Switchhook(validateConfig({ admin: { host: '127.0.0.1', port: 0, tokens: [{ principal: 'ops', tokenFile: file }] }, data: dataDir(), log: 'silent' }));
    await t.rejects(daemon.start(), { code: 'CONFIG_ERR_INVALID', message: why });
  }
});
