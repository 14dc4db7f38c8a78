/**
 * Records captures/sip/stack-udp.pcap: SIPp against the full SipStack (transactions, dialogs, registrar
 * with digest, RFC 6665 notifier, MESSAGE, REFER) over UDP on loopback, captured with tshark.
 * Run from the repository root: node --import @tapjs/typescript/import captures/sip/record-stack.ts
 */
import { spawn } from 'node:child_process';

import { DigestServer, Notifier, ReferHandler, Registrar, SipStack, type ReferRequest } from '../../src/sip/index.js';
import { fixtures, freeUdpPort, runSipp } from '../../test/sip/interop/peers.js';

const file = 'captures/sip/stack-udp.pcap';
const stack = new SipStack({ listen: ['udp:127.0.0.1:0'], userAgent: 'switchhook' });
const [addr] = await stack.start();
const target = `127.0.0.1:${addr!.port}`;
const registrar = new Registrar({
  auth: new DigestServer({ realm: '127.0.0.1', algorithms: ['MD5'], lookup: (u) => (u === 'alice' ? { password: 's3cret' } : undefined) }),
});
stack.use('REGISTER', registrar.middleware());
const notifier = new Notifier(stack.ua, {
  packages: [{
    name: 'presence',
    accept: ['application/pidf+xml'],
    body: (s) => ({
      contentType: 'application/pidf+xml',
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="sip:${s.resource}"><tuple id="t1"><status><basic>open</basic></status></tuple><dm:person id="p1"><rpid:activities><rpid:on-the-phone/></rpid:activities></dm:person></presence>\n`,
    }),
  }],
});
new ReferHandler(stack.ua, notifier).on('refer', (r: ReferRequest) => {
  setTimeout(() => r.progress(200), 40);
});
stack.use('MESSAGE', (_req, res) => res.send(200));
stack.use('INVITE', (req, res) => {
  res.send(180);
  res.send(200, { body: req.body, contentType: 'application/sdp' });
});

const tshark = spawn('tshark', ['-i', 'lo', '-f', `udp port ${addr!.port}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise<void>((resolve) => tshark.stderr.on('data', (d: Buffer) => d.toString().includes('Capturing on') && resolve()));

const runs: string[][] = [
  ['-sn', 'uac', '-m', '10', '-r', '10'],
  ['-sf', `${fixtures}register-digest.xml`, '-m', '5', '-s', 'alice', '-au', 'alice', '-ap', 's3cret'],
  ['-sf', `${fixtures}subscribe-notify.xml`, '-m', '5', '-key', 'event', 'presence'],
  ['-sf', `${fixtures}message.xml`, '-m', '10', '-r', '10'],
  ['-sf', `${fixtures}refer.xml`, '-m', '3'],
];
try {
  for (const args of runs) {
    const { done } = runSipp([...args, '-i', '127.0.0.1', '-p', String(await freeUdpPort()), target]);
    const r = await done;
    if (r.code !== 0) throw new Error(`sipp ${args.join(' ')} failed: ${r.stderr.slice(-800)}`);
  }
  await new Promise((r) => setTimeout(r, 500));
} finally {
  tshark.kill('SIGINT');
  await new Promise((r) => tshark.on('exit', r));
  registrar.close();
  notifier.close();
  await stack.close();
}
console.log(`wrote ${file}`);
