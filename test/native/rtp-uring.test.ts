import { join } from 'node:path';
import t, { type Test } from 'tap';

import { RtpEngine, type RtpBackend, type RtpEngineOptions } from '../../src/media/index.js';
import { bridgedLegs, parseRtp, readUdpPayloads, rtpPacket, sendAll, until, UdpPeer, uringAvailable } from '../helpers/rtp.js';

const captures = join(import.meta.dirname, '..', '..', 'captures', 'public', 'rtp');

const haveUring = uringAvailable();

/** An engine on `backend` with legs A (phone side) and B (far end from SDP) bridged. */
const setup = (t: Test, options: RtpEngineOptions, a: object = {}) => bridgedLegs(t, options, a);

/**
 * The SIPp A-law capture with bad datagrams among it (short, wrong version, a payload type the leg does not
 * take, larger than the leg's maximum and larger than a receive buffer), and what came out.
 */
async function relayCapture(t: Test, options: RtpEngineOptions) {
  const { engine, phone, far, legA, legB } = await setup(t, options, { maxPacketSize: 1500 });
  const good = (await readUdpPayloads(join(captures, 'sipp-g711a.pcap'))).map((d) => d.data);
  const bad = [
    Buffer.alloc(5, 0x80),
    Buffer.from([0x40, 8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]),
    rtpPacket({ pt: 3, seq: 1, ts: 1, ssrc: 1 }),
    rtpPacket({ pt: 8, seq: 2, ts: 2, ssrc: 1, payload: Buffer.alloc(1600) }),
    rtpPacket({ pt: 8, seq: 3, ts: 3, ssrc: 1, payload: Buffer.alloc(4000) }),
  ];
  const packets = [...good.slice(0, 100), ...bad, ...good.slice(100)];
  await sendAll(phone, packets, legA.rtpPort);
  await far.waitFor(good.length);
  await until(() => Object.values(legA.stats().drops).reduce((n, v) => n + v, 0) === bad.length);
  return { backend: engine.stats().backend, got: far.received.map((r) => r.data), a: legA.stats(), b: legB.stats() };
}

t.test('backend option and environment variable are checked', async (t) => {
  t.throws(() => new RtpEngine({ backend: 'poll' as RtpBackend }), { code: 'MEDIA_ERR_ARGUMENT' });
  t.throws(() => new RtpEngine({ moderationUs: -1 }), { code: 'MEDIA_ERR_ARGUMENT' });
  t.throws(() => new RtpEngine({ moderationUs: 1001 }), { code: 'MEDIA_ERR_ARGUMENT' });
  for (const receiveBuffers of [0, 3, 65536, 1.5]) {
    t.throws(() => new RtpEngine({ receiveBuffers }), { code: 'MEDIA_ERR_ARGUMENT' }, `receiveBuffers ${receiveBuffers}`);
  }
  const saved = process.env['SWITCHHOOK_RTP_BACKEND'];
  process.env['SWITCHHOOK_RTP_BACKEND'] = 'epoll';
  try {
    const engine = new RtpEngine({ portMin: 40000, portMax: 40001 });
    t.equal(engine.stats().backend, 'epoll', 'the environment forces epoll');
    engine.close();
  } finally {
    if (saved === undefined) delete process.env['SWITCHHOOK_RTP_BACKEND'];
    else process.env['SWITCHHOOK_RTP_BACKEND'] = saved;
  }
  const auto = new RtpEngine({ portMin: 40000, portMax: 40001, backend: 'auto' });
  t.equal(auto.stats().backend, haveUring ? 'io_uring' : 'epoll', 'auto takes io_uring where the kernel has it');
  auto.close();
});

t.test('io_uring and epoll relay the same bytes and count the same', { skip: !haveUring && 'no io_uring here' }, async (t) => {
  const runs = {
    epoll: await relayCapture(t, { backend: 'epoll', moderationUs: 0 }),
    uring: await relayCapture(t, { backend: 'io_uring', moderationUs: 0 }),
    moderated: await relayCapture(t, { backend: 'io_uring', moderationUs: 1000 }),
    epollModerated: await relayCapture(t, { backend: 'epoll', moderationUs: 1000 }),
  };
  t.equal(runs.epoll.backend, 'epoll');
  t.equal(runs.uring.backend, 'io_uring');
  const ref = runs.epoll;
  t.equal(ref.got.length, 236);
  for (const [name, r] of Object.entries(runs)) {
    t.equal(r.got.length, ref.got.length, `${name}: as many datagrams`);
    t.ok(r.got.every((d, i) => d.equals(ref.got[i]!)), `${name}: byte for byte the same, in order`);
    for (const k of ['rxPackets', 'rxBytes', 'expected', 'lost', 'inSsrc'] as const) t.equal(r.a[k], ref.a[k], `${name}: A ${k}`);
    for (const k of ['txPackets', 'txBytes', 'outSsrc'] as const) t.equal(r.b[k], ref.b[k], `${name}: B ${k}`);
    t.same(r.a.drops, ref.a.drops, `${name}: the same drops`);
  }
  t.match(ref.a.drops, { short: 1, version: 1, payloadType: 1, oversize: 2 });
});

t.test('io_uring: idle timeout fires once per silence', { skip: !haveUring && 'no io_uring here' }, async (t) => {
  const { phone, legA } = await setup(t, { backend: 'io_uring' }, { idleTimeoutMs: 300 });
  let idles = 0;
  legA.on('idle', () => idles++);
  await until(() => idles === 1);
  await phone.send(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 1 }), legA.rtpPort);
  await until(() => legA.stats().rxPackets === 1);
  await until(() => idles === 2);
  t.equal(idles, 2);
});

t.test('io_uring, moderated: a burst then a lone packet both come through', { skip: !haveUring && 'no io_uring here' }, async (t) => {
  const { phone, far, legA } = await setup(t, { backend: 'io_uring', moderationUs: 500 });
  const burst = Array.from({ length: 2000 }, (_, i) => rtpPacket({ pt: 8, seq: i, ts: i * 160, ssrc: 7 }));
  // Thousands per second, a rate the moderation engages for.
  await sendAll(phone, burst, legA.rtpPort);
  await far.waitFor(burst.length);
  await new Promise((r) => setTimeout(r, 50));
  await phone.send(rtpPacket({ pt: 8, seq: 2000, ts: 2000 * 160, ssrc: 7 }), legA.rtpPort);
  await far.waitFor(burst.length + 1);
  t.equal(legA.stats().rxPackets, burst.length + 1);
});

t.test('io_uring: legs removed and added while traffic flows', { skip: !haveUring && 'no io_uring here' }, async (t) => {
  const engine = new RtpEngine({ portMin: 40000, portMax: 40099, backend: 'io_uring' });
  const phone = await UdpPeer.open();
  const far = await UdpPeer.open();
  t.teardown(async () => {
    engine.close();
    await phone.close();
    await far.close();
  });
  // Ten rounds over a 50-pair range: ports (and the leg slots of cancelled receives) are reused.
  for (let round = 0; round < 10; round++) {
    const legs = Array.from({ length: 4 }, () => {
      const a = engine.createLeg({ payloadType: 8 });
      const b = engine.createLeg({ payloadType: 8, remote: { address: '127.0.0.1', port: far.port } });
      engine.bridge(a, b);
      return { a, b };
    });
    const before = far.received.length;
    for (const { a } of legs) await phone.send(rtpPacket({ pt: 8, seq: round, ts: round * 160, ssrc: 3 }), a.rtpPort);
    await far.waitFor(before + legs.length);
    // Packets still in flight towards legs being disposed are dropped with them, never relayed elsewhere.
    for (const { a } of legs) void phone.send(rtpPacket({ pt: 8, seq: 99, ts: 0, ssrc: 3 }), a.rtpPort);
    for (const { a, b } of legs) {
      a.dispose();
      b.dispose();
    }
  }
  t.equal(engine.legCount, 0);
  t.equal(engine.stats().backend, 'io_uring');
});

t.test('io_uring: the receive buffers grow with the legs', { skip: !haveUring && 'no io_uring here' }, async (t) => {
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999, backend: 'io_uring' });
  t.teardown(() => engine.close());
  t.equal(engine.stats().recvBuffers, 4096, 'the initial ring');
  const legs = Array.from({ length: 2049 }, () => engine.createLeg({ payloadType: 8 }));
  await until(() => engine.stats().commands >= legs.length);
  t.equal(engine.stats().recvBuffers, 8192, 'one more chunk past two buffers per leg');
  const fixed = new RtpEngine({ portMin: 50000, portMax: 50099, backend: 'io_uring', receiveBuffers: 2 });
  fixed.createLeg({ payloadType: 8 });
  fixed.createLeg({ payloadType: 8 });
  await until(() => fixed.stats().commands >= 2);
  t.equal(fixed.stats().recvBuffers, 2, 'a fixed number stays');
  fixed.close();
});

t.test('io_uring, out of receive buffers: datagrams wait in the socket, receives are armed again', { skip: !haveUring && 'no io_uring here' }, async (t) => {
  // One provided buffer for four sockets: every burst ends receives with ENOBUFS while the buffer is out.
  const { engine, phone, far, legA } = await setup(t, { backend: 'io_uring', receiveBuffers: 1 });
  // Bursts fired without waiting (each well inside the socket's receive queue) until the kernel ran out
  // of buffers at least once; every datagram of every burst arrives, in order.
  let seq = 0;
  for (let burst = 0; burst < 20 && engine.stats().recvNoBuffers === 0; burst++) {
    const packets = Array.from({ length: 64 }, () => rtpPacket({ pt: 8, seq: seq, ts: seq++ * 160, ssrc: 9 }));
    await Promise.all(packets.map((p) => phone.send(p, legA.rtpPort)));
    await far.waitFor(seq);
  }
  const stats = engine.stats();
  t.ok(stats.recvNoBuffers > 0, `receives ended with ENOBUFS (${stats.recvNoBuffers})`);
  t.ok(stats.recvRearms >= stats.recvNoBuffers, 'each ended receive was armed again');
  t.equal(far.received.length, seq, 'nothing lost');
  t.same(far.received.map((r) => parseRtp(r.data).seq), Array.from({ length: seq }, (_, i) => i), 'in order');
  // The leg keeps relaying afterwards, also a lone packet.
  await phone.send(rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc: 9 }), legA.rtpPort);
  await far.waitFor(seq + 1);
  t.equal(legA.stats().rxPackets, seq + 1);
  t.equal(Object.values(legA.stats().drops).reduce((n, v) => n + v, 0), 0, 'no drops');
});

// A range above the kernel's ephemeral ports (32768-60999 by default), so no other socket takes a pair of it.
t.test('closing an engine frees its ports at once, on either backend', async (t) => {
  for (const backend of haveUring ? (['io_uring', 'epoll'] as const) : (['epoll'] as const)) {
    for (let round = 0; round < 3; round++) {
      const engine = new RtpEngine({ portMin: 64000, portMax: 64099, backend });
      try {
        const legs = Array.from({ length: 50 }, () => engine.createLeg({ payloadType: 8 }));
        t.equal(legs.length, 50, `${backend} round ${round}: the whole range again`);
      } finally {
        engine.close();
      }
    }
  }
});
