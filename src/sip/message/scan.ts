import { SipHeaderRole, SipScanner } from '../../native/sip.js';
import { KNOWN_NAMES, SINGLE_INDEX } from './header-names.js';

/**
 * The native scanner's view of the header names: the table it is given (with each hot header's slot) and,
 * per name id, the header key.
 */

/** Hot headers whose values the scanner pre-splits; each is also the header's slot in the scan record. */
export enum Hot {
  None = 0,
  Via = 1,
  From = 2,
  To = 3,
  Contact = 4,
  Route = 5,
  RecordRoute = 6,
  CSeq = 7,
  CallId = 8,
}

const HOT_BY_KEY: Record<string, [Hot, SipHeaderRole]> = {
  via: [Hot.Via, SipHeaderRole.Via],
  from: [Hot.From, SipHeaderRole.NameAddr],
  to: [Hot.To, SipHeaderRole.NameAddr],
  contact: [Hot.Contact, SipHeaderRole.NameAddrList],
  route: [Hot.Route, SipHeaderRole.NameAddrList],
  'record-route': [Hot.RecordRoute, SipHeaderRole.NameAddrList],
  cseq: [Hot.CSeq, SipHeaderRole.CSeq],
  'call-id': [Hot.CallId, SipHeaderRole.CallId],
  'content-length': [Hot.None, SipHeaderRole.ContentLength],
};

/** Header key of each name id. */
export const NAME_KEYS: readonly string[] = KNOWN_NAMES.map((n) => n.key);

/**
 * Methods (RFC 3261, 3262, 3265, 3311, 3428, 3515, 3903, 6086) and Via transports: the scan record names
 * these by index, and messages take these strings instead of new ones.
 */
export const TOKENS: readonly string[] = [
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'REFER', 'INFO', 'PRACK',
  'UPDATE', 'PUBLISH', 'UDP', 'TCP', 'TLS', 'WS', 'WSS', 'SCTP',
];

/** The scanner of this thread (its record is shared by every parse on the thread). */
export const scanner = new SipScanner(
  KNOWN_NAMES.map((n) => ({
    lower: n.lower,
    single: SINGLE_INDEX.has(n.key) ? Math.log2(SINGLE_INDEX.get(n.key)!) + 1 : 0,
    role: HOT_BY_KEY[n.key]?.[1] ?? SipHeaderRole.Other,
    slot: HOT_BY_KEY[n.key]?.[0] ?? Hot.None,
  })),
  TOKENS,
);
