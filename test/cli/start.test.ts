import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { runDemo } from '../../src/cli/commands/demo.js';
import { runStart } from '../../src/cli/commands/start.js';
import { main } from '../../src/cli/main.js';
import { setLogLevel } from '../../src/util/log.js';

setLogLevel('silent');

function capture() {
  const c = { out: '', err: '' };
  return { c, io: { out: (s: string) => void (c.out += s), err: (s: string) => void (c.err += s) } };
}

t.test('start: a bad flag is refused with the key named', async (t) => {
  const { c, io } = capture();
  t.equal(await main(['start', '--cti', 'pbx-without-port'], io), 1);
  t.match(c.err, /CONFIG_ERR_INVALID.*--cti: 'pbx-without-port' is not HOST:PORT/);
});

t.test('start: SIP-only daemon from flags runs until stopped', async (t) => {
  const { c, io } = capture();
  const ac = new AbortController();
  const running = runStart(['--admin', '127.0.0.1:0', '--data', mkdtempSync(join(tmpdir(), 'switchhook-start-'))], io, ac.signal);
  while (!c.out.includes('running')) await new Promise((r) => setImmediate(r));
  const port = Number(/admin http:\/\/127\.0\.0\.1:(\d+)/.exec(c.out)![1]);
  const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { cti: string };
  t.equal(health.cti, 'none');
  ac.abort();
  t.equal(await running, 0);
  t.match(c.out, /no CTI link[\s\S]*stopped/);
});

t.test('demo: simulator, daemon and calls, printing hook changes', async (t) => {
  const { c, io } = capture();
  const code = await runDemo(['--calls', '2', '--interval-ms', '100', '--admin', 'off', '--extensions', '2000-2003'], io, new AbortController().signal);
  t.equal(code, 0);
  t.match(c.out, /CTI link up, 4 devices monitored/);
  t.match(c.out, /demo: presence on udp:127\.0\.0\.1:\d+: SUBSCRIBE sip:2000@/);
  t.match(c.out, /\d\d:\d\d:\d\d\.\d{3} 20\d\d idle -> offHook/);
  t.match(c.out, /-> ringing \(call \w+, incoming 20\d\d\)/);
  t.match(c.out, /demo: stopped/);
});
