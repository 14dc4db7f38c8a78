/**
 * `npm run bench -- udp-io`: CPU time per datagram of the SIP UDP path (src/native/udp.ts: recvmmsg batches,
 * sendmmsg once per loop turn) against node:dgram, the baseline, on the same workload in the same run.
 * - send: `--count` datagrams of `--bytes` to a loopback socket, `--batch` per event-loop turn (as a fan-out
 *   hands them over), node:dgram with a completion callback per datagram (what the transport needed);
 * - receive: a separate process (udp-io-peer.ts) sends `--count` datagrams at `--rate`/s; the receiver copies
 *   each datagram and reads its source, as the transport does. CPU per datagram actually received.
 * CPU is user + system time of this process (process.cpuUsage), which includes the kernel's loopback work
 * done in its system calls; the other side runs in udp-io-peer.ts. Each side warms up first. Last line: one JSON object.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { UdpSocket } from '../../src/native/udp.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Options {
  count: number;
  bytes: number;
  batch: number;
  rate: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { count: 200_000, bytes: 600, batch: 64, rate: 100_000 };
  for (let i = 0; i < args.length; i += 2) {
    const k = args[i]!.replace(/^--/, '') as keyof Options;
    if (!(k in o)) throw new Error(`unknown option ${args[i]}`);
    o[k] = Number(args[i + 1]);
  }
  return o;
}

/** User + system microseconds since `from`; the user share of the last reading is kept for the report. */
let lastUserShare = 0;
function cpuUs(from: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(from);
  lastUserShare = c.user / Math.max(1, c.user + c.system);
  return c.user + c.system;
}

/** A receiver in another process (udp-io-peer.ts sink), so that its CPU is not the sender's. */
function sink(): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'udp-io-peer.js'), 'sink'], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d: Buffer) => {
      const m = /port (\d+)/.exec(d.toString());
      if (m) resolve({ port: Number(m[1]), close: () => child.pid && process.kill(child.pid, 'SIGTERM') });
    });
    child.once('exit', (code) => reject(new Error(`sink exited ${code}`)));
  });
}

async function sendNative(o: Options, port: number): Promise<number> {
  const s = new UdpSocket({ host: '127.0.0.1', sendBufferBytes: 4 * 1024 * 1024 }, () => {}, () => {});
  const payload = Buffer.alloc(o.bytes, 0x62);
  const run = (n: number) =>
    new Promise<void>((resolve) => {
      let left = n;
      const turn = () => {
        for (let i = 0; i < o.batch && left > 0; i++, left--) s.send(payload, '127.0.0.1', port);
        if (left > 0) setImmediate(turn);
        else setImmediate(resolve);
      };
      turn();
    });
  await run(Math.min(20_000, o.count));
  const cpu0 = process.cpuUsage();
  await run(o.count);
  const us = cpuUs(cpu0);
  await s.close();
  return us / o.count;
}

async function sendDgram(o: Options, port: number): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  s.setSendBufferSize(4 * 1024 * 1024);
  const payload = Buffer.alloc(o.bytes, 0x62);
  const run = (n: number) =>
    new Promise<void>((resolve) => {
      let left = n;
      let pending = 0;
      const done = () => {
        pending--;
        if (left === 0 && pending === 0) resolve();
      };
      const turn = () => {
        for (let i = 0; i < o.batch && left > 0; i++, left--) {
          pending++;
          s.send(payload, port, '127.0.0.1', done);
        }
        if (left > 0) setImmediate(turn);
      };
      turn();
    });
  await run(Math.min(20_000, o.count));
  const cpu0 = process.cpuUsage();
  await run(o.count);
  const us = cpuUs(cpu0);
  await new Promise<void>((r) => s.close(() => r()));
  return us / o.count;
}

/** Runs the peer against `port`; resolves when it is done sending. */
function peer(port: number, o: Options, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'udp-io-peer.js'), 'send', String(port), String(count), String(o.rate), String(o.bytes)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (d: Buffer) => d.toString().includes('done') && resolve());
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`peer exited ${code}`))));
  });
}

/** Receives one peer run; CPU from the first datagram to the peer's end (plus a short drain). */
async function receive(
  o: Options,
  open: (onDatagram: () => void) => Promise<{ port: number; close: () => Promise<void> }>,
): Promise<{ usPerDatagram: number; received: number; userShare: number }> {
  let received = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  const r = await open(() => {
    if (received++ === 0) cpu0 = process.cpuUsage();
  });
  await peer(r.port, o, Math.min(20_000, o.count));
  await new Promise((res) => setTimeout(res, 200));
  received = 0;
  cpu0 = undefined;
  await peer(r.port, o, o.count);
  await new Promise((res) => setTimeout(res, 200));
  const us = cpu0 ? cpuUs(cpu0) : 0;
  await r.close();
  // The idle drain after the peer ends costs (almost) nothing; CPU is divided by what arrived.
  return { usPerDatagram: received ? us / received : 0, received, userShare: lastUserShare };
}

export default async function main(args: string[]): Promise<void> {
  const o = parseArgs(args);
  const receiver = await sink();
  const dgramSend = await sendDgram(o, receiver.port);
  const dgramSendUser = lastUserShare;
  const nativeSend = await sendNative(o, receiver.port);
  receiver.close();
  const pct = (x: number) => `${Math.round(x * 100)}% user`;
  console.log(
    `send: native ${nativeSend.toFixed(3)} us/datagram (${pct(lastUserShare)}), node:dgram ${dgramSend.toFixed(3)} us/datagram (${pct(dgramSendUser)})`,
  );

  const keep: Buffer[] = [];
  const nativeRecv = await receive(o, async (onDatagram) => {
    const s = new UdpSocket(
      { host: '127.0.0.1', recvBufferBytes: 4 * 1024 * 1024 },
      (b) => {
        for (let i = 0; i < b.count; i++) {
          keep[0] = b.copy(i);
          if (b.host(i).length === 0 || b.port(i) === 0) throw new Error('no source');
          onDatagram();
        }
      },
      () => {},
    );
    return { port: s.port, close: () => s.close() };
  });
  const dgramRecv = await receive(o, async (onDatagram) => {
    const s: Socket = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    s.setRecvBufferSize(4 * 1024 * 1024);
    s.on('message', (buf, rinfo) => {
      keep[0] = buf;
      if (rinfo.address.toLowerCase().length === 0 || rinfo.port === 0) throw new Error('no source');
      onDatagram();
    });
    return { port: s.address().port, close: () => new Promise<void>((r) => s.close(() => r())) };
  });
  console.log(
    `receive: native ${nativeRecv.usPerDatagram.toFixed(3)} us/datagram (${nativeRecv.received}/${o.count}, ${pct(nativeRecv.userShare)}), ` +
      `node:dgram ${dgramRecv.usPerDatagram.toFixed(3)} us/datagram (${dgramRecv.received}/${o.count}, ${pct(dgramRecv.userShare)})`,
  );
  const round = (x: number) => Math.round(x * 1000) / 1000;
  console.log(
    JSON.stringify({
      bench: 'udp-io',
      sendUsPerDatagram: round(nativeSend),
      recvUsPerDatagram: round(nativeRecv.usPerDatagram),
      dgramSendUsPerDatagram: round(dgramSend),
      dgramRecvUsPerDatagram: round(dgramRecv.usPerDatagram),
      recvDelivered: nativeRecv.received / o.count,
      dgramRecvDelivered: dgramRecv.received / o.count,
      sendRatio: round(dgramSend / nativeSend),
      recvRatio: round(dgramRecv.usPerDatagram / nativeRecv.usPerDatagram),
    }),
  );
}
