import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import t, { type Test } from 'tap';

import { runAdapter } from '../../../src/cli/commands/adapter.js';
import {
  AdapterClient,
  encodeEnvelope,
  EnvelopeReader,
  maxEnvelopeBytes,
  runReferenceAdapter,
  TapiTranslator,
  translateTsapi,
  type AdapterDeviceEvent,
  type TapiCallStateRecord,
} from '../../../src/cti/adapter/index.js';
import { validateConfig } from '../../../src/daemon/config.js';
import { Switchhook } from '../../../src/daemon/switchhook.js';
import { setLogLevel } from '../../../src/util/log.js';
import { dataDir, nextChange } from '../../helpers/daemon.js';

setLogLevel('silent');

async function adapterDaemon(t: Test): Promise<{ daemon: Switchhook; port: number; sipPort: number }> {
  const daemon = new Switchhook(
    validateConfig({
      cti: { protocol: 'adapter', host: '127.0.0.1', port: 0, devices: ['2001', '2002'] },
      sip: { listen: [{ protocol: 'udp', host: '127.0.0.1', port: 0 }] },
      admin: null,
      data: dataDir(),
      log: 'silent',
    }),
  );
  t.teardown(() => daemon.stop());
  const addr = await daemon.start();
  return { daemon, port: addr.adapter!.port, sipPort: addr.sip![0]!.port };
}

const tapiCall: TapiCallStateRecord[] = [
  { line: '2001', hCall: 'h1', callId: '77', state: 'LINECALLSTATE_DIALTONE' },
  { line: '2001', hCall: 'h1', callId: '77', state: 'LINECALLSTATE_DIALING', called: '2002' },
  { line: '2001', hCall: 'h1', callId: '77', state: 'LINECALLSTATE_PROCEEDING', called: '2002' },
  { line: '2001', hCall: 'h1', callId: '77', state: 'LINECALLSTATE_RINGBACK', called: '2002' },
  { line: '2002', hCall: 'h9', callId: '77', state: 0x2, caller: '2001' },
  { line: '2002', hCall: 'h9', callId: '77', state: 'LINECALLSTATE_ACCEPTED', caller: '2001' },
  { line: '2002', hCall: 'h9', callId: '77', state: 'LINECALLSTATE_CONNECTED' },
  { line: '2001', hCall: 'h1', callId: '77', state: 'LINECALLSTATE_CONNECTED' },
  { line: '2002', hCall: 'h9', callId: '77', state: 'LINECALLSTATE_ONHOLD' },
  { line: '2002', hCall: 'h9', callId: '77', state: 'LINECALLSTATE_CONNECTED' },
  { line: '2001', hCall: 'h1', callId: '77', state: 'LINECALLSTATE_IDLE' },
  { line: '2002', hCall: 'h9', callId: '77', state: 'LINECALLSTATE_DISCONNECTED', mode: 1 },
  { line: '2002', hCall: 'h9', callId: '77', state: 'LINECALLSTATE_IDLE' },
];

t.test('TAPI LINE_CALLSTATE records map onto CSTA-style events', async (t) => {
  const tr = new TapiTranslator();
  const out = tapiCall.map((r) => tr.translate(r));
  const kinds = out.map((e) => (typeof e === 'string' ? e : `${e.device}:${e.kind}:${e.localState}`));
  t.same(kinds, [
    '2001:SERVICE_INITIATED:CONNECTION_INITIATED',
    'dialing',
    '2001:ORIGINATED:CONNECTION_CONNECTED',
    '2001:DELIVERED:CONNECTION_CONNECTED',
    '2002:DELIVERED:CONNECTION_ALERTING',
    'noChange',
    '2002:ESTABLISHED:CONNECTION_CONNECTED',
    '2001:ESTABLISHED:CONNECTION_CONNECTED',
    '2002:HELD:CONNECTION_HELD',
    '2002:RETRIEVED:CONNECTION_CONNECTED',
    '2001:CONNECTION_CLEARED:CONNECTION_NULL',
    '2002:CONNECTION_CLEARED:CONNECTION_FAIL',
    '2002:CONNECTION_CLEARED:CONNECTION_NULL',
  ]);
  const delivered = out[4] as AdapterDeviceEvent;
  t.match(delivered, { callingDevice: '2001', calledDevice: '2002', callId: '77' });
  t.equal((out[11] as AdapterDeviceEvent).cause, 'normalClearing');
  t.equal(tr.translate({ line: '2001', hCall: 'x', state: 'LINECALLSTATE_BOGUS' as never }), 'badState');
  t.equal(tr.translate({ line: '2001', hCall: 'x', state: 0x8000 }), 'unknownState');
  t.equal(tr.translate({ line: '2001', hCall: '', state: 0x8 }), 'noCall');
  t.match(tr.translate({ line: '2001', hCall: 'b', state: 'LINECALLSTATE_BUSY', called: '2002' }), { kind: 'FAILED', cause: 'busy', subjectDevice: '2002' });
  t.match(tr.translate({ line: '2001', hCall: 'c', state: 0x80 }), { kind: 'FAILED', cause: 'destNotObtainable' });
  t.same(tr.callsOf('2001').map((c) => c.state).sort(), ['CONNECTION_FAIL', 'CONNECTION_FAIL']);
});

t.test('TSAPI event records map by name or csta.h number', async (t) => {
  const ev = translateTsapi({ device: '2002', event: 57, callId: '5', alertingDevice: '2002', callingDevice: '2001', calledDevice: '2002', localConnectionInfo: 2 });
  t.match(ev, { kind: 'DELIVERED', actingDevice: '2002', localState: 'CONNECTION_ALERTING', subjectDevice: '2002' });
  const tr = translateTsapi({
    device: '2001',
    event: 'CSTA_TRANSFERRED',
    callId: '5',
    secondaryOldCall: '6',
    transferringDevice: '2001',
    transferredDevice: '2003',
    localConnectionInfo: 'csNull',
    connections: [{ deviceId: '2003', newCallId: '9' }],
  });
  t.match(tr, { kind: 'TRANSFERRED', secondaryCallId: '6', newDestination: '2003', moved: [{ deviceId: '2003', newCallId: '9', oldCallId: '' }], localState: 'CONNECTION_NULL' });
  t.equal(translateTsapi({ device: '1', event: 'CSTA_BOGUS' }), 'unknownEvent');
  t.equal(translateTsapi({ device: '1', event: 56, localConnectionInfo: 42 }), 'badLocalState');
  t.equal(translateTsapi({ device: '1', event: 56, localConnectionInfo: 'csWeird' }), 'badLocalState');
  t.match(translateTsapi({ device: '1', event: 70, forwarding: { type: 'forwardImmediate', on: true } }), { kind: 'FORWARDING', forwarding: { to: '' } });
});

t.test('envelope framing: split anywhere, oversize and garbage refused', async (t) => {
  const bytes = Buffer.concat([encodeEnvelope({ heartbeat: { sentMs: 5 } }), encodeEnvelope({ link: { up: true, reason: '' } })]);
  const reader = new EnvelopeReader();
  const got = [];
  for (const b of bytes) got.push(...reader.push(Buffer.from([b])));
  t.same(got, [{ heartbeat: { sentMs: 5 } }, { link: { up: true, reason: '' } }]);
  t.throws(() => new EnvelopeReader().push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), { code: 'CTI_ERR_ADAPTER_PROTOCOL' });
  const big = Buffer.alloc(4);
  let n = maxEnvelopeBytes + 1;
  let i = 0;
  while (n > 0x7f) {
    big[i++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  big[i++] = n;
  t.throws(() => new EnvelopeReader().push(big.subarray(0, i)), /over/);
  t.throws(() => new EnvelopeReader().push(Buffer.from([3, 0xff, 0xff, 0xff])), /undecodable/);
});

t.test('a TAPI adapter drives the daemon model; its loss makes every device unknown', async (t) => {
  const { daemon, port, sipPort } = await adapterDaemon(t);
  const client = await AdapterClient.connect('127.0.0.1', port, { adapter: 'test', source: 'SOURCE_TAPI', devices: ['2001', '2002'] });
  t.same(client.welcome.devices, ['2001', '2002']);
  t.equal(client.welcome.daemonAddress, `sip:switchhook@127.0.0.1:${sipPort};transport=udp`, 'claim 9: the daemon tells its own address');
  const up = daemon.whenLinkUp();
  const talking = nextChange(daemon, (c) => c.device === '2002' && c.newState === 'talking');
  const callerTalking = nextChange(daemon, (c) => c.device === '2001' && c.newState === 'talking');
  const lines = tapiCall.slice(0, 8).map((r) => JSON.stringify(r));
  const stats = await runReferenceAdapter(client, 'tapi', Readable.from([lines.join('\n'), '\n{bad json\n']));
  await up;
  await talking;
  await callerTalking;
  t.same(stats, { lines: 9, sent: 6, skipped: { dialing: 1, noChange: 1 }, malformed: 1 });
  t.equal(daemon.ctiState, 'up');
  t.throws(() => daemon.cti, /not available through a TAPI\/TSAPI adapter/);

  const second = AdapterClient.connect('127.0.0.1', port, { adapter: 'late', source: 'SOURCE_TSAPI', devices: [] });
  await t.rejects(second, /CTI_ERR_ADAPTER_BUSY/);

  const unknown = nextChange(daemon, (c) => c.device === '2001' && c.newState === 'unknown');
  await client.close();
  await unknown;
  t.equal(daemon.model.hookState('2002'), 'unknown');
  t.equal(daemon.ctiState, 'down');
  t.ok(daemon.metrics.counter('switchhook_cti_adapter_errors_total', '').get({ reason: 'busy' }) === 1);
});

t.test('protocol violations close the adapter with a Failure and are counted', async (t) => {
  const { daemon, port } = await adapterDaemon(t);
  const exchange = (bytes: Buffer): Promise<Buffer> =>
    new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => s.write(bytes));
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
  const failureOf = (b: Buffer): string => new EnvelopeReader().push(b).find((e) => e.failure)?.failure?.code ?? '';
  t.equal(failureOf(await exchange(encodeEnvelope({ heartbeat: { sentMs: 1 } }))), 'CTI_ERR_ADAPTER_PROTOCOL', 'heartbeat before hello');
  t.equal(failureOf(await exchange(encodeEnvelope({ hello: { adapter: 'x', source: 'SOURCE_TAPI', protocolVersion: 9, devices: [] } }))), 'CTI_ERR_ADAPTER_PROTOCOL', 'wrong version');
  t.equal(failureOf(await exchange(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))), 'CTI_ERR_ADAPTER_PROTOCOL', 'garbage');
  const errors = daemon.metrics.counter('switchhook_cti_adapter_errors_total', '');
  t.equal(errors.get({ reason: 'CTI_ERR_ADAPTER_PROTOCOL' }), 3);

  const client = await AdapterClient.connect('127.0.0.1', port, { adapter: 'x', source: 'SOURCE_TSAPI', devices: [] });
  client.send({ link: { up: true, reason: '' } });
  client.send({ snapshot: { device: '2002', calls: [] } });
  client.send({ snapshot: { device: '9999', calls: [] } });
  client.send({ event: { ...(translateTsapi({ device: '9999', event: 57, callId: '1' }) as AdapterDeviceEvent) } });
  client.send({ event: { ...(translateTsapi({ device: '2001', event: 57 }) as AdapterDeviceEvent) } });
  const ringing = nextChange(daemon, (c) => c.device === '2002' && c.newState === 'ringing');
  client.send({ event: translateTsapi({ device: '2002', event: 'CSTA_DELIVERED', callId: '1', alertingDevice: '2002', callingDevice: '2001', calledDevice: '2002', localConnectionInfo: 'csAlerting' }) as AdapterDeviceEvent });
  await ringing;
  t.equal(errors.get({ reason: 'unknownDevice' }), 2);
  t.equal(errors.get({ reason: 'callId' }), 1);
  await client.close();
});

t.test('switchhook adapter replays a TSAPI file', async (t) => {
  const { daemon, port } = await adapterDaemon(t);
  const dir = mkdtempSync(join(tmpdir(), 'switchhook-adapter-'));
  const file = join(dir, 'tsapi.jsonl');
  writeFileSync(
    file,
    [
      { device: '2001', event: 'CSTA_SERVICE_INITIATED', callId: '3', initiatingDevice: '2001', localConnectionInfo: 'csInitiate' },
      { device: '2001', event: 'CSTA_BOGUS' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  const offHook = nextChange(daemon, (c) => c.device === '2001' && c.newState === 'offHook');
  let out = '';
  const code = await runAdapter(['--connect', `127.0.0.1:${port}`, '--source', 'tsapi', file], { out: (s) => void (out += s), err: () => undefined });
  t.equal(code, 0);
  await offHook;
  t.match(out, /"sent":1,"skipped":\{"unknownEvent":1\}/);
  await t.rejects(runAdapter(['--source', 'tsapi'], { out: () => undefined, err: () => undefined }), /--connect/);
  await t.rejects(runAdapter(['--connect', '127.0.0.1:1', '--source', 'x'], { out: () => undefined, err: () => undefined }), /--source/);
});
