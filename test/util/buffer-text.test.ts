import t from 'tap';

import { latin1, utf8Write } from '../../src/util/buffer-text.js';

t.test('latin1 decodes a byte range one character per byte', async (t) => {
  const b = Buffer.from([0x53, 0x49, 0x50, 0xe9, 0x2f, 0x32]);
  t.equal(latin1(b, 0, 3), 'SIP');
  t.equal(latin1(b, 3, 6), '\u00e9/2');
  t.equal(latin1(b, 2, 2), '');
});

t.test('utf8Write writes UTF-8 at an offset and returns the bytes written', async (t) => {
  const b = Buffer.alloc(16, 0x2e);
  t.equal(utf8Write(b, 'a\u00e9\u20ac', 2), 6);
  t.same([...b.subarray(0, 9)], [0x2e, 0x2e, 0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0x2e]);
});
