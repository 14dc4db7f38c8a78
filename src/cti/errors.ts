import { SwitchhookError } from '../util/errors.js';

/**
 * Stable codes of the CTI failure family. `CTI_ERR_CSTA_*` codes carry a switch's CSTAErrorCode
 * (ECMA-269 §9.2 "universal failure", XML in ECMA-323 `CSTAErrorCode`), one code per error category.
 */
export enum CtiErrorCode {
  /** No response within the request timeout; the request's outcome is unknown. */
  Timeout = 'CTI_ERR_TIMEOUT',
  /** The link dropped while the request was in flight; its outcome is unknown and it is never resent. */
  LinkLost = 'CTI_ERR_LINK_LOST',
  /** The link is not up: the request was not sent. */
  LinkDown = 'CTI_ERR_LINK_DOWN',
  /** The link was stopped by its owner. */
  Stopped = 'CTI_ERR_STOPPED',
  /** Every invokeID of 0-8999 is in flight. */
  InvokeIdsExhausted = 'CTI_ERR_INVOKE_IDS_EXHAUSTED',
  /** A frame from the switch could not be read (length, header, XML). */
  BadFrame = 'CTI_ERR_BAD_FRAME',
  /** The switch answered with a message this request does not expect. */
  UnexpectedResponse = 'CTI_ERR_UNEXPECTED_RESPONSE',
  /** Session bring-up was refused (StartApplicationSessionNegResponse, SystemRegister error). */
  BringUpRefused = 'CTI_ERR_BRINGUP_REFUSED',
  /** A heartbeat went unanswered: the link is considered dead. */
  HeartbeatLost = 'CTI_ERR_HEARTBEAT_LOST',
  /** TCP/TLS connect or socket failure. */
  Socket = 'CTI_ERR_SOCKET',
  /** The caller passed an argument the service cannot encode. */
  BadArgument = 'CTI_ERR_BAD_ARGUMENT',
  /** A message names a device or monitor this link does not know. */
  UnknownMonitor = 'CTI_ERR_UNKNOWN_MONITOR',
  /** A TAPI/TSAPI adapter broke the adapter protocol (proto/cti_adapter.proto): framing, decoding, order. */
  AdapterProtocol = 'CTI_ERR_ADAPTER_PROTOCOL',
  CstaOperation = 'CTI_ERR_CSTA_OPERATION',
  CstaSecurity = 'CTI_ERR_CSTA_SECURITY',
  CstaState = 'CTI_ERR_CSTA_STATE_INCOMPATIBILITY',
  CstaSystemResource = 'CTI_ERR_CSTA_SYSTEM_RESOURCE',
  CstaSubscribedResource = 'CTI_ERR_CSTA_SUBSCRIBED_RESOURCE',
  CstaPerformance = 'CTI_ERR_CSTA_PERFORMANCE',
  CstaPrivateData = 'CTI_ERR_CSTA_PRIVATE_DATA',
  CstaUnspecified = 'CTI_ERR_CSTA_UNSPECIFIED',
}

/**
 * The error categories of a CSTAErrorCode (ECMA-323 §9 / ECMA-285 UniversalFailure), as XML element names.
 */
export enum CstaErrorCategory {
  Operation = 'operation',
  Security = 'security',
  StateIncompatibility = 'stateIncompatibility',
  SystemResourceAvailability = 'systemResourceAvailability',
  SubscribedResourceAvailability = 'subscribedResourceAvailability',
  PerformanceManagement = 'performanceManagement',
  PrivateDataInformation = 'privateDataInformation',
  Unspecified = 'unspecified',
}

const codeByCategory: Record<CstaErrorCategory, CtiErrorCode> = {
  [CstaErrorCategory.Operation]: CtiErrorCode.CstaOperation,
  [CstaErrorCategory.Security]: CtiErrorCode.CstaSecurity,
  [CstaErrorCategory.StateIncompatibility]: CtiErrorCode.CstaState,
  [CstaErrorCategory.SystemResourceAvailability]: CtiErrorCode.CstaSystemResource,
  [CstaErrorCategory.SubscribedResourceAvailability]: CtiErrorCode.CstaSubscribedResource,
  [CstaErrorCategory.PerformanceManagement]: CtiErrorCode.CstaPerformance,
  [CstaErrorCategory.PrivateDataInformation]: CtiErrorCode.CstaPrivateData,
  [CstaErrorCategory.Unspecified]: CtiErrorCode.CstaUnspecified,
};

/** Every category name, for matching the child of a received CSTAErrorCode. */
export const cstaErrorCategories: readonly CstaErrorCategory[] = Object.values(CstaErrorCategory);

/** One failure of the CTI link or of a CSTA service; `code` is stable, `category`/`value` come from the switch. */
export class CtiError extends SwitchhookError {
  declare readonly code: CtiErrorCode;
  /** CSTAErrorCode category (element name), when the switch refused the request. */
  readonly category?: CstaErrorCategory;
  /** CSTAErrorCode value (element text, e.g. `invalidConnectionID`), when the switch refused the request. */
  readonly value?: string;
  /** The service that failed (`MakeCall`, ...), when the error belongs to a request. */
  readonly service?: string;
  /** True when the switch may or may not have carried out the request (timeout, link lost). */
  readonly outcomeUnknown: boolean;

  constructor(
    code: CtiErrorCode,
    message: string,
    extra: { category?: CstaErrorCategory; value?: string; service?: string; cause?: unknown } = {},
  ) {
    super(code, message, extra.cause === undefined ? undefined : { cause: extra.cause });
    if (extra.category !== undefined) this.category = extra.category;
    if (extra.value !== undefined) this.value = extra.value;
    if (extra.service !== undefined) this.service = extra.service;
    this.outcomeUnknown = code === CtiErrorCode.Timeout || code === CtiErrorCode.LinkLost;
  }

  /** The typed error for a CSTAErrorCode received in answer to `service`. */
  static fromCsta(service: string, category: CstaErrorCategory, value: string): CtiError {
    return new CtiError(codeByCategory[category], `${service} refused by the switch: ${category}/${value || '(none)'}`, {
      category,
      value,
      service,
    });
  }
}
