import t from 'tap';

import {
  NameAddr,
  SipParseError,
  SipRequest,
  SipResponse,
  type SipMessage,
  Via,
  createRequest,
  createResponse,
  generateBranch,
  generateCallId,
  generateTag,
  headerSpelling,
  isRequest,
  parseMessage,
  quote,
  unquote,
} from '../../../src/sip/index.js';

const INVITE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8, SIP/2.0/UDP proxy.example.com;branch=z9hG4bK2',
  'v: SIP/2.0/TCP third.example.com;branch=z9hG4bK3',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'f: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'i: a84b4c76e66710',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
  'Allow: INVITE, ACK,',
  '  BYE',
  'Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>',
  'Expires: 30',
  'Content-Type: application/sdp',
  'Content-Length: 4',
  '',
  'v=0\r\nTRAILING',
].join('\r\n');

t.test('lazy parse: headers, compact forms, lists, folding, typed accessors', (t) => {
  const raw = Buffer.from(INVITE);
  const m = parseMessage(raw);
  t.ok(isRequest(m));
  const r = m as SipRequest;
  t.equal(r.method, 'INVITE');
  t.equal(r.uri.user, 'bob');
  t.equal(r.uriString, 'sip:bob@biloxi.example.com');
  t.equal(m.header('FROM'), 'Alice <sip:alice@atlanta.example.com>;tag=1928301774');
  t.equal(m.header('call-id'), 'a84b4c76e66710');
  t.equal(m.callId, 'a84b4c76e66710');
  t.same(m.headers('via').length, 3);
  t.same(m.headers('Allow'), ['INVITE', 'ACK', 'BYE']);
  t.same(m.headers('Content-Type'), ['application/sdp']);
  t.equal(m.headerCount('via'), 2);
  t.ok(m.hasHeader('v'));
  t.notOk(m.hasHeader('Subject'));
  t.equal(m.header('Subject'), undefined);
  t.same(m.via.map((v) => v.host), ['pc33.atlanta.example.com', 'proxy.example.com', 'third.example.com']);
  t.equal(m.topVia!.branch, 'z9hG4bKnashds8');
  t.equal(m.from.tag, '1928301774');
  t.equal(m.to.displayName, 'Bob');
  t.same(m.cseq, { seq: 314159, method: 'INVITE' });
  t.equal((m.contact[0] as NameAddr).uri.host, 'pc33.atlanta.example.com');
  t.same(m.recordRoute.map((n) => n.uri.host), ['p1.example.com', 'p2.example.com']);
  t.same(m.route, []);
  t.equal(m.maxForwards, 70);
  t.equal(m.expires, 30);
  t.equal(m.contentType, 'application/sdp');
  t.equal(m.body.toString(), 'v=0\r');
  t.ok(m.body.buffer === raw.buffer, 'the body is a view of the receive buffer');
  t.equal(m.toBuffer().toString(), INVITE.slice(0, INVITE.indexOf('TRAILING') - 1), 'unchanged: the received bytes');
  t.ok(m.headerNames().includes('record-route'));
  t.equal(m.validate(), m);
  t.end();
});

t.test('scanned start lines: usual reason phrases, the Request-URI and the version', (t) => {
  const res = (line: string) =>
    parseMessage(Buffer.from(`${line}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`)) as SipResponse;
  t.equal(res('SIP/2.0 180 Ringing').reason, 'Ringing');
  t.equal(res('SIP/2.0 200 Fine').reason, 'Fine', 'another phrase of the usual length is its own');
  t.equal(res('SIP/2.0 200 OKAY').reason, 'OKAY');
  t.equal(res('SIP/2.0 299 OK').reason, 'OK', 'a status with no usual phrase');
  const ok = res('SIP/2.0 200 OK');
  t.equal(ok.isRequest, false);
  t.equal(ok.version, 'SIP/2.0');
  t.equal(ok.startLine(), 'SIP/2.0 200 OK');
  t.equal(ok.topVia!.protocolName, 'SIP');
  t.equal(ok.topVia!.protocolVersion, '2.0');
  const other = new Via({ transport: 'udp', host: 'h', protocolName: 'XSIP', protocolVersion: '3.0' });
  t.equal(other.toString(), 'XSIP/3.0/UDP h');
  t.equal(other.clone().toString(), 'XSIP/3.0/UDP h');
  t.equal(new Via({ transport: 'TCP', host: 'h', protocolName: 'SIP' }).toString(), 'SIP/2.0/TCP h');
  const req = parseMessage(Buffer.from(INVITE)) as SipRequest;
  t.equal(req.isRequest, true);
  req.addHeader('Subject', 'edited before the Request-URI was read');
  t.equal(req.toString().split('\r\n')[0], 'INVITE sip:bob@biloxi.example.com SIP/2.0', 'the Request-URI survives serialising');
  t.end();
});

t.test('editing headers and body re-serialises with a correct Content-Length', (t) => {
  const m = parseMessage(Buffer.from(INVITE));
  m.setHeader('Max-Forwards', '69');
  m.addHeader('Via', 'SIP/2.0/UDP top.example.com;branch=z9hG4bKtop', { first: true });
  m.addHeader('Record-Route', '<sip:p0.example.com;lr>');
  m.addHeader('X-New', 'one');
  m.removeHeader('Expires');
  t.equal(m.removeHeader('Nope'), 0);
  m.body = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n';
  const out = m.toString();
  t.match(out, /^INVITE sip:bob@biloxi.example.com SIP\/2.0\r\nVia: SIP\/2.0\/UDP top.example.com;branch=z9hG4bKtop\r\nVia: SIP\/2.0\/UDP pc33/);
  t.match(out, /Max-Forwards: 69\r\n/);
  t.match(out, /Allow: INVITE, ACK, BYE\r\n/, 'a folded value is written on one line');
  t.match(out, /Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\nRecord-Route: <sip:p0.example.com;lr>\r\n/);
  t.notMatch(out, /Expires/);
  t.match(out, /Content-Length: 31\r\nX-New: one\r\n\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n$/);
  const again = parseMessage(Buffer.from(out)).validate();
  t.equal(again.via.length, 4);
  t.equal(again.maxForwards, 69);
  t.equal(again.header('x-new'), 'one');
  t.equal(again.toString(), out);

  again.replaceFirstValue('via', 'SIP/2.0/UDP replaced.example.com;branch=z9hG4bKr');
  t.same(again.via.map((v) => v.host), ['replaced.example.com', 'pc33.atlanta.example.com', 'proxy.example.com', 'third.example.com']);
  again.replaceFirstValue('via', 'SIP/2.0/UDP r2;branch=z9hG4bKr2');
  t.equal(again.via[0]!.host, 'r2');
  again.via = [new Via({ transport: 'UDP', host: 'only', params: [['branch', 'z9hG4bKo']] })];
  t.equal(again.via.length, 1);
  again.from = NameAddr.parse('<sip:new@from>;tag=9');
  again.to = NameAddr.parse('<sip:new@to>');
  t.equal(again.from.uri.user, 'new');
  t.equal(again.to.uri.host, 'to');
  (again as SipRequest).uri = 'sip:elsewhere.example.com';
  t.match(again.toString(), /^INVITE sip:elsewhere.example.com SIP\/2.0\r\n/);
  const fresh = new SipResponse(200, 'OK');
  fresh.replaceFirstValue('contact', '<sip:a@b>');
  t.equal(fresh.header('contact'), '<sip:a@b>');
  t.end();
});

t.test('framing faults carry the partial message', (t) => {
  const cases: Array<[string, RegExp, number]> = [
    ['INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nNoColonHere\r\n\r\n', /malformed header line/, 400],
    ['INVITE sip:a@b SIP/2.0\r\n continuation\r\n\r\n', /continuation line/, 400],
    ['INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n', /malformed header line/, 400],
    ['INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n', /body larger/, 413],
    ['INVITE sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n', /empty line/, 400],
    ['INVITE sip:a@b\r\n\r\n', /malformed Request-Line/, 400],
    ['INVITE sip:a@b SIP/3.0\r\n\r\n', /version 3.0/, 505],
    ['SIP/2.0 99 Low\r\n\r\n', /status code/, 400],
    ['SIP/2.0 200\r\n\r\n', /./, 0],
    ['SIP/3.0 200 OK\r\n\r\n', /unsupported SIP version/, 400],
    ['SIP/2.0 OK\r\n\r\n', /malformed Status-Line/, 400],
  ];
  for (const [text, why, status] of cases) {
    if (status === 0) {
      t.equal((parseMessage(Buffer.from(text)) as SipResponse).reason, '', 'a Status-Line without a reason is accepted');
      continue;
    }
    try {
      parseMessage(Buffer.from(text));
      t.fail(text);
    } catch (e) {
      t.ok(e instanceof SipParseError, text);
      t.match((e as SipParseError).reason, why, text);
      t.equal((e as SipParseError).status, status, text);
      t.ok((e as SipParseError).partial, 'partial');
    }
  }
  t.throws(() => parseMessage(Buffer.from('\r\n\r\n')), { message: /empty message/ });
  t.throws(() => parseMessage(Buffer.from('\u00ffINVITE')), { message: /junk/ });
  t.throws(() => parseMessage(Buffer.from('IN<VITE sip:a SIP/2.0\r\n\r\n')), { message: /junk/ });
  t.throws(() => parseMessage(Buffer.from('OPTIONS sip:a SIP/2.0\r\n' + 'X: y\r\n'.repeat(300) + '\r\n')), { message: /header lines/ });
  t.throws(() => parseMessage(Buffer.from('OPTIONS sip:a SIP/2.0\r\nX: ' + 'y'.repeat(40000) + '\r\n\r\n')), { message: /headers larger/ });
  t.throws(() => parseMessage(Buffer.from('OPTIONS sip:' + 'a'.repeat(40000) + ' SIP/2.0\r\n\r\n')), { message: /start line too long/ });
  t.throws(() => parseMessage(Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n' + 'x'.repeat(100)), { maxBodyBytes: 10 }), { message: /body larger/ });
  t.equal(parseMessage(Buffer.from('\r\n\r\nOPTIONS sip:a SIP/2.0\nVia: SIP/2.0/UDP h\n\n')).header('via'), 'SIP/2.0/UDP h', 'leading CRLF skipped, bare LF tolerated');
  t.end();
});

t.test('validation faults (RFC 3261 8.2, 20)', (t) => {
  const base = (extra: string, method = 'OPTIONS') =>
    `${method} sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 ${method}\r\n${extra}\r\n`;
  t.ok(parseMessage(Buffer.from(base(''))).validate());
  for (const [extra, why] of [
    ['Max-Forwards: 256\r\n', /Max-Forwards: out of range/],
    ['Max-Forwards: x\r\n', /Max-Forwards: not a number/],
    ['Expires: 4294967296\r\n', /Expires: out of range/],
    ['Date: Sat, 13 Nov 2010 23:29:00 PST\r\n', /Date/],
    ['Retry-After: 99999999999\r\n', /Retry-After/],
    ['Route: <sip:a@b>,\r\n', /Route: empty list element/],
    ['Contact: Bad, Name <sip:x@y>\r\n', /Contact/],
  ] as const) {
    t.throws(() => parseMessage(Buffer.from(base(extra))).validate(), { reason: why } as never, extra);
  }
  t.ok(parseMessage(Buffer.from(base('Date: Sat, 13 Nov 2010 23:29:00 GMT\r\nRetry-After: 120 (busy)\r\nContact: *\r\nExpires: 0\r\n'))).validate().contact[0] === '*');
  const cseqBad = base('').replace('CSeq: 1 OPTIONS', 'CSeq: OPTIONS');
  t.throws(() => parseMessage(Buffer.from(cseqBad)).validate(), { reason: /CSeq: missing sequence number/ } as never);
  const cseqNoSpace = base('').replace('CSeq: 1 OPTIONS', 'CSeq: 1');
  t.throws(() => parseMessage(Buffer.from(cseqNoSpace)).validate(), { reason: /CSeq/ } as never);
  const callIdSpace = base('').replace('Call-ID: c', 'Call-ID: c d');
  t.throws(() => parseMessage(Buffer.from(callIdSpace)).validate(), { reason: /Call-ID/ } as never);
  const dupSame = base('Content-Type: text/plain\r\nContent-Type: text/plain\r\n');
  t.ok(parseMessage(Buffer.from(dupSame)).validate(), 'an identical repeat is tolerated');
  t.throws(() => new SipRequest('OPTIONS', 'sip:a@b').callId, SipParseError);
  t.end();
});

t.test('validate(sent): From and To copied byte for byte from the request sent are not parsed again; others are', (t) => {
  // The request as this endpoint wrote it; its To carries a value the URI grammar refuses, to tell the two
  // paths apart (a value the endpoint wrote itself is taken as checked).
  const sent = Buffer.from(
    'NOTIFY sip:w@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKs1;rport\r\nMax-Forwards: 70\r\n' +
      'From: <sip:2001@pbx.example>;tag=n1\r\nTo: <sip:w x@127.0.0.1>;tag=w1\r\nCall-ID: c1\r\nCSeq: 2 NOTIFY\r\nContent-Length: 25\r\n\r\n' +
      '\r\nFrom: <sip:a b@c>\r\nbody',
  );
  const response = (from: string, to: string) =>
    parseMessage(Buffer.from(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKs1;rport=5060\r\nFrom: ${from}\r\nTo: ${to}\r\nCall-ID: c1\r\nCSeq: 2 NOTIFY\r\nContent-Length: 0\r\n\r\n`));
  t.ok(response('<sip:2001@pbx.example>;tag=n1', '<sip:w x@127.0.0.1>;tag=w1').validate(sent), 'both copied: taken as checked');
  t.throws(() => response('<sip:2001@pbx.example>;tag=n1', '<sip:w x@127.0.0.1>;tag=w1').validate(), { reason: /To: / } as never, 'without the request: parsed');
  t.throws(() => response('<sip:2001@pbx.example>;tag=n1', '<sip:w x@127.0.0.1>;tag=w2').validate(sent), { reason: /To: / } as never, 'a To that differs is parsed');
  t.throws(() => response('<sip:a b@c>', '<sip:w@127.0.0.1>;tag=w1').validate(sent), { reason: /From: / } as never, "the body's lines are not the request's From");
  t.ok(response('<sip:2001@pbx.example>;tag=n1  ', '<sip:w@127.0.0.1>;tag=w2').validate(sent), 'trailing blanks ignored; a different valid To passes');
  t.throws(() => response('<sip:a b@c>', '<sip:w@127.0.0.1>').validate(Buffer.from('x')), SipParseError, 'no From line in the request: parsed');
  t.end();
});

t.test('validate() gives the same verdict from the scan record as header by header', (t) => {
  const base = (extra: string, method = 'OPTIONS') =>
    `${method} sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 ${method}\r\n${extra}\r\n`;
  const cases = [
    '',
    'Max-Forwards: 256\r\n',
    'Max-Forwards: 70\r\n',
    'Expires: 4294967296\r\n',
    'Date: Sat, 13 Nov 2010 23:29:00 PST\r\n',
    'Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n',
    'Retry-After: 99999999999\r\n',
    'X-Other: 1\r\nRetry-After: 120 (busy)\r\n',
    'Route: <sip:a b@c>\r\n',
    'Record-Route: <sip:p@q;lr>\r\nRecord-Route: <sip:a b@c>\r\n',
    'Contact: <sip:a b@c>\r\n',
    'Contact: *\r\n',
    'Contact: <sip:x@y>, <sip:z@w>\r\nMax-Forwards: 0\r\n',
  ];
  const verdict = (m: SipMessage): string => {
    try {
      m.validate();
      return 'valid';
    } catch (err) {
      return (err as SipParseError).reason;
    }
  };
  for (const extra of cases) {
    for (const text of [base(extra), base(extra).replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'), base(extra).replace('From: <sip:x@y>;tag=1', 'From: <sip:x y>;tag=1')]) {
      const scanned = parseMessage(Buffer.from(text));
      const listed = parseMessage(Buffer.from(text));
      listed.headerNames(); // header entries made: each header is then looked up by name
      t.equal(verdict(scanned), verdict(listed), JSON.stringify(text.slice(text.indexOf('CSeq'))));
    }
  }
  const noCallId = parseMessage(Buffer.from(base('').replace('Call-ID: c\r\n', '')));
  t.throws(() => noCallId.validate(), { reason: 'missing Call-ID' } as never, 'a missing header is named');
  t.end();
});

t.test('validate(sent) finds the request\'s From and To lines only as this endpoint writes them, in its head', (t) => {
  const head = (from: string, to: string) =>
    `NOTIFY sip:w@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKs2\r\n${from}\r\n${to}\r\nCall-ID: c2\r\nCSeq: 1 NOTIFY\r\n\r\n`;
  const response = () =>
    parseMessage(Buffer.from('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKs2\r\nFrom: <sip:a b@c>\r\nTo: <sip:d e@f>\r\nCall-ID: c2\r\nCSeq: 1 NOTIFY\r\n\r\n'));
  t.ok(response().validate(Buffer.from(head('From: <sip:a b@c>', 'To: <sip:d e@f>'))), 'both lines found');
  t.throws(() => response().validate(Buffer.from(head('f: <sip:a b@c>', 'To: <sip:d e@f>'))), { reason: /From: / } as never, 'a compact From is not taken');
  t.throws(() => response().validate(Buffer.from(head('From: <sip:a b@c>', 'To:  <sip:d e@f>'))), { reason: /To: / } as never, 'nor a To with two spaces');
  t.throws(() => response().validate(Buffer.from(head('From: <sip:a b@c>;x', 'To: <sip:d e@f>'))), { reason: /From: / } as never, 'nor a longer line');
  t.throws(() => response().validate(Buffer.from(head('X-From: <sip:a b@c>', 'X-To: <sip:d e@f>'))), { reason: /From: / } as never, 'nor other names');
  const listed = response();
  listed.headerNames(); // header entries made: the values are compared from them
  t.ok(listed.validate(Buffer.from(head('From: <sip:a b@c>', 'To: <sip:d e@f>'))), 'both lines found from the header entries');
  const folded = parseMessage(Buffer.from('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKs2\r\nFrom: <sip:a@c>\r\nTo:\r\n <sip:d e@f>\r\nCall-ID: c2\r\nCSeq: 1 NOTIFY\r\n\r\n'));
  t.throws(() => folded.validate(Buffer.from(head('From: <sip:a@c>', 'To: <sip:d e@f>'))), { reason: /To: / } as never, 'a folded value is parsed');
  t.end();
});

t.test('header lookups on a scanned message, before and after its header lines are made into entries', (t) => {
  const text = 'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 NOTIFY\r\nX-Foo:  1 \r\nContent-Length: 0\r\n\r\n';
  for (const edited of [false, true]) {
    const m = parseMessage(Buffer.from(text));
    if (edited) m.addHeader('X-Bar', '2');
    t.ok(m.hasHeader('from'), 'a compact name is found under its full name');
    t.ok(m.hasHeader('X-Foo'), 'a name outside the table is found');
    t.equal(m.header('x-foo'), '1');
    t.equal(m.header('date'), undefined);
    t.equal(m.hasHeader('x-bar'), edited);
    t.equal(m.header('call-id'), 'c');
    t.ok(m.validate());
  }
  t.end();
});

t.test('builders (RFC 3261 8.1.1, 8.2.6)', (t) => {
  const req = createRequest({
    method: 'MESSAGE',
    uri: 'sip:bob@example.com',
    from: 'Alice <sip:alice@example.com>',
    to: NameAddr.parse('<sip:bob@example.com>'),
    via: new Via({ transport: 'UDP', host: '192.0.2.1', port: 5060 }),
    contact: '<sip:alice@192.0.2.1>',
    headers: [['Subject', 'hi']],
    contentType: 'text/plain',
    body: 'hello',
    cseq: 7,
  });
  t.match(req.topVia!.branch, /^z9hG4bK.{8,}/);
  t.ok(req.from.tag);
  t.equal(req.maxForwards, 70);
  t.same(req.cseq, { seq: 7, method: 'MESSAGE' });
  t.ok(req.callId.length >= 16);
  t.equal(req.header('Subject'), 'hi');
  const wire = req.toBuffer();
  const parsed = parseMessage(wire).validate();
  t.equal(parsed.body.toString(), 'hello');
  t.equal(parsed.header('Content-Length'), '5');

  const trying = createResponse(parsed, 100);
  t.equal(trying.reason, 'Trying');
  t.equal(trying.to.tag, undefined, '100 Trying gets no To tag');
  const ok = createResponse(parsed, 200, undefined, 'totag');
  t.equal(ok.to.tag, 'totag');
  t.equal(ok.header('via'), parsed.header('via'));
  t.equal(ok.callId, parsed.callId);
  t.same(ok.cseq, parsed.cseq);
  t.equal(ok.from.tag, parsed.from.tag);
  t.match(ok.toString(), /^SIP\/2.0 200 OK\r\n/);
  t.equal(createResponse(parsed, 299).reason, '');
  const multiVia = parseMessage(Buffer.from(INVITE));
  t.equal(createResponse(multiVia, 486).via.length, 3);
  const tagged = createResponse(createResponse(parsed, 180, 'Ringing', 'x') as never, 200);
  t.ok(tagged);

  // A partial request (To unparsable) still gets a response with the raw headers copied.
  const bad = 'INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: "open <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n';
  let partial: SipRequest | undefined;
  try {
    parseMessage(Buffer.from(bad)).validate();
  } catch (e) {
    partial = (e as SipParseError).partial as SipRequest;
  }
  const r400 = createResponse(partial!, 400, 'Bad To');
  t.match(r400.toString(), /^SIP\/2.0 400 Bad To\r\nVia: SIP\/2.0\/UDP h;branch=z9hG4bK1\r\nTo: "open <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n/);
  t.end();
});

t.test('identifiers and helpers', (t) => {
  t.match(generateBranch(), /^z9hG4bK[A-Za-z0-9_-]{16}$/);
  t.not(generateBranch(), generateBranch());
  t.match(generateTag(), /^[A-Za-z0-9_-]{11}$/);
  t.match(generateCallId('host.example.com'), /^[A-Za-z0-9_-]+@host\.example\.com$/);
  t.equal(headerSpelling('call-id'), 'Call-ID');
  t.equal(headerSpelling('www-authenticate'), 'WWW-Authenticate');
  t.equal(headerSpelling('x-custom-thing'), 'X-Custom-Thing');
  t.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
  t.equal(unquote('"a\\"b"'), 'a"b');
  t.equal(unquote('plain'), 'plain');
  t.end();
});

t.test('scanned values read lazily: reason phrase, header parameters, limits other than the defaults', (t) => {
  const text =
    'SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/TCP h:5070;Branch=z9hG4bKx;rport;received=192.0.2.1\r\nFrom: "A" <sip:a@h>;tag=1;X=y\r\n' +
    'To: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContact: <sip:b@192.0.2.2>;expires=60;q=0.5;+sip.instance="<urn:uuid:1>";lr\r\n' +
    'Content-Length: 0\r\n\r\n';
  const res = parseMessage(Buffer.from(text)) as SipResponse;
  t.equal(res.reason, 'Busy Here');
  res.reason = 'Busy';
  t.equal(res.reason, 'Busy');
  t.equal(res.startLine(), 'SIP/2.0 486 Busy');
  const via = res.via[0]!;
  t.equal(via.received, '192.0.2.1', 'a parameter found in the received text');
  t.equal(via.branch, 'z9hG4bKx', 'a name in another case is found once the parameters are a Map');
  t.same([...via.params], [['branch', 'z9hG4bKx'], ['rport', null], ['received', '192.0.2.1']]);
  t.equal(via.rport, true);
  const from = res.from;
  t.equal(from.tag, '1');
  t.same([...from.params], [['tag', '1'], ['x', 'y']]);
  const contact = res.contact[0] as NameAddr;
  t.same([...contact.params], [['expires', '60'], ['q', '0.5'], ['+sip.instance', '"<urn:uuid:1>"'], ['lr', null]]);
  t.equal(contact.expires, 60);
  const parsedUri = contact.uri;
  t.equal(contact.clone().uri.toString(), parsedUri.toString(), 'a clone of a parsed URI');
  t.equal(contact.uriText, 'sip:b@192.0.2.2');
  const limited = parseMessage(Buffer.from(text), { maxHeaders: 20 }) as SipResponse;
  t.equal(limited.reason, 'Busy Here', 'limits other than the defaults');
  t.equal(limited.to.tag, '2');
  t.throws(() => parseMessage(Buffer.from(text), { maxHeaders: 3 }), { status: 513 } as never);
  t.end();
});
