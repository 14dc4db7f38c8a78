import t from 'tap';

import { SipScanWord, SipScanner, SIP_HEADER_WORDS, SIP_ITEM_WORDS, SipItemKind, SipHeaderRole } from '../../src/native/sip.js';
import { NameAddr, parseMessage } from '../../src/sip/index.js';

const msg = (lines: string[], body = '') => Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'latin1');

const INVITE = msg(
  [
    'INVITE sip:bob@example.com SIP/2.0',
    'Via: SIP/2.0/UDP pc33.example.com:5070;branch=z9hG4bK776;rport, SIP/2.0/tcp p2.example.com;branch=z9hG4bK2',
    'Max-Forwards: 70',
    'To: Bob <sip:bob@example.com>',
    'f: "A. Alice" <sip:alice@example.com>;tag=1928',
    'Call-ID: a84b4c76e66710',
    'CSeq: 314159 INVITE',
    'm: <sip:alice@pc33.example.com>;expires=60, sip:a2@x;q=0.5',
    'X-Custom : value',
    'l: 4',
  ],
  'v=0\n',
);

const TABLE = [
  { lower: 'via', single: 0, role: SipHeaderRole.Via, slot: 1 },
  { lower: 'from', single: 1, role: SipHeaderRole.NameAddr, slot: 2 },
  { lower: 'f', single: 1, role: SipHeaderRole.NameAddr, slot: 2 },
  { lower: 'to', single: 2, role: SipHeaderRole.NameAddr, slot: 3 },
  { lower: 'call-id', single: 3, role: SipHeaderRole.CallId, slot: 12 },
  { lower: 'cseq', single: 4, role: SipHeaderRole.CSeq },
  { lower: 'm', single: 0, role: SipHeaderRole.NameAddrList, slot: 4 },
  { lower: 'l', single: 5, role: SipHeaderRole.ContentLength },
];

t.test('the record: start line, header lines with name ids, hot values pre-split (RFC 3261 7, 25.1)', async (t) => {
  const sc = new SipScanner(TABLE);
  const head = sc.scan(INVITE, 32768, 65536, 256)!;
  const at = sc.at;
  const w = sc.record;
  t.equal(head, INVITE.toString('latin1', w[at + SipScanWord.Base], w[at + SipScanWord.BodyStart]), 'the head as latin1');
  t.equal(w[at + SipScanWord.Kind], 1);
  t.equal(head.slice(0, w[at + SipScanWord.Line0]), 'INVITE');
  t.equal(head.slice(w[at + SipScanWord.Line1], w[at + SipScanWord.Line2]), 'sip:bob@example.com');
  t.equal(INVITE.toString('latin1', w[at + SipScanWord.BodyStart], w[at + SipScanWord.BodyEnd]), 'v=0\n');
  const n = w[at + SipScanWord.HeaderCount]!;
  t.equal(n, 9);
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const h = at + SipScanWord.FirstHeader + i * SIP_HEADER_WORDS;
    names.push(`${w[h]}:${head.slice(w[h + 1], w[h + 2])}`);
  }
  t.same(names, ['0:Via', '-1:Max-Forwards', '3:To', '2:f', '4:Call-ID', '5:CSeq', '6:m', '-1:X-Custom', '7:l']);
  // Slots: the first item of each slot's headers (Via, From, To, Contact, Call-ID), 0 for an unused slot.
  const firstOf = (slot: number) => {
    const i = w[at + SipScanWord.SlotBase + slot - 1]!;
    return i === 0 ? '-' : `${w[at + i + 2]}@${(i - w[at + SipScanWord.ItemBase]!) / SIP_ITEM_WORDS}`;
  };
  t.same([1, 2, 3, 4, 5, 12].map(firstOf), ['1@0', '2@3', '2@2', '2@6', '-', '4@4']);
  const items: string[] = [];
  const base = at + w[at + SipScanWord.ItemBase]!;
  for (let i = 0; i < w[at + SipScanWord.ItemCount]!; i++) {
    const r = base + i * SIP_ITEM_WORDS;
    t.equal(w[r + 3], 1, 'canonical');
    const s = (a: number) => head.slice(w[r + a], w[r + a + 1]);
    switch (w[r + 2]) {
      case SipItemKind.Via:
        items.push(`via ${s(4)} ${s(6)} ${w[r + 8]} ${s(9)} branch=${s(11)}`);
        break;
      case SipItemKind.NameAddr:
        items.push(`na ${w[r + 4]} ${s(5)} ${s(7)} ${s(9)} tag=${w[r + 11] === -1 ? '-' : s(11)}`);
        break;
      case SipItemKind.CSeq:
        items.push(`cseq ${w[r + 4]} ${s(5)}`);
        break;
      case SipItemKind.CallId:
        items.push(`call-id ${s(4)}`);
        break;
      default:
        throw new Error('unknown item');
    }
  }
  t.same(items, [
    'via UDP pc33.example.com 5070 ;branch=z9hG4bK776;rport branch=z9hG4bK776',
    'via tcp p2.example.com -1 ;branch=z9hG4bK2 branch=z9hG4bK2',
    'na 1 Bob sip:bob@example.com  tag=-',
    'na 2 A. Alice sip:alice@example.com ;tag=1928 tag=1928',
    'call-id a84b4c76e66710',
    'cseq 314159 INVITE',
    'na 0  sip:alice@pc33.example.com ;expires=60 tag=-',
    'na 0  sip:a2@x ;q=0.5 tag=-',
  ]);
});

t.test('common methods and transports are named by their index in the token list', async (t) => {
  const tokens = ['INVITE', 'UDP', 'SUBSCRIBE', 'A-TOKEN-OF-16-BY', 'TOO-LONG-A-TOKEN-17', ''];
  const sc = new SipScanner(TABLE, tokens);
  sc.scan(INVITE, 32768, 65536, 256);
  const at = sc.at;
  const w = sc.record;
  t.equal(w[at + SipScanWord.MethodToken], 0, 'request method');
  const base = at + w[at + SipScanWord.ItemBase]!;
  const words: string[] = [];
  for (let i = 0; i < w[at + SipScanWord.ItemCount]!; i++) {
    const r = base + i * SIP_ITEM_WORDS;
    if (w[r + 2] === SipItemKind.Via) words.push(`via ${w[r + 13]}`);
    if (w[r + 2] === SipItemKind.CSeq) words.push(`cseq ${w[r + 7]}`);
  }
  t.same(words, ['via 1', 'via -1', 'cseq 0'], 'UDP named; tcp is not (case-sensitive)');
  const index = (method: string) => {
    t.type(sc.scan(msg([`${method} sip:a SIP/2.0`, `CSeq: 1 ${method}`]), 32768, 65536, 256), 'string', method);
    return w[sc.at + SipScanWord.MethodToken];
  };
  t.equal(index('SUBSCRIBE'), 2, 'a 9-byte token');
  t.equal(index('A-TOKEN-OF-16-BY'), 3, 'a 16-byte token');
  t.equal(index('TOO-LONG-A-TOKEN-17'), -1, 'longer tokens are never named');
  t.equal(index('INVITEX'), -1);
  t.equal(index('INVIT'), -1);
  sc.scan(msg(['SIP/2.0 200 OK', 'CSeq: 1 UDP']), 32768, 65536, 256);
  t.equal(w[sc.at + SipScanWord.MethodToken], -1, 'responses name no method');
  const r = sc.at + w[sc.at + SipScanWord.ItemBase]!;
  t.equal(w[r + 7], 1, 'CSeq method');
  // Messages take the list's strings.
  const m = parseMessage(msg(['SUBSCRIBE sip:a SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'CSeq: 2 SUBSCRIBE']));
  t.equal((m as unknown as { method: string }).method, 'SUBSCRIBE');
  t.equal(m.via[0]!.transport, 'UDP');
  t.equal(m.cseq.method, 'SUBSCRIBE');
  const odd = parseMessage(msg(['FOO sip:a SIP/2.0', 'Via: SIP/2.0/udp h;branch=z9hG4bK1', 'CSeq: 2 FOO']));
  t.equal((odd as unknown as { method: string }).method, 'FOO');
  t.equal(odd.via[0]!.transport, 'UDP', 'a transport not in the list, upper-cased');
  t.equal(odd.cseq.method, 'FOO');
});

t.test('faults and the unusual are left to the grammar path', async (t) => {
  const sc = new SipScanner(TABLE);
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['no empty line', Buffer.from('OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n')],
    ['folding', msg(['OPTIONS sip:a SIP/2.0', 'Via: SIP/2.0/UDP h', ' ;branch=x'])],
    ['repeated single header, other spelling', msg(['OPTIONS sip:a SIP/2.0', 'from: <sip:a>', 'f: <sip:b>'])],
    ['bad Content-Length', msg(['OPTIONS sip:a SIP/2.0', 'l: 4x'])],
    ['Content-Length past the end', msg(['OPTIONS sip:a SIP/2.0', 'l: 10'], 'abc')],
    ['version', msg(['OPTIONS sip:a SIP/3.0'])],
    ['status', msg(['SIP/2.0 99 Odd'])],
    ['no colon', msg(['OPTIONS sip:a SIP/2.0', 'Via SIP/2.0/UDP h'])],
  ];
  for (const [what, buf] of cases) t.equal(sc.scan(buf, 32768, 65536, 256), undefined, what);
  t.equal(sc.scan(INVITE, 100, 65536, 256), undefined, 'headers above the limit');
  t.equal(sc.scan(INVITE, 32768, 2, 256), undefined, 'body above the limit');
  t.equal(sc.scan(INVITE, 32768, 65536, 3), undefined, 'too many header lines');
  t.type(sc.scan(INVITE, 32768, 65536, 256), 'string', 'limits restored');
});

t.test('values outside the canonical forms are flagged, not split', async (t) => {
  const sc = new SipScanner(TABLE);
  const buf = msg([
    'OPTIONS sip:a SIP/2.0',
    'Via: SIP/2.0/UDP host.example.com ;branch=z9hG4bK1',
    'To: <sip:a>;tag="q;x"',
    'CSeq: 12345678901 OPTIONS',
    'Call-ID: a\tb',
  ]);
  t.type(sc.scan(buf, 32768, 65536, 256), 'string');
  const at = sc.at;
  const w = sc.record;
  const base = at + w[at + SipScanWord.ItemBase]!;
  const flags: number[] = [];
  for (let i = 0; i < w[at + SipScanWord.ItemCount]!; i++) flags.push(w[base + i * SIP_ITEM_WORDS + 3]!);
  t.same(flags, [0, 0, 0, 0]);
  // The grammar path still reads them (RFC 4475 3.1.1.1 style LWS, quoted parameter values).
  const m = parseMessage(buf);
  t.equal(m.topVia?.host, 'host.example.com');
  t.equal(m.topVia?.branch, 'z9hG4bK1');
  t.equal(m.to.tag, '"q;x"');
  t.throws(() => m.cseq, /out of range/);
  t.throws(() => m.callId, /whitespace/);
});

t.test('messages read after the record ring has come round to them scan their bytes again', async (t) => {
  const { scanner } = await import('../../src/sip/message/scan.js');
  const kept = [];
  let firstLap = 0;
  let firstAt = 0;
  for (let i = 0; i < 600; i++) {
    const buf = msg([
      'SIP/2.0 200 OK',
      `Via: SIP/2.0/UDP h${i}.example.com;branch=z9hG4bK${i};received=10.0.0.${i % 250}`,
      `From: <sip:a@x>;tag=f${i}`,
      `To: "B ${i}" <sip:b@x>;tag=t${i}`,
      `Call-ID: c${i}`,
      `CSeq: ${i + 1} INVITE`,
      `Contact: <sip:b${i}@x>`,
      'Content-Length: 0',
    ]);
    kept.push(parseMessage(buf));
    if (i === 0) {
      firstLap = scanner.lap;
      firstAt = scanner.at;
    }
  }
  t.notOk(scanner.intact(firstLap, firstAt), 'the first record was written over');
  for (let i = 0; i < kept.length; i++) {
    const m = kept[i]!;
    const v = m.topVia!;
    if (v.host !== `h${i}.example.com` || v.branch !== `z9hG4bK${i}` || v.received !== `10.0.0.${i % 250}`) t.fail(`via ${i}`);
    if (m.from.tag !== `f${i}` || m.to.tag !== `t${i}` || m.to.displayName !== `B ${i}`) t.fail(`from/to ${i}`);
    if (m.callId !== `c${i}` || m.cseq.seq !== i + 1) t.fail(`call-id/cseq ${i}`);
    if ((m.contact[0] as NameAddr).uriText !== `sip:b${i}@x`) t.fail(`contact ${i}`);
    if (m.header('content-length') !== '0') t.fail(`entries ${i}`);
  }
  t.pass('600 messages read back after the ring came round');
});

t.test('records are told intact across the wrap of the lap counter', async (t) => {
  const { recordIntact } = await import('../../src/native/sip.js');
  const last = 0x3fffffff;
  t.ok(recordIntact(5, 9000, 5, 100), 'same lap');
  t.ok(recordIntact(6, 100, 5, 9000), 'one lap behind, beyond what the last scan may write');
  t.notOk(recordIntact(6, 100, 5, 8000), 'one lap behind, within what the last scan may write');
  t.notOk(recordIntact(7, 0, 5, 30000), 'two laps behind');
  t.ok(recordIntact(0, 0, last, 20000), 'one lap behind across the wrap');
  t.notOk(recordIntact(0, 0, last, 100), 'one lap behind across the wrap, within the last scan');
  t.notOk(recordIntact(1, 0, last, 30000), 'two laps behind across the wrap');
  t.ok(recordIntact(last, 20000, last, 100), 'same lap at the top');
});

t.test('a scanned message edited before its headers are read keeps every header', async (t) => {
  const m = parseMessage(INVITE);
  (m as unknown as { uri: string }).uri = 'sip:carol@example.com';
  t.equal(m.header('x-custom'), 'value');
  t.equal(m.via.length, 2);
  t.match(m.toString(), /^INVITE sip:carol@example.com SIP\/2.0\r\n/);
});

t.test('IPv6 references in Via are split natively, brackets kept as the grammar keeps them', async (t) => {
  const buf = msg([
    'OPTIONS sip:a SIP/2.0',
    'Via: SIP/2.0/UDP [fd17:625c::1]:5062;branch=z9hG4bK-1;received=fd17:625c::2,SIP/2.0/TCP [::1];branch=z9hG4bK-2',
    'Via: SIP/2.0/UDP [::1;branch=z9hG4bK-3',
  ]);
  const sc = new SipScanner(TABLE);
  t.type(sc.scan(buf, 32768, 65536, 256), 'string');
  const w = sc.record;
  const base = sc.at + w[sc.at + SipScanWord.ItemBase]!;
  const flags: number[] = [];
  for (let i = 0; i < w[sc.at + SipScanWord.ItemCount]!; i++) flags.push(w[base + i * SIP_ITEM_WORDS + 3]!);
  t.same(flags, [1, 1, 0], 'an unterminated reference is left to the grammar');
  const ok = parseMessage(msg(['OPTIONS sip:a SIP/2.0', 'Via: SIP/2.0/UDP [fd17:625c::1]:5062;branch=z9hG4bK-1;received=fd17:625c::2,SIP/2.0/TCP [::1];branch=z9hG4bK-2']));
  t.same(
    ok.via.map((v) => [v.transport, v.host, v.port, v.branch, v.received]),
    [
      ['UDP', '[fd17:625c::1]', 5062, 'z9hG4bK-1', 'fd17:625c::2'],
      ['TCP', '[::1]', undefined, 'z9hG4bK-2', undefined],
    ],
  );
});

t.test('a lone Contact wildcard is read from the scan (RFC 3261 10.2.2)', async (t) => {
  const m = parseMessage(msg(['REGISTER sip:r SIP/2.0', 'Contact:  * ', 'Expires: 0']));
  t.same(m.contact, ['*']);
  t.throws(() => parseMessage(msg(['REGISTER sip:r SIP/2.0', 'Contact: *', 'Contact: <sip:a@b>'])).contact, /Contact/);
});

t.test('the scan function checks its arguments, and is only made for a scanner handle', async (t) => {
  const { addon } = await import('../../src/native/addon.js');
  const scan = (addon.sipScanFunction as (...a: unknown[]) => unknown)((new SipScanner(TABLE) as unknown as { handle: unknown }).handle);
  const bad: unknown[][] = [[], [1, 0], [{}, 0], [new Int32Array(1), 0], [INVITE, 'x']];
  for (const args of bad) t.throws(() => (scan as (...a: unknown[]) => unknown)(...args), TypeError);
  t.equal((scan as (b: Uint8Array, at: number) => unknown)(INVITE, -1), undefined);
  for (const h of [undefined, 1, {}]) t.throws(() => (addon.sipScanFunction as (...a: unknown[]) => unknown)(h), TypeError);
});

t.test('a ttl Via parameter, in any case, goes to the grammar, which range-checks it (RFC 3261 20.42)', async (t) => {
  const via = (p: string) => msg(['OPTIONS sip:a SIP/2.0', `Via: SIP/2.0/UDP h;branch=z9hG4bK1;${p}`]);
  const sc = new SipScanner(TABLE);
  for (const p of ['ttl=1', 'TTL=300']) {
    t.type(sc.scan(via(p), 32768, 65536, 256), 'string');
    t.equal(sc.record[sc.at + sc.record[sc.at + SipScanWord.ItemBase]! + 3], 0, p);
  }
  t.equal(parseMessage(via('TtL=7')).topVia?.params.get('ttl'), '7');
  t.throws(() => parseMessage(via('TTL=300')).via, /ttl/);
  t.equal(parseMessage(via('x=ttl')).topVia?.params.get('x'), 'ttl', 'a value spelled ttl is no ttl parameter');
});

t.test('a receive buffer changed after parsing is reported when the message scans it again', async (t) => {
  const buf = Buffer.from(INVITE);
  const m = parseMessage(buf);
  buf.write('XXXXXX', 0, 'latin1');
  for (let i = 0; i < 400; i++) parseMessage(INVITE);
  t.throws(() => m.via, /receive buffer changed/);
});

t.test('a single-valued header repeated with the same value scans; any other repeat goes to the grammar (RFC 4475 3.3.8)', async (t) => {
  const sc = new SipScanner(TABLE);
  const same = msg(['OPTIONS sip:a SIP/2.0', 'from: <sip:a>;tag=1', 'Call-ID: x1', 'f: <sip:a>;tag=1  ', 'Call-ID: x1', 'l: 0', 'l: 0']);
  t.type(sc.scan(same, 32768, 65536, 256), 'string', 'same value, other spelling and trailing blanks');
  t.equal(sc.record[sc.at + SipScanWord.HeaderCount], 6);
  const cases: Array<[string, Buffer]> = [
    ['another value', msg(['OPTIONS sip:a SIP/2.0', 'Call-ID: x1', 'Call-ID: x2'])],
    ['a longer value', msg(['OPTIONS sip:a SIP/2.0', 'Call-ID: x1', 'Call-ID: x12'])],
    ['another Content-Length', msg(['OPTIONS sip:a SIP/2.0', 'l: 0', 'l: 1'], 'a')],
    ['non-ASCII value', Buffer.from('OPTIONS sip:a SIP/2.0\r\nf: <sip:a>;x=\xe9\r\nf: <sip:a>;x=\xe9\r\n\r\n', 'latin1')],
  ];
  for (const [what, buf] of cases) t.equal(sc.scan(buf, 32768, 65536, 256), undefined, what);
  const dup = (ct: string) =>
    msg(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@h>;tag=1', 'To: <sip:b@h>;tag=2', 'Call-ID: c1', 'CSeq: 3 UPDATE', 'Content-Type: application/sdp', `Content-Type: ${ct}`, 'Content-Length: 0']);
  const m = parseMessage(dup('application/sdp'));
  t.same(m.headers('content-type'), ['application/sdp', 'application/sdp'], 'both lines kept, as the grammar keeps them');
  t.equal(m.callId, 'c1');
  t.equal(m.cseq.method, 'UPDATE');
  t.throws(() => parseMessage(dup('text/plain')), /Content-Type appears more than once/);
});

t.test('the AVX2 line-end pass and the baseline one give the same records (head ends found across 64-byte steps)', async (t) => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { packageRoot } = await import('../../src/util/package-root.js');
  const dir = join(packageRoot(), 'captures/public/rfc4475');
  const inputs: Buffer[] = readdirSync(dir).sort().map((f) => readFileSync(join(dir, f)));
  // Empty lines ending at every offset around a 64-byte step, LF-only and CRLF heads, bare CRs in values,
  // messages shorter than one step, a long head of many steps, and junk that has no empty line at all.
  for (let pad = 0; pad < 140; pad++) {
    const x = 'x'.repeat(pad);
    inputs.push(msg(['OPTIONS sip:a@b SIP/2.0', `Via: SIP/2.0/UDP h;branch=z9hG4bK${x}`, 'Call-ID: c', 'CSeq: 1 OPTIONS']));
    inputs.push(Buffer.from(`SIP/2.0 200 OK\nVia: SIP/2.0/UDP h\nX-P: ${x}\n\nbody`, 'latin1'));
    inputs.push(Buffer.from(`SIP/2.0 200 OK\r\nX-P: ${x}\r\r\nY: 1\r\n\r\n`, 'latin1'));
    inputs.push(Buffer.from(`SIP/2.0 200 OK\r\nX-P: ${x}\r\n\r`, 'latin1'));
  }
  inputs.push(msg(['MESSAGE sip:a@b SIP/2.0', ...Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'v'.repeat(i % 50)}`)]));
  inputs.push(Buffer.from('SIP/2.0 200 OK\r\n' + 'A: 1\r\n'.repeat(40), 'latin1'));
  const best = new SipScanner(TABLE);
  const base = new SipScanner(TABLE, [], { baselineSimd: true });
  let scanned = 0;
  for (const buf of inputs) {
    const a = best.scan(buf, 32 * 1024, 64 * 1024, 256);
    const b = base.scan(buf, 32 * 1024, 64 * 1024, 256);
    t.equal(a, b);
    if (a === undefined) continue;
    scanned++;
    const words = (s: SipScanner) => {
      const w = s.record;
      const used = w[s.at + SipScanWord.ItemBase]! + w[s.at + SipScanWord.ItemCount]! * SIP_ITEM_WORDS;
      return Array.from(w.subarray(s.at, s.at + used));
    };
    t.same(words(best), words(base));
  }
  t.ok(scanned > 400, `${scanned} of ${inputs.length} scanned`);
});

t.test('the header limit counts the head up to and including its empty line', async (t) => {
  const buf = msg(['OPTIONS sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'Call-ID: c', 'CSeq: 1 OPTIONS'], 'body');
  const headBytes = buf.indexOf('\r\n\r\n') + 4;
  for (const baselineSimd of [false, true]) {
    const s = new SipScanner(TABLE, [], { baselineSimd });
    t.not(s.scan(buf, headBytes, 1024, 256), undefined);
    t.equal(s.scan(buf, headBytes - 1, 1024, 256), undefined);
    t.equal(s.scan(buf, headBytes, 1024, 2), undefined, 'three header lines over a limit of two');
    t.not(s.scan(buf, headBytes, 1024, 3), undefined);
  }
});
