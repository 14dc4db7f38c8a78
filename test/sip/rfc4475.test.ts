/**
 * RFC 4475 (SIP torture test messages): every message with the RFC's verdict and section. Valid messages
 * must parse and validate; invalid ones must be flagged with a reason naming the fault, and requests must
 * keep enough (`partial`) to answer 400 (505 for the version).
 */
import { readFileSync } from 'node:fs';

import t from 'tap';

import type { Test } from 'tap';
type Tap = Test;

import { NameAddr, SipParseError, SipRequest, SipResponse, createResponse, parseMessage, type SipMessage } from '../../src/sip/index.js';

const dir = new URL('../../captures/public/rfc4475/', import.meta.url);

interface Row {
  file: string;
  section: string;
  valid: boolean;
  /** For invalid messages: what the reason must mention. */
  reason?: RegExp;
  status?: number;
  check?: (t: Tap, m: SipMessage) => void;
}

const rows: Row[] = [
  // 3.1.1 Valid messages
  { file: 'wsinv', section: '3.1.1.1 A Short Tortuous INVITE', valid: true, check: (t, m) => {
    t.equal(m.to.tag, '1918181833n');
    t.equal(m.from.displayName, 'J Rosenberg \\"');
    t.equal(m.from.tag, '98asjd8');
    t.equal(m.maxForwards, 68);
    t.same(m.cseq, { seq: 9, method: 'INVITE' });
    t.same(m.via.map((v) => [v.transport, v.host, v.branch]), [
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    const c = m.contact[0] as NameAddr;
    t.equal(c.displayName, 'Quoted string ""');
    t.equal(c.q, 0.33);
    t.equal(c.params.get('newparam'), 'newvalue');
    t.equal(m.header('NewFangledHeader'), 'newfangled value continued newfangled value');
    t.equal(m.header('s'), '');
    t.equal(m.body.length, 150);
  } },
  { file: 'intmeth', section: '3.1.1.2 Wide Range of Valid Characters', valid: true, check: (t, m) => {
    t.equal((m as SipRequest).method, "!interesting-Method0123456789_*+`.%indeed'~");
    t.equal((m as SipRequest).uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    t.equal(m.to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
    t.equal(m.from.displayName, "token1~` token2'+_ token3*%!.-");
    t.equal(m.from.params.get("fromparam''~+*_!.-%"), '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"');
    t.equal(m.callId, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    t.equal(m.header("extensionHeader-!.%*+_`'~"), '\ufeff\u5927\u505c\u96fb');
  } },
  { file: 'esc01', section: '3.1.1.3 Valid Use of the % Escaping Mechanism', valid: true, check: (t, m) => {
    t.equal((m as SipRequest).uri.user, 'sips%3Auser%40example.com');
    t.ok(m.to.uri.equals(NameAddr.parse('<sip:user@example.com>').uri), 'escaped and unescaped user parts compare equal');
    t.equal((m.contact[0] as NameAddr).uri.params.get('n%61me'), 'v%61lue%25%34%31');
  } },
  { file: 'escnull', section: '3.1.1.4 Escaped Nulls in URIs', valid: true, check: (t, m) => t.equal(m.to.uri.user, 'null-%00-null') },
  { file: 'esc02', section: '3.1.1.5 Use of % When It Is Not an Escape', valid: true, check: (t, m) => {
    t.equal((m as SipRequest).method, 'RE%47IST%45R');
    t.equal(m.to.displayName, '%Z%45');
    t.equal(m.contact.length, 2, 'C%6Fntact is another header, not Contact');
    t.equal(m.header('C%6Fntact'), '<sip:alias2@host2.example.com>');
  } },
  { file: 'lwsdisp', section: '3.1.1.6 Message with No LWS between Display Name and <', valid: true, check: (t, m) => t.equal(m.from.displayName, 'caller') },
  { file: 'longreq', section: '3.1.1.7 Long Values in Header Fields', valid: true, check: (t, m) => {
    t.ok(m.to.displayName!.length > 80);
    t.ok(m.via.length >= 30);
    t.ok(m.from.tag!.length > 32);
  } },
  { file: 'dblreq', section: '3.1.1.8 Extra Trailing Octets in a UDP Datagram', valid: true, check: (t, m) => {
    t.equal((m as SipRequest).method, 'REGISTER');
    t.equal(m.body.length, 0);
    t.notMatch(m.toBuffer().toString(), /INVITE/);
  } },
  { file: 'semiuri', section: '3.1.1.9 Semicolon-Separated Parameters in URI User Part', valid: true, check: (t, m) => {
    t.equal((m as SipRequest).uri.user, 'user;par=u%40example.net');
    t.equal(m.headers('Accept').length, 6);
  } },
  { file: 'transports', section: '3.1.1.10 Varied and Unknown Transport Types', valid: true, check: (t, m) =>
    t.same(m.via.map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']) },
  { file: 'mpart01', section: '3.1.1.11 Multipart MIME Message', valid: true, check: (t, m) => {
    t.match(m.contentType, /^multipart\/mixed/);
    t.equal(m.body.length, Number(m.header('Content-Length')));
  } },
  { file: 'unreason', section: '3.1.1.12 Unusual Reason Phrase', valid: true, check: (t, m) => {
    t.equal((m as SipResponse).status, 200);
    t.ok((m as SipResponse).reason.length > 10);
  } },
  { file: 'noreason', section: '3.1.1.13 Empty Reason Phrase', valid: true, check: (t, m) => {
    t.equal((m as SipResponse).status, 100);
    t.equal((m as SipResponse).reason, '');
  } },
  // 3.1.2 Invalid messages
  { file: 'badinv01', section: '3.1.2.1 Extraneous Header Field Separators', valid: false, reason: /Via/ },
  { file: 'clerr', section: '3.1.2.2 Content Length Larger Than Message', valid: false, reason: /Content-Length larger/ },
  { file: 'ncl', section: '3.1.2.3 Negative Content-Length', valid: false, reason: /Content-Length/ },
  { file: 'scalar02', section: '3.1.2.4 Request Scalar Fields with Overlarge Values', valid: false, reason: /CSeq.*out of range/ },
  { file: 'scalarlg', section: '3.1.2.5 Response Scalar Fields with Overlarge Values', valid: false, reason: /CSeq.*out of range/ },
  { file: 'quotbal', section: '3.1.2.6 Unterminated Quoted String in Display Name', valid: false, reason: /unterminated quoted string/ },
  { file: 'ltgtruri', section: '3.1.2.7 <> Enclosing Request-URI', valid: false, reason: /Request-URI enclosed in <>/ },
  { file: 'lwsruri', section: '3.1.2.8 Malformed SIP Request-URI (embedded LWS)', valid: false, reason: /whitespace in the Request-Line/ },
  { file: 'lwsstart', section: '3.1.2.9 Multiple SP Separating Request-Line Elements', valid: false, reason: /whitespace in the Request-Line/ },
  { file: 'trws', section: '3.1.2.10 SP Characters at End of Request-Line', valid: false, reason: /whitespace in the Request-Line/ },
  { file: 'escruri', section: '3.1.2.11 Escaped Headers in SIP Request-URI', valid: false, reason: /Request-URI must not contain headers/ },
  { file: 'baddate', section: '3.1.2.12 Invalid Time Zone in Date Header Field', valid: false, reason: /Date.*GMT/ },
  { file: 'regbadct', section: '3.1.2.13 Failure to Enclose name-addr URI in <>', valid: false, reason: /Contact.*enclosed in <>/ },
  { file: 'badaspec', section: '3.1.2.14 Spaces within addr-spec', valid: false, reason: /To.*whitespace inside the URI/ },
  // The copied file lacks the empty line after the headers; a second test restores it (below).
  { file: 'baddn', section: '3.1.2.15 Non-token Characters in Display Name', valid: false, reason: /empty line/ },
  { file: 'badvers', section: '3.1.2.16 Unknown Protocol Version', valid: false, reason: /version 7\.0/, status: 505 },
  { file: 'mismatch01', section: '3.1.2.17 Start Line and CSeq Method Mismatch', valid: false, reason: /CSeq method INVITE does not match OPTIONS/ },
  { file: 'mismatch02', section: '3.1.2.18 Unknown Method with CSeq Method Mismatch', valid: false, reason: /CSeq method INVITE does not match NEWMETHOD/ },
  { file: 'bigcode', section: '3.1.2.19 Overlarge Response Code', valid: false, reason: /status code/ },
  // 3.2 Transaction layer semantics: parses; the transaction layer treats it as RFC 2543 style.
  { file: 'badbranch', section: '3.2.1 Missing Transaction Identifier', valid: true, check: (t, m) => t.equal(m.topVia!.branch, 'z9hG4bK', 'the cookie without an identifier') },
  // 3.3 Application-layer semantics
  { file: 'insuf', section: '3.3.1 Missing Required Header Fields', valid: false, reason: /missing From, To, Call-ID/ },
  { file: 'unkscm', section: '3.3.2 Request-URI with Unknown Scheme', valid: true, check: (t, m) => {
    const u = (m as SipRequest).uri;
    t.equal(u.scheme, 'nobodyknowsthisscheme');
    t.equal(u.opaque, 'totallyopaquecontent');
    t.notOk(u.isSip, 'answered 416 by the application');
  } },
  { file: 'novelsc', section: '3.3.3 Request-URI with Known but Atypical Scheme', valid: true, check: (t, m) => t.equal((m as SipRequest).uri.scheme, 'soap.beep') },
  { file: 'unksm2', section: '3.3.4 Unknown URI Schemes in Header Fields', valid: true, check: (t, m) => {
    t.equal(m.to.uri.scheme, 'isbn');
    t.equal(m.from.uri.scheme, 'http');
    t.equal((m.contact[0] as NameAddr).uri.scheme, 'name');
  } },
  { file: 'bext01', section: '3.3.5 Proxy-Require and Require', valid: true, check: (t, m) => t.ok(m.headers('Require').length > 0) },
  { file: 'invut', section: '3.3.6 Unknown Content-Type', valid: true, check: (t, m) => t.equal(m.contentType, 'application/unknownformat') },
  { file: 'regaut01', section: '3.3.7 Unknown Authorization Scheme', valid: true, check: (t, m) => t.match(m.header('Authorization'), /^NoOneKnowsThisScheme/) },
  { file: 'multi01', section: '3.3.8 Multiple Values in Single Value Required Fields', valid: false, reason: /appears more than once/ },
  { file: 'mcl01', section: '3.3.9 Multiple Content-Length Values', valid: false, reason: /Content-Length appears more than once/ },
  { file: 'bcast', section: '3.3.10 200 OK Response with Broadcast Via Header Field Value', valid: true, check: (t, m) => t.equal(m.via[1]!.host, '255.255.255.255') },
  { file: 'zeromf', section: '3.3.11 Max-Forwards of Zero', valid: true, check: (t, m) => t.equal(m.maxForwards, 0) },
  { file: 'cparam01', section: '3.3.12 REGISTER with a Contact Header Parameter', valid: true, check: (t, m) => t.equal((m.contact[0] as NameAddr).params.has('unknownparam'), true, 'a header parameter of the addr-spec') },
  { file: 'cparam02', section: '3.3.13 REGISTER with a url-parameter', valid: true, check: (t, m) =>
    t.equal((m.contact[0] as NameAddr).uri.params.has('unknownparam'), true) },
  { file: 'regescrt', section: '3.3.14 REGISTER with a URL Escaped Header', valid: true, check: (t, m) =>
    t.same((m.contact[0] as NameAddr).uri.headers, [['Route', '%3Csip:sip.example.com%3E']]) },
  { file: 'sdp01', section: '3.3.15 Unacceptable Accept Offering', valid: true, check: (t, m) => t.equal(m.header('Accept'), 'text/nobodyKnowsThis') },
  // 3.4 Backward compatibility
  { file: 'inv2543', section: '3.4.1 INVITE with RFC 2543 Syntax', valid: true, check: (t, m) => {
    t.equal(m.topVia!.branch, undefined);
    t.equal(m.maxForwards, undefined);
  } },
];

t.equal(rows.length, 49, 'every RFC 4475 message is in the table');

for (const row of rows) {
  t.test(`${row.file}: RFC 4475 ${row.section} -> ${row.valid ? 'valid' : 'invalid'}`, (t) => {
    const buf = readFileSync(new URL(`${row.file}.dat`, dir));
    if (row.valid) {
      const m = parseMessage(buf).validate();
      row.check?.(t, m);
      t.ok(m.toBuffer().length > 0);
    } else {
      let err: unknown;
      try {
        parseMessage(buf).validate();
      } catch (e) {
        err = e;
      }
      t.ok(err instanceof SipParseError, 'flagged');
      const e = err as SipParseError;
      t.equal(e.code, 'SIP_ERR_PARSE');
      t.match(e.reason, row.reason!);
      t.equal(e.status, row.status ?? (e.status === 413 ? 413 : 400));
      if (e.partial?.isRequest) {
        const res = createResponse(e.partial, e.status!, e.reason);
        t.match(res.toString(), new RegExp(`^SIP/2.0 ${e.status} `), 'a response can be addressed');
      } else {
        t.ok(e.partial === undefined || !e.partial.isRequest, 'an invalid response is dropped');
      }
    }
    t.end();
  });
}

t.test('baddn with its empty line restored: the display name is the fault (3.1.2.15)', (t) => {
  const buf = Buffer.concat([readFileSync(new URL('baddn.dat', dir)), Buffer.from('\r\n')]);
  const err = (() => {
    try {
      parseMessage(buf).validate();
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.match(err, { reason: /From: display name must be tokens or a quoted string/ });
  t.end();
});
