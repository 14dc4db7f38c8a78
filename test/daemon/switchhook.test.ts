import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { validateConfig } from '../../src/daemon/config.js';
import { DaemonState, Switchhook } from '../../src/daemon/switchhook.js';
import type { DeviceChange } from '../../src/model/index.js';
import { PbxSimulator } from '../../src/sim/index.js';
import { setLogLevel } from '../../src/util/log.js';

setLogLevel('silent');

function dataDir(): string {
  return mkdtempSync(join(tmpdir(), 'switchhook-daemon-'));
}

/** Resolves with the first change for which `pred` holds. */
function nextChange(daemon: Switchhook, pred: (c: DeviceChange) => boolean, timeoutMs = 20000): Promise<DeviceChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      daemon.off('device', on);
      reject(new Error('no matching device change'));
    }, timeoutMs);
    const on = (c: DeviceChange): void => {
      if (!pred(c)) return;
      clearTimeout(timer);
      daemon.off('device', on);
      resolve(c);
    };
    daemon.on('device', on);
  });
}

t.test('daemon against the simulator: devices, hook changes, admin API, link loss and resync', async (t) => {
  const sim = new PbxSimulator();
  const simAddr = await sim.start({ cstaPort: 0, extensions: ['2000', '2001', '2002'] });
  t.teardown(() => sim.stop());
  const daemon = new Switchhook(
    validateConfig({
      cti: { host: '127.0.0.1', port: simAddr.csta.port, devices: ['2000-2002'], reconnectMinMs: 50, reconnectMaxMs: 200 },
      admin: { host: '127.0.0.1', port: 0 },
      data: dataDir(),
      log: 'silent',
    }),
  );
  t.teardown(() => daemon.stop());
  const addr = await daemon.start();
  t.equal(daemon.state, DaemonState.Running);
  await daemon.whenLinkUp();
  const base = `http://127.0.0.1:${addr.admin!.port}`;

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
