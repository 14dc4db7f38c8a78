import { XMLParser, XMLValidator } from 'fast-xml-parser';
import t from 'tap';

import { buildDialogInfo } from '../../src/presence/dialog-info.js';
import { PhonePresenceState, type PhoneSnapshot } from '../../src/presence/phone-state.js';
import { buildPidf } from '../../src/presence/pidf.js';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' });

const talking: PhoneSnapshot = {
  device: '2001',
  state: PhonePresenceState.OnCall,
  calls: [
    {
      id: 'c17',
      callId: 'c17@pbx',
      localTag: 'lt',
      remoteTag: 'rt',
      direction: 'recipient',
      state: 'confirmed',
      held: false,
      remote: { number: '2002', display: 'Bob & "Co" <x>' },
    },
  ],
};

t.test('PIDF: on-the-phone while in use, cleared when idle, unknown when the link is down', async (t) => {
  const busy = buildPidf('sip:2001@pbx.example', talking);
  t.ok(XMLValidator.validate(busy) === true, 'well-formed');
  const doc = parser.parse(busy);
  t.equal(doc.presence['@entity'], 'sip:2001@pbx.example');
  t.equal(doc.presence.tuple.status.basic, 'open');
  t.ok('rpid:on-the-phone' in doc.presence['dm:person']['rpid:activities']);

  const idle = parser.parse(buildPidf('sip:2001@pbx.example', { device: '2001', state: PhonePresenceState.Idle, calls: [] }));
  t.notOk(idle.presence['dm:person']['rpid:activities'], 'no activity when idle');
  t.equal(idle.presence.tuple.note, 'Available');

  const unknown = parser.parse(buildPidf('sip:2001@pbx.example', { device: '2001', state: PhonePresenceState.Unknown, calls: [] }, 'sip:2001@10.0.0.1'));
  t.equal(unknown.presence.tuple.status.basic, 'closed');
  t.equal(unknown.presence.tuple.contact, 'sip:2001@10.0.0.1');
  t.ok('rpid:unknown' in unknown.presence['dm:person']['rpid:activities']);

  const dnd = parser.parse(buildPidf('sip:2001@x', { device: '2001', state: PhonePresenceState.DoNotDisturb, calls: [] }));
  t.ok('rpid:busy' in dnd.presence['dm:person']['rpid:activities']);
  const fwd = parser.parse(buildPidf('sip:2001@x', { device: '2001', state: PhonePresenceState.Forwarded, calls: [], forwardTo: '2050' }));
  t.equal(fwd.presence.tuple.note, 'Calls forwarded to 2050');
});

t.test('dialog-info: rich dialogs with ids, tags, direction and escaped remote identity', async (t) => {
  const xml = buildDialogInfo(talking, 7, 'full', { domain: 'pbx.example' });
  t.ok(XMLValidator.validate(xml) === true, 'well-formed');
  const info = parser.parse(xml)['dialog-info'];
  t.equal(info['@version'], '7');
  t.equal(info['@state'], 'full');
  t.equal(info['@entity'], 'sip:2001@pbx.example');
  const d = info.dialog;
  t.match(d, { '@id': 'c17', '@call-id': 'c17@pbx', '@local-tag': 'lt', '@remote-tag': 'rt', '@direction': 'recipient', state: 'confirmed' });
  t.equal(d.remote.identity['@display'], 'Bob & "Co" <x>');
  t.equal(d.remote.identity['#text'], 'sip:2002@pbx.example');
  t.equal(d.local.target.param['@pvalue'], 'yes');

  const held = buildDialogInfo({ ...talking, state: PhonePresenceState.Held, calls: [{ ...talking.calls[0]!, held: true }] }, 8, 'partial', { domain: 'pbx.example' });
  t.equal(parser.parse(held)['dialog-info'].dialog.local.target.param['@pvalue'], 'no');

  const ended = buildDialogInfo({ device: '2001', state: PhonePresenceState.Idle, calls: [] }, 9, 'partial', { domain: 'pbx.example' }, [
    { ...talking.calls[0]!, state: 'terminated' },
  ]);
  t.equal(parser.parse(ended)['dialog-info'].dialog.state, 'terminated');
  const empty = parser.parse(buildDialogInfo({ device: '2001', state: PhonePresenceState.Idle, calls: [] }, 0, 'full', { domain: 'pbx.example' }));
  t.notOk(empty['dialog-info'].dialog, 'an idle phone has no dialogs');
});
