/**
 * The subscribers of benchmarks/presence/presence-fanout.bench.ts, in their own process: one UDP socket on
 * loopback holds many subscriptions (one dialog each, told apart by Call-ID), sends their SUBSCRIBEs and
 * answers every NOTIFY with 200 at once, recording arrival times. Commands arrive as JSON lines on stdin,
 * answers leave as JSON lines on stdout:
 *   {"cmd":"subscribe","target":"127.0.0.1:5060","event":"dialog","devices":["2000"],"per":10}
 *   {"cmd":"record","on":true}   keep [device, hook-event index, arrival epoch ms] of every NOTIFY
 *   {"cmd":"stats"}              distinct NOTIFYs received (retransmissions not counted), first and last arrival
 *   {"cmd":"counters"}           the socket's counters (src/native/udp.ts UDP_COUNTERS)
 *   {"cmd":"dump","file":"x"}    write the records (Float64 triplets) and clear them
 *   {"cmd":"reset"}              zero the counters
 *
 * It stands in for subscribers on other hosts, so it runs as SCHED_BATCH (sched(7)): woken by a datagram
 * it does not preempt the notifier under test on that notifier's core (it still gets its fair share of
 * the CPU); the same for both sides of the benchmark. Where that cannot be set it says so and runs as is.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { UdpSocket, type UdpBatch } from '../../src/native/udp.js';
import { latin1 } from '../../src/util/buffer-text.js';

try {
  execFileSync('chrt', ['--batch', '--all-tasks', '--pid', '0', String(process.pid)], { stdio: 'ignore' });
} catch (err) {
  process.stderr.write(`receiver: not SCHED_BATCH (chrt: ${(err as Error).message})\n`);
}

// The native batched socket (recvmmsg, staged sendmmsg): the receiver is cheap for both sides it serves.
const sock = new UdpSocket(
  { host: '127.0.0.1', recvBufferBytes: 16 * 1024 * 1024, sendBufferBytes: 16 * 1024 * 1024, recvBatch: 64 },
  (batch) => onBatch(batch),
  (f) => process.stderr.write(`receiver: ${f.count} sends failed (${f.code})\n`),
);
/** Responses are written here; the socket copies them when staging. */
const out = Buffer.allocUnsafe(65536);
const epoch = (): number => performance.timeOrigin + performance.now();

let notifies = 0;
/** NOTIFYs whose CSeq was at or below the highest seen for their subscription (retransmissions or reordered). */
let repeats = 0;
let first = 0;
let last = 0;
let recording = false;
let records = new Float64Array(3 * 1_000_000);
let nrec = 0;
/** Call-IDs waiting for their 200 and their first NOTIFY. */
const pending = new Map<string, { msg: Buffer; acked: boolean; notified: boolean; sentAt: number }>();
let onSettled: (() => void) | undefined;
let localPort = 0;

const OK = Buffer.from('SIP/2.0 200 OK\r\n');
const TAIL = Buffer.from('Content-Length: 0\r\n\r\n');
const CALL_ID = Buffer.from('call-id="');
// Every response starts with the status line: written once.
OK.copy(out, 0);

/**
 * The subscriptions' highest NOTIFY CSeq, keyed by the Call-ID's bytes, so no string is made per NOTIFY:
 * open addressing with linear probing over FNV-1a hashes, the keys' bytes kept in one slab.
 */
class CseqTable {
  /** Entry + 1 per slot, 0 when free; at most half full. */
  private slots = new Int32Array(1 << 15);
  private keys = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private readonly at: number[] = [];
  private readonly len: number[] = [];
  private readonly hash: number[] = [];
  /** Highest CSeq seen, per entry. */
  readonly cseq: number[] = [];

  /** The entry of the key `buf[a, b)` with hash `h` ({@link hashOf}), or -1. */
  find(buf: Buffer, a: number, b: number, h: number): number {
    const mask = this.slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s]! - 1;
      if (e < 0) return -1;
      if (this.hash[e] === h && this.len[e] === b - a && this.same(e, buf, a, b)) return e;
    }
  }

  /** Adds the key `buf[a, b)` (not in the table) with hash `h` and its first CSeq. */
  add(buf: Buffer, a: number, b: number, h: number, cseq: number): void {
    if ((this.cseq.length + 1) * 2 > this.slots.length) this.grow();
    if (this.used + b - a > this.keys.length) {
      const keys = Buffer.allocUnsafe(Math.max(this.keys.length * 2, this.used + b - a));
      this.keys.copy(keys, 0, 0, this.used);
      this.keys = keys;
    }
    const e = this.cseq.length;
    this.at.push(this.used);
    this.len.push(b - a);
    this.hash.push(h);
    this.cseq.push(cseq);
    this.used += buf.copy(this.keys, this.used, a, b);
    this.place(e);
  }

  private same(e: number, buf: Buffer, a: number, b: number): boolean {
    const keys = this.keys;
    for (let i = a, k = this.at[e]!; i < b; i++, k++) if (buf[i] !== keys[k]) return false;
    return true;
  }

  private place(e: number): void {
    const mask = this.slots.length - 1;
    let s = this.hash[e]! & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = e + 1;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let e = 0; e < this.cseq.length; e++) this.place(e);
  }
}

/** FNV-1a of `buf[a, b)`. */
function hashOf(buf: Buffer, a: number, b: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = a; i < b; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h;
}

/** Highest NOTIFY CSeq seen per subscription (Call-ID): a retransmission is answered but not counted. */
const lastCseq = new CseqTable();

/** A space, tab or CR around a header value. */
const blank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d;

/** Which header a line names, by length and letters: Via, From, To, Call-ID, CSeq (and compact forms). */
function nameOf(buf: Buffer, at: number, end: number): 'via' | 'from' | 'to' | 'call-id' | 'cseq' | undefined {
  const c = buf[at]! | 0x20;
  switch (end - at) {
    case 1:
      return c === 0x76 ? 'via' : c === 0x66 ? 'from' : c === 0x74 ? 'to' : c === 0x69 ? 'call-id' : undefined;
    case 2:
      return c === 0x74 ? 'to' : undefined;
    case 3:
      return c === 0x76 ? 'via' : undefined;
    case 4:
      return c === 0x66 ? 'from' : c === 0x63 ? 'cseq' : undefined;
    case 7:
      return c === 0x63 && (buf[at + 1]! | 0x20) === 0x61 ? 'call-id' : undefined;
    default:
      return undefined;
  }
}

/** `parseInt(buf[from, to) as text, 10)`: blanks skipped, then the digits up to the first other byte; NaN without any. */
function digitsAt(buf: Buffer, from: number, to: number): number {
  let i = from;
  while (i < to && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
  let n = 0;
  const start = i;
  for (let c = buf[i]!; i < to && c >= 0x30 && c <= 0x39; c = buf[++i]!) n = n * 10 + (c - 0x30);
  return i === start ? NaN : n;
}

/** `buf` starts with `NOTIFY ` (RFC 3261 section 7.1: the method, then one SP). */
function isNotify(buf: Buffer): boolean {
  return buf.length > 7 && buf[0] === 0x4e && buf[1] === 0x4f && buf[2] === 0x54 && buf[3] === 0x49 && buf[4] === 0x46 && buf[5] === 0x59 && buf[6] === 0x20;
}

/**
 * NOTIFY `i` of `batch`: answered 200 at once to its source with its Via, From, To, Call-ID and CSeq lines
 * copied byte for byte (adjacent ones in one copy; no string is made of the message but its Call-ID);
 * counted once per CSeq of its subscription; recorded as [device, hook-event index, arrival] when its
 * dialog-info names a bench call (`call-id="DEVICE-EVENT@..."`, state `trying` for that event, `terminated`
 * for the next). One pass over the head's lines, which ends at its empty line.
 */
function onNotify(batch: UdpBatch, i: number, buf: Buffer): void {
  const now = epoch();
  let w = OK.length;
  let idFrom = 0;
  let idTo = 0;
  let cseq = 0;
  let headEnd = -1;
  // The lines to copy that follow one another, [run, runEnd): copied when the run ends.
  let run = -1;
  let runEnd = -1;
  for (let line = buf.indexOf(0x0a) + 1; line > 0 && line < buf.length; ) {
    let eol = buf.indexOf(0x0a, line);
    if (eol < 0) break;
    if (eol === line + 1 && buf[line] === 0x0d) {
      headEnd = line - 2;
      break;
    }
    // The name ends at the colon (or before the blanks ahead of it).
    let colon = line;
    while (colon < eol && buf[colon] !== 0x3a) colon++;
    let name: ReturnType<typeof nameOf> = undefined;
    if (colon > line && colon < eol) {
      let nameEnd = colon;
      while (nameEnd > line && (buf[nameEnd - 1] === 0x20 || buf[nameEnd - 1] === 0x09)) nameEnd--;
      name = nameOf(buf, line, nameEnd);
    }
    if (name !== undefined) {
      // RFC 3261 section 8.2.6.2: the response copies Via, From, To, Call-ID and CSeq.
      if (run < 0) run = line;
      runEnd = eol + 1;
      if (name === 'call-id') {
        idFrom = colon + 1;
        idTo = eol;
      } else if (name === 'cseq') cseq = digitsAt(buf, colon + 1, eol - 1);
    } else if (run >= 0) {
      if (w + runEnd - run + TAIL.length > out.length) return;
      w += buf.copy(out, w, run, runEnd);
      run = -1;
    }
    line = eol + 1;
  }
  if (headEnd < 0) return;
  if (run >= 0) {
    if (w + runEnd - run + TAIL.length > out.length) return;
    w += buf.copy(out, w, run, runEnd);
  }
  out.set(TAIL, w);
  batch.reply(i, out.subarray(0, w + TAIL.length));
  while (idFrom < idTo && blank(buf[idFrom]!)) idFrom++;
  while (idTo > idFrom && blank(buf[idTo - 1]!)) idTo--;
  const h = hashOf(buf, idFrom, idTo);
  const seen = lastCseq.find(buf, idFrom, idTo, h);
  if (seen < 0) lastCseq.add(buf, idFrom, idTo, h, cseq);
  else if (cseq <= lastCseq.cseq[seen]!) {
    repeats++;
    return; // a retransmission
  } else lastCseq.cseq[seen] = cseq;
  notifies++;
  if (!first) first = now;
  last = now;
  if (pending.size > 0) {
    const callId = latin1(buf, idFrom, idTo);
    if (pending.has(callId)) {
      pending.get(callId)!.notified = true;
      settle(callId);
    }
  }
  if (recording && nrec * 3 + 3 <= records.length) {
    const at = buf.indexOf(CALL_ID, headEnd);
    if (at < 0) return;
    const idStart = at + CALL_ID.length + (buf[at + CALL_ID.length] === 0x63 && buf[at + CALL_ID.length + 4] === 0x2d ? 5 : 0); // csta-
    const dash = buf.indexOf(0x2d, idStart);
    const atSign = buf.indexOf(0x40, dash);
    if (dash < 0 || atSign < 0) return;
    const device = Number(buf.toString('latin1', idStart, dash));
    const event = Number(buf.toString('latin1', dash + 1, atSign));
    const terminated = buf.indexOf('<state>terminated</state>', atSign) >= 0;
    records[nrec * 3] = device;
    records[nrec * 3 + 1] = terminated ? event + 1 : event;
    records[nrec * 3 + 2] = now;
    nrec++;
  }
}

/**
 * One receive batch; its 200s leave at its end (one `sendmmsg`), not after the rest of the readable
 * socket's batches, so the notifier's window refills while the next batch is read.
 */
function onBatch(batch: UdpBatch): void {
  for (let i = 0; i < batch.count; i++) {
    const buf = batch.view(i);
    if (isNotify(buf)) onNotify(batch, i, buf);
    else onMessage(buf);
  }
  sock.flush();
}

function onMessage(buf: Buffer): void {
  const text = buf.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (text.startsWith('SIP/2.0 ')) {
    const status = Number(text.slice(8, 11));
    const callId = header(text, ['Call-ID:', 'i:'], 0, headEnd);
    const id = callId.slice(callId.indexOf(':') + 1).trim();
    const p = pending.get(id);
    if (p && status >= 200) {
      p.acked = true;
      settle(id);
    }
  }
}

function header(text: string, names: readonly string[], from: number, end: number): string {
  for (const n of names) {
    const i = text.indexOf('\r\n' + n, from - 2);
    if (i >= 0 && i < end) return text.slice(i + 2, text.indexOf('\r\n', i + 2));
  }
  return '';
}

function settle(id: string): void {
  const p = pending.get(id);
  if (p && p.acked && p.notified) {
    pending.delete(id);
    pump();
  }
}

let queue: Array<{ id: string; msg: Buffer }> = [];
const window = 256;
let inWindow = new Set<string>();

function pump(): void {
  for (const id of inWindow) if (!pending.has(id)) inWindow.delete(id);
  while (inWindow.size < window && queue.length) {
    const s = queue.pop()!;
    inWindow.add(s.id);
    pending.set(s.id, { msg: s.msg, acked: false, notified: false, sentAt: Date.now() });
    sock.send(s.msg, targetHost, targetPort);
  }
  if (pending.size === 0 && queue.length === 0 && onSettled) {
    const f = onSettled;
    onSettled = undefined;
    f();
  }
}

let targetHost = '127.0.0.1';
let targetPort = 5060;
let run = 0;

function subscribe(target: string, event: string, devices: string[], per: number): Promise<void> {
  const [host, port] = target.split(':');
  targetHost = host!;
  targetPort = Number(port);
  run++;
  const accept = event === 'dialog' ? 'application/dialog-info+xml' : 'application/pidf+xml';
  queue = [];
  for (const d of devices) {
    for (let w = 0; w < per; w++) {
      const id = `r${run}-${d}-${w}@bench`;
      const msg = Buffer.from(
        `SUBSCRIBE sip:${d}@${target} SIP/2.0\r\n` +
          `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK${run}x${d}x${w};rport\r\n` +
          `From: <sip:w${w}@127.0.0.1>;tag=t${run}x${d}x${w}\r\n` +
          `To: <sip:${d}@${target}>\r\n` +
          `Call-ID: ${id}\r\nCSeq: 1 SUBSCRIBE\r\n` +
          `Contact: <sip:w${w}@127.0.0.1:${localPort}>\r\nMax-Forwards: 70\r\n` +
          `Event: ${event}\r\nAccept: ${accept}\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`,
      );
      queue.push({ id, msg });
    }
  }
  queue.reverse();
  inWindow = new Set();
  return new Promise((resolve) => {
    onSettled = resolve;
    pump();
  });
}

// SUBSCRIBEs lost to a full socket buffer are sent again (RFC 3261 Timer E in spirit).
setInterval(() => {
  const now = Date.now();
  for (const p of pending.values()) {
    if (!p.acked && now - p.sentAt > 500) {
      p.sentAt = now;
      sock.send(p.msg, targetHost, targetPort);
    }
  }
}, 250).unref();

localPort = sock.port;
process.stdout.write(JSON.stringify({ ready: true, port: localPort }) + '\n');

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const c = JSON.parse(line) as { cmd: string; [k: string]: unknown };
  const reply = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
  switch (c.cmd) {
    case 'subscribe': {
      const t0 = Date.now();
      void subscribe(c['target'] as string, c['event'] as string, c['devices'] as string[], c['per'] as number).then(() =>
        reply({ subscribed: true, ms: Date.now() - t0 }),
      );
      break;
    }
    case 'record':
      recording = Boolean(c['on']);
      reply({ recording });
      break;
    case 'stats':
      reply({ notifies, repeats, first, last });
      break;
    case 'counters':
      reply(sock.counters());
      break;
    case 'reset':
      notifies = 0;
      repeats = 0;
      first = 0;
      last = 0;
      reply({ reset: true });
      break;
    case 'dump':
      writeFileSync(c['file'] as string, Buffer.from(records.buffer, 0, nrec * 3 * 8));
      reply({ dumped: nrec });
      nrec = 0;
      records = new Float64Array(records.length);
      break;
    case 'exit':
      process.exit(0);
      break;
    default:
      reply({ error: `unknown command ${c.cmd}` });
  }
});
