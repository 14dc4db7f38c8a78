import type { CstaEvent } from './events.js';
import type { LinkDownInfo } from './link.js';
import type { SnapshotCall } from './snapshot.js';

/** The events every CTI source emits: the CSTA link and the TAPI/TSAPI adapter server alike. */
export interface CtiEventSourceEvents {
  /** Devices are monitored and resynced: events flow. */
  up: [];
  /** The source lost the PBX: every device is `unknown` until it is up again. */
  down: [info: LinkDownInfo];
  /** A normalised call or device event reported for `device`. */
  event: [device: string, event: CstaEvent];
  /** A device's calls after (re)monitoring it. */
  snapshot: [device: string, calls: SnapshotCall[]];
}

/** Where the model gets its events from (claims 5-7: straight from the PBX, or through a CTI server/adapter). */
export interface CtiEventSource {
  readonly monitoredDevices: readonly string[];
  on(event: 'up', listener: () => void): unknown;
  on(event: 'down', listener: (info: LinkDownInfo) => void): unknown;
  on(event: 'event', listener: (device: string, event: CstaEvent) => void): unknown;
  on(event: 'snapshot', listener: (device: string, calls: SnapshotCall[]) => void): unknown;
  off(event: 'up', listener: () => void): unknown;
  off(event: 'down', listener: (info: LinkDownInfo) => void): unknown;
  off(event: 'event', listener: (device: string, event: CstaEvent) => void): unknown;
  off(event: 'snapshot', listener: (device: string, calls: SnapshotCall[]) => void): unknown;
}
