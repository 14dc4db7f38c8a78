/**
 * DNS message encoding and decoding (RFC 1035 §4) for the record types ENUM needs: NAPTR (RFC 3403 §4.1)
 * and SOA (for negative caching, RFC 2308). Decoding follows name compression pointers (RFC 1035 §4.1.4)
 * backwards only, bounds-checks every read, and throws {@link EnumError} `ENUM_ERR_MALFORMED` on any
 * packet that does not parse.
 */
import { EnumError } from './errors.js';

/** Resource record types used here (RFC 1035 §3.2.2, RFC 3403 §4). */
export const RrType = { A: 1, NS: 2, CNAME: 5, SOA: 6, NAPTR: 35 } as const;
/** Class IN. */
export const CLASS_IN = 1;

/** Response codes (RFC 1035 §4.1.1). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** NAPTR RDATA (RFC 3403 §4.1). */
export interface NaptrData {
  order: number;
  preference: number;
  flags: string;
  service: string;
  regexp: string;
  replacement: string;
}

/** SOA RDATA (RFC 1035 §3.3.13); `minimum` is the negative-caching TTL (RFC 2308 §4). */
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** A decoded resource record; `data` is set for NAPTR and SOA. */
export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  naptr?: NaptrData;
  soa?: SoaData;
}

/** A decoded DNS message. */
export interface DnsMessage {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rcode: number;
  questions: { name: string; type: number; class: number }[];
  answers: ResourceRecord[];
  authority: ResourceRecord[];
}

function malformed(msg: string): EnumError {
  return new EnumError('ENUM_ERR_MALFORMED', `malformed DNS message: ${msg}`);
}

/**
 * Encode a standard query (opcode 0, RD set) for one question.
 * @throws EnumError `ENUM_ERR_MALFORMED` when the name has a label over 63 octets or is over 255 octets.
 */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  let total = 1;
  const encoded = labels.map((l) => {
    const b = Buffer.from(l, 'utf8');
    if (b.length > 63) throw malformed(`label '${l}' longer than 63 octets`);
    total += b.length + 1;
    return b;
  });
  if (total > 255) throw malformed('name longer than 255 octets');
  const out = Buffer.alloc(12 + total + 4);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(0x0100, 2);
  out.writeUInt16BE(1, 4);
  let pos = 12;
  for (const b of encoded) {
    out[pos++] = b.length;
    pos += b.copy(out, pos);
  }
  out[pos++] = 0;
  out.writeUInt16BE(type, pos);
  out.writeUInt16BE(CLASS_IN, pos + 2);
  return out;
}

/** Read a possibly compressed domain name at `offset`; returns it and the offset after it in place. */
function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let length = 1;
  for (let jumps = 0; ; ) {
    if (pos >= buf.length) throw malformed('name runs past the end');
    const len = buf[pos]!;
    if (len === 0) {
      if (next === -1) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw malformed('truncated compression pointer');
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= pos || ++jumps > 64) throw malformed('compression pointer does not point backwards');
      if (next === -1) next = pos + 2;
      pos = target;
      continue;
    }
    if (kind !== 0) throw malformed(`unknown label type 0x${kind.toString(16)}`);
    if (pos + 1 + len > buf.length) throw malformed('label runs past the end');
    length += len + 1;
    if (length > 255) throw malformed('name longer than 255 octets');
    labels.push(buf.toString('utf8', pos + 1, pos + 1 + len));
    pos += len + 1;
  }
  return { name: labels.join('.'), next };
}

function readCharString(buf: Buffer, pos: number, end: number): { text: string; next: number } {
  if (pos >= end) throw malformed('character-string runs past its record');
  const len = buf[pos]!;
  if (pos + 1 + len > end) throw malformed('character-string runs past its record');
  return { text: buf.toString('utf8', pos + 1, pos + 1 + len), next: pos + 1 + len };
}

function need(buf: Buffer, pos: number, n: number): void {
  if (pos + n > buf.length) throw malformed('record runs past the end');
}

function readRecord(buf: Buffer, offset: number): { rr: ResourceRecord; next: number } {
  const { name, next: p } = readName(buf, offset);
  need(buf, p, 10);
  const type = buf.readUInt16BE(p);
  const klass = buf.readUInt16BE(p + 2);
  // RFC 2181 §8: a TTL with the top bit set is treated as zero.
  const rawTtl = buf.readUInt32BE(p + 4);
  const ttl = rawTtl > 0x7fffffff ? 0 : rawTtl;
  const rdlen = buf.readUInt16BE(p + 8);
  const start = p + 10;
  const end = start + rdlen;
  need(buf, start, rdlen);
  const rr: ResourceRecord = { name, type, class: klass, ttl };
  if (type === RrType.NAPTR) {
    if (rdlen < 7) throw malformed('NAPTR RDATA too short');
    const order = buf.readUInt16BE(start);
    const preference = buf.readUInt16BE(start + 2);
    const flags = readCharString(buf, start + 4, end);
    const service = readCharString(buf, flags.next, end);
    const regexp = readCharString(buf, service.next, end);
    const repl = readName(buf, regexp.next);
    if (repl.next !== end) throw malformed('NAPTR RDATA length does not match its fields');
    rr.naptr = { order, preference, flags: flags.text, service: service.text, regexp: regexp.text, replacement: repl.name };
  } else if (type === RrType.SOA) {
    const mname = readName(buf, start);
    const rname = readName(buf, mname.next);
    if (rname.next + 20 !== end) throw malformed('SOA RDATA length does not match its fields');
    const q = rname.next;
    rr.soa = {
      mname: mname.name,
      rname: rname.name,
      serial: buf.readUInt32BE(q),
      refresh: buf.readUInt32BE(q + 4),
      retry: buf.readUInt32BE(q + 8),
      expire: buf.readUInt32BE(q + 12),
      minimum: buf.readUInt32BE(q + 16),
    };
  }
  return { rr, next: end };
}

/** The ID of a message, or undefined when it is shorter than a header. */
export function messageId(buf: Buffer): number | undefined {
  return buf.length >= 12 ? buf.readUInt16BE(0) : undefined;
}

/**
 * Decode a DNS message: header, questions, answer and authority sections (the additional section is not
 * needed and not read).
 * @throws EnumError `ENUM_ERR_MALFORMED`.
 */
export function decodeMessage(buf: Buffer): DnsMessage {
  if (buf.length < 12) throw malformed(`${buf.length} bytes, shorter than a header`);
  const flags = buf.readUInt16BE(2);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const msg: DnsMessage = {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    questions: [],
    answers: [],
    authority: [],
  };
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    const { name, next } = readName(buf, pos);
    need(buf, next, 4);
    msg.questions.push({ name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  // A truncated (TC) answer may stop anywhere after the question; the caller retries over TCP.
  if (msg.tc) return msg;
  for (let i = 0; i < an; i++) {
    const r = readRecord(buf, pos);
    msg.answers.push(r.rr);
    pos = r.next;
  }
  for (let i = 0; i < ns; i++) {
    const r = readRecord(buf, pos);
    msg.authority.push(r.rr);
    pos = r.next;
  }
  return msg;
}

/** Encode a response (used by tests' fake servers and the benchmark): NAPTR answers, optional SOA. */
export function encodeResponse(q: { id: number; name: string; type: number }, opts: { rcode?: number; tc?: boolean; aa?: boolean; answers?: (NaptrData & { ttl: number })[]; soa?: SoaData & { ttl: number } }): Buffer {
  const query = encodeQuery(q.id, q.name, q.type);
  const header = query.subarray(0, 12);
  let flags = 0x8000 | 0x0100 | 0x0080 | (opts.rcode ?? 0);
  if (opts.tc) flags |= 0x0200;
  if (opts.aa) flags |= 0x0400;
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(opts.answers?.length ?? 0, 6);
  header.writeUInt16BE(opts.soa ? 1 : 0, 8);
  const parts: Buffer[] = [query];
  const nameLabels = (n: string): Buffer => {
    if (n === '' || n === '.') return Buffer.from([0]);
    const bs: Buffer[] = [];
    for (const l of n.split('.')) {
      const b = Buffer.from(l, 'utf8');
      bs.push(Buffer.from([b.length]), b);
    }
    bs.push(Buffer.from([0]));
    return Buffer.concat(bs);
  };
  const cs = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([b.length]), b]);
  };
  const rr = (type: number, ttl: number, rdata: Buffer): Buffer => {
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0);
    fixed.writeUInt16BE(type, 2);
    fixed.writeUInt16BE(CLASS_IN, 4);
    fixed.writeUInt32BE(ttl, 6);
    fixed.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([fixed, rdata]);
  };
  for (const a of opts.answers ?? []) {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(a.order, 0);
    head.writeUInt16BE(a.preference, 2);
    parts.push(rr(RrType.NAPTR, a.ttl, Buffer.concat([head, cs(a.flags), cs(a.service), cs(a.regexp), nameLabels(a.replacement)])));
  }
  if (opts.soa) {
    const s = opts.soa;
    const nums = Buffer.alloc(20);
    [s.serial, s.refresh, s.retry, s.expire, s.minimum].forEach((v, i) => nums.writeUInt32BE(v, i * 4));
    parts.push(rr(RrType.SOA, s.ttl, Buffer.concat([nameLabels(s.mname), nameLabels(s.rname), nums])));
  }
  return Buffer.concat(parts);
}
