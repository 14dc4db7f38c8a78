import { SwitchhookError } from '../util/errors.js';

/**
 * A directory (service node) operation was refused: bad provisioning input, a number outside the numbering
 * plan, a bad configuration. `field` names the input field at fault, so the admin API can point at it.
 * Codes: `DIR_ERR_NUMBER`, `DIR_ERR_CLIENT`, `DIR_ERR_DISPLAY`, `DIR_ERR_SOURCE`, `DIR_ERR_EXPIRES`,
 * `DIR_ERR_NOT_FOUND`, `DIR_ERR_LIMIT`, `DIR_ERR_CONFIG`, `DIR_ERR_CSV`, `DIR_ERR_CLOSED`, `DIR_ERR_ADDRESS_BODY`
 * (a bad address exchange body, docs/service-node.md).
 */
export class DirectoryError extends SwitchhookError {
  constructor(
    code: string,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, `${field}: ${message}`, options);
  }
}

/**
 * A DNS / ENUM failure. The ENUM resolver never lets one escape: each becomes a defined lookup outcome and a
 * counted error. Codes: `ENUM_ERR_TIMEOUT`, `ENUM_ERR_RCODE`, `ENUM_ERR_MALFORMED` (packet does not parse),
 * `ENUM_ERR_MISMATCH` (ID or question differ from the query), `ENUM_ERR_REGEXP` (RFC 3402 substitution
 * expression invalid or its result not a URI), `ENUM_ERR_FLAGS`, `ENUM_ERR_SERVICE` (not an E2U service),
 * `ENUM_ERR_LOOP` (too many non-terminal rules), `ENUM_ERR_TCP`, `ENUM_ERR_NUMBER` (not E.164),
 * `ENUM_ERR_CONFIG`, `ENUM_ERR_CLOSED`, `ENUM_ERR_INTERNAL`.
 */
export class EnumError extends SwitchhookError {}
