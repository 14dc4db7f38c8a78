/**
 * The CTI layer: the CSTA XML link ({@link CtiLink}), its request builders, the event normaliser and the
 * error family. A protocol core: it never imports application folders.
 */
export { CtiLink, LinkState, BringUpVariant, HeartbeatKind, type CtiLinkOptions, type CtiLinkEvents, type LinkDownInfo, type BackoffOptions } from './link.js';
export { CtiError, CtiErrorCode, CstaErrorCategory, cstaErrorCategories } from './errors.js';
export {
  ConnectionState,
  CstaEventKind,
  normaliseEvent,
  normaliseDeviceId,
  parseConnectionState,
  connectionStateText,
  eventKindOf,
  type CstaEvent,
  type MovedConnection,
  type ForwardingSetting,
} from './events.js';
export { CstaRequests, DeflectShape, ForwardingType, parseForwardingType, type ConnectionId, type Registration } from './requests.js';
export { CstaEdition, cstaNamespace, parseEdition, applSessionNamespace, switchhookNamespace } from './editions.js';
export { InvokeIdAllocator, maxClientInvokeId, eventInvokeId } from './invoke-ids.js';
export { parseSnapshotDevice, type SnapshotCall } from './snapshot.js';
export type { CtiEventSource, CtiEventSourceEvents } from './source.js';
