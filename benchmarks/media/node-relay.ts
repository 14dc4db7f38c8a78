/**
 * Baseline for the rtp-relay benchmark: a plain Node `dgram` relay in its own process. stdin line
 * `streams <n> <sinkPort> <portMin> <portMax>` makes n pairs of sockets (in -> out, like a bridge's A and B
 * legs) bound to the free ports of that range in order (the benchmark's range outside the ephemeral ports), and answers
 * `ports <p1> ... <pn>` with the input ports; every datagram arriving on input i leaves through output i
 * to 127.0.0.1:sinkPort. `quit` closes everything.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';

const sockets: Socket[] = [];

let cursor = 0;

/** Binds to the next free port of [min, max] (a port in use is skipped). */
async function bind(make: () => Socket, min: number, max: number): Promise<Socket> {
  if (cursor < min || cursor > max) cursor = min;
  for (let tries = 0; tries <= max - min; tries++) {
    const port = cursor;
    cursor = cursor >= max ? min : cursor + 1;
    const socket = make();
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) return socket;
    socket.close();
  }
  throw new Error(`no free port in ${min}-${max}`);
}

async function setup(n: number, sinkPort: number, min: number, max: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = await bind(() => createSocket({ type: 'udp4', recvBufferSize: 1 << 20 }), min, max);
    const output = await bind(() => createSocket({ type: 'udp4', sendBufferSize: 1 << 20 }), min, max);
    ports.push(input.address().port);
    input.on('message', (msg) => output.send(msg, sinkPort, '127.0.0.1'));
    sockets.push(input, output);
  }
  return ports;
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, a, b, c, d] = line.trim().split(/\s+/);
  if (cmd === 'streams') {
    void setup(Number(a), Number(b), Number(c), Number(d)).then(
      (ports) => process.stdout.write(`ports ${ports.join(' ')}\n`),
      (err: unknown) => process.stdout.write(`error ${String(err)}\n`),
    );
  } else if (cmd === 'quit') {
    for (const s of sockets) s.close();
    rl.close();
  }
});
