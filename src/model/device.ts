/**
 * One device's state machine: the calls it is in and its hook state, changed only by {@link DeviceMachine.apply}
 * (one CSTA event), {@link DeviceMachine.linkLost} and {@link DeviceMachine.resync}. Transitions follow the
 * connection state model of ECMA-269 §6.1.5 and the event definitions of ECMA-269 §17.3.
 */
import { ConnectionState, CstaEventKind, type CstaEvent, type ForwardingSetting, type SnapshotCall } from '../cti/index.js';
import {
  CallDirection,
  HookState,
  type CallChange,
  type CallView,
  type ChangeReason,
  type DeviceChange,
  type DeviceSnapshot,
} from './types.js';

/** Never written: what a call without parties iterates. */
const NO_PARTIES: ReadonlyMap<string, ConnectionState> = new Map();

/**
 * The other parties of a call and their connection states, by device. The map behind it is made with the
 * first party: a call just dialled has none, and an empty `Map` already holds a hash table.
 */
class Parties implements Iterable<[string, ConnectionState]> {
  private map: Map<string, ConnectionState> | undefined;

  get(device: string): ConnectionState | undefined {
    return this.map?.get(device);
  }

  has(device: string): boolean {
    return this.map?.has(device) ?? false;
  }

  set(device: string, state: ConnectionState): void {
    (this.map ??= new Map()).set(device, state);
  }

  delete(device: string): void {
    this.map?.delete(device);
  }

  keys(): IterableIterator<string> {
    return (this.map ?? NO_PARTIES).keys();
  }

  values(): IterableIterator<ConnectionState> {
    return (this.map ?? NO_PARTIES).values();
  }

  [Symbol.iterator](): Iterator<[string, ConnectionState]> {
    return (this.map ?? NO_PARTIES)[Symbol.iterator]();
  }
}

interface CallRecord {
  callId: string;
  state: ConnectionState;
  direction: CallDirection;
  remote: string | undefined;
  parties: Parties;
  /** False after a resync from SnapshotDevice, which does not tell the other parties. */
  partiesKnown: boolean;
  since: number;
  answeredAt: number | undefined;
  replaces: string | undefined;
}

const statePriority: Record<HookState, number> = {
  [HookState.Unknown]: 0,
  [HookState.Idle]: 1,
  [HookState.Held]: 2,
  [HookState.Ringing]: 3,
  [HookState.OffHook]: 4,
  [HookState.Ringback]: 5,
  [HookState.Talking]: 6,
};

/** The hook state one call gives its device. */
function callHookState(c: CallRecord): HookState {
  switch (c.state) {
    case ConnectionState.Initiated:
    case ConnectionState.Fail:
      return HookState.OffHook;
    case ConnectionState.Alerting:
    case ConnectionState.Queued:
      return HookState.Ringing;
    case ConnectionState.Held:
      return HookState.Held;
    case ConnectionState.Connected: {
      let alerting = false;
      for (const s of c.parties.values()) {
        if (s === ConnectionState.Connected || s === ConnectionState.Held) return HookState.Talking;
        if (s === ConnectionState.Alerting || s === ConnectionState.Queued) alerting = true;
      }
      if (alerting) return HookState.Ringback;
      return c.partiesKnown ? HookState.OffHook : HookState.Talking;
    }
    case ConnectionState.Null:
      return HookState.Idle;
    default:
      throw new Error(`unknown connection state ${c.state as string}`);
  }
}

function view(c: CallRecord, ended: boolean): CallView {
  const parties: Record<string, ConnectionState> = {};
  for (const [d, s] of c.parties) parties[d] = s;
  const v: { -readonly [K in keyof CallView]: CallView[K] } = {
    callId: c.callId,
    state: ended ? ConnectionState.Null : c.state,
    direction: c.direction,
    parties,
    since: c.since,
  };
  if (c.remote !== undefined) v.remote = c.remote;
  if (c.answeredAt !== undefined) v.answeredAt = c.answeredAt;
  if (c.replaces !== undefined) v.replaces = c.replaces;
  return v;
}

function signature(c: CallRecord): string {
  let s = `${c.state}|${c.remote ?? ''}|${c.direction}`;
  for (const [d, st] of c.parties) s += `|${d}=${st}`;
  return s;
}

/**
 * A device's calls, in the order they began: a few at most, so a list searched by callID. Not a `Map`: V8
 * gives a `Map` a new hash table when its last entry goes (at every on-hook) and links the old table to
 * the new one, so the calls of a long-lived device would survive young-generation collections through
 * that chain.
 */
class CallList implements Iterable<CallRecord> {
  private readonly list: CallRecord[] = [];

  get size(): number {
    return this.list.length;
  }

  get(callId: string): CallRecord | undefined {
    const i = this.indexOf(callId);
    return i < 0 ? undefined : this.list[i];
  }

  has(callId: string): boolean {
    return this.indexOf(callId) >= 0;
  }

  /** Adds a call not in the list yet. */
  add(c: CallRecord): void {
    this.list.push(c);
  }

  delete(callId: string): boolean {
    const i = this.indexOf(callId);
    if (i < 0) return false;
    // In place, keeping the order (splice would make an array of the removed call).
    for (let j = i + 1; j < this.list.length; j++) this.list[j - 1] = this.list[j]!;
    this.list.length--;
    return true;
  }

  clear(): void {
    this.list.length = 0;
  }

  /** The `i`-th call (for loops that make no iterator). */
  at(i: number): CallRecord {
    return this.list[i]!;
  }

  /** The calls as a map by callID (a copy). */
  toMap(): Map<string, CallRecord> {
    return new Map(this.list.map((c) => [c.callId, c]));
  }

  [Symbol.iterator](): Iterator<CallRecord> {
    return this.list[Symbol.iterator]();
  }

  private indexOf(callId: string): number {
    for (let i = 0; i < this.list.length; i++) if (this.list[i]!.callId === callId) return i;
    return -1;
  }
}

/** Per-call bookkeeping while one event is applied. */
interface Touch {
  previous: ConnectionState | undefined;
  before: string;
}

/** The serialised state machine of one monitored device. */
export class DeviceMachine {
  private readonly calls = new CallList();
  /** Calls known when the link dropped, to restore direction and parties on resync. */
  private stash = new Map<string, CallRecord>();
  private state = HookState.Unknown;
  private stateSince: number;
  private version = 0;
  private forwarding: ForwardingSetting[] = [];
  private dnd = false;
  /**
   * The calls an event touched and the calls it ended (made while it is applied, only when needed, then
   * let go, so none outlives the event).
   */
  private touched: Map<string, Touch> | undefined;
  private ended: CallRecord[] | undefined;

  constructor(
    readonly id: string,
    now: number,
  ) {
    this.stateSince = now;
  }

  /** Current hook state. */
  get hookState(): HookState {
    return this.state;
  }

  /** The device's connection in a call, if it is in it. */
  connectionState(callId: string): ConnectionState | undefined {
    return this.calls.get(callId)?.state;
  }

  /** The callIDs of the device's calls with their local state. */
  callIds(): Array<{ callId: string; state: ConnectionState }> {
    return [...this.calls].map((c) => ({ callId: c.callId, state: c.state }));
  }

  /** A JSON-able copy of the whole state. */
  snapshot(): DeviceSnapshot {
    return {
      device: this.id,
      state: this.state,
      stateSince: this.stateSince,
      version: this.version,
      calls: [...this.calls].map((c) => view(c, false)),
      forwarding: this.forwarding.slice(),
      doNotDisturb: this.dnd,
    };
  }

  /**
   * Applies one CSTA event reported by this device's monitor. Returns the change, or undefined when the
   * event changed nothing (a repeat) or the device is `unknown` (the pending snapshot already covers it).
   */
  apply(ev: CstaEvent, now: number): DeviceChange | undefined {
    if (ev.kind === CstaEventKind.Forwarding || ev.kind === CstaEventKind.DoNotDisturb) return this.applyFeature(ev, now);
    if (this.state === HookState.Unknown) return undefined;
    this.touched = new Map();
    this.ended = undefined;
    const me = this.id;
    const subjectIsMe = ev.subjectDevice === me;
    switch (ev.kind) {
      // ECMA-269 §17.3.20: the device went off hook or a service (MakeCall, ConsultationCall) started a call.
      case CstaEventKind.ServiceInitiated: {
        if (!subjectIsMe) break;
        const c = this.upsert(ev.callId, now, CallDirection.Outgoing);
        c.state = ConnectionState.Initiated;
        break;
      }
      // §17.3.16: the call left the calling device towards calledDevice.
      case CstaEventKind.Originated: {
        const c = this.upsert(ev.callId, now, CallDirection.Outgoing);
        if (subjectIsMe) c.state = ConnectionState.Connected;
        c.direction = CallDirection.Outgoing;
        if (ev.calledDevice !== undefined && ev.calledDevice !== me) c.remote = ev.calledDevice;
        break;
      }
      // §17.3.7: a device (subject) is alerting.
      case CstaEventKind.Delivered:
      case CstaEventKind.Queued: {
        const alertState = ev.kind === CstaEventKind.Delivered ? ConnectionState.Alerting : ConnectionState.Queued;
        if (subjectIsMe) {
          const c = this.upsert(ev.callId, now, CallDirection.Incoming);
          c.state = alertState;
          if (ev.callingDevice !== undefined && ev.callingDevice !== me) {
            c.remote = ev.callingDevice;
            if (!c.parties.has(ev.callingDevice)) c.parties.set(ev.callingDevice, ConnectionState.Connected);
          }
        } else {
          const c = this.callForRemoteEvent(ev, now);
          if (!c) break;
          c.parties.set(ev.subjectDevice, alertState);
          if (c.direction === CallDirection.Outgoing || c.remote === undefined) c.remote = ev.subjectDevice;
        }
        break;
      }
      // §17.3.11: the subject answered.
      case CstaEventKind.Established: {
        if (subjectIsMe) {
          const c = this.upsert(ev.callId, now, CallDirection.Incoming);
          c.state = ConnectionState.Connected;
          c.answeredAt ??= now;
          const other = ev.callingDevice !== undefined && ev.callingDevice !== me ? ev.callingDevice : undefined;
          if (other !== undefined) {
            c.parties.set(other, ConnectionState.Connected);
            c.remote ??= other;
          }
        } else {
          const c = this.callForRemoteEvent(ev, now);
          if (!c) break;
          c.parties.set(ev.subjectDevice, ConnectionState.Connected);
          c.remote = ev.subjectDevice;
          c.answeredAt ??= now;
        }
        break;
      }
      // §17.3.5: one connection left the call.
      case CstaEventKind.ConnectionCleared: {
        if (subjectIsMe) {
          this.end(ev.callId);
        } else {
          const c = this.calls.get(ev.callId);
          if (!c) break;
          this.touch(c);
          c.parties.delete(ev.subjectDevice);
          if (ev.localState === ConnectionState.Null) this.end(ev.callId);
        }
        break;
      }
      // §17.3.4: the whole call is gone.
      case CstaEventKind.CallCleared:
        this.end(ev.callId);
        break;
      // §17.3.13 / §17.3.18: hold and retrieve.
      case CstaEventKind.Held:
      case CstaEventKind.Retrieved: {
        const st = ev.kind === CstaEventKind.Held ? ConnectionState.Held : ConnectionState.Connected;
        if (subjectIsMe) {
          const c = this.calls.get(ev.callId);
          if (!c) break;
          this.touch(c);
          c.state = st;
        } else {
          const c = this.callForRemoteEvent(ev, now);
          if (!c) break;
          c.parties.set(ev.subjectDevice, st);
        }
        break;
      }
      // §17.3.9: the call left the diverting device for newDestination.
      case CstaEventKind.Diverted: {
        if (subjectIsMe || ev.actingDevice === me) {
          this.end(ev.callId);
        } else {
          const c = this.calls.get(ev.callId);
          if (!c) break;
          this.touch(c);
          c.parties.delete(ev.subjectDevice);
          if (ev.newDestination !== undefined) c.remote = ev.newDestination;
        }
        break;
      }
      // §17.3.12: the call could not go on; the failed connection is in state fail.
      case CstaEventKind.Failed: {
        if (subjectIsMe) {
          const c = this.upsert(ev.callId, now, CallDirection.Outgoing);
          c.state = ConnectionState.Fail;
        } else {
          const c = this.callForRemoteEvent(ev, now);
          if (!c) break;
          c.parties.set(ev.subjectDevice, ConnectionState.Fail);
        }
        break;
      }
      // §17.3.15: the call left the switch through a trunk; the far end is outside our view.
      case CstaEventKind.NetworkReached: {
        const c = this.callForRemoteEvent(ev, now);
        if (c && ev.calledDevice !== undefined && ev.calledDevice !== me) c.remote = ev.calledDevice;
        break;
      }
      // §17.3.22 Transfered / §17.3.6 Conferenced: connections move to a (possibly new) call.
      case CstaEventKind.Transferred:
      case CstaEventKind.Conferenced:
        this.applyMove(ev, now);
        break;
      default:
        throw new Error(`unhandled CSTA event kind ${ev.kind as string}`);
    }
    // localConnectionInfo is the monitored device's own state after the event (ECMA-323 events).
    if (!subjectIsMe && ev.localState !== undefined && ev.kind !== CstaEventKind.Transferred && ev.kind !== CstaEventKind.Conferenced) {
      const c = this.calls.get(ev.callId);
      if (ev.localState === ConnectionState.Null) {
        if (c) this.end(ev.callId);
      } else if (c && c.state !== ev.localState) {
        this.touch(c);
        c.state = ev.localState;
      }
    }
    return this.finish(ev.kind, ev.cause, now);
  }

  /** The link dropped: forget the calls (kept aside for the resync) and go `unknown`. */
  linkLost(now: number): DeviceChange | undefined {
    if (this.state === HookState.Unknown) return undefined;
    for (const c of this.calls) this.stash.set(c.callId, c);
    this.calls.clear();
    return this.setState(HookState.Unknown, 'linkLost', undefined, [], now);
  }

  /**
   * Replaces the device's calls with a SnapshotDevice result (ECMA-269 §16.1.5). SnapshotDevice gives only
   * the device's own connection states: calls known before the link dropped keep their direction and
   * remote party, and the other parties' states come from `peers` (the monitored devices already resynced);
   * other parties are unknown until the next event.
   */
  resync(snapshot: readonly SnapshotCall[], now: number, peers: (callId: string) => Iterable<[string, ConnectionState]>): DeviceChange {
    const oldCalls = this.calls.toMap();
    this.calls.clear();
    const changes: CallChange[] = [];
    for (const s of snapshot) {
      if (s.deviceId !== this.id || s.state === ConnectionState.Null) continue;
      const known = oldCalls.get(s.callId) ?? this.stash.get(s.callId);
      const c: CallRecord = {
        callId: s.callId,
        state: s.state,
        direction: known?.direction ?? (s.state === ConnectionState.Alerting || s.state === ConnectionState.Queued ? CallDirection.Incoming : CallDirection.Unknown),
        remote: known?.remote,
        parties: new Parties(),
        partiesKnown: false,
        since: known?.since ?? now,
        answeredAt: known?.answeredAt,
        replaces: known?.replaces,
      };
      for (const [d, st] of peers(s.callId)) if (d !== this.id) c.parties.set(d, st);
      if (c.remote === undefined) c.remote = c.parties.keys().next().value;
      this.calls.add(c);
      changes.push(known ? { call: view(c, false), previous: known.state, ended: false } : { call: view(c, false), ended: false });
    }
    for (const [id, c] of oldCalls) if (!this.calls.has(id)) changes.push({ call: view(c, true), previous: c.state, ended: true });
    this.stash = new Map();
    return this.setState(this.derive(), 'resync', undefined, changes, now);
  }

  /** A peer device resynced: records its connection state in a call this device is in. */
  peerResynced(callId: string, device: string, state: ConnectionState, now: number): DeviceChange | undefined {
    if (this.state === HookState.Unknown || device === this.id) return undefined;
    const c = this.calls.get(callId);
    if (!c || c.parties.get(device) === state) return undefined;
    this.touched = new Map();
    this.ended = undefined;
    this.touch(c);
    c.parties.set(device, state);
    c.remote ??= device;
    return this.finish('resync', undefined, now);
  }

  private applyFeature(ev: CstaEvent, now: number): DeviceChange | undefined {
    if (ev.kind === CstaEventKind.Forwarding && ev.forwarding) {
      const f = ev.forwarding;
      const rest = this.forwarding.filter((x) => x.type !== f.type);
      this.forwarding = f.on ? [...rest, f] : rest;
    } else if (ev.kind === CstaEventKind.DoNotDisturb && ev.doNotDisturb !== undefined) {
      if (this.dnd === ev.doNotDisturb) return undefined;
      this.dnd = ev.doNotDisturb;
    } else {
      return undefined;
    }
    return this.setState(this.state, ev.kind, ev.cause, [], now);
  }

  private applyMove(ev: CstaEvent, now: number): void {
    const me = this.id;
    const transfer = ev.kind === CstaEventKind.Transferred;
    const oldIds = ev.secondaryCallId === undefined ? [ev.callId] : [ev.callId, ev.secondaryCallId];
    // Every party state known in the old calls, to carry over to the resulting call.
    const known = new Map<string, ConnectionState>();
    for (const id of oldIds) {
      const c = this.calls.get(id);
      if (c) for (const [d, s] of c.parties) known.set(d, s);
    }
    const mine = ev.moved.find((m) => m.deviceId === me);
    // ECMA-269 §17.3.22: the transferring device leaves both calls; §17.3.6: a conferencing device stays
    // unless its localConnectionInfo says null.
    const leaving = transfer
      ? ev.actingDevice === me || (ev.subjectDevice === me && !mine)
      : ev.actingDevice === me && ev.localState === ConnectionState.Null;
    if (leaving) {
      for (const id of oldIds) this.end(id);
      return;
    }
    const mineOld = mine?.oldCallId ?? oldIds.find((id) => this.calls.has(id));
    if (mineOld === undefined) return;
    const old = this.calls.get(mineOld);
    if (!old) return;
    const newId = mine?.newCallId ?? ev.callId;
    let target = old;
    if (newId !== mineOld) {
      this.end(mineOld);
      target = this.upsert(newId, now, old.direction);
      target.state = old.state;
      target.since = old.since;
      target.answeredAt = old.answeredAt;
      target.replaces = mineOld;
    } else {
      this.touch(target);
    }
    // A device in both old calls (the conferencing device) keeps one.
    for (const id of oldIds) if (id !== target.callId && this.calls.has(id)) this.end(id);
    target.parties = new Parties();
    if (ev.moved.length > 0) {
      for (const m of ev.moved) if (m.deviceId !== me && m.newCallId === newId) target.parties.set(m.deviceId, known.get(m.deviceId) ?? ConnectionState.Connected);
    } else {
      for (const [d, s] of known) if (d !== me) target.parties.set(d, s);
    }
    if (transfer && ev.actingDevice !== undefined) target.parties.delete(ev.actingDevice);
    const added = ev.newDestination !== undefined && ev.newDestination !== me ? ev.newDestination : undefined;
    // A conference's added party is in the call; a transfer target may still be alerting (Delivered follows).
    if (!transfer && added !== undefined && !target.parties.has(added)) target.parties.set(added, known.get(added) ?? ConnectionState.Connected);
    target.remote = transfer && added !== undefined ? added : (target.remote !== undefined && target.parties.has(target.remote) ? target.remote : target.parties.keys().next().value);
    if (ev.localState !== undefined && ev.localState !== ConnectionState.Null) target.state = ev.localState;
  }

  /** The call for an event about another device's connection; created when our own state says we are in it. */
  private callForRemoteEvent(ev: CstaEvent, now: number): CallRecord | undefined {
    const c = this.calls.get(ev.callId);
    if (c) {
      this.touch(c);
      return c;
    }
    if (ev.localState === undefined || ev.localState === ConnectionState.Null) return undefined;
    const direction = ev.callingDevice === this.id ? CallDirection.Outgoing : ev.calledDevice === this.id ? CallDirection.Incoming : CallDirection.Unknown;
    const created = this.upsert(ev.callId, now, direction);
    created.state = ev.localState;
    return created;
  }

  private upsert(callId: string, now: number, direction: CallDirection): CallRecord {
    let c = this.calls.get(callId);
    if (!c) {
      c = {
        callId,
        state: ConnectionState.Null,
        direction,
        remote: undefined,
        parties: new Parties(),
        partiesKnown: true,
        since: now,
        answeredAt: undefined,
        replaces: undefined,
      };
      this.calls.add(c);
      this.touches().set(callId, { previous: undefined, before: '' });
      return c;
    }
    this.touch(c);
    return c;
  }

  private touches(): Map<string, Touch> {
    return (this.touched ??= new Map());
  }

  private touch(c: CallRecord): void {
    const touched = this.touches();
    if (!touched.has(c.callId)) touched.set(c.callId, { previous: c.state, before: signature(c) });
  }

  private end(callId: string): void {
    const c = this.calls.get(callId);
    if (!c) return;
    this.touch(c);
    this.calls.delete(callId);
    (this.ended ??= []).push(c);
  }

  private derive(): HookState {
    let best = HookState.Idle;
    for (let i = 0; i < this.calls.size; i++) {
      const s = callHookState(this.calls.at(i));
      if (statePriority[s] > statePriority[best]) best = s;
    }
    return best;
  }

  private finish(reason: ChangeReason, cause: string | undefined, now: number): DeviceChange | undefined {
    const changes: CallChange[] = [];
    const touched = this.touches();
    for (const [callId, t] of touched) {
      const live = this.calls.get(callId);
      if (live) {
        if (t.previous !== undefined && signature(live) === t.before) continue;
        changes.push(t.previous === undefined ? { call: view(live, false), ended: false } : { call: view(live, false), previous: t.previous, ended: false });
      }
    }
    for (const c of this.ended ?? []) {
      const t = touched.get(c.callId);
      if (t?.previous === undefined) continue;
      changes.push({ call: view(c, true), previous: t.previous, ended: true });
    }
    this.touched = undefined;
    this.ended = undefined;
    const next = this.derive();
    if (changes.length === 0 && next === this.state) return undefined;
    return this.setState(next, reason, cause, changes, now);
  }

  private setState(next: HookState, reason: ChangeReason, cause: string | undefined, calls: CallChange[], now: number): DeviceChange {
    const old = this.state;
    if (next !== old) {
      this.state = next;
      this.stateSince = now;
    }
    this.version++;
    const first = calls[0]?.call;
    const change: { -readonly [K in keyof DeviceChange]: DeviceChange[K] } = {
      device: this.id,
      version: this.version,
      reason,
      oldState: old,
      newState: next,
      calls,
      at: now,
    };
    if (cause !== undefined) change.cause = cause;
    if (first) {
      change.call = first;
      change.direction = first.direction;
      if (first.remote !== undefined) change.remote = first.remote;
    }
    return change;
  }
}
