import { SwitchhookError } from '../../util/errors.js';

/** A failure in the SIP transaction layer (RFC 3261 section 17), with a stable `SIP_ERR_*` code. */
export class SipTransactionError extends SwitchhookError {
  constructor(code: `SIP_ERR_${string}`, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
