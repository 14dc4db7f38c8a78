import t from 'tap';

import { FlatStringMap } from '../../src/util/flat-string-map.js';

t.test('set, get, has, replace and delete like a Map', async (t) => {
  const m = new FlatStringMap<number>(8);
  t.equal(m.size, 0);
  t.equal(m.get('a'), undefined);
  t.equal(m.set('a', 1), m, 'set returns the map');
  m.set('b', 2);
  t.equal(m.get('a'), 1);
  t.ok(m.has('b'));
  m.set('a', 3);
  t.equal(m.size, 2, 'replacing a value adds no entry');
  t.equal(m.get('a'), 3);
  t.ok(m.delete('a'));
  t.notOk(m.delete('a'), 'deleting a missing key');
  t.notOk(m.has('a'));
  t.equal(m.get('b'), 2);
  t.equal(m.size, 1);
  t.same(m.values(), [2]);
  m.clear();
  t.equal(m.size, 0);
  t.equal(m.get('b'), undefined);
});

t.test('agrees with a Map under random churn that grows, collides and shrinks the table', async (t) => {
  const m = new FlatStringMap<string>(8);
  const ref = new Map<string, string>();
  // A small deterministic generator: the same sequence on every run.
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const keys = Array.from({ length: 3000 }, (_, i) => `z9hG4bK${i.toString(36)}`);
  let mismatches = 0;
  for (let step = 0; step < 60_000; step++) {
    // Phases: mostly inserts (the table grows), then mostly deletes (it shrinks), then mixed.
    const phase = Math.floor(step / 20_000);
    const insert = phase === 0 ? rnd(10) < 8 : phase === 1 ? rnd(10) < 2 : rnd(2) === 0;
    const k = keys[rnd(keys.length)]!;
    if (insert) {
      m.set(k, `v${step}`);
      ref.set(k, `v${step}`);
    } else if (m.delete(k) !== ref.delete(k)) mismatches++;
    if (step % 997 === 0) {
      for (const key of keys) if (m.get(key) !== ref.get(key) || m.has(key) !== ref.has(key)) mismatches++;
      if (m.size !== ref.size) mismatches++;
    }
  }
  t.equal(mismatches, 0);
  t.same(m.values().sort(), [...ref.values()].sort());
  for (const k of [...ref.keys()]) m.delete(k);
  t.equal(m.size, 0);
  t.same(m.values(), []);
});

t.test('keys with the same hash slot wrap around the end of the table', async (t) => {
  // With eight slots many of these land in the last ones, so probe runs cross the end of the arrays.
  const m = new FlatStringMap<number>(8);
  const keys = ['a', 'b', 'c', 'd'];
  keys.forEach((k, i) => m.set(k, i));
  const lost: string[] = [];
  for (let round = 0; round < 50; round++) {
    const k = keys[round % keys.length]!;
    if (!m.delete(k)) lost.push(k);
    m.set(k + round, round);
    keys[round % keys.length] = k + round;
    for (const key of keys) if (!m.has(key)) lost.push(key);
  }
  t.same(lost, []);
  t.equal(m.size, 4);
});
