/**
 * A test RTP endpoint for the simulator (the far end of a trunk call, an in-process softphone): it sends a
 * 20 ms G.711 stream (RFC 3550 §5.1 header, RFC 3551 PT 0 or 8, 160 samples per packet) with a known
 * payload pattern, and checks what comes back: packets, SSRCs, sequence gaps, marker bits. This is a test
 * peer, so it runs in JavaScript; the switchhook media path itself never does.
 */
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';

/** What a {@link RtpStream} received. */
export interface RtpStreamStats {
  /** RTP packets sent. */
  sent: number;
  /** RTP packets received. */
  received: number;
  /** Distinct SSRCs seen, in arrival order. */
  ssrcs: number[];
  /** Sequence numbers missing between consecutive packets of one SSRC (RFC 3550 A.1). */
  gaps: number;
  /** Packets that went backwards or repeated within one SSRC. */
  reordered: number;
  /** Packets with the marker bit (a talkspurt start, or a source switch in the bridge). */
  markers: number;
  /** Packets whose payload was not `packetSize` bytes. */
  badSize: number;
  /** Time the first packet arrived (ms since the epoch, sub-millisecond), 0 before. */
  firstAt: number;
}

/** Options of {@link RtpStream.open}. */
export interface RtpStreamOptions {
  /** Payload type sent: 0 PCMU or 8 PCMA. */
  payloadType?: 0 | 8;
  ssrc?: number;
  /** Bind address (127.0.0.1). */
  host?: string;
}

const SAMPLES = 160;

/** The known pattern: a byte per sample derived from the packet's sequence number. */
export function patternPayload(seq: number): Buffer {
  const b = Buffer.allocUnsafe(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) b[i] = (seq * 7 + i) & 0xff;
  return b;
}

/** A UDP RTP endpoint that sends a 20 ms stream to its remote and checks what it receives. */
export class RtpStream {
  private remote: { address: string; port: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private seq: number;
  private ts: number;
  private readonly ssrc: number;
  private readonly pt: number;
  private readonly last = new Map<number, number>();
  private readonly s: RtpStreamStats = { sent: 0, received: 0, ssrcs: [], gaps: 0, reordered: 0, markers: 0, badSize: 0, firstAt: 0 };
  private receivedWaiters: Array<{ count: number; resolve: () => void }> = [];

  private constructor(private readonly socket: Socket, readonly port: number, o: RtpStreamOptions) {
    this.ssrc = o.ssrc ?? (Math.random() * 0xffffffff) >>> 0;
    this.pt = o.payloadType ?? 0;
    this.seq = (Math.random() * 0xffff) | 0;
    this.ts = (Math.random() * 0xffffffff) >>> 0;
    socket.on('message', (b) => this.onPacket(b));
  }

  /** Binds a socket (port 0: any free one). */
  static async open(o: RtpStreamOptions = {}): Promise<RtpStream> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, o.host ?? '127.0.0.1', () => resolve());
    });
    return new RtpStream(socket, socket.address().port, o);
  }

  /** Where the stream goes; sending starts (or continues) towards it. */
  setRemote(address: string, port: number): void {
    this.remote = { address, port };
  }

  /** Starts sending one packet every 20 ms. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sendOne(), 20);
  }

  /** Stops sending (receiving continues until {@link RtpStream.close}). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends one packet now. */
  sendOne(): void {
    if (!this.remote) return;
    const b = Buffer.allocUnsafe(12 + SAMPLES);
    b[0] = 0x80;
    b[1] = (this.s.sent === 0 ? 0x80 : 0) | this.pt;
    b.writeUInt16BE(this.seq, 2);
    b.writeUInt32BE(this.ts >>> 0, 4);
    b.writeUInt32BE(this.ssrc, 8);
    patternPayload(this.seq).copy(b, 12);
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + SAMPLES) >>> 0;
    this.s.sent++;
    this.socket.send(b, this.remote.port, this.remote.address);
  }

  /** Counters so far (a copy). */
  stats(): RtpStreamStats {
    return { ...this.s, ssrcs: [...this.s.ssrcs] };
  }

  /** Resolves once `count` packets in total have arrived, or rejects after `timeoutMs`. */
  waitReceived(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.s.received >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.receivedWaiters = this.receivedWaiters.filter((w) => w.resolve !== done);
        reject(new Error(`RTP stream on ${this.port}: ${this.s.received} of ${count} packets after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.receivedWaiters.push({ count, resolve: done });
    });
  }

  /** Stops and closes the socket. */
  close(): Promise<void> {
    this.stop();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onPacket(b: Buffer): void {
    if (b.length < 12 || b[0]! >> 6 !== 2) return;
    const seq = b.readUInt16BE(2);
    const ssrc = b.readUInt32BE(8);
    if (this.s.received === 0) this.s.firstAt = performance.timeOrigin + performance.now();
    this.s.received++;
    if (b[1]! & 0x80) this.s.markers++;
    if (b.length - 12 !== SAMPLES) this.s.badSize++;
    const prev = this.last.get(ssrc);
    if (prev === undefined) {
      this.s.ssrcs.push(ssrc);
    } else {
      const d = (seq - prev - 1) & 0xffff;
      if (d >= 0x8000) this.s.reordered++;
      else this.s.gaps += d;
    }
    if (prev === undefined || ((seq - prev) & 0xffff) < 0x8000) this.last.set(ssrc, seq);
    if (this.receivedWaiters.length > 0) {
      const ready = this.receivedWaiters.filter((w) => this.s.received >= w.count);
      this.receivedWaiters = this.receivedWaiters.filter((w) => this.s.received < w.count);
      for (const w of ready) w.resolve();
    }
  }
}
