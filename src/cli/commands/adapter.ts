/**
 * `switchhook adapter`: the reference TAPI/TSAPI adapter. Reads LINE_CALLSTATE or TSAPI event records (JSON
 * lines) from a file or standard input and streams them to a daemon whose CTI link is `protocol: adapter`.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';

import { AdapterClient, runReferenceAdapter } from '../../cti/adapter/index.js';
import type { Command, CommandIO } from '../command.js';

const usage = `usage: switchhook adapter --connect HOST:PORT --source tapi|tsapi [--name NAME] [FILE]

Streams TAPI LINE_CALLSTATE records or TSAPI event records (one JSON object per line, from FILE or standard
input) to a daemon listening for adapters (cti.protocol: adapter). docs/cti-adapter.md describes the
records and how each maps onto the daemon's events.
`;

/** Runs the reference adapter; resolves to the exit code. */
export async function runAdapter(args: string[], io: CommandIO, stdin: Readable = process.stdin): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { connect: { type: 'string' }, source: { type: 'string' }, name: { type: 'string', default: 'switchhook-reference-adapter' } },
    allowPositionals: true,
    strict: true,
  });
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(values.connect ?? '');
  if (!m) throw new RangeError('--connect HOST:PORT is required');
  const source = values.source;
  if (source !== 'tapi' && source !== 'tsapi') throw new RangeError('--source must be tapi or tsapi');
  if (positionals.length > 1) throw new RangeError('at most one input file');
  const input: Readable = positionals[0] ? createReadStream(positionals[0]) : stdin;
  const client = await AdapterClient.connect(m[1]!.replace(/^\[|\]$/g, ''), Number(m[2]), {
    adapter: values.name,
    source: source === 'tapi' ? 'SOURCE_TAPI' : 'SOURCE_TSAPI',
    devices: [],
  });
  io.out(`adapter: connected; daemon ${client.welcome.daemonAddress} wants ${client.welcome.devices.length} devices\n`);
  try {
    const stats = await runReferenceAdapter(client, source, input, (line, message) => io.err(`adapter: line ${line}: ${message}\n`));
    io.out(`adapter: ${JSON.stringify(stats)}\n`);
    return stats.malformed > 0 ? 1 : 0;
  } finally {
    await client.close();
  }
}

/** The `adapter` subcommand. */
export const adapterCommand: Command = {
  name: 'adapter',
  summary: 'reference TAPI/TSAPI adapter: stream call-state records to a daemon',
  usage,
  run: (args, io) => runAdapter(args, io),
};
