/** A simulator, a CTI link bound to a model and a CallControl with an ownership table, for the call-control tests. */
import { CallControl, OwnershipTable, type OwnershipConfig } from '../../../src/calls/control/index.js';
import { ReferTransfers, UaCstaServer } from '../../../src/calls/uacsta/index.js';
import { Notifier } from '../../../src/sip/subscription/notifier.js';
import { SipStack } from '../../../src/sip/ua/stack.js';
import { startRig, until, type Rig } from '../../helpers/cti.js';

export const ownership: OwnershipConfig = {
  users: [
    { user: 'alice', phones: ['2000', '2005'], aors: ['sip:alice@example.com'] },
    { user: 'bob', phones: ['2001'], aors: ['sip:bob@example.com'] },
  ],
  admins: ['ops'],
  voipTargets: [{ uri: 'sip:alice-soft@example.com', number: '2099' }],
};

export interface ControlRig extends Rig {
  control: CallControl;
}

/** Starts the simulator (extensions 2000-2005 and 2099, the VoIP gateway number of alice's softphone). */
export async function startControlRig(opts: { noAnswerMs?: number } = {}): Promise<ControlRig> {
  const rig = await startRig({
    extensions: ['2000', '2001', '2002', '2003', '2004', '2005', '2099'],
    sim: opts.noAnswerMs === undefined ? {} : { noAnswerMs: opts.noAnswerMs },
  });
  const control = new CallControl({ link: rig.link, model: rig.model, ownership: new OwnershipTable(ownership), stateTimeoutMs: 10_000 });
  const close = rig.close;
  return Object.assign(rig, {
    control,
    async close() {
      control.close();
      await close();
    },
  });
}

export { until };

/** The control rig plus the daemon's SIP side: a SipStack with the uaCSTA and REFER front ends. */
export interface SipControlRig extends ControlRig {
  stack: SipStack;
  uacsta: UaCstaServer;
  refers: ReferTransfers;
  /** `127.0.0.1:port` of the stack's UDP listener. */
  target: string;
  port: number;
}

/** Starts a {@link ControlRig} and a SipStack on UDP loopback with the uaCSTA and REFER front ends. */
export async function startSipControlRig(): Promise<SipControlRig> {
  const rig = await startControlRig();
  const stack = new SipStack({ listen: ['udp:127.0.0.1:0'], userAgent: 'switchhook' });
  const [addr] = await stack.start();
  const notifier = new Notifier(stack.ua);
  const uacsta = new UaCstaServer({ ua: stack.ua, control: rig.control, model: rig.model });
  const refers = new ReferTransfers({ ua: stack.ua, notifier, control: rig.control, model: rig.model, uacsta });
  const close = rig.close;
  return Object.assign(rig, {
    stack,
    uacsta,
    refers,
    port: addr!.port,
    target: `127.0.0.1:${addr!.port}`,
    async close() {
      await uacsta.close();
      notifier.close();
      await stack.close();
      await close();
    },
  });
}
