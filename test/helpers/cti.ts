/** Shared helpers for the CTI, model and simulator tests: a simulator, a link bound to a model, waits. */
import { once } from 'node:events';

import { BringUpVariant, CtiLink, LinkState, type CtiLinkOptions } from '../../src/cti/index.js';
import { PbxModel, bindLinkToModel, type DeviceChange } from '../../src/model/index.js';
import { PbxSimulator, type PbxSimulatorOptions } from '../../src/sim/index.js';

export interface Rig {
  sim: PbxSimulator;
  link: CtiLink;
  model: PbxModel;
  changes: DeviceChange[];
  close(): Promise<void>;
}

/** Starts a simulator with `extensions` and a link monitoring `devices`, waits until the link is up. */
export async function startRig(
  opts: { extensions?: string[]; devices?: string[]; sim?: Partial<PbxSimulatorOptions>; link?: Partial<CtiLinkOptions> } = {},
): Promise<Rig> {
  const extensions = opts.extensions ?? ['2000', '2001', '2002', '2003'];
  const sim = new PbxSimulator();
  const addr = await sim.start({ cstaPort: 0, extensions, systemStatusIntervalMs: 0, ...opts.sim });
  const link = new CtiLink({
    host: '127.0.0.1',
    port: addr.csta.port,
    devices: opts.devices ?? extensions,
    bringUp: BringUpVariant.SystemRegister,
    registration: { address: 'sip:switchhook@127.0.0.1:5060' },
    requestTimeoutMs: 10_000,
    heartbeatIntervalMs: 0,
    backoff: { initialMs: 20, maxMs: 200 },
    ...opts.link,
  });
  const model = new PbxModel();
  bindLinkToModel(link, model);
  const changes: DeviceChange[] = [];
  model.onChange((c) => changes.push(c));
  const up = once(link, 'up');
  link.start();
  await up;
  return {
    sim,
    link,
    model,
    changes,
    async close() {
      await link.stop();
      await sim.stop();
    },
  };
}

/** Resolves once `pred` holds, checking after every model change (bounded by `timeoutMs`). */
export async function until(model: PbxModel, pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  if (pred()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const off = model.onChange(() => {
      if (pred()) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

/** Resolves when the link reaches `state`. */
export async function linkState(link: CtiLink, state: LinkState, timeoutMs = 10_000): Promise<void> {
  if (link.state === state) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      link.off('state', on);
      reject(new Error(`timed out waiting for link ${state} (is ${link.state})`));
    }, timeoutMs);
    const on = (s: LinkState): void => {
      if (s !== state) return;
      clearTimeout(timer);
      link.off('state', on);
      resolve();
    };
    link.on('state', on);
  });
}
