import t from 'tap';

import { formatReplaces, matchReplaces, parseReplaces, replacesMiddleware } from '../../../src/sip/dialog/replaces.js';
import { Notifier } from '../../../src/sip/subscription/notifier.js';
import { ReferHandler, type ReferRequest } from '../../../src/sip/subscription/refer.js';
import { Subscriber, ClientSubscriptionState } from '../../../src/sip/subscription/subscriber.js';
import type { SipRequest } from '../../../src/sip/message/index.js';
import { Net } from '../ua/net.js';

t.test('REFER outside a dialog: 202, sipfrag NOTIFYs, final status ends the implicit subscription', async (t) => {
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2');
  const refers = new ReferHandler(b, new Notifier(b));
  const got: ReferRequest[] = [];
  refers.on('refer', (r: ReferRequest) => got.push(r));
  const subscriber = new Subscriber(a);
  const sub = subscriber.refer({ uri: 'sip:bob@10.0.0.2', referTo: '<sip:carol@10.0.0.3>', headers: { 'Referred-By': '<sip:alice@10.0.0.1>' } });
  const frags: string[] = [];
  sub.on('notify', (req, st) => frags.push(`${st.state} ${req.body.toString().trim()}`));
  await net.settle();
  t.equal((await sub.ready).response.status, 202);
  t.equal(got.length, 1);
  t.equal(got[0]!.referTo.uri.toString(), 'sip:carol@10.0.0.3');
  t.equal(got[0]!.referredBy, '<sip:alice@10.0.0.1>');
  got[0]!.progress(180);
  await net.settle();
  got[0]!.progress(200);
  got[0]!.progress(486);
  await net.settle();
  t.same(frags, ['active SIP/2.0 100 Trying', 'active SIP/2.0 180 Ringing', 'terminated SIP/2.0 200 OK']);
  const notify = net.log.find((l) => l.msg.isRequest && (l.msg as SipRequest).method === 'NOTIFY')!.msg;
  t.equal(notify.header('event'), 'refer');
  t.match(notify.header('content-type'), /^message\/sipfrag/);
  t.equal(sub.state, ClientSubscriptionState.Terminated);
  t.equal(a.dialogs.size + b.dialogs.size, 0);
  net.close();
});

t.test('REFER errors and refusal when nobody handles it', async (t) => {
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2');
  new ReferHandler(b, new Notifier(b));
  const subscriber = new Subscriber(a);
  const ask = async (headers: Record<string, string | string[]>) => {
    const p = a.request({ method: 'REFER', uri: 'sip:bob@10.0.0.2', headers });
    await net.settle();
    return (await p).response;
  };
  t.equal((await ask({})).status, 400);
  t.equal((await ask({ 'Refer-To': ['<sip:x@y>', '<sip:z@y>'] })).status, 400);
  t.equal((await ask({ 'Refer-To': '<sip:x@y?Replaces=bad>' })).status, 400);
  const sub = subscriber.refer({ uri: 'sip:bob@10.0.0.2', referTo: '<sip:x@10.0.0.3>' });
  await net.settle();
  t.equal((await sub.ready).response.status, 202);
  const bodies = net.log.filter((l) => l.msg.isRequest && (l.msg as SipRequest).method === 'NOTIFY').map((l) => l.msg.body.toString().trim());
  t.same(bodies.slice(-1), ['SIP/2.0 603 Decline'], 'no application: 603 in the final NOTIFY');
  net.close();
});

t.test('REFER inside an INVITE dialog with Replaces in Refer-To; the INVITE dialog survives', async (t) => {
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2');
  b.use('INVITE', (_req, res) => res.send(200));
  const refers = new ReferHandler(b, new Notifier(b));
  let replaces: unknown;
  refers.on('refer', (r: ReferRequest) => {
    replaces = r.replaces;
    r.progress(200);
  });
  const inv = a.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2' });
  await net.settle();
  const { dialog } = await inv;
  const target = encodeURIComponent('abc@h;to-tag=1;from-tag=2');
  const rsub = new Subscriber(a).refer({ dialog: dialog!, referTo: `<sip:carol@10.0.0.3?Replaces=${target}>` });
  const p = rsub.ready;
  await net.settle();
  t.equal(rsub.state, ClientSubscriptionState.Terminated, 'final NOTIFY seen inside the INVITE dialog');
  t.equal((await p).response.status, 202);
  t.same(replaces, { callId: 'abc@h', toTag: '1', fromTag: '2', earlyOnly: false });
  const notify = net.log.filter((l) => l.msg.isRequest && (l.msg as SipRequest).method === 'NOTIFY').at(-1)!.msg;
  t.equal(notify.header('event'), `refer;id=${(await p).request.cseq.seq}`, 'event id = REFER CSeq (RFC 3515 section 2.4.6)');
  await net.settle();
  t.equal(b.dialogs.size, 1, 'INVITE dialog kept after the refer subscription ended');
  net.close();
});

t.test('Replaces matching (RFC 3891 section 3)', async (t) => {
  t.same(parseReplaces('12@h; to-tag=a ;from-tag=b;early-only'), { callId: '12@h', toTag: 'a', fromTag: 'b', earlyOnly: true });
  t.throws(() => parseReplaces('12@h;to-tag=a'), { code: 'SIP_ERR_REPLACES' });
  const net = new Net();
  const a = net.node('10.0.0.1');
  const b = net.node('10.0.0.2');
  const find = b.findDialog.bind(b);
  b.use(replacesMiddleware(find));
  let replaced: unknown;
  b.use('INVITE', (req, res) => {
    if (req.get('subject') === 'ring') {
      res.send(180);
      return;
    }
    replaced = req.locals.get('replaces');
    res.send(200);
  });
  const first = a.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2' });
  await net.settle();
  const d = (await first).dialog!;
  const bd = b.findDialog(d.callId, d.remoteTag, d.localTag)!;
  t.ok(bd);
  t.equal(formatReplaces(bd), `${d.callId};to-tag=${d.localTag};from-tag=${d.remoteTag}`);
  // From the recipient's view: to-tag = its local tag, from-tag = its remote tag.
  const value = `${bd.callId};to-tag=${bd.localTag};from-tag=${bd.remoteTag}`;
  t.same(matchReplaces(find, parseReplaces(value)), { ok: true, dialog: bd });
  t.same(matchReplaces(find, parseReplaces(value + ';early-only')), { ok: false, status: 486 });
  t.same(matchReplaces(find, parseReplaces('nope;to-tag=1;from-tag=2')), { ok: false, status: 481 });
  const c = net.node('10.0.0.3');
  const p = c.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2', headers: { Replaces: value } });
  await net.settle();
  t.equal((await p).response.status, 200);
  t.equal(replaced, bd, 'the replaced dialog is handed to the application');
  const p2 = c.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2', headers: { Replaces: 'x;to-tag=1;from-tag=2' } });
  await net.settle();
  t.equal((await p2).response.status, 481);
  const p3 = c.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2', headers: { Replaces: 'broken' } });
  await net.settle();
  t.equal((await p3).response.status, 400);
  // An early dialog the recipient did not initiate (it is the UAS) cannot be replaced.
  const ringing = a.request({ method: 'INVITE', uri: 'sip:bob@10.0.0.2', headers: { Subject: 'ring' } });
  await net.settle();
  const early = [...b.dialogs.values()].find((x) => x.state === 'early')!;
  t.same(matchReplaces(find, parseReplaces(`${early.callId};to-tag=${early.localTag};from-tag=${early.remoteTag}`)), { ok: false, status: 481 });
  void ringing;
  net.close();
});
