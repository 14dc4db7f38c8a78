import t from 'tap';

import { Dialog, DialogState, dialogKey, isTargetRefresh } from '../../../src/sip/dialog/dialog.js';
import { parseMessage, type SipRequest, type SipResponse } from '../../../src/sip/message/index.js';
import { req, res } from '../transaction/helpers.js';

const reparse = (text: string): SipResponse => parseMessage(Buffer.from(text)) as SipResponse;

const invite = (): SipRequest =>
  req(`INVITE sip:bob@b.example SIP/2.0
Via: SIP/2.0/UDP p2.example;branch=z9hG4bKp2
Via: SIP/2.0/UDP a.example;branch=z9hG4bKa
Record-Route: <sip:p2.example;lr>
Record-Route: <sip:p1.example;lr>
From: "Alice" <sip:alice@a.example>;tag=at
To: <sip:bob@b.example>
Call-ID: c1@a
CSeq: 7 INVITE
Contact: <sip:alice@192.0.2.1>
Max-Forwards: 68
Content-Length: 0

`);

t.test('UAS dialog (RFC 3261 section 12.1.1): route set in order, remote target, CSeq', async (t) => {
  const d = Dialog.fromRequest(invite(), 'bt', '<sip:bob@192.0.2.2>');
  t.equal(d.role, 'uas');
  t.equal(d.usage, 'INVITE');
  t.equal(d.id, dialogKey('c1@a', 'bt', 'at'));
  t.same(d.routeSet.map(String), ['<sip:p2.example;lr>', '<sip:p1.example;lr>']);
  t.equal(d.remoteTarget.toString(), 'sip:alice@192.0.2.1');
  t.equal(d.remoteSeq, 7);
  const bye = d.createRequest('BYE');
  t.equal(bye.uriString, 'sip:alice@192.0.2.1', 'loose routing: remote target is the Request-URI');
  t.same(bye.headers('route'), ['<sip:p2.example;lr>', '<sip:p1.example;lr>']);
  t.equal(bye.from.tag, 'bt');
  t.equal(bye.to.tag, 'at');
  t.equal(bye.from.uri.toString(), 'sip:bob@b.example');
  t.equal(bye.cseq.seq, 1);
  t.notOk(bye.hasHeader('contact'), 'BYE is not a target refresh');
  t.equal(d.nextHopUri().host, 'p2.example');
  const older = invite();
  t.throws(() => d.receiveRequest(older), { code: 'SIP_ERR_DIALOG_CSEQ', status: 500 });
  d.state = DialogState.Terminated;
  t.throws(() => d.createRequest('INFO'), { code: 'SIP_ERR_DIALOG_TERMINATED', status: 481 });
});

t.test('UAC dialog (RFC 3261 section 12.1.2): route set reversed; strict routing; target refresh', async (t) => {
  const ok: SipResponse = res(`SIP/2.0 200 OK
Via: SIP/2.0/UDP a.example;branch=z9hG4bKa
Record-Route: <sip:p2.example>
Record-Route: <sip:p1.example;lr>
From: "Alice" <sip:alice@a.example>;tag=at
To: <sip:bob@b.example>;tag=bt
Call-ID: c1@a
CSeq: 7 INVITE
Contact: <sip:bob@192.0.2.2>
Content-Length: 0

`);
  const d = Dialog.fromResponse(invite(), ok, '<sip:alice@192.0.2.1>');
  t.equal(d.role, 'uac');
  t.equal(d.state, DialogState.Confirmed);
  t.same(d.routeSet.map(String), ['<sip:p1.example;lr>', '<sip:p2.example>']);
  t.equal(d.localSeq, 7);
  const re = d.createRequest('INVITE', { body: 'v=0\r\n', contentType: 'application/sdp', headers: { Subject: 'x' } });
  t.equal(re.cseq.seq, 8);
  t.equal(re.header('contact'), '<sip:alice@192.0.2.1>', 'target refresh carries our Contact');
  t.equal(re.header('subject'), 'x');
  // Strict routing when the first route lacks lr.
  const strictDialog = Dialog.fromRecord({ ...d.toRecord(), routeSet: d.toRecord().routeSet.reverse() });
  t.equal(strictDialog.requestText('INFO'), undefined, 'no text form under strict routing');
  const strict = strictDialog.createRequest('INFO');
  t.equal(strict.uriString, 'sip:p2.example', 'first route becomes the Request-URI');
  t.same(strict.headers('route'), ['<sip:p1.example;lr>', '<sip:bob@192.0.2.2>'], 'remote target appended');
  // The text form (fan-out senders) writes what createRequest writes, with the next CSeq.
  const text = d.requestText('NOTIFY', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt\r\n')!;
  t.match(text, /^NOTIFY sip:bob@192\.0\.2\.2 SIP\/2\.0\r\nVia: SIP\/2\.0\/UDP 192\.0\.2\.1;branch=z9hG4bKt\r\nRoute: /, 'the Via line follows the start line');
  const viaText = text + 'Content-Length: 0\r\n\r\n';
  const built = parseMessage(Buffer.from(viaText)) as SipRequest;
  t.equal(built.uriString, 'sip:bob@192.0.2.2');
  t.same(built.route.map(String), ['<sip:p1.example;lr>', '<sip:p2.example>']);
  t.equal(built.from.tag, 'at');
  t.equal(built.to.tag, 'bt');
  t.equal(built.cseq.seq, 9);
  t.equal(built.header('contact'), '<sip:alice@192.0.2.1>');
  const ack = d.createRequest('ACK', { cseq: 8 });
  t.equal(ack.cseq.seq, 8, 'ACK reuses the INVITE CSeq');
  const moved = reparse(ok.toString().replace('sip:bob@192.0.2.2', 'sip:bob@192.0.2.9'));
  d.receiveResponse(moved, 'INVITE');
  t.equal(d.remoteTarget.host, '192.0.2.9', 'a 2xx to a re-INVITE refreshes the target');
  t.ok(isTargetRefresh('UPDATE'));
  t.notOk(isTargetRefresh('MESSAGE'));
  const noContact = reparse(ok.toString().replace(/Contact: [^\r\n]*\r\n/, ''));
  t.throws(() => Dialog.fromResponse(invite(), noContact, '<sip:a@b>'), { code: 'SIP_ERR_DIALOG_NO_CONTACT' });
  const early = Dialog.fromResponse(invite(), reparse(ok.toString().replace('200 OK', '180 Ringing')), '<sip:a@b>');
  t.equal(early.state, DialogState.Early);
  early.receiveResponse(ok, 'INVITE');
  t.equal(early.state, DialogState.Confirmed);
});
