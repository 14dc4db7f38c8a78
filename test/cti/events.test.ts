import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

import {
  ConnectionState,
  CstaEdition,
  CstaErrorCategory,
  CstaEventKind,
  CstaRequests,
  CtiError,
  CtiErrorCode,
  DeflectShape,
  ForwardingType,
  InvokeIdAllocator,
  connectionStateText,
  eventKindOf,
  normaliseDeviceId,
  normaliseEvent,
  parseConnectionState,
  parseEdition,
  parseForwardingType,
  parseSnapshotDevice,
} from '../../src/cti/index.js';
import { unescapeXml } from '../../src/cti/xml.js';
import { CstaFrameReader, encodeCstaFrame, type CstaMessage } from '../../src/native/csta.js';
import { packageRoot } from '../../src/util/package-root.js';

const publicDir = join(packageRoot(), 'captures', 'public', 'csta');

function scan(xml: string | Buffer): CstaMessage {
  const { messages, errors } = new CstaFrameReader().push(encodeCstaFrame(9999, xml));
  if (errors.length > 0 || messages.length !== 1) throw new Error(`scan failed: ${errors.map((e) => e.message).join()}`);
  return messages[0]!;
}

t.test('device identifiers are normalised (OpenScape, tel:, sip:)', async (t) => {
  const vectors: Array<[string, string]> = [
    ['2000', '2000'],
    ['N<302118840100>;noa=nk', '302118840100'],
    ['N<+17867100001>Line00001;displayNumber=00001', '+17867100001'],
    ['tel:73124;phone-context=dialstring;partition=X', '73124'],
    ['sip:2000@pbx.example.com:5060', '2000'],
    ['sips:2001@pbx', '2001'],
    ['2002;ext', '2002'],
    [' 2003 ', '2003'],
  ];
  for (const [raw, want] of vectors) t.equal(normaliseDeviceId(raw), want, raw);
});

t.test('real OpenScape Voice events normalise (pyssimist captures, ed4)', async (t) => {
  const [si] = new CstaFrameReader().push(readFileSync(join(publicDir, '01_ServiceInitiatedEvent.frame.bin'))).messages;
  const ev = normaliseEvent(si!)!;
  t.equal(ev.kind, CstaEventKind.ServiceInitiated);
  t.equal(ev.callId, 'FF000100000000002D65C85C1C750000');
  t.equal(ev.subjectDevice, '302118840100');
  t.equal(ev.localState, ConnectionState.Initiated);
  t.equal(ev.cause, 'makeCall');
  t.equal(ev.monitorCrossRefId, '1169730059');

  const [orig] = new CstaFrameReader().push(readFileSync(join(publicDir, '02_OriginatedEvent.frame.bin'))).messages;
  const o = normaliseEvent(orig!)!;
  t.equal(o.kind, CstaEventKind.Originated);
  t.equal(o.calledDevice, '302118840101', 'decorated called device');
  t.equal(o.localState, ConnectionState.Connected);

  const del = normaliseEvent(scan(readFileSync(join(publicDir, '14_DeliveredEvent.xml'))))!;
  t.equal(del.kind, CstaEventKind.Delivered);
  t.equal(del.subjectDevice, '3021061290002');
  t.equal(del.callingDevice, '7868772298');
  t.equal(del.localState, ConnectionState.Alerting);

  const tr = normaliseEvent(scan(readFileSync(join(publicDir, '15_TransferedEvent.xml'))))!;
  t.equal(tr.kind, CstaEventKind.Transferred, 'TransferedEvent (ECMA spelling)');
  t.equal(tr.callId, 'FF00010000000000CFB6706408000000');
  t.equal(tr.actingDevice, '+17867104700');
  t.equal(tr.newDestination, '+17867100001');
  t.same(tr.moved, [
    { deviceId: '+17867100001', newCallId: '0300010000000000CFB6706408000000' },
    { deviceId: '+17867100000', newCallId: '0300010000000000CFB6706408000000' },
  ]);
  t.equal(tr.cause, 'singleStepTransfer');

  t.equal(normaliseEvent(scan(readFileSync(join(publicDir, '13_CallInformationEvent.xml')))), undefined, 'events the model does not use');
});

t.test('both transfer spellings, any namespace; feature events; malformed events', async (t) => {
  const body = (root: string, ns: string): string =>
    `<${root} xmlns="${ns}"><monitorCrossRefID>7</monitorCrossRefID><primaryOldCall><callID>1</callID><deviceID>2000</deviceID></primaryOldCall>` +
    `<transferringDevice><deviceIdentifier>2000</deviceIdentifier></transferringDevice><transferredConnections><connectionListItem>` +
    `<newConnection><callID>2</callID><deviceID>2001</deviceID></newConnection><oldConnection><callID>1</callID><deviceID>2001</deviceID></oldConnection>` +
    `</connectionListItem></transferredConnections><cause>transfer</cause></${root}>`;
  for (const root of ['TransferedEvent', 'TransferredEvent']) {
    for (const ns of ['http://www.ecma.ch/standards/ecma-323/csta/ed2', 'http://www.ecmainternational.org/standards/ecma-323/csta/ed5']) {
      const ev = normaliseEvent(scan(body(root, ns)))!;
      t.equal(ev.kind, CstaEventKind.Transferred, `${root} in ${ns}`);
      t.same(ev.moved, [{ deviceId: '2001', newCallId: '2', oldCallId: '1' }]);
    }
  }
  const fwd = normaliseEvent(
    scan('<ForwardingEvent><monitorCrossRefID>1</monitorCrossRefID><device><deviceIdentifier>2000</deviceIdentifier></device><forwardingType>forwardBusy</forwardingType><forwardStatus>true</forwardStatus><forwardTo>tel:2001</forwardTo></ForwardingEvent>'),
  )!;
  t.same(fwd.forwarding, { type: ForwardingType.Busy, on: true, to: '2001' });
  const fwdOff = normaliseEvent(scan('<ForwardingEvent><device>2000</device><forwardingType>forwardBusy</forwardingType><forwardStatus>false</forwardStatus></ForwardingEvent>'))!;
  t.same(fwdOff.forwarding, { type: ForwardingType.Busy, on: false });
  const dnd = normaliseEvent(scan('<DoNotDisturbEvent><device><deviceIdentifier>2000</deviceIdentifier></device><doNotDisturbOn>1</doNotDisturbOn></DoNotDisturbEvent>'))!;
  t.equal(dnd.doNotDisturb, true);
  t.equal(normaliseEvent(scan('<DoNotDisturbEvent><device>2000</device><doNotDisturbOn>maybe</doNotDisturbOn></DoNotDisturbEvent>')), undefined, 'bad boolean');
  t.equal(normaliseEvent(scan('<ForwardingEvent><device>2000</device><forwardingType>sideways</forwardingType><forwardStatus>true</forwardStatus></ForwardingEvent>')), undefined, 'bad type');
  t.equal(normaliseEvent(scan('<DoNotDisturbEvent><doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>')), undefined, 'no device');
  t.equal(normaliseEvent(scan('<HeldEvent><monitorCrossRefID>1</monitorCrossRefID></HeldEvent>')), undefined, 'no subject connection');
  const div = normaliseEvent(scan('<DivertedEvent><connection><callID>1</callID><deviceID>2001</deviceID></connection><newDestination><deviceIdentifier>2002</deviceIdentifier></newDestination></DivertedEvent>'))!;
  t.equal(div.newDestination, '2002');
  const conf = normaliseEvent(
    scan('<ConferencedEvent><primaryOldCall><callID>1</callID><deviceID>2000</deviceID></primaryOldCall><secondaryOldCall><callID>2</callID><deviceID>2000</deviceID></secondaryOldCall><conferencingDevice><deviceIdentifier>2000</deviceIdentifier></conferencingDevice><addedParty><deviceIdentifier>2002</deviceIdentifier></addedParty></ConferencedEvent>'),
  )!;
  t.equal(conf.kind, CstaEventKind.Conferenced);
  t.equal(conf.secondaryCallId, '2');
  t.equal(conf.newDestination, '2002');
  for (const root of ['CallClearedEvent', 'QueuedEvent', 'NetworkReachedEvent', 'FailedEvent', 'RetrievedEvent', 'EstablishedEvent', 'ConnectionClearedEvent'])
    t.ok(eventKindOf(root), root);
});

t.test('connection states, editions, forwarding types', async (t) => {
  for (const s of Object.values(ConnectionState)) t.equal(parseConnectionState(connectionStateText(s)), s, s);
  t.equal(parseConnectionState('hold'), ConnectionState.Held);
  t.equal(parseConnectionState('initiate'), ConnectionState.Initiated);
  t.equal(parseConnectionState('connect'), ConnectionState.Connected);
  t.equal(parseConnectionState('bogus'), undefined);
  for (const e of Object.values(CstaEdition)) t.equal(parseEdition(e), e);
  t.throws(() => parseEdition('ed9'), RangeError);
  t.equal(parseForwardingType('forwardNoAns'), ForwardingType.NoAnswer);
  t.equal(parseForwardingType('nope'), undefined);
  t.equal(unescapeXml('a&amp;b&lt;c&gt;&quot;&apos;&#65;&#x42;'), 'a&b<c>"\'AB');
});

t.test('request builders: every service scans back to its fields; both DeflectCall shapes', async (t) => {
  const r4 = new CstaRequests(CstaEdition.Ed4, DeflectShape.Plain);
  const r5 = new CstaRequests(CstaEdition.Ed5, DeflectShape.Device);
  const c = { callId: 'C1', deviceId: '2000' };
  t.match(r4.deflectCall(c, '2002'), /<newDestination>2002<\/newDestination>/);
  t.match(r5.deflectCall(c, '2002'), /<newDestination><device>2002<\/device><\/newDestination>/);
  t.match(r5.deflectCall(c, '2002'), /csta\/ed5"/);
  for (const xml of [r4.deflectCall(c, '2002'), r5.deflectCall(c, '2002')]) {
    const m = scan(xml);
    t.same(m.devices.find((d) => d.role === 'newDestination')?.id, '2002', 'the switch reads either shape');
  }
  const reg = { address: 'sip:sh@10.0.0.1:5060', applicationId: 'sh&co' };
  const sr = scan(r4.systemRegister(reg));
  t.equal(sr.fields['address'], reg.address);
  t.equal(sr.fields['applicationID'], 'sh&co', 'escaped and unescaped');
  const sas = scan(r4.startApplicationSession(reg, 60));
  t.equal(sas.root, 'StartApplicationSession');
  t.equal(sas.fields['address'], reg.address);
  t.equal(sas.fields['requestedSessionDuration'], '60');
  t.equal(sas.fields['protocolVersion'], 'http://www.ecma-international.org/standards/ecma-323/csta/ed4');
  const cases: Array<[string, string]> = [
    [r4.makeCall('2000', '2001'), 'MakeCall'],
    [r4.answerCall(c), 'AnswerCall'],
    [r4.clearConnection(c), 'ClearConnection'],
    [r4.holdCall(c), 'HoldCall'],
    [r4.retrieveCall(c), 'RetrieveCall'],
    [r4.singleStepTransferCall(c, '2003'), 'SingleStepTransferCall'],
    [r4.consultationCall(c, '2003'), 'ConsultationCall'],
    [r4.transferCall(c, { callId: 'C2', deviceId: '2000' }), 'TransferCall'],
    [r4.setForwarding('2000', ForwardingType.Immediate, true, '2001'), 'SetForwarding'],
    [r4.setDoNotDisturb('2000', true), 'SetDoNotDisturb'],
    [r4.snapshotDevice('2000'), 'SnapshotDevice'],
    [r4.monitorStart('2000'), 'MonitorStart'],
    [r4.monitorStop('5'), 'MonitorStop'],
    [r4.systemStatus('normal'), 'SystemStatus'],
    [r4.systemStatusResponse(), 'SystemStatusResponse'],
    [r4.requestSystemStatus(), 'RequestSystemStatus'],
    [r4.requestSystemStatusResponse('normal'), 'RequestSystemStatusResponse'],
    [r4.systemRegisterCancel('1'), 'SystemRegisterCancel'],
    [r4.resetApplicationSessionTimer('S1', 60), 'ResetApplicationSessionTimer'],
    [r4.stopApplicationSession('S1'), 'StopApplicationSession'],
  ];
  for (const [xml, root] of cases) t.equal(scan(xml).root, root, root);
  t.same(scan(r4.transferCall(c, { callId: 'C2', deviceId: '2000' })).connections.map((x) => x.role), ['heldCall', 'activeCall']);
});

t.test('invokeID allocator: 0..8999, wraps, skips IDs in flight', async (t) => {
  const ids = new InvokeIdAllocator(8998);
  t.equal(ids.take(), 8998);
  t.equal(ids.take(), 8999);
  t.equal(ids.take(), 0, 'wraps to 0');
  ids.release(8999);
  const a = new InvokeIdAllocator(8999);
  t.equal(a.take(), 8999);
  t.equal(a.take(), 0);
  t.equal(a.take(), 1);
  a.release(0);
  // 8999 and 1 still in flight: after going round, 0 is free, 1 is skipped.
  for (let i = 2; i <= 8998; i++) a.take();
  t.equal(a.take(), 0, '8999 skipped, 0 reused');
  t.ok(a.has(1));
  const full = new InvokeIdAllocator();
  for (let i = 0; i < 9000; i++) full.take();
  t.throws(() => full.take(), { code: CtiErrorCode.InvokeIdsExhausted });
  full.clear();
  t.equal(full.size, 0);
});

t.test('SnapshotDeviceResponse parsing, any prefix, bad items skipped', async (t) => {
  const xml =
    '<x:SnapshotDeviceResponse xmlns:x="urn:x"><x:crossRefIDorSnapshotData><x:snapshotData>' +
    '<x:snapshotDeviceResponseInfo><x:connectionIdentifier><x:callID>C1</x:callID><x:deviceID>N&lt;2000&gt;;noa=nk</x:deviceID></x:connectionIdentifier>' +
    '<x:localCallState><x:compoundCallState><x:localConnectionState>hold</x:localConnectionState></x:compoundCallState></x:localCallState></x:snapshotDeviceResponseInfo>' +
    '<x:snapshotDeviceResponseInfo><x:connectionIdentifier><x:callID>C2</x:callID><x:deviceID>2000</x:deviceID></x:connectionIdentifier>' +
    '<x:localCallState><x:compoundCallState><x:localConnectionState>weird</x:localConnectionState></x:compoundCallState></x:localCallState></x:snapshotDeviceResponseInfo>' +
    '</x:snapshotData></x:crossRefIDorSnapshotData></x:SnapshotDeviceResponse>';
  t.same(parseSnapshotDevice(xml), { calls: [{ callId: 'C1', deviceId: '2000', state: ConnectionState.Held }], skipped: 1 });
});

t.test('CtiError from a CSTAErrorCode', async (t) => {
  const e = CtiError.fromCsta('HoldCall', CstaErrorCategory.StateIncompatibility, 'invalidObjectState');
  t.equal(e.code, CtiErrorCode.CstaState);
  t.equal(e.service, 'HoldCall');
  t.equal(e.name, 'CtiError');
  t.equal(e.outcomeUnknown, false);
  t.equal(CtiError.fromCsta('X', CstaErrorCategory.Unspecified, '').message, 'X refused by the switch: unspecified/(none)');
  for (const c of Object.values(CstaErrorCategory)) t.match(CtiError.fromCsta('X', c, 'v').code, /^CTI_ERR_CSTA_/);
});
