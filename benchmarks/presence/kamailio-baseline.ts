/**
 * The Kamailio baseline of presence-fanout: kamailio with presence + presence_dialoginfo + presence_xml in
 * memory (publ_cache=2, subs_db_mode=0, no db_url; kamailio-presence.cfg) serves the same subscriptions;
 * each hook change is a PUBLISH (RFC 3903) of the phone's dialog-info (or PIDF for the receptionist),
 * one publication per call (see `publish`), every change queued per phone, none merged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { receptionist, runShapes } from './presence-fanout.bench.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

/** Figures of the baseline. */
export interface BaselineFigures {
  notifyPerSec: number;
  lossless: boolean;
  p50Ms: number;
  p99Ms: number;
  /** Median of the shape-(b) fan-outs, and every one of them in order. */
  fanout10kMs: number;
  fanout10kRunsMs: number[];
  cpuUsPerNotify: number;
  /** Distinct NOTIFYs kamailio delivered at 1,000 hook events/s, and the number expected. */
  notifies1k: number;
  expected1k: number;
}

function freePort(): Promise<number> {
  const s = createSocket('udp4');
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  }));
}

/** The phone's dialog-info after its k-th hook change: call `DEVICE-K` trying (k even) or terminated (k odd). */
function dialogInfo(device: string, version: number, k: number): string {
  const call = `${device}-${k - (k % 2)}`;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="${version}" state="full" entity="sip:${device}@127.0.0.1">\n` +
    `<dialog id="${call}" call-id="${call}@bench" local-tag="${device}" direction="initiator"><state>${k % 2 === 0 ? 'trying' : 'terminated'}</state></dialog>\n` +
    '</dialog-info>\n'
  );
}

function pidf(device: string, busy: boolean): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:${device}@127.0.0.1">\n` +
    `<tuple id="t${device}"><status><basic>open</basic></status></tuple>\n` +
    `<dm:person id="p${device}">${busy ? '<rpid:activities><rpid:on-the-phone/></rpid:activities>' : ''}</dm:person>\n</presence>\n`
  );
}

/** CPU time (user + system, ms) of `root` and every process below it, from /proc (clock ticks of 10 ms). */
function treeCpuMs(root: number): number {
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(name);
      const ppid = Number(f[1]);
      ticks.set(pid, Number(f[11]) + Number(f[12]));
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // the process ended meanwhile
    }
  }
  let sum = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    sum += ticks.get(pid) ?? 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return sum * 10;
}

/** Start kamailio, publish every phone once, run the shapes with PUBLISH as the hook change. */
export async function kamailioBaseline(): Promise<BaselineFigures> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sh-kam-presence-'));
  const cfg = join(root, 'benchmarks/presence/kamailio-presence.cfg');
  let err = '';
  const kam: ChildProcess = spawn('kamailio', ['-f', cfg, '-DD', '-E', '-m', '2048', '-M', '64', '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-l', `udp:127.0.0.1:${port}`, '-n', process.env['KAMAILIO_CHILDREN'] ?? '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  kam.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const pub = createSocket({ type: 'udp4', sendBufferSize: 8 * 1024 * 1024, recvBufferSize: 8 * 1024 * 1024 });
  await new Promise<void>((r) => pub.bind(0, '127.0.0.1', () => r()));
  /** ETag of each phone's open publication: the receptionist's PIDF, or a busy-lamp phone's current call. */
  const etags = new Map<string, string>();
  const waiting = new Map<string, () => void>();
  let status: Record<string, number> = {};
  pub.on('message', (buf) => {
    const text = buf.toString('latin1');
    const code = text.slice(8, 11);
    status[code] = (status[code] ?? 0) + 1;
    const cid = /\r\nCall-ID: *([^\r\n]+)/i.exec(text)?.[1] ?? '';
    const device = cid.split('-')[1] ?? '';
    if (cid !== inFlight.get(device)) return; // not the PUBLISH in flight (a retransmitted answer)
    inFlight.delete(device);
    unanswered.delete(device);
    const etag = /\r\nSIP-ETag: *([^\r\n]+)/i.exec(text)?.[1];
    if (code === '200' && etag) etags.set(device, etag);
    waiting.get(cid)?.();
    waiting.delete(cid);
    // One PUBLISH per phone in flight (a modification needs the entity-tag of the last answer, RFC 3903
    // section 4.4); changes made meanwhile wait in order, none merged, so kamailio sees every change.
    const next = queued.get(device)?.shift();
    if (next !== undefined) publish(device, next);
  });
  const inFlight = new Map<string, string>();
  /** The PUBLISH in flight per phone: its bytes, when it is due for a retransmission, and the interval. */
  const unanswered = new Map<string, { msg: string; due: number; every: number }>();
  // RFC 3261 section 17.1.2.2: a non-INVITE request over UDP is retransmitted (Timer E, from T1 = 500 ms
  // doubling) until answered, so a datagram dropped under load delays a change but does not lose it.
  const timerE = setInterval(() => {
    const now = performance.now();
    for (const u of unanswered.values()) {
      if (u.due > now) continue;
      retransmits++;
      pub.send(u.msg, port, '127.0.0.1');
      u.every = Math.min(u.every * 2, 4000);
      u.due = now + u.every;
    }
  }, 50);
  let retransmits = 0;
  const queued = new Map<string, number[]>();
  let seq = 0;
  /** The k-th hook change of a phone: published now, or after the PUBLISHes before it. */
  const send = (device: string, k: number): void => {
    if (inFlight.has(device)) {
      let q = queued.get(device);
      if (!q) queued.set(device, (q = []));
      q.push(k);
      return;
    }
    publish(device, k);
  };
  /**
   * PUBLISH a phone's k-th change (k undefined: the receptionist's state before any change). A busy-lamp phone publishes
   * each call as its own publication, as kamailio's pua_dialoginfo does: off hook (k even) an initial
   * PUBLISH (no SIP-If-Match) of call `DEVICE-k` trying, on hook a modification of that publication
   * (SIP-If-Match) to terminated. (Kamailio answers a modification of a publication whose dialog is already
   * terminated with 200 but neither stores nor notifies it, and its new entity-tag then gets 412: one
   * publication per phone would lose every change after the first on-hook.)
   */
  const publish = (device: string, k?: number): string => {
    seq++;
    const isPresence = device === receptionist;
    const body = isPresence ? pidf(device, k !== undefined && k % 2 === 0) : dialogInfo(device, seq, k!);
    const cid = `p-${device}-${seq}`;
    inFlight.set(device, cid);
    const etag = isPresence || (k !== undefined && k % 2 === 1) ? etags.get(device) : undefined;
    const msg =
      `PUBLISH sip:${device}@127.0.0.1:${port} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${pub.address().port};branch=z9hG4bKp${seq};rport\r\n` +
      `From: <sip:${device}@127.0.0.1>;tag=p${seq}\r\nTo: <sip:${device}@127.0.0.1>\r\nCall-ID: ${cid}\r\nCSeq: 1 PUBLISH\r\nMax-Forwards: 70\r\n` +
      `Event: ${isPresence ? 'presence' : 'dialog'}\r\nExpires: 3600\r\n` +
      (etag ? `SIP-If-Match: ${etag}\r\n` : '') +
      `Content-Type: ${isPresence ? 'application/pidf+xml' : 'application/dialog-info+xml'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    pub.send(msg, port, '127.0.0.1');
    unanswered.set(device, { msg, due: performance.now() + 500, every: 500 });
    return cid;
  };
  try {
    // Ready when kamailio answers a PUBLISH; then every phone gets its one publication.
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      inFlight.delete(receptionist);
      const cid = publish(receptionist);
      ready = await new Promise<boolean>((r) => {
        const t = setTimeout(() => r(false), 100);
        waiting.set(cid, () => {
          clearTimeout(t);
          r(true);
        });
      });
    }
    if (!ready) throw new Error(`kamailio did not answer: ${err.slice(-800)}`);
    status = {};
    const figures = await runShapes(`127.0.0.1:${port}`, send, 'kamailio', () => treeCpuMs(kam.pid!));
    process.stderr.write(`kamailio PUBLISH answers: ${JSON.stringify(status)}, ${retransmits} retransmitted\n`);
    return figures;
  } finally {
    clearInterval(timerE);
    pub.close();
    if (kam.pid && kam.exitCode === null) process.kill(kam.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    if (kam.pid && kam.exitCode === null) process.kill(kam.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
