import { CstaErrorCategory } from '../cti/errors.js';
import { SwitchhookError } from '../util/errors.js';

/**
 * A request the simulated switch refuses. `category`/`value` are what it answers in a CSTAErrorCode
 * (ECMA-323 §9); the HTTP control API answers 404 for unknown objects and 409 for wrong states.
 */
export class SimError extends SwitchhookError {
  constructor(
    readonly category: CstaErrorCategory,
    readonly value: string,
    message: string,
  ) {
    super(`SIM_ERR_${category.toUpperCase()}`, message);
  }

  /** HTTP status for the control API. */
  get httpStatus(): number {
    switch (this.category) {
      case CstaErrorCategory.Operation:
        return this.value === 'invalidDeviceID' || this.value === 'invalidCallID' || this.value === 'invalidConnectionID' ? 404 : 400;
      case CstaErrorCategory.StateIncompatibility:
      case CstaErrorCategory.SystemResourceAvailability:
        return 409;
      default:
        return 400;
    }
  }
}

/** Unknown device (ECMA-269 operation error). */
export function unknownDevice(device: string): SimError {
  return new SimError(CstaErrorCategory.Operation, 'invalidDeviceID', `no device ${device}`);
}

/** Unknown call or connection. */
export function invalidConnection(callId: string, device: string): SimError {
  return new SimError(CstaErrorCategory.Operation, 'invalidConnectionID', `device ${device} is not in call ${callId}`);
}

/** The connection is not in a state that allows the request. */
export function wrongState(what: string, value = 'invalidObjectState'): SimError {
  return new SimError(CstaErrorCategory.StateIncompatibility, value, what);
}
