import t from 'tap';

import { DeadlineHeap } from '../../../src/sip/subscription/deadline-heap.js';
import { ManualClock } from '../../../src/sip/transaction/clock.js';

t.test('DeadlineHeap: one timer, due entries in deadline order, re-armed for earlier pushes, cleared', async (t) => {
  const clock = new ManualClock();
  const due: string[] = [];
  const heap = new DeadlineHeap<string>(clock, (item, at) => {
    due.push(`${item}@${at}`);
    if (item === 'c') heap.push(clock.now(), 'c2'); // pushed while firing, already due
  });
  for (const [at, item] of [[500, 'e'], [300, 'c'], [100, 'a'], [400, 'd'], [200, 'b'], [300, 'c-again']] as const) heap.push(at, item);
  t.equal(heap.size, 6);
  t.equal(clock.pending, 1, 'one clock timer');
  clock.advance(350);
  t.same(due.slice(0, 2), ['a@100', 'b@200']);
  t.same(due.slice(2).sort(), ['c-again@300', 'c2@300', 'c@300'].sort());
  heap.push(360, 'early');
  clock.advance(100);
  t.same(due.slice(5), ['early@360', 'd@400']);
  heap.clear();
  t.equal(heap.size, 0);
  t.equal(clock.pending, 0);
  clock.advance(1000);
  t.equal(due.length, 7, 'nothing after clear');
});
