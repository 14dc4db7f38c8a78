/**
 * Interop with SIPp (Debian sip-tester) on loopback over UDP and TCP: `sipp -sn uac` calls a responder
 * built on the transport layer and parser; `sipp -sn uas` answers a call this side places.
 */
import t from 'tap';

import {
  NameAddr,
  TransportLayer,
  Via,
  createRequest,
  generateCallId,
  type AddressTarget,
  type BoundAddress,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../../src/sip/index.js';
import { Responder } from '../helpers/responder.js';
import { freePort, runSipp } from '../helpers/sipp.js';

for (const protocol of ['udp', 'tcp'] as const) {
  t.test(`sipp -sn uac calls the responder over ${protocol}`, async (t) => {
    const tl = new TransportLayer();
    t.teardown(() => tl.close());
    const a = await tl.listen({ protocol, host: '127.0.0.1', port: 0 });
    const responder = new Responder(tl);
    const sipp = runSipp(['-sn', 'uac', `127.0.0.1:${a.port}`, '-i', '127.0.0.1', '-p', String(await freePort()),
      '-t', protocol === 'udp' ? 'u1' : 't1', '-m', '3', '-l', '3', '-r', '10', '-d', '100']);
    t.teardown(() => sipp.stop());
    const { code, errors } = await sipp.done;
    t.equal(code, 0, `sipp succeeded${errors ? ': ' + errors.slice(0, 2000) : ''}`);
    t.equal(responder.counts.get('INVITE'), 3);
    t.equal(responder.counts.get('ACK'), 3);
    t.equal(responder.counts.get('BYE'), 3);
    t.same(responder.badRequests, []);
  });
}

/** Sends a request, resending every 500 ms (RFC 3261 17.1.1.2 Timer A style) until a matching response. */
async function exchange(tl: TransportLayer, req: SipRequest, target: AddressTarget, match: (m: SipResponse) => boolean, deadlineMs = 30_000): Promise<SipResponse> {
  const branch = req.topVia!.branch;
  return new Promise<SipResponse>((resolve, reject) => {
    const onMessage = (m: SipMessage) => {
      if (m.isRequest || m.topVia?.branch !== branch) return;
      if (match(m as SipResponse)) finish(null, m as SipResponse);
    };
    const resend = () => void tl.send(req, target).catch(() => undefined);
    const timer = setInterval(resend, 500);
    const deadline = setTimeout(() => finish(new Error(`no response to ${req.method} within ${deadlineMs} ms`)), deadlineMs);
    const finish = (err: Error | null, m?: SipResponse) => {
      clearInterval(timer);
      clearTimeout(deadline);
      tl.off('message', onMessage);
      if (err) reject(err);
      else resolve(m!);
    };
    tl.on('message', onMessage);
    resend();
  });
}

async function placeCall(tl: TransportLayer, local: BoundAddress, protocol: 'udp' | 'tcp', port: number): Promise<SipResponse[]> {
  const target: AddressTarget = { protocol, host: '127.0.0.1', port };
  const callId = generateCallId('127.0.0.1');
  const via = () => new Via({ transport: protocol, host: '127.0.0.1', port: local.port, params: [['rport', null]] });
  const invite = createRequest({
    method: 'INVITE',
    uri: `sip:service@127.0.0.1:${port}`,
    from: `<sip:caller@127.0.0.1:${local.port}>`,
    to: `<sip:service@127.0.0.1:${port}>`,
    callId,
    via: via(),
    contact: `<sip:caller@127.0.0.1:${local.port};transport=${protocol}>`,
    contentType: 'application/sdp',
    body: 'v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6002 RTP/AVP 0\r\n',
  });
  const ok = await exchange(tl, invite, target, (m) => m.status >= 200 && m.cseq.method === 'INVITE');
  const remote = ok.contact[0] as NameAddr | undefined;
  const ack = createRequest({ method: 'ACK', uri: remote?.uri ?? invite.uri, from: invite.from, to: ok.to, callId, cseq: 1, via: via() });
  await tl.send(ack, target);
  const bye = createRequest({ method: 'BYE', uri: remote?.uri ?? invite.uri, from: invite.from, to: ok.to, callId, cseq: 2, via: via() });
  const byeOk = await exchange(tl, bye, target, (m) => m.status >= 200);
  return [ok, byeOk];
}

for (const protocol of ['udp', 'tcp'] as const) {
  t.test(`sipp -sn uas answers a call placed over ${protocol}`, async (t) => {
    const port = await freePort();
    const sipp = runSipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(port), '-t', protocol === 'udp' ? 'u1' : 't1', '-m', '1']);
    t.teardown(() => sipp.stop());
    const tl = new TransportLayer({ connectTimeoutMs: 2000 });
    t.teardown(() => tl.close());
    const local = await tl.listen({ protocol, host: '127.0.0.1', port: 0 });
    const [ok, byeOk] = await placeCall(tl, local, protocol, port);
    t.equal(ok.status, 200);
    t.ok(ok.to.tag, 'the 200 carries a To tag');
    t.equal(byeOk.status, 200);
    const { code, errors } = await sipp.done;
    t.equal(code, 0, `sipp succeeded${errors ? ': ' + errors.slice(0, 2000) : ''}`);
  });
}
