/** Test helpers for RTP: pcap reading, UDP peers, packet builders, bounded polling. */
import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';

import { MediaError, RtpEngine, type RtpEngineOptions } from '../../src/media/index.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pcap = require('pcap') as {
  createOfflineSession(path: string, opts: object): {
    on(ev: 'packet', fn: (raw: unknown) => void): void;
    on(ev: 'complete', fn: () => void): void;
  };
  decode: { packet(raw: unknown): { payload: { payload: { payload: { data?: Buffer; sport: number; dport: number } } } } };
};

/** One UDP datagram of a capture. */
export interface CapturedDatagram {
  data: Buffer;
  sport: number;
  dport: number;
}

/** UDP payloads of a pcap file (Ethernet or Linux cooked link type), in capture order. */
export function readUdpPayloads(file: string): Promise<CapturedDatagram[]> {
  return new Promise((resolve) => {
    const out: CapturedDatagram[] = [];
    const session = pcap.createOfflineSession(file, {});
    session.on('packet', (raw) => {
      const udp = pcap.decode.packet(raw).payload.payload.payload;
      if (udp.data) out.push({ data: Buffer.from(udp.data), sport: udp.sport, dport: udp.dport });
    });
    session.on('complete', () => resolve(out));
  });
}

export interface Received {
  data: Buffer;
  port: number;
}

/** A UDP socket on 127.0.0.1 that records what it receives. */
export class UdpPeer {
  readonly received: Received[] = [];
  private constructor(private readonly socket: Socket, readonly port: number) {
    socket.on('message', (data, rinfo) => this.received.push({ data, port: rinfo.port }));
  }

  static async open(port = 0): Promise<UdpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => resolve());
    });
    return new UdpPeer(socket, socket.address().port);
  }

  send(data: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(data, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Waits until at least `count` datagrams arrived. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<Received[]> {
    await until(() => this.received.length >= count, timeoutMs, `${count} datagrams on port ${this.port}`);
    return this.received;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Polls `check` until it is true; rejects after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface RtpFields {
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  marker?: boolean;
  payload?: Buffer;
}

/** Builds an RTP packet (RFC 3550 §5.1). */
export function rtpPacket(f: RtpFields): Buffer {
  const payload = f.payload ?? Buffer.alloc(160, 0xd5);
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (f.marker ? 0x80 : 0) | f.pt;
  b.writeUInt16BE(f.seq & 0xffff, 2);
  b.writeUInt32BE(f.ts >>> 0, 4);
  b.writeUInt32BE(f.ssrc >>> 0, 8);
  payload.copy(b, 12);
  return b;
}

/** Decoded fixed RTP header fields. */
export function parseRtp(b: Buffer): RtpFields & { marker: boolean; payload: Buffer } {
  return {
    pt: b[1]! & 0x7f,
    marker: (b[1]! & 0x80) !== 0,
    seq: b.readUInt16BE(2),
    ts: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    payload: b.subarray(12),
  };
}

/** Sends datagrams with a short pause every few, so loopback buffers never overflow in a test. */
export async function sendAll(peer: UdpPeer, packets: Buffer[], port: number): Promise<void> {
  for (let i = 0; i < packets.length; i++) {
    await peer.send(packets[i]!, port);
    if (i % 16 === 15) await new Promise((r) => setTimeout(r, 1));
  }
}

// G.711 reference (ITU-T G.711 Tables 1a/2a, in the widely used Sun reference formulation), used to
// compute the expected transcoding independently of the native tables.
function alawToLinear(a: number): number {
  a ^= 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

function linearToUlaw(pcm: number): number {
  const BIAS = 0x84;
  let mask: number;
  pcm >>= 2;
  if (pcm < 0) {
    pcm = -pcm;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (pcm > 8159) pcm = 8159;
  pcm += BIAS >> 2;
  const ends = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
  let seg = ends.findIndex((e) => pcm <= e);
  if (seg < 0) seg = 8;
  if (seg >= 8) return 0x7f ^ mask;
  return (((seg << 4) | ((pcm >> (seg + 1)) & 0xf)) ^ mask) & 0xff;
}

/** A-law byte to mu-law byte through linear PCM (G.711). */
export function alawToUlaw(a: number): number {
  return linearToUlaw(alawToLinear(a));
}

/** What a test tears down: tap's `t.teardown`. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * An engine (ports 40000-49999, `engine` options on top) with leg A (the phone side, remote learned) and
 * leg B (the far end, remote from SDP) bridged, and a UDP peer for each; all closed at teardown.
 */
export async function bridgedLegs(t: Teardown, engine: RtpEngineOptions = {}, a: object = {}, b: object = {}) {
  const rtp = new RtpEngine({ portMin: 40000, portMax: 49999, ...engine });
  const phone = await UdpPeer.open();
  const far = await UdpPeer.open();
  const legA = rtp.createLeg({ payloadType: 8, telephoneEventPayloadType: 101, ...a });
  const legB = rtp.createLeg({ payloadType: 8, telephoneEventPayloadType: 101, remote: { address: '127.0.0.1', port: far.port }, ...b });
  const bridge = rtp.bridge(legA, legB);
  t.teardown(async () => {
    rtp.close();
    await phone.close();
    await far.close();
  });
  return { engine: rtp, phone, far, legA, legB, bridge };
}

/** Whether this kernel runs the bridge's io_uring backend (Linux >= 6.1, io_uring not disabled). */
export function uringAvailable(): boolean {
  try {
    new RtpEngine({ portMin: 40000, portMax: 40001, backend: 'io_uring' }).close();
    return true;
  } catch (err) {
    if (err instanceof MediaError) return false;
    throw err;
  }
}
