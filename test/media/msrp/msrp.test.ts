import { once } from 'node:events';
import { connect } from 'node:net';

import t, { type Test } from 'tap';

import {
  chunkBody, formatByteRange, MsrpConnection, MsrpContinuation, MsrpError, msrpHeader, msrpId, MsrpParser, MsrpRelay, msrpSessionId, parseByteRange,
  pathUris, serializeMsrp, setMsrpHeader, type MsrpMessage,
} from '../../../src/media/msrp/index.js';
import { MetricsRegistry } from '../../../src/util/metrics.js';

// RFC 4975 section 7.1 / 10.1: a SEND and its 200 (the example in section 4, with CRLF line ends).
const SEND = [
  'MSRP a786hjs2 SEND',
  'To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp',
  'From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp',
  'Message-ID: 87652491',
  'Byte-Range: 1-25/25',
  'Content-Type: text/plain',
  '',
  'Hey Bob, are you there?',
  '-------a786hjs2$',
  '',
].join('\r\n');
const OK = [
  'MSRP a786hjs2 200 OK',
  'To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp',
  'From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp',
  '-------a786hjs2$',
  '',
].join('\r\n');

t.test('RFC 4975 section 4 example: SEND and 200, parsed and written back byte for byte', async (t) => {
  const p = new MsrpParser();
  const [send, ok] = p.push(Buffer.from(SEND + OK));
  t.equal(send!.method, 'SEND');
  t.equal(send!.body!.toString(), 'Hey Bob, are you there?');
  t.equal(msrpHeader(send!, 'Byte-Range'), '1-25/25');
  t.equal(send!.continuation, MsrpContinuation.Complete);
  t.equal(ok!.status, 200);
  t.equal(ok!.comment, 'OK');
  t.equal(serializeMsrp(send!).toString(), SEND);
  t.equal(serializeMsrp(ok!).toString(), OK);
  t.equal(p.pending, 0);
});

t.test('byte by byte, and a body that contains a near end-line', async (t) => {
  const body = 'line\r\n-------a786hjs2 not the end\r\n-------a786hjs2x\r\nok';
  const m: MsrpMessage = { transactionId: 'a786hjs2', method: 'SEND', headers: [['to-path', 'msrp://h:1/a;tcp'], ['from-path', 'msrp://h:2/b;tcp']], body: Buffer.from(body), continuation: MsrpContinuation.More };
  const bytes = serializeMsrp(m);
  const p = new MsrpParser();
  const out: MsrpMessage[] = [];
  for (const b of bytes) out.push(...p.push(Buffer.from([b])));
  t.equal(out.length, 1);
  t.equal(out[0]!.body!.toString(), body);
  t.equal(out[0]!.continuation, '+');
});

t.test('bad input raises MsrpError with stable codes', async (t) => {
  const bad = (s: string | Buffer, code: string, o = {}) => t.throws(() => new MsrpParser(o).push(Buffer.from(s)), { code }, code);
  bad('HTTP/1.1 200 OK\r\n', 'MSRP_ERR_START_LINE');
  bad('MSRP ab SEND\r\n', 'MSRP_ERR_START_LINE');
  bad('MSRP abcd send\r\n', 'MSRP_ERR_START_LINE');
  bad('MSRP abcd SEND\r\nno colon here\r\n', 'MSRP_ERR_HEADER');
  bad('MSRP abcd SEND\r\nTo-Path: x\r\n-------abcd!\r\n', 'MSRP_ERR_END_LINE');
  bad('x'.repeat(2000), 'MSRP_ERR_START_LINE');
  bad(`MSRP abcd SEND\r\nTo-Path: x\r\n\r\n${'y'.repeat(200)}`, 'MSRP_ERR_TOO_LARGE', { maxMessageBytes: 100 });
  t.throws(() => parseByteRange('0-5/5'), { code: 'MSRP_ERR_BYTE_RANGE' });
  t.throws(() => parseByteRange('1-9/5'), { code: 'MSRP_ERR_BYTE_RANGE' });
  t.throws(() => parseByteRange('abc'), { code: 'MSRP_ERR_BYTE_RANGE' });
  t.throws(() => chunkBody(Buffer.from('x'), 0), MsrpError);
});

t.test('byte ranges, chunking, paths, headers', async (t) => {
  t.same(parseByteRange('1-*/*'), { start: 1, end: undefined, total: undefined });
  t.equal(formatByteRange({ start: 11, end: 20, total: 25 }), '11-20/25');
  t.same(chunkBody(Buffer.from('abcdefghij'), 4).map((c) => [formatByteRange(c.range), c.data.toString(), c.last]), [['1-4/10', 'abcd', false], ['5-8/10', 'efgh', false], ['9-10/10', 'ij', true]]);
  t.same(chunkBody(Buffer.alloc(0), 4).map((c) => formatByteRange(c.range)), ['1-0/0']);
  t.equal(msrpSessionId('msrp://127.0.0.1:2855/abc.d;tcp'), 'abc.d');
  t.equal(msrpSessionId('http://x/y'), undefined);
  t.same(pathUris(' msrp://a:1/x;tcp  msrp://b:2/y;tcp '), ['msrp://a:1/x;tcp', 'msrp://b:2/y;tcp']);
  const m: MsrpMessage = { transactionId: 'abcd', method: 'SEND', headers: [], continuation: MsrpContinuation.Complete };
  setMsrpHeader(m, 'Failure-Report', 'yes');
  setMsrpHeader(m, 'Failure-Report', 'no');
  setMsrpHeader(m, 'X-Thing', '1');
  t.same(m.headers, [['failure-report', 'no'], ['x-thing', '1']]);
  t.match(serializeMsrp(m).toString(), /Failure-Report: no\r\nX-Thing: 1\r\n/);
});

async function relayPair(t: Test) {
  const metrics = new MetricsRegistry();
  const relay = new MsrpRelay({ metrics, peerWaitMs: 400, transactionTimeoutMs: 2000 });
  const { host, port } = await relay.start();
  t.teardown(() => relay.close());
  const s = relay.createSession();
  s.legs[0].remotePath = 'msrp://127.0.0.1:9/alice;tcp';
  s.legs[1].remotePath = 'msrp://127.0.0.1:9/bob;tcp';
  const a = await MsrpConnection.connect(host, port);
  const b = await MsrpConnection.connect(host, port);
  t.teardown(() => {
    a.close();
    b.close();
  });
  return { relay, s, a, b, metrics, host, port };
}

t.test('relay: SEND both ways, REPORT back, aborted chunk, errors', async (t) => {
  const { relay, s, a, b, metrics, host, port } = await relayPair(t);
  const atB: MsrpMessage[] = [];
  const atA: MsrpMessage[] = [];
  b.on('request', (m) => {
    atB.push(m);
    if (msrpHeader(m, 'message-id') === 'refuse') b.respond(m, 415, 'Unsupported Media Type');
    else b.respond(m, 200, 'OK');
    if (msrpHeader(m, 'success-report') === 'yes' && m.continuation === '$') {
      void b.request({ transactionId: 'rep00001', method: 'REPORT', headers: [['to-path', s.legs[1].localUri], ['from-path', 'msrp://127.0.0.1:9/bob;tcp'], ['message-id', msrpHeader(m, 'message-id')!], ['byte-range', '1-5/5'], ['status', '000 200 OK']], continuation: MsrpContinuation.Complete });
    }
  });
  a.on('request', (m) => {
    atA.push(m);
    a.respond(m, 200, 'OK');
  });
  // Bind B with an empty SEND (RFC 4975 section 5.4) before A sends.
  t.match(await b.request({ transactionId: 'bindbbbb', method: 'SEND', headers: [['to-path', s.legs[1].localUri], ['from-path', 'msrp://127.0.0.1:9/bob;tcp'], ['message-id', 'b0']], continuation: MsrpContinuation.Complete }), { status: 200 });
  await a.sendMessage({ toPath: s.legs[0].localUri, fromPath: 'msrp://127.0.0.1:9/alice;tcp', body: 'hello', headers: [['success-report', 'yes']] });
  t.equal(atB[0]!.body!.toString(), 'hello');
  t.equal(msrpHeader(atB[0]!, 'to-path'), 'msrp://127.0.0.1:9/bob;tcp', 'rewritten for B');
  t.equal(msrpHeader(atB[0]!, 'from-path'), s.legs[1].localUri);
  const deadline = Date.now() + 5000;
  while (atA.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.equal(atA[0]!.method, 'REPORT', 'the success report reached A');
  t.equal(msrpHeader(atA[0]!, 'status'), '000 200 OK');
  await t.rejects(a.sendMessage({ toPath: s.legs[0].localUri, fromPath: 'msrp://127.0.0.1:9/alice;tcp', body: 'x', messageId: 'refuse' }), { code: 'MSRP_ERR_SEND_FAILED', status: 415 }, 'B\'s error goes back to A');
  // An aborted message: the '#' end-line is relayed as it is.
  await a.request({ transactionId: 'abort001', method: 'SEND', headers: [['to-path', s.legs[0].localUri], ['from-path', 'msrp://127.0.0.1:9/alice;tcp'], ['message-id', 'm9'], ['byte-range', '1-3/10'], ['content-type', 'text/plain']], body: Buffer.from('abc'), continuation: MsrpContinuation.Aborted });
  t.equal(atB[atB.length - 1]!.continuation, '#');
  t.match(await a.request({ transactionId: 'unknown1', method: 'SEND', headers: [['to-path', 'msrp://127.0.0.1:1/nosuch;tcp'], ['from-path', 'msrp://127.0.0.1:9/alice;tcp']], continuation: MsrpContinuation.Complete }), { status: 481 });
  t.match(await a.request({ transactionId: 'method01', method: 'FETCH', headers: [['to-path', s.legs[0].localUri], ['from-path', 'msrp://127.0.0.1:9/alice;tcp']], continuation: MsrpContinuation.Complete }), { status: 501 });
  t.match(await a.request({ transactionId: 'wrongleg', method: 'SEND', headers: [['to-path', s.legs[1].localUri], ['from-path', 'msrp://127.0.0.1:9/alice;tcp'], ['content-type', 'text/plain']], body: Buffer.from('x'), continuation: MsrpContinuation.Complete }), { status: 403 }, 'one connection, one leg');
  const intruder = await MsrpConnection.connect(host, port);
  t.teardown(() => intruder.close());
  t.match(await intruder.request({ transactionId: 'intrude1', method: 'SEND', headers: [['to-path', s.legs[0].localUri], ['from-path', 'msrp://127.0.0.1:9/mallory;tcp']], continuation: MsrpContinuation.Complete }), { status: 403 }, 'From-Path must match the SDP path');
  // Bad framing closes the connection and is counted.
  const raw = connect({ host, port });
  await once(raw, 'connect');
  raw.write('GET / HTTP/1.1\r\n\r\n');
  await once(raw, 'close');
  t.match(metrics.render(), /switchhook_msrp_rejected_total\{reason="parse"\} 1/);
  t.match(metrics.render(), /switchhook_msrp_relayed_total\{method="REPORT"\} 1/);
  relay.closeSession(s);
  t.equal(relay.size, 0);
  await once(a, 'close');
});

t.test('relay: chunks wait for the other client, then time out when it never comes', async (t) => {
  const { s, a, b, metrics } = await relayPair(t);
  const atB: MsrpMessage[] = [];
  b.on('request', (m) => {
    atB.push(m);
    b.respond(m, 200, 'OK');
  });
  const sent = a.sendMessage({ toPath: s.legs[0].localUri, fromPath: 'msrp://127.0.0.1:9/alice;tcp', body: 'early' });
  await new Promise((r) => setTimeout(r, 50));
  await b.request({ transactionId: 'bindbbbb', method: 'SEND', headers: [['to-path', s.legs[1].localUri], ['from-path', 'msrp://127.0.0.1:9/bob;tcp']], continuation: MsrpContinuation.Complete });
  await sent;
  t.equal(atB[0]!.body!.toString(), 'early', 'queued until B connected');
  b.close();
  await once(b, 'close');
  await t.rejects(a.sendMessage({ toPath: s.legs[0].localUri, fromPath: 'msrp://127.0.0.1:9/alice;tcp', body: 'late' }), { code: 'MSRP_ERR_SEND_FAILED' });
  t.equal(await a.sendMessage({ toPath: s.legs[0].localUri, fromPath: 'msrp://127.0.0.1:9/alice;tcp', body: 'x' }).catch((e: MsrpError) => e.status), 408);
  t.match(metrics.render(), /reason="peerAbsent"/);
});

t.test('regression: generated transaction ids are always valid idents (a leading "." or "-" broke framing)', async (t) => {
  const p = new MsrpParser();
  for (let i = 0; i < 2000; i++) {
    const id = msrpId();
    const [m] = p.push(serializeMsrp({ transactionId: id, method: 'SEND', headers: [['to-path', 'msrp://h:1/a;tcp']], continuation: MsrpContinuation.Complete }));
    if (m?.transactionId !== id) t.fail(`id ${id} did not round-trip`);
  }
  t.equal(p.pending, 0);
});
