import t from 'tap';

import { main } from '../../src/cli/main.js';

function capture() {
  let out = '';
  let err = '';
  return { io: { out: (s: string) => void (out += s), err: (s: string) => void (err += s) }, get out() { return out; }, get err() { return err; } };
}

t.test('--help lists the commands and exits 0', async (t) => {
  const c = capture();
  t.equal(await main(['--help'], c.io), 0);
  t.match(c.out, /usage: switchhook <command>/);
});

t.test('an unknown command exits 2 with a message', async (t) => {
  const c = capture();
  t.equal(await main(['frobnicate'], c.io), 2);
  t.match(c.err, /unknown command 'frobnicate'/);
});

t.test('the installed bin runs the compiled CLI', async (t) => {
  const { execFile } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const bin = fileURLToPath(new URL('../../bin/switchhook.js', import.meta.url));
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [bin, '--help'], (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  for (const name of ['start', 'demo', 'sim', 'decode']) t.match(out, new RegExp(`\\n  ${name} `), `lists ${name}`);
});

t.test('a command with --help prints its usage', async (t) => {
  const c = capture();
  t.equal(await main(['start', '--help'], c.io), 0);
  t.match(c.out, /usage: switchhook start/);
});
