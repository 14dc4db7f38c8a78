/**
 * The system under test of sip-transactions.bench.ts, run in its own process: a SipStack on UDP that
 * answers every MESSAGE with 200 through its transaction layer. Prints `ready PORT` once listening.
 */
import { SipStack } from '../../src/sip/ua/stack.js';

const port = Number(process.argv[2] ?? 0);
const stack = new SipStack({ listen: [{ protocol: 'udp', host: '127.0.0.1', port }] });
stack.use('MESSAGE', (_req, res) => res.send(200));
const [addr] = await stack.start();
process.stdout.write(`ready ${addr!.port}\n`);
const stop = (): void => {
  void stack.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
