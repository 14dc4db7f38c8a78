/**
 * Reads TCP byte streams out of a pcap or pcapng capture (through libpcap, the `pcap` package), one stream
 * per direction, reassembled in sequence order (RFC 9293 §3.4: sequence numbers, modulo 2^32): retransmitted
 * and overlapping bytes are dropped, out-of-order segments wait for the gap before them to fill.
 * Link types: Ethernet (with 802.1Q/802.1ad tags), Linux cooked SLL and SLL2, BSD loopback (NULL and LOOP)
 * and raw IP; network layer IPv4 and IPv6.
 */
import { createRequire } from 'node:module';

/** One direction of a TCP connection. */
export interface TcpFlow {
  /** `src:port>dst:port`, IPv6 addresses in brackets. */
  readonly id: string;
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
}

/** What {@link readCaptureTcp} reports, in capture order. */
export interface TcpStreamHandler {
  /** Bytes of `flow` that follow the bytes delivered before, in sequence order. */
  data(flow: TcpFlow, bytes: Buffer, timestamp: number): void;
  /** `missing` bytes of `flow` were never captured; the bytes after them follow in the next `data` call. */
  gap?(flow: TcpFlow, missing: number): void;
  /** The flow ended (FIN or RST seen, or the capture ended). */
  end?(flow: TcpFlow): void;
}

/** Counters of one capture read. */
export interface CaptureReadStats {
  packets: number;
  tcpSegments: number;
  /** Packets that were not TCP over IPv4/IPv6 on a supported link (or were IP fragments). */
  skipped: number;
  retransmittedBytes: number;
  outOfOrderSegments: number;
  gapBytes: number;
  linkType: string;
}

/** A capture that cannot be read. */
export class CaptureError extends Error {
  readonly code = 'CAPTURE_ERR_READ';
}

interface PcapPacket {
  buf: Buffer;
  header: Buffer;
}
interface PcapSessionLike {
  readonly link_type: string;
  on(event: 'packet', fn: (p: PcapPacket) => void): void;
  on(event: 'complete', fn: () => void): void;
  close(): void;
}
interface PcapModule {
  PcapSession: new (
    live: boolean,
    path: string,
    filter: string,
    bufferSize: number,
    snapLength: number,
  ) => PcapSessionLike;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const LINKTYPE_LOOP = 108;
const LINKTYPE_LINUX_SLL2 = 276;
const SUPPORTED_LINKS = new Set([
  'LINKTYPE_ETHERNET',
  'LINKTYPE_LINUX_SLL',
  `LINKTYPE_${LINKTYPE_LINUX_SLL2}`,
  'LINKTYPE_NULL',
  `LINKTYPE_${LINKTYPE_LOOP}`,
  'LINKTYPE_RAW',
]);
/** Out-of-order bytes held per direction before the missing bytes are declared lost. */
const MAX_HELD_BYTES = 8 << 20;

/** Where the network layer starts in a link-layer frame, and its ethertype; undefined when not IP. */
export function linkPayload(linkType: string, buf: Buffer): { offset: number; etherType: number } | undefined {
  switch (linkType) {
    case 'LINKTYPE_ETHERNET': {
      let off = 12;
      if (buf.length < off + 2) return undefined;
      let type = buf.readUInt16BE(off);
      while ((type === 0x8100 || type === 0x88a8) && buf.length >= off + 6) {
        off += 4;
        type = buf.readUInt16BE(off);
      }
      return { offset: off + 2, etherType: type };
    }
    case 'LINKTYPE_LINUX_SLL':
      return buf.length < 16 ? undefined : { offset: 16, etherType: buf.readUInt16BE(14) };
    case `LINKTYPE_${LINKTYPE_LINUX_SLL2}`:
      return buf.length < 20 ? undefined : { offset: 20, etherType: buf.readUInt16BE(0) };
    case 'LINKTYPE_NULL':
    case `LINKTYPE_${LINKTYPE_LOOP}`: {
      if (buf.length < 4) return undefined;
      // Address family in host (NULL) or network (LOOP) byte order: AF_INET 2; AF_INET6 10, 24, 28 or 30.
      const le = buf.readUInt32LE(0);
      const be = buf.readUInt32BE(0);
      const family = linkType === 'LINKTYPE_NULL' && le < 256 ? le : be < 256 ? be : le;
      if (family === 2) return { offset: 4, etherType: ETHERTYPE_IPV4 };
      if (family === 10 || family === 24 || family === 28 || family === 30) return { offset: 4, etherType: ETHERTYPE_IPV6 };
      return undefined;
    }
    case 'LINKTYPE_RAW': {
      if (buf.length < 1) return undefined;
      const version = buf[0]! >> 4;
      return version === 4 ? { offset: 0, etherType: ETHERTYPE_IPV4 } : version === 6 ? { offset: 0, etherType: ETHERTYPE_IPV6 } : undefined;
    }
    default:
      return undefined;
  }
}

/** A TCP segment found in one packet. */
export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  payload: Buffer;
  /** Bytes of the segment's payload that the capture did not hold (snap length). */
  truncated: number;
}

function ipv6String(b: Buffer, off: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) parts.push(b.readUInt16BE(off + 2 * i).toString(16));
  return `[${parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}]`;
}

/** Parses IPv4/IPv6 (RFC 791, RFC 8200) and TCP (RFC 9293) headers; undefined when not an unfragmented TCP segment. */
export function parseTcpSegment(buf: Buffer, offset: number, etherType: number, wireLength: number): TcpSegment | undefined {
  let src: string;
  let dst: string;
  let tcp: number;
  let end: number;
  let declaredEnd: number;
  if (etherType === ETHERTYPE_IPV4) {
    if (buf.length < offset + 20 || buf[offset]! >> 4 !== 4) return undefined;
    const ihl = (buf[offset]! & 0x0f) * 4;
    const total = buf.readUInt16BE(offset + 2);
    const frag = buf.readUInt16BE(offset + 6);
    if (buf[offset + 9] !== 6 || (frag & 0x3fff) !== 0 || ihl < 20) return undefined;
    src = `${buf[offset + 12]}.${buf[offset + 13]}.${buf[offset + 14]}.${buf[offset + 15]}`;
    dst = `${buf[offset + 16]}.${buf[offset + 17]}.${buf[offset + 18]}.${buf[offset + 19]}`;
    tcp = offset + ihl;
    declaredEnd = offset + total;
  } else if (etherType === ETHERTYPE_IPV6) {
    if (buf.length < offset + 40 || buf[offset]! >> 4 !== 6) return undefined;
    let next = buf[offset + 6]!;
    src = ipv6String(buf, offset + 8);
    dst = ipv6String(buf, offset + 24);
    declaredEnd = offset + 40 + buf.readUInt16BE(offset + 4);
    tcp = offset + 40;
    // Hop-by-hop (0), routing (43), destination options (60); a fragment header (44) is not reassembled.
    while (next === 0 || next === 43 || next === 60) {
      if (buf.length < tcp + 8) return undefined;
      next = buf[tcp]!;
      tcp += (buf[tcp + 1]! + 1) * 8;
    }
    if (next !== 6) return undefined;
  } else {
    return undefined;
  }
  if (buf.length < tcp + 20) return undefined;
  const dataOffset = (buf[tcp + 12]! >> 4) * 4;
  const flags = buf[tcp + 13]!;
  if (dataOffset < 20) return undefined;
  // Ethernet pads short frames: the IP length bounds the payload, the capture length may cut it short.
  const wireEnd = Math.min(declaredEnd, offset + wireLength);
  end = Math.min(wireEnd, buf.length);
  const start = Math.min(tcp + dataOffset, end);
  return {
    src,
    dst,
    srcPort: buf.readUInt16BE(tcp),
    dstPort: buf.readUInt16BE(tcp + 2),
    seq: buf.readUInt32BE(tcp + 4),
    syn: (flags & 0x02) !== 0,
    fin: (flags & 0x01) !== 0,
    rst: (flags & 0x04) !== 0,
    payload: buf.subarray(start, end),
    truncated: Math.max(0, wireEnd - Math.max(end, start)),
  };
}

/** Sequence-order reassembly of one TCP direction. */
export class TcpDirection {
  /** Next expected sequence number; undefined until the SYN or the first data segment. */
  private next: number | undefined;
  private readonly held = new Map<number, Buffer>();
  private heldBytes = 0;
  ended = false;

  constructor(
    readonly flow: TcpFlow,
    private readonly stats: CaptureReadStats,
  ) {}

  /** Takes one segment; returns the in-order byte runs it releases (gaps as numbers of missing bytes). */
  segment(seq: number, syn: boolean, payload: Buffer): (Buffer | number)[] {
    const out: (Buffer | number)[] = [];
    if (syn) {
      if (this.next === undefined) this.next = (seq + 1) >>> 0;
      seq = (seq + 1) >>> 0;
    }
    if (payload.length === 0) return out;
    if (this.next === undefined) this.next = seq;
    const diff = (seq - this.next) | 0;
    if (diff > 0) {
      this.stats.outOfOrderSegments++;
      const have = this.held.get(seq);
      if (!have || have.length < payload.length) {
        this.heldBytes += payload.length - (have?.length ?? 0);
        this.held.set(seq, Buffer.from(payload));
      }
      if (this.heldBytes > MAX_HELD_BYTES) this.skipGap(out);
      return out;
    }
    if (-diff >= payload.length) {
      this.stats.retransmittedBytes += payload.length;
      return out;
    }
    if (diff < 0) this.stats.retransmittedBytes += -diff;
    out.push(Buffer.from(payload.subarray(-diff)));
    this.next = (this.next + payload.length + diff) >>> 0;
    this.drain(out);
    return out;
  }

  /**
   * The capture cut `missing` bytes at `seq` short (snap length): when they are the next expected bytes,
   * reports the hole and releases what follows it.
   */
  lost(seq: number, missing: number): (Buffer | number)[] {
    const out: (Buffer | number)[] = [];
    if (this.next === undefined || seq !== this.next) return out;
    this.stats.gapBytes += missing;
    out.push(missing);
    this.next = (this.next + missing) >>> 0;
    this.drain(out);
    return out;
  }

  /** At the end of the capture: declares the bytes still missing lost and releases what was held. */
  flush(): (Buffer | number)[] {
    const out: (Buffer | number)[] = [];
    while (this.held.size > 0) this.skipGap(out);
    return out;
  }

  private drain(out: (Buffer | number)[]): void {
    let progress = true;
    while (progress && this.held.size > 0) {
      progress = false;
      for (const [seq, data] of this.held) {
        const diff = (seq - this.next!) | 0;
        if (diff > 0) continue;
        this.held.delete(seq);
        this.heldBytes -= data.length;
        progress = true;
        if (-diff >= data.length) {
          this.stats.retransmittedBytes += data.length;
          continue;
        }
        if (diff < 0) this.stats.retransmittedBytes += -diff;
        out.push(data.subarray(-diff));
        this.next = (this.next! + data.length + diff) >>> 0;
      }
    }
  }

  private skipGap(out: (Buffer | number)[]): void {
    let nearest: number | undefined;
    for (const seq of this.held.keys()) {
      const diff = (seq - this.next!) | 0;
      if (nearest === undefined || diff < nearest) nearest = diff;
    }
    if (nearest === undefined) return;
    if (nearest > 0) {
      this.stats.gapBytes += nearest;
      out.push(nearest);
      this.next = (this.next! + nearest) >>> 0;
    }
    this.drain(out);
  }
}

let pcapModule: PcapModule | undefined;
function loadPcap(): PcapModule {
  pcapModule ??= createRequire(import.meta.url)('pcap') as PcapModule;
  return pcapModule;
}

/**
 * Reads every TCP stream of a pcap/pcapng file and reports their bytes in capture order. Resolves when the
 * capture is read; rejects with {@link CaptureError} when libpcap cannot open it or its link type is not
 * supported. A handler that throws rejects the read (after the current packet).
 */
export function readCaptureTcp(file: string, handler: TcpStreamHandler): Promise<CaptureReadStats> {
  return new Promise((resolve, reject) => {
    let session: PcapSessionLike;
    try {
      session = new (loadPcap().PcapSession)(false, file, 'tcp', 0, 262144);
    } catch (err) {
      reject(new CaptureError(`cannot read capture ${file}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const linkType = /^Unknown linktype (\d+)$/.exec(session.link_type)?.[1];
    const link = linkType !== undefined ? `LINKTYPE_${linkType}` : session.link_type;
    const stats: CaptureReadStats = { packets: 0, tcpSegments: 0, skipped: 0, retransmittedBytes: 0, outOfOrderSegments: 0, gapBytes: 0, linkType: link };
    if (!SUPPORTED_LINKS.has(link)) {
      session.close();
      reject(new CaptureError(`capture ${file}: unsupported link type ${link}`));
      return;
    }
    const flows = new Map<string, TcpDirection>();
    let failure: unknown;
    const deliver = (dir: TcpDirection, runs: (Buffer | number)[], ts: number): void => {
      for (const run of runs) {
        if (typeof run === 'number') handler.gap?.(dir.flow, run);
        else handler.data(dir.flow, run, ts);
      }
    };
    session.on('packet', (p) => {
      if (failure !== undefined) return;
      try {
        stats.packets++;
        const caplen = p.header.readUInt32LE(8);
        const wireLength = p.header.readUInt32LE(12);
        const ts = p.header.readUInt32LE(0) + p.header.readUInt32LE(4) / 1e6;
        const frame = p.buf.subarray(0, Math.min(caplen, p.buf.length));
        const l = linkPayload(link, frame);
        const seg = l && parseTcpSegment(frame, l.offset, l.etherType, wireLength - l.offset);
        if (!seg) {
          stats.skipped++;
          return;
        }
        stats.tcpSegments++;
        const id = `${seg.src}:${seg.srcPort}>${seg.dst}:${seg.dstPort}`;
        let dir = flows.get(id);
        if (!dir || (seg.syn && dir.ended)) {
          dir = new TcpDirection({ id, src: seg.src, srcPort: seg.srcPort, dst: seg.dst, dstPort: seg.dstPort }, stats);
          flows.set(id, dir);
        }
        deliver(dir, dir.segment(seg.seq, seg.syn, seg.payload), ts);
        if (seg.truncated > 0) deliver(dir, dir.lost((seg.seq + (seg.syn ? 1 : 0) + seg.payload.length) >>> 0, seg.truncated), ts);
        if ((seg.fin || seg.rst) && !dir.ended) {
          dir.ended = true;
          deliver(dir, dir.flush(), ts);
          handler.end?.(dir.flow);
        }
      } catch (err) {
        failure = err;
      }
    });
    session.on('complete', () => {
      try {
        if (failure === undefined) {
          for (const dir of flows.values()) {
            if (dir.ended) continue;
            dir.ended = true;
            deliver(dir, dir.flush(), 0);
            handler.end?.(dir.flow);
          }
        }
      } catch (err) {
        failure ??= err;
      }
      session.close();
      if (failure !== undefined) reject(failure);
      else resolve(stats);
    });
  });
}
