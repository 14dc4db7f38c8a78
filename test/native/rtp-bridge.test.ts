import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';

import { RtpEngine, type RtpBackend } from '../../src/media/index.js';
import { rtpAddon } from '../../src/native/rtp.js';
import {
  alawToUlaw,
  bridgedLegs,
  parseRtp,
  readUdpPayloads,
  rtpPacket,
  sendAll,
  until,
  UdpPeer,
  uringAvailable,
} from '../helpers/rtp.js';

const captures = join(import.meta.dirname, '..', '..', 'captures', 'public', 'rtp');

/** Threads of this process named by the bridge (pthread_setname_np). */
function bridgeThreads(): number {
  return readdirSync('/proc/self/task').filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'switchhook-rtp';
    } catch {
      return false;
    }
  }).length;
}

const setup = (t: Test, a: object = {}, b: object = {}) => bridgedLegs(t, {}, a, b);

t.test('the SIPp G.711 A-law capture comes out byte for byte, seq/ts/SSRC kept', async (t) => {
  const { phone, far, legA, legB, engine } = await setup(t);
  const packets = (await readUdpPayloads(join(captures, 'sipp-g711a.pcap'))).map((d) => d.data);
  t.equal(packets.length, 236);
  const learned = new Promise((resolve) => legA.once('learned', resolve));
  await sendAll(phone, packets, legA.rtpPort);
  t.match(await learned, { address: '127.0.0.1', port: phone.port, rtcp: false });
  const got = await far.waitFor(packets.length);
  t.equal(got.length, packets.length);
  for (let i = 0; i < packets.length; i++) {
    if (!got[i]!.data.equals(packets[i]!)) {
      t.fail(`packet ${i} differs`);
      break;
    }
  }
  t.equal(got[0]!.port, legB.rtpPort, 'sent from leg B');
  const stats = legA.stats();
  t.equal(stats.rxPackets, 236);
  t.equal(stats.lost, 0);
  t.equal(stats.expected, 236);
  t.equal(legB.stats().txPackets, 236);
  t.equal(engine.stats().legs, 2);
  t.ok(engine.stats().cpuNs > 0, 'bridge thread CPU time is readable');
});

t.test('RFC 4733 events from the SIPp DTMF captures pass intact and are reported once each', async (t) => {
  const { phone, far, legA } = await setup(t);
  const digits: string[] = [];
  legA.on('digit', (d) => digits.push(d.digit));
  const files = readdirSync(join(captures, 'sipp-dtmf2833')).sort();
  let sent = 0;
  const all: Buffer[] = [];
  const expectedDigits: string[] = [];
  for (const file of files) {
    const packets = (await readUdpPayloads(join(captures, 'sipp-dtmf2833', file))).map((d) => d.data);
    await sendAll(phone, packets, legA.rtpPort);
    sent += packets.length;
    all.push(...packets);
    expectedDigits.push(file.replace(/^dtmf_2833_|\.pcap$/g, '').replace('pound', '#').replace('star', '*'));
    const got = await far.waitFor(sent);
    for (let i = 0; i < packets.length; i++) {
      t.ok(got[sent - packets.length + i]!.data.equals(packets[i]!), `${file} packet ${i} intact`);
    }
  }
  await until(() => digits.length >= files.length);
  t.same(digits, expectedDigits, 'one digit per event, end-bit retransmissions deduplicated');
  t.equal(legA.stats().digits, files.length);
  t.equal(far.received.length, all.length);
});

t.test('PCMA to PCMU transcoding and back, payload types mapped', async (t) => {
  const { phone, far, legA } = await setup(t, { payloadType: 8 }, { payloadType: 0 });
  const packets = (await readUdpPayloads(join(captures, 'sipp-g711a.pcap'))).map((d) => d.data).slice(0, 40);
  await sendAll(phone, packets, legA.rtpPort);
  const got = await far.waitFor(40);
  let mismatches = 0;
  for (let i = 0; i < 40; i++) {
    const inP = parseRtp(packets[i]!);
    const outP = parseRtp(got[i]!.data);
    t.equal(outP.pt, 0);
    for (let k = 0; k < inP.payload.length; k++) if (outP.payload[k] !== alawToUlaw(inP.payload[k]!)) mismatches++;
  }
  t.equal(mismatches, 0, 'every sample matches the G.711 reference conversion');
  t.equal(legA.stats().transcoded, 40);
  // Back: the far end answers in PCMU and the phone gets PCMA.
  const back = rtpPacket({ pt: 0, seq: 1, ts: 0, ssrc: 7, payload: Buffer.from([0xff, 0x7f, 0x00, 0x80]) });
  await far.send(back, got[0]!.port);
  const [reply] = await phone.waitFor(1);
  t.equal(parseRtp(reply!.data).pt, 8);
});

t.test('bad input is dropped and counted per reason; good packets still flow', async (t) => {
  const { phone, far, legA } = await setup(t, { maxPacketSize: 600 });
  const good = (seq: number) => rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc: 0x1234 });
  await phone.send(good(1), legA.rtpPort);
  await far.waitFor(1);
  const bad = [
    Buffer.from([0x80, 0x08, 0x00]), // short
    Buffer.alloc(40, 0x00), // version 0 (e.g. STUN-like)
    Buffer.concat([Buffer.from([0x8f, 0x08]), Buffer.alloc(20)]), // 15 CSRCs announced, 22 bytes
    Buffer.concat([Buffer.from([0xa0, 0x08]), Buffer.alloc(10), Buffer.from([0xff])]), // padding past header
    rtpPacket({ pt: 8, seq: 2, ts: 320, ssrc: 0x1234, payload: Buffer.alloc(1400) }), // oversize
    rtpPacket({ pt: 99, seq: 3, ts: 480, ssrc: 0x1234 }), // payload type not negotiated
    rtpPacket({ pt: 101, seq: 4, ts: 480, ssrc: 0x1234, payload: Buffer.from([1]) }), // short RFC 4733 payload
  ];
  for (const b of bad) await phone.send(b, legA.rtpPort);
  await phone.send(good(5), legA.rtpPort);
  await far.waitFor(2);
  await until(() => Object.values(legA.stats().drops).reduce((a, b) => a + b, 0) >= bad.length);
  const { drops } = legA.stats();
  t.equal(drops.short, 1);
  t.equal(drops.version, 1);
  t.equal(drops.malformed, 3);
  t.equal(drops.oversize, 1);
  t.equal(drops.payloadType, 1);
  t.equal(far.received.length, 2, 'only the good packets came through');
});

for (const backend of ['epoll', ...(uringAvailable() ? ['io_uring'] : [])] as RtpBackend[]) {
  t.test(`strict source (${backend}): a stray sender cannot take the stream; without it the stream follows`, async (t) => {
    const { phone, far, legA, legB } = await bridgedLegs(t, { backend }, { strictSource: true });
    const stray = await UdpPeer.open();
    t.teardown(() => stray.close());
    const p = (seq: number) => rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc: 42 });
    await phone.send(p(1), legA.rtpPort);
    await far.waitFor(1);
    await stray.send(p(2), legA.rtpPort);
    await phone.send(p(3), legA.rtpPort);
    await far.waitFor(2);
    await until(() => legA.stats().drops.source === 1);
    t.same(legA.remote, { address: '127.0.0.1', port: phone.port });
    // Leg B (not strict, remote from SDP): a packet from elsewhere re-latches it.
    const learned = new Promise((resolve) => legB.once('learned', resolve));
    await stray.send(p(10), legB.rtpPort);
    t.match(await learned, { port: stray.port });
    await phone.waitFor(1);
    await stray.send(p(11), legB.rtpPort);
    await far.send(p(12), legB.rtpPort);
    await phone.waitFor(3);
    t.equal(legB.stats().drops.source, 0);
  });
}

t.test('idle timeout fires once, and again after traffic resumes and stops', async (t) => {
  const { phone, legA } = await setup(t, { idleTimeoutMs: 300 });
  let idles = 0;
  legA.on('idle', () => idles++);
  await until(() => idles === 1);
  await phone.send(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 1 }), legA.rtpPort);
  await until(() => legA.stats().rxPackets === 1);
  await until(() => idles === 2);
  t.equal(idles, 2);
});

t.test('a flood over the per-leg rate cap is dropped and counted', async (t) => {
  const { phone, far, legA } = await setup(t, { rateLimitPps: 50 });
  const packets = Array.from({ length: 400 }, (_, i) => rtpPacket({ pt: 8, seq: i, ts: i * 160, ssrc: 9 }));
  for (const p of packets) await phone.send(p, legA.rtpPort);
  await until(() => legA.stats().drops.rate + legA.stats().rxPackets === 400);
  const s = legA.stats();
  t.ok(s.drops.rate >= 400 - 50 - 50, `most of the flood dropped (${s.drops.rate})`);
  t.ok(s.rxPackets >= 50, 'the burst allowance passed');
  await until(() => far.received.length === s.rxPackets);
});

t.test('loss counters on a crafted sequence; jitter/loss math (RFC 3550 A.1, A.3, A.8)', async (t) => {
  const { phone, far, legA } = await setup(t);
  const seqs = [100, 101, 103, 104, 107, 108];
  for (const seq of seqs) await phone.send(rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc: 5 }), legA.rtpPort);
  await far.waitFor(seqs.length);
  const s = legA.stats();
  t.equal(s.expected, 9);
  t.equal(s.lost, 3);
  t.equal(s.rxPackets, 6);

  // Perfectly paced: no jitter, no loss.
  const n = 50;
  const seq = Array.from({ length: n }, (_, i) => i);
  const ts = seq.map((i) => i * 160);
  t.match(rtpAddon.rtpAnalyze(seq, ts, ts.map((x) => x + 1000)), { expected: 50, lost: 0, jitter: 0 });
  // Every other packet 80 units late: |D| = 80 each step; J converges to 80 (J += (|D| - J)/16).
  const arrivals = ts.map((x, i) => x + (i % 2 ? 80 : 0));
  let j = 0;
  for (let i = 1; i < n; i++) j += (80 - j) / 16;
  const r = rtpAddon.rtpAnalyze(seq, ts, arrivals);
  t.ok(Math.abs(r.jitter - j) <= 1, `jitter ${r.jitter} ~ ${j.toFixed(1)}`);
  // Wrap-around and loss: 65533..65535, 0, 2 -> expected 5, lost 1, extended max 65536 + 2.
  t.match(rtpAddon.rtpAnalyze([65533, 65534, 65535, 0, 2], [0, 160, 320, 480, 800], [0, 160, 320, 480, 800]), {
    expected: 6,
    lost: 1,
    extendedMax: 65538,
    fractionLost: Math.floor((1 * 256) / 6),
  });
  // Duplicates make loss negative (A.3).
  t.match(rtpAddon.rtpAnalyze([1, 2, 2, 3], [0, 1, 1, 2], [0, 1, 1, 2]), { expected: 3, received: 4, lost: -1 });
  // A jump beyond MAX_DROPOUT is ignored until the next packet confirms the restart.
  t.match(rtpAddon.rtpAnalyze([10, 11, 20000, 20001, 20002], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]), {
    expected: 2,
    received: 2,
    lost: 0,
  });
});

t.test('legs are released on dispose and the bridge thread stops on close', async (t) => {
  const before = bridgeThreads();
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999 });
  await until(() => bridgeThreads() === before + 1, 10_000, 'the bridge thread');
  const legs = Array.from({ length: 10 }, () => engine.createLeg());
  t.equal(engine.legCount, 10);
  for (const leg of legs.slice(0, 5)) leg.dispose();
  t.equal(engine.legCount, 5);
  t.equal(engine.stats().legs, 5);
  engine.close();
  t.equal(engine.legCount, 0, 'no legs remain');
  t.equal(bridgeThreads(), before, 'bridge thread stopped');
  t.ok(legs.every((l) => l.state === 'disposed'));
});
