/** A simulator, a CTI link bound to a model and a CallControl with an ownership table, for the call-control tests. */
import { CallControl, OwnershipTable, type OwnershipConfig } from '../../../src/calls/control/index.js';
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
  return {
    ...rig,
    control,
    async close() {
      control.close();
      await rig.close();
    },
  };
}

export { until };
