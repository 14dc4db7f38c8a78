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

t.test('a label set reused by identity counts in its own series; a mutable one is keyed by its contents every time', async (t) => {
  const reg = new MetricsRegistry();
  const c = reg.counter('switchhook_cells_total', 'Cells.');
  const udp = Object.freeze({ protocol: 'udp' });
  const tcp = Object.freeze({ protocol: 'tcp' });
  c.inc(udp);
  c.inc(udp, 2);
  c.inc(tcp);
  c.inc(udp);
  c.inc();
  c.inc(undefined, 4);
  t.equal(c.get(udp), 4);
  t.equal(c.get({ protocol: 'tcp' }), 1);
  t.equal(c.get(), 5, 'the unlabelled series');
  const mutable: Record<string, string> = { protocol: 'ws' };
  c.inc(mutable);
  mutable['protocol'] = 'wss';
  c.inc(mutable);
  t.equal(c.get({ protocol: 'ws' }), 1);
  t.equal(c.get({ protocol: 'wss' }), 1, 'a changed label set is not taken for the one before');
  t.equal(c.total(), 12);
  const g = reg.gauge('switchhook_cells', 'Cells.');
  g.set(3, udp);
  g.add(2, udp);
  g.set(1, tcp);
  t.equal(g.get(udp), 5);
  t.match(reg.render(), /switchhook_cells\{protocol="tcp"\} 1/);
});
