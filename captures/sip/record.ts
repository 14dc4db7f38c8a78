/**
 * Records captures/sip/*.pcap: SIPp (uac and the presence scenario) against the test responder built on
 * switchhook's transport and parser, over UDP and TCP on loopback, captured with tshark.
 * Run from the repository root: node --import @tapjs/typescript/import captures/sip/record.ts
 */
import { spawn } from 'node:child_process';

import { TransportLayer } from '../../src/sip/index.js';
import { Responder } from '../../test/sip/helpers/responder.js';
import { freePort, runSipp } from '../../test/sip/helpers/sipp.js';

async function record(protocol: 'udp' | 'tcp', calls: number): Promise<void> {
  const tl = new TransportLayer();
  const a = await tl.listen({ protocol, host: '127.0.0.1', port: await freePort() });
  new Responder(tl);
  const file = `captures/sip/sipp-responder-${protocol}.pcap`;
  const tshark = spawn('tshark', ['-i', 'lo', '-f', `${protocol} port ${a.port}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve) => tshark.stderr.on('data', (d: Buffer) => d.toString().includes('Capturing on') && resolve()));
  const t = protocol === 'udp' ? 'u1' : 't1';
  for (const scenario of [['-sn', 'uac'], ['-sf', 'captures/sip/scenarios/presence-uac.xml']]) {
    const run = runSipp([...scenario, `127.0.0.1:${a.port}`, '-i', '127.0.0.1', '-p', String(await freePort()), '-t', t, '-m', String(calls), '-l', '10', '-r', '50', '-d', '50'].map((s) => s.replace('captures/', `${process.cwd()}/captures/`)));
    const { code, errors } = await run.done;
    if (code !== 0) {
      tshark.kill('SIGINT');
      await tl.close();
      throw new Error(`sipp ${scenario.join(' ')} failed: ${errors.slice(0, 1500)}`);
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  tshark.kill('SIGINT');
  await new Promise((r) => tshark.on('exit', r));
  await tl.close();
  console.log(`wrote ${file}`);
}

await record('udp', 40);
await record('tcp', 20);
