import { SwitchhookError } from '../../util/errors.js';

/**
 * A routing-table failure. Codes: `ROUTING_ERR_INVALID` (validation failed; `issues` lists every problem),
 * `ROUTING_ERR_VERSION` (a write carried a stale version), `ROUTING_ERR_NOT_FOUND` (no rule set for the
 * user), `ROUTING_ERR_USER` (a bad user key), `ROUTING_ERR_INPUT` (bad call facts, e.g. an invalid instant).
 */
export class RoutingError extends SwitchhookError {
  constructor(
    code: string,
    message: string,
    readonly issues: readonly { path: string; message: string }[] = [],
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
