import { SwitchhookError } from '../../util/errors.js';
import type { SipMessage } from './message.js';

/**
 * Base of the SIP error family. Every SIP failure has a stable `code` (`SIP_ERR_*`) and, where a SIP
 * response can carry it, a `status` (RFC 3261 21).
 */
export class SipError extends SwitchhookError {
  /** The SIP status code that reports this failure to a peer, when one applies. */
  readonly status: number | undefined;

  constructor(code: string, message: string, status?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/**
 * A message (or a header of it) does not follow the RFC 3261 25.1 grammar or breaks a rule of RFC 3261 /
 * RFC 4475. `reason` names the fault in words fit for a 400 reason phrase. `partial` is the message as far
 * as it could be read, present when its start line was readable, so the transaction layer can address a
 * 400 (or 505) response per RFC 3261 8.2.6; `status` is that response's code.
 */
export class SipParseError extends SipError {
  /** The fault, short enough for a Reason-Phrase (RFC 3261 21.4.1). */
  readonly reason: string;
  /** The message as far as it was readable; absent when even the start line was unreadable. */
  readonly partial: SipMessage | undefined;

  constructor(reason: string, options: { status?: number; partial?: SipMessage; cause?: unknown } = {}) {
    super('SIP_ERR_PARSE', `malformed SIP message: ${reason}`, options.status ?? 400, { cause: options.cause });
    this.reason = reason;
    this.partial = options.partial;
  }
}
