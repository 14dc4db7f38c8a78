/**
 * `switchhook sim`: runs the PBX simulator (CSTA XML server and HTTP control API) until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';

import { parseEdition } from '../../cti/editions.js';
import { PbxSimulator, SimBringUp } from '../../sim/index.js';
import { expandExtensions } from '../../util/extensions.js';
import type { Command, CommandIO } from '../command.js';
import { aborted, runUntilSignal } from '../signals.js';

const usage = `usage: switchhook sim [options]

Runs a simulated PBX that speaks CSTA XML (ECMA-323 over TCP) and is driven over HTTP.

options:
  --csta-port N          CSTA XML port (default 7001; 0 picks a free port)
  --control-port N       HTTP control port on loopback (default 7002; 0 picks a free port)
  --extensions SPEC      phones, e.g. 2000-2099 or 2000,2001,2005-2010 (default 2000-2099)
  --host ADDR            listen address (default 127.0.0.1)
  --edition ed3|ed4|ed5|ed6   namespace of what the switch sends (default ed4)
  --bring-up any|systemRegister|applicationSession   bring-up the switch insists on (default any)
  --system-status-ms N   interval of the switch's SystemStatus to each client (default 30000)

control API: GET /phones, GET /phones/{ext}, GET /calls, GET /link,
  POST /phones/{ext}/offhook|onhook|answer|hold|retrieve|complete-transfer,
  POST /phones/{ext}/dial|transfer|consult|deflect {"to":"2002"},
  POST /phones/{ext}/forward {"type":"forwardImmediate","to":"2002","on":true}, POST /phones/{ext}/dnd {"on":true},
  POST /link/drop, POST /link/status {"status":"normal"}
`;

function port(value: string | undefined, dflt: number, name: string): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`--${name} must be a port number, got '${value}'`);
  return n;
}

function bringUp(value: string | undefined): SimBringUp {
  switch (value ?? 'any') {
    case 'any':
      return SimBringUp.Any;
    case 'systemRegister':
      return SimBringUp.SystemRegister;
    case 'applicationSession':
      return SimBringUp.ApplicationSession;
    default:
      throw new RangeError(`--bring-up must be any, systemRegister or applicationSession, got '${value ?? ''}'`);
  }
}

/** Runs the simulator until `signal` aborts; resolves to the exit code. */
export async function runSim(args: string[], io: CommandIO, signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'csta-port': { type: 'string' },
      'control-port': { type: 'string' },
      extensions: { type: 'string' },
      host: { type: 'string' },
      edition: { type: 'string' },
      'bring-up': { type: 'string' },
      'system-status-ms': { type: 'string' },
    },
    strict: true,
  });
  const statusMs = values['system-status-ms'] === undefined ? 30_000 : Number(values['system-status-ms']);
  if (!Number.isInteger(statusMs) || statusMs < 0) throw new RangeError('--system-status-ms must be a whole number of ms');
  const sim = new PbxSimulator();
  const addr = await sim.start({
    cstaPort: port(values['csta-port'], 7001, 'csta-port'),
    controlPort: port(values['control-port'], 7002, 'control-port'),
    extensions: expandExtensions(values.extensions ?? '2000-2099'),
    host: values.host ?? '127.0.0.1',
    edition: parseEdition(values.edition ?? 'ed4'),
    bringUp: bringUp(values['bring-up']),
    systemStatusIntervalMs: statusMs,
  });
  io.out(`switchhook sim: CSTA on ${addr.csta.address}:${addr.csta.port}, control on http://${addr.control!.address}:${addr.control!.port}\n`);
  await aborted(signal);
  await sim.stop();
  io.out('switchhook sim: stopped\n');
  return 0;
}

/** The `sim` subcommand. */
export const simCommand: Command = {
  name: 'sim',
  summary: 'run the PBX simulator (CSTA XML server with an HTTP control API)',
  usage,
  run: (args, io) => runUntilSignal((signal) => runSim(args, io, signal)),
};
