/**
 * Records captures/sessions/session.pcapng: the PBX simulator (CSTA over TCP), the daemon's SIP stack,
 * registrar, MSRP relay and ConcurrentSessions, and two desktop test clients, on loopback with tshark:
 * REGISTER x2; phone 2001 calls 2000 and 2000 answers (CSTA events); INVITE/200/ACK to 2001's client, then
 * to 2000's; MSRP chat both ways (one message in 3 chunks); a re-INVITE from 2001 adding audio, relayed to
 * 2000; the call ends; BYE to both clients. Then a call whose chat 2001's client rejects (486) and the
 * message/sipfrag report to 2000's client.
 * Run from the repository root: node --import @tapjs/typescript/import captures/sessions/record.ts
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ComputerInterfaces, ConcurrentSessions, SessionState } from '../../src/calls/sessions/index.js';
import { MsrpRelay } from '../../src/media/msrp/index.js';
import { Registrar, SipStack } from '../../src/sip/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { ChatClient } from '../../test/calls/helpers/chat-client.js';
import { startRig } from '../../test/helpers/cti.js';

const file = 'captures/sessions/session.pcapng';
const dir = mkdtempSync(join(tmpdir(), 'sessions-capture-'));
const store = new SqliteStore(dir);
const rig = await startRig({ extensions: ['2000', '2001'] });
const sip = new SipStack({ listen: ['udp:127.0.0.1:0'], userAgent: 'switchhook' });
const registrar = new Registrar({ domains: ['pbx.example'] });
sip.use('REGISTER', registrar.middleware());
const relay = new MsrpRelay();
const sessions = new ConcurrentSessions({ model: rig.model, sip, clients: new ComputerInterfaces({ domain: 'pbx.example', registrar }), store, relay });
const [sipAddr] = await sip.start();
const relayAddr = await relay.start();
await sessions.start();
const a = new ChatClient('2000');
const b = new ChatClient('2001');
await a.start();
await b.start();

const ports = [sipAddr!.port, relayAddr.port, rig.sim.address.csta.port, a.port, b.port];
const tshark = spawn('tshark', ['-i', 'lo', '-f', ports.map((p) => `port ${p}`).join(' or '), '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise<void>((resolve) => tshark.stderr.on('data', (d: Buffer) => d.toString().includes('Capturing on') && resolve()));
// tshark reports "Capturing on" slightly before the capture filter is live: give it a moment (recording script only).
await new Promise((r) => setTimeout(r, 1500));

const state = (pred: (s: SessionState) => boolean): Promise<void> =>
  new Promise((resolve) => {
    const on = (s: { state: SessionState }): void => {
      if (pred(s.state)) {
        sessions.off('state', on);
        resolve();
      }
    };
    sessions.on('state', on);
  });

try {
  await a.register(sipAddr!.port);
  await b.register(sipAddr!.port);
  const sw = rig.sim.core;
  const established = state((s) => s === SessionState.Established);
  sw.dial('2001', '2000');
  sw.answer('2000');
  await established;
  await a.until(() => a.msrp !== undefined && b.msrp !== undefined, 'MSRP');
  await a.say('Hello, I have the figures you asked about.');
  await b.say('Great - ' + 'the quarterly numbers follow. '.repeat(80), 1024);
  await a.until(() => a.received.length === 1, 'chat at A');
  const dialog = [...b.stack.ua.dialogs.values()][0]!;
  await b.stack.request({
    method: 'INVITE', dialog, contentType: 'application/sdp',
    body: `v=0\r\no=2001 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:${b.myPath}\r\na=setup:active\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`,
  });
  const ended = state((s) => s === SessionState.Ended);
  sw.onHook('2001');
  await ended;
  await a.until(() => a.byes.length > 0 && b.byes.length > 0, 'BYEs');

  b.answer = 'reject';
  const failed = state((s) => s === SessionState.Failed);
  sw.dial('2001', '2000');
  sw.answer('2000');
  await failed;
  await a.until(() => a.messages.length === 1, 'report');
  sw.onHook('2001');
  await new Promise((r) => setTimeout(r, 500));
} finally {
  tshark.kill('SIGINT');
  await new Promise((r) => tshark.on('exit', r));
  await sessions.close();
  await a.close();
  await b.close();
  await relay.close();
  await sip.close();
  registrar.close();
  await rig.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`wrote ${file}`);
