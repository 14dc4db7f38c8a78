/** `switchhook start`: runs the daemon from a configuration file and/or flags until SIGINT/SIGTERM. */
import { parseArgs } from 'node:util';

import { applyFlags, readRawConfig, validateConfig } from '../../daemon/config.js';
import { Switchhook } from '../../daemon/switchhook.js';
import type { Command, CommandIO } from '../command.js';
import { aborted, runUntilSignal } from '../signals.js';

const usage = `usage: switchhook start [--config FILE] [options]

Runs the daemon. Flags override the configuration file (docs/configuration.md).

options:
  --config FILE            YAML or JSON configuration
  --cti HOST:PORT          CSTA XML link to the PBX or CTI server
  --devices SPEC           devices to monitor, e.g. 2000-2099,2200
  --sip PROTO:HOST:PORT    SIP listener (udp, tcp, tls, ws, wss); repeatable
  --admin HOST:PORT|off    admin HTTP listener (default 127.0.0.1:8080)
  --data DIR               data folder for the SQLite store (default ./data)
`;

/** Runs the daemon until `signal` aborts; resolves to the exit code. */
export async function runStart(args: string[], io: CommandIO, signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      cti: { type: 'string' },
      devices: { type: 'string' },
      sip: { type: 'string', multiple: true },
      admin: { type: 'string' },
      data: { type: 'string' },
    },
    strict: true,
  });
  const raw = applyFlags(readRawConfig(values.config), values);
  const config = validateConfig(raw, values.config);
  const daemon = new Switchhook(config);
  const addr = await daemon.start();
  io.out(
    `switchhook: running` +
      (addr.admin ? `; admin http://${addr.admin.address}:${addr.admin.port}` : '') +
      (addr.sip ?? []).map((b) => `; SIP ${b.protocol}:${b.host}:${b.port}`).join('') +
      (config.cti ? `; CTI ${config.cti.host}:${config.cti.port}` : '; no CTI link') +
      '\n',
  );
  await aborted(signal);
  await daemon.stop();
  io.out('switchhook: stopped\n');
  return 0;
}

/** The `start` subcommand. */
export const startCommand: Command = {
  name: 'start',
  summary: 'run the daemon (configuration file and/or flags)',
  usage,
  run: (args, io) => runUntilSignal((signal) => runStart(args, io, signal)),
};
