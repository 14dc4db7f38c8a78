import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync, createWriteStream, readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import t from 'tap';

import { main } from '../../src/cli/main.js';
import { encodeCstaFrame } from '../../src/native/csta.js';
import { decodeFrames, readCaptureTcp } from '../../src/util/pcap/index.js';

const captures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'captures', 'public', 'csta');
const frame01 = readFileSync(join(captures, '01_ServiceInitiatedEvent.frame.bin'));
const frame02 = readFileSync(join(captures, '02_OriginatedEvent.frame.bin'));
const response = encodeCstaFrame(1, '<MonitorStartResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"><monitorCrossRefID>1136370025</monitorCrossRefID></MonitorStartResponse>');
const request = encodeCstaFrame(1, '<MonitorStart><monitorObject><deviceObject>302118840100</deviceObject></monitorObject></MonitorStart>');

async function run(...args: string[]): Promise<{ code: number; lines: Record<string, unknown>[]; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['decode', ...args], { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, err, lines: out.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const dir = mkdtempSync(join(tmpdir(), 'switchhook-decode-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('.bin files: good frames decode, stale lengths are refused with a code', async (t) => {
  const { code, lines } = await run(
    join(captures, '01_ServiceInitiatedEvent.frame.bin'),
    join(captures, '02_OriginatedEvent.frame.bin'),
    join(captures, '06_SystemRegisterResponse.frame.bin'),
  );
  t.equal(code, 1, 'a bad frame makes the exit status 1');
  t.equal(lines.length, 3);
  t.match(lines[0], { root: 'ServiceInitiatedEvent', invokeId: 9999, monitorCrossRefId: '1169730059', cause: 'makeCall', localConnectionInfo: 'initiated' });
  t.same(lines[0]!.connections, [{ role: 'initiatedConnection', callId: 'FF000100000000002D65C85C1C750000', deviceId: '302118840100' }]);
  t.match(lines[1], { root: 'OriginatedEvent', devices: [{ role: 'callingDevice', id: '302118840100' }, { role: 'calledDevice' }] });
  t.match(lines[2], { error: 'CTI_ERR_FRAME_TRUNCATED', fatal: false, offset: 0 });
  t.match(String(lines[2]!.file), /06_SystemRegisterResponse/);

  const stream = join(dir, 'stream.bin');
  writeFileSync(stream, Buffer.concat([frame01, Buffer.from('junk'), frame02, readFileSync(join(captures, '07_MonitorStartResponse.frame.bin')), frame01]));
  const r = await run('--xml', '--max-frame-bytes', '4096', stream);
  t.same(r.lines.map((l) => l.root ?? l.error), ['ServiceInitiatedEvent', 'CTI_ERR_FRAME_MAGIC', 'OriginatedEvent', 'CTI_ERR_FRAME_LENGTH', 'ServiceInitiatedEvent']);
  t.match(String(r.lines[0]!.xml), /^<\?xml/);
  t.equal(r.code, 1);

  const good = await run(join(captures, '01_ServiceInitiatedEvent.frame.bin'));
  t.equal(good.code, 0);
});

t.test('usage errors', async (t) => {
  t.equal((await run()).code, 2);
  t.equal((await run('--bogus', 'x')).code, 2);
  t.equal((await run('--port', 'x', 'f')).code, 2);
  t.equal((await run('--max-frame-bytes', '3', 'f')).code, 2);
  const missing = await run(join(dir, 'missing.bin'));
  t.equal(missing.code, 1);
  t.match(missing.lines[0], { error: 'ENOENT' });
  let out = '';
  t.equal(await main(['decode', '--help'], { out: (s) => void (out += s), err: () => {} }), 0);
  t.match(out, /usage: switchhook decode/);
});

// ---- capture files built byte by byte (libpcap classic format, https://www.tcpdump.org/manpages/pcap-savefile.5.txt)

interface Seg {
  from: 'client' | 'server' | 'other';
  seq: number;
  data?: Buffer;
  flags?: number; // TCP flags, default PSH|ACK
}
const SYN = 0x02;
const FIN = 0x01;
const ACK = 0x10;
const PSH = 0x08;

function tcpHeader(srcPort: number, dstPort: number, seq: number, flags: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(srcPort, 0);
  h.writeUInt16BE(dstPort, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(1, 8);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  return h;
}

function ipv4(src: number[], dst: number[], payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(0x4000, 6);
  h[8] = 64;
  h[9] = 6;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  return Buffer.concat([h, payload]);
}

function ipv6(src: number, dst: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = 6;
  h[7] = 64;
  h[23] = src;
  h[39] = dst;
  return Buffer.concat([h, payload]);
}

type Link = 'ethernet' | 'sll' | 'null6' | 'sll2' | 'loop' | 'raw';
const LINK_NUMBER: Record<Link, number> = { ethernet: 1, sll: 113, null6: 0, sll2: 276, loop: 108, raw: 101 };

function packet(link: Link, s: Seg): Buffer {
  const ports = s.from === 'client' ? [40000, 4711] : s.from === 'server' ? [4711, 40000] : [40001, 80];
  const tcp = Buffer.concat([tcpHeader(ports[0]!, ports[1]!, s.seq, s.flags ?? PSH | ACK), s.data ?? Buffer.alloc(0)]);
  const a = s.from === 'server' ? 2 : 1;
  const b = s.from === 'server' ? 1 : 2;
  switch (link) {
    case 'ethernet': {
      const eth = Buffer.alloc(14);
      eth.writeUInt16BE(0x0800, 12);
      const frame = Buffer.concat([eth, ipv4([10, 0, 0, a], [10, 0, 0, b], tcp)]);
      // Ethernet pads short frames to 60 bytes; the IP length tells where the segment ends.
      return frame.length < 60 ? Buffer.concat([frame, Buffer.alloc(60 - frame.length, 0xee)]) : frame;
    }
    case 'sll': {
      const sll = Buffer.alloc(16);
      sll.writeUInt16BE(772, 2);
      sll.writeUInt16BE(0x0800, 14);
      return Buffer.concat([sll, ipv4([127, 0, 0, a], [127, 0, 0, b], tcp)]);
    }
    case 'null6': {
      const family = Buffer.alloc(4);
      family.writeUInt32LE(30, 0);
      return Buffer.concat([family, ipv6(a, b, tcp)]);
    }
    case 'sll2': {
      const sll2 = Buffer.alloc(20);
      sll2.writeUInt16BE(0x86dd, 0);
      return Buffer.concat([sll2, ipv6(a, b, tcp)]);
    }
    case 'loop': {
      const family = Buffer.alloc(4);
      family.writeUInt32BE(2, 0);
      return Buffer.concat([family, ipv4([192, 0, 2, a], [192, 0, 2, b], tcp)]);
    }
    case 'raw':
      return ipv4([198, 51, 100, a], [198, 51, 100, b], tcp);
  }
}

function pcapFile(link: Link, segs: Seg[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(LINK_NUMBER[link], 20);
  const parts: Buffer[] = [head];
  segs.forEach((s, i) => {
    const p = packet(link, s);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1700000000 + i, 0);
    rec.writeUInt32LE(i * 1000, 4);
    rec.writeUInt32LE(p.length, 8);
    rec.writeUInt32LE(p.length, 12);
    parts.push(rec, p);
  });
  return Buffer.concat(parts);
}

/** Client stream = request; server stream = response + frame01 + frame02, cut into segments and disordered. */
function exchange(opts: { dropOne?: boolean } = {}): Seg[] {
  const cIsn = 0xfffffff0; // wraps past 2^32 inside the stream
  const sIsn = 5000;
  const server = Buffer.concat([response, frame01, frame02]);
  const cuts = [0, 3, 150, 151, 900, 1500, 2000, server.length];
  const pieces: Seg[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    pieces.push({ from: 'server', seq: sIsn + 1 + cuts[i]!, data: server.subarray(cuts[i]!, cuts[i + 1]!) });
  }
  const segs: Seg[] = [
    { from: 'client', seq: cIsn, flags: SYN },
    { from: 'server', seq: sIsn, flags: SYN | ACK },
    { from: 'other', seq: 1, data: Buffer.from('GET / HTTP/1.1\r\n\r\n') },
    { from: 'client', seq: cIsn + 1, data: request.subarray(0, 20) },
    { from: 'client', seq: cIsn + 1 + 20, data: request.subarray(20) },
    { from: 'client', seq: cIsn + 1, data: request.subarray(0, 20) }, // retransmission
    pieces[0]!,
    pieces[2]!, // out of order: arrives before pieces[1]
    pieces[1]!,
    pieces[1]!, // duplicate
    { from: 'server', seq: sIsn + 1 + 140, data: server.subarray(140, 160) }, // overlapping retransmission
    ...(opts.dropOne ? [] : [pieces[3]!]),
    pieces[5]!,
    pieces[4]!,
    pieces[6]!,
    { from: 'client', seq: cIsn + 1 + request.length, flags: FIN | ACK },
    { from: 'server', seq: sIsn + 1 + server.length, flags: FIN | ACK },
  ];
  return segs;
}

for (const link of ['ethernet', 'sll', 'null6', 'sll2', 'loop', 'raw'] as const) {
  t.test(`pcap (${link}): TCP reassembled per direction, retransmits and reordering handled`, async (t) => {
    const file = join(dir, `exchange-${link}.pcap`);
    writeFileSync(file, pcapFile(link, exchange()));
    const { code, lines, err } = await run(file);
    t.equal(code, 0, err);
    const prefix: Record<Link, string> = { ethernet: '10.0.0.', sll: '127.0.0.', null6: '', sll2: '', loop: '192.0.2.', raw: '198.51.100.' };
    const host = (n: number) => (link === 'null6' || link === 'sll2' ? `[::${n}]` : `${prefix[link]}${n}`);
    const client = `${host(1)}:40000>${host(2)}:4711`;
    const server = `${host(2)}:4711>${host(1)}:40000`;
    t.same(
      lines.map((l) => [l.flow, l.root]),
      [
        [client, 'MonitorStart'],
        [server, 'MonitorStartResponse'],
        [server, 'ServiceInitiatedEvent'],
        [server, 'OriginatedEvent'],
      ],
    );
    t.match(lines[1], { invokeId: 1, monitorCrossRefId: '1136370025' });
    t.match(lines[3], { invokeId: 9999, cause: 'newCall', connections: [{ callId: 'FF000100000000002D65C85C1C750000' }] });
    t.match(err, /ignored 1 TCP flow/);
    t.match(err, /retransmitted bytes dropped/);

    const port = await run('--port', '80', file);
    t.equal(port.code, 1, 'HTTP on port 80 is not CSTA');
    t.match(port.lines[0], { flow: `${host(1)}:40001>${host(2)}:80`, error: 'CTI_ERR_FRAME_MAGIC' });
  });
}

t.test('pcap with a lost segment: a gap line, the hit frame refused, the rest recovered', async (t) => {
  const file = join(dir, 'gap.pcap');
  writeFileSync(file, pcapFile('ethernet', exchange({ dropOne: true })));
  const { code, lines } = await run(file);
  t.equal(code, 1);
  t.same(
    lines.map((l) => l.root ?? l.error),
    ['MonitorStart', 'CAPTURE_GAP', 'CTI_ERR_FRAME_TRUNCATED', 'OriginatedEvent'],
    'the gap hits the response and the first event',
  );
  t.match(lines[1], { missing: 740 });
});

t.test('a segment cut short by the snap length is a gap', async (t) => {
  const segs = exchange();
  const file = join(dir, 'snap.pcap');
  const pcap = pcapFile('ethernet', segs);
  // Cut the captured length of the packet carrying pieces[4] (server bytes 900-1500) to 500 bytes.
  let off = 24;
  for (const s of segs) {
    const caplen = pcap.readUInt32LE(off + 8);
    if (s.from === 'server' && s.data && s.data.length === 600) {
      pcap.writeUInt32LE(500, off + 8);
      const cut = Buffer.concat([pcap.subarray(0, off + 16 + 500), pcap.subarray(off + 16 + caplen)]);
      writeFileSync(file, cut);
      break;
    }
    off += 16 + caplen;
  }
  const { lines } = await run(file);
  t.same(
    lines.map((l) => l.root ?? l.error),
    ['MonitorStart', 'MonitorStartResponse', 'ServiceInitiatedEvent', 'CAPTURE_GAP', 'CTI_ERR_FRAME_TRUNCATED'],
    'the hole falls inside the OriginatedEvent',
  );
  t.match(lines[3], { missing: 600 - (500 - 14 - 20 - 20) });
});

t.test('capture reader rejects what it cannot read', async (t) => {
  const bad = join(dir, 'bad.pcap');
  writeFileSync(bad, Buffer.concat([Buffer.from([0xd4, 0xc3, 0xb2, 0xa1]), Buffer.alloc(4)]));
  const r = await run(bad);
  t.equal(r.code, 1);
  t.match(r.lines[0], { error: 'PCAP_ERR_READ' });
  const wifi = join(dir, 'wifi.pcap');
  const head = pcapFile('ethernet', []);
  head.writeUInt32LE(127, 20);
  writeFileSync(wifi, head);
  await t.rejects(readCaptureTcp(wifi, { data() {} }), /unsupported link type/);
  const good = join(dir, 'no-fin.pcap');
  writeFileSync(good, pcapFile('ethernet', exchange().filter((s) => !(s.flags! & FIN))));
  await t.rejects(readCaptureTcp(good, { data() { throw new Error('boom'); } }), /boom/, 'a throwing handler rejects the read');
  const ended: string[] = [];
  const stats = await readCaptureTcp(good, { data() {}, end: (flow) => void ended.push(flow.id) });
  t.equal(ended.length, 3, 'flows without FIN end with the capture');
  t.match(stats, { tcpSegments: 15, skipped: 0 });
  const hopByHop = ipv6(1, 2, Buffer.concat([Buffer.from([6, 0, 0, 0, 0, 0, 0, 0]), tcpHeader(1, 2, 3, ACK)]));
  hopByHop[6] = 0;
  t.match(decodeFrames([{ ts: 0, linkType: 101, data: hopByHop, wireLength: hopByHop.length }]).tcp, [{ sport: 1, dport: 2, seq: 3 }], 'IPv6 extension headers are walked');
});

// ---- a capture recorded with dumpcap on lo

function haveDumpcap(): boolean {
  return spawnSync('dumpcap', ['--version'], { stdio: 'ignore' }).status === 0;
}

t.test('capture recorded with dumpcap on lo decodes', { skip: haveDumpcap() ? false : 'dumpcap not installed' }, async (t) => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const file = join(dir, 'lo.pcapng');
  const out = createWriteStream(file);
  // Written to a pipe, dumpcap flushes each packet, so the file fills as the traffic flows.
  const dumpcap: ChildProcess = spawn('dumpcap', ['-i', 'lo', '-f', `tcp port ${port}`, '-n', '-w', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (dumpcap.exitCode === null) dumpcap.kill('SIGTERM');
    server.close();
  });
  let captured = 0;
  dumpcap.stdout!.on('data', (d: Buffer) => {
    captured += d.length;
    out.write(d);
  });
  let stderr = '';
  dumpcap.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = once(dumpcap, 'exit');

  // Readiness: probe connections (no data, so no CSTA flow) until dumpcap writes their packets.
  server.on('connection', (sock: Socket) => {
    sock.on('end', () => sock.end());
    sock.on('error', () => sock.destroy());
  });
  const headerBytes = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dumpcap did not start: ${stderr}`)), 30000);
    const poll = setInterval(() => {
      if (stderr.includes('Capturing on') && captured > 0) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(captured);
      }
    }, 50);
    void exited.then(() => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(new Error(`dumpcap exited: ${stderr}`));
    });
  });
  for (let i = 0; captured === headerBytes; i++) {
    if (i === 300) throw new Error('dumpcap captured no probe packets');
    const probe = connect(port, '127.0.0.1');
    await once(probe, 'connect');
    probe.end();
    await once(probe, 'close');
    await new Promise((r) => setTimeout(r, 100));
  }

  // The "PBX" answers the request and sends two events, in small writes that cross frame boundaries.
  const serverDone = new Promise<void>((resolve) => {
    server.on('connection', (sock: Socket) => {
      sock.setNoDelay(true);
      sock.once('data', () => {
        const all = Buffer.concat([response, frame01, frame02]);
        for (let i = 0; i < all.length; i += 700) sock.write(all.subarray(i, i + 700));
        sock.end();
        sock.on('close', () => resolve());
      });
    });
  });
  const client = connect(port, '127.0.0.1');
  client.setNoDelay(true);
  await once(client, 'connect');
  client.write(request);
  let received = 0;
  client.on('data', (d: Buffer) => void (received += d.length));
  await once(client, 'end');
  client.end();
  await serverDone;
  t.equal(received, response.length + frame01.length + frame02.length);

  // Wait (bounded) until the capture holds every frame, then stop dumpcap by its PID.
  let result: Awaited<ReturnType<typeof run>> | undefined;
  for (let i = 0; i < 150; i++) {
    await new Promise((r) => setTimeout(r, 200));
    result = await run(file);
    if (result.lines.filter((l) => l.root).length >= 4) break;
  }
  dumpcap.kill('SIGTERM');
  await exited;
  await new Promise<void>((r) => out.end(r));
  result = await run(file);
  const roots = result.lines.map((l) => `${String(l.flow).endsWith(`:${port}`) ? 'c' : 's'} ${String(l.root)}`);
  t.same(roots, ['c MonitorStart', 's MonitorStartResponse', 's ServiceInitiatedEvent', 's OriginatedEvent'], result.err);
  t.equal(result.code, 0);
});
