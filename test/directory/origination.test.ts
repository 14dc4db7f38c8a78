import t from 'tap';

import { Directory, EnumResolver, OriginationRouter, Outcome, Route, encodeResponse, type EnumFallback, type OriginationConfig } from '../../src/directory/index.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { questionOf, startDnsmasq, startFakeDns } from './dns-helpers.js';
import { nanpPlan } from './plans.js';

const plan = nanpPlan();

const config: OriginationConfig = {
  callServer: { name: 'cs1', uri: 'sip:cs1.example.net:5060' },
  pstn: { name: 'pstn-gw', uri: 'sip:pstn-gw.example.net' },
  attendant: { name: 'attendant', uri: 'sip:attendant@pbx-a.example.net' },
  farSites: [{ name: 'site-b', domains: ['SiteB.example.com'], prefixes: ['+1666777'], mainNumbers: ['+16667770000'] }],
};

function makeDirectory(): Directory {
  const dir = new Directory({ plan, database: ':memory:', reapIntervalMs: 0 });
  dir.add({ number: '1234', client: 'sip:alice@pc-a.example.com' });
  dir.add({ number: '1236', client: 'sip:carol@pc-a.example.com' });
  dir.add({ number: '+17778880004', client: 'sip:ported-in@pc-a.example.com' });
  return dir;
}

const rev = (e164: string) => e164.slice(1).split('').reverse().join('.') + '.e164.arpa';

t.test('decisions against dnsmasq', async (t) => {
  const dns = await startDnsmasq([
    { name: rev('+16667771111'), order: 10, preference: 10, flags: 'u', service: 'E2U+sip', regexp: '!^\\+1666777(.*)$!sip:\\1@siteb.example.com!' },
    { name: rev('+17778880001'), order: 10, preference: 10, flags: 'u', service: 'E2U+sip', regexp: '!^.*$!sip:x@unknown.example.net!' },
    { name: rev('+17778880002'), order: 10, preference: 10, flags: 'u', service: 'E2U+pstn:tel', regexp: '!(^.*$)!tel:\\1;npdi;rn=+16667770099!' },
    { name: rev('+17778880003'), order: 10, preference: 10, flags: 'u', service: 'E2U+pstn:tel', regexp: '!(^.*$)!tel:\\1;npdi!' },
    { name: rev('+17778880004'), order: 10, preference: 10, flags: 'u', service: 'E2U+pstn:sip', regexp: '!(^.*$)!sip:\\1;npdi;rn=+15551239999@np.example;user=phone!' },
  ]);
  t.teardown(() => dns.stop());
  const metrics = new MetricsRegistry();
  const dir = makeDirectory();
  t.teardown(() => dir.close());
  const enumr = new EnumResolver({ servers: [`127.0.0.1:${dns.port}`], timeoutMs: 3000, metrics });
  t.teardown(() => enumr.close());
  const router = new OriginationRouter(dir, enumr, config, metrics);
  const dips = metrics.counter('switchhook_enum_cache_misses_total', '');

  // Claims 2-4: a caller without a multimedia client goes the ordinary telephony way.
  t.match(await router.decide({ caller: '1235', dialled: '1236' }), { route: Route.Pstn, outcome: Outcome.CallerNoClient, trunk: { name: 'pstn-gw' }, callerAddress: undefined });
  t.match(await router.decide({ caller: 'x', dialled: '1236' }), { route: Route.Reject, outcome: Outcome.CallerInvalid });
  t.match(await router.decide({ caller: '1234', dialled: '12' }), { route: Route.Reject, outcome: Outcome.CalleeInvalid, caller: { clients: ['sip:alice@pc-a.example.com'] } });

  // Claim 6: callee served here, with and without a client.
  const local = await router.decide({ caller: '1234', dialled: '1236' });
  t.match(local, {
    route: Route.CallServer,
    outcome: Outcome.LocalClient,
    trunk: { name: 'cs1' },
    target: 'sip:+15551231236@cs1.example.net:5060;user=phone',
    callerAddress: 'sip:alice@pc-a.example.com',
    caller: { e164: '+15551231234', extension: '1234' },
    callee: { e164: '+15551231236', extension: '1236', clients: ['sip:carol@pc-a.example.com'] },
  });
  t.same(local.reasons.map((r) => r.step), ['caller-client', 'local-client']);
  t.match(await router.decide({ caller: '+15551231234', dialled: '5551231237' }), { route: Route.Pstn, outcome: Outcome.LocalNoClient, target: 'sip:+15551231237@pstn-gw.example.net;user=phone' });

  // The main number: the attendant recovers the extension.
  t.match(await router.decide({ caller: '1234', dialled: '15551230000' }), { route: Route.Attendant, outcome: Outcome.LocalMainNumber, trunk: { name: 'attendant' }, callee: { viaAttendant: true } });
  t.match(await router.decide({ caller: '1234', dialled: '916667770000' }), { route: Route.CallServer, outcome: Outcome.FarMainNumber, callee: { viaAttendant: true, farSite: 'site-b' } });

  // Claims 5, 7: elsewhere; ENUM E2U+sip names the far site.
  const far = await router.decide({ caller: '1234', dialled: '916667771111' });
  t.match(far, { route: Route.CallServer, outcome: Outcome.EnumSip, trunk: { name: 'cs1' }, callee: { farSite: 'site-b', clients: ['sip:1111@siteb.example.com'] }, callerAddress: 'sip:alice@pc-a.example.com' });
  t.match(far.reasons.find((r) => r.step === 'enum')!.detail, /^ENUM answered: sip sip:1111@siteb\.example\.com$/);
  const again = await router.decide({ caller: '1234', dialled: '+16667771111' });
  t.match(again.reasons.find((r) => r.step === 'enum')!.detail, /\(cached\)/, 'second decision from the ENUM cache');
  t.match(await router.decide({ caller: '1234', dialled: '+17778880001' }), { route: Route.Pstn, outcome: Outcome.FarSiteUnknown });

  // Number portability (RFC 4694 / RFC 4769).
  t.match(await router.decide({ caller: '1234', dialled: '+17778880002' }), {
    route: Route.CallServer,
    outcome: Outcome.EnumPorted,
    callee: { rn: '+16667770099', npdi: true, farSite: 'site-b' },
    target: 'sip:+17778880002;npdi;rn=+16667770099@cs1.example.net:5060;user=phone',
  });
  t.match(await router.decide({ caller: '1234', dialled: '+17778880003' }), { route: Route.Pstn, outcome: Outcome.EnumNotPorted, target: 'sip:+17778880003;npdi@pstn-gw.example.net;user=phone' });
  t.match(await router.decide({ caller: '1234', dialled: '+17778880004' }), { route: Route.CallServer, outcome: Outcome.EnumPorted, callee: { clients: ['sip:ported-in@pc-a.example.com'] } });

  // No ENUM record: a far site's prefix still reaches its service node; otherwise the PSTN.
  t.match(await router.decide({ caller: '1234', dialled: '+16667772222' }), { route: Route.CallServer, outcome: Outcome.FarSitePrefix, callee: { farSite: 'site-b' } });
  t.match(await router.decide({ caller: '1234', dialled: '+19998887777' }), { route: Route.Pstn, outcome: Outcome.NotAssociated });

  // npdi already on the request URI: no second dip.
  const before = dips.total();
  t.match(await router.decide({ caller: '1234', dialled: '+17778889999', requestUri: { npdi: true, rn: '+16667770001' } }), { route: Route.CallServer, outcome: Outcome.NpdiPorted, callee: { farSite: 'site-b', rn: '+16667770001' } });
  t.match(await router.decide({ caller: '1234', dialled: '+17778889998', requestUri: { npdi: true } }), { route: Route.Pstn, outcome: Outcome.NpdiNotPorted, target: 'sip:+17778889998;npdi@pstn-gw.example.net;user=phone' });
  t.match(await router.decide({ caller: '1234', dialled: '+17778889997', requestUri: { npdi: true, rn: '+18005550000' } }), { route: Route.Pstn, outcome: Outcome.NpdiPorted });
  t.equal(dips.total(), before, 'no ENUM query when npdi is present');

  const decisions = metrics.counter('switchhook_directory_decisions_total', '');
  t.equal(decisions.get({ route: 'call-server', outcome: 'enum-sip' }), 2);
  t.equal(decisions.total(), 18);
});

t.test('ENUM failures fall back by the configured rule', async (t) => {
  let malformed = false;
  const dns = await startFakeDns((q) => {
    if (!malformed) return undefined;
    const question = questionOf(q);
    return encodeResponse(question, { answers: [{ order: 1, preference: 1, flags: 'u', service: 'E2U+sip', regexp: '!^(.*$!sip:x@y!', replacement: '', ttl: 60 }] });
  });
  t.teardown(() => dns.close());
  const dir = makeDirectory();
  t.teardown(() => dir.close());
  const enumr = new EnumResolver({ servers: [`127.0.0.1:${dns.port}`], timeoutMs: 200, tries: 1 });
  t.teardown(() => enumr.close());
  const expect: Record<EnumFallback, { route: Route; outcome: Outcome }> = {
    pstn: { route: Route.Pstn, outcome: Outcome.EnumFailedPstn },
    reject: { route: Route.Reject, outcome: Outcome.EnumFailedReject },
    'assume-not-ported': { route: Route.CallServer, outcome: Outcome.FarSitePrefix },
  };
  for (const rule of Object.keys(expect) as EnumFallback[]) {
    const router = new OriginationRouter(dir, enumr, { ...config, enumFallback: rule });
    const d = await router.decide({ caller: '1234', dialled: '+16667773333' });
    t.match(d, expect[rule], `timeout, rule ${rule}`);
    t.match(d.reasons.find((r) => r.step === 'enum-failed')!.detail, /^ENUM_ERR_TIMEOUT/);
  }
  malformed = true;
  const d = await new OriginationRouter(dir, enumr, config).decide({ caller: '1234', dialled: '+16667773334' });
  t.match(d, { route: Route.Pstn, outcome: Outcome.EnumFailedPstn });
  t.match(d.reasons.find((r) => r.step === 'enum-failed')!.detail, /^ENUM_ERR_REGEXP/);

  // Without an ENUM resolver the far-site prefixes still route.
  const noEnum = new OriginationRouter(dir, undefined, config);
  t.match(await noEnum.decide({ caller: '1234', dialled: '+16667770001' }), { route: Route.CallServer, outcome: Outcome.FarSitePrefix });
  t.match(await noEnum.decide({ caller: '1234', dialled: '+442079460000' }), { route: Route.Pstn, outcome: Outcome.NotAssociated });
  t.throws(() => new OriginationRouter(dir, undefined, { ...config, pstn: { name: 'x', uri: 'mailto:x' } }), { code: 'DIR_ERR_CONFIG', field: 'pstn' });
});

t.test('far site unknown can reject', async (t) => {
  const dns = await startFakeDns((q) => encodeResponse(questionOf(q), { answers: [{ order: 1, preference: 1, flags: 'u', service: 'E2U+sip', regexp: '!^.*$!sip:x@elsewhere.example!', replacement: '', ttl: 60 }] }));
  t.teardown(() => dns.close());
  const dir = makeDirectory();
  t.teardown(() => dir.close());
  const enumr = new EnumResolver({ servers: [`127.0.0.1:${dns.port}`] });
  t.teardown(() => enumr.close());
  const d = await new OriginationRouter(dir, enumr, { ...config, unknownFarSite: 'reject' }).decide({ caller: '1234', dialled: '+19998887776' });
  t.match(d, { route: Route.Reject, outcome: Outcome.FarSiteUnknown });
});
