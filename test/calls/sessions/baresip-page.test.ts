import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { ComputerInterfaces, ConcurrentSessions, OpenOn, SessionState } from '../../../src/calls/sessions/index.js';
import { MsrpRelay } from '../../../src/media/msrp/index.js';
import { Registrar, SipStack } from '../../../src/sip/index.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { MetricsRegistry } from '../../../src/util/metrics.js';
import { startRig } from '../../helpers/cti.js';
import { freeTcpPort } from '../../helpers/peers.js';
import { freePort } from '../../sip/helpers/sipp.js';
import { ChatClient } from '../helpers/chat-client.js';

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('baresip as a desktop client without MSRP: the chat runs as page-mode MESSAGEs beside the call', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sessions-baresip-'));
  const store = new SqliteStore(dir);
  const rig = await startRig({ extensions: ['2000', '2001'] });
  const metrics = new MetricsRegistry();
  const sip = new SipStack({ listen: ['udp:127.0.0.1:0'], metrics });
  const registrar = new Registrar();
  sip.use('REGISTER', registrar.middleware());
  const relay = new MsrpRelay({ metrics });
  const sessions = new ConcurrentSessions({
    model: rig.model, sip, clients: new ComputerInterfaces({ domain: '127.0.0.1', registrar }), store, relay, metrics, openOn: OpenOn.Connected,
  });
  const [addr] = await sip.start();
  await relay.start();
  await sessions.start();
  await sessions.settings.put('2001', { chat: 'page' });
  const a = new ChatClient('2000', '127.0.0.1');
  await a.start();
  t.equal(await a.register(addr!.port), 200);

  const bdir = mkdtempSync(join(tmpdir(), 'sh-baresip-'));
  const sipPort = await freePort();
  const ctrlPort = await freeTcpPort();
  writeFileSync(join(bdir, 'config'), [
    'poll_method epoll', `sip_listen 127.0.0.1:${sipPort}`, 'net_interface 127.0.0.1', 'net_prefer_ipv6 no',
    'module_path /usr/lib/baresip/modules', 'module stdio.so', // prints received MESSAGEs
    'module ctrl_tcp.so', `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
    'module_app account.so', 'module_app contact.so', 'module_app menu.so',
    'audio_player none', 'audio_source none', 'audio_alert none', '',
  ].join('\n'));
  writeFileSync(join(bdir, 'accounts'), `<sip:2001@127.0.0.1:${addr!.port}>;regint=600;pubint=0\n`);
  writeFileSync(join(bdir, 'contacts'), `"2000" <sip:2000@127.0.0.1:${addr!.port}>\n`);
  writeFileSync(join(bdir, 'current_contact'), `sip:2000@127.0.0.1:${addr!.port}`);
  // stdbuf -oL: baresip's stdout is a pipe here; line buffering lets the test read what it prints (stdbuf execs baresip: same PID).
  const child = spawn('stdbuf', ['-oL', 'baresip', '-f', bdir, '-v'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(async () => {
    if (child.pid && child.exitCode === null) {
      process.kill(child.pid, 'SIGTERM');
      const k = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(k);
    }
    await sessions.close();
    await a.close();
    await relay.close();
    await sip.close();
    registrar.close();
    await rig.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(bdir, { recursive: true, force: true });
  });
  await until(() => registrar.lookup('sip:2001@127.0.0.1').length === 1, `baresip registered: ${out.slice(-2000)}`);

  const sw = rig.sim.core;
  sw.dial('2001', '2000');
  sw.answer('2000');
  await until(() => sessions.sessions().some((s) => s.state === SessionState.Established), 'established');
  await until(() => /Chat beside the call with 2000/.test(out), `baresip got the opening MESSAGE: ${out.slice(-2000)}`);
  await until(() => a.msrp !== undefined, 'A\'s MSRP connection');
  await a.say('hello baresip');
  await until(() => /hello baresip/.test(out), `MSRP -> MESSAGE reached baresip: ${out.slice(-2000)}`);

  const ctrl = createConnection({ host: '127.0.0.1', port: ctrlPort });
  ctrl.on('error', () => undefined);
  t.teardown(() => ctrl.destroy());
  await new Promise<void>((r) => ctrl.once('connect', () => r()));
  const json = JSON.stringify({ command: 'message', params: 'hello from baresip', token: 'm' });
  ctrl.write(`${Buffer.byteLength(json)}:${json},`);
  await a.until(() => a.received.some((m) => m.body === 'hello from baresip'), 'MESSAGE -> MSRP at A', 20_000);
  t.pass('page-mode MESSAGE from baresip reached the MSRP client through the relay');
  t.match(metrics.render(), /switchhook_sessions_page_messages_total\{direction="fromMsrp",result="delivered"\} 1/);
  // A's 200 to the SEND travels back before the relay counts the delivery.
  await until(() => /switchhook_sessions_page_messages_total\{direction="toMsrp",result="delivered"\} 1/.test(metrics.render()), 'toMsrp counted');
  sw.onHook('2000');
  await a.until(() => a.byes.includes('bye'), 'BYE at A');
});
