import { isOnThePhone, PhonePresenceState, type PhoneSnapshot } from './phone-state.js';
import { xmlEscape } from './xml.js';

/** Content-Type of PIDF bodies (RFC 3863 section 7). */
export const pidfContentType = 'application/pidf+xml';

const notes: Record<PhonePresenceState, string> = {
  [PhonePresenceState.Idle]: 'Available',
  [PhonePresenceState.OffHook]: 'Off hook',
  [PhonePresenceState.Ringing]: 'Ringing',
  [PhonePresenceState.Calling]: 'Calling',
  [PhonePresenceState.OnCall]: 'On the phone',
  [PhonePresenceState.Held]: 'Call on hold',
  [PhonePresenceState.DoNotDisturb]: 'Do not disturb',
  [PhonePresenceState.Forwarded]: 'Calls forwarded',
  [PhonePresenceState.Unknown]: 'Phone state unknown',
};

/** RPID activity (RFC 4480 section 3.2) for a state; none for an idle phone. */
function activity(state: PhonePresenceState): string | undefined {
  if (isOnThePhone(state)) return 'on-the-phone';
  switch (state) {
    case PhonePresenceState.DoNotDisturb:
      return 'busy';
    case PhonePresenceState.Unknown:
      return 'unknown';
    case PhonePresenceState.Idle:
    case PhonePresenceState.Forwarded:
      return undefined;
    default:
      throw new Error(`unhandled presence state ${state as string}`);
  }
}

/**
 * A PIDF document (RFC 3863) with the RPID data model (RFC 4479, RFC 4480): basic `open` for a reachable
 * phone (`closed` while its state is unknown), `<rpid:on-the-phone/>` while in use, a note for humans.
 */
export function buildPidf(entity: string, snapshot: PhoneSnapshot, contact?: string): string {
  const act = activity(snapshot.state);
  const basic = snapshot.state === PhonePresenceState.Unknown ? 'closed' : 'open';
  const note = snapshot.state === PhonePresenceState.Forwarded && snapshot.forwardTo ? `Calls forwarded to ${snapshot.forwardTo}` : notes[snapshot.state];
  const id = 'p' + snapshot.device.replace(/[^A-Za-z0-9]/g, '');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="${xmlEscape(entity)}">\n` +
    `<tuple id="t${id}"><status><basic>${basic}</basic></status>` +
    (contact ? `<contact>${xmlEscape(contact)}</contact>` : '') +
    `<note>${xmlEscape(note)}</note></tuple>\n` +
    `<dm:person id="${id}">` +
    (act ? `<rpid:activities><rpid:${act}/></rpid:activities>` : '') +
    `<dm:note>${xmlEscape(note)}</dm:note></dm:person>\n` +
    '</presence>\n'
  );
}
