import type { PcapFrame } from './reader.js';

/** An IP endpoint pair with the transport payload of one UDP datagram. */
export interface UdpDatagram {
  readonly ts: number;
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly payload: Buffer;
}

/** One TCP segment, before stream reassembly. */
export interface TcpSegment {
  readonly ts: number;
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly syn: boolean;
  readonly fin: boolean;
  readonly rst: boolean;
  readonly payload: Buffer;
  /** Payload bytes the IP header declares but the capture did not hold (snap length). */
  readonly truncated: number;
}

/** What {@link decodeFrames} found. */
export interface DecodedPackets {
  readonly udp: UdpDatagram[];
  readonly tcp: TcpSegment[];
  /** Frames that were not IP/UDP/TCP or were truncated. */
  readonly skipped: number;
  /** IP fragments still waiting for missing pieces at the end. */
  readonly incompleteFragments: number;
}

interface FragmentSet {
  readonly parts: Array<{ offset: number; data: Buffer }>;
  total: number;
  proto: number;
  ts: number;
}

/**
 * Decodes link layer (Ethernet with VLAN tags, Linux cooked SLL and SLL2, BSD loopback, raw IP), IPv4 and
 * IPv6 (extension headers, fragment reassembly per RFC 791 / RFC 8200 4.5), IP-in-IP tunnels (protocols 4
 * and 41), then UDP and TCP.
 */
export function decodeFrames(frames: readonly PcapFrame[]): DecodedPackets {
  const udp: UdpDatagram[] = [];
  const tcp: TcpSegment[] = [];
  const fragments = new Map<string, FragmentSet>();
  let skipped = 0;

  const transport = (ts: number, proto: number, src: string, dst: string, b: Buffer, missing = 0): boolean => {
    switch (proto) {
      case 4:
        return ipv4(ts, b);
      case 41:
        return ipv6(ts, b);
      case 17: {
        if (b.length < 8) return false;
        const len = b.readUInt16BE(4);
        udp.push({ ts, src, dst, sport: b.readUInt16BE(0), dport: b.readUInt16BE(2), payload: b.subarray(8, Math.max(8, Math.min(len, b.length))) });
        return true;
      }
      case 6: {
        if (b.length < 20) return false;
        const off = (b[12]! >> 4) * 4;
        const flags = b[13]!;
        tcp.push({
          ts, src, dst,
          sport: b.readUInt16BE(0),
          dport: b.readUInt16BE(2),
          seq: b.readUInt32BE(4),
          fin: (flags & 0x01) !== 0,
          syn: (flags & 0x02) !== 0,
          rst: (flags & 0x04) !== 0,
          payload: b.subarray(Math.min(off, b.length)),
          truncated: missing,
        });
        return true;
      }
      default:
        return false;
    }
  };

  const reassemble = (k: string, ts: number, proto: number, offset: number, more: boolean, data: Buffer): Buffer | undefined => {
    let set = fragments.get(k);
    if (!set) {
      set = { parts: [], total: -1, proto, ts };
      fragments.set(k, set);
    }
    set.parts.push({ offset, data });
    if (!more) set.total = offset + data.length;
    if (set.total < 0) return undefined;
    set.parts.sort((a, b) => a.offset - b.offset);
    let have = 0;
    for (const p of set.parts) {
      if (p.offset > have) return undefined;
      have = Math.max(have, p.offset + p.data.length);
    }
    if (have < set.total) return undefined;
    fragments.delete(k);
    const out = Buffer.alloc(set.total);
    for (const p of set.parts) p.data.copy(out, p.offset, 0, Math.min(p.data.length, set.total - p.offset));
    return out;
  };

  const ipv4 = (ts: number, b: Buffer): boolean => {
    if (b.length < 20 || b[0]! >> 4 !== 4) return false;
    const ihl = (b[0]! & 0x0f) * 4;
    const declared = b.readUInt16BE(2);
    const total = Math.min(declared, b.length);
    const id = b.readUInt16BE(4);
    const frag = b.readUInt16BE(6);
    const more = (frag & 0x2000) !== 0;
    const offset = (frag & 0x1fff) * 8;
    const proto = b[9]!;
    const src = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    const dst = `${b[16]}.${b[17]}.${b[18]}.${b[19]}`;
    let payload = b.subarray(ihl, total);
    if (more || offset > 0) {
      const whole = reassemble(`4|${src}|${dst}|${id}|${proto}`, ts, proto, offset, more, payload);
      if (!whole) return true;
      payload = whole;
    }
    return transport(ts, proto, src, dst, payload, more || offset > 0 ? 0 : declared - total);
  };

  const ipv6 = (ts: number, b: Buffer): boolean => {
    if (b.length < 40 || b[0]! >> 4 !== 6) return false;
    const plen = b.readUInt16BE(4);
    let next = b[6]!;
    const src = ipv6Text(b.subarray(8, 24));
    const dst = ipv6Text(b.subarray(24, 40));
    let p = b.subarray(40, Math.min(b.length, 40 + plen));
    const missing = 40 + plen - (40 + p.length);
    let fragmented = false;
    for (;;) {
      if (next === 0 || next === 43 || next === 60) {
        if (p.length < 8) return false;
        const len = (p[1]! + 1) * 8;
        next = p[0]!;
        p = p.subarray(len);
        continue;
      }
      if (next === 44) {
        if (p.length < 8) return false;
        const nh = p[0]!;
        const offFlags = p.readUInt16BE(2);
        const id = p.readUInt32BE(4);
        const whole = reassemble(`6|${src}|${dst}|${id}`, ts, nh, offFlags & 0xfff8, (offFlags & 1) === 1, p.subarray(8));
        if (!whole) return true;
        next = nh;
        p = whole;
        fragmented = true;
        continue;
      }
      return transport(ts, next, src, dst, p, fragmented ? 0 : missing);
    }
  };

  const ip = (ts: number, b: Buffer): boolean => {
    if (b.length < 1) return false;
    const v = b[0]! >> 4;
    return v === 4 ? ipv4(ts, b) : v === 6 ? ipv6(ts, b) : false;
  };

  const byEtherType = (ts: number, type: number, b: Buffer): boolean => {
    while (type === 0x8100 || type === 0x88a8) {
      if (b.length < 4) return false;
      type = b.readUInt16BE(2);
      b = b.subarray(4);
    }
    if (type === 0x0800) return ipv4(ts, b);
    if (type === 0x86dd) return ipv6(ts, b);
    return false;
  };

  for (const f of frames) {
    const d = f.data;
    let ok: boolean;
    switch (f.linkType) {
      case 1: // Ethernet
        ok = d.length >= 14 && byEtherType(f.ts, d.readUInt16BE(12), d.subarray(14));
        break;
      case 113: // Linux cooked capture v1
        ok = d.length >= 16 && byEtherType(f.ts, d.readUInt16BE(14), d.subarray(16));
        break;
      case 276: // Linux cooked capture v2
        ok = d.length >= 20 && byEtherType(f.ts, d.readUInt16BE(0), d.subarray(20));
        break;
      case 0: // BSD loopback, host byte order family
      case 108:
        ok = d.length >= 4 && ip(f.ts, d.subarray(4));
        break;
      case 101: // raw IP
      case 12:
      case 14:
      case 228:
      case 229:
        ok = ip(f.ts, d);
        break;
      default:
        ok = false;
    }
    if (!ok) skipped++;
  }
  return { udp, tcp, skipped, incompleteFragments: fragments.size };
}

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // RFC 5952 4.2: compress the longest run of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return groups.slice(0, best).join(':') + '::' + groups.slice(best + bestLen).join(':');
}
