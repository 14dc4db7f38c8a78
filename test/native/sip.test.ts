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
