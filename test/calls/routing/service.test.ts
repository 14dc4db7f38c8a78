import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { ComputerInterfaces } from '../../../src/calls/computer-interfaces.js';
import { RoutingRequest, RoutingService, RoutingTable, type RoutedCall } from '../../../src/calls/routing/index.js';
import { ConnectionState, ForwardingType } from '../../../src/cti/index.js';
import { SipStack } from '../../../src/sip/index.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { MetricsRegistry } from '../../../src/util/metrics.js';
import { startRig, until } from '../../helpers/cti.js';
import { udpBound } from '../../helpers/peers.js';
import { freePort, runSipp } from '../../sip/helpers/sipp.js';

const fixtures = new URL('../../fixtures/sipp/', import.meta.url).pathname;

t.test('every routing action through the PBX simulator, end-and-message received by a sipp UAS, a presence rule', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'routing-service-'));
  const store = new SqliteStore(dir);
  const exts = ['2000', '2001', '2002', '2003', '2004', '2005', '2006', '2007', '2008', '3000'];
  const rig = await startRig({ extensions: exts });
  const metrics = new MetricsRegistry();
  const sip = new SipStack({ listen: ['udp:127.0.0.1:0'], metrics });
  await sip.start();
  const sippPort = await freePort();
  const clients = new ComputerInterfaces({
    domain: 'pbx.example',
    configured: { '2000': 'sip:2000@127.0.0.1:5999', '2007': `sip:2007@127.0.0.1:${sippPort}` },
  });
  const table = new RoutingTable(store);
  const service = new RoutingService({ link: rig.link, model: rig.model, table, clients, sip, gatewayNumber: '3000', metrics });
  service.start();
  t.teardown(async () => {
    service.close();
    await sip.close();
    await rig.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await table.put('2000', {
    timeZone: 'Europe/Berlin',
    rules: [
      { id: 'forwarded', conditions: { presence: 'forwarded' }, action: { type: 'transfer-extension', extension: '2008' } },
      { id: 'boss', conditions: { caller: { exact: '2002' } }, action: { type: 'answer' } },
      { id: 'nuisance', conditions: { caller: { exact: '2003' } }, action: { type: 'reject' } },
      { id: 'colleague', conditions: { caller: { exact: '2004' } }, action: { type: 'transfer-extension', extension: '2001' } },
      { id: 'softphone', conditions: { caller: { exact: '2005' } }, action: { type: 'transfer-sip', uri: 'sip:alice@sip.example.org' } },
      { id: 'desk', conditions: { caller: { exact: '2006' } }, action: { type: 'transfer-computer' } },
      { id: 'message', conditions: { caller: { exact: '2007' } }, action: { type: 'end-and-message', text: '{{caller}}: {{user}} is busy' } },
    ],
  }, 0);
  const routed: RoutedCall[] = [];
  service.on('routed', (r) => routed.push(r));
  const sw = rig.sim.core;
  const route = async (caller: string): Promise<RoutedCall> => {
    const mine = (): RoutedCall[] => routed.filter((x) => x.device === '2000');
    const before = mine().length;
    sw.dial(caller, '2000');
    const deadline = Date.now() + 10_000;
    while (mine().length === before) {
      if (Date.now() > deadline) throw new Error(`no decision for ${caller}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = mine()[before]!;
    await r.applied.done;
    return r;
  };
  const stateAt = (ext: string) => sw.phone(ext).calls.map((c) => c.state);

  t.match(await route('2003'), { applied: { request: RoutingRequest.ClearConnection }, decision: { ruleId: 'nuisance' } });
  t.same(stateAt('2000'), [], 'the ringing stopped (claim 23)');
  sw.onHook('2003');

  t.match(await route('2004'), { applied: { request: RoutingRequest.DeflectCall, destination: '2001' } });
  t.same(stateAt('2001'), [ConnectionState.Alerting], 'transferred to another PBX phone (claim 24)');
  sw.onHook('2004');

  const sipTransfer = await route('2005');
  t.match(sipTransfer, { applied: { destination: '3000' }, voipTarget: 'sip:alice@sip.example.org' });
  t.equal(service.voipTarget(sipTransfer.callId), 'sip:alice@sip.example.org', 'the SIP client the gateway call is for (claims 27-28)');
  t.same(stateAt('3000'), [ConnectionState.Alerting]);
  sw.onHook('2005');

  t.match(await route('2006'), { applied: { destination: '3000' }, voipTarget: 'sip:2000@127.0.0.1:5999' }, 'the user\'s computer interface (claim 25)');
  sw.onHook('2006');

  const sipp = runSipp(['-sf', join(fixtures, 'message-uas.xml'), '-i', '127.0.0.1', '-p', String(sippPort), '-m', '1'], 30);
  t.teardown(() => sipp.stop());
  await udpBound(sippPort);
  const messaged = new Promise<[string | undefined, number]>((resolve) => service.once('messaged', (_c, target, status) => resolve([target, status])));
  t.match(await route('2007'), { applied: { request: RoutingRequest.ClearConnection }, decision: { message: '2007: 2000 is busy' } });
  t.same(await messaged, ['sip:2007@pbx.example', 200], 'the MESSAGE reached the caller\'s computer interface (claims 29-30)');
  const result = await sipp.done;
  t.equal(result.code, 0, `sipp UAS checked the MESSAGE: ${result.errors}`);
  sw.onHook('2007');

  t.match(await route('2002'), { applied: { request: RoutingRequest.AnswerCall } });
  t.same(stateAt('2000'), [ConnectionState.Connected], 'answered (claim 22)');
  sw.onHook('2002');
  // The user turns on forwarding on no answer: the presence rule sends every caller there at once (claim 31).
  await rig.link.setForwarding('2000', ForwardingType.NoAnswer, true, '2008');
  await until(rig.model, () => rig.model.device('2000')!.forwarding.some((f) => f.on), 'forwarding on');
  t.match(await route('2004'), { decision: { ruleId: 'forwarded' }, applied: { request: RoutingRequest.DeflectCall, destination: '2008' } });
  t.same(stateAt('2008'), [ConnectionState.Alerting]);
  sw.onHook('2004');

  const text = metrics.render();
  t.match(text, /switchhook_routing_decisions_total\{action="transfer-extension"\} 2/);
  t.match(text, /switchhook_routing_requests_total\{request="DeflectCall",result="ok"\} 4/);
  t.match(text, /switchhook_routing_messages_total\{result="sent"\} 1/);
});

t.test('without a gateway number a SIP transfer is counted as an error; calls with no rules ring', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'routing-service-'));
  const store = new SqliteStore(dir);
  const rig = await startRig({ extensions: ['2000', '2001', '2002'] });
  const metrics = new MetricsRegistry();
  const table = new RoutingTable(store);
  const service = new RoutingService({ link: rig.link, model: rig.model, table, clients: new ComputerInterfaces({ domain: 'pbx.example' }), metrics });
  service.start();
  service.start();
  t.teardown(async () => {
    service.close();
    service.close();
    await rig.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await table.put('2000', { timeZone: 'UTC', rules: [{ id: 'sip', conditions: { caller: { exact: '2001' } }, action: { type: 'transfer-sip', uri: 'sip:x@y.example' } }] }, 0);
  const sw = rig.sim.core;
  sw.dial('2001', '2000');
  const deadline = Date.now() + 10_000;
  while (!/switchhook_routing_requests_total\{request="DeflectCall",result="error"\} 1/.test(metrics.render())) {
    if (Date.now() > deadline) throw new Error('no error counted');
    await new Promise((r) => setTimeout(r, 5));
  }
  t.same(sw.phone('2000').calls.map((c) => c.state), [ConnectionState.Alerting], 'still ringing');
  sw.onHook('2001');
  const routed: RoutedCall[] = [];
  service.on('routed', (r) => routed.push(r));
  sw.dial('2002', '2000');
  while (routed.length === 0) {
    if (Date.now() > deadline + 10_000) throw new Error('no decision');
    await new Promise((r) => setTimeout(r, 5));
  }
  t.match(routed[0], { applied: { request: RoutingRequest.None }, decision: { action: 'ring' } });
  sw.onHook('2002');
});
