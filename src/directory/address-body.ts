/**
 * The multimedia address exchange of the service node (second seed, claims 8-11 and 18-19): how the
 * caller's client address travels with a call (a `Call-Info` header with the purpose
 * `switchhook-client`, RFC 3261 §20.9 allows purpose extensions), and the body a service node and the
 * clients send each other by SIP MESSAGE (RFC 3428): `application/vnd.switchhook.address+json`.
 */
import { DirectoryError } from './errors.js';

/** Content type of the address exchange body. */
export const ADDRESS_CONTENT_TYPE = 'application/vnd.switchhook.address+json';

/** `Call-Info` purpose naming the caller's multimedia client (RFC 3261 §20.9 `info-param` extension). */
export const CLIENT_PURPOSE = 'switchhook-client';

/** Largest address body accepted (bytes). */
export const maxAddressBody = 4096;

/** Who sent an address body. */
export enum AddressRole {
  /** A service node hands the callee's client the caller's address (claim 8c). */
  Offer = 'offer',
  /** The callee's client answers the caller's client with its own address (claim 9). */
  Answer = 'answer',
}

/** One party in an address body. */
export interface AddressParty {
  /** E.164 number or extension. */
  number: string;
  /** Its multimedia client (a `sip:` / `sips:` URI). */
  address?: string;
}

/**
 * The body: `{"v":1,"role":"offer","call":"<Call-ID>","site":"east","caller":{"number":"+15551230001",
 * "address":"sip:alice@..."},"callee":{"number":"+15552340002","address":"sip:bob@..."}}`. In an offer the
 * caller's address is required; in an answer both are.
 */
export interface AddressBody {
  v: 1;
  role: AddressRole;
  /** The Call-ID of the voice call's SIP leg, to tie the exchange to the call. */
  call: string;
  /** The site whose service node sent the offer. */
  site: string;
  caller: AddressParty;
  callee: AddressParty;
}

const uriRe = /^sips?:[^\s<>"\\\u0000-\u001f\u007f]{1,500}$/i;
const numberRe = /^\+?[0-9]{1,15}$/;
const tokenRe = /^[\x21-\x7e]{1,256}$/;

function bad(field: string, message: string): DirectoryError {
  return new DirectoryError('DIR_ERR_ADDRESS_BODY', field, message);
}

function party(v: unknown, field: string, needAddress: boolean): AddressParty {
  if (typeof v !== 'object' || v === null) throw bad(field, 'must be an object');
  const o = v as Record<string, unknown>;
  if (typeof o.number !== 'string' || !numberRe.test(o.number)) throw bad(`${field}.number`, 'must be an E.164 number or an extension');
  const out: AddressParty = { number: o.number };
  if (o.address !== undefined) {
    if (typeof o.address !== 'string' || !uriRe.test(o.address)) throw bad(`${field}.address`, 'must be a sip: or sips: URI');
    out.address = o.address;
  } else if (needAddress) throw bad(`${field}.address`, 'is required');
  return out;
}

/**
 * Parse and validate an address body.
 * @throws DirectoryError `DIR_ERR_ADDRESS_BODY` naming the field at fault.
 */
export function parseAddressBody(raw: Buffer | string): AddressBody {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (Buffer.byteLength(text) > maxAddressBody) throw bad('body', `longer than ${maxAddressBody} bytes`);
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new DirectoryError('DIR_ERR_ADDRESS_BODY', 'body', 'not JSON', { cause: err });
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('body', 'must be a JSON object');
  const b = o as Record<string, unknown>;
  if (b.v !== 1) throw bad('v', 'unsupported version');
  if (b.role !== AddressRole.Offer && b.role !== AddressRole.Answer) throw bad('role', "must be 'offer' or 'answer'");
  if (typeof b.call !== 'string' || !tokenRe.test(b.call)) throw bad('call', 'must be a Call-ID');
  if (typeof b.site !== 'string' || !tokenRe.test(b.site)) throw bad('site', 'must be a site name');
  const role = b.role;
  return {
    v: 1,
    role,
    call: b.call,
    site: b.site,
    caller: party(b.caller, 'caller', true),
    callee: party(b.callee, 'callee', role === AddressRole.Answer),
  };
}

/** Serialise an address body. */
export function encodeAddressBody(b: AddressBody): string {
  return JSON.stringify(b);
}

/** A `Call-Info` value naming a multimedia client: `<sip:alice@host>;purpose=switchhook-client`. */
export function clientCallInfo(address: string): string {
  return `<${address}>;purpose=${CLIENT_PURPOSE}`;
}

/**
 * The multimedia client named by `Call-Info` header values (RFC 3261 §20.9, comma-separated entries), or
 * undefined when none has the purpose `switchhook-client` or its URI is not `sip:`/`sips:`.
 */
export function clientFromCallInfo(values: readonly string[]): string | undefined {
  for (const value of values) {
    for (const m of value.matchAll(/<([^>]*)>([^,]*)/g)) {
      if (/;\s*purpose\s*=\s*"?switchhook-client"?/i.test(m[2]!) && uriRe.test(m[1]!)) return m[1]!;
    }
  }
  return undefined;
}
