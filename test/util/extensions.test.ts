import t from 'tap';

import { expandExtensions } from '../../src/util/extensions.js';

t.test('extension specs: single, ranges with their width, lists, duplicates dropped', async (t) => {
  t.same(expandExtensions(['0998-1001', '1000', '2001']), ['0998', '0999', '1000', '1001', '2001']);
  t.same(expandExtensions('2000-2002, 300,2001'), ['2000', '2001', '2002', '300']);
  t.same(expandExtensions(['+4930123', '*21#']), ['+4930123', '*21#']);
});

t.test('bad specs are refused with the spec named', async (t) => {
  t.throws(() => expandExtensions(['1-99']), { name: 'RangeError', message: "range '1-99' mixes widths" });
  t.throws(() => expandExtensions('20-10'), /'20-10' ends before it starts/);
  t.throws(() => expandExtensions(['000000-999999']), /larger than 100000/);
  t.throws(() => expandExtensions(['a b']), /'a b' is not a device or range/);
  t.throws(() => expandExtensions(' , '), /no extensions/);
});
