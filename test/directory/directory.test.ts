import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { Directory, NumberIndex, readCsv, type CsvRow } from '../../src/directory/index.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { nanpPlan } from './plans.js';

const plan = nanpPlan();

t.test('provisioning and lookups', async (t) => {
  let now = 1_700_000_000_000;
  const metrics = new MetricsRegistry();
  const dir = new Directory({ plan, database: ':memory:', now: () => now, metrics, reapIntervalMs: 0 });
  t.teardown(() => dir.close());

  t.match(dir.add({ number: '1234', client: 'sip:alice@pc1.example.com', display: 'Alice' }), { created: true, record: { number: '+15551231234', uri: 'sip:alice@pc1.example.com', source: 'provisioned', display: 'Alice' } });
  t.match(dir.add({ number: '+15551231234', client: 'sip:alice@pc1.example.com' }), { created: false });
  dir.add({ number: '5551231234', client: 'sips:+15551231234@pc2.example.com' });
  // An extension outside the DID range is keyed by the extension.
  t.match(dir.add({ number: '0000', client: 'sip:0000@lobby.example.com' }), { record: { number: '+15551230000' } });
  t.same(dir.lookup('1234')!.bindings, [
    { uri: 'sip:alice@pc1.example.com', source: 'provisioned' },
    { uri: 'sips:+15551231234@pc2.example.com', source: 'provisioned' },
  ]);
  t.equal(dir.firstClient('+15551231234'), 'sip:alice@pc1.example.com');
  t.equal(dir.firstClient('+15551239999'), undefined);
  for (const bad of ['', '+', '+1555x', '15551231234', '+12345678901234567']) t.equal(dir.firstClient(bad), undefined, `firstClient('${bad}')`);
  dir.add({ number: '1237', client: 'sip:15551231237@gw.example.com' });
  dir.add({ number: '1238', client: 'sip:+15551231238@gw.example.com;user=phone' });
  t.equal(dir.firstClient('+15551231237'), 'sip:15551231237@gw.example.com', 'template without +');
  t.equal(dir.firstClient('+15551231238'), 'sip:+15551231238@gw.example.com;user=phone', 'template with +');
  t.equal(dir.remove('1237'), 1);
  t.equal(dir.remove('1238'), 1);
  t.same(dir.lookup('+442079460000')!.bindings, []);
  t.equal(dir.lookup('not a number'), undefined);
  t.equal(metrics.counter('switchhook_directory_invalid_numbers_total', '').total(), 6);
  dir.flushCounters();
  t.equal(metrics.counter('switchhook_directory_lookup_hits_total', '').total(), 4);
  t.equal(metrics.counter('switchhook_directory_lookup_misses_total', '').total(), 2);

  t.match(dir.update({ number: '1234', client: 'sip:alice@pc1.example.com', display: 'Alice Smith' }), { display: 'Alice Smith' });
  t.throws(() => dir.update({ number: '1234', client: 'sip:nobody@x' }), { code: 'DIR_ERR_NOT_FOUND', field: 'client' });

  // Validation names the field.
  t.throws(() => dir.add({ number: 'abc', client: 'sip:a@b' }), { code: 'DIR_ERR_NUMBER', field: 'number' });
  t.throws(() => dir.add({ number: undefined as never, client: 'sip:a@b' }), { code: 'DIR_ERR_NUMBER', field: 'number' });
  t.throws(() => dir.add({ number: '1234', client: 'http://x' }), { code: 'DIR_ERR_CLIENT', field: 'client' });
  t.throws(() => dir.add({ number: '1234', client: 'sip:a b@c' }), { code: 'DIR_ERR_CLIENT', field: 'client' });
  t.throws(() => dir.add({ number: '1234', client: 'sip:a\u0001@c' }), { code: 'DIR_ERR_CLIENT' });
  t.throws(() => dir.add({ number: '1234', client: 'sip:a@b', display: 'x\ny' }), { code: 'DIR_ERR_DISPLAY', field: 'display' });
  t.throws(() => dir.list({ limit: 0 }), { code: 'DIR_ERR_LIMIT', field: 'limit' });

  // Registrations expire (RFC 3261 §10.2.1); Expires 0 removes (§10.2.2).
  t.match(dir.register('1234', 'sip:alice@10.0.0.5:5060', 60), { source: 'register', expiresAt: now + 60_000 });
  t.equal(dir.lookup('1234')!.bindings.length, 3);
  t.throws(() => dir.register('1234', 'sip:alice@10.0.0.5', -1), { code: 'DIR_ERR_EXPIRES', field: 'expires' });
  t.throws(() => dir.register('1234', 'nope', 60), { code: 'DIR_ERR_CLIENT', field: 'contact' });
  dir.register('2000', 'sip:bob@10.0.0.6', 30);
  dir.register('2001', 'sip:carol@10.0.0.7', 3600);
  now += 31_000;
  t.same(dir.lookup('2000')!.bindings, [], 'expired binding hidden before reaping');
  t.equal(dir.lookup('1234')!.bindings.length, 3);
  now += 30_000;
  t.equal(dir.reapExpired(), 2);
  t.equal(dir.lookup('1234')!.bindings.length, 2);
  t.equal(dir.lookup('2001')!.bindings.length, 1);
  t.equal(dir.register('2001', 'sip:carol@10.0.0.7', 0), undefined);
  t.same(dir.lookup('2001')!.bindings, []);

  // Listing pages in number order, by prefix.
  for (let i = 0; i < 5; i++) dir.add({ number: `+4420794600${i}0`, client: `sip:uk${i}@example.com` });
  const page1 = dir.list({ prefix: '+44', limit: 3 });
  t.same(page1.map((r) => r.uri), ['sip:uk0@example.com', 'sip:uk1@example.com', 'sip:uk2@example.com']);
  const last = page1.at(-1)!;
  t.same(dir.list({ prefix: '+44', limit: 3, after: { number: last.number, client: last.uri } }).map((r) => r.uri), ['sip:uk3@example.com', 'sip:uk4@example.com']);
  t.equal(dir.list().length, 8);

  t.equal(dir.remove('+442079460010', 'sip:uk1@example.com'), 1);
  t.equal(dir.remove('+442079460010', 'sip:uk1@example.com'), 0);
  t.equal(dir.remove('1234'), 2);
  t.same(dir.lookup('1234')!.bindings, []);
  t.equal(dir.count(), 5);
  t.match(dir.stats(), { numbers: 5, bindings: 5 });
  dir.close();
  dir.close();
  t.throws(() => dir.add({ number: '1234', client: 'sip:a@b' }), { code: 'DIR_ERR_CLOSED' });
  t.equal(dir.reapExpired(), 0);
});

t.test('reaping at a sub-second expiry leaves the index and SQLite agreeing', async (t) => {
  let now = 1_700_000_000_500;
  const dir = new Directory({ plan, database: ':memory:', now: () => now, reapIntervalMs: 0 });
  t.teardown(() => dir.close());
  dir.register('1234', 'sip:alice@10.0.0.5', 60);
  now += 60_200;
  t.same(dir.lookup('1234')!.bindings, []);
  t.equal(dir.reapExpired(), 1);
  t.match(dir.stats(), { numbers: 0, bindings: 0 });
  t.equal(dir.count(), 0);
});

t.test('persists in SQLite and reloads, leaving out expired registrations', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'switchhook-dir-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  let now = 1_700_000_000_000;
  const path = join(folder, 'directory.db');
  const a = new Directory({ plan, database: path, now: () => now });
  a.add({ number: '1234', client: 'sip:alice@pc1.example.com', display: 'Alice' });
  a.register('1234', 'sip:alice@10.0.0.5', 60);
  a.register('2000', 'sip:bob@10.0.0.6', 3600);
  a.close();
  now += 120_000;
  const b = new Directory({ plan, database: path, now: () => now });
  t.teardown(() => b.close());
  t.same(b.lookup('1234')!.bindings, [{ uri: 'sip:alice@pc1.example.com', source: 'provisioned', display: 'Alice' }]);
  t.same(b.lookup('2000')!.bindings, [{ uri: 'sip:bob@10.0.0.6', source: 'register', expiresAt: 1_700_000_000_000 + 3_600_000 }]);
});

t.test('CSV reader (RFC 4180)', async (t) => {
  const rows: CsvRow[] = [];
  readCsv('\ufeffa,b\r\n"q,1","he said ""hi""",\n\n"multi\nline",x\nbad"quote,y\n"open,z\n', (r) => rows.push(r));
  t.same(rows, [
    { line: 1, fields: ['a', 'b'] },
    { line: 2, fields: ['q,1', 'he said "hi"', ''] },
    { line: 4, fields: ['multi\nline', 'x'] },
    { line: 6, error: 'quote inside an unquoted field' },
    { line: 7, error: 'unterminated quoted field' },
  ]);
  const more: CsvRow[] = [];
  readCsv('"a"b,c\nd,e', (r) => more.push(r));
  t.same(more, [{ line: 1, error: 'text after a closing quote' }, { line: 2, fields: ['d', 'e'] }]);
  const trailing: CsvRow[] = [];
  readCsv('a,\r\nb,"c"', (r) => trailing.push(r));
  t.same(trailing, [{ line: 1, fields: ['a', ''] }, { line: 2, fields: ['b', 'c'] }]);
});

t.test('bulk import reports every bad line and imports the rest in one transaction', async (t) => {
  const dir = new Directory({ plan, database: ':memory:', reapIntervalMs: 0 });
  t.teardown(() => dir.close());
  const csv = [
    'number,client,display',
    '1000,sip:1000@pbx.example.com,"Smith, Ann"',
    '+15551231001,sip:1001@pbx.example.com',
    'abc,sip:x@pbx.example.com',
    '1002,mailto:x@example.com',
    '1003',
    '1004,sip:1004@pbx.example.com,Ok,extra',
    '"1005",sip:1005@pbx.example.com,"Line',
    'two"',
    '1006,"sip:1006@pbx.example.com" trailing',
    '011442079460000,sip:uk@example.com,',
  ].join('\r\n');
  const report = dir.importCsv(csv);
  t.equal(report.imported, 3);
  t.same(
    report.errors.map((e) => [e.line, e.field, e.code]),
    [
      [4, 'number', 'DIR_ERR_NUMBER'],
      [5, 'client', 'DIR_ERR_CLIENT'],
      [6, 'line', 'DIR_ERR_CSV'],
      [7, 'line', 'DIR_ERR_CSV'],
      [8, 'display', 'DIR_ERR_DISPLAY'],
      [10, 'line', 'DIR_ERR_CSV'],
    ],
  );
  t.same(dir.lookup('1000')!.bindings, [{ uri: 'sip:1000@pbx.example.com', source: 'provisioned', display: 'Smith, Ann' }]);
  t.same(dir.lookup('1005')!.bindings, [], 'a display name with a line break is refused');
  t.same(dir.lookup('+442079460000')!.bindings.length, 1);
  t.equal(dir.count(), 3);
  // Of duplicate lines the last wins, in SQLite and in the index alike.
  t.same(dir.importCsv('1000,sip:1000@pbx.example.com,First\n1000,sip:1000@pbx.example.com,Second\n'), { imported: 2, errors: [] });
  t.equal(dir.lookup('1000')!.bindings[0]!.display, 'Second');
  t.equal(dir.list({ prefix: '+15551231000' })[0]!.display, 'Second');
  t.same(dir.importCsv(''), { imported: 0, errors: [] });
});

t.test('100,000 numbers: import, reload and look up', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'switchhook-dir-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const n = 100_000;
  const lines = ['number,client'];
  for (let i = 0; i < n; i++) lines.push(`+4420${7000000 + i},sip:+4420${7000000 + i}@gw${i % 7}.example.com`);
  const path = join(folder, 'directory.db');
  const a = new Directory({ plan, database: path, expectedNumbers: 1000, reapIntervalMs: 0 });
  const report = a.importCsv(lines.join('\n'));
  t.same(report, { imported: n, errors: [] });
  a.close();
  const b = new Directory({ plan, database: path, expectedNumbers: n, reapIntervalMs: 0 });
  t.teardown(() => b.close());
  t.match(b.stats(), { numbers: n, bindings: n });
  let bad = 0;
  for (let i = 0; i < n; i += 7) if (b.firstClient(`+4420${7000000 + i}`) !== `sip:+4420${7000000 + i}@gw${i % 7}.example.com`) bad++;
  t.equal(bad, 0);
  t.equal(b.firstClient('+442069999999'), undefined);
});

t.test('NumberIndex agrees with a Map under random adds and removes', async (t) => {
  const index = new NumberIndex(16);
  const model = new Map<number, Set<string>>();
  let seed = 7;
  const rnd = (k: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % k;
  };
  const keyOf = (i: number) => 440000000000 + i * 7919;
  let wrongRemovals = 0;
  for (let step = 0; step < 40_000; step++) {
    const i = rnd(3000);
    const k = keyOf(i);
    const digits = String(k);
    const kind = rnd(3);
    const uri = kind === 0 ? `sip:u${rnd(3)}@h${rnd(2)}.example` : kind === 1 ? `sip:${digits}@h${rnd(2)}.example` : `sip:${digits}@h.example;x=${digits}`;
    const op = rnd(10);
    if (op < 6) {
      index.upsert(k, digits, { uri, source: 'provisioned' });
      if (!model.has(k)) model.set(k, new Set());
      model.get(k)!.add(uri);
    } else if (op < 8) {
      const had = model.get(k)?.delete(uri) ? 1 : 0;
      if (index.remove(k, digits, uri) !== had) wrongRemovals++;
      if (model.get(k)?.size === 0) model.delete(k);
    } else {
      if (index.remove(k, digits) !== (model.get(k)?.size ?? 0)) wrongRemovals++;
      model.delete(k);
    }
  }
  t.equal(wrongRemovals, 0);
  t.equal(index.size, model.size);
  let mismatches = 0;
  for (let i = 0; i < 3000; i++) {
    const k = keyOf(i);
    const got = new Set(index.get(k, String(k), 0).map((b) => b.uri));
    const want = model.get(k) ?? new Set();
    if (got.size !== want.size || [...want].some((u) => !got.has(u))) mismatches++;
  }
  t.equal(mismatches, 0);
  t.ok(index.internedStrings <= index.bindings, 'no string outlives its bindings');
  const shared = new NumberIndex();
  for (let i = 0; i < 1000; i++) shared.upsert(440000000000 + i, String(440000000000 + i), { uri: `sip:+${440000000000 + i}@gw.example.com`, source: 'provisioned' });
  t.equal(shared.internedStrings, 1, 'a thousand templated URIs share one string');
  t.ok(shared.typedBytes() > 0);
  t.equal(shared.firstUri(440000000007, '440000000007', Date.now), 'sip:+440000000007@gw.example.com');
  t.equal(shared.firstUri(440000009999, '440000009999', Date.now), undefined);
  index.clear();
  t.equal(index.size, 0);
  t.same(index.get(keyOf(1), String(keyOf(1)), 0), []);
});
