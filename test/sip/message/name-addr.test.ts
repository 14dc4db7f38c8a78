import t from 'tap';

import { NameAddr, SipParseError, SipUri, parseNameAddrList } from '../../../src/sip/index.js';

t.test('name-addr forms (RFC 3261 20.10, 25.1)', (t) => {
  const a = NameAddr.parse('"Alice \\"A\\" Liddell" <sip:alice@example.com;transport=tcp>;tag=abc;expires=60;q=0.5');
  t.equal(a.displayName, 'Alice "A" Liddell');
  t.equal(a.uri.transport, 'tcp', 'URI parameters stay in the URI');
  t.equal(a.tag, 'abc');
  t.equal(a.expires, 60);
  t.equal(a.q, 0.5);
  t.equal(a.toString(), '"Alice \\"A\\" Liddell" <sip:alice@example.com;transport=tcp>;tag=abc;expires=60;q=0.5');

  const b = NameAddr.parse('sip:bob@example.com;tag=x');
  t.equal(b.displayName, undefined);
  t.equal(b.tag, 'x', 'parameters after an addr-spec belong to the header');
  t.equal(b.uri.params.size, 0);
  t.equal(b.toString(), '<sip:bob@example.com>;tag=x');

  const c = NameAddr.parse('Bob Smith <sip:bob@example.com>');
  t.equal(c.displayName, 'Bob Smith');
  t.equal(c.toString(), 'Bob Smith <sip:bob@example.com>');
  t.equal(NameAddr.parse('<sip:x@y>').displayName, undefined);
  t.equal(NameAddr.parse('<sip:x@y>;expires=99999999999').expires, undefined, 'non-numeric range');
  const q = NameAddr.parse('"" <sip:x@y>');
  t.equal(q.toString(), '<sip:x@y>');
  t.equal(new NameAddr(SipUri.parse('sip:x@y'), 'a,b').toString(), '"a,b" <sip:x@y>');
  t.end();
});

t.test('tag setter and clone', (t) => {
  const a = NameAddr.parse('<sip:a@b>');
  a.tag = 't1';
  t.equal(a.toString(), '<sip:a@b>;tag=t1');
  const b = a.clone();
  b.tag = undefined;
  t.equal(a.tag, 't1');
  t.equal(b.toString(), '<sip:a@b>');
  t.end();
});

t.test('malformed name-addrs', (t) => {
  for (const [text, why] of [
    ['Bell, Alexander <sip:a@b>', /display name/],
    ['"unterminated <sip:a@b>', /unterminated quoted string/],
    ['"x" sip:a@b', /expected '<'/],
    ['<sip:a@b', /missing '>'/],
    ['sip:a@b?x=y', /enclosed in <>/],
    ['<sip:a@b>;;', /parameter name/],
    ['<sip:a@b> junk', /unexpected/],
    ['< sip:a@b >', /whitespace/],
    ['"\\', /unterminated/],
  ] as const) {
    try {
      void NameAddr.parse(text, 'To').uri;
      t.fail(`accepted ${text}`);
    } catch (e) {
      t.ok(e instanceof SipParseError);
      t.match((e as SipParseError).reason, why, text);
    }
  }
  t.end();
});

t.test('address lists split at top-level commas only', (t) => {
  const list = parseNameAddrList(['"Doe, John" <sip:j@a>;q=1, <sip:k@b;lr>', 'sip:l@c'], 'Contact');
  t.same(list.map((n) => n.displayName), ['Doe, John', undefined, undefined]);
  t.same(list.map((n) => n.uri.user), ['j', 'k', 'l']);
  t.throws(() => parseNameAddrList(['<sip:a@b>,,<sip:c@d>'], 'Route'), SipParseError);
  t.end();
});
