/**
 * The PBX as switchhook sees it: one {@link DeviceMachine} per monitored device and the change events
 * they produce. Every event is applied synchronously to exactly one device's machine, so each device's
 * transitions are serialised and its `version` orders its changes.
 */
import type { ConnectionState, CstaEvent, SnapshotCall } from '../cti/index.js';
import { createLogger } from '../util/log.js';
import { MetricsRegistry, type Counter } from '../util/metrics.js';
import { DeviceMachine } from './device.js';
import { HookState, type DeviceChange, type DeviceSnapshot } from './types.js';

/** A subscriber to device changes; called synchronously, in registration order. */
export type DeviceChangeListener = (change: DeviceChange) => void;

/** Options of {@link PbxModel}. */
export interface PbxModelOptions {
  /** Devices to track from the start. */
  readonly devices?: readonly string[];
  readonly metrics?: MetricsRegistry;
  /** Clock, ms since the epoch (tests pass their own). */
  readonly now?: () => number;
}

const log = createLogger('model');

/** Devices, their calls and hook states, with a change event surface for presence, calls and routing. */
export class PbxModel {
  private readonly machines = new Map<string, DeviceMachine>();
  private listeners: DeviceChangeListener[] = [];
  private readonly now: () => number;
  private readonly listenerErrors: Counter;
  private readonly ignored: Counter;
  private readonly changes: Counter;
  /** Devices resynced since the link came up, by the calls their snapshots listed (peer states on resync). */
  private readonly resyncedByCall = new Map<string, Set<string>>();

  constructor(opts: PbxModelOptions = {}) {
    this.now = opts.now ?? Date.now;
    const metrics = opts.metrics ?? new MetricsRegistry();
    this.listenerErrors = metrics.counter('switchhook_model_listener_errors_total', 'Device change listeners that threw (the listener is kept).');
    this.ignored = metrics.counter('switchhook_model_events_ignored_total', 'CSTA events not applied, by reason.');
    this.changes = metrics.counter('switchhook_model_changes_total', 'Device changes emitted.');
    for (const d of opts.devices ?? []) this.addDevice(d);
  }

  /** Starts tracking a device (state `unknown` until its first resync). */
  addDevice(device: string): void {
    if (!this.machines.has(device)) this.machines.set(device, new DeviceMachine(device, this.now()));
  }

  /** Stops tracking a device. */
  removeDevice(device: string): boolean {
    return this.machines.delete(device);
  }

  /** Whether a device is tracked. */
  has(device: string): boolean {
    return this.machines.has(device);
  }

  /** The tracked device identifiers. */
  deviceIds(): string[] {
    return [...this.machines.keys()];
  }

  /** A device's hook state (undefined for an untracked device). */
  hookState(device: string): HookState | undefined {
    return this.machines.get(device)?.hookState;
  }

  /** One device's full state, JSON-able. */
  device(device: string): DeviceSnapshot | undefined {
    return this.machines.get(device)?.snapshot();
  }

  /** Every device's full state, JSON-able, sorted by device. */
  devices(): DeviceSnapshot[] {
    return [...this.machines.keys()].sort().map((d) => this.machines.get(d)!.snapshot());
  }

  /** The callIDs of a device's calls (call control picks the connection to act on from these). */
  callsOf(device: string): Array<{ callId: string; state: string }> {
    return this.machines.get(device)?.callIds() ?? [];
  }

  /**
   * Subscribes to every device change. Listeners run synchronously in the order they subscribed; one that
   * throws is logged and counted and stays subscribed. Returns the unsubscribe function.
   */
  onChange(listener: DeviceChangeListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Applies an event reported by `device`'s monitor. Returns the change emitted, if any. */
  apply(device: string, ev: CstaEvent): DeviceChange | undefined {
    const m = this.machines.get(device);
    if (!m) {
      this.ignored.inc({ reason: 'unknownDevice' });
      return undefined;
    }
    const wasUnknown = m.hookState === HookState.Unknown;
    const change = m.apply(ev, this.now());
    if (change) this.emit(change);
    else if (wasUnknown) this.ignored.inc({ reason: 'awaitingResync' });
    return change;
  }

  /** The CTI link is down: every device goes `unknown` (never stale). */
  linkLost(): void {
    const now = this.now();
    this.resyncedByCall.clear();
    for (const m of this.machines.values()) {
      const change = m.linkLost(now);
      if (change) this.emit(change);
    }
  }

  /**
   * A device's calls as SnapshotDevice reported them after (re)monitoring it. The other resynced devices in
   * the same calls learn this device's connection state, and this device theirs.
   */
  resync(device: string, calls: readonly SnapshotCall[]): DeviceChange | undefined {
    const m = this.machines.get(device);
    if (!m) return undefined;
    const now = this.now();
    const peers = (callId: string): Array<[string, ConnectionState]> => {
      const out: Array<[string, ConnectionState]> = [];
      for (const d of this.resyncedByCall.get(callId) ?? []) {
        const st = this.machines.get(d)?.connectionState(callId);
        if (st !== undefined && d !== device) out.push([d, st]);
      }
      return out;
    };
    const change = m.resync(calls, now, peers);
    this.emit(change);
    for (const c of calls) {
      if (c.deviceId !== device) continue;
      let set = this.resyncedByCall.get(c.callId);
      if (!set) this.resyncedByCall.set(c.callId, (set = new Set()));
      for (const peer of set) {
        const pc = this.machines.get(peer)?.peerResynced(c.callId, device, c.state, now);
        if (pc) this.emit(pc);
      }
      set.add(device);
    }
    return change;
  }

  private emit(change: DeviceChange): void {
    this.changes.inc();
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.listenerErrors.inc();
        log.rateLimited('error', 'listener', `device change listener threw: ${(err as Error).message}`);
      }
    }
  }
}
