import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import t from 'tap';

import {
  CSTA_RECORD_WORDS,
  CstaFrameError,
  CstaRecordKind,
  CstaFrameReader,
  decodeXmlText,
  encodeCstaFrame,
  type CstaMessage,
} from '../../src/native/csta.js';
import { MetricsRegistry } from '../../src/util/metrics.js';

const captures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'captures', 'public', 'csta');
const load = (name: string): Buffer => readFileSync(join(captures, name));
const ED4 = 'http://www.ecma-international.org/standards/ecma-323/csta/ed4';

function decodeAll(reader: CstaFrameReader, ...chunks: Buffer[]): { messages: CstaMessage[]; errors: CstaFrameError[] } {
  const messages: CstaMessage[] = [];
  const errors: CstaFrameError[] = [];
  for (const c of chunks) {
    const r = reader.push(c);
    messages.push(...r.messages);
    errors.push(...r.errors);
  }
  return { messages, errors };
}

function one(xml: string, invokeId = 9999): CstaMessage {
  const r = new CstaFrameReader().push(encodeCstaFrame(invokeId, xml));
  if (r.errors.length > 0) throw r.errors[0];
  if (r.messages.length !== 1) throw new Error(`expected one message, got ${r.messages.length}`);
  return r.messages[0]!;
}

t.test('OpenScape 01 ServiceInitiatedEvent decodes (real OSV wire frame)', async (t) => {
  const reader = new CstaFrameReader();
  const frame = load('01_ServiceInitiatedEvent.frame.bin');
  const { messages, errors } = reader.push(frame);
  t.same(errors, []);
  t.equal(messages.length, 1);
  const m = messages[0]!;
  t.equal(m.invokeId, 9999);
  t.equal(m.root, 'ServiceInitiatedEvent');
  t.equal(m.monitorCrossRefId, '1169730059');
  t.same(m.connections, [{ role: 'initiatedConnection', callId: 'FF000100000000002D65C85C1C750000', deviceId: '302118840100' }]);
  t.same(m.devices, [{ role: 'initiatingDevice', id: 'N<302118840100>;noa=nk' }]);
  t.equal(m.localConnectionInfo, 'initiated');
  t.equal(m.cause, 'makeCall');
  t.same(m.transferredConnections, []);
  t.equal(m.fields.clearConnection, 'true');
  t.equal(m.fields.voice, 'true');
  t.equal(m.xml.length, 1003 - 8);
  t.ok(m.xml.toString('utf8').startsWith('<?xml'));
  t.equal(m.xml.buffer, frame.buffer, 'xml is a view of the pushed chunk');
  t.same(reader.stats, { frames: 1, errors: 0, bytes: 1003, skippedBytes: 0 });
  t.same(reader.end(), []);
});

t.test('OpenScape 02 OriginatedEvent decodes', async (t) => {
  const { messages, errors } = new CstaFrameReader().push(load('02_OriginatedEvent.frame.bin'));
  t.same(errors, []);
  const m = messages[0]!;
  t.equal(m.root, 'OriginatedEvent');
  t.equal(m.invokeId, 9999);
  t.equal(m.monitorCrossRefId, '1169730059');
  t.same(m.connections, [{ role: 'originatedConnection', callId: 'FF000100000000002D65C85C1C750000', deviceId: '302118840100' }]);
  t.same(m.devices, [
    { role: 'callingDevice', id: '302118840100' },
    { role: 'calledDevice', id: 'N<302118840101>;displayNumber=302118840101;noa=nk' },
  ]);
  t.equal(m.localConnectionInfo, 'connected');
  t.equal(m.cause, 'newCall');
});

t.test('both real frames split at every byte boundary decode the same', async (t) => {
  const stream = Buffer.concat([load('01_ServiceInitiatedEvent.frame.bin'), load('02_OriginatedEvent.frame.bin')]);
  for (const step of [1, 7, 8, 9, 500, 1003, 1500]) {
    const reader = new CstaFrameReader();
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += step) chunks.push(Buffer.from(stream.subarray(i, i + step)));
    const { messages, errors } = decodeAll(reader, ...chunks);
    t.same(errors, [], `step ${step}`);
    t.same(messages.map((m) => m.root), ['ServiceInitiatedEvent', 'OriginatedEvent'], `step ${step}`);
    t.equal(messages[1]!.devices.length, 2);
    t.same(reader.end(), []);
  }
});

t.test('stale-length frames 03, 04, 06, 07 are refused cleanly', async (t) => {
  for (const name of ['03_MonitorStop', '04_StartApplicationSessionPosResponse', '06_SystemRegisterResponse', '07_MonitorStartResponse']) {
    const frame = load(`${name}.frame.bin`);
    const declared = frame.readUInt16BE(2);
    t.ok(declared > frame.length, `${name} declares more than it holds`);
    const reader = new CstaFrameReader();
    const r = reader.push(frame);
    t.same(r.messages, [], `${name}: no message from a partial frame`);
    t.same(r.errors, []);
    const end = reader.end();
    t.equal(end.length, 1);
    t.equal(end[0]!.code, 'CTI_ERR_FRAME_TRUNCATED', name);
    t.match(end[0]!.message, new RegExp(`${frame.length} bytes of ${declared} declared`));
    t.equal(reader.stats.errors, 1);
  }
});

t.test('a stale length that swallows the next frame: FRAME_LENGTH, then resync recovers that frame', async (t) => {
  for (const name of ['03_MonitorStop', '06_SystemRegisterResponse', '07_MonitorStartResponse']) {
    const reader = new CstaFrameReader();
    const stream = Buffer.concat([load(`${name}.frame.bin`), load('01_ServiceInitiatedEvent.frame.bin')]);
    const { messages, errors } = decodeAll(reader, stream);
    t.equal(errors.length, 1, name);
    t.equal(errors[0]!.code, 'CTI_ERR_FRAME_LENGTH');
    t.equal(errors[0]!.fatal, false);
    t.equal(errors[0]!.invokeId, 2);
    t.equal(errors[0]!.offset, 0);
    t.same(messages.map((m) => m.root), ['ServiceInitiatedEvent'], name);
    t.equal(reader.stats.skippedBytes, 0, 'the next header follows the document directly');
  }
});

t.test('frame 04 (46145 declared) is refused under a lower cap and the stream resynchronises', async (t) => {
  const reader = new CstaFrameReader({ maxFrameBytes: 4096 });
  const bad = load('04_StartApplicationSessionPosResponse.frame.bin');
  const { messages, errors } = decodeAll(reader, bad, load('02_OriginatedEvent.frame.bin'));
  t.equal(errors.length, 1);
  t.equal(errors[0]!.code, 'CTI_ERR_FRAME_TOO_LARGE');
  t.match(errors[0]!.message, /46145 exceeds the 4096-byte cap/);
  t.same(messages.map((m) => m.root), ['OriginatedEvent']);
  t.equal(reader.stats.skippedBytes, bad.length);
});

t.test('bare OpenScape documents wrapped in frames', async (t) => {
  const wrap = (name: string, id = 17): CstaMessage => {
    const r = new CstaFrameReader().push(encodeCstaFrame(id, load(name)));
    t.same(r.errors, [], name);
    return r.messages[0]!;
  };
  const ms = wrap('05_MonitorStart.xml');
  t.equal(ms.root, 'MonitorStart');
  t.equal(ms.invokeId, 17);
  t.same(ms.devices, [{ role: 'deviceObject', id: '{user}' }]);
  t.equal(ms.fields.monitorType, 'device');
  t.equal(ms.fields.staticOndDN, '17133013', 'prefixed scx:staticOndDN by local name');

  const sas = wrap('08_StartApplicationSession.xml');
  t.equal(sas.root, 'StartApplicationSession');
  t.equal(sas.fields.applicationID, 'pythontsm');
  t.equal(sas.fields.protocolVersion, ED4);
  t.equal(sas.fields.requestedSessionDuration, '600');

  const ed2 = wrap('09_SystemStatus_ed2.xml');
  t.equal(ed2.root, 'SystemStatus');
  t.equal(ed2.fields.systemStatus, 'normal');

  const prefixed = wrap('10_SystemStatus.xml');
  t.equal(prefixed.root, 'SystemStatus', 'ns3: prefix dropped, self-closing root');
  t.same(prefixed.fields, {});

  const ms2 = wrap('11_MonitorStart.xml');
  t.equal(ms2.root, 'MonitorStart');
  t.same(ms2.devices, [{ role: 'deviceObject', id: '3021033' }]);

  const deflect = wrap('12_DeflectCall.xml');
  t.equal(deflect.root, 'DeflectCall');
  t.same(deflect.connections, [{ role: 'callToBeDiverted', callId: 'FF000100000000006BB1234C31000000', deviceId: 'SUB_C' }]);
  t.same(deflect.devices, [{ role: 'newDestination', id: 'SUB_D' }]);

  const info = wrap('13_CallInformationEvent.xml');
  t.equal(info.root, 'CallInformationEvent');
  t.equal(info.monitorCrossRefId, '1166743342');
  t.same(info.connections, [{ role: 'connection', callId: 'FF00010000000000E2E00E6416060000', deviceId: '3021061290000' }]);
  t.same(info.devices, [{ role: 'device', id: 'N<3021061290000>;noa=nk' }]);
  t.equal(info.fields.acdCall, 'true');
  t.equal(info.fields.aliDBInfo, '10.2.31.5:9991');

  const delivered = wrap('14_DeliveredEvent.xml');
  t.equal(delivered.root, 'DeliveredEvent');
  t.equal(delivered.monitorCrossRefId, '1173673890');
  t.same(delivered.connections, [{ role: 'connection', callId: 'FF00010000000000EC6114647E570000', deviceId: '3021061290002' }]);
  t.same(delivered.devices, [
    { role: 'alertingDevice', id: 'N<3021061290002>;noa=nk' },
    { role: 'callingDevice', id: 'N<7868772298>Line71001;displayNumber=7868772298;uid=FF00010000000000EC6114647E570000' },
    { role: 'calledDevice', id: 'N<3021061290002>;noa=nk' },
    { role: 'networkCalledDevice', id: '02911' },
  ]);
  t.equal(delivered.localConnectionInfo, 'alerting');
  t.equal(delivered.cause, 'enteringDistribution');
  t.equal(delivered.fields.cdrTrunkSeizureDateTime, '2023/03/17 14:49:48');
  t.equal(delivered.fields.deflectCall, 'true');

  const transfered = wrap('15_TransferedEvent.xml');
  t.equal(transfered.root, 'TransferedEvent');
  t.equal(transfered.monitorCrossRefId, '1184300014');
  t.same(transfered.connections, [{ role: 'primaryOldCall', callId: 'FF00010000000000CFB6706408000000', deviceId: '+17867104700' }]);
  t.same(transfered.devices, [
    { role: 'transferringDevice', id: '+17867104700' },
    { role: 'transferredToDevice', id: 'N<+17867100001>Line00001;displayNumber=00001' },
  ]);
  t.same(transfered.transferredConnections, [
    { newCallId: '0300010000000000CFB6706408000000', newDeviceId: '+17867100001' },
    { newCallId: '0300010000000000CFB6706408000000', newDeviceId: 'N<+17867100000>;uid=FF00010000000000CFB6706408000000' },
  ]);
  t.equal(transfered.localConnectionInfo, 'null');
  t.equal(transfered.cause, 'singleStepTransfer');
});

t.test('namespaces: ed3, ed5 typo, ed6 and prefixes all match by local name', async (t) => {
  const body = (root: string, attrs: string, p = '') =>
    `<${p}${root} ${attrs}><${p}monitorCrossRefID>7</${p}monitorCrossRefID><${p}heldConnection><${p}callID>C1</${p}callID><${p}deviceID>100</${p}deviceID></${p}heldConnection><${p}holdingDevice><${p}deviceIdentifier>100</${p}deviceIdentifier></${p}holdingDevice><${p}localConnectionInfo>hold</${p}localConnectionInfo><${p}cause>normal</${p}cause></${p}${root}>`;
  const variants = [
    body('HeldEvent', 'xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"'),
    body('HeldEvent', 'xmlns="http://www.ecmainternational.org/standards/ecma-323/csta/ed5"'),
    body('HeldEvent', "xmlns:csta='http://www.ecma-international.org/standards/ecma-323/csta/ed6'", 'csta:'),
    body('HeldEvent', 'xmlns="http://www.ecma.ch/standards/ecma-323/csta/ed2"'),
    body('HeldEvent', "xmlns:a_very_long_prefix.name-x='urn:x'", 'a_very_long_prefix.name-x:'),
    body('HeldEvent', "xmlns:p='urn:p' xmlns:q='urn:q'", 'p:q:'),
  ];
  for (const xml of variants) {
    const m = one(xml);
    t.equal(m.root, 'HeldEvent');
    t.equal(m.monitorCrossRefId, '7');
    t.same(m.connections, [{ role: 'heldConnection', callId: 'C1', deviceId: '100' }]);
    t.same(m.devices, [{ role: 'holdingDevice', id: '100' }]);
    t.equal(m.localConnectionInfo, 'hold');
    t.equal(m.cause, 'normal');
  }
});

t.test('XML features: declaration, comments, CDATA, attributes, self-closing, entities', async (t) => {
  const m = one(
    `<?xml version="1.0" encoding="UTF-8"?>\n<!-- leading comment -->\n<!DOCTYPE x [ <!ELEMENT x ANY> ]>\n` +
      `<DeliveredEvent xmlns="${ED4}" a='1>2' b="x/y">` +
      `<monitorCrossRefID>  42 </monitorCrossRefID>` +
      `<connection><callID><![CDATA[A<&>B]]></callID><deviceID typeOfNumber="x">&#x31;&#50;3</deviceID></connection>` +
      `<callingDevice><deviceIdentifier>N&lt;1&gt; &quot;Al&apos;s&quot; &amp; co&unknown; &#1114112;</deviceIdentifier></callingDevice>` +
      `<calledDevice><!-- a comment -->200</calledDevice>` +
      `<alertingDevice/>` +
      `<lastRedirectionDevice><numberDialed>300</numberDialed></lastRedirectionDevice>` +
      `<localConnectionInfo>alerting</localConnectionInfo><cause>newCall</cause>` +
      `<note>é ü 電話</note><empty></empty>` +
      `</DeliveredEvent>\n<!-- trailing comment --><?pi x?>\n`,
  );
  t.equal(m.root, 'DeliveredEvent');
  t.equal(m.monitorCrossRefId, '42', 'trimmed');
  t.same(m.connections, [{ role: 'connection', callId: 'A<&>B', deviceId: '123' }]);
  t.same(m.devices, [
    { role: 'callingDevice', id: 'N<1> "Al\'s" & co&unknown; &#1114112;' },
    { role: 'calledDevice', id: '200' },
    { role: 'alertingDevice', id: '' },
    { role: 'lastRedirectionDevice', id: '300' },
  ]);
  t.equal(m.fields.note, 'é ü 電話');
  t.equal(m.fields.empty, '');
});

t.test('responses, requests and errors', async (t) => {
  const mc = one('<MakeCallResponse><callingDevice><callID>25</callID><deviceID>3095</deviceID></callingDevice><calledDevice>1099</calledDevice></MakeCallResponse>', 12);
  t.equal(mc.invokeId, 12);
  t.same(mc.connections, [{ role: 'callingDevice', callId: '25', deviceId: '3095' }]);
  t.same(mc.devices, [{ role: 'calledDevice', id: '1099' }]);

  const err = one(`<csta:CSTAErrorCode xmlns:csta="${ED4}"><csta:operation>invalidCallID</csta:operation></csta:CSTAErrorCode>`, 3);
  t.equal(err.root, 'CSTAErrorCode');
  t.same(err.fields, { operation: 'invalidCallID' });

  const fwd = one('<SetForwarding><device>7659366</device><activateForward>true</activateForward><forwardingType>forwardImmediate</forwardingType><forwardDN>2424</forwardDN><ringCount></ringCount></SetForwarding>');
  t.same(fwd.devices, [{ role: 'device', id: '7659366' }, { role: 'forwardDN', id: '2424' }]);
  t.same(fwd.fields, { activateForward: 'true', forwardingType: 'forwardImmediate', ringCount: '' });

  const deflect5 = one('<DeflectCall><callToBeDiverted><callID>C</callID><deviceID>D</deviceID></callToBeDiverted><newDestination><device>2000</device></newDestination></DeflectCall>');
  t.same(deflect5.devices, [{ role: 'newDestination', id: '2000' }]);

  const fe = one('<ForwardingEvent><monitorCrossRefID>9</monitorCrossRefID><device><deviceIdentifier>100</deviceIdentifier></device><forwardingType>forwardBusy</forwardingType><forwardStatus>true</forwardStatus><forwardTo>tel:200</forwardTo></ForwardingEvent>');
  t.same(fe.devices, [{ role: 'device', id: '100' }, { role: 'forwardTo', id: 'tel:200' }]);

  const tr = one('<TransferredEvent><primaryOldCall><callID>1</callID><deviceID>A</deviceID></primaryOldCall><secondaryOldCall><callID>2</callID><deviceID>A</deviceID></secondaryOldCall><transferredConnections><connectionListItem><newConnection><callID>3</callID><deviceID>B</deviceID></newConnection><oldConnection><callID>1</callID><deviceID>B</deviceID></oldConnection></connectionListItem><connectionListItem><oldConnection><callID>2</callID><deviceID>C</deviceID></oldConnection></connectionListItem></transferredConnections><cause>transfer</cause></TransferredEvent>');
  t.equal(tr.root, 'TransferredEvent');
  t.same(tr.connections, [{ role: 'primaryOldCall', callId: '1', deviceId: 'A' }, { role: 'secondaryOldCall', callId: '2', deviceId: 'A' }]);
  t.same(tr.transferredConnections, [
    { newCallId: '3', newDeviceId: 'B', oldCallId: '1', oldDeviceId: 'B' },
    { oldCallId: '2', oldDeviceId: 'C' },
  ]);

  const partial = one('<ConferencedEvent><endpoint><deviceID>X</deviceID></endpoint><connectionX><callID>7</callID></connectionX></ConferencedEvent>');
  t.same(partial.connections, [{ role: 'endpoint', callId: '', deviceId: 'X' }, { role: 'connectionX', callId: '7', deviceId: '' }]);
});

t.test('bad headers are counted and the stream resynchronises', async (t) => {
  const good = encodeCstaFrame(5, '<SystemStatus><systemStatus>normal</systemStatus></SystemStatus>');
  const cases: [string, Buffer, string][] = [
    ['junk before a frame', Buffer.from('\x01\x02junk'), 'CTI_ERR_FRAME_MAGIC'],
    ['length below 8', Buffer.from([0, 0, 0, 4, 0x30, 0x30, 0x30, 0x31]), 'CTI_ERR_FRAME_LENGTH'],
    ['length of the bare header', Buffer.from([0, 0, 0, 8, 0x30, 0x30, 0x30, 0x31]), 'CTI_ERR_FRAME_LENGTH'],
    ['non-digit invokeID', Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from('00x1<a>bcdefghi</a>')]), 'CTI_ERR_INVOKE_ID'],
  ];
  for (const [what, bad, code] of cases) {
    const metrics = new MetricsRegistry();
    const reader = new CstaFrameReader({ metrics });
    const { messages, errors } = decodeAll(reader, bad, good, good);
    t.equal(errors.length, 1, what);
    t.equal(errors[0]!.code, code, what);
    t.equal(errors[0]!.fatal, false);
    t.ok(errors[0] instanceof CstaFrameError);
    t.equal(messages.length, 2, what);
    t.equal(messages[0]!.fields.systemStatus, 'normal');
    t.equal(reader.stats.skippedBytes, bad.length, what);
    t.equal(metrics.counter('switchhook_cti_frame_errors_total', '').get({ code }), 1);
    t.equal(metrics.counter('switchhook_cti_frames_total', '').total(), 2);
    t.equal(metrics.counter('switchhook_cti_resync_skipped_bytes_total', '').total(), bad.length);
  }
});

t.test('resync across chunk boundaries keeps a partial header', async (t) => {
  const good = encodeCstaFrame(5, '<SystemStatus/>');
  const stream = Buffer.concat([Buffer.from('garbage\x00\x00\x00more garbage'), good, good]);
  for (let split = 1; split < stream.length; split++) {
    const reader = new CstaFrameReader();
    const { messages, errors } = decodeAll(reader, stream.subarray(0, split), stream.subarray(split));
    t.equal(errors.length, 1);
    t.equal(messages.length, 2, `split ${split}`);
    t.equal(reader.stats.skippedBytes, stream.length - 2 * good.length);
  }
});

t.test('resync that finds nothing is fatal and closes the reader', async (t) => {
  const reader = new CstaFrameReader({ maxResyncBytes: 1000 });
  const junk = Buffer.alloc(600, 0x41);
  let r = reader.push(junk);
  t.equal(r.errors[0]!.code, 'CTI_ERR_FRAME_MAGIC');
  t.equal(reader.closedBy, undefined);
  r = reader.push(junk);
  t.equal(r.errors.length, 1);
  t.equal(r.errors[0]!.code, 'CTI_ERR_RESYNC');
  t.equal(r.errors[0]!.fatal, true);
  t.equal(reader.closedBy, r.errors[0]);
  r = reader.push(encodeCstaFrame(1, '<a/>'));
  t.same(r, { messages: [], errors: [] }, 'input after a fatal error is ignored');
  t.same(reader.end(), []);

  const hunting = new CstaFrameReader();
  hunting.push(Buffer.from('junkjunk\x00\x00\x01'));
  t.same(hunting.end(), [], 'a possible header left while resynchronising is skipped, not truncated');
  t.equal(hunting.stats.skippedBytes, 11);
});

t.test('malformed XML drops only that frame', async (t) => {
  const bad = [
    ['<a><b></a></b>', /does not match/],
    ['<a><b>', /open elements/],
    ['<?xml version="1.0"?>', /no root/],
    ['text<a/>', /outside the root/],
    ['<a x=1/>', /attribute/],
    ['<a x="1/>', /ends inside/],
    ['<a><!-- x </a>', /ends inside/],
    ['<a><![CDATA[x</a>', /ends inside/],
    ['<a>< b/></a>', /bad markup/],
    ['<a><!foo></a>', /bad markup/],
    ['</a>', /does not match/],
    ['<a:/>', /bad markup/],
    ['<a/ >', /attribute/],
    ['<a b></a>', /attribute/],
    ['<a></a >junk', /document ends before|does not match the XML/],
    [`<a>${'<b>'.repeat(70)}${'</b>'.repeat(70)}</a>`, /too deep/],
  ] as const;
  const good = encodeCstaFrame(1, '<Ok/>');
  for (const [xml, why] of bad) {
    const reader = new CstaFrameReader();
    const { messages, errors } = decodeAll(reader, encodeCstaFrame(2, xml), good);
    t.equal(errors.length, 1, xml);
    t.match(errors[0]!.message, why, xml);
    t.equal(errors[0]!.fatal, false);
    t.same(messages.map((m) => m.root), ['Ok'], xml);
  }
  const r = new CstaFrameReader().push(encodeCstaFrame(2, '<a><b></a>'));
  t.equal(r.errors[0]!.code, 'CTI_ERR_XML');
  t.equal(r.errors[0]!.invokeId, 2);
});

t.test('many frames in one push fill several batches', async (t) => {
  const frames: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    frames.push(encodeCstaFrame(i % 10000, `<EstablishedEvent><monitorCrossRefID>${i}</monitorCrossRefID><establishedConnection><callID>C${i}</callID><deviceID>D${i}</deviceID></establishedConnection><answeringDevice><deviceIdentifier>A${i}</deviceIdentifier></answeringDevice><cause>normal</cause></EstablishedEvent>`));
  }
  const reader = new CstaFrameReader();
  const { messages, errors } = reader.push(Buffer.concat(frames));
  t.same(errors, []);
  t.equal(messages.length, 3000);
  t.equal(messages[2999]!.monitorCrossRefId, '2999');
  t.same(messages[1234]!.connections, [{ role: 'establishedConnection', callId: 'C1234', deviceId: 'D1234' }]);

  const big = `<Big>${'<f>x</f>'.repeat(8000)}</Big>`;
  const r = new CstaFrameReader().push(encodeCstaFrame(1, big));
  t.same(r.errors, []);
  t.equal(r.messages[0]!.fields.f, 'x', 'a frame larger than the initial batch array');
});

t.test('pushBatch hands batches without building messages', async (t) => {
  const reader = new CstaFrameReader();
  const seen: string[] = [];
  const read: unknown[] = [];
  reader.pushBatch(load('02_OriginatedEvent.frame.bin'), (batch, at) => {
    read.push(batch.invokeId(at), batch.root(at));
    for (let r = batch.firstRecord(at); r < batch.endRecord(at); r += CSTA_RECORD_WORDS) {
      if (batch.kind(r) === CstaRecordKind.Device) read.push([batch.value(r, 0), batch.value(r, 1), batch.value(r, 2)]);
      if (batch.kind(r) === CstaRecordKind.Connection) read.push([batch.value(r, 1), batch.value(r, 2)]);
    }
  });
  t.same(read, [
    9999,
    'OriginatedEvent',
    ['FF000100000000002D65C85C1C750000', '302118840100'],
    ['callingDevice', '302118840100', undefined],
    ['calledDevice', 'N<302118840101>;displayNumber=302118840101;noa=nk', undefined],
  ]);
  const errors = reader.pushBatch(Buffer.concat([load('01_ServiceInitiatedEvent.frame.bin'), Buffer.from([9, 9, 9])]), (batch, at) => {
    seen.push(batch.message(at).root);
    t.equal(batch.words[at + 2], 9999);
  });
  t.same(errors, []);
  t.same(seen, ['ServiceInitiatedEvent']);
  t.equal(reader.end()[0]!.code, 'CTI_ERR_FRAME_TRUNCATED');
});

t.test('encodeCstaFrame', async (t) => {
  const f = encodeCstaFrame(1, '<MonitorStart/>');
  t.same([...f.subarray(0, 8)], [0, 0, 0, 23, 0x30, 0x30, 0x30, 0x31]);
  t.equal(encodeCstaFrame(9999, Buffer.from('<a/>')).subarray(4, 8).toString(), '9999');
  const vector = '<MonitorStart xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"><monitorObject><deviceObject typeOfNumber="dialingNumber">212700</deviceObject></monitorObject><monitorType>device</monitorType></MonitorStart>';
  t.same(encodeCstaFrame(1, vector).subarray(0, 4), Buffer.from([0, 0, 0, 0xeb]), 'psco-tech byte-exact vector');
  t.throws(() => encodeCstaFrame(10000, '<a/>'), RangeError);
  t.throws(() => encodeCstaFrame(-1, '<a/>'), RangeError);
  t.throws(() => encodeCstaFrame(1.5, '<a/>'), RangeError);
  t.throws(() => encodeCstaFrame(1, 'x'.repeat(65528)), /exceeds/);
  t.equal(encodeCstaFrame(1, 'x'.repeat(65527)).length, 65535);
  t.throws(() => new CstaFrameReader({ maxFrameBytes: 8 }), RangeError);
  t.throws(() => new CstaFrameReader({ maxFrameBytes: 70000 }), RangeError);
  t.throws(() => new CstaFrameReader({ maxResyncBytes: 0 }), RangeError);
});

t.test('decodeXmlText', async (t) => {
  t.equal(decodeXmlText('a &amp; b'), 'a & b');
  t.equal(decodeXmlText('<![CDATA[&amp;]]>&amp;<!-- c -->x'), '&amp;&x');
  t.equal(decodeXmlText('<![CDATA[open'), 'open');
  t.equal(decodeXmlText('a<!-- open'), 'a');
  t.equal(decodeXmlText('a < b'), 'a < b');
});

t.test('the string cache never changes what is decoded (sizes 0, 1, 2, 64, 4096; batch overflow; bad frames)', async (t) => {
  const frames: Buffer[] = [];
  for (let i = 0; i < 1500; i++) {
    const call = `FF0001${String(i % 37).padStart(26, '0')}`;
    const dev = `N&lt;30211884${String(i % 53).padStart(4, '0')}&gt;;noa=nk`;
    frames.push(encodeCstaFrame(9999, `<DeliveredEvent><monitorCrossRefID>${1000 + (i % 11)}</monitorCrossRefID><connection><callID>${call}</callID><deviceID>${i % 53}</deviceID></connection><alertingDevice><deviceIdentifier>${dev}</deviceIdentifier></alertingDevice><callingDevice><deviceIdentifier>${'x'.repeat(i % 70)}</deviceIdentifier></callingDevice><localConnectionInfo>alerting</localConnectionInfo><cause>newCall</cause></DeliveredEvent>`));
    if (i % 97 === 0) frames.push(encodeCstaFrame(1, `<Bad><cause>c${i}</cause><x></Bad>`));
    if (i % 131 === 0) frames.push(Buffer.from('\x01garbage'));
  }
  const stream = Buffer.concat(frames);
  const decode = (slots: number) => {
    const reader = new CstaFrameReader({ stringCacheSlots: slots });
    const out: unknown[] = [];
    for (let i = 0; i < stream.length; i += 40000) {
      const r = reader.push(stream.subarray(i, i + 40000));
      for (const m of r.messages) out.push({ ...m, fields: m.fields, xml: m.xml.length });
      for (const e of r.errors) out.push(e.code);
    }
    return out;
  };
  const reference = decode(0);
  t.equal(reference.filter((x) => typeof x !== 'string').length, 1500);
  for (const slots of [1, 2, 64, 4096]) t.same(decode(slots), reference, `${slots} slots`);
  t.throws(() => new CstaFrameReader({ stringCacheSlots: 3 }), RangeError);
});

t.test('fields named like Object.prototype members are kept', async (t) => {
  const m = one('<X><toString>a</toString><__proto__>b</__proto__><constructor>c</constructor><toString>d</toString></X>');
  t.equal(m.fields.toString, 'a');
  t.equal(Object.getOwnPropertyDescriptor(m.fields, '__proto__')?.value, 'b');
  t.equal(m.fields.constructor, 'c');
  m.fields = { replaced: 'yes' };
  t.same(m.fields, { replaced: 'yes' });
  t.same(JSON.parse(JSON.stringify(one('<Y><a>1</a></Y>'))), {
    invokeId: 9999,
    root: 'Y',
    connections: [],
    devices: [],
    transferredConnections: [],
    fields: { a: '1' },
    xml: '<Y><a>1</a></Y>',
  });
  const x = one('<Z/>');
  x.xml = Buffer.from('<other/>');
  t.equal(x.xml.toString(), '<other/>');
});

t.test('native entity decoding matches the XML rules (and the TypeScript decoder)', async (t) => {
  const cases: [string, string][] = [
    ['a&amp;b', 'a&b'],
    ['&lt;&gt;&quot;&apos;', '<>"\''],
    ['&#65;&#x42;&#x63;', 'ABc'],
    ['&#xE9;&#x20AC;&#x1F600;', 'é€😀'],
    ['&#xD800;x', decodeXmlText('&#xD800;x')],
    ['&#x110000;', '&#x110000;'],
    ['&unknown;&#;&#x;&#12a;', '&unknown;&#;&#x;&#12a;'],
    ['&constructor;&toString;', '&constructor;&toString;'],
    ['tail &amp', 'tail &amp'],
    ['& lone', '& lone'],
  ];
  for (const slots of [0, 4096]) {
    for (const [raw, want] of cases) {
      const xml = `<E><connection><callID>${raw}</callID><deviceID>d${raw}</deviceID></connection><cause>${raw}</cause><f>${raw}</f></E>`;
      const m = new CstaFrameReader({ stringCacheSlots: slots }).push(encodeCstaFrame(1, xml)).messages[0]!;
      t.equal(m.connections[0]!.callId, want, `${raw} (${slots} slots)`);
      t.equal(m.connections[0]!.deviceId, 'd' + want);
      t.equal(m.cause, want);
      t.equal(m.fields.f, want);
      t.equal(decodeXmlText(raw), want);
    }
  }
  // More decoded bytes in one batch than the scratch area holds: the rest is decoded in TypeScript.
  const long = '&lt;' + 'x'.repeat(200) + '&gt;';
  const frames = Array.from({ length: 600 }, (_, i) => encodeCstaFrame(1, `<E><callingDevice><deviceIdentifier>${long}${i}</deviceIdentifier></callingDevice></E>`));
  const r = new CstaFrameReader().push(Buffer.concat(frames));
  t.equal(r.messages.length, 600);
  t.ok(r.messages.every((m, i) => m.devices[0]!.id === `<${'x'.repeat(200)}>${i}`));
});
