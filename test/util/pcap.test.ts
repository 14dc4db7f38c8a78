import t from 'tap';

import { PcapError, decodeFrames, readPcapFile, reassembleTcp, type PcapFrame } from '../../src/util/pcap/index.js';

function ipv4(proto: number, payload: Buffer, opts: { id?: number; offset?: number; more?: boolean; src?: number[]; dst?: number[] } = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(opts.id ?? 1, 4);
  h.writeUInt16BE(((opts.more ? 1 : 0) << 13) | ((opts.offset ?? 0) / 8), 6);
  h[8] = 64;
  h[9] = proto;
  Buffer.from(opts.src ?? [10, 0, 0, 1]).copy(h, 12);
  Buffer.from(opts.dst ?? [10, 0, 0, 2]).copy(h, 16);
  return Buffer.concat([h, payload]);
}

function udp(sport: number, dport: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([h, data]);
}

function tcp(seq: number, flags: number, data: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(40000, 0);
  h.writeUInt16BE(5060, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h[12] = 5 << 4;
  h[13] = flags;
  return Buffer.concat([h, data]);
}

function ipv6(next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = 64;
  h[23] = 1; // ::1
  h[8] = 0x20;
  h[9] = 0x01;
  h[39] = 2;
  h[24] = 0x20;
  h[25] = 0x01;
  return Buffer.concat([h, payload]);
}

const frame = (linkType: number, data: Buffer, ts = 0): PcapFrame => ({ ts, linkType, data, wireLength: data.length });
const eth = (type: number, body: Buffer) => Buffer.concat([Buffer.alloc(12), Buffer.from([type >> 8, type & 0xff]), body]);

t.test('link layers: Ethernet with VLAN, SLL2, BSD loopback, raw IP', (t) => {
  const payload = udp(5060, 5061, Buffer.from('hello'));
  const vlan = Buffer.concat([Buffer.from([0, 5, 0x08, 0x00]), ipv4(17, payload)]);
  const sll2 = Buffer.concat([Buffer.from([0x08, 0x00]), Buffer.alloc(18), ipv4(17, payload)]);
  const loop = Buffer.concat([Buffer.from([2, 0, 0, 0]), ipv4(17, payload)]);
  const d = decodeFrames([
    frame(1, eth(0x8100, vlan)),
    frame(276, sll2),
    frame(0, loop),
    frame(101, ipv4(17, payload)),
    frame(1, eth(0x0806, Buffer.alloc(28))),
    frame(147, Buffer.alloc(10)),
  ]);
  t.equal(d.udp.length, 4);
  t.same(d.udp.map((u) => u.payload.toString()), ['hello', 'hello', 'hello', 'hello']);
  t.equal(d.udp[0]!.src, '10.0.0.1');
  t.equal(d.skipped, 2, 'ARP and an unknown link type are skipped');
  t.end();
});

t.test('IPv4 fragments out of order, IPv6 fragments and extension headers, IP-in-IP', (t) => {
  const data = udp(1, 2, Buffer.from('A'.repeat(40) + 'B'.repeat(40)));
  const f1 = ipv4(17, data.subarray(0, 40), { id: 7, more: true });
  const f2 = ipv4(17, data.subarray(40), { id: 7, offset: 40 });
  const six = (off: number, more: boolean, part: Buffer) => {
    const fh = Buffer.alloc(8);
    fh[0] = 17;
    fh.writeUInt16BE(off | (more ? 1 : 0), 2);
    fh.writeUInt32BE(99, 4);
    return ipv6(44, Buffer.concat([fh, part]));
  };
  const hopByHop = Buffer.concat([Buffer.from([17, 0, 0, 0, 0, 0, 0, 0]), data]);
  const d = decodeFrames([
    frame(101, f2),
    frame(101, f1),
    frame(101, six(0, true, data.subarray(0, 48))),
    frame(101, six(48, false, data.subarray(48))),
    frame(101, ipv6(0, hopByHop)),
    frame(101, ipv4(4, ipv4(17, data))),
    frame(101, ipv4(41, ipv6(17, data))),
    frame(101, ipv4(17, data.subarray(0, 16), { id: 9, more: true })),
  ]);
  t.equal(d.udp.length, 5);
  for (const u of d.udp) t.equal(u.payload.toString(), 'A'.repeat(40) + 'B'.repeat(40));
  t.equal(d.udp[1]!.src, '2001::1');
  t.equal(d.incompleteFragments, 1);
  t.end();
});

t.test('TCP reassembly: SYN, out of order, retransmission, gap', (t) => {
  const segs = decodeFrames([
    frame(101, ipv4(6, tcp(1000, 0x02, Buffer.alloc(0)))),
    frame(101, ipv4(6, tcp(1006, 0x18, Buffer.from('world')))),
    frame(101, ipv4(6, tcp(1001, 0x18, Buffer.from('hello')))),
    frame(101, ipv4(6, tcp(1001, 0x18, Buffer.from('hello')))),
    frame(101, ipv4(6, tcp(1020, 0x19, Buffer.from('!')))),
  ]).tcp;
  const [s] = reassembleTcp(segs);
  t.equal(s!.data.toString(), 'helloworld!');
  t.equal(s!.gaps, 9);
  t.equal(s!.dport, 5060);
  const midstream = reassembleTcp(decodeFrames([frame(101, ipv4(6, tcp(0xfffffffe, 0x18, Buffer.from('ab')))), frame(101, ipv4(6, tcp(0, 0x18, Buffer.from('cd'))))]).tcp);
  t.equal(midstream[0]!.data.toString(), 'abcd', 'sequence numbers wrap');
  t.end();
});

t.test('unreadable capture files', async (t) => {
  await t.rejects(readPcapFile('/nonexistent.pcap'), PcapError);
});
