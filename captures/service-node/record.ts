/**
 * Records captures/service-node/two-sites.pcapng: two switchhook service nodes (site east, site west) on
 * loopback, their multimedia clients, dnsmasq holding NAPTR records and sipp as the PSTN gateway, captured
 * with tshark on lo (SIP and the ENUM queries). Run from the repository root:
 *   node --import @tapjs/typescript/import captures/service-node/record.ts
 */
import { spawn } from 'node:child_process';

import { AddressExchangeClient, Directory, EnumResolver, OriginationRouter, ServiceNode, type NumberingPlanConfig } from '../../src/directory/index.js';
import { Registrar, SipStack } from '../../src/sip/index.js';
import { startDnsmasq } from '../../test/directory/dns-helpers.js';
import { fixtures, freeUdpPort, runSipp } from '../../test/sip/interop/peers.js';

const file = 'captures/service-node/two-sites.pcapng';
const rev = (e164: string) => e164.slice(1).split('').reverse().join('.') + '.e164.arpa';
const plan = (block: string, servedPrefixes: string[] = []): NumberingPlanConfig => ({
  countryCode: '1', internationalPrefix: '011', trunkPrefix: '1', nationalNumberLength: 10, extensionLength: 4, outsideLinePrefix: '9',
  mainNumber: `+1555${block}0000`, didRanges: [{ first: `+1555${block}0000`, last: `+1555${block}9999` }], servedPrefixes,
});

async function stackOn(): Promise<{ stack: SipStack; uri: string; port: number }> {
  const stack = new SipStack({ listen: ['udp:127.0.0.1:0'], userAgent: 'switchhook' });
  const [a] = await stack.start();
  return { stack, uri: `sip:127.0.0.1:${a!.port}`, port: a!.port };
}

const dns = await startDnsmasq([
  { name: rev('+15553451234'), order: 10, preference: 10, flags: 'u', service: 'E2U+pstn:tel', regexp: '!(^.*$)!tel:\\1;npdi;rn=+15552349999!' },
]);
const pstnPort = await freeUdpPort();
const west = await stackOn();
const east = await stackOn();
const dirWest = new Directory({ plan: plan('234', ['+15553451234']), database: ':memory:', reapIntervalMs: 0 });
const dirEast = new Directory({ plan: plan('123'), database: ':memory:', reapIntervalMs: 0 });
const enumr = new EnumResolver({ servers: [`127.0.0.1:${dns.port}`], timeoutMs: 2000 });
const pstn = { name: 'pstn', uri: `sip:127.0.0.1:${pstnPort}` };
const nodeWest = new ServiceNode({ site: 'west', directory: dirWest, stack: west.stack, router: new OriginationRouter(dirWest, undefined, { callServer: { name: 'west', uri: west.uri }, pstn }) });
const nodeEast = new ServiceNode({
  site: 'east', directory: dirEast, stack: east.stack,
  router: new OriginationRouter(dirEast, enumr, { callServer: { name: 'east', uri: east.uri }, pstn, farSites: [{ name: 'west', domains: ['west.example'], prefixes: ['+1555234'], trunk: { name: 'west', uri: west.uri } }] }),
});
const registrar = new Registrar();
east.stack.use('REGISTER', registrar.middleware());
nodeEast.attachRegistrar(registrar);
const clients = await Promise.all(['alice', 'bob'].map(async (user) => {
  const s = await stackOn();
  const address = s.uri.replace('sip:', `sip:${user}@`);
  return { ...s, address, client: new AddressExchangeClient({ stack: s.stack, address }) };
}));
const [alice, bob] = clients as [typeof clients[0], typeof clients[0]];
dirWest.add({ number: '2002', client: bob.address });
dirWest.add({ number: '+15553451234', client: bob.address });

const ports = [west.port, east.port, alice.port, bob.port, pstnPort, dns.port];
const tshark = spawn('tshark', ['-i', 'lo', '-f', ports.map((p) => `udp port ${p}`).join(' or '), '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise<void>((resolve) => tshark.stderr.on('data', (d: Buffer) => d.toString().includes('Capturing on') && resolve()));
// tshark prints its banner before the capture filter is live: give it a moment.
await new Promise((res) => setTimeout(res, 1500));
const answered = (c: AddressExchangeClient) => new Promise<string>((resolve) => c.once('answer', (b: { call: string }) => resolve(b.call)));
try {
  // Alice registers at east: the registrar feeds east's directory.
  await alice.stack.request({ method: 'REGISTER', uri: east.uri, to: '<sip:1001@127.0.0.1>', from: '<sip:1001@127.0.0.1>', headers: { Contact: `<${alice.address}>`, Expires: '300' }, contact: false });
  // 1001 calls +15552342002 at west: INVITE with Call-Info, MESSAGE offer to bob, bob's answer to alice, sessions both ways.
  for (const dialled of ['915552342002', '+15553451234']) {
    const got = answered(alice.client);
    const r = await nodeEast.originate({ caller: '1001', dialled });
    const call = await got;
    await bob.client.call(call);
    await alice.client.call(call);
    await nodeEast.hangup(r.callId!);
  }
  // A caller without a client goes to the PSTN gateway (sipp).
  const gw = runSipp(['-sf', `${fixtures}pstn-gateway-uas.xml`, '-m', '1', '-i', '127.0.0.1', '-p', String(pstnPort)]);
  const r = await nodeEast.originate({ caller: '1002', dialled: '915552342002' });
  await nodeEast.hangup(r.callId!);
  const run = await gw.done;
  if (run.code !== 0) throw new Error(`sipp failed: ${run.stderr.slice(-600)}`);
  await new Promise((res) => setTimeout(res, 500));
} finally {
  tshark.kill('SIGINT');
  await new Promise((res) => tshark.on('exit', res));
  nodeEast.close();
  nodeWest.close();
  registrar.close();
  enumr.close();
  for (const s of [east, west, alice, bob]) await s.stack.close();
  dirEast.close();
  dirWest.close();
  await dns.stop();
}
console.log(`wrote ${file}`);
