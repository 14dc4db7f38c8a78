/**
 * baresip as a presence watcher of the daemon (baresip `presence.so`, contact `;presence=p2p`): it shows
 * extension 2001 busy while the phone is in use (RPID on-the-phone) and online again on hook. The state is
 * read from baresip's `ctrl_tcp` `contacts` command.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { validateConfig } from '../../src/daemon/config.js';
import { Switchhook } from '../../src/daemon/switchhook.js';
import { PbxSimulator } from '../../src/sim/index.js';
import { setLogLevel } from '../../src/util/log.js';
import { freeTcpPort, freeUdpPort } from '../helpers/peers.js';
import { writeBaresipConfig } from '../helpers/baresip.js';

setLogLevel('silent');

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** ctrl_tcp: netstring-framed JSON commands (baresip modules/ctrl_tcp). */
function ctrlCommand(sock: Socket, command: string): void {
  const json = JSON.stringify({ command, params: '', token: command });
  sock.write(`${Buffer.byteLength(json)}:${json},`);
}

t.test('baresip shows extension 2001 busy and free', async (t) => {
  const sim = new PbxSimulator();
  const simAddr = await sim.start({ cstaPort: 0, extensions: ['2001', '2002'] });
  t.teardown(() => sim.stop());
  const daemon = new Switchhook(
    validateConfig({
      cti: { host: '127.0.0.1', port: simAddr.csta.port, devices: ['2001-2002'], reconnectMinMs: 50, reconnectMaxMs: 200 },
      sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }], domain: '127.0.0.1' },
      admin: null,
      data: mkdtempSync(join(tmpdir(), 'sh-presence-baresip-')),
      log: 'silent',
    }),
  );
  t.teardown(() => daemon.stop());
  const addr = await daemon.start();
  await daemon.whenLinkUp();
  const port = addr.sip![0]!.port;

  const dir = mkdtempSync(join(tmpdir(), 'sh-baresip-presence-'));
  const sipPort = await freeUdpPort();
  const ctrlPort = await freeTcpPort();
  writeBaresipConfig(dir, { sipPort, ctrlPort, appModules: ['account', 'contact', 'menu', 'presence'] });
  writeFileSync(join(dir, 'accounts'), `<sip:watcher@127.0.0.1:${sipPort}>;regint=0;pubint=0\n`);
  writeFileSync(join(dir, 'contacts'), `"Desk 2001" <sip:2001@127.0.0.1:${port}>;presence=p2p\n`);
  const child = spawn('baresip', ['-f', dir, '-v'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  t.teardown(() => {
    if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  });
  const presence = daemon.presence!;
  t.ok(await until(() => presence.subscriptions().some((s) => s.event === 'presence' && s.device === '2001'), 30_000), `baresip subscribed: ${out.slice(-2000)}`);
  const answered = (): number => daemon.metrics.counter('switchhook_sip_notify_total', '').get({ event: 'presence', status: '200' });
  t.ok(await until(() => answered() >= 1, 15_000), 'baresip answered the first NOTIFY');

  const ctrl = createConnection({ host: '127.0.0.1', port: ctrlPort });
  let ctrlOut = '';
  ctrl.on('data', (d: Buffer) => (ctrlOut += d.toString()));
  ctrl.on('error', () => undefined);
  await new Promise<void>((r) => ctrl.once('connect', () => r()));
  t.teardown(() => ctrl.destroy());
  const status = async (): Promise<string> => {
    ctrlOut = '';
    ctrlCommand(ctrl, 'contacts');
    await until(() => /"token":"contacts"/.test(ctrlOut), 5000);
    return ctrlOut;
  };
  const waitStatus = async (re: RegExp): Promise<string> => {
    let last = '';
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      last = await status();
      if (re.test(last)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return last;
  };
  t.match(await waitStatus(/Online/i), /Online/i, 'free while on hook');
  const before = answered();
  sim.core.offHook('2001');
  t.ok(await until(() => answered() > before, 15_000));
  t.match(await waitStatus(/Busy/i), /Busy/i, 'busy while off hook');
  const busyCount = answered();
  sim.core.onHook('2001');
  t.ok(await until(() => answered() > busyCount, 15_000));
  t.match(await waitStatus(/Online/i), /Online/i, 'free again on hook');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
});
