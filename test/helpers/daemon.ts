/** A config-built daemon against an in-process PBX simulator, the set-up every daemon test shares. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { validateConfig } from '../../src/daemon/config.js';
import { Switchhook, type SwitchhookAddresses } from '../../src/daemon/switchhook.js';
import type { DeviceChange } from '../../src/model/index.js';
import { PbxSimulator } from '../../src/sim/index.js';

/** What a test needs to tear down: tap's `t.teardown`. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A running simulator and a daemon whose CTI link to it is up. */
export interface DaemonRig {
  sim: PbxSimulator;
  daemon: Switchhook;
  addr: SwitchhookAddresses;
  /** `http://host:port` of the admin listener (when configured). */
  base: string;
}

/** A fresh data folder for a daemon. */
export function dataDir(): string {
  return mkdtempSync(join(tmpdir(), 'switchhook-daemon-'));
}

/**
 * Start a simulator with `extensions`, then a daemon monitoring them with `config` on top (its `cti` keys
 * merge into the link's), and wait for the link; both stop at the test's teardown.
 */
export async function daemonOnSimulator(t: Teardown, extensions: string[], config: Record<string, unknown> = {}): Promise<DaemonRig> {
  const sim = new PbxSimulator();
  const simAddr = await sim.start({ cstaPort: 0, extensions });
  t.teardown(() => sim.stop());
  const { cti, ...rest } = config as { cti?: Record<string, unknown> };
  const daemon = new Switchhook(
    validateConfig({
      data: dataDir(),
      log: 'silent',
      ...rest,
      cti: { host: '127.0.0.1', port: simAddr.csta.port, devices: extensions, ...cti },
    }),
  );
  t.teardown(() => daemon.stop());
  const addr = await daemon.start();
  await daemon.whenLinkUp();
  return { sim, daemon, addr, base: addr.admin ? `http://127.0.0.1:${addr.admin.port}` : '' };
}

/** Resolves with the daemon's first device change for which `pred` holds. */
export function nextChange(daemon: Switchhook, pred: (c: DeviceChange) => boolean, timeoutMs = 20_000): Promise<DeviceChange> {
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
