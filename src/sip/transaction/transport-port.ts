/**
 * What the transaction layer needs from the transport layer (RFC 3261 section 18), as a small interface:
 * the real `TransportLayer` satisfies it through the stack, tests pass a fake.
 */
import type { SipMessage } from '../message/index.js';
import { isReliable, type SipProtocol } from '../transport/types.js';

export type { SipProtocol };

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
  /**
   * Send one message; a throw or a rejected promise means it could not be sent (RFC 3261 section 18).
   * Return nothing when the message was handed over synchronously, as UDP does (`TransportLayer.sendNow`):
   * the transactions then allocate no promise per message and retransmissions (17.1.1.2, 17.1.2.2) cover
   * a datagram lost later.
   */
  send(message: SipMessage, destination: Destination): void | Promise<unknown>;
  /**
   * Send a request already written to bytes, as {@link send} would send it parsed (the transport may
   * parse it when it needs the message, e.g. to move a large request to TCP, RFC 3261 section 18.1.1).
   * Absent: the transaction parses it and uses {@link send}.
   */
  sendBytes?(bytes: Buffer, destination: Destination): void | Promise<unknown>;
}

/**
 * A request already written to bytes, with what the transaction layer needs of it: its method and top Via
 * branch make the client transaction key (RFC 3261 section 17.1.3), so no message object is built for it.
 */
export interface RequestBytes {
  readonly bytes: Buffer;
  readonly method: string;
  readonly branch: string;
}

export { isReliable };

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
