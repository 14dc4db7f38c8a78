import { createSocket } from 'node:dgram';
import type { EventEmitter } from 'node:events';
import { connect } from 'node:net';

import t from 'tap';

import {
  PdsvLine,
  PdsvLineRole,
  PdsvLinkState,
  PdsvTransport,
  type PdsvLineLinkEvent,
  type PdsvLineOptions,
  type PdsvLineSignalEvent,
} from '../../src/media/pdsv-line.js';
import { G711Law } from '../../src/native/g711.js';
import {
  encodePdsvSignal,
  PdsvDirection,
  PdsvError,
  PdsvHookState,
  PdsvLampState,
  PdsvRingCadence,
  PdsvTone,
  type PdsvSignal,
  type PdsvVoiceEvent,
} from '../../src/native/pdsv.js';
import { setLogLevel } from '../../src/util/log.js';
import { MetricsRegistry } from '../../src/util/metrics.js';

setLogLevel('silent');

/** Resolves with the first `event` whose payload satisfies `pred`; rejects after `ms`. */
function waitFor<T>(endpoint: PdsvLine, event: string, pred: (e: T) => boolean = () => true, ms = 10000): Promise<T> {
  const line: EventEmitter = endpoint;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      line.off(event, onEvent);
      reject(new Error(`timed out waiting for ${event}`));
    }, ms);
    const onEvent = (e: T) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      line.off(event, onEvent);
      resolve(e);
    };
    line.on(event, onEvent);
  });
}

function collect<T>(line: PdsvLine, event: string, n: number, ms = 10000): Promise<T[]> {
  const got: T[] = [];
  return waitFor<T>(line, event, (e) => got.push(e) >= n, ms).then(() => got);
}

async function open(options: PdsvLineOptions): Promise<PdsvLine> {
  const line = new PdsvLine(options);
  await line.start();
  return line;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof PdsvError ? e.code : 'not-pdsv';
  }
  return undefined;
}

const downSignals: PdsvSignal[] = [
  { type: 'display', row: 0, column: 0, clear: true, text: 'Call from 4711' },
  { type: 'lamp', appearance: 1, state: PdsvLampState.Flash },
  { type: 'ringer', on: true, cadence: PdsvRingCadence.Internal },
  { type: 'tone', tone: PdsvTone.Ringback },
];
const upSignals: PdsvSignal[] = [
  { type: 'hook', state: PdsvHookState.OffHook },
  { type: 'key', key: '4' },
  { type: 'key', key: 'line-2' },
  { type: 'hook', state: PdsvHookState.OnHook },
];

for (const transport of [PdsvTransport.Udp, PdsvTransport.Tcp]) {
  t.test(`${transport}: a phone and a gateway exchange signals and voice`, async (t) => {
    const metrics = new MetricsRegistry();
    const gateway = await open({ role: PdsvLineRole.Gateway, transport, deliverVoice: true, metrics, keepAliveMs: 0 });
    const gwAddr = gateway.address();
    const up = waitFor<PdsvLineLinkEvent>(gateway, 'link', (e) => e.port === 7 && e.state === PdsvLinkState.Up);
    const phone = await open({
      role: PdsvLineRole.Phone,
      transport,
      gateway: { host: '127.0.0.1', port: gwAddr.port },
      lines: [7],
      keepAliveMs: 0,
    });
    t.teardown(() => Promise.all([phone.close(), gateway.close()]));
    await up;
    t.same(gateway.knownPorts(), [7]);
    t.equal(gateway.linkState(7), PdsvLinkState.Up);
    await waitFor(phone, 'link', (e: PdsvLineLinkEvent) => e.state === PdsvLinkState.Up);
    t.equal(phone.linkState(7), PdsvLinkState.Up, 'the gateway acknowledged the keep-alive');
    t.equal(phone.linkState(8), PdsvLinkState.Down);

    const atPhone = collect<PdsvLineSignalEvent>(phone, 'signal', downSignals.length);
    for (const s of downSignals) gateway.sendSignal(7, s);
    t.same((await atPhone).map((e) => [e.port, e.signal]), downSignals.map((s) => [7, s]));

    const atGateway = collect<PdsvLineSignalEvent>(gateway, 'signal', upSignals.length);
    for (const s of upSignals) phone.sendSignal(7, s);
    t.same((await atGateway).map((e) => e.signal), upSignals);

    const voice = collect<PdsvVoiceEvent>(gateway, 'voice', 3);
    for (let i = 0; i < 3; i++) {
      phone.sendVoice(7, { codec: G711Law.Pcmu, timestamp: i * 160, talkspurt: i === 0, payload: new Uint8Array(160).fill(i) });
    }
    const got = await voice;
    t.same(got.map((v) => [v.timestamp, v.talkspurt, v.payload![0]]), [
      [0, true, 0],
      [160, false, 1],
      [320, false, 2],
    ]);
    // The phone does not ask for voice: frames are counted only.
    gateway.sendVoice(7, { codec: G711Law.Pcma, timestamp: 0, payload: new Uint8Array(80).fill(0xd5) });
    gateway.sendSignal(7, { type: 'tone', tone: PdsvTone.Off });
    await waitFor(phone, 'signal', (e: PdsvLineSignalEvent) => e.signal.type === 'tone' && e.signal.tone === PdsvTone.Off);
    t.same(phone.counters(), {
      sent: { signal: 4, voice: 3, link: 1 },
      received: { signal: 5, voice: 1, link: 1 },
      errors: 0,
    });
    t.same(gateway.counters().received, { signal: 4, voice: 3, link: 1 });
    t.match(metrics.render(), /switchhook_pdsv_frames_total\{dir="rx",role="gateway",type="voice"\} 3/);
  });
}

t.test('tcp: the gateway routes each port to its own connection and drops routes on close', async (t) => {
  const gateway = await open({ role: PdsvLineRole.Gateway, transport: PdsvTransport.Tcp, keepAliveMs: 0 });
  const gw = { host: '127.0.0.1', port: gateway.address().port };
  const ups = collect<PdsvLineLinkEvent>(gateway, 'link', 3);
  const a = await open({ role: PdsvLineRole.Phone, transport: PdsvTransport.Tcp, gateway: gw, lines: [1, 2], keepAliveMs: 0 });
  const b = await open({ role: PdsvLineRole.Phone, transport: PdsvTransport.Tcp, gateway: gw, lines: [3], keepAliveMs: 0 });
  t.teardown(() => Promise.all([a.close(), b.close(), gateway.close()]));
  t.same((await ups).map((e) => e.port).sort(), [1, 2, 3]);
  t.ok(a.address().port > 0);

  const atA = collect<PdsvLineSignalEvent>(a, 'signal', 2);
  const atB = collect<PdsvLineSignalEvent>(b, 'signal', 1);
  gateway.sendSignal(2, { type: 'lamp', appearance: 2, state: PdsvLampState.On });
  gateway.sendSignal(3, { type: 'lamp', appearance: 3, state: PdsvLampState.Wink });
  gateway.sendSignal(1, { type: 'lamp', appearance: 1, state: PdsvLampState.Off });
  t.same((await atA).map((e) => e.port), [2, 1]);
  t.same((await atB).map((e) => e.port), [3]);

  const downs = collect<PdsvLineLinkEvent>(gateway, 'link', 2);
  const phoneDown = waitFor<PdsvLineLinkEvent>(a, 'link', (e) => e.state === PdsvLinkState.Down);
  await a.close();
  await phoneDown.catch(() => undefined);
  t.same((await downs).map((e) => [e.port, e.state]).sort(), [
    [1, PdsvLinkState.Down],
    [2, PdsvLinkState.Down],
  ]);
  t.equal(codeOf(() => gateway.sendSignal(1, { type: 'tone', tone: PdsvTone.Busy })), 'PDSV_ERR_NO_ROUTE');
  t.equal(gateway.linkState(3), PdsvLinkState.Up, 'the other connection is unaffected');
});

t.test('bad input from the wire is counted and reported, never thrown', async (t) => {
  const metrics = new MetricsRegistry();
  const gateway = await open({ role: PdsvLineRole.Gateway, transport: PdsvTransport.Tcp, metrics, keepAliveMs: 0 });
  const udpGateway = await open({ role: PdsvLineRole.Gateway, transport: PdsvTransport.Udp, metrics, keepAliveMs: 0 });
  const raw = connect({ host: '127.0.0.1', port: gateway.address().port });
  const udp = createSocket('udp4');
  t.teardown(async () => {
    raw.destroy();
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    await Promise.all([gateway.close(), udpGateway.close()]);
  });
  await new Promise<void>((resolve) => raw.once('connect', () => resolve()));

  // Garbage, then a good hook frame split into single bytes, then a frame in the wrong direction.
  const errors = collect<PdsvError>(gateway, 'protocol-error', 2);
  const hook = encodePdsvSignal({ direction: PdsvDirection.ToGateway, port: 5, sequence: 0 }, { type: 'hook', state: PdsvHookState.OffHook });
  const signal = waitFor<PdsvLineSignalEvent>(gateway, 'signal');
  raw.write(Buffer.from('garbage!'));
  for (const byte of hook) raw.write(Uint8Array.of(byte));
  t.same((await signal).signal, { type: 'hook', state: PdsvHookState.OffHook });
  raw.write(encodePdsvSignal({ direction: PdsvDirection.ToPhone, port: 5, sequence: 1 }, { type: 'tone', tone: PdsvTone.Dial }));
  t.same((await errors).map((e) => e.code), ['PDSV_ERR_SYNC', 'PDSV_ERR_DIRECTION']);

  const udpError = waitFor<PdsvError>(udpGateway, 'protocol-error');
  udp.send(Buffer.from([0xa5, 0x3c, 0x10, 0x01]), udpGateway.address().port, '127.0.0.1');
  t.equal((await udpError).code, 'PDSV_ERR_TRUNCATED');
  t.equal(gateway.counters().errors, 2);
  t.match(metrics.render(), /switchhook_pdsv_errors_total\{code="PDSV_ERR_SYNC",role="gateway"\} 1/);
});

t.test('a phone accepts only its gateway and its own ports', async (t) => {
  const gateway = await open({ role: PdsvLineRole.Gateway, transport: PdsvTransport.Udp, keepAliveMs: 0 });
  const phone = await open({
    role: PdsvLineRole.Phone,
    transport: PdsvTransport.Udp,
    gateway: { host: '127.0.0.1', port: gateway.address().port },
    lines: [1],
    keepAliveMs: 0,
  });
  const stranger = createSocket('udp4');
  t.teardown(async () => {
    await new Promise<void>((resolve) => stranger.close(() => resolve()));
    await Promise.all([phone.close(), gateway.close()]);
  });
  await waitFor(gateway, 'link');
  const frame = encodePdsvSignal({ direction: PdsvDirection.ToPhone, port: 1, sequence: 9 }, { type: 'tone', tone: PdsvTone.Busy });
  const foreign = waitFor<PdsvError>(phone, 'protocol-error');
  stranger.send(frame, phone.address().port, '127.0.0.1');
  t.equal((await foreign).code, 'PDSV_ERR_NO_ROUTE');

  // The gateway learned port 1; a second phone for port 2 appears and the first phone ignores its traffic.
  const other = await open({
    role: PdsvLineRole.Phone,
    transport: PdsvTransport.Udp,
    gateway: { host: '127.0.0.1', port: gateway.address().port },
    lines: [2],
    keepAliveMs: 0,
  });
  t.teardown(() => other.close());
  await waitFor(gateway, 'link', (e: PdsvLineLinkEvent) => e.port === 2);
  t.same(gateway.knownPorts(), [1, 2]);
});

t.test('sending: wrong direction, unknown port, bad options, after close', async (t) => {
  const gateway = await open({ role: PdsvLineRole.Gateway, transport: PdsvTransport.Udp, keepAliveMs: 0 });
  const phone = await open({
    role: PdsvLineRole.Phone,
    transport: PdsvTransport.Udp,
    gateway: { host: '127.0.0.1', port: gateway.address().port },
    lines: [1],
    keepAliveMs: 0,
  });
  await waitFor(gateway, 'link');
  t.equal(codeOf(() => phone.sendSignal(1, { type: 'lamp', appearance: 1, state: PdsvLampState.On })), 'PDSV_ERR_DIRECTION');
  t.equal(codeOf(() => gateway.sendSignal(1, { type: 'hook', state: PdsvHookState.OffHook })), 'PDSV_ERR_DIRECTION');
  t.equal(codeOf(() => gateway.sendSignal(99, { type: 'tone', tone: PdsvTone.Busy })), 'PDSV_ERR_NO_ROUTE');
  t.equal(codeOf(() => phone.sendSignal(2, { type: 'hook', state: PdsvHookState.OffHook })), 'PDSV_ERR_NO_ROUTE');
  t.equal(codeOf(() => new PdsvLine({ role: PdsvLineRole.Phone, transport: PdsvTransport.Udp })), 'PDSV_ERR_NO_ROUTE');
  t.equal(codeOf(() => new PdsvLine({ role: 'pbx' as PdsvLineRole, transport: PdsvTransport.Udp })), 'PDSV_ERR_FIELD');
  t.equal(
    codeOf(() => new PdsvLine({ role: PdsvLineRole.Phone, transport: PdsvTransport.Udp, gateway: { host: '127.0.0.1', port: 1 }, lines: [70000] })),
    'PDSV_ERR_FIELD',
  );
  await t.rejects(new PdsvLine({ role: PdsvLineRole.Gateway, transport: 'sctp' as PdsvTransport }).start(), { code: 'PDSV_ERR_FIELD' });
  await phone.close();
  await phone.close();
  t.equal(codeOf(() => phone.sendSignal(1, { type: 'hook', state: PdsvHookState.OnHook })), 'PDSV_ERR_CLOSED');
  await gateway.close();
  t.equal(codeOf(() => new PdsvLine({ role: PdsvLineRole.Gateway, transport: PdsvTransport.Tcp }).address()), 'PDSV_ERR_CLOSED');
});

t.test('keep-alives: acknowledged, and a silent port times out', async (t) => {
  const gateway = await open({ role: PdsvLineRole.Gateway, transport: PdsvTransport.Udp, keepAliveMs: 100 });
  const phone = await open({
    role: PdsvLineRole.Phone,
    transport: PdsvTransport.Udp,
    gateway: { host: '127.0.0.1', port: gateway.address().port },
    lines: [4],
    keepAliveMs: 100,
  });
  t.teardown(() => Promise.all([phone.close(), gateway.close()]));
  await waitFor(phone, 'link', (e: PdsvLineLinkEvent) => e.state === PdsvLinkState.Up);
  // Wait until several periodic keep-alives went each way.
  await new Promise<void>((resolve) => {
    const check = () => (phone.counters().received.link >= 3 ? resolve() : setTimeout(check, 20));
    check();
  });
  t.ok(gateway.counters().sent.link >= 3);
  // The phone goes silent: the gateway declares the port down after three of the phone's 1 s periods.
  const down = waitFor<PdsvLineLinkEvent>(gateway, 'link', (e) => e.state === PdsvLinkState.Down, 15000);
  await phone.close();
  t.same(await down, { port: 4, state: PdsvLinkState.Down, status: 'in-service' });
});
