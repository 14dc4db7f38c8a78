/**
 * A busy-hour CSTA XML corpus for benchmarks when no recorded capture is at hand: calls between OpenScape
 * Voice style subscribers (ECMA-323 ed4, 32-hex callIDs, `N<number>;noa=nk` device identifiers, Siemens
 * private data), shaped after the real OSV ServiceInitiatedEvent/OriginatedEvent captures (about 1 KB each)
 * and the event templates of the wire-format reference (ServiceInitiated, Originated, Delivered,
 * Established, Held, Retrieved, Transfered, ConnectionCleared), interleaved across concurrent calls.
 */
import { encodeCstaFrame } from '../../src/native/csta.js';

const NS = 'http://www.ecma-international.org/standards/ecma-323/csta/ed4';
const TAIL =
  '<servicesPermitted><callControlServices><clearConnection>true</clearConnection><holdCall>true</holdCall>' +
  '<singleStepTransferCall>true</singleStepTransferCall></callControlServices><callAssociatedServices/>' +
  '<mediaAttachementServices/><routeingServices/><voiceServices/></servicesPermitted><mediaCallCharacteristics>' +
  '<mediaClass><voice>true</voice><image>false</image><im>false</im></mediaClass></mediaCallCharacteristics>' +
  '<extensions><privateData><private xmlns:scx="http://www.siemens.com/schema/csta"><scx:extendedServicesPermitted/>' +
  '</private></privateData></extensions>';

/** A deterministic pseudo-random sequence (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const dev = (n: string): string => `N&lt;${n}&gt;;noa=nk`;
const conn = (tag: string, call: string, device: string): string => `<${tag}><callID>${call}</callID><deviceID>${device}</deviceID></${tag}>`;
const role = (tag: string, id: string): string => `<${tag}><deviceIdentifier>${id}</deviceIdentifier></${tag}>`;
const doc = (root: string, xref: string, body: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?><${root} xmlns="${NS}"><monitorCrossRefID>${xref}</monitorCrossRefID>${body}${TAIL}</${root}>`;

/** One call's events in order, as XML documents. */
function callEvents(i: number, r: () => number, xrefs: Map<string, string>): string[] {
  const a = `3021188${String(40000 + Math.floor(r() * 5000)).padStart(5, '0')}`;
  const b = `3021188${String(40000 + Math.floor(r() * 5000)).padStart(5, '0')}`;
  const call = `FF0001000000000${(0x2d65c85c + i).toString(16).toUpperCase().padStart(8, '0')}1C750000`.slice(0, 32);
  const xa = xrefs.get(a) ?? String(1169730000 + xrefs.size);
  xrefs.set(a, xa);
  const xb = xrefs.get(b) ?? String(1169730000 + xrefs.size);
  xrefs.set(b, xb);
  const ev: string[] = [
    doc('ServiceInitiatedEvent', xa, conn('initiatedConnection', call, a) + role('initiatingDevice', dev(a)) + '<localConnectionInfo>initiated</localConnectionInfo><cause>makeCall</cause>'),
    doc('OriginatedEvent', xa, conn('originatedConnection', call, a) + role('callingDevice', a) + role('calledDevice', `N&lt;${b}&gt;;displayNumber=${b};noa=nk`) + '<localConnectionInfo>connected</localConnectionInfo><cause>newCall</cause>'),
  ];
  for (const [x, lci] of [[xb, 'alerting'], [xa, 'connected']] as const) {
    ev.push(doc('DeliveredEvent', x, conn('connection', call, b) + role('alertingDevice', dev(b)) + role('callingDevice', dev(a)) + role('calledDevice', dev(b)) + `<lastRedirectionDevice><notRequired/></lastRedirectionDevice><localConnectionInfo>${lci}</localConnectionInfo><cause>newCall</cause>`));
  }
  for (const x of [xb, xa]) {
    ev.push(doc('EstablishedEvent', x, conn('establishedConnection', call, b) + role('answeringDevice', dev(b)) + role('callingDevice', dev(a)) + role('calledDevice', dev(b)) + '<lastRedirectionDevice><notRequired/></lastRedirectionDevice><localConnectionInfo>connected</localConnectionInfo><cause>normal</cause>'));
  }
  if (r() < 0.3) {
    ev.push(doc('HeldEvent', xa, conn('heldConnection', call, a) + role('holdingDevice', dev(a)) + '<localConnectionInfo>hold</localConnectionInfo><cause>normal</cause>'));
    ev.push(doc('RetrievedEvent', xa, conn('retrievedConnection', call, a) + role('retrievingDevice', dev(a)) + '<localConnectionInfo>connected</localConnectionInfo><cause>normal</cause>'));
  }
  if (r() < 0.15) {
    const c = `3021188${String(40000 + Math.floor(r() * 5000)).padStart(5, '0')}`;
    const newCall = '03' + call.slice(2);
    ev.push(doc('TransferedEvent', xb, conn('primaryOldCall', call, b) + role('transferringDevice', b) + role('transferredToDevice', `N&lt;${c}&gt;;displayNumber=${c}`) +
      `<transferredConnections><connectionListItem><newConnection><callID>${newCall}</callID><deviceID>${c}</deviceID></newConnection><oldConnection><callID>${call}</callID><deviceID>${b}</deviceID></oldConnection></connectionListItem>` +
      `<connectionListItem><newConnection><callID>${newCall}</callID><deviceID>${a}</deviceID></newConnection><oldConnection><callID>${call}</callID><deviceID>${a}</deviceID></oldConnection></connectionListItem></transferredConnections>` +
      '<localConnectionInfo>null</localConnectionInfo><cause>singleStepTransfer</cause>'));
  }
  for (const [x, who] of [[xa, a], [xb, b]] as const) {
    ev.push(doc('ConnectionClearedEvent', x, conn('droppedConnection', call, who) + role('releasingDevice', dev(who)) + '<localConnectionInfo>null</localConnectionInfo><cause>normalClearing</cause>'));
  }
  return ev;
}

/**
 * Frames of `calls` calls, `concurrency` of them in progress at once, their events interleaved; events carry
 * invokeID 9999 as on OpenScape Voice.
 */
export function generateCorpus(calls: number, concurrency = 200, seed = 42): Buffer[] {
  const r = rng(seed);
  const xrefs = new Map<string, string>();
  const frames: Buffer[] = [];
  const active: string[][] = [];
  let next = 0;
  while (next < calls || active.length > 0) {
    while (active.length < concurrency && next < calls) active.push(callEvents(next++, r, xrefs));
    const k = Math.floor(r() * active.length);
    const events = active[k]!;
    frames.push(encodeCstaFrame(9999, events.shift()!));
    if (events.length === 0) active.splice(k, 1);
  }
  return frames;
}
