/**
 * Call control for a user's phone through the CTI link (claims 41-50): hold, retrieve, clear, answer (here
 * or on a second device), deflect, forward (to a PBX phone or a VoIP client), do-not-disturb, click to dial
 * with progress and hook-state reports, and transfers (single step, or consultation then transfer with the
 * held call retrieved when the transfer fails). Every request names who asks ({@link Requester}) and is
 * checked against the {@link OwnershipTable} first. The SIP front ends (uaCSTA, REFER) and the admin routes
 * use this class; embedding applications use it directly.
 */
import { randomUUID } from 'node:crypto';

import {
  ConnectionState,
  CtiError,
  parseForwardingType,
  type ConnectionId,
  type CtiLink,
  type ForwardingType,
} from '../../cti/index.js';
import { HookState, type CallView, type DeviceChange, type DeviceSnapshot, type PbxModel } from '../../model/index.js';
import { createLogger } from '../../util/log.js';
import { MetricsRegistry, type Counter } from '../../util/metrics.js';
import { CallControlError, CallControlErrorCode } from './errors.js';
import type { OwnershipTable } from './ownership.js';
import { ProgressStep, RequestKind, TrackedRequest, type ProgressEntry } from './progress.js';

/** Who asks. */
export enum RequesterKind {
  /** A user's desktop SIP client, identified by its AOR (uaCSTA INFO, REFER). */
  Sip = 'sip',
  /** A principal of the admin HTTP API: an admin (every phone) or a user (that user's phones). */
  Admin = 'admin',
  /** The embedding application; `user` restricts it to that user's phones. */
  Embedded = 'embedded',
}

/** The requester of a call-control service. */
export type Requester =
  | { readonly kind: RequesterKind.Sip; readonly aor: string }
  | { readonly kind: RequesterKind.Admin; readonly name: string }
  | { readonly kind: RequesterKind.Embedded; readonly user?: string };

/** How a transfer is made. */
export enum TransferMode {
  /** SingleStepTransferCall (ECMA-269 §17.2.20): the other party is sent on to the target. */
  SingleStep = 'singleStep',
  /** ConsultationCall then TransferCall (ECMA-269 §17.2.7, §17.2.21); a refused transfer retrieves the held call. */
  Consultation = 'consultation',
}

/** Forwarding request (ECMA-269 §22.2.8 SetForwarding). */
export interface ForwardRequest {
  /** `forwardImmediate`, `forwardBusy`, `forwardNoAns` (or another ECMA-269 forwarding type). */
  readonly type: ForwardingType | string;
  readonly on: boolean;
  /** A PBX number, or a VoIP client's SIP URI mapped to its PBX number. Required when `on`. */
  readonly to?: string;
}

/**
 * A transfer another feature carries out instead of a SingleStepTransferCall: moving the user's call between
 * their desk phone and their softphone (docs/transfers.md). `run()` resolves once media flows on the new side
 * and rejects with an error carrying `sipStatus` and `httpStatus` (or any error: 500/502).
 */
export interface TransferTargetMove {
  /** `toSoftphone` or `toDesk`, for the result and logs. */
  readonly direction: string;
  /** The SIP AOR the call goes to (a softphone); it must belong to the phone's owner (403 otherwise). */
  readonly aor?: string;
  run(): Promise<void>;
}

/**
 * Resolves a transfer target that names the user's own other device (their computer-interface URI or
 * softphone AOR from the desk phone; the desk extension while the call is on the softphone) to a
 * {@link TransferTargetMove}; `undefined` for every other target (a plain PBX transfer).
 */
export interface TransferTargetResolver {
  resolveTransfer(phone: string, target: string): TransferTargetMove | undefined;
}

/** Result of a transfer. */
export interface TransferResult {
  readonly mode: TransferMode;
  /** Set when the call moved between the desk phone and the softphone ({@link TransferTargetMove}). */
  readonly moved?: string;
  /** The number the call went to. */
  readonly to: string;
  /** The resulting call, when the switch said it. */
  readonly call?: ConnectionId;
}

/** Options of {@link CallControl}. */
export interface CallControlOptions {
  readonly link: CtiLink;
  readonly model: PbxModel;
  readonly ownership: OwnershipTable;
  readonly metrics?: MetricsRegistry;
  /** Transfers to the user's own softphone or desk phone (e.g. `SoftphoneTransfer`). */
  readonly transferTargets?: TransferTargetResolver;
  /** How long to wait for a call state the switch should reach after a request (ms, default 10 s). */
  readonly stateTimeoutMs?: number;
  /** Tracked requests kept at most (default 1000); finished ones are dropped first. */
  readonly maxRequests?: number;
  /** How long a finished request stays readable (ms, default 10 min). */
  readonly retainMs?: number;
  readonly now?: () => number;
}

const log = createLogger('calls.control');

/** Call control for users' phones; see the module comment. */
export class CallControl {
  private readonly link: CtiLink;
  private readonly model: PbxModel;
  readonly ownership: OwnershipTable;
  private readonly stateTimeoutMs: number;
  private readonly maxRequests: number;
  private readonly retainMs: number;
  private readonly now: () => number;
  private readonly transferTargets: TransferTargetResolver | undefined;
  private readonly requests = new Map<string, TrackedRequest>();
  private readonly unsubscribe: () => void;
  /** Listeners of every model change (undefined: the control is closing). */
  private readonly waiters = new Set<(c: DeviceChange | undefined) => void>();
  private readonly counter: Counter;
  private closed = false;

  constructor(opts: CallControlOptions) {
    this.link = opts.link;
    this.model = opts.model;
    this.ownership = opts.ownership;
    this.stateTimeoutMs = opts.stateTimeoutMs ?? 10_000;
    this.maxRequests = opts.maxRequests ?? 1000;
    this.retainMs = opts.retainMs ?? 600_000;
    this.now = opts.now ?? Date.now;
    this.transferTargets = opts.transferTargets;
    const metrics = opts.metrics ?? new MetricsRegistry();
    this.counter = metrics.counter('switchhook_call_control_requests_total', 'Call-control requests, by service and result code.');
    this.unsubscribe = this.model.onChange((c) => this.onChange(c));
  }

  // ---- authorisation ----

  /**
   * Checks that `phone` is monitored and that `who` may control it.
   * @throws CallControlError `CALL_ERR_UNKNOWN_PHONE` (404) or `CALL_ERR_NOT_OWNER` (403).
   */
  authorize(who: Requester, phone: string): void {
    if (this.closed) throw new CallControlError(CallControlErrorCode.Closed, 'call control closed');
    if (!this.model.has(phone)) throw new CallControlError(CallControlErrorCode.UnknownPhone, `no phone ${phone}`);
    let ok: boolean;
    switch (who.kind) {
      case RequesterKind.Sip:
        ok = this.ownership.aorOwns(who.aor, phone);
        break;
      case RequesterKind.Admin:
        ok = this.ownership.isAdmin(who.name) || this.ownership.ownerOf(phone)?.user === who.name;
        break;
      case RequesterKind.Embedded:
        ok = who.user === undefined || this.ownership.ownerOf(phone)?.user === who.user;
        break;
      default:
        throw new Error(`unknown requester kind ${(who as { kind: string }).kind}`);
    }
    if (!ok) throw new CallControlError(CallControlErrorCode.NotOwner, `${describe(who)} does not own phone ${phone}`);
  }

  // ---- services ----

  /** HoldCall (ECMA-269 §17.2.10) on the phone's connected call (claim 43). */
  async hold(who: Requester, phone: string, callId?: string): Promise<ConnectionId> {
    return this.run('hold', who, phone, async () => {
      const c = this.pick(phone, [ConnectionState.Connected], callId, 'connected');
      await this.link.holdCall(c);
      return c;
    });
  }

  /** RetrieveCall (ECMA-269 §17.2.16) of the phone's held call. */
  async retrieve(who: Requester, phone: string, callId?: string): Promise<ConnectionId> {
    return this.run('retrieve', who, phone, async () => {
      const c = this.pick(phone, [ConnectionState.Held], callId, 'held');
      await this.link.retrieveCall(c);
      return c;
    });
  }

  /** ClearConnection (ECMA-269 §17.2.6): the phone leaves the call (its active call when none is named). */
  async clear(who: Requester, phone: string, callId?: string): Promise<ConnectionId> {
    return this.run('clear', who, phone, async () => {
      const c = this.pick(phone, [ConnectionState.Connected, ConnectionState.Initiated, ConnectionState.Fail, ConnectionState.Alerting, ConnectionState.Held, ConnectionState.Queued], callId, 'any');
      await this.link.clearConnection(c);
      return c;
    });
  }

  /**
   * Answers the phone's ringing call (claim 48): AnswerCall (ECMA-269 §17.2.2) at the phone, or, with `on`
   * a second device the requester may also control (claim 49), DeflectCall to it and AnswerCall there.
   * Resolves with the answering connection.
   */
  async answer(who: Requester, phone: string, opts: { on?: string; callId?: string } = {}): Promise<ConnectionId> {
    return this.run('answer', who, phone, async () => {
      const ringing = this.pick(phone, [ConnectionState.Alerting, ConnectionState.Queued], opts.callId, 'ringing');
      const on = opts.on;
      if (on === undefined || on === phone) {
        await this.link.answerCall(ringing);
        return ringing;
      }
      this.authorize(who, on);
      const arrived = this.waitFor(on, () => this.callAt(on, ringing.callId)?.state === ConnectionState.Alerting, `call ${ringing.callId} alerting at ${on}`);
      try {
        await this.link.deflectCall(ringing, on);
      } catch (err) {
        arrived.cancel();
        throw err;
      }
      await arrived.promise;
      const there = { callId: ringing.callId, deviceId: on };
      await this.link.answerCall(there);
      return there;
    });
  }

  /** DeflectCall (ECMA-269 §17.2.8): the ringing call goes on to a PBX number or a mapped VoIP client. */
  async deflect(who: Requester, phone: string, to: string, callId?: string): Promise<string> {
    return this.run('deflect', who, phone, async () => {
      const number = this.ownership.numberFor(to);
      const ringing = this.pick(phone, [ConnectionState.Alerting, ConnectionState.Queued], callId, 'ringing');
      await this.link.deflectCall(ringing, number);
      return number;
    });
  }

  /**
   * SetForwarding (ECMA-269 §22.2.8, claims 44-47): immediately, on busy or on no answer, to another PBX
   * phone or to a VoIP client (its SIP URI is mapped to the PBX number that reaches it).
   */
  async forward(who: Requester, phone: string, req: ForwardRequest): Promise<{ type: ForwardingType; on: boolean; to?: string }> {
    return this.run('forward', who, phone, async () => {
      const type = parseForwardingType(req.type);
      if (type === undefined) throw new CallControlError(CallControlErrorCode.BadRequest, `unknown forwarding type '${req.type}'`);
      if (!req.on) {
        await this.link.setForwarding(phone, type, false);
        return { type, on: false };
      }
      if (req.to === undefined || req.to === '') throw new CallControlError(CallControlErrorCode.BadRequest, 'forwarding on needs a target');
      const number = this.ownership.numberFor(req.to);
      await this.link.setForwarding(phone, type, true, number);
      return { type, on: true, to: number };
    });
  }

  /** SetDoNotDisturb (ECMA-269 §22.2.7). */
  async doNotDisturb(who: Requester, phone: string, on: boolean): Promise<void> {
    return this.run('dnd', who, phone, () => this.link.setDoNotDisturb(phone, on));
  }

  /**
   * Click to dial (claim 50): MakeCall (ECMA-269 §17.2.12) from the phone to `to`. Resolves once the switch
   * accepted, with the tracked request whose progress (initiated, ringing, connected, failed with cause,
   * cleared; each with the phone's hook state) follows the model. A failed call is cleared, so the phone
   * goes back on hook.
   */
  async dial(who: Requester, phone: string, to: string): Promise<TrackedRequest> {
    return this.run('dial', who, phone, async () => {
      const number = this.ownership.numberFor(to);
      const req = this.track(RequestKind.Dial, phone, number);
      const early: DeviceChange[] = [];
      const buffer = (c: DeviceChange | undefined): void => void (c?.device === phone && early.push(c));
      this.waiters.add(buffer);
      try {
        const c = await this.link.makeCall(phone, number);
        req.callId = c.callId;
        // Events that beat the response: the first one's hook state is the phone's when the call started.
        const first = early.find((ch) => ch.calls.some((x) => x.call.callId === c.callId));
        req.report(this.entry(ProgressStep.Initiated, phone, c.callId, undefined, undefined, first?.newState));
        for (const ch of early) this.follow(req, ch);
      } catch (err) {
        this.requests.delete(req.id);
        throw err;
      } finally {
        this.waiters.delete(buffer);
      }
      return req;
    });
  }

  /**
   * Transfers the phone's call (connected, else held) to a PBX number or mapped VoIP client. Single step:
   * SingleStepTransferCall. Consultation: ConsultationCall, wait until the consulted party rings or answers,
   * TransferCall; when the consultation or the transfer fails, the consultation is cleared and the held call
   * retrieved, so the call stays where it was. A target naming the user's own softphone (or, while the call
   * is there, the desk phone) is handed to the {@link TransferTargetResolver}, after checking that the
   * softphone's AOR belongs to the phone's owner.
   */
  async transfer(who: Requester, phone: string, to: string, opts: { mode?: TransferMode; callId?: string } = {}): Promise<TransferResult> {
    return this.run('transfer', who, phone, async () => {
      const move = this.transferTargets?.resolveTransfer(phone, to);
      if (move) {
        if (move.aor !== undefined && !this.ownership.aorOwns(move.aor, phone)) {
          throw new CallControlError(CallControlErrorCode.NotOwner, `${move.aor} does not belong to the owner of ${phone}`);
        }
        await move.run();
        return { mode: TransferMode.SingleStep, to, moved: move.direction };
      }
      const number = this.ownership.numberFor(to);
      const mode = opts.mode ?? TransferMode.SingleStep;
      switch (mode) {
        case TransferMode.SingleStep: {
          const c = this.pick(phone, [ConnectionState.Connected, ConnectionState.Held], opts.callId, 'connected or held');
          const call = await this.link.singleStepTransferCall(c, number);
          return call ? { mode, to: number, call } : { mode, to: number };
        }
        case TransferMode.Consultation:
          return this.consultAndTransfer(phone, number, opts.callId);
        default:
          throw new CallControlError(CallControlErrorCode.BadRequest, `unknown transfer mode '${String(mode)}'`);
      }
    });
  }

  /** The phone's state from the model (calls, hook state, forwarding, DND). */
  snapshot(who: Requester, phone: string): DeviceSnapshot {
    this.authorize(who, phone);
    return this.model.device(phone)!;
  }

  /** A tracked request by id. @throws CallControlError `CALL_ERR_UNKNOWN_REQUEST`. */
  request(id: string): TrackedRequest {
    const r = this.requests.get(id);
    if (!r) throw new CallControlError(CallControlErrorCode.UnknownRequest, `no request ${id}`);
    return r;
  }

  /** Stops following the model; unfinished requests end as failed (`closed`). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const r of this.requests.values()) if (!r.done) r.finish(this.entry(ProgressStep.Failed, r.phone, r.callId, 'closed'));
    for (const w of [...this.waiters]) w(undefined);
    this.waiters.clear();
    this.requests.clear();
  }

  // ---- internals ----

  private async consultAndTransfer(phone: string, number: string, callId: string | undefined): Promise<TransferResult> {
    const held = this.pick(phone, [ConnectionState.Connected], callId, 'connected');
    const consult = await this.link.consultationCall(held, number);
    try {
      const reached = this.waitFor(
        phone,
        () => {
          const c = this.callAt(phone, consult.callId);
          if (!c || c.state === ConnectionState.Fail) return true;
          return Object.values(c.parties).some((s) => s === ConnectionState.Alerting || s === ConnectionState.Connected);
        },
        `consultation ${consult.callId} to reach ${number}`,
      );
      await reached.promise;
      const c = this.callAt(phone, consult.callId);
      if (!c) throw new CallControlError(CallControlErrorCode.Refused, `consultation call to ${number} ended before the transfer`);
      const call = await this.link.transferCall(held, consult);
      return call ? { mode: TransferMode.Consultation, to: number, call } : { mode: TransferMode.Consultation, to: number };
    } catch (err) {
      await this.restore(phone, held, consult);
      throw err;
    }
  }

  /** After a failed consultation transfer: drop the consultation, take the held call back. */
  private async restore(phone: string, held: ConnectionId, consult: ConnectionId): Promise<void> {
    try {
      if (this.callAt(phone, consult.callId)) await this.link.clearConnection(consult);
      if (this.callAt(phone, held.callId)?.state === ConnectionState.Held) await this.link.retrieveCall(held);
    } catch (err) {
      log.warn(`phone ${phone}: could not restore call ${held.callId} after a failed transfer: ${(err as Error).message}`);
    }
  }

  private async run<T>(service: string, who: Requester, phone: string, body: () => Promise<T>): Promise<T> {
    try {
      this.authorize(who, phone);
      const out = await body();
      this.counter.inc({ service, result: 'ok' });
      return out;
    } catch (err) {
      const e = err instanceof CallControlError ? err : CallControlError.refused(service, err);
      this.counter.inc({ service, result: e.cti?.code ?? e.code });
      throw e;
    }
  }

  /** The phone's connection to act on: the named call (which must be in one of `states`), else the first call in them. */
  private pick(phone: string, states: readonly ConnectionState[], callId: string | undefined, what: string): ConnectionId {
    const calls = this.model.device(phone)?.calls ?? [];
    if (callId !== undefined) {
      const c = calls.find((x) => x.callId === callId);
      if (!c) throw new CallControlError(CallControlErrorCode.UnknownCall, `phone ${phone} is not in call ${callId}`);
      if (!states.includes(c.state)) throw new CallControlError(CallControlErrorCode.NoSuitableCall, `call ${callId} at ${phone} is ${c.state}, not ${what}`);
      return { callId, deviceId: phone };
    }
    const c = [...calls].sort((a, b) => states.indexOf(a.state) - states.indexOf(b.state)).find((x) => states.includes(x.state));
    if (!c) throw new CallControlError(CallControlErrorCode.NoSuitableCall, `phone ${phone} has no ${what} call`);
    return { callId: c.callId, deviceId: phone };
  }

  private callAt(device: string, callId: string): CallView | undefined {
    return this.model.device(device)?.calls.find((c) => c.callId === callId && c.state !== ConnectionState.Null);
  }

  /** Resolves once `pred` holds after a change of `device` (bounded by the state timeout). */
  private waitFor(device: string, pred: () => boolean, what: string): { promise: Promise<void>; cancel(): void } {
    let cancel = (): void => undefined;
    const promise = new Promise<void>((resolve, reject) => {
      if (pred()) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new CallControlError(CallControlErrorCode.Timeout, `timed out waiting for ${what}`));
      }, this.stateTimeoutMs);
      const w = (c: DeviceChange | undefined): void => {
        if (c === undefined) {
          clearTimeout(timer);
          this.waiters.delete(w);
          reject(new CallControlError(CallControlErrorCode.Closed, 'call control closed'));
          return;
        }
        if (c.device !== device || !pred()) return;
        clearTimeout(timer);
        this.waiters.delete(w);
        resolve();
      };
      this.waiters.add(w);
      cancel = () => {
        clearTimeout(timer);
        this.waiters.delete(w);
        resolve();
      };
    });
    return { promise, cancel: () => cancel() };
  }

  private onChange(c: DeviceChange): void {
    for (const w of [...this.waiters]) w(c);
    for (const r of this.requests.values()) if (!r.done && r.phone === c.device && r.callId !== undefined) this.follow(r, c);
  }

  /** Turns one change of the phone into the tracked request's progress. */
  private follow(r: TrackedRequest, c: DeviceChange): void {
    if (c.reason === 'linkLost') {
      r.finish(this.entry(ProgressStep.Failed, r.phone, r.callId, 'linkLost'));
      return;
    }
    for (const cc of c.calls) {
      const call = cc.call;
      if (call.callId !== r.callId && call.replaces !== r.callId) continue;
      if (cc.ended) {
        // A call renamed by the switch (transfer) continues under its new callID in the same change.
        if (c.calls.some((o) => !o.ended && o.call.replaces === call.callId)) continue;
        r.report(this.entry(c.reason === 'transferred' ? ProgressStep.Transferred : ProgressStep.Cleared, r.phone, call.callId, c.cause, undefined, c.newState));
        continue;
      }
      r.callId = call.callId;
      const step = stepOf(call);
      if (step === undefined) continue;
      r.report(this.entry(step, r.phone, call.callId, step === ProgressStep.Failed ? c.cause : undefined, undefined, c.newState));
      if (step === ProgressStep.Failed && r.kind === RequestKind.Dial) {
        // Our MakeCall left the phone with busy tone: clear it so the phone goes back on hook.
        this.link.clearConnection({ callId: call.callId, deviceId: r.phone }).catch((err: unknown) => {
          const e = err instanceof CtiError ? err : undefined;
          r.finish(this.entry(ProgressStep.Failed, r.phone, call.callId, c.cause, e));
        });
      }
    }
  }

  private entry(step: ProgressStep, phone: string, callId: string | undefined, cause?: string, err?: CtiError, hook?: HookState): ProgressEntry {
    const e: { -readonly [K in keyof ProgressEntry]: ProgressEntry[K] } = { step, hook: hook ?? this.model.hookState(phone) ?? HookState.Unknown, at: this.now() };
    if (callId !== undefined) e.callId = callId;
    if (cause !== undefined) e.cause = cause;
    if (err) e.error = { code: err.code, ...(err.category ? { category: err.category, value: err.value ?? '' } : {}) };
    return e;
  }

  private track(kind: RequestKind, phone: string, target: string): TrackedRequest {
    const now = this.now();
    for (const [id, r] of this.requests) {
      if (r.done && r.doneAt !== undefined && now - r.doneAt > this.retainMs) this.requests.delete(id);
    }
    if (this.requests.size >= this.maxRequests) {
      const victim = [...this.requests.values()].find((r) => r.done) ?? this.requests.values().next().value!;
      this.requests.delete(victim.id);
    }
    const r = new TrackedRequest(randomUUID(), kind, phone, target, now);
    this.requests.set(r.id, r);
    return r;
  }
}

/** The progress step a call at the phone is in. */
function stepOf(call: CallView): ProgressStep | undefined {
  switch (call.state) {
    case ConnectionState.Initiated:
      return ProgressStep.Initiated;
    case ConnectionState.Fail:
      return ProgressStep.Failed;
    case ConnectionState.Held:
      return ProgressStep.Held;
    case ConnectionState.Connected: {
      const parties = Object.values(call.parties);
      if (parties.some((s) => s === ConnectionState.Connected || s === ConnectionState.Held)) return ProgressStep.Connected;
      if (parties.some((s) => s === ConnectionState.Alerting || s === ConnectionState.Queued)) return ProgressStep.Ringing;
      // Dialled but no party known yet (Originated), or the far end has left: no new step.
      return undefined;
    }
    case ConnectionState.Alerting:
    case ConnectionState.Queued:
    case ConnectionState.Null:
      return undefined;
    default:
      throw new Error(`unknown connection state ${call.state as string}`);
  }
}

function describe(who: Requester): string {
  switch (who.kind) {
    case RequesterKind.Sip:
      return `SIP client ${who.aor}`;
    case RequesterKind.Admin:
      return `admin ${who.name}`;
    case RequesterKind.Embedded:
      return `user ${who.user ?? '(any)'}`;
    default:
      throw new Error('unknown requester');
  }
}
