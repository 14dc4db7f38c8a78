import { SwitchhookError } from '../../util/errors.js';

/** Stable codes of the transfer family. */
export type TransferErrorCode =
  /** No such user or desk phone in the configuration. */
  | 'TRANSFER_ERR_USER'
  /** The desk phone has no connected call to move. */
  | 'TRANSFER_ERR_NO_CALL'
  /** The user's softphone has no current registration. */
  | 'TRANSFER_ERR_NOT_REGISTERED'
  /** Another transfer of this user's call is in progress, or the call is not where the request assumes. */
  | 'TRANSFER_ERR_STATE'
  /** The softphone (or the desk phone) did not answer; the call stayed or went back where it was. */
  | 'TRANSFER_ERR_NO_ANSWER'
  /** The PBX's VoIP gateway never reached us; the CTI transfer was undone. */
  | 'TRANSFER_ERR_GATEWAY'
  /** The CTI request was refused or its outcome is unknown. */
  | 'TRANSFER_ERR_CTI'
  /** Closed. */
  | 'TRANSFER_ERR_CLOSED';

/**
 * A failed transfer between a desk phone and a softphone; `httpStatus` for the admin API (RFC 9110 §15),
 * `sipStatus` for the final sipfrag NOTIFY of a REFER (RFC 3515 §2.4.5, RFC 3261 §21).
 */
export class TransferError extends SwitchhookError {
  declare readonly code: TransferErrorCode;

  constructor(code: TransferErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }

  get httpStatus(): number {
    switch (this.code) {
      case 'TRANSFER_ERR_USER':
        return 404;
      case 'TRANSFER_ERR_NO_CALL':
      case 'TRANSFER_ERR_NOT_REGISTERED':
      case 'TRANSFER_ERR_STATE':
        return 409;
      case 'TRANSFER_ERR_NO_ANSWER':
        return 504;
      default:
        return 502;
    }
  }

  get sipStatus(): number {
    switch (this.code) {
      case 'TRANSFER_ERR_USER':
        return 404;
      case 'TRANSFER_ERR_NO_CALL':
        return 481;
      case 'TRANSFER_ERR_STATE':
        return 491;
      case 'TRANSFER_ERR_NOT_REGISTERED':
      case 'TRANSFER_ERR_NO_ANSWER':
        return 480;
      case 'TRANSFER_ERR_CLOSED':
        return 503;
      case 'TRANSFER_ERR_GATEWAY':
        return 502;
      default:
        return 500;
    }
  }
}
