import t from 'tap';

import { validateConfig } from '../../src/daemon/config.js';
import { DaemonState, Switchhook } from '../../src/daemon/switchhook.js';
import { setLogLevel } from '../../src/util/log.js';
import { daemonOnSimulator, dataDir, nextChange } from '../helpers/daemon.js';

setLogLevel('silent');

t.test('daemon against the simulator: devices, hook changes, admin API, link loss and resync', async (t) => {
  const { sim, daemon, base } = await daemonOnSimulator(t, ['2000', '2001', '2002'], {
    cti: { reconnectMinMs: 50, reconnectMaxMs: 200 },
    admin: { host: '127.0.0.1', port: 0 },
  });
  t.equal(daemon.state, DaemonState.Running);

  t.same(
    daemon.devices().map((d) => [d.device, d.state]),
    [
      ['2000', 'idle'],
      ['2001', 'idle'],
      ['2002', 'idle'],
    ],
  );

  const offHook = nextChange(daemon, (c) => c.device === '2001' && c.newState === 'offHook');
  sim.core.offHook('2001');
  await offHook;
  const ringing = nextChange(daemon, (c) => c.device === '2002' && c.newState === 'ringing');
  sim.core.dial('2001', '2002');
  const ring = await ringing;
  t.equal(ring.remote, '2001');

  let r = await fetch(`${base}/api/devices/2002`);
  t.match(await r.json(), { device: '2002', state: 'ringing' });
  r = await fetch(`${base}/api/devices`);
  t.equal(((await r.json()) as unknown[]).length, 3);
  r = await fetch(`${base}/api/devices/9999`);
  t.equal(r.status, 404);
  r = await fetch(`${base}/healthz`);
  t.match(await r.json(), { status: 'ok', cti: 'up', state: 'running' });
  r = await fetch(`${base}/metrics`);
  t.match(await r.text(), /switchhook_model_changes_total/);

  // The link drops mid-call: every device goes unknown, then back to its real state from the snapshot.
  const unknown = nextChange(daemon, (c) => c.device === '2002' && c.newState === 'unknown');
  const back = nextChange(daemon, (c) => c.device === '2002' && c.oldState === 'unknown');
  sim.csta.dropLinks();
  await unknown;
  r = await fetch(`${base}/healthz`);
  t.match(await r.json(), { status: 'degraded' });
  const resynced = await back;
  t.equal(resynced.newState, 'ringing', 'resynced from SnapshotDevice');
  await daemon.whenLinkUp();

  await daemon.stop();
  t.equal(daemon.state, DaemonState.Stopped);
  await daemon.stop();
  await t.rejects(daemon.start(), /cannot start a daemon that is stopped/);
});

t.test('a SIP-only daemon has no CTI link', async (t) => {
  const daemon = new Switchhook(validateConfig({ admin: null, data: dataDir(), log: 'silent' }));
  t.teardown(() => daemon.stop());
  const addr = await daemon.start();
  t.same(addr, {});
  t.throws(() => daemon.cti, { code: 'CTI_ERR_NOT_CONFIGURED' });
  t.same(daemon.devices(), []);
  t.ok(daemon.store.kind === 'sqlite');
});

t.test('a start that cannot bind its admin port fails cleanly', async (t) => {
  const first = new Switchhook(validateConfig({ admin: { host: '127.0.0.1', port: 0 }, data: dataDir(), log: 'silent' }));
  const addr = await first.start();
  t.teardown(() => first.stop());
  const second = new Switchhook(validateConfig({ admin: { host: '127.0.0.1', port: addr.admin!.port }, data: dataDir(), log: 'silent' }));
  await t.rejects(second.start(), { code: 'EADDRINUSE' });
  t.equal(second.state, DaemonState.Stopped);
});
