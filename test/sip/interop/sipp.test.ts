import t from 'tap';

import { DigestServer } from '../../../src/sip/auth/digest.js';
import { Registrar } from '../../../src/sip/registrar/registrar.js';
import { Notifier } from '../../../src/sip/subscription/notifier.js';
import { ReferHandler, type ReferRequest } from '../../../src/sip/subscription/refer.js';
import { SipStack } from '../../../src/sip/ua/stack.js';
import { fixtures, killPeers, runSipp } from './peers.js';
import { freeUdpPort } from '../../helpers/peers.js';

t.teardown(killPeers);

async function startStack() {
  const stack = new SipStack({ listen: ['udp:127.0.0.1:0'], userAgent: 'switchhook-test' });
  const [addr] = await stack.start();
  return { stack, target: `127.0.0.1:${addr!.port}` };
}

t.test('sipp -sn uac calls the stack: INVITE, 200, ACK, BYE', async (t) => {
  const { stack, target } = await startStack();
  t.teardown(() => stack.close());
  let acks = 0;
  stack.ua.on('ack', () => acks++);
  stack.use('INVITE', (req, res) => {
    res.send(180);
    res.send(200, { body: req.body, contentType: 'application/sdp' });
  });
  const { done } = runSipp(['-sn', 'uac', '-m', '3', '-r', '3', '-i', '127.0.0.1', target]);
  const run = await done;
  t.equal(run.code, 0, `sipp uac succeeded: ${run.stderr.slice(-400)}`);
  t.match(run.messages, /SIP\/2\.0 200 OK[\s\S]*Contact: <sip:switchhook@127\.0\.0\.1:\d+>/, 'sipp saw our 200 with Contact');
  t.match(run.messages, /Server: switchhook-test/);
  t.equal(acks, 3);
  t.equal(stack.ua.dialogs.size, 0, 'BYE ended every dialog');
});

t.test('the stack calls sipp -sn uas: INVITE, 200, ACK, BYE', async (t) => {
  const { stack } = await startStack();
  t.teardown(() => stack.close());
  const port = await freeUdpPort();
  const { done } = runSipp(['-sn', 'uas', '-m', '1', '-i', '127.0.0.1', '-p', String(port)]);
  const r = await stack.request({ method: 'INVITE', uri: `sip:service@127.0.0.1:${port}`, body: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n', contentType: 'application/sdp' });
  t.equal(r.response.status, 200);
  t.ok(r.dialog);
  const bye = await stack.bye(r.dialog!);
  t.equal(bye.status, 200);
  const run = await done;
  t.equal(run.code, 0, `sipp uas succeeded: ${run.stderr.slice(-400)}`);
  t.match(run.messages, /ACK sip:[^\r\n]*127\.0\.0\.1/, 'sipp received our ACK');
  t.match(run.messages, /BYE sip:/);
});

t.test('REGISTER with a digest challenge (scenario register-digest.xml)', async (t) => {
  const { stack, target } = await startStack();
  t.teardown(() => stack.close());
  const registrar = new Registrar({
    auth: new DigestServer({ realm: '127.0.0.1', algorithms: ['MD5'], lookup: (u) => (u === 'alice' ? { password: 's3cret' } : undefined) }),
  });
  t.teardown(() => registrar.close());
  const registered: string[] = [];
  registrar.on('registered', (b) => registered.push(b.aor));
  stack.use('REGISTER', registrar.middleware());
  const { done } = runSipp(['-sf', `${fixtures}register-digest.xml`, '-m', '1', '-i', '127.0.0.1', '-s', 'alice', '-au', 'alice', '-ap', 's3cret', target]);
  const run = await done;
  t.equal(run.code, 0, `sipp succeeded: ${run.stderr.slice(-600)}`);
  t.same(registered, ['sip:alice@127.0.0.1']);
  t.equal(registrar.store.size(), 0, 'the wildcard REGISTER removed the binding');
  t.match(run.messages, /SIP\/2\.0 401 Unauthorized[\s\S]*WWW-Authenticate: Digest realm="127\.0\.0\.1"/);
});

t.test('SUBSCRIBE / NOTIFY (scenario subscribe-notify.xml)', async (t) => {
  const { stack, target } = await startStack();
  t.teardown(() => stack.close());
  const notifier = new Notifier(stack.ua, {
    packages: [{ name: 'x-test', body: (s) => ({ contentType: 'text/plain', body: `state of ${s.resource}` }) }],
  });
  t.teardown(() => notifier.close());
  const { done } = runSipp(['-sf', `${fixtures}subscribe-notify.xml`, '-m', '1', '-i', '127.0.0.1', '-key', 'event', 'x-test', target]);
  const run = await done;
  t.equal(run.code, 0, `sipp succeeded: ${run.stderr.slice(-600)}`);
  t.match(run.messages, /NOTIFY sip:[\s\S]*Subscription-State: active;expires=300[\s\S]*state of service@127\.0\.0\.1/);
  t.match(run.messages, /Subscription-State: terminated;reason=timeout/);
  t.equal(notifier.size, 0);
  t.equal(stack.ua.dialogs.size, 0);
});

t.test('MESSAGE (scenario message.xml), 20 of them', async (t) => {
  const { stack, target } = await startStack();
  t.teardown(() => stack.close());
  const bodies: string[] = [];
  stack.use('MESSAGE', (req, res) => {
    bodies.push(req.body.toString());
    res.send(200);
  });
  const { done } = runSipp(['-sf', `${fixtures}message.xml`, '-m', '20', '-r', '20', '-i', '127.0.0.1', target]);
  const run = await done;
  t.equal(run.code, 0, `sipp succeeded: ${run.stderr.slice(-600)}`);
  t.equal(bodies.length, 20);
  t.match(bodies[0], /^Hello from sipp \d+/);
});

t.test('REFER with sipfrag NOTIFYs (scenario refer.xml)', async (t) => {
  const { stack, target } = await startStack();
  t.teardown(() => stack.close());
  const notifier = new Notifier(stack.ua);
  const refers = new ReferHandler(stack.ua, notifier);
  const targets: string[] = [];
  refers.on('refer', (r: ReferRequest) => {
    targets.push(r.referTo.uri.toString());
    setTimeout(() => r.progress(200), 50);
  });
  const { done } = runSipp(['-sf', `${fixtures}refer.xml`, '-m', '1', '-i', '127.0.0.1', target]);
  const run = await done;
  t.equal(run.code, 0, `sipp succeeded: ${run.stderr.slice(-600)}`);
  t.equal(targets.length, 1);
  t.match(run.messages, /SIP\/2\.0 202 Accepted/);
  t.equal(notifier.size, 0);
});

t.test('sipp -sn uac over TCP (-t t1): no retransmissions, responses on the same connection', async (t) => {
  const stack = new SipStack({ listen: ['tcp:127.0.0.1:0'] });
  const [addr] = await stack.start();
  t.teardown(() => stack.close());
  stack.use('INVITE', (_req, res) => res.send(200, { body: 'v=0\r\n', contentType: 'application/sdp' }));
  const { done } = runSipp(['-sn', 'uac', '-t', 't1', '-m', '3', '-r', '3', '-i', '127.0.0.1', `127.0.0.1:${addr!.port}`]);
  const run = await done;
  t.equal(run.code, 0, `sipp uac over TCP succeeded: ${run.stderr.slice(-400)}`);
  t.match(run.messages, /TCP message received/);
  t.notMatch(run.messages, /retransmission/i);
  t.equal(stack.ua.dialogs.size, 0);
  t.equal(stack.ua.transactions.serverCount, 3, 'BYE transactions ended at once (Timer J = 0 over TCP); the INVITEs wait out Timer L (RFC 6026)');
});
