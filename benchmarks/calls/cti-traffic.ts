/**
 * The CTI side of the routing benchmarks: a PBX simulator in this process with the users' phones, 200 caller
 * phones and the VoIP gateway number 3999, a CTI link (SystemRegister) monitoring the users and feeding a
 * model, and a dialler: callers ring random users at a steady rate, each hanging up 100 ms later.
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';

import { BringUpVariant, CtiLink } from '../../src/cti/index.js';
import { bindLinkToModel, PbxModel } from '../../src/model/index.js';
import { PbxSimulator } from '../../src/sim/index.js';

/** The gateway number the routing decisions deflect VoIP calls to. */
export const gatewayNumber = '3999';

const callers = Array.from({ length: 200 }, (_, i) => String(3000 + i));

/** A running simulator + link + model, and the dialler that loads it. */
export class CtiTraffic {
  private readonly hangUps = new Set<NodeJS.Timeout>();
  private next = 0;

  private constructor(
    readonly sim: PbxSimulator,
    readonly link: CtiLink,
    readonly model: PbxModel,
    private readonly users: readonly string[],
  ) {}

  /** Start the simulator and bring the link up monitoring `users`. */
  static async start(users: readonly string[]): Promise<CtiTraffic> {
    const sim = new PbxSimulator();
    const addr = await sim.start({ cstaPort: 0, extensions: [...users, ...callers, gatewayNumber], systemStatusIntervalMs: 0 });
    const link = new CtiLink({
      host: '127.0.0.1', port: addr.csta.port, devices: [...users], bringUp: BringUpVariant.SystemRegister,
      registration: { address: 'sip:switchhook@127.0.0.1:5060' }, requestTimeoutMs: 10_000, heartbeatIntervalMs: 0,
    });
    const model = new PbxModel();
    bindLinkToModel(link, model);
    const up = once(link, 'up');
    link.start();
    await up;
    return new CtiTraffic(sim, link, model, users);
  }

  /**
   * Dial at `rate` calls/s for `ms`; `onDial` sees each call placed and when it was dialled. A caller whose
   * previous call is still up skips its slot.
   */
  async drive(rate: number, ms: number, onDial?: (callId: string, at: number) => void): Promise<void> {
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < ms) {
      const due = Math.floor(((performance.now() - start) * rate) / 1000);
      for (; sent < due; sent++) this.dialOne(onDial);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Let answers arrive for `settleMs`, then cancel pending hang-ups and stop the link and the simulator. */
  async stop(settleMs: number): Promise<void> {
    await new Promise((r) => setTimeout(r, settleMs));
    for (const t of this.hangUps) clearTimeout(t);
    await this.link.stop();
    await this.sim.stop();
  }

  private dialOne(onDial?: (callId: string, at: number) => void): void {
    const caller = callers[this.next++ % callers.length]!;
    const at = performance.now();
    let callId: string;
    try {
      callId = this.sim.core.dial(caller, this.users[Math.floor(Math.random() * this.users.length)]!).callId;
    } catch {
      return; // the caller's previous call is still up
    }
    onDial?.(callId, at);
    const hangUp = setTimeout(() => {
      this.hangUps.delete(hangUp);
      try {
        this.sim.core.onHook(caller);
      } catch {
        // already on hook: the call was rejected or failed
      }
    }, 100);
    this.hangUps.add(hangUp);
  }
}
