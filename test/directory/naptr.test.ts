import t from 'tap';

import { applySubstitution, decodeMessage, encodeQuery, encodeResponse, parseEnumservices, parseSubstitution, sortNaptr, RrType } from '../../src/directory/index.js';

// RFC 3402 §3.2 substitution expressions, RFC 6116 / RFC 3403 examples.
const vectors: [string, string, string | undefined][] = [
  // RFC 6116 §6.1 example: "!^.*$!sip:info@example.com!"
  ['!^.*$!sip:info@example.com!', '+441632960083', 'sip:info@example.com'],
  // Clearwater docs: back-reference to the whole number.
  ['!(^.*$)!sip:\\1@10.0.0.1!', '+15551234', 'sip:+15551234@10.0.0.1'],
  // Any delimiter; escaped delimiter inside the replacement.
  ['#^\\+1(555)(.*)$#sip:\\2@site\\#\\1.example#', '+15551234', 'sip:1234@site#555.example'],
  // The `i` flag, and sed semantics: only the matched part is replaced.
  ['/ABC/x/i', 'zabcz', 'zxz'],
  // POSIX bracket class.
  ['!^\\+([[:digit:]]{2})!00\\1!', '+4412', '004412'],
  // A literal backslash in the replacement.
  ['!^(.*)$!a\\\\b!', '+1', 'a\\b'],
  // No match: the rule does not apply.
  ['!^\\+44.*$!sip:uk@example.com!', '+15551234', undefined],
];
for (const [expr, input, out] of vectors) t.equal(applySubstitution(parseSubstitution(expr), input), out, expr);

const bad: [string, string][] = [
  ['!a!', 'missing delimiter'],
  ['1a1b1', 'digit delimiter'],
  ['\\a\\b\\', 'backslash delimiter'],
  ['!(!x!', 'invalid ERE'],
  ['!a!b!g', 'unknown flag'],
  ['!!b!', 'empty ERE'],
  ['!a!\\1!', 'back-reference without a group'],
  ['!' + 'a'.repeat(2000) + '!b!', 'too long'],
];
for (const [expr, why] of bad) t.throws(() => parseSubstitution(expr), { code: 'ENUM_ERR_REGEXP' }, why);

t.same(parseEnumservices('E2U+sip'), ['sip']);
t.same(parseEnumservices('E2U+pstn:tel'), ['pstn:tel']);
t.same(parseEnumservices('e2u+voice:tel+sip'), ['voice:tel', 'sip']);
t.equal(parseEnumservices('sip+E2U'), undefined);
t.equal(parseEnumservices('E2U'), undefined);
t.equal(parseEnumservices('E2U+bad service'), undefined);
t.same(sortNaptr([{ order: 20, preference: 1 }, { order: 10, preference: 9 }, { order: 10, preference: 2 }]), [
  { order: 10, preference: 2 },
  { order: 10, preference: 9 },
  { order: 20, preference: 1 },
]);

t.test('DNS wire format', async (t) => {
  const q = encodeQuery(0xbeef, '4.3.2.1.e164.arpa.', RrType.NAPTR);
  t.equal(q.readUInt16BE(0), 0xbeef);
  t.equal(q.readUInt16BE(2), 0x0100, 'RD set');
  t.equal(q.length, 12 + 19 + 4);
  t.throws(() => encodeQuery(1, 'a'.repeat(64) + '.arpa', RrType.NAPTR), { code: 'ENUM_ERR_MALFORMED' });
  t.throws(() => encodeQuery(1, Array(130).fill('a').join('.'), RrType.NAPTR), { code: 'ENUM_ERR_MALFORMED' });

  const r = encodeResponse(
    { id: 7, name: '4.3.2.1.e164.arpa', type: RrType.NAPTR },
    {
      aa: true,
      answers: [{ order: 100, preference: 10, flags: 'u', service: 'E2U+sip', regexp: '!^.*$!sip:a@b!', replacement: '', ttl: 0x80000000 }],
      soa: { mname: 'ns.test', rname: 'hostmaster.test', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5, ttl: 6 },
    },
  );
  const m = decodeMessage(r);
  t.match(m, { id: 7, qr: true, aa: true, tc: false, rcode: 0, questions: [{ name: '4.3.2.1.e164.arpa', type: 35, class: 1 }] });
  t.same(m.answers[0]!.naptr, { order: 100, preference: 10, flags: 'u', service: 'E2U+sip', regexp: '!^.*$!sip:a@b!', replacement: '' });
  t.equal(m.answers[0]!.ttl, 0, 'a TTL with the top bit set counts as 0 (RFC 2181 §8)');
  t.match(m.authority[0]!.soa, { mname: 'ns.test', minimum: 5 });

  // Every prefix of a valid message is rejected cleanly, never thrown as anything but EnumError.
  for (let len = 0; len < r.length; len++) {
    try {
      decodeMessage(r.subarray(0, len));
      t.fail(`prefix ${len} parsed`);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENUM_ERR_MALFORMED') t.fail(`prefix ${len}: ${String(err)}`);
    }
  }
  // Unknown label type, forward pointer, RDATA length not matching its fields.
  const badLabel = Buffer.from(r);
  badLabel[12] = 0x40;
  t.throws(() => decodeMessage(badLabel), { code: 'ENUM_ERR_MALFORMED' });
  const forward = Buffer.from(r);
  forward.writeUInt16BE(0xc000 | 100, 12);
  t.throws(() => decodeMessage(forward), { code: 'ENUM_ERR_MALFORMED' });
  const rdlen = Buffer.from(r);
  const at = 12 + 19 + 4 + 2 + 8;
  rdlen.writeUInt16BE(rdlen.readUInt16BE(at) + 1, at);
  t.throws(() => decodeMessage(rdlen), { code: 'ENUM_ERR_MALFORMED' });
  // Random bytes never escape as anything but EnumError.
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(r);
    for (let k = 0; k < 4; k++) b[12 + (rnd() % (b.length - 12))] = rnd();
    try {
      decodeMessage(b);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENUM_ERR_MALFORMED') t.fail(String(err));
    }
  }
});
