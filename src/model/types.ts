/**
 * The model's plain data: what a device is doing (its hook state) and the calls it is in. Every type here
 * is JSON-able; `GET /api/devices` serves {@link DeviceSnapshot}s as they are.
 */
import type { ConnectionState, CstaEventKind, ForwardingSetting } from '../cti/index.js';

/**
 * What a phone is doing, derived from its connections (ECMA-269 §6.1.5 LocalConnectionState) and those of
 * the other parties of its calls. `unknown` while the CTI link is down or before the first resync.
 */
export enum HookState {
  /** No CTI knowledge: link down, not yet resynced. Presence must not show stale state. */
  Unknown = 'unknown',
  /** On hook, no call. */
  Idle = 'idle',
  /** Off hook without a call partner: dial tone, dialling, busy tone (initiated, fail). */
  OffHook = 'offHook',
  /** An incoming call is alerting (or queued) at the device. */
  Ringing = 'ringing',
  /** Outgoing call: the far end is alerting. */
  Ringback = 'ringback',
  /** In a connected call with another party. */
  Talking = 'talking',
  /** Only held calls. */
  Held = 'held',
}

/** Which way a call goes, seen from the device. */
export enum CallDirection {
  Incoming = 'incoming',
  Outgoing = 'outgoing',
  Unknown = 'unknown',
}

/** One call at one device, as the device sees it. */
export interface CallView {
  readonly callId: string;
  /** The device's own connection state; `null` once the call has ended at the device. */
  readonly state: ConnectionState;
  readonly direction: CallDirection;
  /** The main other party (caller for incoming calls, called or current partner for outgoing). */
  readonly remote?: string;
  /** Every other party whose connection state is known. */
  readonly parties: Readonly<Record<string, ConnectionState>>;
  /** When the call appeared at the device (ms since the epoch). */
  readonly since: number;
  /** When the call was first answered (connected at both ends). */
  readonly answeredAt?: number;
  /** The callID this call replaced (the switch gave the call a new ID on transfer). */
  readonly replaces?: string;
}

/** What happened to one call in a {@link DeviceChange}. */
export interface CallChange {
  /** The call after the change (state `null` when it ended). */
  readonly call: CallView;
  /** The device's connection state before the change; undefined for a call new to the device. */
  readonly previous?: ConnectionState;
  /** The call is gone from the device (cleared, diverted away, transferred away, replaced by a new callID). */
  readonly ended: boolean;
}

/** Why a device changed: a CSTA event, the link going down, or a resync from SnapshotDevice. */
export type ChangeReason = CstaEventKind | 'linkLost' | 'resync';

/**
 * One change of one device, emitted by the model for each CSTA event (or link loss, resync) that changed
 * the device. Hook-state subscribers (presence) check `oldState !== newState`; call-level subscribers
 * (dialog-info, call control) read `calls`. `version` rises by one per change of the device.
 */
export interface DeviceChange {
  readonly device: string;
  readonly version: number;
  readonly reason: ChangeReason;
  readonly cause?: string;
  readonly oldState: HookState;
  readonly newState: HookState;
  /** The calls this change touched (empty for link loss and feature changes). */
  readonly calls: readonly CallChange[];
  /** The first touched call, after the change. */
  readonly call?: CallView;
  /** Its remote party. */
  readonly remote?: string;
  /** Its direction. */
  readonly direction?: CallDirection;
  readonly at: number;
}

/** A device's whole current state. */
export interface DeviceSnapshot {
  readonly device: string;
  readonly state: HookState;
  /** When the device entered its current state. */
  readonly stateSince: number;
  readonly version: number;
  readonly calls: readonly CallView[];
  readonly forwarding: readonly ForwardingSetting[];
  readonly doNotDisturb: boolean;
}
