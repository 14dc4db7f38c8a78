import t from 'tap';

import { SipStack, parseListenSpec } from '../../../src/sip/ua/stack.js';

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
