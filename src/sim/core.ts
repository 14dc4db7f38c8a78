/**
 * The simulated switch's device and call core: phones, calls, connections and the ECMA-269 event sequences
 * their changes produce. It knows nothing of CSTA XML, TCP or HTTP: the CSTA server and the HTTP control
 * API (and later the VoIP gateway and PDSV lines) drive it and listen to its {@link SimEvent}s.
 */
import { CstaErrorCategory } from '../cti/errors.js';
import { ConnectionState, CstaEventKind, type ForwardingSetting } from '../cti/events.js';
import { ForwardingType } from '../cti/requests.js';
import { SimError, invalidConnection, unknownDevice, wrongState } from './errors.js';

/** A connection of the simulated switch: a device in a call. */
export interface SimConnectionId {
  readonly callId: string;
  readonly deviceId: string;
}

/** An event of the simulated switch, to be reported to the monitors of every device in `involved`. */
export interface SimEvent {
  readonly kind: CstaEventKind;
  readonly callId: string;
  /** The device of the subject connection (for feature events: the device). */
  readonly subject: string;
  readonly cause: string;
  /** Devices whose monitors get the event, each with its own connection state in `callId` afterwards. */
  readonly involved: ReadonlyMap<string, ConnectionState>;
  readonly callingDevice?: string;
  readonly calledDevice?: string;
  readonly actingDevice?: string;
  readonly newDestination?: string;
  readonly lastRedirection?: string;
  readonly secondaryCallId?: string;
  readonly moved?: ReadonlyArray<{ deviceId: string; newCallId: string; oldCallId: string }>;
  readonly forwarding?: ForwardingSetting;
  readonly doNotDisturb?: boolean;
}

interface Phone {
  readonly ext: string;
  offHook: boolean;
  dnd: boolean;
  readonly forwarding: Map<ForwardingType, string>;
}

interface Call {
  readonly id: string;
  readonly calling: string;
  called: string;
  readonly connections: Map<string, ConnectionState>;
  readonly started: number;
}

/** A phone as the control API shows it. */
export interface PhoneView {
  readonly ext: string;
  readonly hook: 'onHook' | 'offHook';
  readonly doNotDisturb: boolean;
  readonly forwarding: Record<string, string>;
  readonly calls: Array<{ callId: string; state: ConnectionState; parties: Record<string, ConnectionState> }>;
}

/** A call as the control API shows it. */
export interface CallView {
  readonly callId: string;
  readonly calling: string;
  readonly called: string;
  readonly connections: Record<string, ConnectionState>;
}

/** Options of {@link SimSwitch}. */
export interface SimSwitchOptions {
  /** Extensions (directory numbers) of the simulated phones. */
  readonly extensions: readonly string[];
  /** How long a call with forwardNoAns rings before it is diverted (ms). */
  readonly noAnswerMs?: number;
}

/**
 * The switch's dial plan beyond its own phones: destinations reached through a trunk (the VoIP gateway).
 * A call routed there shows NetworkReached (ECMA-269 §17.3.15) and, once the far side answers,
 * Established; a failure shows Failed.
 */
export interface SimNetworkRoutes {
  /** Whether `to` (a normalised device identifier) leaves the switch through a trunk. */
  isNetwork(to: string): boolean;
}

const maxForwardHops = 5;

/** The device and call core of the simulated PBX. */
export class SimSwitch {
  private readonly phones = new Map<string, Phone>();
  private readonly callTable = new Map<string, Call>();
  private listeners: Array<(ev: SimEvent) => void> = [];
  private nextCall = 0x10000;
  private readonly noAnswerMs: number;
  private readonly noAnswerTimers = new Map<string, NodeJS.Timeout>();
  private network: SimNetworkRoutes | undefined;

  constructor(opts: SimSwitchOptions) {
    this.noAnswerMs = opts.noAnswerMs ?? 15_000;
    for (const ext of opts.extensions) this.phones.set(ext, { ext, offHook: false, dnd: false, forwarding: new Map() });
  }

  /** Subscribes to the switch's events; returns the unsubscribe function. */
  onEvent(listener: (ev: SimEvent) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Sets the routes that leave the switch (the VoIP gateway registers itself here). */
  setNetworkRoutes(routes: SimNetworkRoutes | undefined): void {
    this.network = routes;
  }

  /** Whether `to` is reached through a trunk. */
  isNetwork(to: string): boolean {
    return !this.phones.has(to) && (this.network?.isNetwork(to) ?? false);
  }

  /**
   * A call from outside (a trunk party `from`, already talking on its trunk) offered to `to`: Delivered
   * at `to` as for an internal call; the trunk party's connection is connected from the start.
   */
  incomingNetworkCall(from: string, to: string): SimConnectionId {
    if (this.phones.has(from)) throw new SimError(CstaErrorCategory.Operation, 'invalidCallingDevice', `${from} is a phone, not a trunk party`);
    this.checkDestination(to);
    const call: Call = { id: this.newCallId(), calling: from, called: to, connections: new Map([[from, ConnectionState.Connected]]), started: Date.now() };
    this.callTable.set(call.id, call);
    this.route(call, from, to, to, 'newCall', undefined, 0);
    return { callId: call.id, deviceId: from };
  }

  /** The far side of a network connection answered (SIP 2xx): Established (ECMA-269 §17.3.8). */
  networkAnswered(callId: string, device: string): void {
    const call = this.callTable.get(callId);
    if (!call || call.connections.get(device) !== ConnectionState.Alerting) throw invalidConnection(callId, device);
    call.connections.set(device, ConnectionState.Connected);
    this.emit({ kind: CstaEventKind.Established, call, subject: device, cause: 'newCall', actingDevice: device, callingDevice: call.calling, calledDevice: device });
  }

  /**
   * The network could not reach `device` (SIP error or timeout): Failed (ECMA-269 §17.3.12), the network
   * connection stays in the call in state `fail` until somebody clears or transfers the call.
   */
  networkFailed(callId: string, device: string, cause: string): void {
    const call = this.callTable.get(callId);
    if (!call || !call.connections.has(device)) throw invalidConnection(callId, device);
    call.connections.set(device, ConnectionState.Fail);
    this.emit({ kind: CstaEventKind.Failed, call, subject: device, cause, actingDevice: device, callingDevice: call.calling, calledDevice: device });
  }

  /** Whether `ext` is a phone of this switch. */
  hasDevice(ext: string): boolean {
    return this.phones.has(ext);
  }

  /** The extensions. */
  extensions(): string[] {
    return [...this.phones.keys()];
  }

  /** A phone's state. */
  phone(ext: string): PhoneView {
    const p = this.phoneOf(ext);
    const forwarding: Record<string, string> = {};
    for (const [t, dn] of p.forwarding) forwarding[t] = dn;
    const calls: PhoneView['calls'] = [];
    for (const c of this.callTable.values()) {
      const st = c.connections.get(ext);
      if (st === undefined) continue;
      const parties: Record<string, ConnectionState> = {};
      for (const [d, s] of c.connections) if (d !== ext) parties[d] = s;
      calls.push({ callId: c.id, state: st, parties });
    }
    return { ext, hook: p.offHook ? 'offHook' : 'onHook', doNotDisturb: p.dnd, forwarding, calls };
  }

  /** Every call in progress. */
  calls(): CallView[] {
    return [...this.callTable.values()].map((c) => ({
      callId: c.id,
      calling: c.calling,
      called: c.called,
      connections: Object.fromEntries(c.connections),
    }));
  }

  /** The device's calls and its connection state in each (SnapshotDevice, ECMA-269 §16.1.5). */
  snapshot(ext: string): Array<{ callId: string; state: ConnectionState }> {
    this.phoneOf(ext);
    const out: Array<{ callId: string; state: ConnectionState }> = [];
    for (const c of this.callTable.values()) {
      const st = c.connections.get(ext);
      if (st !== undefined) out.push({ callId: c.id, state: st });
    }
    return out;
  }

  /** Off-hook: answers a ringing call, or starts a new call (dial tone, ServiceInitiated). */
  offHook(ext: string): SimConnectionId {
    this.phoneOf(ext);
    if (this.activeCall(ext)) throw wrongState(`${ext} is already in an active call`);
    const ringing = this.callInState(ext, ConnectionState.Alerting);
    if (ringing) return this.answer(ext, ringing.id);
    return this.startCall(ext, 'newCall');
  }

  private startCall(ext: string, cause: string): SimConnectionId {
    const p = this.phoneOf(ext);
    if (this.activeCall(ext)) throw wrongState(`${ext} is already in an active call`);
    p.offHook = true;
    const call: Call = { id: this.newCallId(), calling: ext, called: '', connections: new Map([[ext, ConnectionState.Initiated]]), started: Date.now() };
    this.callTable.set(call.id, call);
    this.emit({ kind: CstaEventKind.ServiceInitiated, call, subject: ext, cause, actingDevice: ext });
    return { callId: call.id, deviceId: ext };
  }

  /** Dials `to` from the device's initiated connection (going off hook first when idle). */
  dial(ext: string, to: string, cause = 'newCall'): SimConnectionId {
    if (to === '') throw new SimError(CstaErrorCategory.Operation, 'invalidCalledDevice', 'empty number');
    let call = this.callInState(ext, ConnectionState.Initiated);
    if (!call) {
      if (this.activeCall(ext)) throw wrongState(`${ext} has no dial tone`);
      call = this.callTable.get(this.startCall(ext, cause).callId)!;
    }
    call.called = to;
    call.connections.set(ext, ConnectionState.Connected);
    this.emit({ kind: CstaEventKind.Originated, call, subject: ext, cause, callingDevice: ext, calledDevice: to });
    this.route(call, ext, to, to, cause, undefined, 0);
    return { callId: call.id, deviceId: ext };
  }

  /** MakeCall (ECMA-269 §17.2.12): off-hook then dial on the calling device's behalf. */
  makeCall(calling: string, called: string): SimConnectionId {
    this.phoneOf(calling);
    if (this.activeCall(calling) || this.callInState(calling, ConnectionState.Alerting)) throw wrongState(`${calling} is busy`, 'invalidObjectState');
    return this.dial(calling, called, 'makeCall');
  }

  /** Answers the ringing call (AnswerCall, ECMA-269 §17.2.2). */
  answer(ext: string, callId?: string): SimConnectionId {
    const p = this.phoneOf(ext);
    const call = callId === undefined ? this.callInState(ext, ConnectionState.Alerting) : this.connectionCall(ext, callId);
    if (!call || call.connections.get(ext) !== ConnectionState.Alerting) throw wrongState(`${ext} has no ringing call`, 'noCallToAnswer');
    if (this.activeCall(ext)) throw wrongState(`${ext} is in another active call`);
    this.stopNoAnswer(call.id, ext);
    p.offHook = true;
    call.connections.set(ext, ConnectionState.Connected);
    this.emit({ kind: CstaEventKind.Established, call, subject: ext, cause: 'newCall', actingDevice: ext, callingDevice: call.calling, calledDevice: call.called });
    return { callId: call.id, deviceId: ext };
  }

  /** On-hook: clears the active connection; with none, just puts the handset down. */
  onHook(ext: string): void {
    const p = this.phoneOf(ext);
    const call = this.activeCall(ext);
    if (!call) {
      if (!p.offHook) throw wrongState(`${ext} is already on hook`);
      p.offHook = false;
      return;
    }
    p.offHook = false;
    this.clearConnection(ext, call.id);
  }

  /** ClearConnection (ECMA-269 §17.2.6): the device leaves the call; a call left with one party ends. */
  clearConnection(ext: string, callId: string, cause = 'normalClearing'): void {
    const call = this.connectionCall(ext, callId);
    this.stopNoAnswer(call.id, ext);
    const involved = [...call.connections.keys()];
    call.connections.delete(ext);
    this.emit({ kind: CstaEventKind.ConnectionCleared, call, subject: ext, cause, actingDevice: ext }, involved);
    if (call.connections.size <= 1) {
      for (const d of [...call.connections.keys()]) {
        this.stopNoAnswer(call.id, d);
        call.connections.delete(d);
        this.emit({ kind: CstaEventKind.ConnectionCleared, call, subject: d, cause, actingDevice: d }, [d]);
      }
      this.callTable.delete(call.id);
    }
  }

  /** HoldCall (ECMA-269 §17.2.10). */
  hold(ext: string, callId?: string): SimConnectionId {
    const call = callId === undefined ? this.callInState(ext, ConnectionState.Connected) : this.connectionCall(ext, callId);
    if (!call || call.connections.get(ext) !== ConnectionState.Connected) throw wrongState(`${ext} has no connected call to hold`, 'noActiveCall');
    if (call.connections.size < 2) throw wrongState(`${ext} has nobody to hold`, 'noActiveCall');
    call.connections.set(ext, ConnectionState.Held);
    this.emit({ kind: CstaEventKind.Held, call, subject: ext, cause: 'normal', actingDevice: ext });
    return { callId: call.id, deviceId: ext };
  }

  /** RetrieveCall (ECMA-269 §17.2.16); a pending dial tone or busy tone is cleared first. */
  retrieve(ext: string, callId?: string): SimConnectionId {
    const p = this.phoneOf(ext);
    const call = callId === undefined ? this.callInState(ext, ConnectionState.Held) : this.connectionCall(ext, callId);
    if (!call || call.connections.get(ext) !== ConnectionState.Held) throw wrongState(`${ext} has no held call`, 'noHeldCall');
    const active = this.activeCall(ext);
    if (active) {
      const st = active.connections.get(ext);
      if (st === ConnectionState.Connected) throw wrongState(`${ext} is in another active call`);
      this.clearConnection(ext, active.id);
    }
    p.offHook = true;
    call.connections.set(ext, ConnectionState.Connected);
    this.emit({ kind: CstaEventKind.Retrieved, call, subject: ext, cause: 'normal', actingDevice: ext });
    return { callId: call.id, deviceId: ext };
  }

  /** DeflectCall (ECMA-269 §17.2.8): a ringing call goes on to `to`. */
  deflect(ext: string, callId: string | undefined, to: string): void {
    const call = callId === undefined ? this.callInState(ext, ConnectionState.Alerting) : this.connectionCall(ext, callId);
    if (!call || call.connections.get(ext) !== ConnectionState.Alerting) throw wrongState(`${ext} has no ringing call to deflect`, 'noCallToAnswer');
    this.checkDestination(to);
    this.divert(call, ext, to, 'redirected', 0);
  }

  /** SingleStepTransferCall (ECMA-269 §17.2.20): the other party gets a new call to `to`; `ext` leaves. */
  singleStepTransfer(ext: string, callId: string | undefined, to: string): SimConnectionId {
    const call = callId === undefined ? this.activeCall(ext) ?? this.callInState(ext, ConnectionState.Held) : this.connectionCall(ext, callId);
    const st = call?.connections.get(ext);
    if (!call || (st !== ConnectionState.Connected && st !== ConnectionState.Held)) throw wrongState(`${ext} has no call to transfer`, 'noActiveCall');
    const others = [...call.connections.keys()].filter((d) => d !== ext);
    if (others.length !== 1) throw wrongState(`call ${call.id} has no single other party`);
    this.checkDestination(to);
    const other = others[0]!;
    const otherState = call.connections.get(other)!;
    const newCall: Call = { id: this.newCallId(), calling: other, called: to, connections: new Map([[other, otherState]]), started: Date.now() };
    this.callTable.set(newCall.id, newCall);
    const involved = [ext, other];
    call.connections.clear();
    this.callTable.delete(call.id);
    const phone = this.phones.get(ext);
    if (phone) phone.offHook = false;
    this.emit(
      {
        kind: CstaEventKind.Transferred,
        call,
        subject: ext,
        cause: 'singleStepTransfer',
        actingDevice: ext,
        newDestination: to,
        moved: [{ deviceId: other, newCallId: newCall.id, oldCallId: call.id }],
      },
      involved,
    );
    this.route(newCall, other, to, to, 'singleStepTransfer', undefined, 0);
    return { callId: newCall.id, deviceId: to };
  }

  /** ConsultationCall (ECMA-269 §17.2.7): holds the call and calls `to`. */
  consultation(ext: string, callId: string | undefined, to: string): SimConnectionId {
    this.checkDestination(to);
    const call = callId === undefined ? this.activeCall(ext) : this.connectionCall(ext, callId);
    if (!call || call.connections.get(ext) !== ConnectionState.Connected) throw wrongState(`${ext} has no connected call to consult from`, 'noActiveCall');
    this.hold(ext, call.id);
    return this.dial(ext, to, 'consultation');
  }

  /**
   * TransferCall (ECMA-269 §17.2.21): joins the device's held call and its active call into a new call
   * (new callID) and drops the device.
   */
  transfer(ext: string, heldCallId?: string, activeCallId?: string): SimConnectionId {
    const held = heldCallId === undefined ? this.callInState(ext, ConnectionState.Held) : this.connectionCall(ext, heldCallId);
    const active = activeCallId === undefined ? this.activeCall(ext) : this.connectionCall(ext, activeCallId);
    if (!held || held.connections.get(ext) !== ConnectionState.Held) throw wrongState(`${ext} has no held call`, 'noHeldCall');
    if (!active || active === held || active.connections.get(ext) !== ConnectionState.Connected) throw wrongState(`${ext} has no active call`, 'noActiveCall');
    const newCall: Call = { id: this.newCallId(), calling: held.calling, called: active.called, connections: new Map(), started: Date.now() };
    const moved: Array<{ deviceId: string; newCallId: string; oldCallId: string }> = [];
    for (const old of [held, active]) {
      for (const [d, s] of old.connections) {
        if (d === ext) continue;
        newCall.connections.set(d, s);
        moved.push({ deviceId: d, newCallId: newCall.id, oldCallId: old.id });
        this.moveNoAnswer(old.id, newCall.id, d);
      }
    }
    const involved = [...new Set([...held.connections.keys(), ...active.connections.keys()])];
    const transferredTo = [...active.connections.keys()].find((d) => d !== ext) ?? active.called;
    held.connections.clear();
    active.connections.clear();
    this.callTable.delete(held.id);
    this.callTable.delete(active.id);
    this.callTable.set(newCall.id, newCall);
    this.phoneOf(ext).offHook = false;
    this.emit(
      {
        kind: CstaEventKind.Transferred,
        call: held,
        subject: ext,
        cause: 'transfer',
        actingDevice: ext,
        newDestination: transferredTo,
        secondaryCallId: active.id,
        moved,
      },
      involved,
    );
    // A transfer before the consulted party answered: it is still ringing, now in the new call.
    for (const [d, s] of newCall.connections) {
      if (s === ConnectionState.Alerting) {
        this.emit({ kind: CstaEventKind.Delivered, call: newCall, subject: d, cause: 'transfer', actingDevice: d, callingDevice: newCall.calling, calledDevice: d });
      }
    }
    if (newCall.connections.size < 2) this.endCall(newCall);
    return { callId: newCall.id, deviceId: transferredTo };
  }

  /** SetForwarding (ECMA-269 §22.2.8). */
  setForwarding(ext: string, type: ForwardingType, on: boolean, to?: string): void {
    const p = this.phoneOf(ext);
    if (on) {
      if (to === undefined || to === '' || to === ext) throw new SimError(CstaErrorCategory.Operation, 'invalidForwardingDestination', `bad forwarding destination '${to ?? ''}'`);
      p.forwarding.set(type, to);
    } else {
      p.forwarding.delete(type);
    }
    const forwarding: ForwardingSetting = on ? { type, on, to: to! } : { type, on };
    this.emitDevice({ kind: CstaEventKind.Forwarding, subject: ext, cause: 'normal', forwarding });
  }

  /** SetDoNotDisturb (ECMA-269 §22.2.7). */
  setDoNotDisturb(ext: string, on: boolean): void {
    const p = this.phoneOf(ext);
    p.dnd = on;
    this.emitDevice({ kind: CstaEventKind.DoNotDisturb, subject: ext, cause: 'normal', doNotDisturb: on });
  }

  /** Cancels the no-answer timers. */
  close(): void {
    for (const t of this.noAnswerTimers.values()) clearTimeout(t);
    this.noAnswerTimers.clear();
  }

  /** Rejects a destination that is not a phone of this switch. */
  private checkDestination(to: string): void {
    if (!this.phones.has(to) && !this.isNetwork(to)) throw new SimError(CstaErrorCategory.Operation, 'invalidDestination', `no device ${to}`);
  }

  /**
   * Offers `call` from `from` to `to`: forwarding, DND, busy and unknown numbers as a switch does them
   * (ECMA-269 §17.3.7 Delivered, §17.3.12 Failed, §17.3.9 Diverted).
   */
  private route(call: Call, from: string, dialled: string, to: string, cause: string, lastRedirection: string | undefined, hops: number): void {
    const target = this.phones.get(to);
    if (!target && this.isNetwork(to)) {
      // §17.3.15: the call leaves through a trunk; the network connection alerts until the far side answers.
      call.called = to;
      call.connections.set(to, ConnectionState.Alerting);
      this.emit({ kind: CstaEventKind.NetworkReached, call, subject: to, cause, actingDevice: to, callingDevice: from, calledDevice: dialled });
      return;
    }
    if (!target) {
      this.fail(call, from, to, 'destNotObtainable');
      return;
    }
    const fwdImm = target.forwarding.get(ForwardingType.Immediate);
    if (fwdImm !== undefined && hops < maxForwardHops) {
      this.route(call, from, dialled, fwdImm, 'callForwardImmediate', to, hops + 1);
      return;
    }
    if (target.dnd) {
      this.fail(call, from, to, 'doNotDisturb');
      return;
    }
    if (this.isBusy(to)) {
      const fwdBusy = target.forwarding.get(ForwardingType.Busy);
      if (fwdBusy !== undefined && hops < maxForwardHops) {
        this.route(call, from, dialled, fwdBusy, 'callForwardBusy', to, hops + 1);
        return;
      }
      this.fail(call, from, to, 'busy');
      return;
    }
    call.called = to;
    call.connections.set(to, ConnectionState.Alerting);
    const ev: EmitArgs = { kind: CstaEventKind.Delivered, call, subject: to, cause, actingDevice: to, callingDevice: from, calledDevice: dialled };
    if (lastRedirection !== undefined) ev.lastRedirection = lastRedirection;
    this.emit(ev);
    const fwdNoAns = target.forwarding.get(ForwardingType.NoAnswer);
    if (fwdNoAns !== undefined && hops < maxForwardHops) {
      const key = `${call.id}|${to}`;
      this.noAnswerTimers.set(
        key,
        setTimeout(() => {
          this.noAnswerTimers.delete(key);
          const c = this.findCallOf(key);
          if (c && c.connections.get(to) === ConnectionState.Alerting) this.divert(c, to, fwdNoAns, 'callForwardNoAnswer', hops + 1);
        }, this.noAnswerMs),
      );
    }
  }

  private findCallOf(key: string): Call | undefined {
    return this.callTable.get(key.slice(0, key.indexOf('|')));
  }

  private divert(call: Call, ext: string, to: string, cause: string, hops: number): void {
    this.stopNoAnswer(call.id, ext);
    const involved = [...call.connections.keys()];
    call.connections.delete(ext);
    this.emit({ kind: CstaEventKind.Diverted, call, subject: ext, cause, actingDevice: ext, newDestination: to, callingDevice: call.calling, calledDevice: ext }, involved);
    this.route(call, call.calling, ext, to, cause, ext, hops);
  }

  private fail(call: Call, from: string, to: string, cause: string): void {
    call.connections.set(from, ConnectionState.Fail);
    this.emit({ kind: CstaEventKind.Failed, call, subject: from, cause, actingDevice: to, callingDevice: from, calledDevice: to });
  }

  private endCall(call: Call): void {
    for (const d of [...call.connections.keys()]) {
      call.connections.delete(d);
      this.emit({ kind: CstaEventKind.ConnectionCleared, call, subject: d, cause: 'normalClearing', actingDevice: d }, [d]);
    }
    this.callTable.delete(call.id);
  }

  private isBusy(ext: string): boolean {
    for (const c of this.callTable.values()) {
      const st = c.connections.get(ext);
      if (st !== undefined && st !== ConnectionState.Held) return true;
    }
    return false;
  }

  /** The device's call whose connection is initiated, connected or fail (at most one). */
  private activeCall(ext: string): Call | undefined {
    for (const c of this.callTable.values()) {
      const st = c.connections.get(ext);
      if (st === ConnectionState.Initiated || st === ConnectionState.Connected || st === ConnectionState.Fail) return c;
    }
    return undefined;
  }

  private callInState(ext: string, state: ConnectionState): Call | undefined {
    for (const c of this.callTable.values()) if (c.connections.get(ext) === state) return c;
    return undefined;
  }

  private connectionCall(ext: string, callId: string): Call {
    if (!this.phones.has(ext) && ![...this.callTable.values()].some((c) => c.connections.has(ext))) this.phoneOf(ext);
    const call = this.callTable.get(callId);
    if (!call || !call.connections.has(ext)) throw invalidConnection(callId, ext);
    return call;
  }

  private phoneOf(ext: string): Phone {
    const p = this.phones.get(ext);
    if (!p) throw unknownDevice(ext);
    return p;
  }

  private newCallId(): string {
    return (this.nextCall++).toString(16).toUpperCase().padStart(8, '0');
  }

  private stopNoAnswer(callId: string, ext: string): void {
    const key = `${callId}|${ext}`;
    const t = this.noAnswerTimers.get(key);
    if (t) {
      clearTimeout(t);
      this.noAnswerTimers.delete(key);
    }
  }

  private moveNoAnswer(oldId: string, newId: string, ext: string): void {
    const t = this.noAnswerTimers.get(`${oldId}|${ext}`);
    if (!t) return;
    this.noAnswerTimers.delete(`${oldId}|${ext}`);
    clearTimeout(t);
    const target = this.phones.get(ext)?.forwarding.get(ForwardingType.NoAnswer);
    if (target === undefined) return;
    const key = `${newId}|${ext}`;
    this.noAnswerTimers.set(
      key,
      setTimeout(() => {
        this.noAnswerTimers.delete(key);
        const c = this.callTable.get(newId);
        if (c && c.connections.get(ext) === ConnectionState.Alerting) this.divert(c, ext, target, 'callForwardNoAnswer', 1);
      }, this.noAnswerMs),
    );
  }

  private emit(a: EmitArgs, extraInvolved: readonly string[] = []): void {
    const involved = new Map<string, ConnectionState>();
    for (const d of extraInvolved) involved.set(d, a.call.connections.get(d) ?? ConnectionState.Null);
    for (const [d, s] of a.call.connections) involved.set(d, s);
    const ev: { -readonly [K in keyof SimEvent]: SimEvent[K] } = { kind: a.kind, callId: a.call.id, subject: a.subject, cause: a.cause, involved };
    if (a.callingDevice !== undefined) ev.callingDevice = a.callingDevice;
    if (a.calledDevice !== undefined) ev.calledDevice = a.calledDevice;
    if (a.actingDevice !== undefined) ev.actingDevice = a.actingDevice;
    if (a.newDestination !== undefined) ev.newDestination = a.newDestination;
    if (a.lastRedirection !== undefined) ev.lastRedirection = a.lastRedirection;
    if (a.secondaryCallId !== undefined) ev.secondaryCallId = a.secondaryCallId;
    if (a.moved !== undefined) ev.moved = a.moved;
    this.dispatch(ev);
  }

  private emitDevice(a: { kind: CstaEventKind; subject: string; cause: string; forwarding?: ForwardingSetting; doNotDisturb?: boolean }): void {
    const ev: { -readonly [K in keyof SimEvent]: SimEvent[K] } = {
      kind: a.kind,
      callId: '',
      subject: a.subject,
      cause: a.cause,
      involved: new Map([[a.subject, ConnectionState.Null]]),
    };
    if (a.forwarding !== undefined) ev.forwarding = a.forwarding;
    if (a.doNotDisturb !== undefined) ev.doNotDisturb = a.doNotDisturb;
    this.dispatch(ev);
  }

  private dispatch(ev: SimEvent): void {
    for (const l of this.listeners) l(ev);
  }
}

interface EmitArgs {
  kind: CstaEventKind;
  call: Call;
  subject: string;
  cause: string;
  callingDevice?: string;
  calledDevice?: string;
  actingDevice?: string;
  newDestination?: string;
  lastRedirection?: string;
  secondaryCallId?: string;
  moved?: ReadonlyArray<{ deviceId: string; newCallId: string; oldCallId: string }>;
}
