/**
 * Records the call-control flows of captures/calls/ with tshark on loopback: the CSTA XML link between
 * switchhook and the PBX simulator, and the SIP side (SIPp as a uaCSTA client and as a REFER client).
 * Run from the repository root: node --import @tapjs/typescript/import captures/calls/record.ts
 */
import { spawn } from 'node:child_process';

import { RequesterKind } from '../../src/calls/control/index.js';
import { HookState } from '../../src/model/index.js';
import { startSipControlRig, until } from '../../test/calls/control/helpers.js';
import { fixtures, freeUdpPort, runSipp } from '../../test/sip/interop/peers.js';

const file = 'captures/calls/call-control.pcapng';
const rig = await startSipControlRig();
const cstaPort = rig.sim.address.csta.port;
const tshark = spawn('tshark', ['-i', 'lo', '-f', `udp port ${rig.port} or tcp port ${cstaPort}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise<void>((resolve) => tshark.stderr.on('data', (d: Buffer) => d.toString().includes('Capturing on') && resolve()));

const sipp = async (scenario: string): Promise<void> => {
  const r = await runSipp(['-sf', `${fixtures}${scenario}`, '-m', '1', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), rig.target]).done;
  if (r.code !== 0) throw new Error(`sipp ${scenario} failed: ${r.stderr.slice(-800)}`);
};

try {
  const { sim, model, control } = rig;
  // 1. uaCSTA client: INVITE (RequestSystemStatus), INFO MonitorStart, INFO MakeCall 2000 -> 2001, events.
  const made = sipp('uacsta-makecall.xml');
  await until(model, () => model.hookState('2001') === HookState.Ringing, '2001 ringing');
  sim.core.offHook('2001');
  await made;
  // 2. REFER from a non-owner (403), then from the owner: SingleStepTransferCall 2000 -> 2002.
  await sipp('refer-forbidden.xml');
  await sipp('refer-transfer.xml');
  await until(model, () => model.hookState('2002') === HookState.Ringing, '2002 ringing');
  sim.core.offHook('2002');
  await until(model, () => model.hookState('2002') === HookState.Talking, '2002 talking');
  sim.core.onHook('2002');
  // 3. Forward 2000 to alice's VoIP client (mapped to 2099), answer on a second phone, hold/retrieve.
  const admin = { kind: RequesterKind.Admin, name: 'ops' } as const;
  await control.forward(admin, '2000', { type: 'forwardImmediate', on: true, to: 'sip:alice-soft@example.com' });
  await control.forward(admin, '2000', { type: 'forwardImmediate', on: false });
  sim.core.dial('2001', '2000');
  await until(model, () => model.hookState('2000') === HookState.Ringing, '2000 ringing');
  await control.answer(admin, '2000', { on: '2005' });
  await until(model, () => model.hookState('2005') === HookState.Talking, 'answered on 2005');
  await control.hold(admin, '2005');
  await until(model, () => model.hookState('2005') === HookState.Held, 'held');
  await control.retrieve(admin, '2005');
  await control.clear(admin, '2005');
  await until(model, () => model.hookState('2005') === HookState.Idle, 'cleared');
  await new Promise((r) => setTimeout(r, 500));
} finally {
  tshark.kill('SIGINT');
  await new Promise((r) => tshark.on('exit', r));
  await rig.close();
}
console.log(`wrote ${file}`);
