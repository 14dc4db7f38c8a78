import t from 'tap';

import {
  DigestClient,
  DigestServer,
  computeDigestResponse,
  digestHA1,
  parseAuthHeader,
} from '../../../src/sip/auth/digest.js';
import { ManualClock } from '../../../src/sip/transaction/clock.js';

t.test('RFC 2617 section 3.5 example (MD5, qop=auth)', async (t) => {
  t.equal(
    computeDigestResponse({
      algorithm: 'MD5', username: 'Mufasa', realm: 'testrealm@host.com', password: 'Circle Of Life',
      method: 'GET', uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: 'auth', nc: '00000001', cnonce: '0a4f113b',
    }),
    '6629fae49393a05397450978507c4ef1',
  );
});

// RFC 7616 section 3.9.1: the same request answered with MD5 and with SHA-256.
const rfc7616 = {
  username: 'Mufasa', realm: 'http-auth@example.org', password: 'Circle of Life', method: 'GET',
  uri: '/dir/index.html', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  qop: 'auth' as const, nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
};

t.test('RFC 7616 section 3.9.1 examples (MD5 and SHA-256)', async (t) => {
  t.equal(computeDigestResponse({ ...rfc7616, algorithm: 'MD5' }), '8ca523f5e9506fed4657c9700eebdbec');
  t.equal(
    computeDigestResponse({ ...rfc7616, algorithm: 'SHA-256' }),
    '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  );
  t.equal(
    computeDigestResponse({ ...rfc7616, algorithm: 'MD5', ha1: digestHA1('MD5', 'Mufasa', rfc7616.realm, 'Circle of Life') }),
    '8ca523f5e9506fed4657c9700eebdbec',
    'precomputed H(A1) gives the same answer',
  );
});

t.test('header parsing: quoted strings, escapes, tokens', async (t) => {
  const h = parseAuthHeader('Digest realm="a\\"b", nonce="x,y", algorithm=SHA-256, qop="auth,auth-int", stale=TRUE');
  t.equal(h.scheme, 'Digest');
  t.equal(h.params.get('realm'), 'a"b');
  t.equal(h.params.get('nonce'), 'x,y');
  t.equal(h.params.get('algorithm'), 'SHA-256');
  t.equal(h.params.get('qop'), 'auth,auth-int');
  t.throws(() => parseAuthHeader('Digest realm="open'), { code: 'SIP_ERR_AUTH_SYNTAX' });
  t.throws(() => parseAuthHeader(''), { code: 'SIP_ERR_AUTH_SYNTAX' });
  t.throws(() => parseAuthHeader('Digest =x'), { code: 'SIP_ERR_AUTH_SYNTAX' });
});

t.test('server and client: challenge, answer, nonce count, stale nonce', async (t) => {
  const clock = new ManualClock();
  const server = new DigestServer({
    realm: 'switchhook', clock, nonceTtlMs: 60_000,
    lookup: (u) => (u === 'alice' ? { password: 'secret' } : undefined),
  });
  const challenges = server.challenge();
  t.equal(challenges.length, 2, 'one challenge per algorithm (RFC 8760 section 2.4)');
  t.match(challenges[0], /algorithm=SHA-256/);
  t.match(challenges[1], /algorithm=MD5/);
  t.match(challenges[0], /qop="auth"/);

  const client = new DigestClient({ username: 'alice', password: 'secret' });
  const auth1 = client.authorize(challenges, 'REGISTER', 'sip:switchhook');
  t.match(auth1, /algorithm=SHA-256/, 'client prefers SHA-256');
  t.match(auth1, /nc=00000001/);
  t.same(server.verify(auth1, 'REGISTER', 'sip:switchhook'), { ok: true, username: 'alice' });
  t.same(server.verify(auth1, 'REGISTER'), { ok: false, stale: false, reason: 'nc' }, 'replayed nonce count refused');
  const auth2 = client.authorize(challenges, 'REGISTER', 'sip:switchhook');
  t.match(auth2, /nc=00000002/);
  t.same(server.verify(auth2, 'REGISTER'), { ok: true, username: 'alice' });
  t.same(server.verify(auth2, 'INVITE'), { ok: false, stale: false, reason: 'response' }, 'method is covered');
  t.same(server.verify(auth2, 'REGISTER', 'sip:other'), { ok: false, stale: false, reason: 'uri' });

  const md5Only = new DigestClient({ username: 'alice', password: 'wrong' });
  t.same(server.verify(md5Only.authorize([challenges[1]!], 'REGISTER', 'sip:x'), 'REGISTER'), {
    ok: false, stale: false, reason: 'response',
  });
  const bob = new DigestClient({ username: 'bob', password: 'x' });
  t.same(server.verify(bob.authorize(challenges, 'REGISTER', 'sip:x'), 'REGISTER'), { ok: false, stale: false, reason: 'user' });

  clock.advance(60_001);
  const late = client.authorize(challenges, 'REGISTER', 'sip:switchhook');
  t.same(server.verify(late, 'REGISTER'), { ok: false, stale: true, reason: 'stale' }, 'expired nonce gives stale=true');
  t.match(server.challenge(true)[0], /stale=true/);

  t.same(server.verify(undefined, 'REGISTER'), { ok: false, stale: false, reason: 'missing' });
  t.same(server.verify('Basic abc=', 'REGISTER').ok, false);
  t.same(server.verify('Digest username="alice"', 'REGISTER'), { ok: false, stale: false, reason: 'syntax' });
  const forged = auth2.replace(/nonce="[^"]+"/, 'nonce="1.abc.def"');
  t.same(server.verify(forged, 'REGISTER'), { ok: false, stale: false, reason: 'nonce' }, 'nonce not issued here');
  const otherRealm = auth2.replace('realm="switchhook"', 'realm="x"');
  t.match(server.verify(otherRealm, 'REGISTER'), { reason: 'realm' });
});

t.test('server with stored H(A1) and MD5 only; client without qop (RFC 2069 form)', async (t) => {
  const ha1 = digestHA1('MD5', 'carol', 'r', 'pw');
  const server = new DigestServer({ realm: 'r', algorithms: ['MD5'], lookup: () => ({ ha1: { MD5: ha1 } }), maxTrackedNonces: 1 });
  const nonce = server.createNonce();
  const legacy = new DigestClient({ username: 'carol', password: 'pw' });
  const value = legacy.authorize([`Digest realm="r", nonce="${nonce}", opaque="op"`], 'MESSAGE', 'sip:r');
  t.notMatch(value, /qop=/);
  t.match(value, /opaque="op"/);
  t.same(server.verify(value, 'MESSAGE'), { ok: true, username: 'carol' });
  t.throws(() => legacy.authorize(['Basic realm="r"', 'Digest realm="r", nonce="n", algorithm=SHA-512-256'], 'M', 'u'), {
    code: 'SIP_ERR_AUTH_UNSUPPORTED',
  });
  const sha = new DigestClient({ username: 'carol', password: 'pw' }).authorize(
    [`Digest realm="r", nonce="${nonce}", algorithm=SHA-256, qop="auth"`], 'MESSAGE', 'sip:r');
  t.match(server.verify(sha, 'MESSAGE'), { reason: 'algorithm' }, 'algorithm not offered is refused');
  const c2 = new DigestClient({ username: 'carol', password: 'pw' });
  const n2 = server.createNonce();
  t.ok(server.verify(c2.authorize([`Digest realm="r", nonce="${n2}", qop="auth"`], 'MESSAGE', 'sip:r'), 'MESSAGE').ok);
  t.ok(server.verify(c2.authorize([`Digest realm="r", nonce="${nonce}", qop="auth"`], 'MESSAGE', 'sip:r'), 'MESSAGE').ok);
  t.equal(server.trackedNonces, 1, 'nonce-count table is bounded');
});
