import t from 'tap';

import type { SipRequest, SipResponse } from '../../../src/sip/message/index.js';
import { ManualClock } from '../../../src/sip/transaction/clock.js';
import {
  InviteClientState,
  NonInviteClientState,
  type ClientTransaction,
} from '../../../src/sip/transaction/client-transaction.js';
import {
  InviteServerState,
  NonInviteServerState,
  type ServerTransaction,
} from '../../../src/sip/transaction/server-transaction.js';
import { TransactionLayer } from '../../../src/sip/transaction/transaction-layer.js';
import { timerValues, defaultTimers } from '../../../src/sip/transaction/timers.js';
import { createResponse } from '../../../src/sip/message/index.js';
import { MetricsRegistry } from '../../../src/util/metrics.js';
import { FakeTransport, request, responseTo, tcpDest, tcpSource, udpDest, udpSource } from './helpers.js';

let cancels = 0;
function setup(opts: { maxServerTransactions?: number } = {}) {
  const clock = new ManualClock();
  const transport = new FakeTransport(clock);
  const requests: Array<{ req: SipRequest; tx: ServerTransaction }> = [];
  const acks: SipRequest[] = [];
  const strays: SipResponse[] = [];
  const metrics = new MetricsRegistry();
  const layer = new TransactionLayer({
    transport, clock, metrics, ...opts,
    user: {
      onRequest: (req, tx) => requests.push({ req, tx }),
      onAck: (req) => acks.push(req),
      onStrayResponse: (res) => strays.push(res),
      onCancel: () => cancels++,
    },
  });
  const events: string[] = [];
  const tu = {
    onResponse: (r: SipResponse, tx: ClientTransaction) => events.push(`${r.status}@${clock.now()}:${tx.state}`),
    onTimeout: () => events.push(`timeout@${clock.now()}`),
    onTransportError: () => events.push(`error@${clock.now()}`),
  };
  return { clock, transport, layer, requests, acks, strays, events, tu, metrics };
}

t.test('RFC 3261 appendix A timer values', async (t) => {
  t.same(timerValues(defaultTimers, false), { A: 500, B: 32000, D: 32000, E: 500, F: 32000, G: 500, H: 32000, I: 5000, J: 32000, K: 5000 });
  t.same(timerValues(defaultTimers, true), { A: 500, B: 32000, D: 0, E: 500, F: 32000, G: 500, H: 32000, I: 0, J: 0, K: 0 });
});

t.test('non-INVITE client over UDP: Timer E doubles up to T2, Timer F times out at 64*T1', async (t) => {
  const { clock, transport, layer, events, tu } = setup();
  const tx = layer.request(request('OPTIONS'), udpDest, tu);
  t.equal(tx.state, NonInviteClientState.Trying);
  clock.advance(40_000);
  t.same(transport.times(), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  t.same(events, ['timeout@32000']);
  t.equal(tx.state, NonInviteClientState.Terminated);
  t.equal(layer.clientCount, 0);
  t.equal(clock.pending, 0);
});

t.test('non-INVITE client: Proceeding retransmits every T2; final response -> Completed, Timer K', async (t) => {
  const { clock, transport, layer, events, tu } = setup();
  const r = request('MESSAGE');
  const tx = layer.request(r, udpDest, tu);
  clock.advance(600);
  layer.receiveResponse(responseTo(r, 100), udpSource);
  t.equal(tx.state, NonInviteClientState.Proceeding);
  clock.advance(10_000);
  t.same(transport.times(), [0, 500, 1500, 5500, 9500], 'after 1xx the interval is T2');
  layer.receiveResponse(responseTo(r, 200), udpSource);
  t.equal(tx.state, NonInviteClientState.Completed);
  t.same(tx.runningTimers, ['K']);
  layer.receiveResponse(responseTo(r, 200), udpSource);
  t.same(events, ['100@600:Proceeding', '200@10600:Completed'], 'retransmitted final absorbed');
  clock.advance(4999);
  t.equal(tx.state, NonInviteClientState.Completed);
  clock.advance(1);
  t.equal(tx.state, NonInviteClientState.Terminated, 'Timer K = T4');
  t.equal(layer.clientCount, 0);
});

t.test('non-INVITE client over TCP: no retransmissions, Timer K zero', async (t) => {
  const { clock, transport, layer, events, tu } = setup();
  const r = request('MESSAGE', { transport: 'TCP' });
  const tx = layer.request(r, tcpDest, tu);
  clock.advance(10_000);
  t.equal(transport.sent.length, 1);
  layer.receiveResponse(responseTo(r, 404), tcpSource);
  clock.advance(0);
  t.equal(tx.state, NonInviteClientState.Terminated);
  t.same(events, ['404@10000:Completed']);
  const tx2 = layer.request(request('MESSAGE', { transport: 'TCP' }), tcpDest, tu);
  clock.advance(32_000);
  t.equal(transport.sent.length, 2);
  t.equal(tx2.state, NonInviteClientState.Terminated);
  t.same(events.at(-1), 'timeout@42000', 'Timer F still applies over TCP');
  t.equal(layer.clientCount, 0);
});

t.test('INVITE client over UDP: Timer A doubles each time, Timer B at 64*T1', async (t) => {
  const { clock, transport, layer, events, tu } = setup();
  const tx = layer.request(request('INVITE'), udpDest, tu);
  t.equal(tx.state, InviteClientState.Calling);
  clock.advance(40_000);
  t.same(transport.times(), [0, 500, 1500, 3500, 7500, 15500, 31500]);
  t.same(events, ['timeout@32000']);
  t.equal(layer.clientCount, 0);
});

t.test('INVITE client: 1xx stops retransmission; 486 is ACKed, Timer D absorbs retransmissions', async (t) => {
  const { clock, transport, layer, events, tu } = setup();
  const r = request('INVITE');
  const tx = layer.request(r, udpDest, tu);
  layer.receiveResponse(responseTo(r, 180), udpSource);
  t.equal(tx.state, InviteClientState.Proceeding);
  clock.advance(60_000);
  t.equal(transport.sent.length, 1, 'no retransmission and no Timer B in Proceeding');
  layer.receiveResponse(responseTo(r, 486), udpSource);
  t.equal(tx.state, InviteClientState.Completed);
  const ack = transport.sent[1]!.msg as SipRequest;
  t.equal(ack.method, 'ACK');
  t.equal(ack.cseq.method, 'ACK');
  t.equal(ack.cseq.seq, r.cseq.seq);
  t.equal(ack.via[0]!.branch, r.via[0]!.branch, 'same branch as the INVITE (17.1.1.3)');
  t.equal(ack.to.tag, 'b1', 'To from the response');
  layer.receiveResponse(responseTo(r, 486), udpSource);
  t.equal(transport.sent.length, 3, 'ACK resent for a retransmitted final');
  t.same(events, ['180@0:Proceeding', '486@60000:Completed']);
  clock.advance(31_999);
  t.equal(tx.state, InviteClientState.Completed);
  clock.advance(1);
  t.equal(tx.state, InviteClientState.Terminated, 'Timer D = 32 s');
  t.equal(layer.clientCount, 0);
});

t.test('INVITE client over TCP: Timer D is zero; 2xx goes to Accepted and retransmissions reach the TU', async (t) => {
  const { clock, layer, events, tu } = setup();
  const r = request('INVITE', { transport: 'TCP' });
  const tx = layer.request(r, tcpDest, tu);
  layer.receiveResponse(responseTo(r, 603), tcpSource);
  clock.advance(0);
  t.equal(tx.state, InviteClientState.Terminated);
  const r2 = request('INVITE');
  const tx2 = layer.request(r2, udpDest, tu);
  layer.receiveResponse(responseTo(r2, 200), udpSource);
  t.equal(tx2.state, InviteClientState.Accepted);
  layer.receiveResponse(responseTo(r2, 200), udpSource);
  layer.receiveResponse(responseTo(r2, 180), udpSource);
  t.same(events, ['603@0:Completed', '200@0:Accepted', '200@0:Accepted']);
  clock.advance(32_000);
  t.equal(tx2.state, InviteClientState.Terminated, 'Timer M = 64*T1 (RFC 6026)');
  t.equal(layer.clientCount, 0);
});

t.test('client transport error terminates and informs the TU', async (t) => {
  const { transport, layer, events, tu } = setup();
  transport.fail = true;
  const tx = layer.request(request('OPTIONS'), udpDest, tu);
  t.equal(tx.state, NonInviteClientState.Terminated);
  const itx = layer.request(request('INVITE'), udpDest, tu);
  t.equal(itx.state, InviteClientState.Terminated);
  t.same(events, ['error@0', 'error@0']);
  t.equal(layer.clientCount, 0);
  t.throws(() => layer.request(request('ACK'), udpDest, tu), { code: 'SIP_ERR_TX_ACK' });
  t.throws(() => layer.request(request('OPTIONS', { branch: 'old' }), udpDest, tu), { code: 'SIP_ERR_TX_BRANCH' });
  transport.fail = false;
  const r = request('OPTIONS');
  layer.request(r, udpDest, tu);
  t.throws(() => layer.request(r, udpDest, tu), { code: 'SIP_ERR_TX_BRANCH' });
  layer.close();
  t.equal(layer.clientCount, 0);
});

t.test('non-INVITE server over UDP: retransmissions absorbed, final resent, Timer J', async (t) => {
  const { clock, transport, layer, requests } = setup();
  const r = request('MESSAGE');
  layer.receiveRequest(r, udpSource);
  t.equal(requests.length, 1);
  const tx = requests[0]!.tx;
  t.equal(tx.state, NonInviteServerState.Trying);
  layer.receiveRequest(request('MESSAGE', { branch: r.via[0]!.branch! }), udpSource);
  t.equal(requests.length, 1, 'retransmission not passed up');
  t.equal(transport.sent.length, 0, 'nothing to resend in Trying');
  tx.respond(createResponse(r, 180));
  t.equal(tx.state, NonInviteServerState.Proceeding);
  layer.receiveRequest(request('MESSAGE', { branch: r.via[0]!.branch! }), udpSource);
  t.equal(transport.sent.length, 2, 'provisional resent in Proceeding');
  tx.respond(createResponse(r, 200));
  t.equal(tx.state, NonInviteServerState.Completed);
  t.same(transport.sent[2]!.dest, { protocol: 'udp', host: '127.0.0.2', port: 5070 });
  layer.receiveRequest(request('MESSAGE', { branch: r.via[0]!.branch! }), udpSource);
  t.equal(transport.sent.length, 4, 'final resent in Completed');
  t.equal((transport.sent[3]!.msg as SipResponse).status, 200);
  t.throws(() => tx.respond(createResponse(r, 500)), { code: 'SIP_ERR_TX_FINAL_SENT' });
  clock.advance(31_999);
  t.equal(layer.serverCount, 1);
  clock.advance(1);
  t.equal(layer.serverCount, 0, 'Timer J = 64*T1');
  t.equal(tx.state, NonInviteServerState.Terminated);
});

t.test('non-INVITE server over TCP: Timer J zero, responses over the same connection', async (t) => {
  const { transport, layer, requests } = setup();
  const r = request('OPTIONS', { transport: 'TCP' });
  layer.receiveRequest(r, tcpSource);
  requests[0]!.tx.respond(createResponse(r, 200));
  t.equal(layer.serverCount, 0);
  t.same(transport.sent[0]!.dest, { protocol: 'tcp', host: '127.0.0.2', port: 40000, connectionId: 7 });
});

t.test('INVITE server: 100 Trying after 200 ms, Timer G doubles to T2, ACK -> Confirmed, Timer I', async (t) => {
  const { clock, transport, layer, requests, acks } = setup();
  const r = request('INVITE');
  layer.receiveRequest(r, udpSource);
  const tx = requests[0]!.tx;
  t.equal(tx.state, InviteServerState.Proceeding);
  clock.advance(200);
  t.equal((transport.sent[0]!.msg as SipResponse).status, 100);
  t.notOk(transport.sent[0]!.msg.to.tag, '100 carries no To tag');
  layer.receiveRequest(request('INVITE', { branch: r.via[0]!.branch! }), udpSource);
  t.equal(transport.sent.length, 2, 'INVITE retransmission: last provisional resent');
  tx.respond(createResponse(r, 486, undefined, 'x1'));
  t.equal(tx.state, InviteServerState.Completed);
  clock.advance(12_000);
  t.same(transport.times((m) => !m.isRequest && (m as SipResponse).status === 486), [200, 700, 1700, 3700, 7700, 11700]);
  const ack = request('ACK', { branch: r.via[0]!.branch!, toTag: 'x1' });
  layer.receiveRequest(ack, udpSource);
  t.equal(tx.state, InviteServerState.Confirmed);
  t.equal(acks.length, 0, 'non-2xx ACK absorbed by the transaction');
  layer.receiveRequest(ack, udpSource);
  t.equal(tx.state, InviteServerState.Confirmed);
  clock.advance(4_999);
  t.equal(layer.serverCount, 1);
  clock.advance(1);
  t.equal(layer.serverCount, 0, 'Timer I = T4');
  t.equal(clock.pending, 0);
});

t.test('INVITE server: Timer H without ACK informs the TU; TCP: no Timer G, Timer I zero', async (t) => {
  const { clock, transport, layer, requests } = setup();
  const r = request('INVITE');
  layer.receiveRequest(r, udpSource);
  const tx = requests[0]!.tx;
  let timedOut = 0;
  tx.user = { onTimeout: () => timedOut++ };
  tx.respond(createResponse(r, 404));
  clock.advance(32_000);
  t.equal(timedOut, 1);
  t.equal(tx.state, InviteServerState.Terminated);
  t.equal(layer.serverCount, 0);

  const r2 = request('INVITE', { transport: 'TCP' });
  layer.receiveRequest(r2, tcpSource);
  const tx2 = requests[1]!.tx;
  tx2.respond(createResponse(r2, 404, undefined, 'y'));
  const before = transport.sent.length;
  clock.advance(10_000);
  t.equal(transport.sent.length, before, 'no Timer G over TCP');
  layer.receiveRequest(request('ACK', { transport: 'TCP', branch: r2.via[0]!.branch!, toTag: 'y' }), tcpSource);
  clock.advance(0);
  t.equal(tx2.state, InviteServerState.Terminated);
  t.equal(layer.serverCount, 0);
});

t.test('INVITE server: 2xx -> Accepted (RFC 6026), INVITE retransmissions absorbed, 2xx ACK to the TU', async (t) => {
  const { clock, transport, layer, requests, acks } = setup();
  const r = request('INVITE');
  layer.receiveRequest(r, udpSource);
  const tx = requests[0]!.tx;
  const ok = createResponse(r, 200, undefined, 'z');
  tx.respond(ok);
  t.equal(tx.state, InviteServerState.Accepted);
  tx.respond(ok);
  t.equal(transport.sent.length, 2, 'TU retransmissions of the 2xx pass through');
  layer.receiveRequest(request('INVITE', { branch: r.via[0]!.branch! }), udpSource);
  t.equal(transport.sent.length, 2, 'INVITE retransmission absorbed');
  t.equal(requests.length, 1);
  layer.receiveRequest(request('ACK', { toTag: 'z' }), udpSource);
  t.equal(acks.length, 1, 'ACK for 2xx (new branch) goes to the TU');
  clock.advance(32_000);
  t.equal(layer.serverCount, 0, 'Timer L');
});

t.test('CANCEL (RFC 3261 section 9.2): 200 to CANCEL, 487 to the INVITE; 481 when nothing matches', async (t) => {
  const { transport, layer, requests, clock } = setup();
  const r = request('INVITE');
  layer.receiveRequest(r, udpSource);
  const tx = requests[0]!.tx;
  cancels = 0;
  layer.receiveRequest(request('CANCEL', { branch: r.via[0]!.branch! }), udpSource);
  const statuses = transport.sent.map((s) => `${(s.msg as SipResponse).status} ${s.msg.cseq.method}`);
  t.same(statuses, ['200 CANCEL', '487 INVITE']);
  t.equal(cancels, 1);
  t.equal(requests.length, 1, 'CANCEL not passed to the TU');
  t.equal(tx.state, InviteServerState.Completed);
  layer.receiveRequest(request('ACK', { branch: r.via[0]!.branch!, toTag: transport.sent[1]!.msg.to.tag! }), udpSource);
  t.equal(tx.state, InviteServerState.Confirmed);
  layer.receiveRequest(request('CANCEL', { branch: 'z9hG4bKnothing' }), udpSource);
  t.equal((transport.sent.at(-1)!.msg as SipResponse).status, 481);
  // CANCEL after the final response: 200, no effect.
  const r2 = request('INVITE');
  layer.receiveRequest(r2, udpSource);
  requests[1]!.tx.respond(createResponse(r2, 200));
  layer.receiveRequest(request('CANCEL', { branch: r2.via[0]!.branch! }), udpSource);
  t.equal((transport.sent.at(-1)!.msg as SipResponse).status, 200);
  t.equal(requests[1]!.tx.state, InviteServerState.Accepted);
  clock.runAll();
  t.equal(layer.serverCount, 0);
});

t.test('RFC 2543 fallback matching (no magic cookie), including the ACK', async (t) => {
  const { transport, layer, requests, clock } = setup();
  const r = request('INVITE', { branch: 'old1' });
  layer.receiveRequest(r, udpSource);
  layer.receiveRequest(request('INVITE', { branch: 'old1' }), udpSource);
  t.equal(requests.length, 1, 'retransmission matched by the 2543 rules');
  requests[0]!.tx.respond(createResponse(r, 480, undefined, 't'));
  layer.receiveRequest(request('ACK', { branch: 'old1', toTag: 't' }), udpSource);
  t.equal(requests[0]!.tx.state, InviteServerState.Confirmed);
  const noBranch = request('OPTIONS', { branch: '' });
  layer.receiveRequest(noBranch, udpSource);
  t.equal(requests.length, 2);
  t.ok(transport.sent.length >= 1);
  clock.runAll();
  requests[1]!.tx.respond(createResponse(noBranch, 200));
  clock.runAll();
  t.equal(layer.serverCount, 0);
});

t.test('bounded server table: 503 with Retry-After when full', async (t) => {
  const { transport, layer, requests, metrics, clock } = setup({ maxServerTransactions: 1 });
  layer.receiveRequest(request('MESSAGE'), udpSource);
  layer.receiveRequest(request('MESSAGE'), udpSource);
  t.equal(requests.length, 1);
  const last = transport.sent.at(-1)!.msg as SipResponse;
  t.equal(last.status, 503);
  t.equal(last.header('retry-after'), '5');
  t.equal(metrics.counter('switchhook_sip_overload_total', '').total(), 1);
  layer.close();
  t.equal(layer.serverCount, 0);
  t.equal(clock.pending, 0);
});

t.test('stray responses and server transport errors', async (t) => {
  const { transport, layer, requests, strays } = setup();
  layer.receiveResponse(responseTo(request('OPTIONS'), 200), udpSource);
  t.equal(strays.length, 1);
  const r = request('MESSAGE');
  layer.receiveRequest(r, udpSource);
  let errors = 0;
  requests[0]!.tx.user = { onTransportError: () => errors++ };
  transport.fail = true;
  requests[0]!.tx.respond(createResponse(r, 200));
  t.equal(errors, 1);
  t.equal(layer.serverCount, 0);
  const inv = request('INVITE');
  layer.receiveRequest(inv, udpSource);
  requests[1]!.tx.user = { onTransportError: () => errors++ };
  requests[1]!.tx.respond(createResponse(inv, 500));
  t.equal(errors, 2);
  t.equal(layer.serverCount, 0);
});

t.test('DelayQueue: one clock timer per duration, order kept, cancel, re-arm while firing', async (t) => {
  const { DelayQueue } = await import('../../../src/sip/transaction/clock.js');
  const clock = new ManualClock();
  const q = new DelayQueue(clock, 100);
  const fired: string[] = [];
  q.add(() => fired.push('a'));
  clock.advance(10);
  const b = q.add(() => fired.push('b'));
  q.add(() => {
    fired.push('c');
    q.add(() => fired.push('d'));
  });
  t.equal(clock.pending, 1, 'one clock timer for the queue');
  b.cancel();
  b.cancel();
  t.equal(q.size, 2);
  clock.advance(100);
  t.same(fired, ['a', 'c']);
  t.equal(clock.pending, 1);
  clock.advance(100);
  t.same(fired, ['a', 'c', 'd']);
  t.equal(clock.pending, 0);
  const e = q.add(() => fired.push('e'));
  e.cancel();
  t.equal(clock.pending, 0, 'nothing live: no clock timer');
  for (let i = 0; i < 3000; i++) q.add(() => undefined);
  clock.advance(100);
  t.equal(q.size, 0);
  q.clear();
});

t.test('lean non-INVITE client (requestFinal): Timer E to T2, Timer F 408, only the outcome reported', async (t) => {
  const { clock, transport, layer, metrics } = setup();
  const finals: string[] = [];
  const user = { onFinal: (status: number, res: SipResponse | undefined) => finals.push(`${status}${res ? '' : '-local'}@${clock.now()}`) };
  const tx = layer.requestFinal(request('NOTIFY'), udpDest, user);
  t.equal(tx.state, NonInviteClientState.Trying);
  t.ok(tx.request);
  clock.advance(40_000);
  t.same(transport.times(), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500], 'RFC 3261 17.1.2.2 schedule');
  t.same(finals, ['408-local@32000'], 'Timer F: a 408');
  t.equal(tx.request, undefined, 'the request is let go');
  t.equal(layer.clientCount, 0);
  t.equal(metrics.counter('switchhook_sip_transaction_timeouts_total', '').get({ method: 'NOTIFY' }), 1);
  t.throws(() => layer.requestFinal(request('INVITE'), udpDest, user), { code: 'SIP_ERR_TX_METHOD' });
});

t.test('lean non-INVITE client: 1xx then T2 retransmissions; the final absorbs its retransmissions for Timer K', async (t) => {
  const { clock, transport, layer, strays } = setup();
  const finals: number[] = [];
  const r = request('NOTIFY');
  const tx = layer.requestFinal(r, udpDest, { onFinal: (s) => finals.push(s) });
  clock.advance(600);
  layer.receiveResponse(responseTo(r, 100), udpSource);
  t.equal(tx.state, NonInviteClientState.Proceeding);
  t.same(finals, [], 'provisional responses are not passed up');
  clock.advance(5_000);
  t.same(transport.times(), [0, 500, 1500, 5500], 'every T2 in Proceeding');
  layer.receiveResponse(responseTo(r, 200), udpSource);
  t.same(finals, [200]);
  t.equal(tx.state, NonInviteClientState.Terminated);
  t.equal(layer.clientCount, 0, 'out of the table at once');
  layer.receiveResponse(responseTo(r, 200), udpSource);
  t.same(finals, [200], 'a retransmitted final is absorbed');
  t.equal(strays.length, 0);
  clock.advance(10_001);
  layer.receiveResponse(responseTo(r, 200), udpSource);
  t.equal(strays.length, 1, 'after Timer K it is stray');
  // Not retransmitted: the UAS has no reason to retransmit its final (17.2.2), so nothing is kept.
  const r2 = request('NOTIFY');
  layer.requestFinal(r2, udpDest, { onFinal: (s) => finals.push(s) });
  layer.receiveResponse(responseTo(r2, 481), udpSource);
  t.same(finals, [200, 481]);
  layer.receiveResponse(responseTo(r2, 481), udpSource);
  t.equal(strays.length, 2);
  clock.advance(40_000);
  t.equal(clock.pending, 0, 'no timer left');
});

t.test('lean non-INVITE client: transport failure is a local 503; TCP has no retransmissions', async (t) => {
  const { clock, transport, layer } = setup();
  const finals: number[] = [];
  transport.fail = true;
  const tx = layer.requestFinal(request('NOTIFY'), udpDest, { onFinal: (s) => finals.push(s) });
  t.same(finals, [503]);
  t.equal(tx.state, NonInviteClientState.Terminated);
  transport.fail = false;
  const r = request('NOTIFY', { transport: 'TCP' });
  layer.requestFinal(r, tcpDest, { onFinal: (s) => finals.push(s) });
  clock.advance(10_000);
  t.equal(transport.sent.length, 1);
  layer.receiveResponse(responseTo(r, 200), tcpSource);
  t.same(finals, [503, 200]);
  t.equal(layer.clientCount, 0);
});

t.test('lean non-INVITE client from bytes: keyed by the given branch, sent and retransmitted as the bytes', async (t) => {
  const { clock, transport, layer } = setup();
  const finals: number[] = [];
  const r = request('NOTIFY');
  const bytes = r.toBuffer();
  // A transport without sendBytes: the transaction parses the bytes and uses send().
  const tx = layer.requestFinal({ bytes, method: 'NOTIFY', branch: r.topVia!.branch! }, udpDest, { onFinal: (s) => finals.push(s) });
  t.equal(tx.request, bytes, 'the bytes are kept, no message object');
  clock.advance(600);
  t.same(transport.times(), [0, 500]);
  t.same(transport.sent.map((s) => s.msg.toBuffer().equals(bytes)), [true, true], 'the same bytes each time');
  layer.receiveResponse(responseTo(r, 200), udpSource);
  t.same(finals, [200], 'the response matched by branch and method');
  t.equal(layer.clientCount, 0);
  layer.receiveResponse(responseTo(r, 200), udpSource);
  t.same(finals, [200], 'its retransmission absorbed (Timer K)');
  // A transport with sendBytes gets the bytes as they are.
  const raw: Buffer[] = [];
  Object.assign(transport, { sendBytes: (b: Buffer) => void raw.push(b) });
  const r2 = request('NOTIFY');
  layer.requestFinal({ bytes: r2.toBuffer(), method: 'NOTIFY', branch: r2.topVia!.branch! }, udpDest, { onFinal: (s) => finals.push(s) });
  clock.advance(40_000);
  t.equal(raw.length, 11, 'sent and retransmitted through sendBytes');
  t.same(finals, [200, 408], 'Timer F: a 408');
  t.throws(() => layer.requestFinal({ bytes, method: 'NOTIFY', branch: 'nocookie' }, udpDest, { onFinal: () => undefined }), { code: 'SIP_ERR_TX_BRANCH' });
  t.throws(() => layer.requestFinal({ bytes, method: 'INVITE', branch: 'z9hG4bKx' }, udpDest, { onFinal: () => undefined }), { code: 'SIP_ERR_TX_METHOD' });
});

t.test('DelayQueue: cancelled entries let go of their callbacks and are compacted', async (t) => {
  const { DelayQueue } = await import('../../../src/sip/transaction/clock.js');
  const clock = new ManualClock();
  const q = new DelayQueue(clock, 32_000);
  const fired: number[] = [];
  const handles = Array.from({ length: 10_000 }, (_, i) => q.add(() => fired.push(i)));
  for (let i = 0; i < 9_990; i++) handles[i]!.cancel();
  t.equal(q.size, 10);
  clock.advance(32_000);
  t.same(fired, [9990, 9991, 9992, 9993, 9994, 9995, 9996, 9997, 9998, 9999], 'the live ones fire, in order');
  t.equal(clock.pending, 0);
});

t.test('OffsetTimers: timers at fixed offsets from each start, members leave in O(1), one clock timer', async (t) => {
  const { OffsetTimers } = await import('../../../src/sip/transaction/clock.js');
  const clock = new ManualClock();
  const list = new OffsetTimers(clock, [500, 32_000]);
  const fired: string[] = [];
  const member = (name: string) => {
    const m = {
      otStart: 0,
      otPrev: undefined,
      otNext: undefined,
      otList: undefined,
      offsetTimer(i: number) {
        fired.push(`${name}${i}@${clock.now()}`);
        if (i === 1) list.remove(m);
      },
    };
    return m;
  };
  const a = member('a');
  const b = member('b');
  const c = member('c');
  list.add(a);
  clock.advance(100);
  list.add(b);
  list.add(c);
  t.equal(list.size, 3);
  t.equal(clock.pending, 1, 'one clock timer for every member');
  list.remove(b);
  list.remove(b);
  t.equal(list.size, 2, 'removing twice is harmless');
  clock.advance(1_000);
  t.same(fired, ['a0@500', 'c0@600'], 'the first offset, in start order; the removed member is skipped');
  // Every first timer has fired: a new member's must not wait for the second offset of the older ones.
  const d = member('d');
  clock.advance(10_000);
  list.add(d);
  clock.advance(500);
  t.same(fired.slice(2), ['d0@11600'], 'a new member re-arms the clock timer sooner');
  clock.advance(40_000);
  t.same(fired.slice(3), ['a1@32000', 'c1@32100', 'd1@43100'], 'the second offset, each member removing itself');
  t.equal(list.size, 0);
  t.equal(clock.pending, 0, 'no member: no clock timer');
  list.add(a);
  list.add(c);
  list.clear();
  t.equal(list.size, 0);
  t.equal(clock.pending, 0, 'cleared: no clock timer');
  clock.advance(40_000);
  t.equal(fired.length, 6, 'nothing fires after clear');
});

t.test('lean non-INVITE client: a response matches by branch and CSeq method; the same branch of another method is another transaction', async (t) => {
  const { layer, strays } = setup();
  const finals: number[] = [];
  const branch = 'z9hG4bKshared';
  const invite = request('INVITE', { branch });
  const inviteResponses: number[] = [];
  layer.request(invite, udpDest, { onResponse: (r) => inviteResponses.push(r.status), onTimeout: () => undefined, onTransportError: () => undefined });
  // A CANCEL shares its INVITE's branch (RFC 3261 section 9.1).
  const cancel = request('CANCEL', { branch });
  layer.requestFinal(cancel, udpDest, { onFinal: (s) => finals.push(s) });
  t.equal(layer.clientCount, 2);
  t.throws(() => layer.requestFinal(request('CANCEL', { branch }), udpDest, { onFinal: () => undefined }), { code: 'SIP_ERR_TX_BRANCH' });
  layer.receiveResponse(responseTo(invite, 180), udpSource);
  t.same(inviteResponses, [180], "the INVITE's response goes to the INVITE");
  t.same(finals, []);
  layer.receiveResponse(responseTo(cancel, 200), udpSource);
  t.same(finals, [200], "the CANCEL's to the CANCEL");
  t.equal(layer.clientCount, 1);
  t.equal(strays.length, 0);
  layer.close();
});
