import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { main } from '../../src/cli/main.js';

function capture() {
  let out = '';
  let err = '';
  return { io: { out: (s: string) => void (out += s), err: (s: string) => void (err += s) }, get out() { return out; }, get err() { return err; } };
}

const rfc = 'captures/public/rfc4475/';

t.test('valid and invalid messages give one JSON line each', async (t) => {
  const c = capture();
  const code = await main(['sip-check', rfc + 'wsinv.dat', rfc + 'badvers.dat', rfc + 'scalarlg.dat', rfc + 'noreason.dat'], c.io);
  t.equal(code, 1);
  const lines = c.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(lines.length, 4);
  t.same(lines[0], { file: rfc + 'wsinv.dat', valid: true, method: 'INVITE', callId: 'wsinv.ndaksdj@192.0.2.1' });
  t.match(lines[1], { valid: false, method: 'OPTIONS', callId: 'badvers.31417@c.example.com', reason: /version 7\.0/, answer: 505 });
  t.match(lines[2], { valid: false, status: 503, reason: /CSeq/ });
  t.notOk('answer' in lines[2]!, 'an invalid response is not answered');
  t.match(lines[3], { valid: true, status: 100 });
});

t.test('all valid exits 0; unreadable files are reported', async (t) => {
  const c = capture();
  t.equal(await main(['sip-check', rfc + 'esc01.dat'], c.io), 0);
  const d = capture();
  t.equal(await main(['sip-check', '/nonexistent/x.sip'], d.io), 1);
  t.match(JSON.parse(d.out), { valid: false, reason: /cannot read/ });
  const e = capture();
  t.equal(await main(['sip-check'], e.io), 2);
  t.match(e.err, /expected one or more files/);
  const h = capture();
  t.equal(await main(['sip-check', '--help'], h.io), 0);
  t.match(h.out, /usage: switchhook sip-check/);
});

t.test('junk and empty files are invalid without a start line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sip-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'junk'), Buffer.from([0, 0, 0, 0, 0x52]));
  writeFileSync(join(dir, 'empty'), '');
  const c = capture();
  t.equal(await main(['sip-check', join(dir, 'junk'), join(dir, 'empty')], c.io), 1);
  const [a, b] = c.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(a, { file: join(dir, 'junk'), valid: false, reason: 'junk before the start line' });
  t.same(b, { file: join(dir, 'empty'), valid: false, reason: 'empty message' });
});
