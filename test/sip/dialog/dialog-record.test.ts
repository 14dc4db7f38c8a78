/** Dialog.toRecord / Dialog.fromRecord (persisted subscriptions): every RFC 3261 section 12 field survives. */
import t from 'tap';

import { Dialog } from '../../../src/sip/dialog/index.js';
import { parseMessage, type SipRequest } from '../../../src/sip/message/index.js';

t.test('a UAS dialog round-trips through its record', async (t) => {
  const req = parseMessage(
    Buffer.from(
      'SUBSCRIBE sip:2001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n' +
        'From: "W" <sip:w@127.0.0.1>;tag=abc\r\nTo: <sip:2001@127.0.0.1>\r\nCall-ID: cid-1\r\nCSeq: 7 SUBSCRIBE\r\n' +
        'Contact: <sip:w@127.0.0.1:5070;transport=udp>\r\nRecord-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n' +
        'Event: dialog\r\nContent-Length: 0\r\n\r\n',
    ),
  ) as SipRequest;
  const d = Dialog.fromRequest(req, 'xyz', '<sip:switchhook@127.0.0.1:5060>');
  d.createRequest('NOTIFY');
  const r = d.toRecord();
  t.same(JSON.parse(JSON.stringify(r)), r, 'JSON-able');
  const back = Dialog.fromRecord(r);
  t.equal(back.id, d.id);
  t.equal(back.localSeq, 1);
  t.equal(back.remoteSeq, 7);
  t.equal(back.usage, 'SUBSCRIBE');
  t.equal(back.remoteTarget.toString(), 'sip:w@127.0.0.1:5070;transport=udp');
  t.same(back.routeSet.map(String), d.routeSet.map(String));
  const n = back.createRequest('NOTIFY');
  t.equal(n.cseq.seq, 2);
  t.match(n.toString(), /Route: <sip:p1\.example;lr>/);
  t.match(n.toString(), /From: <sip:2001@127\.0\.0\.1>;tag=xyz/);
  t.match(n.toString(), /To: "?W"? <sip:w@127\.0\.0\.1>;tag=abc/);
});
