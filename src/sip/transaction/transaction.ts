/**
 * The common base of the four RFC 3261 section 17 transaction state machines: identity, the transport it
 * sends through, named timers on a {@link Clock}, and removal from the transaction table when it ends.
 */
import type { SipMessage } from '../message/index.js';
import type { Clock, TimerHandle } from './clock.js';
import { timerValues, type TimerSettings, type TimerValues } from './timers.js';
import { isReliable, type Destination, type TransactionTransport } from './transport-port.js';

/** Shared services handed to every transaction by the transaction layer. */
export interface TransactionContext {
  readonly transport: TransactionTransport;
  readonly clock: Clock;
  readonly timers: TimerSettings;
  /** Start a one-shot timer (the layer batches equal durations in {@link DelayQueue}s). */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Called exactly once when a transaction reaches Terminated; the layer drops it from its table. */
  terminated(tx: Transaction): void;
}

/** Transaction kinds (RFC 3261 sections 17.1.1, 17.1.2, 17.2.1, 17.2.2). */
export enum TransactionKind {
  InviteClient = 'ict',
  NonInviteClient = 'nict',
  InviteServer = 'ist',
  NonInviteServer = 'nist',
}

export abstract class Transaction {
  abstract readonly kind: TransactionKind;
  abstract get state(): string;
  /** Retransmission and wait timers: zero-length on reliable transports. */
  protected readonly t: TimerValues;
  protected readonly reliable: boolean;
  /** Running timers by name; created on first use (most transactions run one or two). */
  private handles: Map<string, TimerHandle> | undefined;
  /** Opaque slot for the transaction user (the UA keeps its request/response pair here). */
  owner: unknown;
  private ended = false;

  protected constructor(
    /** Table key (branch-based, or the RFC 2543 fallback key). */
    readonly id: string,
    protected readonly ctx: TransactionContext,
    /** Where this transaction's messages go. */
    readonly destination: Destination,
  ) {
    this.reliable = isReliable(destination.protocol);
    this.t = timerValues(ctx.timers, this.reliable);
  }

  /** True once Terminated. */
  get terminated(): boolean {
    return this.ended;
  }

  /** Names of timers currently running (for tests and diagnostics). */
  get runningTimers(): string[] {
    return this.handles ? [...this.handles.keys()].sort() : [];
  }

  /** Stop every timer and leave the table without telling the TU (stack shutdown). */
  dispose(): void {
    this.terminate();
  }

  /** (Re)start the timer `name` (`A`...`M`) for `ms` milliseconds. */
  protected startTimer(name: string, ms: number, fire: () => void): void {
    const handles = (this.handles ??= new Map());
    handles.get(name)?.cancel();
    handles.set(
      name,
      this.ctx.setTimer(ms, () => {
        handles.delete(name);
        fire();
      }),
    );
  }

  protected stopTimer(name: string): void {
    const h = this.handles?.get(name);
    if (h) {
      h.cancel();
      this.handles!.delete(name);
    }
  }

  /** Hand a message to the transport; false (and `transportError`) when it cannot be sent (17.1.4, 17.2.4). */
  protected transmit(message: SipMessage): boolean {
    try {
      const sent = this.ctx.transport.send(message, this.destination);
      if (sent) sent.catch((err: unknown) => this.transportError(err));
      return true;
    } catch (err) {
      this.transportError(err);
      return false;
    }
  }

  /** A send failed: inform the TU and terminate (RFC 3261 sections 17.1.4 and 17.2.4). */
  abstract transportError(err: unknown): void;

  /** Enter Terminated: cancel timers and leave the table; idempotent. */
  protected terminate(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.handles) {
      for (const h of this.handles.values()) h.cancel();
      this.handles.clear();
    }
    this.ctx.terminated(this);
  }
}
