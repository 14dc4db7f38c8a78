import t from 'tap';

import { StreamFramer } from '../../../src/sip/index.js';

const msg = (body = '', extra = '') =>
  `OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

t.test('frames by Content-Length across arbitrary chunk boundaries (RFC 3261 18.3)', (t) => {
  const stream = Buffer.from(msg('hello') + msg() + msg('x'.repeat(300), 'l: 300\r\n'));
  for (const size of [1, 2, 3, 7, 64, 1000, stream.length]) {
    const f = new StreamFramer();
    const out: string[] = [];
    for (let i = 0; i < stream.length; i += size) {
      for (const ev of f.push(stream.subarray(i, i + size))) {
        t.equal(ev.kind, 'message');
        if (ev.kind === 'message') out.push(ev.buf.toString());
      }
    }
    t.same(out, [msg('hello'), msg(), msg('x'.repeat(300), 'l: 300\r\n')], `chunk size ${size}`);
    t.equal(f.buffered, 0);
  }
  t.end();
});

t.test('keepalives (RFC 5626 3.5.1) and stray CRLF (RFC 3261 7.5)', (t) => {
  const f = new StreamFramer();
  t.same(f.push(Buffer.from('\r\n\r\n')).map((e) => e.kind), ['ping']);
  t.same(f.push(Buffer.from('\r\n')), [], 'a lone CRLF waits: it may be half a ping');
  t.same(f.push(Buffer.from('\r\n')).map((e) => e.kind), ['ping']);
  t.same(f.push(Buffer.from('\r\n' + msg())).map((e) => e.kind), ['message'], 'a stray CRLF before a message is skipped');
  f.awaitingPong = true;
  t.same(f.push(Buffer.from('\r\n')).map((e) => e.kind), ['pong']);
  t.notOk(f.awaitingPong);
  t.same(f.push(Buffer.from('\n' + msg())).map((e) => e.kind), ['message']);
  t.same(f.push(Buffer.from('\r')), []);
  t.same(f.push(Buffer.from('x' + msg())).map((e) => e.kind), ['message'], 'a lone CR is skipped');
  t.same(f.push(Buffer.from('\r\n\r')), []);
  t.same(f.push(Buffer.from('\n')).map((e) => e.kind), ['ping']);
  t.end();
});

t.test('limits and lost framing', (t) => {
  const big = new StreamFramer({ maxHeaderBytes: 100 });
  t.match(big.push(Buffer.from('OPTIONS sip:a SIP/2.0\r\n' + 'X: y\r\n'.repeat(30))), [{ kind: 'error', status: 513, fatal: true }]);
  t.same(big.push(Buffer.from(msg())), [], 'ignored after a fatal error');
  const big2 = new StreamFramer({ maxHeaderBytes: 60 });
  t.match(big2.push(Buffer.from(msg())), [{ kind: 'error', status: 513, fatal: true }]);
  t.match(new StreamFramer().push(Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n')), [{ kind: 'error', reason: /missing Content-Length/, fatal: true }]);
  t.match(new StreamFramer().push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\n')), [{ kind: 'error', reason: /conflicting/, fatal: true }]);
  t.match(new StreamFramer().push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n')), [{ kind: 'error', reason: /not a number/, fatal: true }]);
  // Oversize body: reported, skipped as it arrives, and the next message is framed.
  const cap = new StreamFramer({ maxBodyBytes: 10 });
  const head = 'OPTIONS sip:a SIP/2.0\r\nContent-Length: 20\r\n\r\n';
  const first = cap.push(Buffer.from(head + 'a'.repeat(5)));
  t.match(first, [{ kind: 'error', status: 413, fatal: false }]);
  t.equal((first[0] as { head: Buffer }).head.toString(), head);
  t.same(cap.push(Buffer.from('a'.repeat(10))), []);
  t.same(cap.push(Buffer.from('a'.repeat(5) + msg())).map((e) => e.kind), ['message']);
  const whole = new StreamFramer({ maxBodyBytes: 10 });
  t.same(whole.push(Buffer.from(head + 'b'.repeat(20) + msg())).map((e) => e.kind), ['error', 'message']);
  t.end();
});
