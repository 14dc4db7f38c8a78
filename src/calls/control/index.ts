/**
 * Call control for a user's phone through the CTI link (claims 41-50): the {@link CallControl} class (the
 * embedding API), its ownership table, progress tracking, errors and the admin HTTP routes.
 */
export { CallControl, RequesterKind, TransferMode, type Requester, type CallControlOptions, type ForwardRequest, type TransferResult, type TransferTargetMove, type TransferTargetResolver } from './call-control.js';
export { CallControlError, CallControlErrorCode, statusOfCtiError, type StatusPair } from './errors.js';
export { OwnershipTable, canonicalAor, type OwnerEntry, type OwnershipConfig, type VoipTarget } from './ownership.js';
export { ProgressStep, RequestKind, TrackedRequest, type ProgressEntry, type TrackedRequestEvents } from './progress.js';
export { registerCallControlRoutes, type CallControlRoutesOptions } from './routes.js';
