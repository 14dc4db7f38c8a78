/**
 * The SIP hot-path shortcuts keep their contracts: pooled random branches and tags stay unique and
 * well-formed across pool refills (RFC 3261 8.1.1.7, 19.3), IP-literal next hops resolve without a lookup,
 * cached metric label keys match the general ones and never go stale for mutable label sets.
 */
import t from 'tap';

import { MAGIC_COOKIE, SipUri, generateBranch, generateTag } from '../../../src/sip/message/index.js';
import { literalTarget, resolveUri } from '../../../src/sip/ua/resolve.js';
import { MetricsRegistry } from '../../../src/util/metrics.js';

t.test('branches and tags from the random pool: unique, well-formed, across refills', async (t) => {
  const seen = new Set<string>();
  // 12 bytes per branch (16 base64url characters), 4 KiB per fill: 2,000 branches cross several refills.
  const shape = new RegExp(`^${MAGIC_COOKIE}[A-Za-z0-9_-]{16}$`);
  for (let i = 0; i < 2000; i++) seen.add(generateBranch());
  t.equal(seen.size, 2000, 'no branch repeats');
  t.same([...seen].filter((b) => !shape.test(b)), [], 'magic cookie and 12 random bytes each');
  const tags = new Set<string>();
  for (let i = 0; i < 2000; i++) tags.add(generateTag());
  t.equal(tags.size, 2000, 'no tag repeats');
  t.same([...tags].filter((tag) => !/^[A-Za-z0-9_-]{11}$/.test(tag)), [], '8 random bytes each');
});

t.test('literalTarget: IP literals without a lookup, names left to resolveUri', async (t) => {
  t.same(literalTarget(SipUri.parse('sip:100@127.0.0.1:5070')), { protocol: 'udp', host: '127.0.0.1', port: 5070 });
  t.same(literalTarget(SipUri.parse('sip:100@10.0.0.1;transport=tcp')), await resolveUri(SipUri.parse('sip:100@10.0.0.1;transport=tcp')));
  t.equal(literalTarget(SipUri.parse('sip:100@example.invalid')), undefined);
});

t.test('metric label keys: frozen label sets cached, mutable ones recomputed', async (t) => {
  const m = new MetricsRegistry();
  const c = m.counter('x_total', 'x');
  const frozen = Object.freeze({ protocol: 'udp' });
  c.inc(frozen);
  c.inc(frozen);
  c.inc({ protocol: 'udp' });
  t.equal(c.get({ protocol: 'udp' }), 3, 'cached and computed keys name the same series');
  const mutable: Record<string, string> = { kind: 'a' };
  c.inc(mutable);
  mutable['kind'] = 'b';
  c.inc(mutable);
  t.equal(c.get({ kind: 'a' }), 1);
  t.equal(c.get({ kind: 'b' }), 1, 'a mutated label set is not served a stale key');
  t.match(m.render(), /x_total\{protocol="udp"\} 3/);
});
