import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { DigestServer } from '../../../src/sip/auth/digest.js';
import { Registrar } from '../../../src/sip/registrar/registrar.js';
import { Notifier } from '../../../src/sip/subscription/notifier.js';
import { SipStack } from '../../../src/sip/ua/stack.js';
import { freeTcpPort, freeUdpPort } from '../../helpers/peers.js';
import { writeBaresipConfig } from '../../helpers/baresip.js';

/** Wait until `check` is true, polling; fails the wait after `ms`. */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** ctrl_tcp: netstring-framed JSON commands (baresip modules/ctrl_tcp). */
function ctrlCommand(sock: Socket, command: string, params = ''): void {
  const json = JSON.stringify({ command, params, token: command });
  sock.write(`${Buffer.byteLength(json)}:${json},`);
}

t.test('baresip registers (digest), subscribes to presence and sends MESSAGE', async (t) => {
  const stack = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  const [addr] = await stack.start();
  t.teardown(() => stack.close());
  const port = addr!.port;
  const registrar = new Registrar({
    // baresip 1.0's libre fails the whole challenge (ENOSYS) when one WWW-Authenticate uses an algorithm it
    // lacks, instead of skipping it as RFC 8760 section 2.4 asks; so this registrar offers MD5 only.
    auth: new DigestServer({ realm: 'switchhook', algorithms: ['MD5'], lookup: (u) => (u === 'alice' ? { password: 's3cret' } : undefined) }),
  });
  t.teardown(() => registrar.close());
  stack.use('REGISTER', registrar.middleware());
  const notifier = new Notifier(stack.ua, {
    packages: [{
      name: 'presence',
      accept: ['application/pidf+xml'],
      body: (s) => ({
        contentType: 'application/pidf+xml',
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:${s.resource}"><tuple id="t1"><status><basic>open</basic></status><note>on-the-phone</note></tuple></presence>\n`,
      }),
    }],
  });
  t.teardown(() => notifier.close());
  const messages: string[] = [];
  stack.use('MESSAGE', (req, res) => {
    messages.push(req.body.toString());
    res.send(200);
  });

  const dir = mkdtempSync(join(tmpdir(), 'sh-baresip-'));
  const sipPort = await freeUdpPort();
  const ctrlPort = await freeTcpPort();
  writeBaresipConfig(dir, { sipPort, ctrlPort, appModules: ['account', 'contact', 'menu', 'presence'] });
  writeFileSync(join(dir, 'accounts'), `<sip:alice@127.0.0.1:${port}>;auth_pass=s3cret;regint=600;pubint=0\n`);
  writeFileSync(join(dir, 'contacts'), `"Bob" <sip:bob@127.0.0.1:${port}>;presence=p2p\n`);
  writeFileSync(join(dir, 'current_contact'), `sip:bob@127.0.0.1:${port}`);
  const child = spawn('baresip', ['-f', dir, '-v'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  t.teardown(() => {
    if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  });

  t.ok(await until(() => registrar.lookup('sip:alice@127.0.0.1').length === 1, 20_000), `baresip registered: ${out.slice(-3000)}`);
  t.ok(await until(() => notifier.subscriptions('bob@127.0.0.1', 'presence').length === 1, 20_000), 'baresip subscribed to presence');

  const ctrl = createConnection({ host: '127.0.0.1', port: ctrlPort });
  let ctrlOut = '';
  ctrl.on('data', (d: Buffer) => (ctrlOut += d.toString()));
  ctrl.on('error', () => undefined);
  await new Promise<void>((r) => ctrl.once('connect', () => r()));
  ctrlCommand(ctrl, 'message', 'hello from baresip');
  t.ok(await until(() => messages.length === 1, 15_000), `MESSAGE arrived: ${ctrlOut}`);
  t.equal(messages[0], 'hello from baresip');
  t.ok(await until(() => stack.ua.metrics.counter('switchhook_sip_notify_total', '').get({ event: 'presence', status: '200' }) >= 1, 10_000), 'baresip answered our presence NOTIFY with 200');
  ctrlOut = '';
  ctrlCommand(ctrl, 'contacts');
  t.ok(await until(() => /"token":"contacts"/.test(ctrlOut), 5000), 'ctrl_tcp answered');
  t.match(ctrlOut, /Online/i, `baresip shows bob Online from our PIDF: ${ctrlOut}`);
  ctrl.destroy();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  t.match(out, /alice@127\.0\.0\.1: \{0\/UDP\/v4\} 200 OK/, 'baresip logged its registration as 200 OK');
});
