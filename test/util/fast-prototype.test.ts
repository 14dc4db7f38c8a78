import { setFlagsFromString } from 'node:v8';

import t from 'tap';

import { keepPrototypeFast } from '../../src/util/fast-prototype.js';

setFlagsFromString('--allow-natives-syntax');
// Compiled after the flag is set, so V8's intrinsic is allowed here.
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

t.test('a prototype normalised by a subclass is made fast again, and stays fast through the next one', async (t) => {
  class Base {
    a(): number {
      return 1;
    }
    b(): number {
      return 2;
    }
  }
  class Sub extends Base {}
  t.notOk(hasFastProperties(Base.prototype), 'V8 puts a prototype that gets a subclass into dictionary mode');
  keepPrototypeFast(Base.prototype);
  t.ok(hasFastProperties(Base.prototype), 'fast again');
  class Sub2 extends Base {}
  t.ok(hasFastProperties(Base.prototype), 'a later subclass no longer normalises it');
  t.equal(new Sub().a() + new Sub2().b(), 3, 'the methods are still there');
});

t.test('String.prototype stays fast once the store (and with it ioredis, which extends String) is loaded', async (t) => {
  await import('../../src/store/index.js');
  t.ok(hasFastProperties(String.prototype));
});
