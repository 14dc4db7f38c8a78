import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';

import { RtpEngine } from '../../src/media/index.js';
import { parseRtp, readUdpPayloads, rtpPacket, sendAll, until, UdpPeer } from '../helpers/rtp.js';

const captures = join(import.meta.dirname, '..', '..', 'captures', 'public', 'rtp');

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * tshark capturing live on lo for one UDP port (decoded as RTP) plus a probe port; resolves once a probe
 * datagram shows up, so nothing sent afterwards is missed.
 */
async function startCapture(t: Tap, port: number): Promise<{ rows: string[][]; stop: () => Promise<void> }> {
  const probe = await UdpPeer.open();
  const child = spawn(
    'tshark',
    ['-i', 'lo', '-f', `udp port ${port} or udp port ${probe.port}`, '-l', '-d', `udp.port==${port},rtp`,
      '-T', 'fields', '-e', 'udp.dstport', '-e', 'rtp.ssrc', '-e', 'rtp.seq', '-e', '_ws.malformed',
      '-e', '_ws.expert.severity'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const rows: string[][] = [];
  let probes = 0;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const row = line.split('\t');
    if (Number(row[0]) === probe.port) probes++;
    else rows.push(row);
  });
  const stop = async () => {
    child.kill('SIGINT');
    await exited(child);
  };
  t.teardown(async () => {
    await stop();
    await probe.close();
  });
  const deadline = Date.now() + 30_000;
  while (probes === 0) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('tshark did not start capturing');
    await probe.send(Buffer.from('probe'), probe.port);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { rows, stop };
}

type Tap = Test;

t.test('a move between legs keeps one SSRC and continuous seq for the far end (tshark)', async (t) => {
  // A capture on the sending host sees a UDP_SEGMENT message before the kernel splits it (like TSO for TCP),
  // so tshark would count one row per message: this test checks the datagrams one by one, hence plain sends.
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999, gso: false });
  const far = await UdpPeer.open();
  const desk = await UdpPeer.open();
  const soft = await UdpPeer.open();
  t.teardown(async () => {
    engine.close();
    await Promise.all([far.close(), desk.close(), soft.close()]);
  });
  const legFar = engine.createLeg({ payloadType: 0, remote: { address: '127.0.0.1', port: far.port } });
  const legDesk = engine.createLeg({ payloadType: 0 });
  const legSoft = engine.createLeg({ payloadType: 0 });
  const bridge = engine.bridge(legFar, legDesk);
  const capture = await startCapture(t, far.port);

  const deskPackets = Array.from({ length: 50 }, (_, i) =>
    rtpPacket({ pt: 0, seq: 65500 + i, ts: 5000 + 160 * i, ssrc: 0xdddd0001, marker: i === 0 }),
  );
  await sendAll(desk, deskPackets.slice(0, 49), legDesk.rtpPort);
  // The bridge reads the last desk packet after this instant, and the first softphone packet before the
  // far end has them all: the real time between the two on the bridge lies inside this window.
  const lastDeskSent = performance.now();
  await desk.send(deskPackets[49]!, legDesk.rtpPort);
  await far.waitFor(50);
  bridge.move(legDesk, legSoft);
  t.same(bridge.legs, [legFar, legSoft]);
  const softPackets = Array.from({ length: 50 }, (_, i) =>
    rtpPacket({ pt: 0, seq: 40000 + i, ts: 900000 + 160 * i, ssrc: 0x50f70002, marker: i === 0 }),
  );
  await sendAll(soft, softPackets, legSoft.rtpPort);
  await far.waitFor(100);
  const firstSoftSeen = performance.now();
  // The desk phone's leg is out of the bridge: what it sends now goes nowhere.
  await desk.send(deskPackets[0]!, legDesk.rtpPort);
  await until(() => legDesk.stats().drops.noPeer === 1);

  const out = far.received.map((r) => parseRtp(r.data));
  t.equal(new Set(out.map((p) => p.ssrc)).size, 1, 'one SSRC');
  t.equal(out[0]!.ssrc, 0xdddd0001, 'the first source keeps its SSRC');
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.seq !== ((out[i - 1]!.seq + 1) & 0xffff)) t.fail(`seq jump at ${i}`);
  }
  const jump = (out[50]!.ts - out[49]!.ts) >>> 0;
  t.ok(jump > 0, 'timestamps move forward at the switch');
  t.ok(jump / 8 <= firstSoftSeen - lastDeskSent + 1, `jump of ${jump / 8} ms no more than the real time elapsed`);
  for (let i = 51; i < 100; i++) t.equal((out[i]!.ts - out[i - 1]!.ts) >>> 0, 160);
  t.equal(out[50]!.marker, true, 'marker on the first packet after the switch');
  t.same(out[60]!.payload, parseRtp(softPackets[10]!).payload);

  await until(() => capture.rows.length >= 100, 30_000, 'tshark rows');
  await capture.stop();
  const rows = capture.rows.filter((r) => r[1] !== '' && r[1] !== undefined);
  t.equal(rows.length, 100, 'tshark sees every relayed packet as RTP');
  t.equal(rows.filter((r) => r[3] !== '' || r[4] === 'error').length, 0, 'no malformed RTP');
  t.equal(new Set(rows.map((r) => r[1])).size, 1, 'one SSRC');
  const seqs = rows.map((r) => Number(r[2]));
  t.ok(seqs.every((s, i) => i === 0 || s === ((seqs[i - 1]! + 1) & 0xffff)), 'continuous sequence numbers');
});

t.test('RTCP terminated by the bridge: SR/RR with loss and jitter blocks, SDES CNAME', async (t) => {
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999 });
  const phone = await UdpPeer.open();
  const far = await UdpPeer.open();
  const farRtcp = await UdpPeer.open();
  t.teardown(async () => {
    engine.close();
    await Promise.all([phone.close(), far.close(), farRtcp.close()]);
  });
  const legA = engine.createLeg({ payloadType: 8 });
  const legB = engine.createLeg({
    payloadType: 8,
    remote: { address: '127.0.0.1', port: far.port, rtcpPort: farRtcp.port },
    rtcp: 'terminate',
    rtcpIntervalMs: 100,
    ssrc: 0xcafe0001,
    cname: 'bridge@test',
  });
  engine.bridge(legA, legB);
  // Until RTP flows: RR without blocks.
  const [first] = await farRtcp.waitFor(1);
  t.equal(first!.data[1], 201, 'RR first');
  t.equal(first!.port, legB.rtcpPort, 'sent from the RTCP port');
  await sendAll(phone, Array.from({ length: 20 }, (_, i) => rtpPacket({ pt: 8, seq: i, ts: i * 160, ssrc: 77 })), legA.rtpPort);
  await far.waitFor(20);
  // The far end sends with a gap: 10 of 12 packets.
  for (const seq of [0, 1, 2, 3, 4, 6, 7, 8, 10, 11]) {
    await far.send(rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc: 0xfa }), legB.rtpPort);
  }
  await phone.waitFor(10);
  const isFullSr = (d: Buffer) => d[1] === 200 && (d[0]! & 0x1f) === 1;
  await until(() => farRtcp.received.some((r) => isFullSr(r.data) && r.data.readUInt32BE(28 + 8) === 11));
  const sr = farRtcp.received.find((r) => isFullSr(r.data) && r.data.readUInt32BE(36) === 11)!.data;
  t.equal(sr.readUInt32BE(4) >>> 0, 0xcafe0001, 'SR from the SSRC the far end sees in RTP');
  t.equal(sr.readUInt32BE(20), 20, 'sender packet count');
  t.equal(sr.readUInt32BE(24), 20 * 160, 'sender octet count');
  t.equal(sr.readUInt32BE(28), 0xfa, 'report block about the far end');
  t.equal(sr.readUIntBE(33, 3), 2, 'cumulative lost');
  const sdesAt = 4 * (sr.readUInt16BE(2) + 1);
  t.equal(sr[sdesAt + 1], 202, 'SDES follows');
  t.equal(sr.subarray(sdesAt + 10, sdesAt + 10 + sr[sdesAt + 9]!).toString(), 'bridge@test');
  t.equal(farRtcp.received.every((r) => r.data.length % 4 === 0), true);
  t.ok(legB.stats().rtcpTx >= 2);
});

t.test('RTCP relayed: the capture passes with SSRCs rewritten like RTP', async (t) => {
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999 });
  const phone = await UdpPeer.open();
  const phoneRtcp = await UdpPeer.open();
  const far = await UdpPeer.open();
  const farRtcp = await UdpPeer.open();
  t.teardown(async () => {
    engine.close();
    await Promise.all([phone.close(), phoneRtcp.close(), far.close(), farRtcp.close()]);
  });
  const legA = engine.createLeg({ payloadType: 8 });
  const legB = engine.createLeg({
    payloadType: 8,
    remote: { address: '127.0.0.1', port: far.port, rtcpPort: farRtcp.port },
    ssrc: 0xcafe0002,
  });
  engine.bridge(legA, legB);
  const datagrams = await readUdpPayloads(join(captures, 'rtcp_multiple_pkts_in_the_same_datagram.pcap'));
  const fromPhone = datagrams.filter((d) => d.sport === datagrams[0]!.sport).map((d) => d.data);
  const senderSsrc = fromPhone[0]!.readUInt32BE(4);
  await phone.send(rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: senderSsrc }), legA.rtpPort);
  await far.waitFor(1);
  await sendAll(phoneRtcp, fromPhone, legA.rtcpPort);
  const got = await farRtcp.waitFor(fromPhone.length);
  for (let i = 0; i < fromPhone.length; i++) {
    const a = fromPhone[i]!;
    const b = got[i]!.data;
    t.equal(b.length, a.length);
    t.equal(b.readUInt32BE(4) >>> 0, 0xcafe0002, 'SR sender SSRC rewritten');
    const sdes = 4 * (a.readUInt16BE(2) + 1);
    t.equal(b.readUInt32BE(sdes + 4) >>> 0, 0xcafe0002, 'SDES chunk SSRC rewritten');
    t.same(b.subarray(sdes + 8), a.subarray(sdes + 8), 'SDES items intact');
  }
  t.equal(legA.stats().rtcpRx, fromPhone.length);
  t.equal(legB.stats().rtcpTx, fromPhone.length);
  // Malformed RTCP is dropped and counted.
  await phoneRtcp.send(Buffer.from([0x81, 200, 0, 40, 1, 2, 3, 4]), legA.rtcpPort);
  await until(() => legA.stats().drops.malformed === 1);
});

t.test('sipp with -rtp_echo as the far end: the capture goes out and comes back intact', async (t) => {
  const engine = new RtpEngine({ portMin: 40000, portMax: 49999 });
  const phone = await UdpPeer.open();
  t.teardown(async () => {
    engine.close();
    await phone.close();
  });
  // sipp binds its media port itself: probe a free even port pair, SIP and control ports likewise.
  const mediaPort = await freeEvenPorts(4);
  const sipPort = await freeUdpPort();
  const controlPort = await freeUdpPort();
  const sipp = spawn(
    'sipp',
    ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(sipPort), '-mp', String(mediaPort), '-rtp_echo', '-cp',
      String(controlPort), '-nostdin', '-m', '1'],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  t.teardown(async () => {
    sipp.kill('SIGTERM');
    await exited(sipp);
  });
  const legPhone = engine.createLeg({ payloadType: 8, telephoneEventPayloadType: 101 });
  const legSipp = engine.createLeg({
    payloadType: 8,
    telephoneEventPayloadType: 101,
    remote: { address: '127.0.0.1', port: mediaPort },
    strictSource: true,
  });
  engine.bridge(legPhone, legSipp);
  const packets = (await readUdpPayloads(join(captures, 'sipp-g711a.pcap'))).map((d) => d.data).slice(0, 100);
  // Readiness: probe (silence payload) until sipp's media socket echoes.
  const probe = rtpPacket({ pt: 8, seq: 1, ts: 0, ssrc: 1, payload: Buffer.alloc(160, 0) });
  const deadline = Date.now() + 15_000;
  while (phone.received.length === 0) {
    if (Date.now() > deadline) throw new Error('sipp never echoed');
    await phone.send(probe, legPhone.rtpPort);
    await new Promise((r) => setTimeout(r, 50));
  }
  await sendAll(phone, packets, legPhone.rtpPort);
  const isProbe = (b: Buffer) => parseRtp(b).payload.equals(probe.subarray(12));
  await until(() => phone.received.filter((r) => !isProbe(r.data)).length >= packets.length);
  const echoed = phone.received.filter((r) => !isProbe(r.data)).map((r) => parseRtp(r.data).payload);
  for (let i = 0; i < packets.length; i++) {
    if (!echoed[i]!.equals(parseRtp(packets[i]!).payload)) t.fail(`payload ${i} changed`);
  }
  t.equal(legSipp.stats().drops.source, 0);
});

/** A free even port with `count` free ports from it (sipp binds the media port and the one two above). */
async function freeEvenPorts(count: number): Promise<number> {
  for (let base = 20000 + 2 * Math.floor(Math.random() * 4000); ; base = 20000 + ((base - 20000 + 2) % 8000)) {
    const held: UdpPeer[] = [];
    try {
      for (let i = 0; i < count; i++) held.push(await UdpPeer.open(base + i));
      return base;
    } catch {
      continue;
    } finally {
      await Promise.all(held.map((p) => p.close()));
    }
  }
}

async function freeUdpPort(): Promise<number> {
  const p = await UdpPeer.open();
  const port = p.port;
  await p.close();
  return port;
}
