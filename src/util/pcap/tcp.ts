import type { TcpSegment } from './decode.js';

/** One direction of a TCP connection. */
export interface TcpFlow {
  /** `src:port>dst:port`, IPv6 addresses in brackets. */
  readonly id: string;
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
}

/** What a {@link TcpReassembler} reports, in capture order. */
export interface TcpStreamHandler {
  /** Bytes of `flow` that follow the bytes delivered before, in sequence order. */
  data(flow: TcpFlow, bytes: Buffer, timestamp: number): void;
  /** `missing` bytes of `flow` were never captured; the bytes after them follow in the next `data` call. */
  gap?(flow: TcpFlow, missing: number): void;
  /** The flow ended (FIN or RST seen, or the capture ended). */
  end?(flow: TcpFlow): void;
}

/** Counters of one reassembly. */
export interface TcpReassemblyStats {
  tcpSegments: number;
  retransmittedBytes: number;
  outOfOrderSegments: number;
  gapBytes: number;
}

/** Out-of-order bytes held per direction before the missing bytes are declared lost. */
const maxHeldBytes = 8 << 20;

/**
 * Sequence-order reassembly of one TCP direction (RFC 9293 3.4: sequence numbers modulo 2^32):
 * retransmitted and overlapping bytes are dropped, out-of-order segments wait for the gap before them.
 */
class TcpDirection {
  /** Next expected sequence number; undefined until the SYN or the first data segment. */
  private next: number | undefined;
  private readonly held = new Map<number, Buffer>();
  private heldBytes = 0;
  ended = false;

  constructor(
    readonly flow: TcpFlow,
    private readonly stats: TcpReassemblyStats,
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
        this.held.set(seq, payload);
      }
      if (this.heldBytes > maxHeldBytes) this.skipGap(out);
      return out;
    }
    if (-diff >= payload.length) {
      this.stats.retransmittedBytes += payload.length;
      return out;
    }
    if (diff < 0) this.stats.retransmittedBytes += -diff;
    out.push(payload.subarray(-diff));
    this.next = (this.next + payload.length + diff) >>> 0;
    this.drain(out);
    return out;
  }

  /** The capture cut `missing` bytes at `seq` short: when they are the next expected bytes, reports the hole. */
  lost(seq: number, missing: number): (Buffer | number)[] {
    const out: (Buffer | number)[] = [];
    if (this.next === undefined || seq !== this.next) return out;
    this.stats.gapBytes += missing;
    out.push(missing);
    this.next = (this.next + missing) >>> 0;
    this.drain(out);
    return out;
  }

  /** At the end: declares the bytes still missing lost and releases what was held. */
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

function endpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Streams TCP segments (in capture order) into per-direction byte streams, reporting data, gaps (lost
 * segments, or bytes cut off by the snap length) and ends (FIN, RST, or {@link TcpReassembler.finish}) to a
 * handler as they become known. A SYN on a direction that has ended starts a new flow.
 */
export class TcpReassembler {
  readonly stats: TcpReassemblyStats = { tcpSegments: 0, retransmittedBytes: 0, outOfOrderSegments: 0, gapBytes: 0 };
  private readonly flows = new Map<string, TcpDirection>();

  constructor(private readonly handler: TcpStreamHandler) {}

  /** Take one segment. */
  push(seg: TcpSegment): void {
    this.stats.tcpSegments++;
    const id = `${endpoint(seg.src, seg.sport)}>${endpoint(seg.dst, seg.dport)}`;
    let dir = this.flows.get(id);
    if (!dir || (seg.syn && dir.ended)) {
      dir = new TcpDirection({ id, src: seg.src, srcPort: seg.sport, dst: seg.dst, dstPort: seg.dport }, this.stats);
      this.flows.set(id, dir);
    }
    this.deliver(dir, dir.segment(seg.seq, seg.syn, seg.payload), seg.ts);
    if (seg.truncated > 0) this.deliver(dir, dir.lost((seg.seq + (seg.syn ? 1 : 0) + seg.payload.length) >>> 0, seg.truncated), seg.ts);
    if ((seg.fin || seg.rst) && !dir.ended) this.close(dir, seg.ts);
  }

  /** End every flow still open (the capture is over). */
  finish(): void {
    for (const dir of this.flows.values()) if (!dir.ended) this.close(dir, 0);
  }

  private close(dir: TcpDirection, ts: number): void {
    dir.ended = true;
    this.deliver(dir, dir.flush(), ts);
    this.handler.end?.(dir.flow);
  }

  private deliver(dir: TcpDirection, runs: (Buffer | number)[], ts: number): void {
    for (const run of runs) {
      if (typeof run === 'number') this.handler.gap?.(dir.flow, run);
      else this.handler.data(dir.flow, run, ts);
    }
  }
}

/** The bytes one side of a TCP connection sent, in order. */
export interface TcpStream {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  /** Time of the first data. */
  readonly ts: number;
  readonly data: Buffer;
  /** Bytes missing from the stream (lost segments), left out. */
  readonly gaps: number;
}

/** Reassembles every TCP byte stream of a capture at once, ordered by the time of their first data. */
export function reassembleTcp(segments: readonly TcpSegment[]): TcpStream[] {
  const streams = new Map<string, { flow: TcpFlow; ts: number; parts: Buffer[]; gaps: number }>();
  const byFlow = (flow: TcpFlow, ts: number) => {
    let s = streams.get(flow.id);
    if (!s) {
      s = { flow, ts, parts: [], gaps: 0 };
      streams.set(flow.id, s);
    }
    return s;
  };
  const reassembler = new TcpReassembler({
    data: (flow, bytes, ts) => void byFlow(flow, ts).parts.push(bytes),
    gap: (flow, missing) => void (byFlow(flow, 0).gaps += missing),
  });
  for (const seg of segments) reassembler.push(seg);
  reassembler.finish();
  return [...streams.values()]
    .filter((s) => s.parts.length > 0)
    .map((s) => ({ src: s.flow.src, dst: s.flow.dst, sport: s.flow.srcPort, dport: s.flow.dstPort, ts: s.ts, data: Buffer.concat(s.parts), gaps: s.gaps }))
    .sort((a, b) => a.ts - b.ts);
}
