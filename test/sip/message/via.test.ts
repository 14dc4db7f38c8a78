import t from 'tap';

import { MAGIC_COOKIE, SipParseError, Via, parseViaList, parseViaValue } from '../../../src/sip/index.js';

t.test('Via values (RFC 3261 20.42, RFC 3581)', (t) => {
  const v = parseViaValue('SIP / 2.0 / tcp client.example.com:5070 ; branch = z9hG4bKabc ; rport ; received=192.0.2.1;ttl=16;maddr=239.1.1.1');
  t.equal(v.transport, 'TCP');
  t.equal(v.host, 'client.example.com');
  t.equal(v.port, 5070);
  t.equal(v.branch, 'z9hG4bKabc');
  t.ok(v.hasMagicCookie);
  t.equal(v.rport, true);
  t.equal(v.received, '192.0.2.1');
  t.equal(v.maddr, '239.1.1.1');
  v.rport = 5071;
  v.received = undefined;
  t.equal(v.toString(), 'SIP/2.0/TCP client.example.com:5070;branch=z9hG4bKabc;rport=5071;ttl=16;maddr=239.1.1.1');
  v.rport = undefined;
  v.branch = undefined;
  t.equal(v.rport, undefined);
  t.notOk(v.hasMagicCookie);
  const six = parseViaValue('SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK1;rport=4000');
  t.equal(six.host, '[2001:db8::9]');
  t.equal(six.rport, 4000);
  t.equal(new Via({ transport: 'ws', host: 'h' }).toString(), 'SIP/2.0/WS h');
  t.equal(MAGIC_COOKIE, 'z9hG4bK');
  t.end();
});

t.test('Via lists and faults', (t) => {
  t.equal(parseViaList(['SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;branch=z9hG4bK2', 'SIP/2.0/TLS c']).length, 3);
  for (const [text, why] of [
    ['SIP/2.0/UDP 192.0.2.15;;', /parameter name/],
    ['SIP/2.0 UDP host', /expected '\/'/],
    ['SIP/2.0/UDP', /whitespace before sent-by/],
    ['SIP/2.0/UDP ;branch=x', /missing sent-by host/],
    ['SIP/2.0/UDP h:99999', /bad sent-by port/],
    ['SIP/2.0/UDP h;rport=x', /bad rport/],
    ['SIP/2.0/UDP h;ttl=300', /bad ttl/],
    ['SIP/2.0/UDP [::1', /IPv6/],
    ['SIP/2.0/UDP h junk', /unexpected/],
  ] as const) {
    try {
      parseViaValue(text);
      t.fail(text);
    } catch (e) {
      t.ok(e instanceof SipParseError);
      t.match((e as SipParseError).reason, why, text);
    }
  }
  t.throws(() => parseViaList(['SIP/2.0/UDP a,,SIP/2.0/UDP b']), SipParseError);
  t.end();
});
