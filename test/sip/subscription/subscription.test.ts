import t from 'tap';

import { Notifier, type NotifierSubscription } from '../../../src/sip/subscription/notifier.js';
import { Subscriber, ClientSubscriptionState } from '../../../src/sip/subscription/subscriber.js';
import type { EventPackage } from '../../../src/sip/subscription/event-package.js';
import { parseSubscriptionState, formatSubscriptionState, parseEventHeader } from '../../../src/sip/subscription/subscription-state.js';
import type { SipRequest } from '../../../src/sip/message/index.js';
import { Net } from '../ua/net.js';

function testPackage(o: Partial<EventPackage> = {}): EventPackage {
  let n = 0;
  return {
    name: 'x-test',
    accept: ['text/plain'],
    minExpires: 60,
    maxExpires: 3600,
    defaultExpires: 600,
    body: (sub: NotifierSubscription) => ({ contentType: 'text/plain', body: `state ${sub.resource} #${n++}` }),
    ...o,
  };
}

function setup(pkg = testPackage(), notifierOpts = {}) {
  const net = new Net();
  const client = net.node('10.0.0.1');
  const server = net.node('10.0.0.2');
  const notifier = new Notifier(server, { packages: [pkg], ...notifierOpts });
  const subscriber = new Subscriber(client, { refreshMarginSec: 30 });
  // Distinct NOTIFY requests (UDP retransmissions counted once).
  const notifies = (): SipRequest[] => {
    const seen = new Set<string>();
    return net.log
      .filter((l) => l.msg.isRequest && (l.msg as SipRequest).method === 'NOTIFY')
      .map((l) => l.msg as SipRequest)
      .filter((m) => !seen.has(m.callId + m.cseq.seq) && seen.add(m.callId + m.cseq.seq) !== undefined);
  };
  return { net, client, server, notifier, subscriber, notifies };
}

t.test('header helpers', async (t) => {
  t.same(parseSubscriptionState('active;expires=300'), { state: 'active', expires: 300 });
  t.same(parseSubscriptionState('terminated; reason=Timeout; retry-after=5'), { state: 'terminated', reason: 'timeout', retryAfter: 5 });
  t.equal(formatSubscriptionState({ state: 'terminated', reason: 'noresource', expires: 5 }), 'terminated;reason=noresource');
  t.throws(() => parseSubscriptionState('@@'), { code: 'SIP_ERR_SUBSCRIPTION_STATE' });
  t.same(parseEventHeader('Presence;id=7'), { name: 'presence', id: '7' });
  t.equal(parseEventHeader(''), undefined);
});

t.test('subscribe, immediate NOTIFY, notify on change, refresh, unsubscribe; nothing left behind', async (t) => {
  const { net, client, server, notifier, subscriber, notifies } = setup();
  const sub = subscriber.subscribe({ uri: 'sip:alice@10.0.0.2', event: 'x-test', expires: 300 });
  const seen: string[] = [];
  sub.on('notify', (req, st) => seen.push(`${st.state}:${req.body.toString()}`));
  await net.settle();
  t.same(net.summary().slice(0, 4), ['SUBSCRIBE', '200 SUBSCRIBE', 'NOTIFY', '200 NOTIFY']);
  const ok = net.log[1]!.msg;
  t.equal(ok.header('expires'), '300');
  t.equal(notifies()[0]!.header('subscription-state'), 'active;expires=300');
  t.equal(notifies()[0]!.header('event'), 'x-test');
  t.equal(sub.state, ClientSubscriptionState.Active);
  t.equal(notifier.size, 1);
  t.equal(notifier.subscriptions('alice@10.0.0.2', 'x-test').length, 1);
  t.equal(notifier.notifyResource('alice@10.0.0.2'), 1);
  await net.settle();
  t.same(seen, ['active:state alice@10.0.0.2 #0', 'active:state alice@10.0.0.2 #1']);
  // Refresh happens 30 s before expiry.
  await net.advance(271_000, 1000);
  const subs = net.summary().filter((s) => s === 'SUBSCRIBE').length;
  t.equal(subs, 2, 'refreshed before expiry');
  t.equal(notifies().length, 3, 'refresh triggers a NOTIFY');
  t.equal(notifier.size, 1);
  await sub.unsubscribe();
  await net.settle();
  const last = notifies().at(-1)!;
  t.equal(last.header('subscription-state'), 'terminated;reason=timeout');
  t.equal(sub.state, ClientSubscriptionState.Terminated);
  t.equal(notifier.size, 0);
  t.equal(subscriber.size, 0);
  t.equal(client.dialogs.size + server.dialogs.size, 0);
  await net.advance(40_000, 1000);
  t.equal(client.transactions.clientCount + client.transactions.serverCount + server.transactions.clientCount + server.transactions.serverCount, 0);
  t.equal(net.clock.pending, 0, 'no timers left');
  net.close();
});

t.test('489 with Allow-Events, 400 without Event, 423 with Min-Expires (subscriber retries), 406 on Accept', async (t) => {
  const { net, client } = setup();
  const ask = async (headers: Record<string, string>) => {
    const p = client.request({ method: 'SUBSCRIBE', uri: 'sip:alice@10.0.0.2', headers });
    await net.settle();
    return (await p).response;
  };
  const bad = await ask({ Event: 'presence' });
  t.equal(bad.status, 489);
  t.equal(bad.header('allow-events'), 'x-test');
  t.equal((await ask({})).status, 400);
  const brief = await ask({ Event: 'x-test', Expires: '10' });
  t.equal(brief.status, 423);
  t.equal(brief.header('min-expires'), '60');
  t.equal((await ask({ Event: 'x-test', Accept: 'application/pidf+xml' })).status, 406);
  const long = await ask({ Event: 'x-test', Expires: '99999' });
  t.equal(long.header('expires'), '3600', 'shortened to the maximum');
  const sub = new Subscriber(client).subscribe({ uri: 'sip:alice@10.0.0.2', event: 'x-test', expires: 10 });
  let notified = 0;
  sub.on('notify', () => notified++);
  await net.settle();
  t.same(net.summary().filter((s) => s.endsWith('SUBSCRIBE')).slice(-3), ['423 SUBSCRIBE', 'SUBSCRIBE', '200 SUBSCRIBE'], 'retried with Min-Expires');
  t.equal(notified, 1, 'NOTIFYs of the retried subscription reach the original object');
  net.close();
});

t.test('stray NOTIFY and refresh of an unknown subscription get 481', async (t) => {
  const { net, client, server } = setup();
  const p = server.request({ method: 'NOTIFY', uri: 'sip:x@10.0.0.1', to: '<sip:x@10.0.0.1>;tag=zzz', headers: { Event: 'x-test', 'Subscription-State': 'active' } });
  await net.settle();
  t.equal((await p).response.status, 481);
  const p2 = client.request({ method: 'SUBSCRIBE', uri: 'sip:alice@10.0.0.2', to: '<sip:alice@10.0.0.2>;tag=nope', headers: { Event: 'x-test' } });
  await net.settle();
  t.equal((await p2).response.status, 481);
  net.close();
});

t.test('one NOTIFY in flight per subscription, the rest queued in order', async (t) => {
  const { net, notifier, subscriber } = setup();
  subscriber.subscribe({ uri: 'sip:alice@10.0.0.2', event: 'x-test', expires: 600 });
  await net.settle();
  const s = notifier.subscriptions()[0]!;
  let maxInFlight = 0;
  // NOTIFYs go out as lean transactions (pre-serialised, RFC 3261 section 17.1.2): count those open at once.
  const layer = net.nodes.get('10.0.0.2:5060')!.transactions;
  const origRequest = layer.requestFinal.bind(layer);
  let inFlight = 0;
  layer.requestFinal = (req, dest, user) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return origRequest(req, dest, {
      onFinal: (status, res) => {
        inFlight--;
        user.onFinal(status, res);
      },
    });
  };
  for (let i = 0; i < 5; i++) notifier.notify(s);
  t.equal(s.queue.length, 5);
  await net.settle(60);
  t.equal(maxInFlight, 1);
  t.equal(s.queue.length, 0);
  const bodies = net.log.filter((l) => l.msg.isRequest && l.msg.cseq.method === 'NOTIFY').map((l) => l.msg.body.toString());
  t.same(bodies.map((b) => Number(b.split('#')[1])), [0, 1, 2, 3, 4, 5], 'in order');
  net.close();
});

t.test('a fan-out beyond maxInFlight goes out as a window: bounded, every subscription in order, the final state delivered', async (t) => {
  const { net, notifier, subscriber, notifies } = setup(testPackage(), { maxInFlight: 3 });
  for (let i = 0; i < 8; i++) subscriber.subscribe({ uri: 'sip:alice@10.0.0.2', event: 'x-test', expires: 600 });
  await net.settle(60);
  const subs = notifier.subscriptions('alice@10.0.0.2');
  t.equal(subs.length, 8);
  t.equal(notifies().length, 8, 'every first NOTIFY delivered through the window');
  const layer = net.nodes.get('10.0.0.2:5060')!.transactions;
  const origRequest = layer.requestFinal.bind(layer);
  let inFlight = 0;
  let maxInFlight = 0;
  const sentOrder: string[] = [];
  layer.requestFinal = (req, dest, user) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    sentOrder.push((user as NotifierSubscription).dialog.callId);
    return origRequest(req, dest, {
      onFinal: (status, res) => {
        inFlight--;
        user.onFinal(status, res);
      },
    });
  };
  // Two changes, then the end of one subscription that is still waiting for a slot.
  t.equal(notifier.notifyResource('alice@10.0.0.2'), 8);
  t.equal(notifier.notifyResource('alice@10.0.0.2'), 8);
  t.equal(inFlight, 3, 'the first three went out at once');
  const last = subs[7]!;
  t.equal(last.queue.length, 2, 'the last one waits with both changes');
  notifier.terminate(last, 'deactivated');
  await net.settle(200);
  t.equal(maxInFlight, 3, 'never more than the window in flight');
  t.equal(inFlight, 0);
  t.same(sentOrder.slice(0, 8), subs.map((s) => s.dialog.callId), 'the waiting subscriptions take slots in order');
  t.equal(sentOrder.length, 8 * 2 + 1, 'every change reached every subscription, and the final NOTIFY went out');
  t.equal(notifier.size, 7);
  const mine = notifies().filter((m) => m.callId === last.dialog.callId);
  t.same(mine.map((m) => m.header('subscription-state')!.split(';')[0]), ['active', 'active', 'active', 'terminated']);
  for (const s of subs) {
    const seqs = notifies().filter((m) => m.callId === s.dialog.callId).map((m) => m.cseq.seq);
    t.same(seqs, [...seqs].sort((a, b) => a - b), 'CSeq order per subscription');
  }
  net.close();
});

t.test('each NOTIFY of a fan-out carries its own subscription state and time left', async (t) => {
  const { net, notifier, subscriber, notifies } = setup(
    testPackage({ authorize: (req) => (req.get('subject') === 'ask' ? 'pending' : 'active') }),
  );
  subscriber.subscribe({ uri: 'sip:carol@10.0.0.2', event: 'x-test', expires: 600 });
  subscriber.subscribe({ uri: 'sip:carol@10.0.0.2', event: 'x-test', expires: 600 });
  subscriber.subscribe({ uri: 'sip:carol@10.0.0.2', event: 'x-test', expires: 300 });
  subscriber.subscribe({ uri: 'sip:carol@10.0.0.2', event: 'x-test', expires: 600, headers: { Subject: 'ask' } });
  await net.settle(60);
  const subs = notifier.subscriptions('carol@10.0.0.2');
  t.equal(subs.length, 4);
  const before = notifies().length;
  await net.advance(10_000, 1000);
  notifier.notifyResource('carol@10.0.0.2');
  await net.settle(60);
  const states = new Map(notifies().slice(before).map((m) => [m.callId, m.header('subscription-state')]));
  t.same(
    subs.map((s) => states.get(s.dialog.callId)),
    ['active;expires=590', 'active;expires=590', 'active;expires=290', 'pending;expires=590'],
  );
  net.close();
});

t.test('subscriptions forgotten while they wait for a slot are skipped: nothing more is sent', async (t) => {
  const { net, notifier, subscriber, notifies } = setup(testPackage(), { maxInFlight: 1 });
  for (let i = 0; i < 4; i++) subscriber.subscribe({ uri: 'sip:bob@10.0.0.2', event: 'x-test', expires: 600 });
  await net.settle(60);
  const subs = notifier.subscriptions('bob@10.0.0.2');
  const before = notifies().length;
  notifier.notifyResource('bob@10.0.0.2');
  t.same(subs.map((s) => s.queue.length), [1, 1, 1, 1], 'one in flight, three waiting');
  notifier.close();
  await net.settle(100);
  t.same(notifies().slice(before).map((m) => m.callId), [subs[0]!.dialog.callId], 'only the one in flight went out');
  t.equal(notifier.size, 0);
  net.close();
});

t.test('a single lost NOTIFY (408) does not end the subscription; repeated failures do', async (t) => {
  const { net, notifier, subscriber } = setup(testPackage(), { notifyAttempts: 2, notifyRetryMs: 5000 });
  const sub = subscriber.subscribe({ uri: 'sip:alice@10.0.0.2', event: 'x-test', expires: 3600 });
  await net.settle();
  let lose = true;
  net.drop = (msg) => lose && msg.isRequest && msg.cseq.method === 'NOTIFY';
  const s = notifier.subscriptions()[0]!;
  notifier.notify(s);
  await net.advance(33_000, 500);
  t.equal(s.failures, 1, 'timed out once');
  t.equal(notifier.size, 1, 'still subscribed');
  lose = false;
  await net.advance(6_000, 500);
  t.equal(s.failures, 0, 'the retry went through');
  t.equal(sub.state, ClientSubscriptionState.Active);
  lose = true;
  const ended: string[] = [];
  notifier.on('terminated', (_s, reason) => ended.push(reason));
  notifier.notify(s);
  await net.advance(80_000, 1000);
  t.same(ended, ['giveup'], 'ended after the configured attempts');
  t.equal(notifier.size, 0);
  net.close();
});

t.test('expiry reaping: final NOTIFY terminated;reason=timeout', async (t) => {
  const { net, notifier, notifies, subscriber } = setup();
  const sub = subscriber.subscribe({ uri: 'sip:alice@10.0.0.2', event: 'x-test', expires: 60, refresh: false });
  await net.settle();
  t.equal(sub.state, ClientSubscriptionState.Active);
  t.equal(notifies().length, 1);
  await net.advance(61_000, 1000);
  t.equal(notifier.size, 0);
  t.equal(notifies().length, 2);
  t.equal(notifies()[1]!.header('subscription-state'), 'terminated;reason=timeout');
  t.equal(sub.state, ClientSubscriptionState.Terminated);
  t.equal(sub.reason, 'timeout');
  net.close();
});

t.test('481 to a NOTIFY ends the subscription; Expires 0 fetch; pending then activate; reject', async (t) => {
  const { net, client, notifier, notifies, subscriber } = setup(
    testPackage({ authorize: (req) => (req.get('subject') === 'ask' ? 'pending' : req.get('subject') === 'no' ? { reject: 403 } : 'active') }),
  );
  const fetch = client.request({ method: 'SUBSCRIBE', uri: 'sip:bob@10.0.0.2', headers: { Event: 'x-test', Expires: '0' } });
  await net.settle();
  t.equal((await fetch).response.header('expires'), '0');
  t.equal(notifies().at(-1)!.header('subscription-state'), 'terminated;reason=timeout', 'fetch: one final NOTIFY');
  t.equal(notifier.size, 0);
  const carol = subscriber.subscribe({ uri: 'sip:carol@10.0.0.2', event: 'x-test', headers: { Subject: 'ask' } });
  await net.settle();
  t.equal(carol.state, ClientSubscriptionState.Pending);
  t.match(notifies().at(-1)!.header('subscription-state'), /^pending;expires=3600$/);
  notifier.activate(notifier.subscriptions('carol@10.0.0.2')[0]!);
  await net.settle();
  t.match(notifies().at(-1)!.header('subscription-state'), /^active;expires=/);
  t.equal(carol.state, ClientSubscriptionState.Active);
  const rej = client.request({ method: 'SUBSCRIBE', uri: 'sip:dave@10.0.0.2', headers: { Event: 'x-test', Subject: 'no' } });
  await net.settle();
  t.equal((await rej).response.status, 403);
  // A UA that answers its NOTIFY with 481 (no subscriber there): removed at once.
  const raw = client.request({ method: 'SUBSCRIBE', uri: 'sip:erin@10.0.0.2', headers: { Event: 'x-test' } });
  await net.settle();
  t.equal((await raw).response.status, 200);
  t.equal(notifier.subscriptions('erin@10.0.0.2').length, 0, 'a 481 to the NOTIFY removed it');
  notifier.close();
  subscriber.close();
  t.equal(carol.state, ClientSubscriptionState.Terminated);
  net.close();
});

t.test('NOTIFY arriving before the 2xx creates the dialog (RFC 6665 section 4.1.2.4); Timer N', async (t) => {
  const { net, notifier, subscriber } = setup();
  let dropOk = 1;
  net.drop = (msg) => !msg.isRequest && msg.cseq.method === 'SUBSCRIBE' && dropOk-- > 0;
  const sub = subscriber.subscribe({ uri: 'sip:alice@10.0.0.2', event: 'x-test', expires: 600 });
  await net.settle();
  t.equal(sub.state, ClientSubscriptionState.Active, 'NOTIFY accepted before the 200');
  await net.advance(1000, 100);
  t.equal(notifier.size, 1);
  t.ok(sub.dialog);
  // Timer N: a notifier that never sends NOTIFY.
  const net2 = new Net();
  const c2 = net2.node('10.0.0.1');
  const s2 = net2.node('10.0.0.2');
  s2.use('SUBSCRIBE', (_req, res) => res.send(200, { headers: { Expires: '600', Contact: '<sip:s@10.0.0.2>' } }));
  const lonely = new Subscriber(c2).subscribe({ uri: 'sip:alice@10.0.0.2', event: 'x-test' });
  await net2.settle();
  await net2.advance(33_000, 1000);
  t.equal(lonely.state, ClientSubscriptionState.Terminated);
  t.equal(lonely.reason, 'timeout');
  net.close();
  net2.close();
});

t.test('a subscriber whose Contact is a host name is notified through the resolving request path', async (t) => {
  const net = new Net();
  const client = net.node('127.0.0.1');
  const server = net.node('10.0.0.2');
  const notifier = new Notifier(server, { packages: [testPackage()] });
  const subscriber = new Subscriber(client, { refreshMarginSec: 30 });
  const sub = subscriber.subscribe({ uri: 'sip:alice@10.0.0.2', event: 'x-test', expires: 300 });
  const seen: string[] = [];
  sub.on('notify', (req) => seen.push(req.body.toString()));
  for (let i = 0; i < 50 && seen.length === 0; i++) await net.settle();
  t.same(seen, ['state alice@10.0.0.2 #0'], 'first NOTIFY arrived');
  const s = notifier.subscriptions()[0]!;
  t.equal(s.subscriber, 'sip:127001@127.0.0.1', 'the subscriber is the dialog remote URI');
  // As after a target refresh to a name: the next NOTIFY resolves it (RFC 3263) instead of going out as bytes.
  s.dialog.remoteTargetText = s.dialog.remoteTargetText.replace('127.0.0.1', 'localhost');
  notifier.notify(s);
  // The name goes through the system resolver (libuv's thread pool): bounded by real time, not by loop turns.
  const deadline = Date.now() + 10_000;
  while (seen.length === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(seen.length, 2);
  t.equal(s.failures, 0);
  notifier.close();
  subscriber.close();
  net.close();
});

t.test('bodyContent joins a body given in parts: text parts as text, parts with bytes as bytes', async (t) => {
  const { bodyContent } = await import('../../../src/sip/subscription/event-package.js');
  t.equal(bodyContent({ contentType: 'text/plain', body: 'one' }), 'one');
  t.equal(bodyContent({ contentType: 'text/plain', body: ['a', 'b'] }), 'ab');
  const mixed = bodyContent({ contentType: 'text/plain', body: [Buffer.from('<x v="'), '3', Buffer.from('">é</x>')] });
  t.ok(Buffer.isBuffer(mixed));
  t.equal(mixed.toString('utf8'), '<x v="3">é</x>');
});
