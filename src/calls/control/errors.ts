/**
 * The call-control failure family (`CALL_ERR_*`) and the documented mapping of CSTA errors (ECMA-269 §9.2
 * universal failure categories) to SIP (RFC 3261 §21) and HTTP (RFC 9110 §15) statuses. docs/call-control.md
 * lists the table.
 */
import { CstaErrorCategory, CtiError, CtiErrorCode } from '../../cti/index.js';
import { SwitchhookError } from '../../util/errors.js';

/** Stable codes of {@link CallControlError}. */
export enum CallControlErrorCode {
  /** The phone is not one the daemon monitors. */
  UnknownPhone = 'CALL_ERR_UNKNOWN_PHONE',
  /** The requester does not own the phone. */
  NotOwner = 'CALL_ERR_NOT_OWNER',
  /** The named call is not at the phone. */
  UnknownCall = 'CALL_ERR_UNKNOWN_CALL',
  /** The phone has no call in the state the service needs (no ringing call to answer, no held call...). */
  NoSuitableCall = 'CALL_ERR_NO_SUITABLE_CALL',
  /** A request argument is missing or malformed (bad target, unknown forwarding type). */
  BadRequest = 'CALL_ERR_BAD_REQUEST',
  /** A target SIP URI is not mapped to a PBX number. */
  UnmappedTarget = 'CALL_ERR_UNMAPPED_TARGET',
  /** The switch refused the request, or the CTI link failed; `cause` is the {@link CtiError}. */
  Refused = 'CALL_ERR_REFUSED',
  /** The switch accepted, but the expected call state did not follow in time. */
  Timeout = 'CALL_ERR_TIMEOUT',
  /** An unknown request id. */
  UnknownRequest = 'CALL_ERR_UNKNOWN_REQUEST',
  /** The control was closed. */
  Closed = 'CALL_ERR_CLOSED',
}

/** SIP and HTTP statuses of one failure. */
export interface StatusPair {
  readonly sip: number;
  readonly http: number;
}

const statusByCode: Record<Exclude<CallControlErrorCode, CallControlErrorCode.Refused>, StatusPair> = {
  [CallControlErrorCode.UnknownPhone]: { sip: 404, http: 404 },
  [CallControlErrorCode.NotOwner]: { sip: 403, http: 403 },
  [CallControlErrorCode.UnknownCall]: { sip: 481, http: 404 },
  [CallControlErrorCode.NoSuitableCall]: { sip: 481, http: 409 },
  [CallControlErrorCode.BadRequest]: { sip: 400, http: 400 },
  [CallControlErrorCode.UnmappedTarget]: { sip: 404, http: 422 },
  [CallControlErrorCode.Timeout]: { sip: 408, http: 504 },
  [CallControlErrorCode.UnknownRequest]: { sip: 404, http: 404 },
  [CallControlErrorCode.Closed]: { sip: 503, http: 503 },
};

/** Operation-error values that name a bad destination (the target the requester gave). */
const badDestination = new Set([
  'invalidCalledDevice',
  'invalidDestination',
  'invalidForwardingDestination',
  'invalidDeviceID',
  'objectNotKnown',
]);
/** Operation-error values that name a call or connection that no longer exists. */
const goneCall = new Set(['invalidCallID', 'invalidConnectionID', 'invalidConnectionIdentifier', 'invalidCallIdentifier', 'invalidCstaConnectionIdentifier']);

/**
 * Maps a CTI failure to SIP and HTTP statuses:
 * - operation: a bad destination → SIP 404 / HTTP 422; a gone call → SIP 481 / HTTP 404; else SIP 488 / HTTP 400
 * - security → 403 / 403; stateIncompatibility → SIP 488 / HTTP 409 (resourceBusy-like values: 486 / 409)
 * - systemResourceAvailability, performanceManagement → SIP 480 / HTTP 503
 * - subscribedResourceAvailability → SIP 403 / HTTP 403 (the feature is not subscribed for the device)
 * - privateDataInformation, unspecified → SIP 500 / HTTP 502
 * - link down or stopped → 503 / 503; timeout or link lost (outcome unknown) → SIP 504 / HTTP 504
 */
export function statusOfCtiError(e: CtiError): StatusPair {
  switch (e.code) {
    case CtiErrorCode.LinkDown:
    case CtiErrorCode.Stopped:
    case CtiErrorCode.InvokeIdsExhausted:
      return { sip: 503, http: 503 };
    case CtiErrorCode.Timeout:
    case CtiErrorCode.LinkLost:
      return { sip: 504, http: 504 };
    case CtiErrorCode.BadArgument:
      return { sip: 400, http: 400 };
    default:
      break;
  }
  switch (e.category) {
    case CstaErrorCategory.Operation:
      if (badDestination.has(e.value ?? '')) return { sip: 404, http: 422 };
      if (goneCall.has(e.value ?? '')) return { sip: 481, http: 404 };
      return { sip: 488, http: 400 };
    case CstaErrorCategory.Security:
    case CstaErrorCategory.SubscribedResourceAvailability:
      return { sip: 403, http: 403 };
    case CstaErrorCategory.StateIncompatibility:
      return e.value === 'resourceBusy' ? { sip: 486, http: 409 } : { sip: 488, http: 409 };
    case CstaErrorCategory.SystemResourceAvailability:
      return e.value === 'resourceBusy' ? { sip: 486, http: 503 } : { sip: 480, http: 503 };
    case CstaErrorCategory.PerformanceManagement:
      return { sip: 480, http: 503 };
    case CstaErrorCategory.PrivateDataInformation:
    case CstaErrorCategory.Unspecified:
    case undefined:
      return { sip: 500, http: 502 };
    default:
      throw new Error(`unknown CSTA error category ${String(e.category)}`);
  }
}

/** Statuses of a refusal: the CSTA mapping, the statuses an error carries itself (a failed softphone move), else 500/502. */
function refusalStatus(cause: unknown): StatusPair {
  if (cause instanceof CtiError) return statusOfCtiError(cause);
  const c = cause as { sipStatus?: unknown; httpStatus?: unknown } | undefined;
  if (typeof c?.sipStatus === 'number' && typeof c.httpStatus === 'number') return { sip: c.sipStatus, http: c.httpStatus };
  return { sip: 500, http: 502 };
}

/** One failed call-control request. `sipStatus`/`httpStatus` follow {@link statusOfCtiError} for refusals. */
export class CallControlError extends SwitchhookError {
  declare readonly code: CallControlErrorCode;
  readonly sipStatus: number;
  readonly httpStatus: number;

  constructor(code: CallControlErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    const cause = options?.cause;
    const pair = code === CallControlErrorCode.Refused ? refusalStatus(cause) : statusByCode[code];
    this.sipStatus = pair.sip;
    this.httpStatus = pair.http;
  }

  /** The CSTA error behind a refusal, if any. */
  get cti(): CtiError | undefined {
    return this.cause instanceof CtiError ? this.cause : undefined;
  }

  /** Wraps any failure of a CTI service call. */
  static refused(service: string, err: unknown): CallControlError {
    if (err instanceof CallControlError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    return new CallControlError(CallControlErrorCode.Refused, `${service}: ${msg}`, { cause: err });
  }
}
