import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import t from 'tap';

import { packageRoot } from '../../src/util/package-root.js';

// The presence benchmark's receiver (benchmarks/presence/notify-receiver.ts) answers NOTIFYs for both sides
// of the benchmark: its 200s and its counts are checked here, in its own process as the benchmark runs it.
const child = spawn(process.execPath, [...process.execArgv, join(packageRoot(), 'benchmarks/presence/notify-receiver.ts')], {
  stdio: ['pipe', 'pipe', 'pipe'],
});
t.teardown(() => {
  if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
});
const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
const next = async (): Promise<Record<string, unknown>> => JSON.parse((await lines.next()).value as string) as Record<string, unknown>;
const ask = async (o: object): Promise<Record<string, unknown>> => {
  child.stdin!.write(JSON.stringify(o) + '\n');
  return next();
};

/** A NOTIFY as a notifier writes it; `callId` and `cseq` vary, `compact` uses the compact header names. */
function notify(callId: string, cseq: number, compact = false): string {
  const body = '<?xml version="1.0"?>\r\n<presence/>\r\n';
  return (
    'NOTIFY sip:w1@127.0.0.1:5070 SIP/2.0\r\n' +
    (compact ? 'v: ' : 'Via: ') + `SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK${cseq}x;rport\r\n` +
    'Max-Forwards: 70\r\n' +
    (compact ? 'f: ' : 'From: ') + '<sip:2000@bench.invalid>;tag=n1\r\n' +
    (compact ? 't: ' : 'To: ') + '<sip:w1@127.0.0.1>;tag=s1\r\n' +
    (compact ? 'i: ' : 'Call-ID: ') + callId + '\r\n' +
    `CSeq: ${cseq} NOTIFY\r\n` +
    'Contact: <sip:2000@127.0.0.1:5060>\r\nEvent: presence\r\nSubscription-State: active;expires=3600\r\n' +
    `Content-Type: application/pidf+xml\r\nContent-Length: ${body.length}\r\n\r\n` + body
  );
}

/** Sends `text` and resolves with the answer. */
async function exchange(s: Socket, port: number, text: string): Promise<string> {
  const answer = once(s, 'message') as Promise<[Buffer]>;
  s.send(Buffer.from(text), port, '127.0.0.1');
  return (await answer)[0].toString('latin1');
}

t.test('answers each NOTIFY with 200, its Via, From, To, Call-ID and CSeq copied, and counts it once per CSeq', async (t) => {
  const ready = await next();
  t.equal(ready['ready'], true);
  const port = ready['port'] as number;
  const s = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => s.close());

  const first = notify('abc@host', 1);
  const ok = await exchange(s, port, first);
  const copied = first.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/.test(l));
  t.equal(ok, ['SIP/2.0 200 OK', ...copied, 'Content-Length: 0', '', ''].join('\r\n'), 'RFC 3261 8.2.6.2, in order');
  t.equal(await exchange(s, port, first), ok, 'a retransmission is answered too');
  await exchange(s, port, notify('abc@host', 2, true));
  await exchange(s, port, notify('  abc@host  ', 2));
  await exchange(s, port, notify('other@host', 2));
  const compact = await exchange(s, port, notify('abc@host', 3, true));
  t.match(compact, /^SIP\/2\.0 200 OK\r\nv: .*\r\nf: .*\r\nt: .*\r\ni: abc@host\r\nCSeq: 3 NOTIFY\r\nContent-Length: 0\r\n\r\n$/);
  // More subscriptions than the receiver's table first holds (16,384), in chunks that wait for their answers
  // (no socket buffer overflows, whatever the machine).
  const many = 17_000;
  let answered = 0;
  s.on('message', () => answered++);
  for (let k = 0; k < many && answered === k; k += 100) {
    for (let j = k; j < k + 100 && j < many; j++) s.send(Buffer.from(notify(`many-${j}@host`, 1)), port, '127.0.0.1');
    const want = Math.min(many, k + 100);
    for (let tries = 0; answered < want && tries < 1000; tries++) await new Promise((r) => setTimeout(r, 2));
  }
  t.equal(answered, many);
  await exchange(s, port, notify('many-0@host', 1));
  t.match(await ask({ cmd: 'stats' }), { notifies: many + 4, repeats: 3 }, 'CSeqs 1, 2, 3 of one subscription, one of each other; three repeats');
  const counters = await ask({ cmd: 'counters' });
  t.ok((counters['sentDatagrams'] as number) >= 6, 'every NOTIFY answered from the socket');
  t.equal(counters['errOther'], 0);
  t.same(await ask({ cmd: 'reset' }), { reset: true });
  t.match(await ask({ cmd: 'stats' }), { notifies: 0, repeats: 0 });
  child.stdin!.write(JSON.stringify({ cmd: 'exit' }) + '\n');
  await once(child, 'exit');
});
