/**
 * Baseline for the rtp-relay benchmark: a plain Node `dgram` relay in its own process. stdin line
 * `streams <n> <sinkPort>` makes n pairs of sockets (in -> out, like a bridge's A and B legs) and answers
 * `ports <p1> ... <pn>` with the input ports; every datagram arriving on input i leaves through output i
 * to 127.0.0.1:sinkPort. `quit` closes everything.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';

const sockets: Socket[] = [];

function bind(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve(socket.address().port));
  });
}

async function setup(n: number, sinkPort: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
    const output = createSocket({ type: 'udp4', sendBufferSize: 1 << 20 });
    ports.push(await bind(input));
    await bind(output);
    input.on('message', (msg) => output.send(msg, sinkPort, '127.0.0.1'));
    sockets.push(input, output);
  }
  return ports;
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, a, b] = line.trim().split(/\s+/);
  if (cmd === 'streams') {
    void setup(Number(a), Number(b)).then((ports) => process.stdout.write(`ports ${ports.join(' ')}\n`));
  } else if (cmd === 'quit') {
    for (const s of sockets) s.close();
    rl.close();
  }
});
