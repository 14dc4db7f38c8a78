/**
 * switchhook's embedding API: vendors embed the daemon in their own Node application through these exports;
 * the `switchhook` command is built on the same API.
 */
export { SwitchhookError } from './util/errors.js';
export { MetricsRegistry, Counter, Gauge } from './util/metrics.js';
export { createLogger, setLogSink, setLogLevel, type LogLevel } from './util/log.js';
export {
  CallControl,
  CallControlError,
  CallControlErrorCode,
  OwnershipTable,
  ProgressStep,
  RequesterKind,
  TrackedRequest,
  TransferMode,
  registerCallControlRoutes,
  type CallControlOptions,
  type OwnershipConfig,
  type ProgressEntry,
  type Requester,
} from './calls/control/index.js';
export { ReferTransfers, UaCstaServer, type ReferTransfersOptions, type UaCstaServerOptions } from './calls/uacsta/index.js';
