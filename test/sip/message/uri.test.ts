import t from 'tap';

import { SipParseError, SipUri, parseUri } from '../../../src/sip/index.js';

t.test('sip URI parts (RFC 3261 19.1.1)', (t) => {
  const u = parseUri('sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent');
  t.equal(u.scheme, 'sips');
  t.equal(u.user, 'alice');
  t.equal(u.password, 'secret');
  t.equal(u.host, '[2001:db8::1]');
  t.equal(u.port, 5061);
  t.equal(u.transport, 'tcp');
  t.equal(u.param('LR'), null);
  t.equal(u.param('nope'), undefined);
  t.same(u.headers, [['subject', 'project%20x'], ['priority', 'urgent']]);
  t.equal(u.toString(), 'sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent');
  t.equal(u.hostport, '[2001:db8::1]:5061');
  t.ok(u.isSip);
  t.equal(parseUri('sip:example.com').user, undefined);
  t.equal(SipUri.parse('SIP:Bob@Example.COM').scheme, 'sip');
  t.end();
});

t.test('tel and other schemes (RFC 3966, RFC 3261 25.1 absoluteURI)', (t) => {
  const tel = parseUri('tel:+1-201-555-0123;phone-context=example.com');
  t.equal(tel.user, '+1-201-555-0123');
  t.equal(tel.param('phone-context'), 'example.com');
  t.equal(tel.toString(), 'tel:+1-201-555-0123;phone-context=example.com');
  t.ok(tel.equals(parseUri('tel:+12015550123;phone-context=example.com')), 'visual separators are ignored');
  t.notOk(tel.equals(parseUri('tel:+12015550123')));
  const other = parseUri('urn:service:sos');
  t.equal(other.opaque, 'service:sos');
  t.equal(other.toString(), 'urn:service:sos');
  t.ok(other.equals(parseUri('urn:service:sos')));
  t.notOk(other.equals(parseUri('urn:service:x')));
  t.end();
});

t.test('malformed URIs are rejected with a reason', (t) => {
  for (const [text, why] of [
    ['sip:user@example.com ', /whitespace/],
    ['example.com', /no scheme/],
    ['1sip:x', /start with a letter/],
    ['s_p:x', /bad scheme/],
    ['sip:us"er@host', /not allowed/],
    ['sip:host:99999', /port out of range/],
    ['sip:host:', /bad port/],
    ['sip:[::1', /IPv6/],
    ['sip:ho st', /whitespace/],
    ['sip:host?x', /bad header/],
    ['sip:host;a=b{', /bad value/],
    ['sip:a@h/x', /bad host|after host/],
    ['tel:xyz', /telephone-subscriber/],
    ['foo:', /empty URI/],
  ] as const) {
    t.throws(() => parseUri(text), SipParseError, text);
    try {
      parseUri(text);
    } catch (e) {
      t.match((e as SipParseError).reason, why, text);
    }
  }
  t.end();
});

t.test('URI comparison (RFC 3261 19.1.4 examples)', (t) => {
  const eq = (a: string, b: string) => parseUri(a).equals(parseUri(b));
  t.ok(eq('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'));
  t.ok(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'));
  t.ok(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;newparam=5'));
  t.ok(eq('sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'));
  t.ok(eq('sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'));
  t.notOk(eq('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'), 'user is case-sensitive');
  t.notOk(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'), 'an explicit default port differs');
  t.notOk(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp;user=phone'), 'user param in one only');
  t.notOk(eq('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'), 'headers are never ignored');
  t.notOk(eq('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'));
  t.notOk(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off'));
  t.notOk(eq('sip:a@b', 'sips:a@b'));
  t.notOk(eq('sip:a:pw@b', 'sip:a@b'));
  t.notOk(eq('sip:a@b?x=1', 'sip:a@b?y=1'));
  t.end();
});

t.test('building and cloning', (t) => {
  const u = new SipUri({ user: 'bob', host: 'example.com', port: 5070, params: [['transport', 'tcp']] });
  t.equal(u.toString(), 'sip:bob@example.com:5070;transport=tcp');
  const c = u.clone();
  c.params.set('lr', null);
  t.equal(u.toString(), 'sip:bob@example.com:5070;transport=tcp');
  t.equal(c.toString(), 'sip:bob@example.com:5070;transport=tcp;lr');
  t.equal(new SipUri({ scheme: 'tel', user: '+4930' }).toString(), 'tel:+4930');
  t.equal(new SipUri({ user: 'a', password: 'b', host: 'h' }).toString(), 'sip:a:b@h');
  t.end();
});
