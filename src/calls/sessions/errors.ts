import { SwitchhookError } from '../../util/errors.js';

/** A concurrent media session failure or bad session input; `code` is `SESSION_ERR_*`. */
export class SessionError extends SwitchhookError {
  constructor(
    code: `SESSION_ERR_${string}`,
    message: string,
    /** HTTP status for the admin API, SIP status for SIP answers. */
    readonly status?: number,
  ) {
    super(code, message);
  }

  /** The admin HTTP server renders errors with an `httpStatus` as problem details. */
  get httpStatus(): number {
    return this.status ?? 400;
  }
}
