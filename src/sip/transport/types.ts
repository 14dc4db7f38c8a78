import type { SecureContextOptions, ConnectionOptions } from 'node:tls';

/** Transport protocols of RFC 3261 18 plus WebSocket (RFC 7118). */
export type SipProtocol = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** True for connection-oriented transports. */
export function isReliable(p: SipProtocol): boolean {
  return p !== 'udp';
}

/** The Via transport token of a protocol (RFC 3261 20.42, RFC 7118 5.2). */
export function viaTransport(p: SipProtocol): string {
  return p.toUpperCase();
}

/** A protocol from a Via transport token or a URI `transport` parameter, if switchhook speaks it. */
export function protocolFromToken(token: string): SipProtocol | undefined {
  const t = token.toLowerCase();
  return t === 'udp' || t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss' ? t : undefined;
}

/** Default port of a protocol (RFC 3261 19.1.2; RFC 7118 uses the HTTP ports). */
export function defaultPort(p: SipProtocol): number {
  switch (p) {
    case 'udp':
    case 'tcp':
      return 5060;
    case 'tls':
      return 5061;
    case 'ws':
      return 80;
    case 'wss':
      return 443;
    default:
      throw new TypeError(`unknown protocol ${String(p)}`);
  }
}

/** An IP address and port. */
export interface HostPort {
  host: string;
  port: number;
}

/** Options of {@link TransportLayer.listen}. */
export interface ListenOptions {
  protocol: SipProtocol;
  /** Address to bind (default `127.0.0.1`). */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** Certificate and key for `tls` and `wss`. */
  tls?: SecureContextOptions;
  /** HTTP path accepted for WebSocket upgrades (default: any). */
  wsPath?: string;
}

/** A bound listener. */
export interface BoundAddress extends HostPort {
  protocol: SipProtocol;
}

/** Where a received message came from and how it arrived. */
export interface MessageSource {
  protocol: SipProtocol;
  local: HostPort;
  remote: HostPort;
  /** The connection it arrived on (connection-oriented transports). */
  connectionId?: string;
}

/** A destination address (RFC 3261 18.1.1, after RFC 3263 resolution). */
export interface AddressTarget {
  protocol: SipProtocol;
  host: string;
  port: number;
  /**
   * For `udp` requests: whether a request larger than the threshold (1300 bytes) may go over TCP instead
   * (RFC 3261 18.1.1). Default true; false when the URI said `transport=udp`.
   */
  allowTcp?: boolean;
  /** WebSocket URL path (default `/`). */
  wsPath?: string;
  /** TLS server name (default the host when it is a name). */
  servername?: string;
}

/** Send over an existing connection (responses, RFC 3261 18.2.2; in-dialog requests over a flow). */
export interface ConnectionTarget {
  connectionId: string;
}

export type SendTarget = AddressTarget | ConnectionTarget;

/** How a message was sent. */
export interface SendResult {
  protocol: SipProtocol;
  local: HostPort;
  remote: HostPort;
  connectionId?: string;
}

/** Options of a {@link TransportLayer}. */
export interface TransportOptions {
  /** Counters for received, sent and malformed messages, keepalives and errors. */
  metrics?: import('../../util/metrics.js').MetricsRegistry;
  /** Header and body limits. */
  limits?: Partial<import('../message/message.js').SipLimits>;
  /** Options for outgoing TLS/WSS connections (CA, client certificate, rejectUnauthorized). */
  tlsClient?: ConnectionOptions;
  /** Requests larger than this many bytes leave UDP for TCP (RFC 3261 18.1.1); default 1300. */
  udpMaxRequestBytes?: number;
  /** Milliseconds allowed to open a connection (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * SO_RCVBUF / SO_SNDBUF of the UDP sockets (listeners and ephemeral senders), bytes (default: the
   * kernel's). Beyond net.core.[rw]mem_max it takes SO_[RCV|SND]BUFFORCE (CAP_NET_ADMIN), else stays capped.
   */
  udpBufferBytes?: number;
  /**
   * Validate responses (`SipMessage.validate`) before the `message` event (default true). A receiver that
   * validates them itself, knowing the request each answers (the SIP stack's user agent), sets false.
   */
  validateResponses?: boolean;
}
