import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import t from 'tap';

import { UDP_COUNTERS, UdpBatch, UdpSocket, errnoName, formatIpv6, type UdpSendFailure } from '../../src/native/udp.js';
import { packageRoot } from '../../src/util/package-root.js';

const addonPath = join(packageRoot(), 'build', 'Release', 'switchhook.node');

interface Received {
  data: Buffer;
  host: string;
  port: number;
}

const opened: UdpSocket[] = [];
t.teardown(() => Promise.all(opened.map((s) => s.close())));

/** A native socket that collects what it receives and the send failures it reports. */
function open(host = '127.0.0.1', extra: Partial<ConstructorParameters<typeof UdpSocket>[0]> = {}) {
  const got: Received[] = [];
  const batches: number[] = [];
  const failures: UdpSendFailure[] = [];
  let wake: (() => void) | undefined;
  const socket = new UdpSocket(
    { host, ...extra },
    (b: UdpBatch) => {
      batches.push(b.count);
      for (let i = 0; i < b.count; i++) got.push({ data: b.copy(i), host: b.host(i), port: b.port(i) });
      wake?.();
    },
    (f) => {
      failures.push(f);
      wake?.();
    },
  );
  opened.push(socket);
  /** Resolves once `pred` holds (checked after every batch and failure), bounded. */
  const until = (pred: () => boolean, ms = 5000): Promise<void> =>
    new Promise((resolve, reject) => {
      if (pred()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timeout: ${got.length} datagrams, ${failures.length} failures`)), ms);
      wake = () => {
        if (pred()) {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
      };
    });
  return { socket, got, batches, failures, until };
}

async function dgram(type: 'udp4' | 'udp6', host: string): Promise<Socket> {
  const s = createSocket(type);
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  return s;
}

function hasIpv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.family === 'IPv6' && a.address === '::1'));
}

t.test('binds port 0 and reports the bound address', async (t) => {
  const a = open();
  t.equal(a.socket.host, '127.0.0.1');
  t.ok(a.socket.port > 0);
  t.equal(a.socket.family, 4);
  await a.socket.close();
});

t.test('socket buffer sizes are set (beyond net.core.*mem_max where permitted)', async (t) => {
  const plain = open();
  const big = open('127.0.0.1', { recvBufferBytes: 1 << 20, sendBufferBytes: 1 << 20 });
  t.ok(plain.socket.recvBufferBytes > 0 && plain.socket.sendBufferBytes > 0);
  const capR = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  const capW = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8'));
  t.ok(big.socket.recvBufferBytes >= 2 * Math.min(1 << 20, capR), `SO_RCVBUF ${big.socket.recvBufferBytes}`);
  t.ok(big.socket.sendBufferBytes >= 2 * Math.min(1 << 20, capW), `SO_SNDBUF ${big.socket.sendBufferBytes}`);
  await plain.socket.close();
  await big.socket.close();
});

t.test('a taken port fails with its errno name', async (t) => {
  const a = open();
  t.throws(() => open('127.0.0.1', { port: a.socket.port }), { code: 'EADDRINUSE' });
  t.throws(() => open('not-an-address'), { code: 'EINVAL' });
  await a.socket.close();
});

t.test('receives many datagrams in batches, with their sources', async (t) => {
  const a = open('127.0.0.1', { recvBufferBytes: 4 * 1024 * 1024 });
  const peer = await dgram('udp4', '127.0.0.1');
  const n = 500;
  for (let i = 0; i < n; i++) peer.send(Buffer.from(`datagram ${i}`), a.socket.port, '127.0.0.1');
  await a.until(() => a.got.length === n);
  t.same(
    a.got.map((g) => g.data.toString()),
    Array.from({ length: n }, (_, i) => `datagram ${i}`),
  );
  t.ok(a.got.every((g) => g.host === '127.0.0.1' && g.port === peer.address().port));
  t.ok(a.batches.length < n, `fewer callbacks (${a.batches.length}) than datagrams`);
  const c = a.socket.counters();
  t.equal(c.recvDatagrams, n);
  t.equal(c.recvBytes, a.got.reduce((s, g) => s + g.data.length, 0));
  t.equal(c.recvBatches, a.batches.length);
  peer.close();
  await a.socket.close();
});

t.test('sends are staged and flushed once per turn with sendmmsg', async (t) => {
  const a = open();
  const b = open('127.0.0.1', { recvBufferBytes: 4 * 1024 * 1024 });
  const n = 3000;
  let staged = 0;
  for (let i = 0; i < n; i++) if (a.socket.send(Buffer.from(`m${i}`), '127.0.0.1', b.socket.port)) staged++;
  t.equal(staged, n);
  t.equal(a.socket.counters().sentDatagrams, 2048, 'two full stages left synchronously, the rest waits for the turn');
  await b.until(() => b.got.length === n);
  t.same(
    b.got.map((g) => g.data.toString()),
    Array.from({ length: n }, (_, i) => `m${i}`),
    'in order',
  );
  t.equal(b.got[0]!.port, a.socket.port);
  const c = a.socket.counters();
  t.equal(c.sentDatagrams, n);
  t.ok(c.sendCalls <= 4, `${c.sendCalls} sendmmsg calls`);
  t.equal(a.failures.length, 0);
  t.equal(a.socket.send(Buffer.from('x'), 'example.com', 5060), false, 'a host name is not sent');
  t.equal(a.socket.send(Buffer.from('x'), '::1', 5060), false, 'IPv6 on an IPv4 socket is not sent');
  for (const port of [0, 65536, -1, 1.5, NaN]) t.throws(() => a.socket.send(Buffer.from('x'), '127.0.0.1', port), { code: 'ERR_SOCKET_BAD_PORT' });
  await a.socket.close();
  await b.socket.close();
});

t.test('the destination table starts again after 4096 addresses, sends go on', async (t) => {
  const a = open();
  const b = open();
  const far = b.socket.port === 65535 ? 65534 : b.socket.port + 1;
  for (let i = 0; i < 4100; i++) a.socket.send(Buffer.from('x'), `127.1.${i >> 8}.${i & 255}`, far);
  a.socket.send(Buffer.from('last'), '127.0.0.1', b.socket.port);
  await b.until(() => b.got.length === 1);
  t.equal(b.got[0]!.data.toString(), 'last');
  t.equal(a.socket.counters().sentDatagrams, 4101);
});

t.test('a staged send with an explicit flush leaves at once', async (t) => {
  const a = open();
  const b = open();
  a.socket.send(Buffer.from('now'), '127.0.0.1', b.socket.port);
  a.socket.flush();
  t.equal(a.socket.counters().sentDatagrams, 1);
  await b.until(() => b.got.length === 1);
  await a.socket.close();
  await b.socket.close();
});

t.test('EAGAIN keeps the rest queued until POLLOUT, in order', async (t) => {
  const a = open();
  const b = open();
  a.socket.injectSendFault('EAGAIN', 1);
  for (let i = 0; i < 10; i++) a.socket.send(Buffer.from(`q${i}`), '127.0.0.1', b.socket.port);
  a.socket.flush();
  let c = a.socket.counters();
  t.equal(c.wouldBlock, 1);
  t.equal(c.queued, 10);
  t.equal(c.sentDatagrams, 0);
  a.socket.send(Buffer.from('after'), '127.0.0.1', b.socket.port);
  a.socket.flush();
  t.equal(a.socket.counters().queued, 11, 'later sends wait behind the backlog');
  await b.until(() => b.got.length === 11);
  t.same(
    b.got.map((g) => g.data.toString()),
    [...Array.from({ length: 10 }, (_, i) => `q${i}`), 'after'],
  );
  c = a.socket.counters();
  t.equal(c.queued, 0);
  t.equal(c.sentDatagrams, 11);
  t.equal(a.failures.length, 0);
  await a.socket.close();
  await b.socket.close();
});

t.test('the backlog is bounded: drops are counted', async (t) => {
  const a = open('127.0.0.1', { maxQueue: 5 });
  const b = open();
  a.socket.injectSendFault('EAGAIN', 2);
  for (let i = 0; i < 8; i++) a.socket.send(Buffer.from(`d${i}`), '127.0.0.1', b.socket.port);
  a.socket.flush();
  let c = a.socket.counters();
  t.equal(c.queued, 5);
  t.equal(c.queueDrops, 3);
  t.match(a.failures, [{ code: 'EAGAIN', count: 3 }], 'drops are reported as failures');
  await b.until(() => b.got.length === 5);
  t.same(
    b.got.map((g) => g.data.toString()),
    ['d0', 'd1', 'd2', 'd3', 'd4'],
  );
  c = a.socket.counters();
  t.equal(c.wouldBlock, 2, 'the first POLLOUT drain met EAGAIN again');
  await a.socket.close();
  await b.socket.close();
});

t.test('a byte bound drops too, and close drops the backlog (counted)', async (t) => {
  const a = open('127.0.0.1', { maxQueueBytes: 10 });
  a.socket.injectSendFault('EAGAIN', 100);
  a.socket.send(Buffer.alloc(8), '127.0.0.1', 9);
  a.socket.send(Buffer.alloc(8), '127.0.0.1', 9);
  a.socket.flush();
  t.equal(a.socket.counters().queued, 1);
  t.equal(a.socket.counters().queueDrops, 1);
  await a.socket.close();
  const c = a.socket.counters();
  t.equal(c.queued, 0);
  t.equal(c.queueDrops, 2);
});

t.test('send errors are counted by cause and reported once per turn', async (t) => {
  const a = open();
  const b = open();
  // No SO_BROADCAST: the kernel refuses with EACCES (a real error, not injected).
  a.socket.send(Buffer.from('x'), '255.255.255.255', 5060);
  a.socket.send(Buffer.from('x'), '255.255.255.255', 5060);
  a.socket.send(Buffer.alloc(65508), '127.0.0.1', b.socket.port);
  a.socket.send(Buffer.from('ok'), '127.0.0.1', b.socket.port);
  a.socket.send(Buffer.alloc(70000), '127.0.0.1', b.socket.port);
  await a.until(() => a.failures.length > 0);
  await b.until(() => b.got.length === 1);
  t.equal(a.failures.length, 1);
  t.equal(a.failures[0]!.count, 4);
  const c = a.socket.counters();
  t.equal(c.errAccess, 2);
  t.equal(c.errMsgSize, 2, 'too large for the kernel, and too large to stage');
  t.equal(c.sentDatagrams, 1);
  t.equal(b.got[0]!.data.toString(), 'ok');
  a.socket.injectSendFault('ENETUNREACH', 1);
  a.socket.send(Buffer.from('y'), '127.0.0.1', b.socket.port);
  a.socket.flush();
  t.equal(a.failures.length, 2);
  t.match(a.failures[1], { code: 'ENETUNREACH', count: 1 });
  t.equal(a.socket.counters().errUnreachable, 1);
  t.throws(() => a.socket.injectSendFault('ENOTANERRNO', 1), TypeError);
  await a.socket.close();
  await b.socket.close();
});

t.test('failures while draining the backlog are reported from the loop', async (t) => {
  const a = open();
  a.socket.injectSendFault('EAGAIN', 1);
  a.socket.send(Buffer.from('x'), '127.0.0.1', 9);
  a.socket.flush();
  a.socket.injectSendFault('EHOSTUNREACH', 1);
  await a.until(() => a.failures.length === 1);
  t.match(a.failures[0], { code: 'EHOSTUNREACH', count: 1 });
  t.equal(a.socket.counters().queued, 0);
  await a.socket.close();
});

t.test('oversize datagrams are truncated, counted and dropped, never delivered', async (t) => {
  const a = open('127.0.0.1', { maxDatagramBytes: 1024 });
  const peer = await dgram('udp4', '127.0.0.1');
  peer.send(Buffer.alloc(4000, 0x41), a.socket.port, '127.0.0.1');
  peer.send(Buffer.from('small'), a.socket.port, '127.0.0.1');
  await a.until(() => a.got.length === 1);
  t.equal(a.got[0]!.data.toString(), 'small');
  t.equal(a.socket.counters().recvTruncated, 1);
  peer.close();
  await a.socket.close();
});

t.test('views are valid during the callback', async (t) => {
  const seen: string[] = [];
  const s = new UdpSocket(
    { host: '127.0.0.1' },
    (b) => {
      for (let i = 0; i < b.count; i++) seen.push(b.view(i).toString() + b.length(i));
    },
    () => {},
  );
  const peer = await dgram('udp4', '127.0.0.1');
  peer.send(Buffer.from('view'), s.port, '127.0.0.1');
  await new Promise<void>((resolve) => {
    const tick = () => (seen.length ? resolve() : setTimeout(tick, 5));
    tick();
  });
  t.same(seen, ['view4']);
  peer.close();
  await s.close();
  t.throws(() => s.send(Buffer.from('x'), '127.0.0.1', 9), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  s.flush();
  await s.close();
});

t.test('IPv6 loopback, and IPv4 through a dual-stack socket', { skip: !hasIpv6Loopback() && 'no ::1' }, async (t) => {
  const a = open('::1');
  t.equal(a.socket.family, 6);
  t.equal(a.socket.host, '::1');
  const peer = await dgram('udp6', '::1');
  peer.send(Buffer.from('six'), a.socket.port, '::1');
  await a.until(() => a.got.length === 1);
  t.match(a.got[0], { host: '::1', port: peer.address().port });
  t.equal(a.socket.send(Buffer.from('back'), '::1', peer.address().port), true);
  const back = await new Promise<Buffer>((r) => peer.once('message', (m) => r(m)));
  t.equal(back.toString(), 'back');
  peer.close();
  await a.socket.close();

  const dual = open('::');
  const v4 = await dgram('udp4', '127.0.0.1');
  v4.send(Buffer.from('four'), dual.socket.port, '127.0.0.1');
  await dual.until(() => dual.got.length === 1);
  t.match(dual.got[0], { host: '127.0.0.1', port: v4.address().port }, 'IPv4-mapped sources read as IPv4');
  t.equal(dual.socket.send(Buffer.from('mapped'), '127.0.0.1', v4.address().port), true);
  const reply = await new Promise<Buffer>((r) => v4.once('message', (m) => r(m)));
  t.equal(reply.toString(), 'mapped');
  v4.close();
  await dual.socket.close();
});

/** A socket that answers every datagram `d` with `re:d` through {@link UdpBatch.reply}. */
function echo(host: string): UdpSocket {
  const s = new UdpSocket(
    { host },
    (b) => {
      for (let i = 0; i < b.count; i++) b.reply(i, Buffer.concat([Buffer.from('re:'), b.view(i)]));
    },
    () => {},
  );
  opened.push(s);
  return s;
}

/** Sends `text` from `peer` to `port` at `host` and resolves with the first answer and where it came from. */
async function ask(peer: Socket, text: string, port: number, host: string): Promise<{ text: string; port: number }> {
  const answer = new Promise<{ text: string; port: number }>((r) => peer.once('message', (m, from) => r({ text: m.toString(), port: from.port })));
  peer.send(Buffer.from(text), port, host);
  return answer;
}

t.test('a reply goes to the source of a datagram, staged and sent with the turn', async (t) => {
  const a = echo('127.0.0.1');
  const peers = [await dgram('udp4', '127.0.0.1'), await dgram('udp4', '127.0.0.1')];
  const answers = await Promise.all(peers.map((p, k) => ask(p, `q${k}`, a.port, '127.0.0.1')));
  t.same(answers, [
    { text: 're:q0', port: a.port },
    { text: 're:q1', port: a.port },
  ]);
  const c = a.counters();
  t.equal(c.sentDatagrams, 2);
  t.equal(c.errOther + c.errUnreachable, 0);
  for (const p of peers) p.close();
  await a.close();
});

t.test('reply checks its index, counts an oversize datagram, and refuses once closed', async (t) => {
  const errors: unknown[] = [];
  let kept: UdpBatch | undefined;
  const s = new UdpSocket(
    { host: '127.0.0.1' },
    (b) => {
      kept = b;
      for (const i of [-1, b.count, 0.5, NaN]) {
        try {
          b.reply(i, Buffer.from('x'));
        } catch (err) {
          errors.push(err);
        }
      }
      b.reply(0, Buffer.alloc(70000));
    },
    () => {},
  );
  opened.push(s);
  const peer = await dgram('udp4', '127.0.0.1');
  peer.send(Buffer.from('q'), s.port, '127.0.0.1');
  await new Promise<void>((resolve) => {
    const tick = () => (kept ? resolve() : setTimeout(tick, 5));
    tick();
  });
  t.equal(errors.length, 4);
  t.ok(errors.every((e) => e instanceof RangeError));
  t.equal(s.counters().errMsgSize, 1);
  await s.close();
  kept!.count = 1;
  t.throws(() => kept!.reply(0, Buffer.from('x')), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  peer.close();
});

t.test('replies on IPv6, and to IPv4 sources through a dual-stack socket', { skip: !hasIpv6Loopback() && 'no ::1' }, async (t) => {
  const six = echo('::1');
  const p6 = await dgram('udp6', '::1');
  t.same(await ask(p6, 'six', six.port, '::1'), { text: 're:six', port: six.port });
  const dual = echo('::');
  const p4 = await dgram('udp4', '127.0.0.1');
  t.same(await ask(p4, 'four', dual.port, '127.0.0.1'), { text: 're:four', port: dual.port }, 'answered in the mapped form');
  t.same(await ask(p6, 'six again', dual.port, '::1'), { text: 're:six again', port: dual.port });
  t.equal(dual.counters().sentDatagrams, 2);
  p6.close();
  p4.close();
  await six.close();
  await dual.close();
});

t.test('the native send metadata: inline addresses, and bad ones counted', async (t) => {
  // The addon itself, staged by hand: what UdpBatch.reply writes, and what it never writes.
  const { createRequire } = await import('node:module');
  const raw = createRequire(import.meta.url)(addonPath) as typeof import('../../src/native/addon.js').addon;
  const peer = await dgram('udp4', '127.0.0.1');
  const got = new Promise<Buffer>((r) => peer.once('message', (m) => r(m)));
  const closed: Array<Promise<void>> = [];
  const make = () => {
    let done!: () => void;
    closed.push(new Promise<void>((r) => (done = r)));
    return new raw.UdpSocket({ family: 4, host: '127.0.0.1', port: 0 }, () => {}, () => {}, () => done());
  };
  const s = make();
  new Uint8Array(s.sendSlab).set(Buffer.from('inline'));
  const meta = new Int32Array(s.sendMeta);
  const loopback = new Int32Array(Uint8Array.from([127, 0, 0, 1]).buffer)[0]!;
  meta.set([0, 6, -4, peer.address().port, loopback, 0, 0, 0], 0);
  meta.set([0, 6, -6, peer.address().port, 0, 0, 0, 1], 8);
  meta.set([0, 6, 7, peer.address().port, 0, 0, 0, 0], 16);
  meta.set([0, 6, -5, peer.address().port, 0, 0, 0, 0], 24);
  t.equal(s.flush(4), 3, 'an IPv6 address on an IPv4 socket, an unknown index, an unknown kind');
  const c = new Float64Array(s.counters);
  t.equal(c[UDP_COUNTERS.indexOf('errUnreachable')], 1);
  t.equal(c[UDP_COUNTERS.indexOf('errOther')], 2);
  t.equal(c[UDP_COUNTERS.indexOf('sentDatagrams')], 1);
  t.equal((await got).toString(), 'inline');
  s.close();
  await Promise.all(closed);
  peer.close();
});

t.test('RFC 5952 text of IPv6 addresses', async (t) => {
  const bytes = (hex: string) => Buffer.from(hex.replace(/:/g, ''), 'hex');
  t.equal(formatIpv6(bytes('0000:0000:0000:0000:0000:0000:0000:0001'), 0), '::1');
  t.equal(formatIpv6(bytes('20010db8000000000000000000000001'), 0), '2001:db8::1');
  t.equal(formatIpv6(bytes('20010db8000000010000000000000001'), 0), '2001:db8:0:1::1');
  t.equal(formatIpv6(bytes('20010db8000100010001000100010001'), 0), '2001:db8:1:1:1:1:1:1');
  t.equal(formatIpv6(bytes('fe800000000000000000000000000000'), 0), 'fe80::');
  t.equal(formatIpv6(bytes('00000000000000000000000000000000'), 0), '::');
  t.equal(errnoName(11), 'EAGAIN');
  t.equal(errnoName(99999), 'E99999');
});

t.test('close releases every fd', { skip: !existsSync('/proc/self/fd') && 'no /proc' }, async (t) => {
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  const sockets = Array.from({ length: 20 }, () => new UdpSocket({ host: '127.0.0.1' }, () => {}, () => {}));
  t.equal(fds(), before + 20);
  await Promise.all(sockets.map((s) => s.close()));
  t.equal(fds(), before);
});

/** Runs an ES module script in a fresh process; resolves with its exit code and output (bounded). */
async function runScript(script: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, 'SIGKILL');
    }, 20000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, out };
}

const modUrl = new URL('../../src/native/udp.ts', import.meta.url).href;

t.test('close releases the fd and the poll handle: the process exits', async (t) => {
  const { code, out } = await runScript(`
    const { UdpSocket } = await import(${JSON.stringify(modUrl)});
    const s = new UdpSocket({ host: '127.0.0.1' }, () => {}, () => {});
    s.send(Buffer.from('x'), '127.0.0.1', s.port);
    await s.close();
    console.log('closed');
  `);
  t.equal(code, 0, out);
  t.match(out, /closed/);
});

t.test('a throwing batch callback reaches uncaughtException; close from inside a callback', async (t) => {
  const { code, out } = await runScript(`
    const { UdpSocket } = await import(${JSON.stringify(modUrl)});
    process.on('uncaughtException', (e) => console.log('caught ' + e.message));
    let n = 0;
    const s = new UdpSocket({ host: '127.0.0.1' }, (b) => {
      n += b.count;
      if (n === 1) {
        setImmediate(() => {
          for (const m of ['b', 'c', 'd']) p.send(Buffer.from(m), '127.0.0.1', s.port);
          void p.close();
        });
        throw new Error('boom');
      }
      if (n >= 3) void s.close().then(() => console.log('closed ' + n));
    }, () => {});
    const p = new UdpSocket({ host: '127.0.0.1' }, () => {}, () => {});
    p.send(Buffer.from('a'), '127.0.0.1', s.port);
  `);
  t.equal(code, 0, out);
  t.match(out, /caught boom/);
  t.match(out, /closed [34]/);
});

t.test('a worker that ends with sockets open (one with a backlog) tears down cleanly', async (t) => {
  for (let i = 0; i < 3; i++) {
    const w = new Worker(
      // The addon itself (workers do not get the test's TypeScript loader): staged by hand as udp.ts does.
      `const { UdpSocket } = require(${JSON.stringify(addonPath)});
      const open = () => new UdpSocket({ family: 4, host: '127.0.0.1', port: 0 }, () => {}, () => {}, () => {});
      const s = open();
      open();
      s.injectSendFault(11, 1000);
      const index = s.addAddress('127.0.0.1');
      new Uint8Array(s.sendSlab)[0] = 0x78;
      new Int32Array(s.sendMeta).set([0, 1, index, s.port]);
      s.flush(1);
      require('node:worker_threads').parentPort.postMessage(new Float64Array(s.counters)[${UDP_COUNTERS.indexOf('queued')}]);`,
      { eval: true },
    );
    const [queued] = (await once(w, 'message')) as [number];
    t.equal(queued, 1);
    await w.terminate();
  }
});
