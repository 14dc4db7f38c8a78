import t from 'tap';

import { RtpEngine } from '../../src/media/index.js';
import { rtpPacket, UdpPeer } from '../helpers/rtp.js';

/**
 * Relays bursts of G.711-sized packets (and a shorter last one per burst, as UDP_SEGMENT allows) through one
 * bridge and returns what the far end received, the counters and how many GSO messages the engine sent.
 * Bursts repeat (bounded) until the engine has batched datagrams, so both paths are exercised whatever the
 * scheduling; the coalescing nap lets one wake-up find a whole burst.
 */
async function relay(gso: boolean) {
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999, coalesceUs: 5000, gso });
  const phone = await UdpPeer.open();
  const far = await UdpPeer.open();
  try {
    const legA = engine.createLeg({ payloadType: 8 });
    const legB = engine.createLeg({ payloadType: 8, remote: { address: '127.0.0.1', port: far.port } });
    engine.bridge(legA, legB);
    const sent: Buffer[] = [];
    let seq = 1000;
    for (let burst = 0; burst < 20; burst++) {
      const packets: Buffer[] = [];
      for (let i = 0; i < 24; i++) {
        const payload = Buffer.alloc(i === 23 ? 80 : 160, (seq * 7) & 0xff);
        packets.push(rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc: 0x1234abcd, payload }));
        seq++;
      }
      // All of a burst is in the socket before the bridge reads it: one send call after another, no await.
      await Promise.all(packets.map((p) => phone.send(p, legA.rtpPort)));
      sent.push(...packets);
      await far.waitFor(sent.length);
      if (!gso || engine.stats().gsoMessages > 0) {
        if (burst >= 2) break;
      }
    }
    const got = await far.waitFor(sent.length);
    return { sent, got, a: legA.stats(), b: legB.stats(), gsoMessages: engine.stats().gsoMessages, bPort: legB.rtpPort };
  } finally {
    engine.close();
    await phone.close();
    await far.close();
  }
}

for (const gso of [true, false]) {
  t.test(`UDP_SEGMENT ${gso ? 'on' : 'off'}: every datagram arrives alone, unchanged, in order, counted once`, async (t) => {
    const r = await relay(gso);
    t.equal(r.got.length, r.sent.length, 'one datagram out per datagram in');
    let same = true;
    for (let i = 0; i < r.sent.length; i++) {
      if (!r.got[i]!.data.equals(r.sent[i]!) || r.got[i]!.port !== r.bPort) {
        t.fail(`datagram ${i} differs (${r.got[i]!.data.length} bytes, expected ${r.sent[i]!.length})`);
        same = false;
        break;
      }
    }
    t.ok(same, 'byte for byte, from leg B');
    t.equal(r.a.rxPackets, r.sent.length);
    t.equal(r.b.txPackets, r.sent.length);
    t.equal(r.b.txBytes, r.sent.reduce((n, p) => n + p.length, 0));
    t.equal(r.a.lost, 0);
    t.same(Object.values(r.b.drops).reduce((n, v) => n + v, 0), 0, 'nothing dropped');
    if (gso) t.ok(r.gsoMessages > 0, `batched sends used UDP_SEGMENT (${r.gsoMessages} messages)`);
    else t.equal(r.gsoMessages, 0, 'no UDP_SEGMENT when off');
  });
}
