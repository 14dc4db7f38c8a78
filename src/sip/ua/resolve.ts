/**
 * Next-hop resolution for requests the UA sends (RFC 3263 section 4, without NAPTR/SRV): the first Route
 * (loose routing) or the Request-URI; `maddr`, port and `transport` parameters; host names through the
 * system resolver.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

import { SipError, type SipUri } from '../message/index.js';
import type { Destination, SipProtocol } from '../transaction/transport-port.js';

/** Protocol, host and port for a SIP or SIPS URI (RFC 3263 sections 4.1 and 4.2, numeric cases). */
export function uriTarget(uri: SipUri): { protocol: SipProtocol; host: string; port: number } {
  if (!uri.isSip) throw new SipError('SIP_ERR_URI_SCHEME', `cannot route to a ${uri.scheme}: URI`, 416);
  const t = uri.transport;
  let protocol: SipProtocol;
  switch (t) {
    case undefined:
      protocol = uri.scheme === 'sips' ? 'tls' : 'udp';
      break;
    case 'udp':
    case 'tcp':
    case 'tls':
    case 'ws':
    case 'wss':
      protocol = t;
      break;
    default:
      throw new SipError('SIP_ERR_URI_TRANSPORT', `unsupported transport ${t}`, 503);
  }
  if (uri.scheme === 'sips' && protocol === 'tcp') protocol = 'tls';
  const maddr = uri.param('maddr');
  let host = typeof maddr === 'string' && maddr ? maddr : uri.host;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = uri.port ?? (protocol === 'tls' || protocol === 'wss' ? 5061 : 5060);
  return { protocol, host, port };
}

/** The destination of a URI whose host is an IP literal, found without a lookup; undefined for a name. */
export function literalTarget(uri: SipUri): Destination | undefined {
  const t = uriTarget(uri);
  return isIP(t.host) ? t : undefined;
}

/** Resolve a URI to a destination; numeric hosts without a lookup. */
export async function resolveUri(uri: SipUri): Promise<Destination> {
  const t = uriTarget(uri);
  if (isIP(t.host)) return t;
  try {
    const { address } = await lookup(t.host);
    return { ...t, host: address };
  } catch (err) {
    throw new SipError('SIP_ERR_RESOLVE', `cannot resolve ${t.host}`, 503, { cause: err });
  }
}
