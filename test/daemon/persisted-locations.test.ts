/** The registrar's bindings survive a restart of the daemon (PersistedLocationStore over SQLite). */
import t from 'tap';

import { validateConfig } from '../../src/daemon/config.js';
import { locationCollection, PersistedLocationStore } from '../../src/daemon/persisted-locations.js';
import { Switchhook } from '../../src/daemon/switchhook.js';
import { Registrar, type Binding } from '../../src/sip/registrar/index.js';
import { ManualClock } from '../../src/sip/transaction/clock.js';
import { SipStack } from '../../src/sip/ua/index.js';
import { SqliteStore, type Store } from '../../src/store/index.js';
import { setLogLevel } from '../../src/util/log.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { dataDir } from '../helpers/daemon.js';

setLogLevel('silent');

function binding(contact: string, expiresAt: number, extra: Partial<Binding> = {}): Binding {
  return { aor: 'sip:alice@pbx.example', contact, contactKey: contact, q: 1, expiresAt, callId: 'c1', cseq: 1, ...extra };
}

t.test('bindings are written behind and read back with their remaining lifetime', async (t) => {
  const dir = dataDir();
  const clock = new ManualClock();
  clock.advance(5_000);
  const store = new SqliteStore(dir);
  const metrics = new MetricsRegistry();
  const first = new PersistedLocationStore(store, clock, metrics);
  t.equal(await first.load(), 0);
  first.put(binding('sip:a@10.0.0.1', clock.now() + 600_000, { received: { protocol: 'tcp', host: '10.0.0.1', port: 5060, connectionId: 7 } }));
  first.put(binding('sip:b@10.0.0.2', clock.now() + 600_000));
  first.put(binding('sip:c@10.0.0.3', clock.now() + 1_000));
  first.put({ ...binding('sip:d@10.0.0.4', clock.now() + 600_000), aor: 'sip:bob@pbx.example' });
  t.equal(first.size(), 4);
  t.ok(first.remove('sip:alice@pbx.example', 'sip:b@10.0.0.2'));
  t.notOk(first.remove('sip:alice@pbx.example', 'sip:b@10.0.0.2'), 'already gone');
  t.same(first.removeAll('sip:bob@pbx.example').map((b) => b.contact), ['sip:d@10.0.0.4']);
  clock.advance(2_000);
  t.same(first.reap(clock.now()).map((b) => b.contact), ['sip:c@10.0.0.3']);
  t.equal(first.nextExpiry(), 605_000);
  await first.flush();
  t.same((await store.list(locationCollection)).map((r) => r.key), ['sip:alice@pbx.example sip:a@10.0.0.1']);

  // A record that is not a binding is dropped and counted, an expired one is dropped.
  await store.put(locationCollection, 'junk', { aor: 'sip:x@y' });
  await store.put(locationCollection, 'old', { ...binding('sip:e@10.0.0.5', 0), expiresAtWall: Date.now() - 1 });

  // A new process: its clock starts elsewhere; the binding keeps its remaining wall-clock lifetime (600 s
  // from when it was stored, the manual clock's moves aside), not its old instant.
  const later = new ManualClock();
  const second = new PersistedLocationStore(store, later, metrics);
  t.equal(await second.load(), 1);
  const [restored] = second.get('sip:alice@pbx.example');
  t.equal(restored!.contact, 'sip:a@10.0.0.1');
  t.ok(restored!.expiresAt > 590_000 && restored!.expiresAt <= 600_000, `remaining lifetime kept (${restored!.expiresAt})`);
  t.same(restored!.received, { protocol: 'tcp', host: '10.0.0.1', port: 5060 }, 'the old connection id is dropped');
  t.equal(metrics.counter('switchhook_registrar_bad_records_total', '').get(), 1);
  t.equal((await store.list(locationCollection)).length, 1, 'junk and expired records deleted');
  await store.close();
});

t.test('a store that fails a write is counted; memory and later writes go on', async (t) => {
  const dir = dataDir();
  const real = new SqliteStore(dir);
  t.teardown(() => real.close());
  let fail = true;
  const flaky: Store = Object.assign(Object.create(real) as Store, {
    put: (c: string, k: string, v: unknown) => (fail ? Promise.reject(new Error('disk full')) : real.put(c, k, v)),
  });
  const metrics = new MetricsRegistry();
  const clock = new ManualClock();
  const locations = new PersistedLocationStore(flaky, clock, metrics);
  locations.put(binding('sip:a@10.0.0.1', 60_000));
  await locations.flush();
  t.equal(metrics.counter('switchhook_registrar_store_errors_total', '').get(), 1);
  t.equal(locations.size(), 1, 'still registered in memory');
  fail = false;
  locations.put(binding('sip:b@10.0.0.2', 60_000));
  await locations.flush();
  t.equal((await real.list(locationCollection)).length, 1);
});

t.test('the registrar over a persisted store: a REGISTER before a restart is found after it', async (t) => {
  const data = dataDir();
  const config = () => validateConfig({ sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }], domain: 'pbx.example' }, admin: null, data, log: 'silent' });
  const client = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  const [bound] = await client.start();
  t.teardown(() => client.close());

  const first = new Switchhook(config());
  const addr = await first.start();
  const reg = await client.request({
    method: 'REGISTER',
    uri: 'sip:pbx.example',
    from: 'sip:alice@pbx.example',
    to: 'sip:alice@pbx.example',
    destination: { protocol: 'udp', host: '127.0.0.1', port: addr.sip![0]!.port },
    headers: { Contact: `<sip:alice@127.0.0.1:${bound!.port}>`, Expires: '600' },
  });
  t.equal(reg.response.status, 200);
  await first.stop();

  const second = new Switchhook(config());
  t.teardown(() => second.stop());
  await second.start();
  t.ok(second.registrar instanceof Registrar);
  const found = second.registrar!.lookup('sip:alice@pbx.example');
  t.same(found.map((b) => b.contact), [`sip:alice@127.0.0.1:${bound!.port}`], 'the binding survived the restart');
});
