/**
 * `npm run bench -- uacsta`: the uaCSTA front end of call control.
 * 1. Reading request bodies: `scanCstaXml` (the native CSTA scanner on an unframed body) against the
 *    baseline fast-xml-parser, both pulling the root, the devices and the connection out of the same
 *    uaCSTA request bodies (MakeCall, HoldCall, SetForwarding, DeflectCall, SingleStepTransferCall).
 * 2. Whole requests over SIP (UDP loopback): a SipStack client in an open uaCSTA dialog sends INFO
 *    HoldCall / RetrieveCall for a talking phone of the PBX simulator, one after the other: requests/s and
 *    latency p50/p99 (INFO out -> 200 OK with the CSTA response in, the CTI round trip included). The
 *    baseline in the same run is an INFO answered 200 at once by a bare middleware (SIP cost only).
 * Options: `--bodies N` (default 200000), `--requests N` (2000).
 */
import { performance } from 'node:perf_hooks';

import { XMLParser } from 'fast-xml-parser';

import { CallControl, OwnershipTable } from '../../src/calls/control/index.js';
import { UaCstaServer } from '../../src/calls/uacsta/index.js';
import { BringUpVariant, CtiLink } from '../../src/cti/index.js';
import { bindLinkToModel, HookState, PbxModel } from '../../src/model/index.js';
import { scanCstaXml } from '../../src/native/csta.js';
import { PbxSimulator } from '../../src/sim/index.js';
import { SipStack } from '../../src/sip/ua/stack.js';
import { option, round } from '../args.js';

const ns = 'http://www.ecma-international.org/standards/ecma-323/csta/ed3';
const bodies = [
  `<?xml version="1.0"?><MakeCall xmlns="${ns}"><callingDevice>tel:2000;phone-context=dialstring</callingDevice><calledDirectoryNumber>tel:+3222220220</calledDirectoryNumber><autoOriginate>doNotPrompt</autoOriginate></MakeCall>`,
  `<HoldCall xmlns="${ns}"><callToBeHeld><callID>FF000100000000002D65C85C1C750000</callID><deviceID>2000</deviceID></callToBeHeld></HoldCall>`,
  `<SetForwarding xmlns="${ns}"><device>2000</device><activateForward>true</activateForward><forwardingType>forwardNoAns</forwardingType><forwardDN>sip:alice-soft@example.com</forwardDN></SetForwarding>`,
  `<DeflectCall xmlns="${ns}"><callToBeDiverted><callID>0000000A</callID><deviceID>2000</deviceID></callToBeDiverted><newDestination>2005</newDestination></DeflectCall>`,
  `<SingleStepTransferCall xmlns="${ns}"><activeCall><callID>0000000B</callID><deviceID>2000</deviceID></activeCall><transferredTo>tel:2002</transferredTo></SingleStepTransferCall>`,
].map((b) => Buffer.from(b));

/** Native: root + every device/connection text length, as a checksum. */
function nativePass(n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const m = scanCstaXml(bodies[i % bodies.length]!);
    sum += m.root.length;
    for (const d of m.devices) sum += d.id.length;
    for (const c of m.connections) sum += c.callId.length + c.deviceId.length;
  }
  return sum;
}

const parser = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, ignoreDeclaration: true, parseTagValue: false });
const deviceRoles = ['callingDevice', 'calledDirectoryNumber', 'device', 'forwardDN', 'newDestination', 'transferredTo'];
const connectionRoles = ['callToBeHeld', 'callToBeDiverted', 'activeCall'];

function baselinePass(n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const doc = parser.parse(bodies[i % bodies.length]!) as Record<string, Record<string, unknown>>;
    const root = Object.keys(doc)[0]!;
    sum += root.length;
    const body = doc[root]!;
    for (const r of deviceRoles) {
      const v = body[r];
      if (typeof v === 'string') sum += v.length;
    }
    for (const r of connectionRoles) {
      const c = body[r] as { callID?: string; deviceID?: string } | undefined;
      if (c) sum += String(c.callID ?? '').length + String(c.deviceID ?? '').length;
    }
  }
  return sum;
}

function timeIt(fn: (n: number) => number, n: number): { perSec: number; sum: number } {
  fn(Math.min(n, 20_000));
  const t0 = performance.now();
  const sum = fn(n);
  return { perSec: n / ((performance.now() - t0) / 1000), sum };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function sipRun(requests: number): Promise<{ perSec: number; p50: number; p99: number; basePerSec: number; baseP50: number; baseP99: number }> {
  const sim = new PbxSimulator();
  const addr = await sim.start({ cstaPort: 0, extensions: ['2000', '2001'], systemStatusIntervalMs: 0 });
  const link = new CtiLink({ host: '127.0.0.1', port: addr.csta.port, devices: ['2000', '2001'], bringUp: BringUpVariant.SystemRegister, heartbeatIntervalMs: 0, requestTimeoutMs: 10_000 });
  const model = new PbxModel();
  bindLinkToModel(link, model);
  const up = new Promise<void>((r) => link.once('up', () => r()));
  link.start();
  await up;
  const control = new CallControl({ link, model, ownership: new OwnershipTable({ users: [{ user: 'alice', phones: ['2000'], aors: ['sip:alice@example.com'] }] }) });
  const daemon = new SipStack({ listen: ['udp:127.0.0.1:0'] });
  const [bound] = await daemon.start();
  const uacsta = new UaCstaServer({ ua: daemon.ua, control, model });
  daemon.use('INFO', (_req, res) => res.send(200));
  const client = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: 'alice' });
  await client.start();
  const uri = `sip:2000@127.0.0.1:${bound!.port}`;
  const csta = { contentType: 'application/csta+xml' };
  try {
    sim.core.dial('2001', '2000');
    sim.core.offHook('2000');
    while (model.hookState('2000') !== HookState.Talking) await new Promise((r) => setTimeout(r, 5));
    const callId = model.device('2000')!.calls[0]!.callId;
    const inv = await client.request({ method: 'INVITE', uri, from: '<sip:alice@example.com>', to: `<${uri}>`, body: `<RequestSystemStatus xmlns="${ns}"/>`, ...csta });
    const dialog = inv.dialog!;
    const hold = `<HoldCall xmlns="${ns}"><callToBeHeld><callID>${callId}</callID><deviceID>2000</deviceID></callToBeHeld></HoldCall>`;
    const retrieve = `<RetrieveCall xmlns="${ns}"><callToBeRetrieved><callID>${callId}</callID><deviceID>2000</deviceID></callToBeRetrieved></RetrieveCall>`;
    const lat: number[] = [];
    const run = async (n: number, record: boolean): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const s = performance.now();
        const r = await client.request({ method: 'INFO', dialog, body: i % 2 === 0 ? hold : retrieve, ...csta });
        if (r.response.status !== 200 || !r.response.body.toString().includes('CallResponse')) throw new Error(`INFO ${i}: ${r.response.status} ${r.response.body.toString()}`);
        if (record) lat.push(performance.now() - s);
      }
      return n / ((performance.now() - t0) / 1000);
    };
    await run(200, false);
    const perSec = await run(requests, true);
    lat.sort((a, b) => a - b);
    // Baseline: the same INFO outside any uaCSTA dialog, answered 200 at once by the bare middleware.
    const bl: number[] = [];
    const tb = performance.now();
    for (let i = 0; i < requests; i++) {
      const s = performance.now();
      const r = await client.request({ method: 'INFO', uri: `sip:echo@127.0.0.1:${bound!.port}`, from: '<sip:x@example.com>', body: hold, ...csta });
      if (r.response.status >= 300) throw new Error(`baseline INFO ${r.response.status}`);
      bl.push(performance.now() - s);
    }
    const basePerSec = requests / ((performance.now() - tb) / 1000);
    bl.sort((a, b) => a - b);
    await client.bye(dialog);
    return { perSec, p50: pct(lat, 0.5), p99: pct(lat, 0.99), basePerSec, baseP50: pct(bl, 0.5), baseP99: pct(bl, 0.99) };
  } finally {
    await uacsta.close();
    control.close();
    await client.close();
    await daemon.close();
    await link.stop();
    await sim.stop();
  }
}

export default async function main(args: string[]): Promise<void> {
  const n = option(args, 'bodies', 200_000);
  const requests = option(args, 'requests', 2000);
  const native = timeIt(nativePass, n);
  const baseline = timeIt(baselinePass, Math.max(1, Math.floor(n / 4)));
  console.log(`scanCstaXml: ${Math.round(native.perSec)} bodies/s; baseline fast-xml-parser: ${Math.round(baseline.perSec)} bodies/s`);
  const sip = await sipRun(requests);
  console.log(`uaCSTA INFO HoldCall/RetrieveCall: ${Math.round(sip.perSec)} req/s, p50 ${round(sip.p50)} ms, p99 ${round(sip.p99)} ms; baseline bare INFO 200: ${Math.round(sip.basePerSec)} req/s, p50 ${round(sip.baseP50)} ms`);
  console.log(
    JSON.stringify({
      bench: 'uacsta',
      bodiesPerSec: Math.round(native.perSec),
      baselineBodiesPerSec: Math.round(baseline.perSec),
      ratio: round(native.perSec / baseline.perSec, 3),
      infoRequestsPerSec: Math.round(sip.perSec),
      infoP50Ms: round(sip.p50),
      infoP99Ms: round(sip.p99),
      baselineInfoPerSec: Math.round(sip.basePerSec),
      baselineInfoP50Ms: round(sip.baseP50),
      baselineInfoP99Ms: round(sip.baseP99),
      infoRatio: round(sip.perSec / sip.basePerSec, 3),
    }),
  );
}
