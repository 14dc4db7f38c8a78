import t from 'tap';

import { main } from '../src/cli/main.js';

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
