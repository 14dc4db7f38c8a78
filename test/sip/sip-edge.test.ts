/**
 * Public edge-case captures (captures/public/sip-edge, see its NOTICE.md) with their expected verdicts:
 * read with the pcap toolkit (IPv6 fragments, IP-in-IP, SLL, TCP reassembly), framed and parsed.
 */
import { once } from 'node:events';
import { connect } from 'node:net';

import t from 'tap';

import { readCapture } from '../../src/util/pcap/index.js';
import {
  NameAddr,
  SipParseError,
  StreamFramer,
  TransportLayer,
  parseMessage,
  type SipMessage,
  type SipRequest,
} from '../../src/sip/index.js';

const dir = 'captures/public/sip-edge/';

function verdict(buf: Buffer): SipMessage | SipParseError {
  try {
    return parseMessage(buf).validate();
  } catch (err) {
    if (err instanceof SipParseError) return err;
    throw err;
  }
}

function messagesOf(stream: Buffer, limits = {}): SipMessage[] {
  const out: SipMessage[] = [];
  for (const ev of new StreamFramer(limits).push(stream)) {
    if (ev.kind !== 'message') throw new Error(`unexpected framer event ${ev.kind}`);
    out.push(parseMessage(ev.buf, limits).validate());
  }
  return out;
}

t.test('compact header form parses (suricata sip-compact-form)', async (t) => {
  const c = await readCapture(dir + 'sip_compact_form.pcap');
  t.equal(c.udp.length, 1);
  const m = verdict(c.udp[0]!.payload) as SipRequest;
  t.notOk(m instanceof SipParseError, 'valid');
  t.equal(m.method, 'INVITE');
  t.equal(m.header('Via'), m.header('v'));
  t.equal(m.from.displayName, '"arik"', 'backslash-escaped quotes outside a quoted string are taken liberally');
  t.equal(m.from.tag, '6433ef9');
  t.equal(m.callId, '105090259-446faf7a@192.168.1.2');
  t.equal(m.contentType, 'application/sdp');
  t.equal(m.body.length, 272);
  t.equal(m.topVia!.rport, true);
});

t.test('a duplicated To (t: and To:) is rejected (suricata sip-header-multi-value)', async (t) => {
  const c = await readCapture(dir + 'sip_header_multi_val.pcap');
  const e = verdict(c.udp[0]!.payload);
  t.ok(e instanceof SipParseError);
  t.match((e as SipParseError).reason, /To appears more than once/);
  t.ok((e as SipParseError).partial, 'a 400 can be addressed');
});

t.test('64 KiB body over TCP is reassembled and limited by the body cap (suricata sip-body-large)', async (t) => {
  const c = await readCapture(dir + 'sip-body-large.pcap');
  const toServer = c.tcp.find((s) => s.dport === 5060)!;
  t.equal(toServer.gaps, 0);
  const [invite] = messagesOf(toServer.data);
  t.equal((invite as SipRequest).method, 'INVITE');
  t.equal(invite!.body.length, 65536, 'accepted at the default 64 KiB cap');
  const [trying] = messagesOf(c.tcp.find((s) => s.sport === 5060)!.data);
  t.equal((trying as unknown as { status: number }).status, 100);

  const capped = new StreamFramer({ maxBodyBytes: 16 * 1024 }).push(toServer.data);
  t.same(capped.map((e) => e.kind), ['error']);
  t.match(capped[0], { kind: 'error', status: 413, fatal: false });

  // The same bytes over a real TCP connection, in the capture's segment sizes, to a capped transport.
  const tl = new TransportLayer({ limits: { maxBodyBytes: 16 * 1024 } });
  t.teardown(() => tl.close());
  const a = await tl.listen({ protocol: 'tcp' });
  const sock = connect(a.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await once(sock, 'connect');
  const err = once(tl, 'parseError');
  for (let i = 0; i < toServer.data.length; i += 16332) sock.write(toServer.data.subarray(i, i + 16332));
  const [e] = (await err) as [SipParseError];
  t.equal(e.status, 413);
  t.equal((e.partial as SipRequest).method, 'INVITE', 'the head is kept to answer 413');
});

t.test('REGISTER/200 over TCP with the handshake (suricata sip-tcp-method)', async (t) => {
  const c = await readCapture(dir + 'suricata-sip-tcp.pcap');
  const all = c.tcp.flatMap((s) => messagesOf(s.data));
  t.same(all.map((m) => (m.isRequest ? (m as SipRequest).method : (m as unknown as { status: number }).status)), ['REGISTER', 200]);
  t.equal(all[1]!.contact.length, 1);
});

t.test('Content-Length: bad and xyz are rejected (zeek invalid-content-length)', async (t) => {
  const c = await readCapture(dir + 'zeek-invalid-content-length.pcap');
  const [a, b] = c.udp.map((d) => verdict(d.payload));
  t.match(a, { reason: /Content-Length is not a number: 'bad'/ });
  t.match(b, { reason: /Content-Length is not a number: 'xyz'/ });
  t.ok((a as SipParseError).partial?.isRequest, 'the INVITE can be answered with 400');
});

t.test('junk before a request is dropped, the request itself is judged alone (zeek sip-junk-before-request)', async (t) => {
  const c = await readCapture(dir + 'zeek-sip-junk-before-request.pcap');
  t.equal(c.udp.length, 2);
  const junk = verdict(c.udp[0]!.payload);
  t.match(junk, { reason: 'junk before the start line', partial: undefined });
  const reg = parseMessage(c.udp[1]!.payload) as SipRequest;
  t.equal(reg.method, 'REGISTER');
  t.equal(reg.expires, 3600);
  t.match(verdict(c.udp[1]!.payload), { reason: /missing Via, From, To, Call-ID, CSeq/ });
  // The same junk glued in front of a request in one datagram is rejected, never half-parsed.
  t.match(verdict(Buffer.concat([c.udp[0]!.payload, c.udp[1]!.payload])), { reason: 'junk before the start line' });
});

t.test('long Via and Record-Route paths parse (zeek sip-long-request-response-paths)', async (t) => {
  const c = await readCapture(dir + 'zeek-sip-long-request-response-paths.pcap');
  for (const d of c.udp) {
    t.ok(d.payload.length > 9000);
    const m = verdict(d.payload) as SipMessage;
    t.notOk(m instanceof SipParseError);
    t.equal(m.via.length, 10);
    t.ok(m.via.every((v) => v.branch !== undefined));
  }
});

t.test('SIP over fragmented IPv6 on SLL (sngrep ipv6frag)', async (t) => {
  const c = await readCapture(dir + 'sngrep-ipv6frag.pcap');
  t.equal(c.incompleteFragments, 0);
  t.equal(c.udp.length, 32);
  const verdicts = c.udp.map((d) => verdict(d.payload));
  t.ok(verdicts.every((v) => !(v instanceof SipParseError)), 'every message is valid');
  const first = verdicts[0] as SipRequest;
  t.equal(first.uri.host, '[fd17:625c:f037:2:a00:27ff:feb9:4222]');
  t.equal(first.uri.port, 25060);
  t.ok(c.udp[0]!.payload.length > 1500, 'reassembled from fragments');
  const methods = new Set(verdicts.filter((m) => (m as SipMessage).isRequest).map((m) => (m as SipRequest).method));
  t.same([...methods].sort(), ['ACK', 'BYE', 'INVITE', 'PRACK', 'UPDATE']);
});

t.test('SIP over TCP inside IP-in-IP (sngrep ipip)', async (t) => {
  const c = await readCapture(dir + 'sngrep-ipip.pcap');
  const all = c.tcp.flatMap((s) => messagesOf(s.data));
  t.equal(all.length, 4);
  t.same(
    all.map((m) => (m.isRequest ? (m as SipRequest).method : String((m as unknown as { status: number }).status))).sort(),
    ['183', '200', 'BYE', 'INVITE'],
  );
  t.ok(all.every((m) => m.callId === all[0]!.callId));
  t.ok(NameAddr);
});
