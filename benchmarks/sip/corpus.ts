/**
 * The SIP message corpus of the parser benchmarks: RFC 4475 valid messages, the public edge captures and
 * the recorded SIPp traffic in captures/sip/, as raw message buffers (TCP streams framed by Content-Length).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { StreamFramer } from '../../src/sip/transport/stream-framer.js';
import { readCapture } from '../../src/util/pcap/index.js';
import { packageRoot } from '../../src/util/package-root.js';

/** RFC 4475 3.1.1 valid messages plus those of 3.2-3.4 that parse (application-level verdicts). */
const RFC4475_VALID = [
  'wsinv', 'intmeth', 'esc01', 'escnull', 'esc02', 'lwsdisp', 'longreq', 'dblreq', 'semiuri', 'transports',
  'mpart01', 'unreason', 'noreason', 'badbranch', 'unkscm', 'novelsc', 'unksm2', 'bext01', 'invut', 'regaut01',
  'bcast', 'zeromf', 'cparam01', 'cparam02', 'regescrt', 'sdp01', 'inv2543',
];

export interface Corpus {
  rfc4475: Buffer[];
  edge: Buffer[];
  recorded: Buffer[];
}

async function messagesOfCapture(path: string): Promise<Buffer[]> {
  const c = await readCapture(path);
  const out: Buffer[] = c.udp.map((d) => d.payload).filter((p) => p.length > 16);
  for (const s of c.tcp) {
    for (const ev of new StreamFramer({ maxBodyBytes: 1 << 20 }).push(s.data)) if (ev.kind === 'message') out.push(ev.buf);
  }
  return out;
}

export async function loadCorpus(): Promise<Corpus> {
  const root = packageRoot();
  const rfc4475 = RFC4475_VALID.map((n) => readFileSync(join(root, 'captures/public/rfc4475', `${n}.dat`)));
  const edge: Buffer[] = [];
  for (const f of readdirSync(join(root, 'captures/public/sip-edge')).filter((f) => f.endsWith('.pcap')).sort()) {
    edge.push(...(await messagesOfCapture(join(root, 'captures/public/sip-edge', f))));
  }
  const recorded: Buffer[] = [];
  for (const f of readdirSync(join(root, 'captures/sip')).filter((f) => f.endsWith('.pcap')).sort()) {
    recorded.push(...(await messagesOfCapture(join(root, 'captures/sip', f))));
  }
  return { rfc4475, edge, recorded };
}
