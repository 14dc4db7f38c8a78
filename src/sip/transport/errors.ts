import { SipError } from '../message/errors.js';

/** Codes of {@link SipTransportError}. */
export type SipTransportErrorCode =
  | 'SIP_ERR_TRANSPORT_LISTEN'
  | 'SIP_ERR_TRANSPORT_CONNECT'
  | 'SIP_ERR_TRANSPORT_SEND'
  | 'SIP_ERR_TRANSPORT_NO_CONNECTION'
  | 'SIP_ERR_TRANSPORT_CLOSED'
  | 'SIP_ERR_TRANSPORT_FRAMING'
  | 'SIP_ERR_TRANSPORT_SOCKET'
  | 'SIP_ERR_TRANSPORT_PROTOCOL';

/**
 * A transport failure (RFC 3261 18): a listener that cannot bind, a connection that cannot be opened or
 * broke, a stream whose framing was lost. A failed send of a request maps to a 503 for the transaction
 * layer (RFC 3261 8.1.3.1).
 */
export class SipTransportError extends SipError {
  constructor(code: SipTransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, 503, options);
  }
}
