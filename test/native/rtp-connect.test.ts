import { spawn } from 'node:child_process';

import t from 'tap';

import type { RtpBackend } from '../../src/media/index.js';
import { bridgedLegs, rtpPacket, UdpPeer, until, uringAvailable } from '../helpers/rtp.js';

/**
 * Connected send sockets (`connectSend`): RTP towards a leg's remote leaves through a second socket on the
 * leg's RTP port, connected to that remote. On and off, on both backends, the far ends see the same bytes
 * from the same ports and the counters agree; the remote moving and a closed far port are covered.
 */
const backends: RtpBackend[] = uringAvailable() ? ['io_uring', 'epoll'] : ['epoll'];

function packet(seq: number): Buffer {
  return rtpPacket({ pt: 8, seq, ts: seq * 160, ssrc: 0x5eed0001, payload: Buffer.alloc(160, seq & 0xff) });
}

function dropped(stats: { drops: Record<string, number> }): number {
  return Object.values(stats.drops).reduce((n, v) => n + v, 0);
}

for (const backend of backends) {
  for (const connectSend of [true, false]) {
    t.test(`${backend}, connectSend ${connectSend}: both directions arrive unchanged from the legs' ports`, async (t) => {
      const { engine, phone, far, legA, legB } = await bridgedLegs(t, { backend, connectSend });
      const out = Array.from({ length: 20 }, (_, i) => packet(100 + i));
      for (const p of out) await phone.send(p, legA.rtpPort);
      const got = await far.waitFor(out.length);
      t.ok(got.every((r) => r.port === legB.rtpPort), 'towards the far end: from leg B\'s RTP port');
      // Leg A learned the phone from its first packet; the far end answers towards leg B.
      const back = Array.from({ length: 20 }, (_, i) => packet(500 + i));
      for (const p of back) await far.send(p, legB.rtpPort);
      const answered = await phone.waitFor(back.length);
      t.ok(answered.every((r) => r.port === legA.rtpPort), 'towards the phone: from leg A\'s RTP port');
      t.same(got.map((r) => r.data.subarray(12)), out.map((p) => p.subarray(12)), 'payloads in order');
      t.same(answered.map((r) => r.data.subarray(12)), back.map((p) => p.subarray(12)), 'payloads back in order');
      const a = legA.stats();
      const b = legB.stats();
      t.same([a.rxPackets, b.txPackets, b.rxPackets, a.txPackets], [20, 20, 20, 20], 'counted once each way');
      t.equal(dropped(a) + dropped(b), 0, 'nothing dropped');
      const st = engine.stats();
      t.equal(st.sendConnectFailures, 0);
      t.equal(st.sendConnects, connectSend ? 2 : 0, connectSend ? 'one connected socket per sending leg' : 'none when off');
    });
  }

  t.test(`${backend}: the remote moves, the connected socket follows`, async (t) => {
    const { engine, phone, far, legA, legB } = await bridgedLegs(t, { backend });
    await phone.send(packet(1), legA.rtpPort);
    await far.waitFor(1);
    const moved = await UdpPeer.open();
    t.teardown(() => moved.close());
    legB.update({ remote: { address: '127.0.0.1', port: moved.port } });
    // The update is a command to the bridge thread: send until the new far end hears from leg B.
    for (let seq = 2; moved.received.length === 0; seq++) {
      if (seq > 2000) throw new Error('the moved far end heard nothing');
      await phone.send(packet(seq), legA.rtpPort);
      await new Promise((r) => setTimeout(r, 5));
    }
    t.ok(moved.received.every((r) => r.port === legB.rtpPort), 'from leg B\'s RTP port');
    t.equal(engine.stats().sendConnects, 2, 'leg B connected again, to the new remote');
    // The new far end answers; it reaches leg B through the socket connected to it.
    await moved.send(packet(9000), legB.rtpPort);
    await phone.waitFor(1);
    t.equal(legB.stats().rxPackets, 1);
    t.equal(dropped(legA.stats()) + dropped(legB.stats()), 0, 'nothing dropped');
  });

  t.test(`${backend}: a closed far port (ICMP errors on a connected socket) costs no datagram`, async (t) => {
    const runs: Record<string, { tx: number; failed: number }> = {};
    for (const connectSend of [true, false]) {
      const target = await UdpPeer.open();
      const port = target.port;
      // Without GSO, so a burst leaves as separate sends through the connected socket, each after the ICMP
      // error of the one before.
      const { engine, phone, legA, legB } = await bridgedLegs(t, { backend, connectSend, gso: false }, {}, {
        remote: { address: '127.0.0.1', port },
      });
      await phone.send(packet(1), legA.rtpPort);
      await target.waitFor(1);
      await target.close();
      await Promise.all(Array.from({ length: 29 }, (_, i) => phone.send(packet(2 + i), legA.rtpPort)));
      await until(() => legB.stats().txPackets + legB.stats().drops.sendFailed === 30, 10_000, 'every packet handled');
      // The far end comes back on its port: traffic flows again through the same socket.
      const back = await UdpPeer.open(port);
      t.teardown(() => back.close());
      await phone.send(packet(31), legA.rtpPort);
      await back.waitFor(1);
      runs[String(connectSend)] = { tx: legB.stats().txPackets, failed: legB.stats().drops.sendFailed };
      t.equal(engine.stats().sendConnectFailures, 0);
    }
    t.same(runs['true'], runs['false'], 'connected and unconnected count the same');
    t.same(runs['true'], { tx: 31, failed: 0 }, 'every datagram left');
  });
}

t.test('a remote the kernel will not connect to: the leg sends unconnected, as with connectSend off', async (t) => {
  // The limited broadcast address: connect(2) and sendto(2) both refuse it without SO_BROADCAST (EACCES).
  const remote = { address: '255.255.255.255', port: 9 };
  const runs: Record<string, unknown> = {};
  for (const connectSend of [true, false]) {
    const { engine, phone, legA, legB } = await bridgedLegs(t, { connectSend }, {}, { remote });
    for (let seq = 1; seq <= 5; seq++) await phone.send(packet(seq), legA.rtpPort);
    await until(() => legB.stats().drops.sendFailed === 5, 10_000, 'five failed sends');
    const st = engine.stats();
    runs[String(connectSend)] = { tx: legB.stats().txPackets, relayed: legA.stats().rxPackets };
    t.same([st.sendConnects, st.sendConnectFailures], connectSend ? [1, 1] : [0, 0], 'one refused connect when on');
  }
  t.same(runs['true'], runs['false'], 'the same counters either way');
});

t.test('connected send sockets keep to the lower half of the descriptor limit', async (t) => {
  // A fresh process with 512 descriptors: ten bridged pairs send first (their connected sockets fall in the
  // lower half), then sixty more pairs take the descriptors past 256 and theirs are refused; all relay.
  const engineUrl = new URL('../../src/media/index.ts', import.meta.url).href;
  const script = `
    const { RtpEngine } = await import(${JSON.stringify(engineUrl)});
    const { createSocket } = await import('node:dgram');
    const open = () => new Promise((r) => { const s = createSocket('udp4'); s.bind(0, '127.0.0.1', () => r(s)); });
    const far = await open();
    const phone = await open();
    let got = 0;
    far.on('message', () => got++);
    const engine = new RtpEngine({ portMin: 43000, portMax: 43999 });
    const packet = Buffer.alloc(172);
    packet[0] = 0x80;
    packet[1] = 8;
    const wave = async (n, total) => {
      for (let i = 0; i < n; i++) {
        const a = engine.createLeg({ payloadType: 8 });
        const b = engine.createLeg({ payloadType: 8, remote: { address: '127.0.0.1', port: far.address().port } });
        engine.bridge(a, b);
        phone.send(packet, a.rtpPort, '127.0.0.1');
      }
      const deadline = Date.now() + 10000;
      while (got < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    };
    await wave(10, 10);
    await wave(60, 70);
    const st = engine.stats();
    console.log(JSON.stringify({ got, sendConnects: st.sendConnects, sendConnectFailures: st.sendConnectFailures }));
    engine.close();
    far.close();
    phone.close();
  `;
  const child = spawn('sh', ['-c', 'ulimit -n 512 && exec "$0" "$@"', process.execPath, ...process.execArgv,
    '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  t.equal(code, 0, 'the child finished');
  t.same(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'), { got: 70, sendConnects: 70, sendConnectFailures: 60 },
    'every packet relayed; the sixty legs past half the limit send unconnected');
});
