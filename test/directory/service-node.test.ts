/**
 * Two sites, each with its own service node (SipStack + Directory + OriginationRouter), simulated PBX (CTI
 * link + model) and multimedia clients, on loopback; dnsmasq holds the NAPTR records; sipp plays the PSTN
 * gateway, the trunk gateway of a third site and a client that only receives the address offer.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';

import t from 'tap';

import {
  AddressExchangeClient,
  CallOutcome,
  Directory,
  EnumResolver,
  OriginationRouter,
  Outcome,
  Route,
  ServiceNode,
  type AddressBody,
  type OriginationResult,
  type OriginationConfig,
} from '../../src/directory/index.js';
import { Registrar } from '../../src/sip/registrar/registrar.js';
import { SipStack } from '../../src/sip/ua/stack.js';
import { CstaEventKind } from '../../src/cti/events.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { startRig, type Rig } from '../helpers/cti.js';
import { fixtures, killPeers, runSipp } from '../sip/interop/peers.js';
import { startDnsmasq } from './dns-helpers.js';
import { nanpPlan } from './plans.js';
import { freeUdpPort } from '../helpers/peers.js';

t.teardown(killPeers);

const rev = (e164: string) => e164.slice(1).split('').reverse().join('.') + '.e164.arpa';

interface Site {
  name: string;
  stack: SipStack;
  uri: string;
  directory: Directory;
  router: OriginationRouter;
  node: ServiceNode;
  metrics: MetricsRegistry;
  rig?: Rig;
  registrar: Registrar;
  close(): Promise<void>;
}

async function startStack(): Promise<{ stack: SipStack; uri: string }> {
  const stack = new SipStack({ listen: ['udp:127.0.0.1:0'], userAgent: 'switchhook-test', timers: { T1: 100 } });
  const [a] = await stack.start();
  return { stack, uri: `sip:127.0.0.1:${a!.port}` };
}

async function startSite(o: {
  name: string;
  block: string;
  /** Numbers ported in to the site. */
  servedPrefixes?: string[];
  extensions?: string[];
  config: (self: string) => OriginationConfig;
  enumServer?: string;
  enumTimeoutMs?: number;
  inviteTimeoutMs?: number;
  attendantTimeoutMs?: number;
}): Promise<Site> {
  const metrics = new MetricsRegistry();
  const { stack, uri } = await startStack();
  const directory = new Directory({ plan: nanpPlan(o.block, o.servedPrefixes), database: ':memory:', reapIntervalMs: 0, metrics });
  const enumr = o.enumServer ? new EnumResolver({ servers: [o.enumServer], timeoutMs: o.enumTimeoutMs ?? 3000, tries: 1, metrics }) : undefined;
  const router = new OriginationRouter(directory, enumr, o.config(uri), metrics);
  const rig = o.extensions ? await startRig({ extensions: o.extensions }) : undefined;
  // The outside-line prefix 9 leaves the PBX through its trunk (NetworkReached, ECMA-269 §17.3.15).
  rig?.sim.core.setNetworkRoutes({ isNetwork: (to) => to.startsWith('9') && to.length > 4 });
  const node = new ServiceNode({
    site: o.name,
    directory,
    router,
    stack,
    metrics,
    inviteTimeoutMs: o.inviteTimeoutMs ?? 8000,
    attendantTimeoutMs: o.attendantTimeoutMs ?? 60_000,
    ...(rig
      ? {
          pbx: {
            makeCall: (a: string, b: string) => rig.link.makeCall(a, b),
            release: async (d: string) => {
              for (const c of rig.model.callsOf(d)) await rig.link.clearConnection({ callId: c.callId, deviceId: d });
            },
            gatewayDevices: ['9998', '9999'],
            attendantDevice: '0000',
          },
        }
      : {}),
  });
  const registrar = new Registrar();
  stack.use('REGISTER', registrar.middleware());
  node.attachRegistrar(registrar);
  if (rig) node.attachModel(rig.model);
  return {
    name: o.name,
    stack,
    uri,
    directory,
    router,
    node,
    metrics,
    registrar,
    ...(rig ? { rig } : {}),
    async close() {
      node.close();
      registrar.close();
      await rig?.close();
      enumr?.close();
      directory.close();
      await stack.close();
    },
  };
}

async function startClient(user: string): Promise<{ client: AddressExchangeClient; stack: SipStack; address: string }> {
  const { stack, uri } = await startStack();
  const address = uri.replace('sip:', `sip:${user}@`);
  return { client: new AddressExchangeClient({ stack, address }), stack, address };
}

function counter(m: MetricsRegistry, name: string, labels: Record<string, string>): number {
  return m.counter(name, '').get(labels);
}

function waitFor<T>(emitter: NodeJS.EventEmitter, event: string, ms = 15_000): Promise<T> {
  return Promise.race([
    once(emitter, event).then((a) => a[0] as T),
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), ms).unref()),
  ]);
}

t.test('two sites: origination, address exchange, attendant, fallbacks', async (t) => {
  const dns = await startDnsmasq([
    // Ported out of site A's range to site B (RFC 4694 rn in site B's block).
    { name: rev('+15553451234'), order: 10, preference: 10, flags: 'u', service: 'E2U+pstn:tel', regexp: '!(^.*$)!tel:\\1;npdi;rn=+15552349999!' },
    // A malformed rule: the substitution expression has no closing delimiter.
    { name: rev('+15556660001'), order: 10, preference: 10, flags: 'u', service: 'E2U+sip', regexp: '!^.*$!sip:x@y' },
    // Associated with a client at the third site (sipp as its trunk gateway).
    { name: rev('+15557770001'), order: 10, preference: 10, flags: 'u', service: 'E2U+sip', regexp: '!^.*$!sip:dora@site-c.example!' },
  ]);
  t.teardown(() => dns.stop());
  const pstnPort = await freeUdpPort();
  const gatewayPort = await freeUdpPort();
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  const silentUri = `sip:127.0.0.1:${silent.address().port}`;

  const b = await startSite({
    name: 'west',
    block: '234',
    // +15553451234 was ported in from another carrier's block (ENUM gives rn=+15552349999).
    servedPrefixes: ['+15553451234'],
    attendantTimeoutMs: 3000,
    extensions: ['0000', '2002', '2003', '9998', '9999'],
    config: (self) => ({ callServer: { name: 'west-cs', uri: self }, pstn: { name: 'pstn', uri: `sip:127.0.0.1:${pstnPort}` } }),
  });
  t.teardown(() => b.close());
  const a = await startSite({
    name: 'east',
    block: '123',
    extensions: ['0000', '1001', '1002', '9998', '9999'],
    enumServer: `127.0.0.1:${dns.port}`,
    // Long enough for sipp to start on a loaded machine (its INVITEs are retransmitted until then).
    inviteTimeoutMs: 6000,
    config: (self) => ({
      callServer: { name: 'east-cs', uri: self },
      pstn: { name: 'pstn', uri: `sip:127.0.0.1:${pstnPort}` },
      farSites: [
        { name: 'west', domains: ['site-b.example'], prefixes: ['+1555234'], mainNumbers: ['+15552340000'], trunk: { name: 'west-cs', uri: b.uri } },
        { name: 'south', domains: ['site-c.example'], prefixes: ['+1555777'], trunk: { name: 'south-gw', uri: `sip:127.0.0.1:${gatewayPort}` } },
        { name: 'north', domains: ['site-d.example'], prefixes: ['+1555888'], trunk: { name: 'north-cs', uri: silentUri } },
      ],
    }),
  });
  t.teardown(() => a.close());
  const alice = await startClient('alice');
  const bob = await startClient('bob');
  const carol = await startClient('carol');
  t.teardown(async () => {
    await alice.stack.close();
    await bob.stack.close();
    await carol.stack.close();
  });

  // Registrations feed the directory: alice (1001 at site A) registers with site A's registrar.
  const reg = await alice.stack.request({ method: 'REGISTER', uri: a.uri, to: `<sip:1001@127.0.0.1>`, from: `<sip:1001@127.0.0.1>`, headers: { Contact: `<${alice.address}>`, Expires: '300' }, contact: false });
  t.equal(reg.response.status, 200);
  t.same(a.directory.lookup('+15551231001')!.bindings.map((x) => x.uri), [alice.address], 'the registration reached the directory');
  const notNumber = await alice.stack.request({ method: 'REGISTER', uri: a.uri, to: `<sip:alice@127.0.0.1>`, from: `<sip:alice@127.0.0.1>`, headers: { Contact: `<${alice.address}>`, Expires: '300' }, contact: false });
  t.equal(notNumber.response.status, 200, 'the registrar takes any AOR');
  t.equal(counter(a.metrics, 'switchhook_service_node_registrations_total', { result: 'not-a-number' }), 1, 'but only numbers reach the directory');
  b.directory.add({ number: '2002', client: bob.address });
  b.directory.add({ number: '2003', client: carol.address });

  await t.test('caller with a client, callee at the far site with a client: addresses cross, media either way', async (t) => {
    const offer = waitFor<AddressBody>(bob.client, 'offer');
    const answer = waitFor<AddressBody>(alice.client, 'answer');
    let offDelivered = (): void => undefined;
    const delivered = new Promise<void>((resolve) => {
      offDelivered = b.rig!.sim.core.onEvent((ev) => ev.kind === CstaEventKind.Delivered && ev.subject === '2002' && resolve());
    });
    t.teardown(() => offDelivered());
    // Alice's phone dials the far number; the CTI Originated event drives the service node.
    const done = waitFor<OriginationResult>(a.node, 'call');
    const trunkEvents: unknown[] = [];
    const offTrunk = a.rig!.sim.core.onEvent((ev) => ev.kind === CstaEventKind.NetworkReached && trunkEvents.push(ev));
    t.teardown(offTrunk);
    a.rig!.sim.core.makeCall('1001', '915552342002');
    const r = await done;
    t.equal(r.decision.route, Route.CallServer);
    t.equal(r.decision.outcome, Outcome.FarSitePrefix);
    t.equal(r.outcome, CallOutcome.Connected);
    t.equal(r.calleeAddress, bob.address, 'the far call server names the callee client in Call-Info');
    const o = await offer;
    t.match(o, { role: 'offer', site: 'west', caller: { number: '+15551231001', address: alice.address }, callee: { number: '+15552342002', address: bob.address } });
    const ans = await answer;
    t.match(ans, { role: 'answer', call: o.call, callee: { address: bob.address } });
    await delivered;
    t.pass('the call was placed on site B\'s PBX from the trunk gateway port');
    // The trunk gateway answered on the packet network: the PBX's network connection is established.
    const out = a.rig!.sim.core.phone('1001').calls[0]!;
    a.rig!.sim.core.networkAnswered(out.callId, '915552342002');
    t.match(a.rig!.sim.core.phone('1001').calls, [{ state: 'connected', parties: { '915552342002': 'connected' } }], 'alice\'s phone talks through site A\'s trunk');
    t.ok(trunkEvents.length > 0, 'site A\'s switch reported NetworkReached');
    t.equal(await bob.client.call(o.call), 200, 'bob opens a media session to alice');
    t.equal(await alice.client.call(o.call), 200, 'alice opens a media session to bob');
    t.ok(await a.node.hangup(r.callId!));
    a.rig!.sim.core.onHook('1001');
  });

  await t.test('main number: the attendant recovers the extension', async (t) => {
    // The attendant position answers and passes the call on to 2003 (a small rule, as an attendant would).
    const off = b.rig!.sim.core.onEvent((ev) => {
      if (ev.kind === CstaEventKind.Delivered && ev.subject === '0000') {
        setImmediate(() => {
          b.rig!.sim.core.answer('0000', ev.callId);
          b.rig!.sim.core.singleStepTransfer('0000', undefined, '2003');
        });
      }
    });
    t.teardown(off);
    const offer = waitFor<AddressBody>(carol.client, 'offer');
    const answer = waitFor<AddressBody>(alice.client, 'answer');
    const r = await a.node.originate({ caller: '1001', dialled: '915552340000' });
    t.match(r, { outcome: CallOutcome.Connected, decision: { route: Route.CallServer, outcome: Outcome.FarMainNumber, callee: { viaAttendant: true } } });
    const o = await offer;
    t.match(o, { caller: { address: alice.address }, callee: { number: '+15552342003', address: carol.address } });
    t.match(await answer, { callee: { address: carol.address } });
    t.equal(counter(b.metrics, 'switchhook_service_node_incoming_total', { result: 'attendant' }), 1);
    t.ok(await a.node.hangup(r.callId!));
  });

  await t.test('main number: the attendant consults the extension, which answers, then transfers', async (t) => {
    const core = b.rig!.sim.core;
    const off = core.onEvent((ev) => {
      if (ev.kind === CstaEventKind.Delivered && ev.subject === '0000') setImmediate(() => core.answer('0000', ev.callId));
      if (ev.kind === CstaEventKind.Established && ev.subject === '0000') setImmediate(() => core.consultation('0000', ev.callId, '2002'));
      if (ev.kind === CstaEventKind.Delivered && ev.subject === '2002' && ev.callingDevice === '0000') setImmediate(() => core.answer('2002', ev.callId));
      if (ev.kind === CstaEventKind.Established && ev.subject === '2002' && ev.callingDevice === '0000') setImmediate(() => core.transfer('0000'));
    });
    t.teardown(off);
    const offer = waitFor<AddressBody>(bob.client, 'offer');
    const r = await a.node.originate({ caller: '1001', dialled: '+15552340000' });
    t.match(r, { outcome: CallOutcome.Connected, decision: { outcome: Outcome.FarMainNumber } });
    t.match(await offer, { caller: { address: alice.address }, callee: { number: '+15552342002', address: bob.address } });
    t.ok(counter(b.metrics, 'switchhook_service_node_calls_total', { route: 'internal', outcome: 'ignored' }) >= 1, 'the consultation call to an extension is internal: not routed');
    t.ok(await a.node.hangup(r.callId!));
    core.onHook('2002');
  });

  await t.test('main number: an attendant who passes the call nowhere ends the wait, counted', async (t) => {
    const r = await a.node.originate({ caller: '1001', dialled: '915552340000' });
    t.match(r, { outcome: CallOutcome.Connected, decision: { outcome: Outcome.FarMainNumber } });
    const code = { code: 'DIR_ERR_ATTENDANT_TIMEOUT' };
    for (let i = 0; i < 200 && counter(b.metrics, 'switchhook_service_node_errors_total', code) === 0; i++) await new Promise((res) => setTimeout(res, 50));
    t.equal(counter(b.metrics, 'switchhook_service_node_errors_total', code), 1);
    t.ok(await a.node.hangup(r.callId!));
  });

  await t.test('each call from another site holds a gateway port: with both busy the next gets 503, a hang-up frees one', async (t) => {
    const until = async (pred: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 300 && !pred(); i++) await new Promise((res) => setTimeout(res, 50));
      t.ok(pred(), what);
    };
    await until(() => b.node.gatewayPorts.busy === 0, 'earlier calls released their ports');
    const first = await a.node.originate({ caller: '1001', dialled: '915552342002' });
    const second = await a.node.originate({ caller: '1001', dialled: '915552342003' });
    t.match([first.outcome, second.outcome], [CallOutcome.Connected, CallOutcome.Connected]);
    t.same(b.node.gatewayPorts, { busy: 2, total: 2 });
    await until(() => b.rig!.model.callsOf('9998').length === 1 && b.rig!.model.callsOf('9999').length === 1, 'one PBX call from each port');
    const third = await carol.stack.request({ method: 'INVITE', uri: `${b.uri.replace('sip:', 'sip:+15552342003@')};user=phone`, from: '<sip:+15551231002@127.0.0.1;user=phone>', to: '<sip:+15552342003@127.0.0.1;user=phone>' });
    t.equal(third.response.status, 503);
    t.equal(third.response.reason, 'All Gateway Ports Busy');
    t.equal(third.response.headers('retry-after')[0], '5');
    t.equal(counter(b.metrics, 'switchhook_service_node_incoming_total', { result: 'ports-busy' }), 1);
    t.ok(await a.node.hangup(first.callId!));
    await until(() => b.node.gatewayPorts.busy === 1, 'the hang-up freed its port');
    t.ok(await a.node.hangup(second.callId!));
    await until(() => b.node.gatewayPorts.busy === 0 && b.rig!.model.callsOf('9998').length === 0 && b.rig!.model.callsOf('9999').length === 0, 'both ports free, their PBX calls cleared');
  });

  await t.test('callee served here with a client: the node is its own call server', async (t) => {
    a.directory.add({ number: '1002', client: carol.address });
    t.teardown(() => a.directory.remove('1002'));
    const offer = waitFor<AddressBody>(carol.client, 'offer');
    const r = await a.node.originate({ caller: '1001', dialled: '1002' });
    t.match(r, { outcome: CallOutcome.Connected, decision: { outcome: Outcome.LocalClient } });
    t.match(await offer, { site: 'east', caller: { address: alice.address } });
    await a.node.hangup(r.callId!);
  });

  await t.test('ported number: ENUM rn routes it to site B, whose client gets the offer', async (t) => {
    b.directory.add({ number: '+15553451234', client: bob.address });
    const offer = waitFor<AddressBody>(bob.client, 'offer');
    const r = await a.node.originate({ caller: '1001', dialled: '+15553451234' });
    t.match(r, { outcome: CallOutcome.Connected, decision: { outcome: Outcome.EnumPorted, callee: { rn: '+15552349999', npdi: true } } });
    t.match(await offer, { callee: { number: '+15553451234' } });
    await a.node.hangup(r.callId!);
  });

  await t.test('sipp trunk gateway of a third site receives Call-Info; sipp PSTN gateway never does', async (t) => {
    const gw = runSipp(['-sf', `${fixtures}trunk-gateway-uas.xml`, '-m', '1', '-i', '127.0.0.1', '-p', String(gatewayPort)]);
    const r = await a.node.originate({ caller: '1001', dialled: '+15557770001' });
    t.match(r, { outcome: CallOutcome.Connected, decision: { outcome: Outcome.EnumSip, callee: { farSite: 'south', clients: ['sip:dora@site-c.example'] } } });
    await a.node.hangup(r.callId!);
    const gwRun = await gw.done;
    t.equal(gwRun.code, 0, `trunk gateway scenario passed: ${gwRun.stderr.slice(-400)}`);

    // Caller without a client, unknown callee (NXDOMAIN), malformed NAPTR, far site silent: all PSTN.
    const pstn = runSipp(['-sf', `${fixtures}pstn-gateway-uas.xml`, '-m', '4', '-i', '127.0.0.1', '-p', String(pstnPort)]);
    const noClient = await a.node.originate({ caller: '1002', dialled: '915552342002' });
    t.match(noClient, { outcome: CallOutcome.Connected, decision: { route: Route.Pstn, outcome: Outcome.CallerNoClient } });
    const unknown = await a.node.originate({ caller: '1001', dialled: '+15559990000' });
    t.match(unknown, { outcome: CallOutcome.Connected, decision: { route: Route.Pstn, outcome: Outcome.NotAssociated } });
    const malformed = await a.node.originate({ caller: '1001', dialled: '+15556660001' });
    t.match(malformed, { outcome: CallOutcome.Connected, decision: { route: Route.Pstn, outcome: Outcome.EnumFailedPstn } });
    const silentSite = await a.node.originate({ caller: '1001', dialled: '+15558880001' });
    t.match(silentSite, { outcome: CallOutcome.FallbackPstn, decision: { outcome: Outcome.FarSitePrefix, callee: { farSite: 'north' } } });
    t.equal(counter(a.metrics, 'switchhook_service_node_errors_total', { code: 'DIR_ERR_TIMEOUT' }), 1, 'the silent far site is counted');
    for (const x of [noClient, unknown, malformed, silentSite]) await a.node.hangup(x.callId!);
    const pstnRun = await pstn.done;
    t.equal(pstnRun.code, 0, `PSTN scenario passed (no Call-Info): ${pstnRun.stderr.slice(-400)}`);
    if (pstnRun.code !== 0) console.error(pstnRun.messages.split("\n").filter((l) => /^(INVITE|SIP\/2.0|BYE|ACK|CANCEL|-----)/.test(l)).join("\n"));
  });

  await t.test('a sipp client receives the address offer; a bad body is refused with 400', async (t) => {
    const port = await freeUdpPort();
    b.directory.add({ number: '2004', client: `sip:dan@127.0.0.1:${port}` });
    const sippClient = runSipp(['-sf', `${fixtures}client-message-uas.xml`, '-m', '1', '-i', '127.0.0.1', '-p', String(port)]);
    const r = await a.node.originate({ caller: '1001', dialled: '915552342004' });
    t.match(r, { outcome: CallOutcome.Connected, calleeAddress: `sip:dan@127.0.0.1:${port}` });
    const run = await sippClient.done;
    t.equal(run.code, 0, `sipp client got the offer: ${run.stderr.slice(-400)}`);
    await a.node.hangup(r.callId!);
    const badBody = await a.stack.request({ method: 'MESSAGE', uri: bob.address, body: '{"v":1,"role":"offer"}', contentType: 'application/vnd.switchhook.address+json' });
    t.equal(badBody.response.status, 400, 'a client refuses a malformed address body');
  });

  await t.test('unknown numbers are rejected without signalling', async (t) => {
    const r = await a.node.originate({ caller: '1001', dialled: '12' });
    t.match(r, { outcome: CallOutcome.Rejected, decision: { outcome: Outcome.CalleeInvalid } });
    const notServed = await a.stack.request({ method: 'INVITE', uri: `sip:+15559990000@${a.uri.slice(4)};user=phone` });
    t.equal(notServed.response.status, 404, 'a call server answers 404 for numbers it does not serve');
    a.directory.add({ number: '1002', client: carol.address });
    const anonymous = await a.stack.request({
      method: 'INVITE',
      uri: `sip:+15551231002@${a.uri.slice(4)};user=phone`,
      from: '<sip:anonymous@anonymous.invalid>',
      headers: { 'Call-Info': `<${alice.address}>;purpose=switchhook-client` },
    });
    t.equal(anonymous.response.status, 200, 'an anonymous caller still gets through');
    if (anonymous.dialog) await a.stack.bye(anonymous.dialog);
    a.directory.remove('1002');
    t.equal(counter(a.metrics, 'switchhook_service_node_address_exchanges_total', { result: 'caller-no-number' }), 1, 'but no address offer names a non-number');
    const notServedCount = counter(a.metrics, 'switchhook_service_node_incoming_total', { result: 'not-served' });
    await a.stack.request({ method: 'INVITE', uri: `sip:someone@${a.uri.slice(4)}` });
    t.equal(counter(a.metrics, 'switchhook_service_node_incoming_total', { result: 'not-served' }), notServedCount, 'an INVITE for a non-number URI is left to other handlers');
  });

  await t.test('unregistration removes the client from the directory', async (t) => {
    const r = await alice.stack.request({ method: 'REGISTER', uri: a.uri, to: `<sip:1001@127.0.0.1>`, from: `<sip:1001@127.0.0.1>`, headers: { Contact: `<${alice.address}>`, Expires: '0' }, contact: false });
    t.equal(r.response.status, 200);
    t.same(a.directory.lookup('1001')!.bindings, []);
    t.equal(counter(a.metrics, 'switchhook_service_node_registrations_total', { result: 'removed' }), 1);
  });
});

t.test('DNS timeout: a defined fallback, bounded, counted', async (t) => {
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  const a = await startSite({
    name: 'east',
    block: '123',
    enumServer: `127.0.0.1:${silent.address().port}`,
    enumTimeoutMs: 300,
    config: (self) => ({ callServer: { name: 'cs', uri: self }, pstn: { name: 'pstn', uri: self }, enumFallback: 'reject' }),
  });
  t.teardown(() => a.close());
  a.directory.add({ number: '1001', client: 'sip:alice@127.0.0.1' });
  const r = await a.node.originate({ caller: '1001', dialled: '+15559990000' });
  t.match(r, { outcome: CallOutcome.Rejected, decision: { route: Route.Reject, outcome: Outcome.EnumFailedReject } });
  t.equal(counter(a.metrics, 'switchhook_enum_errors_total', { code: 'ENUM_ERR_TIMEOUT' }), 1);
  const main = await a.stack.request({ method: 'INVITE', uri: `sip:+15551230000@${a.uri.slice(4)};user=phone` });
  t.equal(main.response.status, 480, 'a main number without an attendant position is refused');
  t.equal(counter(a.metrics, 'switchhook_service_node_incoming_total', { result: 'no-attendant' }), 1);
});
