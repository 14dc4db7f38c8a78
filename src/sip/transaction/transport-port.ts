/**
 * What the transaction layer needs from the transport layer (RFC 3261 section 18), as a small interface:
 * the real `TransportLayer` satisfies it through the stack, tests pass a fake.
 */
import type { SipMessage } from '../message/index.js';

/** Transport protocol names, lower case. */
export type SipProtocol = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** Where a message goes: an address, or an existing connection for connection-oriented transports. */
export interface Destination {
  protocol: SipProtocol;
  host: string;
  port: number;
  /** For TCP/TLS/WS: the connection a request arrived on, so responses go back over it (18.2.2). */
  connectionId?: string | number;
}

/** Where a message came from (the transport's receive event). */
export interface Source {
  protocol: SipProtocol;
  remoteAddress: string;
  remotePort: number;
  localAddress?: string;
  localPort?: number;
  connectionId?: string | number;
}

/** The sending half of the transport, as the transaction layer sees it. */
export interface TransactionTransport {
  /** Send one message; throws or reports through the error callback when it cannot be sent. */
  send(message: SipMessage, destination: Destination): void;
}

/** TCP, TLS and WebSocket are reliable: no retransmissions and zero-length wait timers (17.1.1.2, 17.2.2). */
export function isReliable(protocol: SipProtocol): boolean {
  return protocol !== 'udp';
}

/** Parse a Via transport token (`UDP`, `TCP`, `TLS`, `WS`, `WSS`) to a protocol; undefined if unknown. */
export function protocolFromVia(transport: string): SipProtocol | undefined {
  switch (transport.toUpperCase()) {
    case 'UDP':
      return 'udp';
    case 'TCP':
      return 'tcp';
    case 'TLS':
      return 'tls';
    case 'WS':
      return 'ws';
    case 'WSS':
      return 'wss';
    default:
      return undefined;
  }
}

/** The Via transport token for a protocol. */
export function viaTransport(protocol: SipProtocol): string {
  return protocol.toUpperCase();
}

/**
 * Where responses to a request from `source` go (RFC 3261 section 18.2.2, RFC 3581 section 4): back over the
 * same connection for reliable transports; for UDP to the source address, and to the source port when the
 * request asked for `rport` (or to the port in the Via sent-by, default 5060).
 */
export function responseDestination(
  via: { port?: number | undefined; rport?: number | boolean | null | undefined; params?: unknown } | undefined,
  source: Source,
): Destination {
  if (isReliable(source.protocol)) {
    const d: Destination = { protocol: source.protocol, host: source.remoteAddress, port: source.remotePort };
    if (source.connectionId !== undefined) d.connectionId = source.connectionId;
    return d;
  }
  const rport = via?.rport;
  const port = rport !== undefined && rport !== null && rport !== false ? source.remotePort : (via?.port ?? 5060);
  return { protocol: 'udp', host: source.remoteAddress, port };
}
