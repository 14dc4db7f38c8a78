import { createRequire } from 'node:module';

import { SwitchhookError } from '../errors.js';

/** One captured frame, copied out of libpcap's reused buffer. */
export interface PcapFrame {
  /** Capture time in seconds (with microseconds). */
  readonly ts: number;
  /** Link-layer header type (tcpdump.org LINKTYPE_* number). */
  readonly linkType: number;
  /** Captured bytes (caplen). */
  readonly data: Buffer;
  /** Original length on the wire. */
  readonly wireLength: number;
}

interface PcapSession {
  link_type: string;
  on(event: 'packet', fn: (p: { buf: Buffer; header: Buffer }) => void): void;
  on(event: 'complete', fn: () => void): void;
  close(): void;
}

interface PcapModule {
  PcapSession: new (live: boolean, path: string, filter: string, bufferSize: number, snapLength: number) => PcapSession;
}

/** Largest frame read whole (libpcap's offline default would cut frames at 65,535 bytes). */
const snapLength = 262_144;

const LINK_TYPES: Record<string, number> = {
  LINKTYPE_NULL: 0,
  LINKTYPE_ETHERNET: 1,
  LINKTYPE_RAW: 101,
  LINKTYPE_LINUX_SLL: 113,
  LINKTYPE_IEEE802_11_RADIO: 127,
};

/** A capture file that cannot be read. */
export class PcapError extends SwitchhookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PCAP_ERR_READ', message, options);
  }
}

/**
 * Reads every frame of a pcap or pcapng file with libpcap (the `pcap` npm package). Frames are copied,
 * since libpcap hands out one reused buffer. With `linkTypes`, a capture of any other link type is refused.
 */
export function readPcapFile(path: string, linkTypes?: ReadonlySet<number>): Promise<PcapFrame[]> {
  const pcap = createRequire(import.meta.url)('pcap') as PcapModule;
  return new Promise((resolve, reject) => {
    let session: PcapSession;
    try {
      session = new pcap.PcapSession(false, path, '', 0, snapLength);
    } catch (err) {
      reject(new PcapError(`cannot open ${path}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const named = LINK_TYPES[session.link_type];
    const m = /Unknown linktype (\d+)/.exec(session.link_type);
    const linkType = named ?? (m ? Number(m[1]) : -1);
    if (linkTypes && !linkTypes.has(linkType)) {
      session.close();
      reject(new PcapError(`capture ${path}: unsupported link type ${linkType}`));
      return;
    }
    const frames: PcapFrame[] = [];
    session.on('packet', (p) => {
      const h = p.header;
      const caplen = h.readUInt32LE(8);
      frames.push({
        ts: h.readUInt32LE(0) + h.readUInt32LE(4) / 1e6,
        linkType,
        data: Buffer.from(p.buf.subarray(0, caplen)),
        wireLength: h.readUInt32LE(12),
      });
    });
    session.on('complete', () => {
      session.close();
      resolve(frames);
    });
  });
}
