import t from 'tap';

import { DigestServer } from '../../../src/sip/auth/digest.js';
import { MemoryLocationStore } from '../../../src/sip/registrar/location-store.js';
import { Registrar, canonicalAor } from '../../../src/sip/registrar/registrar.js';
import { SipUri } from '../../../src/sip/message/index.js';
import { Net } from '../ua/net.js';

function setup(o: { auth?: boolean } = {}) {
  const net = new Net();
  const client = net.node('10.0.0.1');
  const server = net.node('10.0.0.2');
  const registrar = new Registrar({
    clock: net.clock, minExpires: 60, maxExpires: 3600, domains: ['10.0.0.2', 'example.com'],
    ...(o.auth ? { auth: new DigestServer({ realm: 'example.com', clock: net.clock, lookup: (u) => (u === 'alice' ? { password: 'pw' } : undefined) }) } : {}),
  });
  server.use('REGISTER', registrar.middleware());
  const events: string[] = [];
  registrar.on('registered', (b) => events.push(`+${b.contact}`));
  registrar.on('unregistered', (b, why) => events.push(`-${b.contact}:${why}`));
  let cseq = 1;
  const register = async (contacts: string[], expires?: number, extra: Record<string, string> = {}, callId = 'reg-1') => {
    const p = client.request({
      method: 'REGISTER', uri: 'sip:10.0.0.2', from: '<sip:alice@example.com>;tag=r1', to: '<sip:alice@example.com>',
      callId, cseq: cseq++, contact: false,
      headers: { ...(contacts.length ? { Contact: contacts } : {}), ...(expires !== undefined ? { Expires: String(expires) } : {}), ...extra },
      ...(o.auth ? { credentials: { username: 'alice', password: 'pw' } } : {}),
    });
    await net.settle();
    return (await p).response;
  };
  return { net, registrar, register, events };
}

t.test('several contacts per AOR with q values, expiry clamped to max, query, removal', async (t) => {
  const { net, registrar, register, events } = setup();
  const r1 = await register(['<sip:alice@10.0.0.1:5060>;q=0.5', '<sip:alice@10.0.0.1:5070>;expires=120;q=0.9'], 7200);
  t.equal(r1.status, 200);
  const contacts = r1.headers('contact');
  t.equal(contacts.length, 2);
  t.ok(contacts.some((c) => /5060>;expires=3600;q=0.5$/.test(c)), 'expiry shortened to max');
  t.ok(contacts.some((c) => /5070>;expires=120;q=0.9$/.test(c)), 'per-contact expires wins');
  t.ok(r1.header('date'));
  t.same(registrar.lookup('sip:alice@example.com').map((b) => b.q), [0.9, 0.5], 'highest q first');
  const query = await register([]);
  t.equal(query.headers('contact').length, 2, 'REGISTER without Contact is a query');
  const rm = await register(['<sip:alice@10.0.0.1:5070>'], 0);
  t.equal(rm.headers('contact').length, 1);
  t.same(events, ['+sip:alice@10.0.0.1:5060', '+sip:alice@10.0.0.1:5070', '-sip:alice@10.0.0.1:5070:removed']);
  registrar.close();
  net.close();
});

t.test('423 with Min-Expires; wildcard rules; out-of-order CSeq; domain check', async (t) => {
  const { net, registrar, register } = setup();
  const brief = await register(['<sip:alice@10.0.0.1>'], 30);
  t.equal(brief.status, 423);
  t.equal(brief.header('min-expires'), '60');
  t.equal(registrar.store.size(), 0, 'nothing stored');
  t.equal((await register(['*'], 300)).status, 400, 'wildcard needs Expires 0');
  t.equal((await register(['*', '<sip:a@b>'], 0)).status, 400);
  await register(['<sip:alice@10.0.0.1:5060>', '<sip:alice@10.0.0.1:5061>'], 600);
  t.equal(registrar.store.size(), 2);
  const cleared = await register(['*'], 0);
  t.equal(cleared.status, 200);
  t.equal(cleared.headers('contact').length, 0);
  t.equal(registrar.store.size(), 0);
  await register(['<sip:alice@10.0.0.1:5060>'], 600, {}, 'same');
  const store = registrar.store as MemoryLocationStore;
  const b = store.get('sip:alice@example.com')[0]!;
  store.put({ ...b, cseq: 1000 });
  t.equal((await register(['<sip:alice@10.0.0.1:5060>'], 600, {}, 'same')).status, 500, 'older CSeq in the same Call-ID');
  const p = net.nodes.get('10.0.0.1:5060')!.request({ method: 'REGISTER', uri: 'sip:other.org', to: '<sip:alice@other.org>', from: '<sip:alice@other.org>', destination: { protocol: 'udp', host: '10.0.0.2', port: 5060 } });
  await net.settle();
  t.equal((await p).response.status, 404);
  registrar.close();
  net.close();
});

t.test('bindings expire and are reaped on the clock', async (t) => {
  const { net, registrar, register, events } = setup();
  await register(['<sip:alice@10.0.0.1:5060>'], 60);
  await net.advance(30_000, 1000);
  await register(['<sip:alice@10.0.0.1:5070>'], 120);
  t.equal(registrar.store.size(), 2);
  await net.advance(31_000, 1000);
  t.equal(registrar.store.size(), 1, 'first binding reaped at 60 s');
  await net.advance(90_000, 1000);
  t.equal(registrar.store.size(), 0);
  t.same(events.filter((e) => e.endsWith(':expired')), ['-sip:alice@10.0.0.1:5060:expired', '-sip:alice@10.0.0.1:5070:expired']);
  registrar.close();
  t.equal(net.clock.pending, 0);
  net.close();
});

t.test('digest-protected registration: 401, retry, 200; wrong user for the AOR is 403', async (t) => {
  const { net, registrar, register } = setup({ auth: true });
  const ok = await register(['<sip:alice@10.0.0.1:5060>'], 600);
  t.equal(ok.status, 200);
  t.match(net.summary(), ['REGISTER', '401 REGISTER', 'REGISTER', '200 REGISTER']);
  const p = net.nodes.get('10.0.0.1:5060')!.request({
    method: 'REGISTER', uri: 'sip:10.0.0.2', to: '<sip:bob@example.com>', from: '<sip:bob@example.com>',
    headers: { Contact: '<sip:bob@10.0.0.1>' }, credentials: { username: 'alice', password: 'pw' },
  });
  await net.settle();
  t.equal((await p).response.status, 403);
  registrar.close();
  net.close();
});

t.test('canonical AOR', async (t) => {
  t.equal(canonicalAor(SipUri.parse('sip:Alice@EXAMPLE.com:5060;transport=tcp')), 'sip:Alice@example.com');
  t.equal(canonicalAor(SipUri.parse('sips:%61lice@example.com')), 'sips:alice@example.com');
  const s = new MemoryLocationStore();
  t.equal(s.nextExpiry(), undefined);
  t.same(s.removeAll('x'), []);
  t.equal(s.remove('x', 'y'), false);
  s.put({ aor: 'a', contact: 'c', contactKey: 'k', q: 1, expiresAt: 5, callId: 'c', cseq: 1 });
  t.equal(s.removeAll('a').length, 1);
  t.equal(s.size(), 0);
});
