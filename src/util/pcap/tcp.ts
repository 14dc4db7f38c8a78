import type { TcpSegment } from './decode.js';

/** The bytes one side of a TCP connection sent, in order. */
export interface TcpStream {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  /** Time of the first segment. */
  readonly ts: number;
  readonly data: Buffer;
  /** Bytes missing from the stream (lost segments), filled with nothing. */
  readonly gaps: number;
}

/**
 * Reassembles TCP byte streams per direction (RFC 9293 3.4 sequence space): segments are ordered by
 * sequence number modulo 2^32, retransmitted and overlapping bytes are kept once. A capture that starts
 * mid-connection begins at its lowest sequence number.
 */
export function reassembleTcp(segments: readonly TcpSegment[]): TcpStream[] {
  const flows = new Map<string, { first: TcpSegment; isn: number | undefined; segs: TcpSegment[] }>();
  for (const s of segments) {
    const k = `${s.src}|${s.sport}|${s.dst}|${s.dport}`;
    let f = flows.get(k);
    if (!f) {
      f = { first: s, isn: undefined, segs: [] };
      flows.set(k, f);
    }
    if (s.syn) f.isn = (s.seq + 1) >>> 0;
    if (s.payload.length > 0) f.segs.push(s);
  }
  const out: TcpStream[] = [];
  for (const f of flows.values()) {
    if (f.segs.length === 0) continue;
    const base = f.isn ?? f.segs[0]!.seq;
    const rel = (seq: number) => (seq - base) >>> 0;
    const ordered = f.segs
      .map((s) => ({ off: rel(s.seq), data: s.payload }))
      .filter((s) => s.off < 0x80000000)
      .sort((a, b) => a.off - b.off);
    const parts: Buffer[] = [];
    let have = 0;
    let gaps = 0;
    for (const s of ordered) {
      const end = s.off + s.data.length;
      if (end <= have) continue;
      if (s.off > have) {
        gaps += s.off - have;
        have = s.off;
      }
      parts.push(s.data.subarray(have - s.off));
      have = end;
    }
    const { src, dst, sport, dport, ts } = f.first;
    out.push({ src, dst, sport, dport, ts, data: Buffer.concat(parts), gaps });
  }
  return out.sort((a, b) => a.ts - b.ts);
}
