/**
 * switchhook's embedding API: vendors embed the daemon in their own Node application through these exports;
 * the `switchhook` command is built on the same API.
 *
 * ```ts
 * import { Switchhook, validateConfig } from 'switchhook';
 * const daemon = new Switchhook(validateConfig({ cti: { host: 'pbx', port: 7001, devices: ['2000-2099'] } }));
 * daemon.on('device', (change) => console.log(change.device, change.newState));
 * await daemon.start();
 * await daemon.cti.makeCall('2001', '2002');
 * ```
 */
export { Switchhook, DaemonState, type SwitchhookEvents, type SwitchhookAddresses } from './daemon/switchhook.js';
export { validateConfig, loadConfigFile, applyFlags, readRawConfig, configSchema, ConfigError, type SwitchhookConfig, type CtiConfig, type ConfigIssue } from './daemon/config.js';
export * as cti from './cti/index.js';
export * as adapter from './cti/adapter/index.js';
export * as model from './model/index.js';
export * as sip from './sip/index.js';
export * as sim from './sim/index.js';
export * as store from './store/index.js';
export * as native from './native/index.js';
export * as media from './media/index.js';
export * as directory from './directory/index.js';
export * as routing from './calls/routing/index.js';
export { SwitchhookError } from './util/errors.js';
export { MetricsRegistry, Counter, Gauge } from './util/metrics.js';
export { JsonHttpServer, HttpProblem } from './util/http.js';
export { expandExtensions } from './util/extensions.js';
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
