/**
 * `npm run bench -- sip-parse`: SIP messages parsed per second by switchhook's lazy parser against the
 * `sip` npm package's `sip.parse`, in the same run, over the corpus of benchmarks/sip/corpus.ts.
 * Comparable work on both sides: start line with the Request-URI, the structure of Via, From, To, Call-ID,
 * CSeq and Contact, and the body (framed by Content-Length): what a receiving stack reads of every message.
 * The lazy parser is made to read all of them; `sip.parse` parses them eagerly and they are read too.
 * Rates are messages per second of this process's CPU time, so that other load on the machine does not
 * skew one side; trials alternate between the two parsers and the median is reported.
 */
import { createRequire } from 'node:module';

import { parseMessage, type NameAddr, type SipRequest, type SipResponse } from '../../src/sip/message/index.js';
import { loadCorpus } from './corpus.js';

interface SipJsMessage {
  method?: string;
  uri?: string;
  status?: number;
  content: string;
  headers: {
    via?: Array<{ host: string; port?: number; protocol: string; params: Record<string, string | null> }>;
    from?: { name?: string; uri: string; params: Record<string, string | null> };
    to?: { name?: string; uri: string; params: Record<string, string | null> };
    'call-id'?: string;
    cseq?: { seq: number; method: string };
    contact?: Array<{ name?: string; uri: string; params: Record<string, string | null> }> | '*';
  };
}

const sipjs = createRequire(import.meta.url)('sip') as { parse(b: Buffer): SipJsMessage | undefined };

/** Work done per message by switchhook's parser; returns a number so the JIT cannot drop it. */
function ours(buf: Buffer): number {
  const m = parseMessage(buf);
  let n = m.isRequest ? (m as SipRequest).method.length + (m as SipRequest).uriString.length : (m as SipResponse).status;
  n += m.body.length;
  for (const v of m.via) n += v.host.length + (v.port ?? 0) + (v.branch?.length ?? 0) + v.transport.length;
  const from = m.from;
  const to = m.to;
  n += from.uriText.length + (from.tag?.length ?? 0) + (from.displayName?.length ?? 0);
  n += to.uriText.length + (to.tag?.length ?? 0);
  n += m.callId.length + m.cseq.seq + m.cseq.method.length;
  for (const c of m.contact) n += c === "*" ? 1 : (c as NameAddr).uriText.length + (c as NameAddr).params.size;
  return n;
}

/** The same reads on `sip.parse`'s result. */
function baseline(buf: Buffer): number {
  const m = sipjs.parse(buf)!;
  const h = m.headers;
  let n = m.method !== undefined ? m.method.length + m.uri!.length : m.status!;
  n += m.content.length;
  for (const v of h.via ?? []) n += v.host.length + (v.port ?? 0) + (v.params['branch']?.length ?? 0) + v.protocol.length;
  n += h.from!.uri.length + (h.from!.params['tag']?.length ?? 0) + (h.from!.name?.length ?? 0);
  n += h.to!.uri.length + (h.to!.params['tag']?.length ?? 0);
  n += h['call-id']!.length + h.cseq!.seq + h.cseq!.method.length;
  const contact = h.contact;
  if (contact === '*') n += 1;
  else for (const c of contact ?? []) n += c.uri.length + Object.keys(c.params).length;
  return n;
}

/** CPU time of this process in nanoseconds (user + system): steadier than wall time on a shared machine. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** Runs `fn` over the corpus for about `ms` milliseconds of CPU time; returns messages per CPU second. */
function trial(fn: (b: Buffer) => number, corpus: Buffer[], ms: number): { rate: number; sink: number } {
  let sink = 0;
  let count = 0;
  const start = cpuNs();
  const limit = ms * 1e6;
  let elapsed = 0;
  while (elapsed < limit) {
    for (let i = 0; i < corpus.length; i++) sink += fn(corpus[i]!);
    count += corpus.length;
    elapsed = cpuNs() - start;
  }
  return { rate: count / (elapsed / 1e9), sink };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export default async function run(args: string[]): Promise<void> {
  const trialMs = Number(args[0] ?? 1500);
  const trials = Number(args[1] ?? 5);
  const { rfc4475, edge, recorded } = await loadCorpus();
  // Only messages both parsers accept with the headers read above, so both do the same job.
  const usable = (b: Buffer) => {
    try {
      ours(b);
      baseline(b);
      return true;
    } catch {
      return false;
    }
  };
  const corpus = [...rfc4475, ...edge, ...recorded].filter(usable);
  const bytes = corpus.reduce((s, b) => s + b.length, 0);
  console.log(
    `corpus: ${corpus.length} messages (${rfc4475.filter(usable).length} RFC 4475, ${edge.filter(usable).length} edge, ` +
      `${recorded.filter(usable).length} recorded), ${(bytes / corpus.length).toFixed(0)} bytes on average`,
  );
  // Warm-up: both code paths reach their optimised tiers before timing.
  trial(ours, corpus, 500);
  trial(baseline, corpus, 500);
  const a: number[] = [];
  const b: number[] = [];
  let sink = 0;
  for (let i = 0; i < trials; i++) {
    const x = trial(ours, corpus, trialMs);
    const y = trial(baseline, corpus, trialMs);
    a.push(x.rate);
    b.push(y.rate);
    sink += x.sink + y.sink;
    console.log(`trial ${i + 1}: switchhook ${x.rate.toFixed(0)} msg/s, sip.parse ${y.rate.toFixed(0)} msg/s`);
  }
  const mine = median(a);
  const theirs = median(b);
  if (sink === 0) console.log('(sink 0)');
  console.log(
    JSON.stringify({ bench: 'sip-parse', messagesPerSec: Math.round(mine), baselineMessagesPerSec: Math.round(theirs), ratio: Number((mine / theirs).toFixed(2)) }),
  );
}
