import t from 'tap';

import { DigestServer } from '../../../src/sip/auth/digest.js';
import { DialogState } from '../../../src/sip/dialog/dialog.js';
import { parseMessage, SipError, SipParseError, type SipRequest, type SipResponse } from '../../../src/sip/message/index.js';
import { Net } from './net.js';

t.test('INVITE / 180 / 200 / ACK / BYE between two UAs; tables empty afterwards', async (t) => {
  const net = new Net();
  const alice = net.node('10.0.0.1');
  const bob = net.node('10.0.0.2');
  const acks: unknown[] = [];
  bob.on('ack', (a) => acks.push(a));
  bob.use('INVITE', (req, res) => {
    t.equal(req.method, 'INVITE');
    res.send(180);
    res.send(200, { body: 'v=0\r\n', contentType: 'application/sdp' });
  });
  const provisional: number[] = [];
  const p = alice.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2', body: 'v=0\r\n', contentType: 'application/sdp', onProvisional: (r) => provisional.push(r.status) });
  await net.settle();
  const r = await p;
  await net.settle();
  t.equal(r.response.status, 200);
  t.same(provisional, [180]);
  t.ok(r.dialog);
  t.equal(r.dialog!.state, DialogState.Confirmed);
  t.equal(acks.length, 1, 'the UAS saw the 2xx ACK');
  t.equal(alice.dialogs.size, 1);
  t.equal(bob.dialogs.size, 1);
  const bd = [...bob.dialogs.values()][0]!;
  t.equal(bd.remoteTag, r.dialog!.localTag);
  t.equal(bd.localTag, r.dialog!.remoteTag);
  t.equal(r.response.header('contact'), '<sip:10002@10.0.0.2:5060>', 'Contact added to the 2xx');
  const bye = alice.bye(r.dialog!);
  await net.settle();
  t.equal((await bye).status, 200);
  t.equal(alice.dialogs.size, 0);
  t.equal(bob.dialogs.size, 0);
  t.same(net.summary(), ['INVITE', '180 INVITE', '200 INVITE', 'ACK', 'BYE', '200 BYE']);
  await net.advance(40_000, 1000);
  t.equal(alice.transactions.clientCount + alice.transactions.serverCount, 0);
  t.equal(bob.transactions.clientCount + bob.transactions.serverCount, 0);
  t.equal(net.clock.pending, 0, 'no timers left');
  net.close();
});

t.test('2xx retransmitted until the ACK arrives (RFC 3261 section 13.3.1.4), BYE when it never does', async (t) => {
  const net = new Net();
  const alice = net.node('10.0.0.1');
  const bob = net.node('10.0.0.2');
  bob.use('INVITE', (_req, res) => res.send(200));
  let lostAcks = 2;
  net.drop = (msg) => msg.isRequest && msg.cseq.method === 'ACK' && lostAcks-- > 0;
  const p = alice.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2' });
  await net.settle();
  await p;
  await net.advance(2000, 50);
  const oks = net.summary().filter((s) => s === '200 INVITE').length;
  t.equal(oks, 3, 'two retransmissions, each re-ACKed');
  t.equal(net.summary().filter((s) => s === 'ACK').length, 3);
  // Now every ACK is lost: the UAS gives up after 64*T1 and sends BYE.
  net.drop = (msg) => msg.isRequest && msg.cseq.method === 'ACK';
  const p2 = alice.request({ method: 'INVITE', uri: 'sip:bob2@10.0.0.2' });
  await net.settle();
  await p2;
  let timedOut = 0;
  bob.on('ackTimeout', () => timedOut++);
  await net.advance(33_000, 500);
  t.equal(timedOut, 1);
  t.ok(net.summary().includes('BYE'), 'BYE after ACK timeout');
  await net.advance(40_000, 1000);
  t.equal(bob.dialogs.size, 1, 'only the first dialog is left');
  net.close();
});

t.test('defaults: OPTIONS 200 with Allow, 405, 501, 404, 481, 483, middleware errors', async (t) => {
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2', 5060, { userAgent: 'switchhook-test' });
  b.use('MESSAGE', (_req, _res, next) => next());
  b.use('PUBLISH', () => {
    throw Object.assign(new Error('nope'), { status: 403 });
  });
  b.use('UPDATE', async () => {
    throw new Error('boom');
  });
  b.use('SUBSCRIBE', (_req, _res, next) => next(new SipError('SIP_ERR_TEST', 'x', 489)));
  const ask = async (method: string, extra: Record<string, string> = {}) => {
    const p = a.request({ method, uri: 'sip:x@10.0.0.2', headers: extra });
    await net.settle();
    return (await p).response;
  };
  const opt = await ask('OPTIONS');
  t.equal(opt.status, 200);
  t.match(opt.header('allow'), /INVITE.*OPTIONS.*MESSAGE/);
  t.ok(opt.header('accept'));
  t.equal(opt.header('server'), 'switchhook-test');
  t.equal((await ask('MESSAGE')).status, 404, 'handled method nobody answered: 404');
  t.equal((await ask('REGISTER')).status, 405);
  t.match((await ask('REGISTER')).header('allow'), /MESSAGE/);
  t.equal((await ask('FOOBAR')).status, 501);
  t.equal((await ask('PUBLISH')).status, 403, 'err.status');
  t.equal((await ask('UPDATE')).status, 500, 'rejected promise: 500');
  t.equal((await ask('SUBSCRIBE')).status, 489, 'next(err) with status');
  t.equal((await ask('INFO')).status, 481, 'INFO outside a dialog');
  t.equal((await ask('BYE')).status, 481);
  t.equal((await ask('OPTIONS', { 'Max-Forwards': '0' })).status, 200, 'OPTIONS may be answered at Max-Forwards 0');
  t.equal((await ask('MESSAGE', { 'Max-Forwards': '0' })).status, 483);
  const inDialog = a.request({ method: 'MESSAGE', uri: 'sip:x@10.0.0.2', to: '<sip:x@10.0.0.2>;tag=nope' });
  await net.settle();
  t.equal((await inDialog).response.status, 481, 'unknown dialog (RFC 3261 section 12.2.2)');
  t.equal(b.metrics.counter('switchhook_sip_middleware_errors_total', '').total(), 3);
  net.close();
});

t.test('application answering late, and never', async (t) => {
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2');
  b.use('MESSAGE', (req, res) => {
    if (req.get('subject') === 'later') setImmediate(() => res.send(202));
  });
  const p1 = a.request({ method: 'MESSAGE', uri: 'sip:x@10.0.0.2', headers: { Subject: 'later' } });
  await net.settle();
  t.equal((await p1).response.status, 202);
  const p2 = a.request({ method: 'MESSAGE', uri: 'sip:x@10.0.0.2', headers: { Subject: 'never' } });
  t.ok(b.allow.includes('MESSAGE'));
  await net.settle();
  await net.advance(32_000, 1000);
  t.equal((await p2).response.status, 500);
  t.equal((await p2).response.reason, 'No Answer From Application');
  net.close();
});

t.test('CANCEL through AbortSignal: 487 for the INVITE', async (t) => {
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2');
  let cancelledSeen = false;
  b.use('INVITE', (req, res) => {
    res.send(180);
    req.onCancel = () => (cancelledSeen = true);
  });
  const ac = new AbortController();
  const p = a.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2', signal: ac.signal });
  await net.settle();
  ac.abort();
  await net.settle();
  const r = await p;
  t.equal(r.response.status, 487);
  t.ok(cancelledSeen);
  t.same(net.summary(), ['INVITE', '180 INVITE', 'CANCEL', '200 CANCEL', '487 INVITE', 'ACK']);
  t.equal(a.dialogs.size + b.dialogs.size, 0, 'early dialogs removed');
  await net.advance(40_000, 1000);
  t.equal(a.transactions.clientCount + b.transactions.serverCount, 0);
  net.close();
});

t.test('re-INVITE refreshes the target; CSeq must increase (500); INFO in a dialog', async (t) => {
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2');
  b.use('INVITE', (_req, res) => res.send(200));
  const p = a.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2' });
  await net.settle();
  const { dialog } = await p;
  const re = a.request({ method: 'INVITE', dialog: dialog!, headers: { Contact: '<sip:moved@10.0.0.1:5060>' } });
  await net.settle();
  t.equal((await re).response.status, 200);
  const bd = [...b.dialogs.values()][0]!;
  await net.settle();
  t.equal(bd.remoteTarget.user, 'moved', 'target refresh (RFC 3261 section 12.2.2)');
  const info = a.request({ method: 'INFO', dialog: dialog!, body: 'Signal=1', contentType: 'application/dtmf-relay' });
  await net.settle();
  t.equal((await info).response.status, 200);
  const pkg = a.request({ method: 'INFO', dialog: dialog!, headers: { 'Info-Package': 'foo' } });
  await net.settle();
  t.equal((await pkg).response.status, 469, 'RFC 6086: unknown Info-Package');
  dialog!.localSeq -= 5;
  const old = a.request({ method: 'INFO', dialog: dialog! });
  await net.settle();
  t.equal((await old).response.status, 500, 'lower CSeq refused');
  net.close();
});

t.test('digest: UAC answers 401 with CSeq+1 and Authorization', async (t) => {
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2');
  const server = new DigestServer({ realm: 'sh', clock: net.clock, lookup: (u) => (u === 'alice' ? { password: 'pw' } : undefined) });
  b.use('MESSAGE', (req, res) => {
    const v = server.verify(req.get('authorization'), 'MESSAGE');
    if (!v.ok) res.send(401, { headers: { 'WWW-Authenticate': server.challenge(v.stale) } });
    else res.send(200);
  });
  const p = a.request({ method: 'MESSAGE', uri: 'sip:x@10.0.0.2', credentials: { username: 'alice', password: 'pw' }, body: 'hi', contentType: 'text/plain' });
  await net.settle();
  const r = await p;
  t.equal(r.response.status, 200);
  t.equal(r.request.cseq.seq, 2);
  t.match(r.request.header('authorization'), /algorithm=SHA-256/);
  const bad = a.request({ method: 'MESSAGE', uri: 'sip:x@10.0.0.2', credentials: { username: 'alice', password: 'wrong' } });
  await net.settle();
  t.equal((await bad).response.status, 401, 'gives up after the retries');
  net.close();
});

t.test('bad requests: 400 naming the fault when addressable, dropped otherwise', async (t) => {
  const net = new Net();
  const b = net.node('10.0.0.2');
  const sent: SipResponse[] = [];
  const b2 = net.node('10.0.0.3', 5060);
  b2.receive = b2.receive.bind(b2);
  net.nodes.set('10.0.0.9:5060', { receive: (m: SipResponse) => sent.push(m) } as never);
  const text = 'MESSAGE sip:x@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKbad\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:x@10.0.0.2>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n';
  b.receive(parseMessage(Buffer.from(text)), { protocol: 'udp', remoteAddress: '10.0.0.9', remotePort: 5060 });
  await net.settle();
  t.equal(sent.length, 1);
  t.equal(sent[0]!.status, 400);
  t.match(sent[0]!.reason, /CSeq method INVITE does not match MESSAGE/);
  b.receiveParseError(new SipParseError('garbage'), { protocol: 'udp', remoteAddress: '10.0.0.9', remotePort: 5060 });
  const resp = parseMessage(Buffer.from('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n'));
  b.receive(resp, { protocol: 'udp', remoteAddress: '10.0.0.9', remotePort: 5060 });
  await net.settle();
  t.equal(sent.length, 1, 'unaddressable input dropped');
  const bad = b.metrics.counter('switchhook_sip_bad_requests_total', '');
  t.equal(bad.get({ action: 'answered' }), 1);
  t.equal(bad.get({ action: 'dropped' }), 1, 'the garbage');
  t.equal(b.metrics.counter('switchhook_sip_bad_responses_total', '').get(), 1, 'the response without its headers');
  net.close();
});

t.test('digestAuth middleware: 407 for a proxy, retried with Proxy-Authorization; 401 with stale=true', async (t) => {
  const { digestAuth } = await import('../../../src/sip/ua/digest-auth.js');
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2');
  const server = new DigestServer({ realm: 'sh', clock: net.clock, nonceTtlMs: 1000, lookup: (u) => (u === 'alice' ? { password: 'pw' } : undefined) });
  b.use(digestAuth(server, { proxy: true, methods: ['MESSAGE'] }));
  b.use('MESSAGE', (req, res) => res.send(200, { headers: { 'X-User': String(req.locals.get('sip.user')) } }));
  const p = a.request({ method: 'MESSAGE', uri: 'sip:x@10.0.0.2', credentials: { username: 'alice', password: 'pw' } });
  await net.settle();
  const r = await p;
  t.equal(r.response.status, 200);
  t.equal(r.response.header('x-user'), 'alice');
  t.ok(r.request.header('proxy-authorization'));
  t.same(net.summary().filter((s) => s.includes('MESSAGE')).slice(0, 4), ['MESSAGE', '407 MESSAGE', 'MESSAGE', '200 MESSAGE']);
  const opt = a.request({ method: 'OPTIONS', uri: 'sip:x@10.0.0.2' });
  await net.settle();
  t.equal((await opt).response.status, 200, 'methods outside the list pass');
  const b2 = net.node('10.0.0.3');
  b2.use(digestAuth(server));
  b2.use('MESSAGE', (_req, res) => res.send(200));
  const nonce = server.createNonce();
  const { DigestClient } = await import('../../../src/sip/auth/digest.js');
  const old = new DigestClient({ username: 'alice', password: 'pw' }).authorize([`Digest realm="sh", nonce="${nonce}", qop="auth"`], 'MESSAGE', 'sip:x@10.0.0.3');
  net.clock.advance(2000);
  const p2 = a.request({ method: 'MESSAGE', uri: 'sip:x@10.0.0.3', headers: { Authorization: old } });
  await net.settle();
  const r2 = await p2;
  t.equal(r2.response.status, 401);
  t.match(r2.response.header('www-authenticate'), /stale=true/);
  net.close();
});

t.test('inDialogBytes: the request written from the dialog, its body as text, parts or bytes, of any size', async (t) => {
  const { Dialog } = await import('../../../src/sip/dialog/dialog.js');
  const net = new Net();
  const ua = net.node('192.0.2.9', 5060, { userAgent: 'switchhook-test' });
  const subscribe = parseMessage(
    Buffer.from(
      'SUBSCRIBE sip:2001@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKs\r\nFrom: <sip:w@192.0.2.1>;tag=wt\r\n' +
        'To: <sip:2001@192.0.2.9>\r\nCall-ID: c-bytes\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:w@192.0.2.1:5070>\r\nEvent: dialog\r\nContent-Length: 0\r\n\r\n',
    ),
  );
  const d = Dialog.fromRequest(subscribe as never, 'nt', '<sip:switchhook@192.0.2.9>');
  const check = (body: { contentType: string; body: string | Buffer | readonly (string | Buffer)[] } | undefined, expected: string) => {
    const r = ua.inDialogBytes(d, 'NOTIFY', 'udp', 'Event: dialog\r\n', body)!;
    const m = parseMessage(r.bytes, { maxHeaderBytes: 32 * 1024, maxBodyBytes: 1 << 20, maxHeaders: 256 }).validate();
    t.equal(r.branch, m.topVia!.branch, 'keyed by its Via branch');
    t.equal(m.header('user-agent'), 'switchhook-test');
    t.equal(m.header('event'), 'dialog');
    t.equal(m.body.toString('utf8'), expected);
    t.equal(Number(m.header('content-length')), Buffer.byteLength(expected), 'Content-Length in bytes');
    return m;
  };
  const first = check(undefined, '');
  t.equal((first as SipRequest).uriString, 'sip:w@192.0.2.1:5070');
  check({ contentType: 'text/plain', body: 'één' }, 'één');
  check({ contentType: 'application/dialog-info+xml', body: ['<a v="', String(7), '">ü</a>'] }, '<a v="7">ü</a>');
  check({ contentType: 'application/dialog-info+xml', body: [Buffer.from('<a v="'), '8', Buffer.from('">ü</a>')] }, '<a v="8">ü</a>');
  check({ contentType: 'application/octet-stream', body: Buffer.from('raw') }, 'raw');
  const big = 'x'.repeat(60_000);
  check({ contentType: 'text/plain', body: ['é', big] }, 'é' + big);
  check({ contentType: 'text/plain', body: Buffer.from(big + big) }, big + big);
  const seqs = [1, 2, 3, 4, 5, 6].map(() => parseMessage(ua.inDialogBytes(d, 'NOTIFY', 'udp', '')!.bytes).cseq.seq);
  t.same(seqs, [8, 9, 10, 11, 12, 13], 'each takes the next CSeq');
  // Requests share slabs: writing later ones (past a slab's end, and one that outgrows a slab) leaves the
  // bytes of earlier ones as they were.
  const made: Array<{ bytes: Buffer; copy: Buffer }> = [];
  for (let i = 0; i < 60; i++) {
    const body = i === 30 ? ['<a>', 'y'.repeat(20_000), '</a>'] : ['<a v="', String(i), '"/>'];
    const bytes = ua.inDialogBytes(d, 'NOTIFY', 'udp', 'Event: dialog\r\n', { contentType: 'application/x', body })!.bytes;
    made.push({ bytes, copy: Buffer.from(bytes) });
  }
  t.ok(made.every((m) => m.bytes.equals(m.copy)), 'every request keeps its bytes');
  t.same(made.map((m) => parseMessage(m.bytes, { maxBodyBytes: 1 << 20 }).cseq.seq), Array.from({ length: 60 }, (_, i) => 14 + i));
  ua.close();
});
