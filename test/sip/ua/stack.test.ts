import { createSocket } from 'node:dgram';

import t, { type Test } from 'tap';

import { SipStack, parseListenSpec } from '../../../src/sip/ua/stack.js';

/** A stack on UDP and a raw UDP socket (`port`) to talk to it from; both closed at the test's end. */
async function udpStackAndPeer(t: Test) {
  const stack = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  const [udp] = await stack.start();
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  t.teardown(async () => {
    sock.close();
    await stack.close();
  });
  return { stack, udp, sock, port: sock.address().port };
}

t.test('listen specs', async (t) => {
  t.same(parseListenSpec('udp:127.0.0.1:5060'), { protocol: 'udp', host: '127.0.0.1', port: 5060 });
  t.same(parseListenSpec('tcp:[::1]:0'), { protocol: 'tcp', host: '::1', port: 0 });
  t.throws(() => parseListenSpec('sctp:1.2.3.4:5060'), { code: 'SIP_ERR_LISTEN_SPEC' });
  t.throws(() => parseListenSpec('udp:127.0.0.1:70000'), { code: 'SIP_ERR_LISTEN_SPEC' });
});

t.test('a bare stack answers OPTIONS with 200 on UDP and TCP; a request between two stacks over TCP', async (t) => {
  const server = new SipStack({ listen: ['udp:127.0.0.1:0', 'tcp:127.0.0.1:0'], userAgent: 'switchhook' });
  const [udp, tcp] = await server.start();
  const client = new SipStack({ listen: ['udp:127.0.0.1:0', 'tcp:127.0.0.1:0'] });
  await client.start();
  t.teardown(async () => {
    await client.close();
    await server.close();
  });
  t.equal(server.localAddress('tcp')!.port, tcp!.port);
  const overUdp = await client.request({ method: 'OPTIONS', uri: `sip:ping@127.0.0.1:${udp!.port}` });
  t.equal(overUdp.response.status, 200);
  t.match(overUdp.response.header('allow'), /OPTIONS/);
  t.equal(overUdp.response.header('server'), 'switchhook');
  const overTcp = await client.request({ method: 'OPTIONS', uri: `sip:ping@127.0.0.1:${tcp!.port};transport=tcp` });
  t.equal(overTcp.response.status, 200);
  t.match(overTcp.request.headers('via')[0], /^SIP\/2\.0\/TCP /);
  server.use('MESSAGE', (req, res) => res.send(200, { body: req.body, contentType: 'text/plain' }));
  const echo = await client.request({ method: 'MESSAGE', uri: `sip:bob@127.0.0.1:${tcp!.port};transport=tcp`, body: 'hi', contentType: 'text/plain' });
  t.equal(echo.response.body.toString(), 'hi');
  t.equal(server.ua.transactions.serverCount, 1, 'TCP transactions ended at once (Timer J = 0); only the UDP one waits');
});

t.test('a malformed request over UDP is answered 400 naming the fault; garbage is dropped and counted', async (t) => {
  const { stack: server, udp, sock, port } = await udpStackAndPeer(t);
  const got = new Promise<string>((resolve) => sock.once('message', (m) => resolve(m.toString())));
  const bad = `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKbad1;rport\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: bad1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 99\r\n\r\n`;
  sock.send(bad, udp!.port, '127.0.0.1');
  const answer = await got;
  t.match(answer, /^SIP\/2\.0 400 Content-Length larger than the message\r\n/);
  sock.send('\x00\x01garbage\r\n\r\n', udp!.port, '127.0.0.1');
  const counter = server.ua.metrics.counter('switchhook_sip_bad_requests_total', '');
  for (let i = 0; i < 500 && counter.get({ action: 'dropped' }) < 1; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(counter.get({ action: 'answered' }), 1);
  t.equal(counter.get({ action: 'dropped' }), 1);
});

t.test('responses to a fan-out NOTIFY: validated against the request sent; a malformed 200 is dropped and counted, never taken', async (t) => {
  const { stack, udp, sock, port } = await udpStackAndPeer(t);
  const notify = (branch: string) =>
    Buffer.from(
      `NOTIFY sip:w@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${udp!.port};branch=${branch};rport\r\nMax-Forwards: 70\r\n` +
        `From: <sip:2001@pbx.example>;tag=n1\r\nTo: <sip:w@127.0.0.1>;tag=w1\r\nCall-ID: c-${branch}\r\nCSeq: 2 NOTIFY\r\nEvent: presence\r\n` +
        'Subscription-State: active;expires=60\r\nContent-Length: 0\r\n\r\n',
    );
  /** The 200 the subscriber sends: the request's lines copied (RFC 3261 8.2.6.2), To as given. */
  const answer = (req: string, to?: string) => {
    const lines = req.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/.test(l));
    return `SIP/2.0 200 OK\r\n${lines.map((l) => (to !== undefined && l.startsWith('To:') ? `To: ${to}` : l)).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`;
  };
  const outcomes: number[] = [];
  const got = (n: number) => new Promise<void>((resolve) => {
    const check = () => (outcomes.length >= n ? resolve() : setTimeout(check, 10));
    check();
  });
  const requests: string[] = [];
  sock.on('message', (m) => requests.push(m.toString('latin1')));
  const next = async () => {
    for (let i = 0; i < 500 && requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    return requests.shift()!;
  };
  const user = { onFinal: (status: number) => void outcomes.push(status) };
  const bad = stack.ua.metrics.counter('switchhook_sip_bad_responses_total', '');
  const badRequests = stack.ua.metrics.counter('switchhook_sip_bad_requests_total', '');

  stack.ua.transactions.requestFinal({ bytes: notify('z9hG4bKgood'), method: 'NOTIFY', branch: 'z9hG4bKgood' }, { protocol: 'udp', host: '127.0.0.1', port }, user);
  sock.send(answer(await next()), udp!.port, '127.0.0.1');
  await got(1);
  t.same(outcomes, [200], 'a 200 copying the request is taken');

  stack.ua.transactions.requestFinal({ bytes: notify('z9hG4bKbad'), method: 'NOTIFY', branch: 'z9hG4bKbad' }, { protocol: 'udp', host: '127.0.0.1', port }, user);
  const req = await next();
  sock.send(answer(req, '<sip:w x@127.0.0.1>;tag=w1'), udp!.port, '127.0.0.1');
  for (let i = 0; i < 500 && bad.get() < 1; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(bad.get(), 1, 'a 200 with a malformed To is dropped and counted as a bad response');
  t.equal(badRequests.get({ action: 'dropped' }), 0, 'not as a bad request');
  t.same(outcomes, [200], 'and not taken');
  sock.send(answer(req), udp!.port, '127.0.0.1');
  await got(2);
  t.same(outcomes, [200, 200], 'the well-formed one that follows is');
  t.equal(stack.ua.transactions.clientCount, 0);
});
