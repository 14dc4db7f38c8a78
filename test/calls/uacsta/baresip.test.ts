import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { OwnershipTable, CallControl } from '../../../src/calls/control/index.js';
import { ReferTransfers } from '../../../src/calls/uacsta/index.js';
import { HookState } from '../../../src/model/index.js';
import { Notifier } from '../../../src/sip/subscription/notifier.js';
import { SipStack } from '../../../src/sip/ua/stack.js';
import { startRig, until } from '../../helpers/cti.js';
import { freeTcpPort, freeUdpPort } from '../../helpers/peers.js';
import { writeBaresipConfig } from '../../helpers/baresip.js';

/** ctrl_tcp: netstring-framed JSON commands (baresip modules/ctrl_tcp). */
function ctrlCommand(sock: Socket, command: string, params = ''): void {
  const json = JSON.stringify({ command, params, token: command });
  sock.write(`${Buffer.byteLength(json)}:${json},`);
}

async function poll(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

t.test('baresip /transfer: REFER inside its call to the daemon transfers the desk phone call', async (t) => {
  const rig = await startRig({ extensions: ['2000', '2001', '2002'] });
  t.teardown(() => rig.close());
  const { sim, model } = rig;
  const stack = new SipStack({ listen: ['udp:127.0.0.1:0'], userAgent: 'switchhook' });
  const [addr] = await stack.start();
  t.teardown(() => stack.close());
  const control = new CallControl({
    link: rig.link,
    model,
    ownership: new OwnershipTable({ users: [{ user: 'alice', phones: ['2000'], aors: [`sip:alice@127.0.0.1`] }] }),
  });
  t.teardown(() => control.close());
  const notifier = new Notifier(stack.ua);
  t.teardown(() => notifier.close());
  const refers = new ReferTransfers({ ua: stack.ua, notifier, control, model });
  // The desktop client's own call to the daemon (a plain INVITE: answered with its offer, no media here).
  stack.use('INVITE', (req, res) => res.send(200, { body: req.body, contentType: 'application/sdp' }));

  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, 'ringing');
  sim.core.offHook('2000');
  await until(model, () => model.hookState('2000') === HookState.Talking, 'talking');

  const dir = mkdtempSync(join(tmpdir(), 'sh-baresip-cc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sipPort = await freeUdpPort();
  const ctrlPort = await freeTcpPort();
  writeBaresipConfig(dir, { sipPort, ctrlPort, modules: ['g711'], appModules: ['account', 'menu'] });
  writeFileSync(join(dir, 'accounts'), `<sip:alice@127.0.0.1>;regint=0;pubint=0\n`);
  const child = spawn('baresip', ['-f', dir, '-v'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  t.teardown(() => {
    if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  });
  let ctrl: Socket | undefined;
  for (let i = 0; i < 100 && !ctrl; i++) {
    ctrl = await new Promise<Socket | undefined>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port: ctrlPort });
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(undefined));
    });
    if (!ctrl) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(ctrl, 'ctrl_tcp up');
  t.teardown(() => ctrl?.destroy());
  ctrl!.on('error', () => undefined);
  ctrlCommand(ctrl!, 'dial', `sip:2000@127.0.0.1:${addr!.port}`);
  const up = await poll(() => stack.ua.dialogs.size === 1, 20_000);
  t.ok(up, up ? 'baresip call to the daemon established' : `no call: ${out.slice(-2000)}`);
  t.ok(await poll(() => /established/i.test(out), 10_000), 'baresip sees the call established');
  ctrlCommand(ctrl!, 'transfer', `sip:2002@127.0.0.1:${addr!.port}`);
  await until(model, () => model.hookState('2002') === HookState.Ringing && model.hookState('2000') === HookState.Idle, 'REFER transferred 2000 to 2002', 20_000);
  t.equal(model.hookState('2001'), HookState.Ringback, 'the caller now hears 2002 ringing');
  t.ok(await poll(() => refers.inProgress === 0, 5000));
});
