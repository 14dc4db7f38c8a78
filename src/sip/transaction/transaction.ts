/**
 * The common base of the four RFC 3261 section 17 transaction state machines: identity, the transport it
 * sends through, named timers on a {@link Clock}, and removal from the transaction table when it ends.
 */
import { parseMessage, type SipMessage } from '../message/index.js';
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
  /** Called when Timer B or F ends a client transaction (the layer counts timeouts). */
  timedOut?(method: string): void;
}

/** Transaction kinds (RFC 3261 sections 17.1.1, 17.1.2, 17.2.1, 17.2.2). */
export enum TransactionKind {
  InviteClient = 'ict',
  NonInviteClient = 'nict',
  InviteServer = 'ist',
  NonInviteServer = 'nist',
}

interface TimerSlot {
  readonly name: string;
  handle: TimerHandle | undefined;
  next: TimerSlot | undefined;
}

export abstract class Transaction {
  abstract readonly kind: TransactionKind;
  abstract get state(): string;
  /** Retransmission and wait timers: zero-length on reliable transports. */
  protected readonly t: TimerValues;
  protected readonly reliable: boolean;
  /** Running timers, a short list (a transaction runs at most three at once). */
  private slots: TimerSlot | undefined;
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
    const names: string[] = [];
    for (let s = this.slots; s; s = s.next) names.push(s.name);
    return names.sort();
  }

  /** Stop every timer and leave the table without telling the TU (stack shutdown). */
  dispose(): void {
    this.terminate();
  }

  /** (Re)start the timer `name` (`A`...`M`) for `ms` milliseconds. */
  protected startTimer(name: string, ms: number, fire: () => void): void {
    this.stopTimer(name);
    const slot: TimerSlot = { name, handle: undefined, next: this.slots };
    this.slots = slot;
    slot.handle = this.ctx.setTimer(ms, () => {
      this.unlink(slot);
      fire();
    });
  }

  protected stopTimer(name: string): void {
    for (let s = this.slots; s; s = s.next) {
      if (s.name === name) {
        s.handle?.cancel();
        this.unlink(s);
        return;
      }
    }
  }

  private unlink(slot: TimerSlot): void {
    if (this.slots === slot) {
      this.slots = slot.next;
      return;
    }
    for (let s = this.slots; s; s = s.next) {
      if (s.next === slot) {
        s.next = slot.next;
        return;
      }
    }
  }

  /**
   * Hand a message (or a request already written to bytes) to the transport; false (and `transportError`)
   * when it cannot be sent (17.1.4, 17.2.4).
   */
  protected transmit(message: SipMessage | Buffer): boolean {
    try {
      const transport = this.ctx.transport;
      let sent: void | Promise<unknown>;
      if (!Buffer.isBuffer(message)) sent = transport.send(message, this.destination);
      else if (transport.sendBytes) sent = transport.sendBytes(message, this.destination);
      else sent = transport.send(parseMessage(message), this.destination);
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
    for (let s = this.slots; s; s = s.next) s.handle?.cancel();
    this.slots = undefined;
    this.ctx.terminated(this);
  }
}
