import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t, { type Test } from 'tap';

import { ComputerInterfaces, ConcurrentSessions, OpenOn, SessionState, type ConcurrentSession } from '../../../src/calls/sessions/index.js';
import { MsrpRelay } from '../../../src/media/msrp/index.js';
import { Registrar, SipStack } from '../../../src/sip/index.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { JsonHttpServer } from '../../../src/util/http.js';
import { MetricsRegistry } from '../../../src/util/metrics.js';
import { startRig, type Rig } from '../../helpers/cti.js';
import { udpBound } from '../../helpers/peers.js';
import { freePort, runSipp } from '../../sip/helpers/sipp.js';
import { ChatClient } from '../helpers/chat-client.js';

interface Daemon {
  rig: Rig;
  sip: SipStack;
  relay: MsrpRelay;
  sessions: ConcurrentSessions;
  http: JsonHttpServer;
  httpPort: number;
  metrics: MetricsRegistry;
  clients: Record<string, ChatClient>;
  states: ConcurrentSession[];
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
}

async function daemon(t: Test, o: { openOn?: OpenOn; inviteTimeoutMs?: number; configured?: Record<string, string>; register?: string[] } = {}): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'sessions-'));
  const store = new SqliteStore(dir);
  const rig = await startRig({ extensions: ['2000', '2001', '2002'] });
  const metrics = new MetricsRegistry();
  const sip = new SipStack({ listen: ['udp:127.0.0.1:0'], metrics });
  const registrar = new Registrar({ domains: ['pbx.example'] });
  sip.use('REGISTER', registrar.middleware());
  const relay = new MsrpRelay({ metrics });
  const sessions = new ConcurrentSessions({
    model: rig.model, sip, clients: new ComputerInterfaces({ domain: 'pbx.example', registrar, ...(o.configured ? { configured: o.configured } : {}) }), store, relay, metrics, openOn: o.openOn ?? OpenOn.Connected,
    inviteTimeoutMs: o.inviteTimeoutMs ?? 20_000,
  });
  await sip.start();
  await relay.start();
  await sessions.start();
  const http = new JsonHttpServer('admin', metrics);
  sessions.registerRoutes(http);
  const { port: httpPort } = await http.listen('127.0.0.1', 0);
  const clients: Record<string, ChatClient> = {};
  for (const ext of o.register ?? ['2000', '2001', '2002']) {
    const c = new ChatClient(ext);
    await c.start();
    t.equal(await c.register(sip.addresses[0]!.port), 200, `${ext} registered`);
    clients[ext] = c;
  }
  const states: ConcurrentSession[] = [];
  sessions.on('state', (s) => states.push({ ...s }));
  t.teardown(async () => {
    await sessions.close();
    for (const c of Object.values(clients)) await c.close();
    await http.close();
    await relay.close();
    await sip.close();
    registrar.close();
    await rig.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    rig, sip, relay, sessions, http, httpPort, metrics, clients, states,
    async api(method, path, body) {
      const r = await fetch(`http://127.0.0.1:${httpPort}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
      const text = await r.text();
      return { status: r.status, json: text ? JSON.parse(text) : undefined };
    },
  };
}

async function untilState(d: Daemon, pred: (s: ConcurrentSession) => boolean, what: string): Promise<ConcurrentSession> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = d.states.find(pred);
    if (s) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; states: ${d.states.map((x) => x.state).join(',')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('a call between two extensions opens a chat session between their clients; messages both ways; escalation; BYE with the call', async (t) => {
  const d = await daemon(t);
  const a = d.clients['2000']!;
  const b = d.clients['2001']!;
  const sw = d.rig.sim.core;
  sw.dial('2001', '2000');
  sw.answer('2000');
  await b.until(() => b.invites.length === 1, 'INVITE at B');
  const inv = b.invites[0]!;
  t.equal(inv.message.to.uri.toString(), 'sip:2001@pbx.example', 'To: a URI built from the caller\'s extension (claim 13)');
  t.equal(inv.message.from.uri.toString(), 'sip:2000@pbx.example');
  t.equal(inv.get('answer-mode'), 'Auto');
  t.ok(inv.get('x-pbx-call-id'), 'the PBX call is named');
  t.match(inv.body.toString(), /m=message \d+ TCP\/MSRP \*/);
  t.match(inv.body.toString(), /a=path:msrp:\/\/127\.0\.0\.1:\d+\/[^;]+;tcp/);
  t.match(inv.body.toString(), /a=accept-types:text\/plain/);
  const s = await untilState(d, (x) => x.state === SessionState.Established, 'established');
  t.equal(s.pbxCallId, sw.phone('2000').calls[0]!.callId);
  t.equal(a.invites.length, 1, 'A\'s own client was connected');
  t.equal(a.invites[0]!.message.from.uri.toString(), 'sip:2001@pbx.example');
  await a.until(() => a.msrp !== undefined && b.msrp !== undefined, 'MSRP connections');

  await a.say('hello from 2000');
  await b.until(() => b.received.length === 1, 'chat at B');
  t.equal(b.received[0]!.body, 'hello from 2000');
  const long = 'x'.repeat(2500) + 'END';
  await b.say(long, 1000);
  await a.until(() => a.received.length === 1, 'chat at A');
  t.equal(a.received[0]!.body, long, 'chunked message reassembled');
  t.same(a.chunks.filter((c) => c.body).map((c) => c.headers.find(([k]) => k === 'byte-range')![1]), ['1-1000/2503', '1001-2000/2503', '2001-2503/2503']);
  t.same(a.chunks.filter((c) => c.body).map((c) => c.continuation), ['+', '+', '$']);

  // Escalation: B adds audio with a re-INVITE in its dialog; the daemon relays it to A.
  const bDialog = [...b.stack.ua.dialogs.values()][0]!;
  const offer = `v=0\r\no=2001 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:${b.myPath}\r\na=setup:active\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 40002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=content:slides\r\n`;
  const r = await b.stack.request({ method: 'INVITE', dialog: bDialog, body: offer, contentType: 'application/sdp' });
  t.equal(r.response.status, 200, 're-INVITE answered through the daemon');
  t.equal(a.reinvites.length, 1);
  t.match(a.reinvites[0]!.body.toString(), /m=audio 40000 RTP\/AVP 0/);
  t.match(a.reinvites[0]!.body.toString(), /a=content:slides/, 'screen sharing (RFC 4796)');
  t.notMatch(a.reinvites[0]!.body.toString(), new RegExp(b.myPath.replace(/[.]/g, '\\.')), 'B\'s MSRP path is not shown to A');
  t.match(r.response.body.toString(), /m=audio 40000 RTP\/AVP 0/);
  t.same(d.sessions.sessions()[0]!.legs[1].media, ['message/TCP/MSRP', 'audio/RTP/AVP', 'video/RTP/AVP;content=slides']);

  // A declines the next offer (video): the 488 goes back to B; an unparsable offer is refused by the daemon.
  a.reinviteStatus = 488;
  const declined = await b.stack.request({ method: 'INVITE', dialog: bDialog, body: offer.replace('o=2001 1 2', 'o=2001 1 3'), contentType: 'application/sdp' });
  t.equal(declined.response.status, 488, 'the other client\'s refusal is relayed');
  const bad = await b.stack.request({ method: 'INVITE', dialog: bDialog, body: 'not sdp', contentType: 'application/sdp' });
  t.equal(bad.response.status, 488);
  t.equal(a.reinvites.length, 2, 'the bad offer never reached A');
  t.match(d.metrics.render(), /switchhook_sessions_escalations_total\{result="rejected"\} 1/);
  t.match(d.metrics.render(), /switchhook_sessions_escalations_total\{result="badSdp"\} 1/);

  const list = await d.api('GET', '/api/sessions');
  t.match(list.json, [{ state: 'established', users: ['2000', '2001'] }]);

  sw.onHook('2001');
  await a.until(() => a.byes.includes('bye'), 'BYE at A');
  await b.until(() => b.byes.includes('bye'), 'BYE at B');
  await untilState(d, (x) => x.state === SessionState.Ended, 'ended');
  t.equal(d.relay.size, 0);
  t.match(d.metrics.render(), /switchhook_sessions_total\{outcome="established"\} 1/);
  t.match(d.metrics.render(), /switchhook_sessions_escalations_total\{result="accepted"\} 1/);
  t.match(d.metrics.render(), /switchhook_msrp_relayed_total\{method="SEND"\} 4/);
});

t.test('settings: prompt signals Answer-Mode: Manual, never opens nothing; edited through the admin API', async (t) => {
  const d = await daemon(t, { openOn: OpenOn.Alerting });
  const b = d.clients['2001']!;
  const c = d.clients['2002']!;
  t.match(await d.api('PUT', '/api/sessions/settings/2001', { contacts: { '2000': 'prompt' } }), { status: 200 });
  t.match(await d.api('PUT', '/api/sessions/settings/2000', { contacts: { '2002': 'never' }, endWithCall: false }), { status: 200 });
  t.match(await d.api('PUT', '/api/sessions/settings/2000', { open: 'sometimes' }), { status: 400, json: { code: 'SESSION_ERR_SETTINGS' } });
  t.match(await d.api('GET', '/api/sessions/settings/2001'), { json: { saved: true, settings: { open: 'auto', contacts: { '2000': 'prompt' }, endWithCall: true } } });
  const sw = d.rig.sim.core;
  sw.dial('2001', '2000');
  await b.until(() => b.invites.length === 1, 'INVITE at B (while 2000 rings)');
  t.equal(b.invites[0]!.get('answer-mode'), 'Manual', 'the client is asked to prompt (RFC 5373)');
  const est = await untilState(d, (x) => x.state === SessionState.Established, 'established');
  t.equal((await d.api('DELETE', `/api/sessions/${est.id}`)).status, 204, 'ended through the admin API');
  await b.until(() => b.byes.length > 0, 'BYE at B');
  t.equal((await d.api('DELETE', `/api/sessions/${est.id}`)).status, 404);
  t.match(d.metrics.render(), /switchhook_sessions_ended_total\{reason="admin"\} 1/);
  sw.onHook('2001');

  sw.dial('2002', '2000');
  // The decision is taken on the CTI event (while 2000 rings): wait for it, then check nothing went out.
  await c.until(() => /switchhook_sessions_skipped_total\{reason="never"\} 1/.test(d.metrics.render()), 'the never decision');
  t.equal(c.invites.length, 0, 'never: no INVITE');
  sw.onHook('2002');
  t.equal((await d.api('DELETE', '/api/sessions/settings/2000')).status, 204);
  t.equal((await d.api('DELETE', '/api/sessions/settings/2000')).status, 404);
});

t.test('a rejection and a timeout are reported to the inviting client', async (t) => {
  const d = await daemon(t, { inviteTimeoutMs: 1500 });
  const a = d.clients['2000']!;
  const b = d.clients['2001']!;
  const sw = d.rig.sim.core;
  b.answer = 'reject';
  sw.dial('2001', '2000');
  sw.answer('2000');
  await a.until(() => a.messages.length === 1, 'report at A');
  const m = a.messages[0]!;
  t.equal(m.get('content-type'), 'message/sipfrag');
  t.equal(m.body.toString(), 'SIP/2.0 486 Busy Here\r\n');
  t.equal(m.get('in-reply-to'), b.invites[0]!.message.callId, 'tied to the failed INVITE');
  t.equal(a.invites.length, 0, 'A\'s client is not connected');
  sw.onHook('2001');

  b.answer = 'ignore';
  sw.dial('2001', '2000');
  sw.answer('2000');
  await a.until(() => a.messages.length === 2, 'timeout report at A');
  t.equal(a.messages[1]!.body.toString(), 'SIP/2.0 408 Request Timeout\r\n');
  t.equal(b.invites.length, 2, 'regression: a failed session is not reopened by later changes of the same call');
  sw.onHook('2001');

  b.answer = 'noMsrp';
  sw.dial('2001', '2000');
  sw.answer('2000');
  await a.until(() => a.messages.length === 3, 'no-MSRP report at A');
  t.equal(a.messages[2]!.body.toString(), 'SIP/2.0 488 Not Acceptable Here\r\n');
  await b.until(() => b.byes.includes('bye'), 'the accepted-without-chat dialog is ended');
  sw.onHook('2001');
  t.match(d.metrics.render(), /switchhook_sessions_total\{outcome="rejected"\} 1/);
  t.match(d.metrics.render(), /switchhook_sessions_total\{outcome="timeout"\} 1/);
  t.match(d.metrics.render(), /switchhook_sessions_total\{outcome="noMsrp"\} 1/);
});

t.test('sipp as the caller\'s configured computer interface: INVITE with the MSRP offer, 180, 200, ACK, BYE with the call', async (t) => {
  const sippPort = await freePort();
  const d = await daemon(t, { configured: { '2001': `sip:2001@127.0.0.1:${sippPort}` }, register: ['2000'] });
  const sipp = runSipp(['-sf', new URL('../../fixtures/sipp/session-uas.xml', import.meta.url).pathname, '-i', '127.0.0.1', '-p', String(sippPort), '-m', '1'], 30);
  t.teardown(() => sipp.stop());
  await udpBound(sippPort);
  const sw = d.rig.sim.core;
  sw.dial('2001', '2000');
  sw.answer('2000');
  const s = await untilState(d, (x) => x.state === SessionState.Established, 'established');
  t.same(s.legs[1].media, ['message/TCP/MSRP']);
  t.match(s.legs[1].relay.remotePath, /^msrp:\/\/127\.0\.0\.1:9\/sipp\d+;tcp$/, 'sipp\'s a=path is the leg\'s remote path');
  sw.onHook('2000');
  const r = await sipp.done;
  t.equal(r.code, 0, `sipp saw the whole session: ${r.errors}`);
  await untilState(d, (x) => x.state === SessionState.Ended, 'ended');
});

t.test('a configured computer interface with a bad URI: the INVITE is not sent and A\'s client hears of it', async (t) => {
  const d = await daemon(t, { configured: { '2002': 'not a sip uri' }, register: ['2000'] });
  const a = d.clients['2000']!;
  d.rig.sim.core.dial('2002', '2000');
  d.rig.sim.core.answer('2000');
  await a.until(() => a.messages.length === 1, 'report at A');
  t.equal(a.messages[0]!.body.toString(), 'SIP/2.0 500 Not Sent\r\n');
  d.rig.sim.core.onHook('2002');
});
