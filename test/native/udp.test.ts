import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';

import t from 'tap';

import { UdpBatch, UdpSocket, errnoName, formatIpv6, type UdpSendFailure } from '../../src/native/udp.js';

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
  await a.socket.close();
  await b.socket.close();
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

t.test('close releases the fd and the poll handle: the process exits', async (t) => {
  const modUrl = new URL('../../src/native/udp.ts', import.meta.url).href;
  const script = `
    const { UdpSocket } = await import(${JSON.stringify(modUrl)});
    const s = new UdpSocket({ host: '127.0.0.1' }, () => {}, () => {});
    s.send(Buffer.from('x'), '127.0.0.1', s.port);
    await s.close();
    console.log('closed');
  `;
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
  t.equal(code, 0, out);
  t.match(out, /closed/);
});
