/**
 * `switchhook demo` (what `npm start` runs): the daemon and the built-in PBX simulator on loopback with the
 * embedded defaults, a steady stream of simulated calls, and one line for every hook change the daemon sees.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { applyFlags, validateConfig } from '../../daemon/config.js';
import { Switchhook } from '../../daemon/switchhook.js';
import { PbxSimulator, SimTraffic } from '../../sim/index.js';
import { expandExtensions } from '../../util/extensions.js';
import type { Command, CommandIO } from '../command.js';
import { aborted, runUntilSignal } from '../signals.js';

const usage = `usage: switchhook demo [options]

Starts the PBX simulator and the daemon on loopback, plays calls between the simulated phones and prints
what the daemon sees: devices monitored and every hook change. Ctrl-C stops it.

options:
  --extensions SPEC        simulated phones (default 2000-2009)
  --calls N                stop after N calls (default: run until stopped)
  --interval-ms N          mean time between calls (default 2000)
  --sip PROTO:HOST:PORT    SIP listener for presence watchers (default udp:127.0.0.1:0, a free port)
  --admin HOST:PORT|off    admin HTTP listener (default 127.0.0.1:8080)
  --data DIR               data folder (default: a new temporary folder)
`;

function time(at: number): string {
  return new Date(at).toISOString().slice(11, 23);
}

/** Wait (up to 5 s) until the daemon has seen every phone go idle again, so the last hang-up is printed. */
function settled(daemon: Switchhook, signal: AbortSignal): Promise<void> {
  const allIdle = (): boolean => daemon.devices().every((d) => d.state === 'idle');
  if (allIdle()) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      daemon.off('device', onDevice);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const onDevice = (): void => {
      if (allIdle()) finish();
    };
    const timer = setTimeout(finish, 5000);
    daemon.on('device', onDevice);
    signal.addEventListener('abort', finish, { once: true });
  });
}

/** Runs the demo until `signal` aborts or the calls are played; resolves to the exit code. */
export async function runDemo(args: string[], io: CommandIO, signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      extensions: { type: 'string', default: '2000-2009' },
      calls: { type: 'string' },
      'interval-ms': { type: 'string', default: '2000' },
      admin: { type: 'string', default: '127.0.0.1:8080' },
      sip: { type: 'string', default: 'udp:127.0.0.1:0' },
      data: { type: 'string' },
    },
    strict: true,
  });
  const calls = values.calls === undefined ? undefined : Number(values.calls);
  if (calls !== undefined && (!Number.isInteger(calls) || calls < 1)) throw new RangeError('--calls must be a positive whole number');
  const intervalMs = Number(values['interval-ms']);
  if (!Number.isInteger(intervalMs) || intervalMs < 10) throw new RangeError('--interval-ms must be a whole number of at least 10');

  const extensions = expandExtensions(values.extensions);
  const sim = new PbxSimulator();
  const simAddr = await sim.start({ cstaPort: 0, controlPort: 0, extensions });
  io.out(`demo: PBX simulator with ${extensions.length} phones, CSTA on 127.0.0.1:${simAddr.csta.port}, control on http://127.0.0.1:${simAddr.control!.port}\n`);

  const config = validateConfig(
    applyFlags({ log: 'warn' }, {
      cti: `127.0.0.1:${simAddr.csta.port}`,
      devices: values.extensions,
      admin: values.admin,
      sip: [values.sip],
      data: values.data ?? mkdtempSync(join(tmpdir(), 'switchhook-demo-')),
    }),
  );
  const daemon = new Switchhook(config);
  daemon.on('linkUp', () => io.out(`demo: CTI link up, ${daemon.devices().length} devices monitored: ${daemon.devices().map((d) => `${d.device}=${d.state}`).join(' ')}\n`));
  daemon.on('linkDown', (info) => io.out(`demo: CTI link down (${info.reason.code}), devices unknown\n`));
  daemon.on('device', (change) => {
    if (change.oldState === change.newState) return;
    const call = change.call ? ` (call ${change.call.callId}${change.remote ? `, ${change.direction} ${change.remote}` : ''})` : '';
    io.out(`${time(change.at)} ${change.device} ${change.oldState} -> ${change.newState}${call}\n`);
    const watchers = daemon.presence?.subscriptions().filter((s) => s.device === change.device) ?? [];
    for (const w of watchers) io.out(`${time(change.at)}   NOTIFY ${w.event} of ${change.device} to ${w.subscriber}\n`);
  });
  let traffic: SimTraffic | undefined;
  try {
    const addr = await daemon.start();
    if (addr.admin) io.out(`demo: daemon admin API on http://${addr.admin.address}:${addr.admin.port} (GET /api/devices, /api/subscriptions, /metrics)\n`);
    for (const b of addr.sip ?? []) {
      io.out(`demo: presence on ${b.protocol}:${b.host}:${b.port}: SUBSCRIBE sip:${extensions[0]}@${b.host}:${b.port} (Event: presence or dialog)\n`);
    }
    daemon.presence?.notifier.on('subscribed', (sub: { subscriber: string; event: string; resource: string }) =>
      io.out(`demo: ${sub.subscriber} subscribed to ${sub.resource} (${sub.event})\n`),
    );
    await daemon.whenLinkUp();
    traffic = new SimTraffic(sim.core, { intervalMs, ...(calls === undefined ? {} : { calls }) }).start();
    await Promise.race([aborted(signal), traffic.done]);
    if (!signal.aborted) await settled(daemon, signal);
  } finally {
    traffic?.stop();
    await daemon.stop();
    await sim.stop();
  }
  io.out('demo: stopped\n');
  return 0;
}

/** The `demo` subcommand. */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the daemon with the built-in PBX simulator and simulated calls (npm start)',
  usage,
  run: (args, io) => runUntilSignal((signal) => runDemo(args, io, signal)),
};
