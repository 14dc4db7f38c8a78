import t from 'tap';

import { MetricsRegistry } from '../../src/util/metrics.js';

t.test('counters render in Prometheus text format with sorted labels', async (t) => {
  const reg = new MetricsRegistry();
  const c = reg.counter('switchhook_test_total', 'Things seen.');
  c.inc({ b: '2', a: '1' });
  c.inc({ a: '1', b: '2' }, 2);
  c.inc({ a: 'x"y' });
  t.equal(c.get({ a: '1', b: '2' }), 3);
  t.equal(c.total(), 4);
  t.equal(reg.counter('switchhook_test_total', 'again'), c, 'same name returns the same counter');
  const text = reg.render();
  t.match(text, /# TYPE switchhook_test_total counter/);
  t.match(text, /switchhook_test_total\{a="1",b="2"\} 3/);
  t.match(text, /switchhook_test_total\{a="x\\"y"\} 1/);
});

t.test('gauges go up and down; a name cannot change kind', async (t) => {
  const reg = new MetricsRegistry();
  const g = reg.gauge('switchhook_depth', 'Queue depth.');
  g.add(5);
  g.add(-2);
  t.equal(g.get(), 3);
  g.set(7);
  t.equal(g.get(), 7);
  t.throws(() => reg.counter('switchhook_depth', 'x'), TypeError);
  t.match(reg.render(), /switchhook_depth 7/);
});

t.test('updates find their series by label set, frozen or not, whatever the order', (t) => {
  const reg = new MetricsRegistry();
  const c = reg.counter('x_total', 'x');
  const udp = Object.freeze({ protocol: 'udp' });
  const tcp = Object.freeze({ protocol: 'tcp' });
  const loose: Record<string, string> = { protocol: 'udp' };
  c.inc(udp);
  c.inc(udp, 2);
  c.inc(tcp);
  c.inc(loose);
  loose['protocol'] = 'ws'; // a label set that is not frozen may change: it names another series then
  c.inc(loose);
  c.inc(udp);
  c.inc();
  t.equal(c.get(udp), 5);
  t.equal(c.get(tcp), 1);
  t.equal(c.get({ protocol: 'ws' }), 1);
  t.equal(c.get(), 1);
  t.equal(c.total(), 8);
  const g = reg.gauge('y', 'y');
  g.set(3);
  g.add(-1);
  g.set(7, tcp);
  g.add(1, tcp);
  t.equal(g.get(), 2);
  t.equal(g.get(tcp), 8);
  t.match(reg.render(), /x_total\{protocol="udp"\} 5\nx_total\{protocol="tcp"\} 1\nx_total\{protocol="ws"\} 1\nx_total 1/);
  t.end();
});
