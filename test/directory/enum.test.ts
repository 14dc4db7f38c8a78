import t from 'tap';

import { DnsClient, EnumResolver, Rcode, RrType, encodeResponse, enumDomain, portabilityOf } from '../../src/directory/index.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { questionOf, startDnsmasq, startFakeDns } from './dns-helpers.js';

// RFC 6116 §2.4: +4412345678 -> 8.7.6.5.4.3.2.1.4.4.e164.arpa
t.equal(enumDomain('+4412345678'), '8.7.6.5.4.3.2.1.4.4.e164.arpa');
t.equal(enumDomain('+15551234', 'e164.example.'), '4.3.2.1.5.5.5.1.e164.example');
t.throws(() => enumDomain('5551234'), { code: 'ENUM_ERR_NUMBER' });

t.test('RFC 4694 parameters', async (t) => {
  t.same(portabilityOf('tel:+14807868280;npdi;rn=+14805769233'), { uri: 'tel:+14807868280;npdi;rn=+14805769233', npdi: true, rn: '+14805769233' });
  t.same(portabilityOf('sip:+73422461703;npdi;rn=d2701;rn-context=+7@mnp.example;user=phone').rnContext, '+7');
  t.same(portabilityOf('tel:+15551234567;npdi'), { uri: 'tel:+15551234567;npdi', npdi: true });
  t.same(portabilityOf('sip:alice@example.com;npdi'), { uri: 'sip:alice@example.com;npdi', npdi: false });
});

t.test('against dnsmasq', async (t) => {
  const sip = '7.6.5.4.3.2.1.5.5.5.1.e164.arpa'; // +15551234567
  const ported = '1.0.0.0.9.9.9.5.5.5.1.e164.arpa'; // +15559990001
  const notPorted = '2.0.0.0.9.9.9.5.5.5.1.e164.arpa'; // +15559990002
  const both = '3.0.0.0.9.9.9.5.5.5.1.e164.arpa'; // +15559990003
  const dns = await startDnsmasq(
    [
      { name: sip, order: 100, preference: 10, flags: 'u', service: 'E2U+sip', regexp: '!^\\+1555(.*)$!sip:\\1@siteb.example.com!' },
      { name: sip, order: 100, preference: 20, flags: 'u', service: 'E2U+email:mailto', regexp: '!^.*$!mailto:x@example.com!' },
      { name: ported, order: 10, preference: 1, flags: 'u', service: 'E2U+pstn:tel', regexp: '!(^.*$)!tel:\\1;npdi;rn=+14805769233!' },
      { name: notPorted, order: 10, preference: 1, flags: 'u', service: 'E2U+pstn:sip', regexp: '!(^.*$)!sip:\\1;npdi@np.example;user=phone!' },
      // The order 10 rule wins: records of order 20 are not considered (RFC 3403 §4.1).
      { name: both, order: 10, preference: 5, flags: 'U', service: 'e2u+SIP', regexp: '#^.*$#sip:three@siteb.example.com#' },
      { name: both, order: 20, preference: 1, flags: 'u', service: 'E2U+sip', regexp: '!^.*$!sip:never@example.com!' },
    ],
    { ttl: 30 },
  );
  t.teardown(() => dns.stop());
  let now = 1_000_000;
  const metrics = new MetricsRegistry();
  const enumr = new EnumResolver({ servers: [`127.0.0.1:${dns.port}`], timeoutMs: 3000, tries: 2, metrics, now: () => now });
  t.teardown(() => enumr.close());

  const a = await enumr.lookup('+15551234567');
  t.match(a, { status: 'found', sip: 'sip:1234567@siteb.example.com', ttl: 30, cached: false });
  t.equal((a as { pstn?: unknown }).pstn, undefined);
  t.match(await enumr.lookup('+15551234567'), { status: 'found', cached: true }, 'second lookup from the cache');
  now += 31_000;
  t.match(await enumr.lookup('+15551234567'), { status: 'found', cached: false }, 'expired after its TTL');
  t.equal(metrics.counter('switchhook_enum_cache_hits_total', '').total(), 1);

  t.match(await enumr.lookup('+15559990001'), { status: 'found', pstn: { npdi: true, rn: '+14805769233', uri: 'tel:+15559990001;npdi;rn=+14805769233' } });
  t.match(await enumr.lookup('+15559990002'), { status: 'found', pstn: { npdi: true, uri: 'sip:+15559990002;npdi@np.example;user=phone' } });
  t.match(await enumr.lookup('+15559990003'), { status: 'found', sip: 'sip:three@siteb.example.com' });

  // NXDOMAIN in an authoritative zone: cached for min(SOA TTL, SOA minimum) (RFC 2308 §5).
  const nx = await enumr.lookup('+15550000000');
  t.match(nx, { status: 'not-found', reason: 'nxdomain', ttl: 30, cached: false });
  t.match(await enumr.lookup('+15550000000'), { status: 'not-found', cached: true });
  now += 31_000;
  t.match(await enumr.lookup('+15550000000'), { status: 'not-found', cached: false });

  // Concurrent lookups of one number share one query.
  enumr.flush();
  const [x, y] = await Promise.all([enumr.lookup('+15551234567'), enumr.lookup('+15551234567')]);
  t.same(x, y);
});

t.test('cache is a bounded LRU', async (t) => {
  const dns = await startFakeDns((q) => {
    const { id, name, type } = questionOf(q);
    return encodeResponse({ id, name, type }, { answers: [{ order: 1, preference: 1, flags: 'u', service: 'E2U+sip', regexp: '!^(.*)$!sip:\\1@x.example!', replacement: '', ttl: 300 }] });
  });
  t.teardown(() => dns.close());
  const enumr = new EnumResolver({ servers: [`127.0.0.1:${dns.port}`], cacheSize: 2 });
  t.teardown(() => enumr.close());
  await enumr.lookup('+4411');
  await enumr.lookup('+4412');
  await enumr.lookup('+4411');
  await enumr.lookup('+4413');
  t.equal(enumr.cacheEntries, 2);
  t.match(await enumr.lookup('+4411'), { cached: true }, 'recently used entry kept');
  t.match(await enumr.lookup('+4412'), { cached: false }, 'least recently used entry evicted');
});

t.test('malformed answers, wrong IDs, timeouts and truncation', async (t) => {
  type Mode = 'bad-regexp' | 'bad-flags' | 'truncated' | 'wrong-id' | 'silent' | 'tc' | 'servfail' | 'loop' | 'nodata-nosoa' | 'non-terminal' | 'garbage' | 'other-service' | 'bad-uri';
  let mode: Mode = 'bad-regexp';
  const naptr = (regexp: string, flags = 'u', service = 'E2U+sip', replacement = '') => ({ order: 1, preference: 1, flags, service, regexp, replacement, ttl: 60 });
  const dns = await startFakeDns((q, transport) => {
    const question = questionOf(q);
    switch (mode) {
      case 'bad-regexp':
        return encodeResponse(question, { answers: [naptr('!^(.*$!sip:\\1@x!'), naptr('!^.*$!sip:\\2@x!')] });
      case 'bad-flags':
        return encodeResponse(question, { answers: [naptr('!^.*$!sip:a@x!', 's')] });
      case 'truncated': {
        const full = encodeResponse(question, { answers: [naptr('!^.*$!sip:a@x!')] });
        return full.subarray(0, full.length - 7);
      }
      case 'wrong-id': {
        // A spoofed answer with another ID and one for another question come first; then the real one.
        const spoof = encodeResponse({ ...question, id: (question.id + 1) & 0xffff }, { answers: [naptr('!^.*$!sip:spoof@x!')] });
        const other = encodeResponse({ ...question, name: 'other.e164.arpa' }, { answers: [naptr('!^.*$!sip:other@x!')] });
        return [Buffer.from([1, 2, 3]), spoof, other, encodeResponse(question, { answers: [naptr('!^.*$!sip:real@x!')] })];
      }
      case 'silent':
        return undefined;
      case 'tc':
        if (transport === 'udp') return encodeResponse(question, { tc: true });
        return encodeResponse(question, { answers: [naptr('!^.*$!sip:over-tcp@x!')] });
      case 'servfail':
        return encodeResponse(question, { rcode: Rcode.SERVFAIL });
      case 'loop': {
        // A compression pointer to itself, right after the header and question.
        const full = encodeResponse(question, { answers: [naptr('!^.*$!sip:a@x!')] });
        const at = 12 + (full.indexOf(0, 12) - 12) + 5;
        full.writeUInt16BE(0xc000 | at, at);
        return full;
      }
      case 'nodata-nosoa':
        return encodeResponse(question, {});
      case 'non-terminal':
        if (question.name.startsWith('next.')) return encodeResponse(question, { answers: [naptr('!^.*$!sip:followed@x!')] });
        return encodeResponse(question, { answers: [naptr('', '', '', `next.${question.name}`)] });
      case 'garbage':
        return Buffer.from([0, 0]);
      case 'other-service':
        return encodeResponse(question, { answers: [naptr('!^.*$!mailto:a@x!', 'u', 'E2U+email:mailto'), naptr('!^.*$!sip:a@x!', 'u', 'sip+E2U')] });
      case 'bad-uri':
        return encodeResponse(question, { answers: [naptr('!^.*$!http://x!')] });
      default:
        throw new Error(mode);
    }
  });
  t.teardown(() => dns.close());
  const metrics = new MetricsRegistry();
  const enumr = new EnumResolver({ servers: [`127.0.0.1:${dns.port}`], timeoutMs: 300, tries: 2, negativeTtlSeconds: 0, metrics });
  t.teardown(() => enumr.close());
  const errors = metrics.counter('switchhook_enum_errors_total', '');

  mode = 'bad-regexp';
  t.match(await enumr.lookup('+15550001'), { status: 'error', code: 'ENUM_ERR_REGEXP' });
  mode = 'bad-flags';
  t.match(await enumr.lookup('+15550002'), { status: 'error', code: 'ENUM_ERR_FLAGS' });
  mode = 'truncated';
  t.match(await enumr.lookup('+15550003'), { status: 'error', code: 'ENUM_ERR_MALFORMED' });
  mode = 'loop';
  t.match(await enumr.lookup('+15550004'), { status: 'error', code: 'ENUM_ERR_MALFORMED' });
  mode = 'wrong-id';
  t.match(await enumr.lookup('+15550005'), { status: 'found', sip: 'sip:real@x' });
  t.ok(metrics.counter('switchhook_dns_dropped_total', '').total() >= 3, 'spoofed, mismatched and short datagrams dropped and counted');
  mode = 'silent';
  const before = dns.received.length;
  t.match(await enumr.lookup('+15550006'), { status: 'error', code: 'ENUM_ERR_TIMEOUT' });
  t.equal(dns.received.length - before, 2, 'tried twice');
  mode = 'tc';
  t.match(await enumr.lookup('+15550007'), { status: 'found', sip: 'sip:over-tcp@x' });
  t.equal(dns.received.at(-1)!.transport, 'tcp', 'retried over TCP');
  mode = 'servfail';
  t.match(await enumr.lookup('+15550008'), { status: 'error', code: 'ENUM_ERR_RCODE' });
  mode = 'nodata-nosoa';
  t.match(await enumr.lookup('+15550009'), { status: 'not-found', reason: 'nodata', ttl: 0 });
  t.match(await enumr.lookup('+15550009'), { cached: false }, 'no SOA: not cached (RFC 2308 §5)');
  mode = 'non-terminal';
  t.match(await enumr.lookup('+15550010'), { status: 'found', sip: 'sip:followed@x' });
  mode = 'garbage';
  t.match(await enumr.lookup('+15550011'), { status: 'error', code: 'ENUM_ERR_TIMEOUT' }, 'a two-byte datagram is dropped');
  mode = 'other-service';
  t.match(await enumr.lookup('+15550012'), { status: 'error', code: 'ENUM_ERR_SERVICE' }, 'old-style sip+E2U is not an E2U service');
  mode = 'bad-uri';
  t.match(await enumr.lookup('+15550013'), { status: 'error', code: 'ENUM_ERR_REGEXP' });
  t.ok(errors.get({ code: 'ENUM_ERR_TIMEOUT' }) >= 2);
  t.equal(errors.get({ code: 'ENUM_ERR_MALFORMED' }), 2);
  t.equal(enumr.cacheEntries, 3, 'only successful answers cached');
});

t.test('closing ends pending queries', async (t) => {
  const dns = await startFakeDns(() => undefined);
  t.teardown(() => dns.close());
  const client = new DnsClient({ servers: [`127.0.0.1:${dns.port}`], timeoutMs: 60_000 });
  const p = client.query('1.e164.arpa', RrType.NAPTR);
  t.equal(client.inFlight, 1);
  client.close();
  await t.rejects(p, { code: 'ENUM_ERR_CLOSED' });
  await t.rejects(client.query('1.e164.arpa', RrType.NAPTR), { code: 'ENUM_ERR_CLOSED' });
  t.throws(() => new DnsClient({ servers: [] }), { code: 'ENUM_ERR_CONFIG' });
  t.throws(() => new DnsClient({ servers: ['127.0.0.1:99999'] }), { code: 'ENUM_ERR_CONFIG' });
  t.same(new DnsClient({ servers: ['[::1]:5353', '::1', 'ns.example'] }).servers, [
    { host: '::1', port: 5353 },
    { host: '::1', port: 53 },
    { host: 'ns.example', port: 53 },
  ]);
});
