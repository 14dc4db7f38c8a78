/**
 * A small client of rtpengine's ng control protocol (UDP; each message is `<cookie> <bencoded dict>`, the
 * reply echoes the cookie), for the rtp-relay benchmark's baseline. Bencode as in BitTorrent BEP 3.
 */
import { createSocket, type Socket } from 'node:dgram';

export type Bencoded = string | number | Bencoded[] | { [key: string]: Bencoded };

/** Encodes a value (strings as UTF-8 byte strings, integers, lists, dictionaries with sorted keys). */
export function bencode(value: Bencoded): Buffer {
  if (typeof value === 'number') return Buffer.from(`i${Math.trunc(value)}e`);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([Buffer.from(`${bytes.length}:`), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([Buffer.from('l'), ...value.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(value).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(value[k]!)]), Buffer.from('e')]);
}

/** Decodes one value starting at `at`; returns it and the offset after it. */
export function bdecode(buf: Buffer, at = 0): [Bencoded, number] {
  const c = String.fromCharCode(buf[at]!);
  if (c === 'i') {
    const end = buf.indexOf(0x65, at);
    return [Number(buf.subarray(at + 1, end).toString()), end + 1];
  }
  if (c === 'l') {
    const list: Bencoded[] = [];
    let i = at + 1;
    while (buf[i] !== 0x65) {
      const [v, next] = bdecode(buf, i);
      list.push(v);
      i = next;
    }
    return [list, i + 1];
  }
  if (c === 'd') {
    const dict: { [key: string]: Bencoded } = {};
    let i = at + 1;
    while (buf[i] !== 0x65) {
      const [k, afterKey] = bdecode(buf, i);
      const [v, next] = bdecode(buf, afterKey);
      dict[String(k)] = v;
      i = next;
    }
    return [dict, i + 1];
  }
  const colon = buf.indexOf(0x3a, at);
  if (colon < 0) throw new Error('bencode: bad string');
  const len = Number(buf.subarray(at, colon).toString());
  return [buf.subarray(colon + 1, colon + 1 + len).toString('utf8'), colon + 1 + len];
}

/** Sends ng commands and matches replies by cookie. */
export class NgClient {
  private readonly socket: Socket = createSocket('udp4');
  private readonly waiting = new Map<string, (reply: { [key: string]: Bencoded }) => void>();
  private counter = 0;

  constructor(private readonly port: number) {
    this.socket.on('message', (msg) => {
      const space = msg.indexOf(0x20);
      const cookie = msg.subarray(0, space).toString();
      const [reply] = bdecode(msg, space + 1);
      const done = this.waiting.get(cookie);
      if (done) {
        this.waiting.delete(cookie);
        done(reply as { [key: string]: Bencoded });
      }
    });
  }

  /** One command; rejects when rtpengine answers `result: error` or nothing within the timeout. */
  command(dict: { [key: string]: Bencoded }, timeoutMs = 5000): Promise<{ [key: string]: Bencoded }> {
    const cookie = `${process.pid}_${++this.counter}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(cookie);
        reject(new Error(`ng ${String(dict['command'])} timed out`));
      }, timeoutMs);
      this.waiting.set(cookie, (reply) => {
        clearTimeout(timer);
        if (reply['result'] !== 'ok' && reply['result'] !== 'pong') reject(new Error(`ng ${String(dict['command'])}: ${JSON.stringify(reply)}`));
        else resolve(reply);
      });
      this.socket.send(Buffer.concat([Buffer.from(cookie + ' '), bencode(dict)]), this.port, '127.0.0.1');
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** An SDP body offering PCMA at 127.0.0.1:port. */
export function pcmaSdp(port: number, id: number): string {
  return [
    'v=0',
    `o=bench ${id} 1 IN IP4 127.0.0.1`,
    's=bench',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 8`,
    'a=rtpmap:8 PCMA/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

/** The audio port of an SDP body. */
export function sdpAudioPort(sdp: string): number {
  const m = /^m=audio (\d+)/m.exec(sdp);
  if (!m) throw new Error('no audio port in SDP');
  return Number(m[1]);
}
