import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { networkInterfaces } from 'node:os';

import t from 'tap';
import { WebSocket } from 'ws';

import { MetricsRegistry } from '../../../src/util/metrics.js';
import {
  createRequest,
  createResponse,
  NameAddr,
  SipParseError,
  SipTransportError,
  TransportLayer,
  Via,
  responseTarget,
  type MessageSource,
  type SipMessage,
  type SipRequest,
} from '../../../src/sip/index.js';

function options(port: number, transport = 'UDP', extra: Partial<Parameters<typeof createRequest>[0]> = {}): SipRequest {
  return createRequest({
    method: 'OPTIONS',
    uri: `sip:bob@127.0.0.1:${port}`,
    from: 'Alice <sip:alice@example.com>',
    to: '<sip:bob@example.com>',
    via: new Via({ transport, host: '127.0.0.1', port: 5999, params: [['rport', null]] }),
    ...extra,
  });
}

function nextMessage(tl: TransportLayer): Promise<[SipMessage, MessageSource]> {
  return once(tl, 'message') as Promise<[SipMessage, MessageSource]>;
}

t.test('UDP request and response with rport and received stamped (RFC 3581)', async (t) => {
  const metrics = new MetricsRegistry();
  const server = new TransportLayer({ metrics });
  const client = new TransportLayer();
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const a = await server.listen({ protocol: 'udp', host: '127.0.0.1', port: 0 });
  const c = await client.listen({ protocol: 'udp', host: '127.0.0.1', port: 0 });
  const got = nextMessage(server);
  await client.send(options(a.port), { protocol: 'udp', host: '127.0.0.1', port: a.port });
  const [req, src] = await got;
  t.equal(src.protocol, 'udp');
  t.equal(src.remote.port, c.port);
  const via = req.topVia!;
  t.equal(via.rport, c.port);
  t.equal(via.received, '127.0.0.1');
  const res = createResponse(req, 200);
  const back = nextMessage(client);
  await server.send(res, responseTarget(req.topVia!, src));
  const [r] = await back;
  t.equal((r as { status?: number }).status, 200);
  t.equal(r.callId, req.callId);
  t.equal(metrics.counter('sip_transport_messages_received_total', '').get({ protocol: 'udp' }), 1);
});

t.test('large UDP request switches to TCP and the Via says TCP (RFC 3261 18.1.1)', async (t) => {
  const server = new TransportLayer();
  const client = new TransportLayer();
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const udp = await server.listen({ protocol: 'udp' });
  const tcp = await server.listen({ protocol: 'tcp', port: udp.port });
  t.equal(tcp.port, udp.port);
  const req = options(udp.port, 'UDP', { body: 'x'.repeat(1500), contentType: 'text/plain' });
  const got = nextMessage(server);
  const sent = await client.send(req, { protocol: 'udp', host: '127.0.0.1', port: udp.port });
  t.equal(sent.protocol, 'tcp');
  const [m, src] = await got;
  t.equal(src.protocol, 'tcp');
  t.equal(m.topVia!.transport, 'TCP');
  t.equal(m.body.length, 1500);

  // transport=udp in the target: stays on UDP even when large.
  const req2 = options(udp.port, 'UDP', { body: 'y'.repeat(1400), contentType: 'text/plain' });
  const got2 = nextMessage(server);
  const sent2 = await client.send(req2, { protocol: 'udp', host: '127.0.0.1', port: udp.port, allowTcp: false });
  t.equal(sent2.protocol, 'udp');
  t.equal((await got2)[0].topVia!.transport, 'UDP');
});

t.test('large request falls back to UDP when TCP is refused', async (t) => {
  const server = new TransportLayer();
  const client = new TransportLayer();
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const udp = await server.listen({ protocol: 'udp' });
  const req = options(udp.port, 'UDP', { body: 'z'.repeat(1500), contentType: 'text/plain' });
  const got = nextMessage(server);
  const sent = await client.send(req, { protocol: 'udp', host: '127.0.0.1', port: udp.port });
  t.equal(sent.protocol, 'udp');
  t.equal((await got)[0].topVia!.transport, 'UDP');
});

t.test('TCP connection reuse, response over the same connection, keepalive ping/pong (RFC 5626)', async (t) => {
  const server = new TransportLayer();
  const client = new TransportLayer();
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const a = await server.listen({ protocol: 'tcp' });
  server.on('message', (m, src) => {
    if (m.isRequest) void server.send(createResponse(m, 200), responseTarget(m.topVia!, src));
  });
  const target = { protocol: 'tcp' as const, host: '127.0.0.1', port: a.port };
  const r1 = nextMessage(client);
  const s1 = await client.send(options(a.port, 'TCP'), target);
  await r1;
  const r2 = nextMessage(client);
  const s2 = await client.send(options(a.port, 'TCP'), target);
  await r2;
  t.equal(s1.connectionId, s2.connectionId, 'the connection is reused');
  t.equal(client.connectionIds.length, 1);
  const pong = once(client, 'pong');
  client.ping(s1.connectionId!);
  const [src] = (await pong) as [MessageSource];
  t.equal(src.connectionId, s1.connectionId);
  t.throws(() => client.ping('nope'), SipTransportError);
});

t.test('stream framing errors: bad Content-Length closes the connection, oversize body is skipped', async (t) => {
  const metrics = new MetricsRegistry();
  const server = new TransportLayer({ metrics, limits: { maxBodyBytes: 100 } });
  t.teardown(() => server.close());
  const a = await server.listen({ protocol: 'tcp' });
  const errors: SipParseError[] = [];
  server.on('parseError', (e) => errors.push(e));
  const head = (cl: string) =>
    `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: ${cl}\r\n\r\n`;
  const sock = netConnect(a.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await once(sock, 'connect');
  const got = nextMessage(server);
  sock.write(head('200') + 'b'.repeat(200) + head('0'));
  const [m] = await got;
  t.equal(m.callId, 'c1');
  t.equal(errors.length, 1);
  t.equal(errors[0]!.status, 413);
  t.ok(errors[0]!.partial, 'the head is kept so a 413 can be sent');
  sock.write(head('bad'));
  await once(sock, 'close');
  t.equal(errors.length, 2);
  t.match(errors[1]!.reason, /Content-Length is not a number/);
  t.equal(metrics.counter('sip_messages_malformed_total', '').get({ protocol: 'tcp' }), 2);
});

t.test('malformed UDP datagrams are reported with partial info and never crash', async (t) => {
  const server = new TransportLayer();
  const client = new TransportLayer();
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const a = await server.listen({ protocol: 'udp' });
  const { createSocket } = await import('node:dgram');
  const raw = createSocket('udp4');
  t.teardown(() => raw.close());
  const err = once(server, 'parseError');
  raw.send(Buffer.from('INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\nCSeq: 1 INVITE\r\n\r\n'), a.port, '127.0.0.1');
  const [e] = (await err) as [SipParseError];
  t.match(e.reason, /missing From, To, Call-ID/);
  t.ok(e.partial);
  raw.send(Buffer.from('\r\n\r\n'), a.port, '127.0.0.1');
  const err2 = once(server, 'parseError');
  raw.send(Buffer.from('\0\0garbage'), a.port, '127.0.0.1');
  const [e2] = (await err2) as [SipParseError];
  t.equal(e2.partial, undefined);
});

t.test('WebSocket listener and client (RFC 7118)', async (t) => {
  const server = new TransportLayer();
  const client = new TransportLayer();
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const a = await server.listen({ protocol: 'ws', wsPath: '/sip' });
  server.on('message', (m, src) => {
    if (m.isRequest) void server.send(createResponse(m, 200), responseTarget(m.topVia!, src));
  });
  const back = nextMessage(client);
  const sent = await client.send(options(a.port, 'WS'), { protocol: 'ws', host: '127.0.0.1', port: a.port, wsPath: '/sip' });
  t.equal(sent.protocol, 'ws');
  const [r] = await back;
  t.equal((r as { status?: number }).status, 200);

  // A plain WebSocket client without the sip subprotocol is refused.
  const bare = new WebSocket(`ws://127.0.0.1:${a.port}/sip`);
  const [e] = (await once(bare, 'error')) as [Error];
  t.match(e.message, /Unexpected server response: 401|400/);
  // A raw client speaking sip.
  const ws = new WebSocket(`ws://127.0.0.1:${a.port}/sip`, 'sip');
  await once(ws, 'open');
  const msg = once(ws, 'message');
  ws.send(options(a.port, 'WS').toBuffer().toString());
  const [data] = (await msg) as [Buffer];
  t.match(data.toString(), /^SIP\/2\.0 200 OK/);
  // A WebSocket message over the size limits closes the connection (1009) without reaching the parser.
  const closed = once(ws, 'close');
  ws.send('x'.repeat(200 * 1024));
  const [code] = (await closed) as [number];
  t.equal(code, 1009);
});

t.test('alias on Via registers the connection for reuse (RFC 5923)', async (t) => {
  const server = new TransportLayer();
  const client = new TransportLayer();
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const a = await server.listen({ protocol: 'tcp' });
  const clientTcp = await client.listen({ protocol: 'tcp' });
  const req = options(a.port, 'TCP');
  req.replaceFirstValue('via', new Via({ transport: 'TCP', host: '127.0.0.1', port: clientTcp.port, params: [['branch', 'z9hG4bKa'], ['alias', null]] }).toString());
  const got = nextMessage(server);
  await client.send(req, { protocol: 'tcp', host: '127.0.0.1', port: a.port });
  const [, src] = await got;
  const back = nextMessage(client);
  const sent = await server.send(options(clientTcp.port, 'TCP'), { protocol: 'tcp', host: '127.0.0.1', port: clientTcp.port });
  t.equal(sent.connectionId, src.connectionId, 'the aliased connection is reused');
  await back;
  t.equal(client.connectionIds.length, 1);
});

t.test('errors: closed layer, unknown connection, refused connection', async (t) => {
  const tl = new TransportLayer({ connectTimeoutMs: 2000 });
  await t.rejects(tl.send(options(1), { connectionId: 'x' }), { code: 'SIP_ERR_TRANSPORT_NO_CONNECTION' });
  const probe = new TransportLayer();
  const p = await probe.listen({ protocol: 'tcp' });
  await probe.close();
  await t.rejects(tl.send(options(p.port, 'TCP'), { protocol: 'tcp', host: '127.0.0.1', port: p.port }), { code: 'SIP_ERR_TRANSPORT_CONNECT' });
  await t.rejects(tl.listen({ protocol: 'tls' }), { code: 'SIP_ERR_TRANSPORT_LISTEN' });
  await tl.close();
  await t.rejects(tl.send(options(1), { protocol: 'udp', host: '127.0.0.1', port: 9 }), { code: 'SIP_ERR_TRANSPORT_CLOSED' });
  await t.rejects(tl.listen({ protocol: 'udp' }), { code: 'SIP_ERR_TRANSPORT_CLOSED' });
  t.ok(NameAddr);
});

t.test('sendNow: UDP without a promise, batched per loop turn; false where send() is needed', async (t) => {
  const metrics = new MetricsRegistry();
  // The whole burst leaves in one turn, before the receiver (same thread) reads: room for it.
  const server = new TransportLayer({ udpBufferBytes: 4 * 1024 * 1024 });
  const client = new TransportLayer({ metrics });
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const a = await server.listen({ protocol: 'udp' });
  const n = 200;
  const got: SipMessage[] = [];
  const all = new Promise<void>((resolve) =>
    server.on('message', (m) => {
      got.push(m);
      if (got.length === n) resolve();
    }),
  );
  const target = { protocol: 'udp' as const, host: '127.0.0.1', port: a.port };
  for (let i = 0; i < n; i++) t.equal(client.sendNow(options(a.port, 'UDP', { callId: `now-${i}` }), target), true);
  await all;
  t.same(
    got.map((m) => m.callId),
    Array.from({ length: n }, (_, i) => `now-${i}`),
  );
  t.equal(metrics.counter('sip_transport_messages_sent_total', '').get({ protocol: 'udp' }), n);
  const c = client.udpCounters();
  t.equal(c.sentDatagrams, n);
  t.ok(c.sendCalls < n, `${c.sendCalls} sendmmsg calls for ${n} datagrams`);
  t.equal(server.udpCounters().recvDatagrams, n);

  t.equal(client.sendNow(options(a.port), { protocol: 'tcp', host: '127.0.0.1', port: a.port }), false, 'not UDP');
  t.equal(client.sendNow(options(a.port), { connectionId: 'tcp-1' }), false, 'a connection');
  t.equal(client.sendNow(options(a.port), { ...target, host: 'localhost' }), false, 'a host name');
  const big = options(a.port, 'UDP', { body: 'x'.repeat(1500), contentType: 'text/plain' });
  t.equal(client.sendNow(big, target), false, 'a large request may go over TCP');
  t.equal(client.sendNow(big, { ...target, allowTcp: false }), true, 'unless the target says UDP');
  t.throws(() => client.sendNow(options(a.port), { ...target, port: 70000 }), { code: 'SIP_ERR_TRANSPORT_SEND', message: /bad UDP port/ });
  await t.rejects(client.send(options(a.port), { ...target, port: 0 }), { code: 'SIP_ERR_TRANSPORT_SEND' });
  t.equal(metrics.counter('sip_transport_errors_total', '').get({ kind: 'send' }), 2);
  // Bytes already written go out as they are, with the same checks.
  const raw = new Promise<SipMessage>((resolve) => server.on('message', (m) => m.callId === 'raw-1' && resolve(m)));
  t.equal(client.sendBytesNow(options(a.port, 'UDP', { callId: 'raw-1' }).toBuffer(), target, true), true);
  t.equal((await raw).callId, 'raw-1');
  t.equal(client.sendBytesNow(big.toBuffer(), target, true), false, 'a large request may go over TCP');
  t.equal(client.sendBytesNow(big.toBuffer(), target, false), true, 'a response stays on UDP');
  t.equal(client.sendBytesNow(big.toBuffer(), { connectionId: 'tcp-1' }, true), false, 'a connection');
  // flushUdp sends what is staged at once, not at the end of the turn.
  client.flushUdp();
  const before = client.udpCounters().sentDatagrams;
  t.equal(client.sendBytesNow(options(a.port, 'UDP', { callId: 'flushed' }).toBuffer(), target, true), true);
  t.equal(client.udpCounters().sentDatagrams, before, 'staged');
  client.flushUdp();
  t.equal(client.udpCounters().sentDatagrams, before + 1, 'sent by flushUdp');
  await client.close();
  t.throws(() => client.sendNow(options(a.port), target), { code: 'SIP_ERR_TRANSPORT_CLOSED' });
  t.throws(() => client.sendBytesNow(Buffer.from('x'), target, true), { code: 'SIP_ERR_TRANSPORT_CLOSED' });
});

t.test('UDP to a host name is resolved first; the ephemeral sender answers too', async (t) => {
  const server = new TransportLayer();
  const client = new TransportLayer();
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const a = await server.listen({ protocol: 'udp' });
  const got = nextMessage(server);
  const sent = await client.send(options(a.port), { protocol: 'udp', host: 'localhost', port: a.port });
  t.match(sent, { protocol: 'udp', remote: { host: 'localhost', port: a.port } });
  t.equal(sent.local.host, '0.0.0.0', 'no listener: an ephemeral socket');
  const [req, src] = await got;
  const back = nextMessage(client);
  await server.send(createResponse(req as SipRequest, 200), responseTarget(req.topVia!, src));
  const [res] = await back;
  t.equal((res as { status?: number }).status, 200);
  await t.rejects(client.send(options(a.port), { protocol: 'udp', host: 'no-such-host.invalid', port: a.port }), {
    code: 'SIP_ERR_TRANSPORT_SEND',
  });
});

t.test('UDP send failures are counted and reported as transportError', async (t) => {
  const metrics = new MetricsRegistry();
  const tl = new TransportLayer({ metrics });
  t.teardown(() => tl.close());
  await tl.listen({ protocol: 'udp' });
  const failed = once(tl, 'transportError') as Promise<[SipTransportError]>;
  // No SO_BROADCAST on the socket: the kernel refuses (EACCES) when the datagram leaves.
  t.equal(tl.sendNow(options(5060), { protocol: 'udp', host: '255.255.255.255', port: 5060 }), true);
  const [err] = await failed;
  t.equal(err.code, 'SIP_ERR_TRANSPORT_SEND');
  t.match(err.message, /1 datagram\(s\) failed, last EACCES/);
  t.equal(metrics.counter('sip_transport_errors_total', '').get({ kind: 'send' }), 1);
  t.equal(tl.udpCounters().errAccess, 1);
});

t.test('a UDP listen on a taken port fails as SIP_ERR_TRANSPORT_LISTEN', async (t) => {
  const tl = new TransportLayer();
  t.teardown(() => tl.close());
  const a = await tl.listen({ protocol: 'udp' });
  await t.rejects(tl.listen({ protocol: 'udp', port: a.port }), { code: 'SIP_ERR_TRANSPORT_LISTEN', message: /EADDRINUSE|in use/ });
  const named = await tl.listen({ protocol: 'udp', host: 'localhost' });
  t.equal(named.host, '127.0.0.1', 'a host name binds its IPv4 address');
  await t.rejects(tl.listen({ protocol: 'udp', host: 'no-such-host.invalid' }), { code: 'SIP_ERR_TRANSPORT_LISTEN' });
});

const ipv6Loopback = Object.values(networkInterfaces()).some((l) => l?.some((a) => a.family === 'IPv6' && a.address === '::1'));

t.test('UDP over IPv6: a listener on ::1 and an ephemeral IPv6 sender', { skip: !ipv6Loopback && 'no ::1' }, async (t) => {
  const server = new TransportLayer();
  const client = new TransportLayer();
  t.teardown(() => Promise.all([server.close(), client.close()]));
  const a = await server.listen({ protocol: 'udp', host: '::1' });
  t.equal(a.host, '::1');
  const got = nextMessage(server);
  t.equal(client.sendNow(options(a.port), { protocol: 'udp', host: '[::1]', port: a.port }), true);
  const [req, src] = await got;
  t.equal(src.remote.host, '::1');
  t.equal(src.local.host, '::1');
  const back = nextMessage(client);
  await server.send(createResponse(req as SipRequest, 200), responseTarget(req.topVia!, src));
  const [res, resSrc] = await back;
  t.equal((res as { status?: number }).status, 200);
  t.equal(resSrc.local.host, '::');
});
