import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';

import { MediaError, RtpBridgeState, RtpEngine, RtpLegState, digitName } from '../../src/media/index.js';
import { fromNative } from '../../src/media/errors.js';
import { toNativeSettings } from '../../src/media/rtp-leg.js';
import { MetricsRegistry } from '../../src/util/metrics.js';
import { rtpPacket, until, UdpPeer } from '../helpers/rtp.js';

t.test('options are validated and mapped to native settings', async (t) => {
  t.same(toNativeSettings({}), {
    strictSource: false,
    audioPt: 0,
    telephoneEventPt: 255,
    clockRate: 8000,
    idleTimeoutMs: 0,
    rateLimitPps: 0,
    maxPacketSize: 1500,
    rtcpMode: 0,
    rtcpIntervalMs: 5000,
    outSsrc: 0,
  });
  t.match(
    toNativeSettings({
      remote: { address: '10.0.0.1', port: 4000 },
      rtcp: 'terminate',
      telephoneEventPayloadType: 101,
      cname: 'x',
      pdsvLine: 3,
      payloadType: 8,
    }),
    { remoteAddress: '10.0.0.1', remotePort: 4000, remoteRtcpPort: 4001, rtcpMode: 1, telephoneEventPt: 101, cname: 'x',
      pdsvPort: 3 },
  );
  t.equal(toNativeSettings({ remote: { address: '10.0.0.1', port: 4000, rtcpPort: 4000 } }).remoteRtcpPort, 4000);
  const bad = [
    { remote: { address: '::1', port: 4000 } },
    { remote: { address: '10.0.0.1', port: 0 } },
    { payloadType: 128 },
    { telephoneEventPayloadType: -1 },
    { clockRate: 0 },
    { maxPacketSize: 5 },
    { rtcpIntervalMs: 10 },
    { ssrc: 2 ** 32 },
    { rtcp: 'drop' as 'relay' },
    { pdsvLine: 70000 },
    { pdsvLine: 1, payloadType: 96 },
    { idleTimeoutMs: 1.5 },
  ];
  for (const o of bad) {
    t.throws(() => toNativeSettings(o), { code: 'MEDIA_ERR_ARGUMENT' }, JSON.stringify(o));
  }
});

t.test('digit names follow RFC 4733 §3.2', async (t) => {
  t.same([0, 9, 10, 11, 12, 15, 16, 40].map(digitName), ['0', '9', '*', '#', 'A', 'D', 'flash', '40']);
});

t.test('native errors keep their code; unknown ones become MEDIA_ERR_ENGINE', async (t) => {
  const e = Object.assign(new Error('x'), { code: 'MEDIA_ERR_NO_PORTS' });
  t.equal(fromNative(e).code, 'MEDIA_ERR_NO_PORTS');
  t.equal(fromNative(new Error('y')).code, 'MEDIA_ERR_ENGINE');
  t.equal(fromNative('z').message, 'z');
  const m = new MediaError('MEDIA_ERR_SDP', 'kept');
  t.equal(fromNative(m), m);
  t.equal(m.name, 'MediaError');
});

t.test('engine: port range, exhaustion, closed engine', async (t) => {
  t.throws(() => new RtpEngine({ portMin: 100, portMax: 200 }), { code: 'MEDIA_ERR_ARGUMENT' });
  t.throws(() => new RtpEngine({ portMin: 5000, portMax: 5000 }), { code: 'MEDIA_ERR_ARGUMENT' });
  t.throws(() => new RtpEngine({ bindAddress: 'nowhere' }), { code: 'MEDIA_ERR_ARGUMENT' });
  t.throws(() => new RtpEngine({ threadNice: 20 }), { code: 'MEDIA_ERR_ARGUMENT' });
  t.throws(() => new RtpEngine({ coalesceUs: 20_000 }), { code: 'MEDIA_ERR_ARGUMENT' });
  // Find a free pair, then make a range of exactly that pair.
  const probe = new RtpEngine({ portMin: 50000, portMax: 59999 });
  const leg = probe.createLeg();
  const port = leg.rtpPort;
  probe.close();
  t.equal(probe.open, false);
  t.throws(() => probe.createLeg(), { code: 'MEDIA_ERR_CLOSED' });
  t.throws(() => probe.stats(), { code: 'MEDIA_ERR_CLOSED' });
  probe.close();
  const tiny = new RtpEngine({ portMin: port, portMax: port + 1 });
  t.teardown(() => tiny.close());
  await until(() => {
    try {
      tiny.createLeg();
      return true;
    } catch {
      return false; // the closed engine's sockets close on its thread; retry until the pair is free
    }
  });
  t.equal(tiny.legCount, 1);
  t.throws(() => tiny.createLeg(), { code: 'MEDIA_ERR_NO_PORTS' });
  t.equal(port % 2, 0, 'RTP on an even port');
});

t.test('with coalescing on, packets still flow', async (t) => {
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999, coalesceUs: 2000 });
  const phone = await UdpPeer.open();
  const far = await UdpPeer.open();
  t.teardown(async () => {
    engine.close();
    await Promise.all([phone.close(), far.close()]);
  });
  const a = engine.createLeg({ payloadType: 8 });
  const b = engine.createLeg({ payloadType: 8, remote: { address: '127.0.0.1', port: far.port } });
  engine.bridge(a, b);
  for (let seq = 0; seq < 30; seq++) await phone.send(rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc: 3 }), a.rtpPort);
  await far.waitFor(30);
  t.equal(b.stats().txPackets, 30);
});

t.test('the bridge thread takes the nice value it is given', async (t) => {
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999, threadNice: 5 });
  t.teardown(() => engine.close());
  const niceOfBridge = (): number | undefined => {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'switchhook-rtp') continue;
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      } catch {
        continue;
      }
    }
    return undefined;
  };
  await until(() => niceOfBridge() === 5, 10_000, 'nice 5 on the bridge thread');
  t.pass('bridge thread at nice 5');
});

t.test('legs: update, stats, events, dispose; metrics counted', async (t) => {
  const metrics = new MetricsRegistry();
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999, metrics });
  const far = await UdpPeer.open();
  const phone = await UdpPeer.open();
  t.teardown(async () => {
    engine.close();
    await far.close();
    await phone.close();
  });
  const a = engine.createLeg({ payloadType: 8 });
  const b = engine.createLeg({ payloadType: 8 });
  t.equal(a.rtcpPort, a.rtpPort + 1);
  t.equal(metrics.gauge('switchhook_rtp_legs', '').get(), 2);
  const bridge = engine.bridge(a, b);
  t.equal(bridge.state, RtpBridgeState.Joined);
  t.equal(bridge.peerOf(a), b);
  // No remote on B yet: counted as noPeer.
  await phone.send(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 1 }), a.rtpPort);
  await until(() => a.stats().drops.noPeer === 1);
  b.update({ remote: { address: '127.0.0.1', port: far.port } });
  t.same(b.remote, { address: '127.0.0.1', port: far.port });
  t.equal(b.options.payloadType, 8);
  await phone.send(rtpPacket({ pt: 8, seq: 2, ts: 160, ssrc: 1 }), a.rtpPort);
  await far.waitFor(1);
  t.throws(() => b.update({ payloadType: 300 }), { code: 'MEDIA_ERR_ARGUMENT' });
  t.throws(() => engine.bridge(a, engine.createLeg()), { code: 'MEDIA_ERR_BRIDGE' });
  t.throws(() => bridge.move(a, b), { code: 'MEDIA_ERR_BRIDGE' });
  t.throws(() => bridge.peerOf(engine.createLeg()), { code: 'MEDIA_ERR_BRIDGE' });
  bridge.dispose();
  bridge.dispose();
  t.equal(bridge.state, RtpBridgeState.Disposed);
  t.throws(() => bridge.move(a, b), { code: 'MEDIA_ERR_CLOSED' });
  await phone.send(rtpPacket({ pt: 8, seq: 3, ts: 320, ssrc: 1 }), a.rtpPort);
  await until(() => a.stats().drops.noPeer === 2);
  const again = engine.bridge(a, b);
  a.dispose();
  a.dispose();
  t.equal(a.state, RtpLegState.Disposed);
  t.equal(again.state, RtpBridgeState.Disposed, 'disposing a leg releases its bridge');
  t.throws(() => a.stats(), { code: 'MEDIA_ERR_CLOSED' });
  t.throws(() => a.update({}), { code: 'MEDIA_ERR_CLOSED' });
  t.throws(() => engine.bridge(a, b), { code: 'MEDIA_ERR_NO_LEG' });
  t.throws(() => engine.bridge(b, b), { code: 'MEDIA_ERR_BRIDGE' });
  t.equal(metrics.counter('switchhook_rtp_dropped_total', '').get({ reason: 'noPeer' }), 2);
  t.equal(metrics.counter('switchhook_rtp_packets_total', '').get({ direction: 'in' }), 3);
  t.ok(metrics.counter('switchhook_rtp_events_total', '').get({ type: 'learned' }) >= 1);
  engine.close();
  t.equal(engine.legCount, 0);
  t.equal(b.state, RtpLegState.Disposed);
  t.equal(metrics.gauge('switchhook_rtp_legs', '').get(), 0);
});
