import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t, { type Test } from 'tap';

import { RedisStore, SqliteStore, StoreError, type Store } from '../../src/store/index.js';
import { freeTcpPort, startPeer } from '../helpers/peers.js';

async function exercise(t: Test, store: Store): Promise<void> {
  t.equal(await store.get('subs', 'a'), undefined);
  await store.put('subs', 'a', { watcher: 'sip:1@x', n: 1 });
  await store.put('subs', 'a', { watcher: 'sip:1@x', n: 2 });
  await store.putMany('subs', [
    { key: 'c', value: { n: 3 } },
    { key: 'b', value: { n: 4 } },
  ]);
  await store.putMany('subs', []);
  t.same(await store.get('subs', 'a'), { watcher: 'sip:1@x', n: 2 });
  t.same(
    (await store.list<{ n: number }>('subs')).map((r) => [r.key, r.value.n]),
    [
      ['a', 2],
      ['b', 4],
      ['c', 3],
    ],
  );
  t.same(await store.list('other'), []);
  t.equal(await store.delete('subs', 'b'), true);
  t.equal(await store.delete('subs', 'b'), false);
  t.equal(await store.increment('version:x'), 1);
  t.equal(await store.increment('version:x', 10), 11);
  await t.rejects(store.put('bad name', 'k', 1), StoreError);
  await t.rejects(store.increment('bad name'), { code: 'STORE_ERR_NAME' });
}

t.test('sqlite store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchhook-store-'));
  const store = new SqliteStore(dir);
  t.teardown(() => store.close());
  await exercise(t, store);
});

t.test('sqlite store keeps every committed write across kill -9', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchhook-store-'));
  const modUrl = new URL('../../src/store/sqlite-store.ts', import.meta.url).href;
  const script = `
    const { SqliteStore } = await import(${JSON.stringify(modUrl)});
    const s = new SqliteStore(${JSON.stringify(dir)});
    for (let i = 0; i < 200; i++) { await s.put('subs', 'k' + i, { i }); await s.increment('v'); }
    process.stdout.write('written\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('written') && resolve());
    child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const store = new SqliteStore(dir);
  t.teardown(() => store.close());
  t.equal((await store.list('subs')).length, 200);
  t.equal(await store.increment('v', 0), 200);
});

t.test('sqlite store reports corrupt records', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchhook-store-'));
  const store = new SqliteStore(dir);
  t.teardown(() => store.close());
  const Database = (await import('better-sqlite3')).default;
  const raw = new Database(store.path);
  raw.prepare("INSERT INTO records VALUES ('subs', 'x', '{not json')").run();
  raw.close();
  await t.rejects(store.get('subs', 'x'), { code: 'STORE_ERR_CORRUPT' });
});

t.test('redis store against a real redis-server', async (t) => {
  const port = await freeTcpPort();
  const server = await startPeer('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  t.teardown(() => server.stop());
  const store = await new RedisStore(`redis://127.0.0.1:${port}`, `t${process.pid}`).open();
  t.teardown(() => store.close());
  await exercise(t, store);
  const second = await new RedisStore(`redis://127.0.0.1:${port}`, `t${process.pid}`).open();
  t.equal(await second.increment('version:x'), 12, 'counters are shared by every daemon on the same Redis');
  await second.close();
});

t.test('redis store: an unreachable server is a clear error', async (t) => {
  const port = await freeTcpPort();
  const store = new RedisStore(`redis://127.0.0.1:${port}`);
  await t.rejects(store.open(), { code: 'STORE_ERR_CONNECT' });
});
