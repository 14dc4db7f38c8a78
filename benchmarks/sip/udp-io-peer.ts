/**
 * Peer process of `udp-io.bench.ts`, so that its CPU is not the measured side's (native batched socket):
 * - `send PORT COUNT RATE BYTES`: sends COUNT datagrams of BYTES to 127.0.0.1:PORT at RATE per second,
 *   then prints `done`;
 * - `sink`: receives and discards everything, prints `port N` once bound; stops on SIGTERM.
 */
import { UdpSocket } from '../../src/native/udp.js';

const [mode, ...rest] = process.argv.slice(2);

if (mode === 'sink') {
  const socket = new UdpSocket({ host: '127.0.0.1', recvBufferBytes: 4 * 1024 * 1024 }, () => {}, () => {});
  process.on('SIGTERM', () => void socket.close());
  process.stdout.write(`port ${socket.port}\n`);
} else {
  const [port, count, rate, bytes] = rest.map(Number) as [number, number, number, number];
  const payload = Buffer.alloc(bytes, 0x61);
  const socket = new UdpSocket({ host: '127.0.0.1', sendBufferBytes: 4 * 1024 * 1024 }, () => {}, () => {});
  const start = process.hrtime.bigint();
  let sent = 0;
  const tick = (): void => {
    const due = Math.min(count, Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * rate));
    while (sent < due) {
      socket.send(payload, '127.0.0.1', port);
      sent++;
    }
    if (sent < count) {
      setImmediate(tick);
      return;
    }
    void socket.close().then(() => process.stdout.write('done\n'));
  };
  tick();
}
