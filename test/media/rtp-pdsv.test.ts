import t, { type Test } from 'tap';

import { RtpEngine } from '../../src/media/index.js';
import { G711Law, g711Transcode } from '../../src/native/g711.js';
import { encodePdsvVoice, PdsvDecoder, PdsvDirection, type PdsvVoiceEvent } from '../../src/native/pdsv.js';
import { alawToUlaw, parseRtp, rtpPacket, until, UdpPeer } from '../helpers/rtp.js';

async function setup(t: Test) {
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999 });
  const gateway = await UdpPeer.open();
  const far = await UdpPeer.open();
  const line = engine.createLeg({ pdsvLine: 7, payloadType: 8 });
  const voip = engine.createLeg({ payloadType: 0, remote: { address: '127.0.0.1', port: far.port } });
  engine.bridge(line, voip);
  t.teardown(async () => {
    engine.close();
    await Promise.all([gateway.close(), far.close()]);
  });
  return { engine, gateway, far, line, voip };
}

const samples = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed + i * 13) & 0xff);

t.test('PDSV voice (10 ms frames, A-law) becomes 20 ms PCMU RTP', async (t) => {
  const { gateway, far, line } = await setup(t);
  const frames = Array.from({ length: 8 }, (_, i) => ({
    payload: samples(80, i),
    timestamp: 1000 + 80 * i,
  }));
  for (const [i, f] of frames.entries()) {
    const frame = encodePdsvVoice(
      { direction: PdsvDirection.ToGateway, port: 7, sequence: i, reset: i === 0 },
      { codec: G711Law.Pcma, timestamp: f.timestamp, talkspurt: i === 0, payload: f.payload },
    );
    await gateway.send(frame, line.rtpPort);
  }
  const got = await far.waitFor(4);
  const rtp = got.map((r) => parseRtp(r.data));
  t.same(rtp.map((p) => p.pt), [0, 0, 0, 0]);
  t.same(rtp.map((p) => p.ts), [1000, 1160, 1320, 1480]);
  t.same(rtp.map((p) => p.marker), [true, false, false, false]);
  for (let k = 1; k < 4; k++) t.equal(rtp[k]!.seq, (rtp[k - 1]!.seq + 1) & 0xffff);
  const expected = Buffer.from([...frames[0]!.payload, ...frames[1]!.payload].map(alawToUlaw));
  t.same(rtp[0]!.payload, expected, 'samples transcoded A-law -> mu-law');
  t.same(line.remote, { address: '127.0.0.1', port: gateway.port }, 'gateway address learned');

  // Frames of another line or from the wrong direction, and signal frames, stay out of the media path.
  await gateway.send(
    encodePdsvVoice({ direction: PdsvDirection.ToGateway, port: 8, sequence: 0 },
      { codec: G711Law.Pcma, timestamp: 0, payload: samples(160, 1) }),
    line.rtpPort,
  );
  await gateway.send(Buffer.from([0xa5, 0x3c, 0x10, 2, 0, 7, 0, 9, 0, 1, 0xff, 0, 0]), line.rtpPort);
  await until(() => line.stats().drops.source + line.stats().drops.malformed === 2);
});

t.test('RTP towards a PDSV line becomes voice frames to the phone with continuous sequence', async (t) => {
  const { gateway, far, line, voip } = await setup(t);
  // The gateway says where it is by sending first.
  await gateway.send(
    encodePdsvVoice({ direction: PdsvDirection.ToGateway, port: 7, sequence: 0, reset: true },
      { codec: G711Law.Pcma, timestamp: 0, payload: samples(160, 3) }),
    line.rtpPort,
  );
  await far.waitFor(1);
  const payloads = Array.from({ length: 5 }, (_, i) => Buffer.from(samples(160, 50 + i)));
  for (const [i, payload] of payloads.entries()) {
    await far.send(rtpPacket({ pt: 0, seq: 100 + i, ts: 8000 + 160 * i, ssrc: 0xabc, payload, marker: i === 0 }),
      voip.rtpPort);
  }
  const got = await gateway.waitFor(5);
  const decoder = new PdsvDecoder({ deliverVoice: true });
  const voice = got.flatMap((r) => decoder.pushDatagram(r.data).events) as PdsvVoiceEvent[];
  t.equal(voice.length, 5);
  t.same(voice.map((v) => v.kind), ['voice', 'voice', 'voice', 'voice', 'voice']);
  t.ok(voice.every((v) => v.port === 7 && v.direction === PdsvDirection.ToPhone && v.codec === G711Law.Pcma));
  t.same(voice.map((v) => v.sequence), [0, 1, 2, 3, 4]);
  t.equal(voice[0]!.reset, true);
  t.equal(voice[0]!.talkspurt, true);
  t.same(voice.map((v) => v.timestamp - voice[0]!.timestamp), [0, 160, 320, 480, 640]);
  t.equal(decoder.pushDatagram(got[0]!.data).errors.length, 0);
  // mu-law in, A-law to the phone.
  t.same(Buffer.from(voice[2]!.payload!), Buffer.from(g711Transcode(G711Law.Pcmu, payloads[2]!)));
  t.equal(line.stats().txPackets, 5);
});
