import { ConnectionState, CstaEventKind, type CstaEvent } from '../events.js';
import { parseForwardingType } from '../requests.js';
import type { SnapshotCall } from '../snapshot.js';
import type { AdapterConnectionState, AdapterDeviceEvent, AdapterEventKind } from './codec.js';

const kindByName: ReadonlyMap<AdapterEventKind, CstaEventKind> = new Map([
  ['SERVICE_INITIATED', CstaEventKind.ServiceInitiated],
  ['ORIGINATED', CstaEventKind.Originated],
  ['DELIVERED', CstaEventKind.Delivered],
  ['ESTABLISHED', CstaEventKind.Established],
  ['CONNECTION_CLEARED', CstaEventKind.ConnectionCleared],
  ['CALL_CLEARED', CstaEventKind.CallCleared],
  ['HELD', CstaEventKind.Held],
  ['RETRIEVED', CstaEventKind.Retrieved],
  ['DIVERTED', CstaEventKind.Diverted],
  ['TRANSFERRED', CstaEventKind.Transferred],
  ['CONFERENCED', CstaEventKind.Conferenced],
  ['FAILED', CstaEventKind.Failed],
  ['QUEUED', CstaEventKind.Queued],
  ['NETWORK_REACHED', CstaEventKind.NetworkReached],
  ['FORWARDING', CstaEventKind.Forwarding],
  ['DO_NOT_DISTURB', CstaEventKind.DoNotDisturb],
]);

const nameByKind: ReadonlyMap<CstaEventKind, AdapterEventKind> = new Map([...kindByName].map(([n, k]) => [k, n]));

const stateByName: ReadonlyMap<AdapterConnectionState, ConnectionState> = new Map([
  ['CONNECTION_NULL', ConnectionState.Null],
  ['CONNECTION_INITIATED', ConnectionState.Initiated],
  ['CONNECTION_ALERTING', ConnectionState.Alerting],
  ['CONNECTION_CONNECTED', ConnectionState.Connected],
  ['CONNECTION_HELD', ConnectionState.Held],
  ['CONNECTION_QUEUED', ConnectionState.Queued],
  ['CONNECTION_FAIL', ConnectionState.Fail],
]);

const nameByState: ReadonlyMap<ConnectionState, AdapterConnectionState> = new Map([...stateByName].map(([n, s]) => [s, n]));

/** The adapter protocol's name of a connection state. */
export function adapterState(state: ConnectionState | undefined): AdapterConnectionState {
  return state === undefined ? 'CONNECTION_UNSPECIFIED' : nameByState.get(state)!;
}

/** The adapter protocol's name of an event kind. */
export function adapterKind(kind: CstaEventKind): AdapterEventKind {
  return nameByKind.get(kind)!;
}

/** Why an adapter event cannot be used. */
export type AdapterEventFault = 'kind' | 'callId' | 'forwarding';

/**
 * A DeviceEvent of the adapter protocol as the model's normalised {@link CstaEvent}; a string naming the
 * fault when the event is unusable (no kind, a call event without a callID, a forwarding event without a
 * valid forwarding type).
 */
export function toCstaEvent(ev: AdapterDeviceEvent): CstaEvent | AdapterEventFault {
  const kind = kindByName.get(ev.kind);
  if (kind === undefined) return 'kind';
  const deviceEvent = kind === CstaEventKind.Forwarding || kind === CstaEventKind.DoNotDisturb;
  if (!deviceEvent && ev.callId === '') return 'callId';
  const opt = <T>(v: T | ''): T | undefined => (v === '' ? undefined : (v as T));
  const out: { -readonly [K in keyof CstaEvent]: CstaEvent[K] } = {
    kind,
    monitorCrossRefId: '',
    callId: ev.callId,
    subjectDevice: ev.subjectDevice || ev.device,
    moved: ev.moved.map((m) => ({ deviceId: m.deviceId, newCallId: m.newCallId, ...(m.oldCallId ? { oldCallId: m.oldCallId } : {}) })),
  };
  const localState = stateByName.get(ev.localState);
  if (localState !== undefined) out.localState = localState;
  if (opt(ev.cause)) out.cause = ev.cause;
  if (opt(ev.callingDevice)) out.callingDevice = ev.callingDevice;
  if (opt(ev.calledDevice)) out.calledDevice = ev.calledDevice;
  if (opt(ev.actingDevice)) out.actingDevice = ev.actingDevice;
  if (opt(ev.newDestination)) out.newDestination = ev.newDestination;
  if (opt(ev.secondaryCallId)) out.secondaryCallId = ev.secondaryCallId;
  if (kind === CstaEventKind.Forwarding) {
    const type = ev.forwarding ? parseForwardingType(ev.forwarding.type) : undefined;
    if (!type || !ev.forwarding) return 'forwarding';
    out.forwarding = { type, on: ev.forwarding.on, ...(ev.forwarding.to ? { to: ev.forwarding.to } : {}) };
  }
  if (kind === CstaEventKind.DoNotDisturb) out.doNotDisturb = ev.doNotDisturb;
  return out;
}

/** An adapter snapshot's calls as the model's {@link SnapshotCall}s (calls in unknown states are left out). */
export function toSnapshotCalls(device: string, calls: { callId: string; state: AdapterConnectionState }[]): SnapshotCall[] {
  const out: SnapshotCall[] = [];
  for (const c of calls) {
    const state = stateByName.get(c.state);
    if (state !== undefined && c.callId) out.push({ callId: c.callId, deviceId: device, state });
  }
  return out;
}
