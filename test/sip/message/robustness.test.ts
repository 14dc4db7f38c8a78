/**
 * No input crashes the parser: deterministic mutations of the RFC 4475 messages (byte flips, truncation,
 * inserted separators) must either parse or throw SipParseError, through every typed accessor, the
 * builders and the stream framer.
 */
import { readFileSync, readdirSync } from 'node:fs';

import t from 'tap';

import { SipParseError, StreamFramer, createResponse, parseMessage, type SipMessage } from '../../../src/sip/index.js';

const dir = new URL('../../../captures/public/rfc4475/', import.meta.url);
const seeds = readdirSync(dir).filter((f) => f.endsWith('.dat')).sort().map((f) => readFileSync(new URL(f, dir)));

/** xorshift32: the same sequence on every run. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const SPECIAL = Buffer.from('\r\n \t:;,<>"\\=?@%\0\xff/');

function mutate(buf: Buffer, r: () => number): Buffer {
  const b = Buffer.from(buf);
  const edits = 1 + Math.floor(r() * 4);
  let out = b;
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(r() * out.length);
    const kind = Math.floor(r() * 4);
    if (kind === 0) out[at] = Math.floor(r() * 256);
    else if (kind === 1) out[at] = SPECIAL[Math.floor(r() * SPECIAL.length)]!;
    else if (kind === 2) out = out.subarray(0, at);
    else out = Buffer.concat([out.subarray(0, at), SPECIAL.subarray(Math.floor(r() * SPECIAL.length)).subarray(0, 1), out.subarray(at)]);
    if (out.length === 0) break;
  }
  return out;
}

function exercise(m: SipMessage): void {
  m.validate();
  void m.via.map((v) => [v.branch, v.received, v.rport, v.maddr, v.params.size, v.toString()]);
  void [m.from.tag, m.from.uri.toString(), m.to.tag, m.to.uri.hostport, m.callId, m.cseq.seq];
  void m.contact.map((c) => (c === '*' ? c : [c.expires, c.q, c.uri.equals(c.uri)]));
  void [m.maxForwards, m.expires, m.contentType, m.body.length, m.toBuffer().length];
  void parseMessage(m.toBuffer());
}

t.test('mutated messages never throw anything but SipParseError', (t) => {
  const r = rng(4475);
  let valid = 0;
  let invalid = 0;
  for (let i = 0; i < 4000; i++) {
    const input = mutate(seeds[i % seeds.length]!, r);
    try {
      exercise(parseMessage(input));
      valid++;
    } catch (err) {
      if (!(err instanceof SipParseError)) {
        t.fail(`unexpected ${(err as Error).stack} for ${JSON.stringify(input.toString('latin1').slice(0, 200))}`);
        break;
      }
      invalid++;
      if (err.partial?.isRequest) {
        try {
          createResponse(err.partial, err.status ?? 400, err.reason).toBuffer();
        } catch (e) {
          t.fail(`createResponse on a partial threw ${(e as Error).stack}`);
          break;
        }
      }
    }
  }
  t.ok(valid > 0 && invalid > 0, `${valid} valid, ${invalid} invalid`);
  t.end();
});

t.test('the stream framer survives mutated streams', (t) => {
  const r = rng(5626);
  for (let i = 0; i < 300; i++) {
    const stream = Buffer.concat(seeds.slice(i % 10, (i % 10) + 5).map((s) => mutate(s, r)));
    const f = new StreamFramer({ maxBodyBytes: 4096 });
    for (let at = 0; at < stream.length; at += 1 + Math.floor(r() * 700)) {
      for (const ev of f.push(stream.subarray(at, at + 700))) {
        if (ev.kind !== 'message') continue;
        try {
          parseMessage(ev.buf).validate();
        } catch (err) {
          if (!(err instanceof SipParseError)) throw err;
        }
      }
    }
  }
  t.pass('no exception escaped');
  t.end();
});
