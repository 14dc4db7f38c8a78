/**
 * Client transactions (RFC 3261 section 17.1): INVITE (17.1.1, with the Accepted state of RFC 6026
 * section 7.2) and non-INVITE (17.1.2).
 */
import type { SipRequest, SipResponse } from '../message/index.js';
import { buildNon2xxAck } from './builders.js';
import { SipTransactionError } from './errors.js';
import type { OffsetTimed, OffsetTimers } from './clock.js';
import { Transaction, TransactionKind, type TransactionContext } from './transaction.js';
import type { Destination, RequestBytes } from './transport-port.js';

/** What a client transaction reports to its transaction user. */
export interface ClientTransactionUser {
  /** Every response the TU must see (provisionals, the final response, 2xx retransmissions for INVITE). */
  onResponse(response: SipResponse, tx: ClientTransaction): void;
  /** Timer B or F fired: the request timed out (treated like a 408, RFC 3261 section 8.1.3.1). */
  onTimeout(tx: ClientTransaction): void;
  /** The transport could not send the request (treated like a 503, section 8.1.3.1). */
  onTransportError(err: unknown, tx: ClientTransaction): void;
}

/** INVITE client transaction states (RFC 3261 figure 5, RFC 6026 figure 4). */
export enum InviteClientState {
  /** 17.1.1.2: request sent, Timer A retransmits over UDP, Timer B bounds the wait. */
  Calling = 'Calling',
  /** 17.1.1.2: a provisional response arrived. */
  Proceeding = 'Proceeding',
  /** 17.1.1.2: a 300-699 arrived and was ACKed; Timer D absorbs retransmissions. */
  Completed = 'Completed',
  /** RFC 6026 7.2: a 2xx arrived; Timer M passes 2xx retransmissions to the TU. */
  Accepted = 'Accepted',
  /** 17.1.1.2: done. */
  Terminated = 'Terminated',
}

/** Non-INVITE client transaction states (RFC 3261 figure 6). */
export enum NonInviteClientState {
  /** 17.1.2.2: request sent, Timer E retransmits over UDP, Timer F bounds the transaction. */
  Trying = 'Trying',
  /** 17.1.2.2: a provisional response arrived. */
  Proceeding = 'Proceeding',
  /** 17.1.2.2: a final response arrived; Timer K absorbs retransmissions. */
  Completed = 'Completed',
  /** 17.1.2.2: done. */
  Terminated = 'Terminated',
}

/** Either client transaction. */
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction | FinalOnlyClientTransaction;

/** RFC 3261 section 17.1.1 INVITE client transaction. */
export class InviteClientTransaction extends Transaction {
  readonly kind = TransactionKind.InviteClient;
  private s = InviteClientState.Calling;
  private ack: SipRequest | undefined;

  constructor(
    id: string,
    ctx: TransactionContext,
    destination: Destination,
    readonly request: SipRequest,
    private readonly user: ClientTransactionUser,
  ) {
    super(id, ctx, destination);
  }

  get state(): InviteClientState {
    return this.s;
  }

  /** Send the INVITE and start Timers A (unreliable only) and B. */
  start(): void {
    if (!this.transmit(this.request)) return;
    if (!this.reliable) this.armTimerA(this.t.A);
    this.startTimer('B', this.t.B, () => this.timerB());
  }

  private armTimerA(interval: number): void {
    // 17.1.1.2: Timer A doubles on every firing (no T2 cap for INVITE).
    this.startTimer('A', interval, () => {
      switch (this.s) {
        case InviteClientState.Calling:
          if (this.transmit(this.request)) this.armTimerA(interval * 2);
          break;
        case InviteClientState.Proceeding:
        case InviteClientState.Completed:
        case InviteClientState.Accepted:
        case InviteClientState.Terminated:
          break;
        default:
          throw new SipTransactionError('SIP_ERR_TX_STATE', `Timer A in ${String(this.s)}`);
      }
    });
  }

  private timerB(): void {
    switch (this.s) {
      case InviteClientState.Calling:
        // 17.1.1.2: Timer B fires in Calling: inform the TU of the timeout.
        this.s = InviteClientState.Terminated;
        this.terminate();
        this.ctx.timedOut?.(this.request.method);
        this.user.onTimeout(this);
        break;
      case InviteClientState.Proceeding:
      case InviteClientState.Completed:
      case InviteClientState.Accepted:
      case InviteClientState.Terminated:
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `Timer B in ${String(this.s)}`);
    }
  }

  /** A response matched this transaction (17.1.3). */
  receiveResponse(res: SipResponse): void {
    const status = res.status;
    switch (this.s) {
      case InviteClientState.Calling:
      case InviteClientState.Proceeding:
        if (status < 200) {
          // 17.1.1.2: provisional: stop retransmitting, go to Proceeding, pass it up.
          this.stopTimer('A');
          this.stopTimer('B');
          this.s = InviteClientState.Proceeding;
          this.user.onResponse(res, this);
        } else if (status < 300) {
          // RFC 6026 7.2: 2xx: Accepted, Timer M; the TU (dialog) ACKs it.
          this.stopTimer('A');
          this.stopTimer('B');
          this.s = InviteClientState.Accepted;
          this.startTimer('M', 64 * this.ctx.timers.T1, () => this.timerEnd(InviteClientState.Accepted));
          this.user.onResponse(res, this);
        } else {
          // 17.1.1.2: 300-699: ACK it, Completed, Timer D.
          this.stopTimer('A');
          this.stopTimer('B');
          this.s = InviteClientState.Completed;
          this.ack = buildNon2xxAck(this.request, res);
          if (!this.transmit(this.ack)) return;
          this.startTimer('D', this.t.D, () => this.timerEnd(InviteClientState.Completed));
          this.user.onResponse(res, this);
        }
        break;
      case InviteClientState.Completed:
        // 17.1.1.2: retransmitted final response: ACK again, not passed up.
        if (status >= 300 && this.ack) this.transmit(this.ack);
        break;
      case InviteClientState.Accepted:
        // RFC 6026 7.2: 2xx retransmissions go to the TU (which re-sends its ACK); others are dropped.
        if (status >= 200 && status < 300) this.user.onResponse(res, this);
        break;
      case InviteClientState.Terminated:
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `response in ${String(this.s)}`);
    }
  }

  private timerEnd(expected: InviteClientState): void {
    if (this.s !== expected) return;
    this.s = InviteClientState.Terminated;
    this.terminate();
  }

  transportError(err: unknown): void {
    switch (this.s) {
      case InviteClientState.Calling:
      case InviteClientState.Proceeding:
      case InviteClientState.Completed:
      case InviteClientState.Accepted:
        this.s = InviteClientState.Terminated;
        this.terminate();
        this.user.onTransportError(err, this);
        break;
      case InviteClientState.Terminated:
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `transport error in ${String(this.s)}`);
    }
  }

  override dispose(): void {
    this.s = InviteClientState.Terminated;
    super.dispose();
  }
}

/**
 * RFC 3261 section 17.1.2.2 Timer E of a non-INVITE client transaction in state `s`, whose last interval
 * was `interval`: retransmit and re-arm with the returned interval (doubling up to T2 in Trying, T2 in
 * Proceeding), or undefined when a final response has ended retransmission.
 */
function nextTimerE(s: NonInviteClientState, interval: number, t2: number): number | undefined {
  switch (s) {
    case NonInviteClientState.Trying:
      return Math.min(interval * 2, t2);
    case NonInviteClientState.Proceeding:
      return t2;
    case NonInviteClientState.Completed:
    case NonInviteClientState.Terminated:
      return undefined;
    default:
      throw new SipTransactionError('SIP_ERR_TX_STATE', `Timer E in ${String(s)}`);
  }
}

/**
 * Whether a non-INVITE client transaction in state `s` still waits for its final response (Trying or
 * Proceeding, RFC 3261 17.1.2.2), so that Timer F, a transport error or a final response ends it; false once
 * Completed or Terminated. `what` names the occurrence in the error for an impossible state.
 */
function awaitsFinal(s: NonInviteClientState, what: string): boolean {
  switch (s) {
    case NonInviteClientState.Trying:
    case NonInviteClientState.Proceeding:
      return true;
    case NonInviteClientState.Completed:
    case NonInviteClientState.Terminated:
      return false;
    default:
      throw new SipTransactionError('SIP_ERR_TX_STATE', `${what} in ${String(s)}`);
  }
}

/** RFC 3261 section 17.1.2 non-INVITE client transaction. */
export class NonInviteClientTransaction extends Transaction {
  readonly kind = TransactionKind.NonInviteClient;
  private s = NonInviteClientState.Trying;

  constructor(
    id: string,
    ctx: TransactionContext,
    destination: Destination,
    readonly request: SipRequest,
    private readonly user: ClientTransactionUser,
  ) {
    super(id, ctx, destination);
  }

  get state(): NonInviteClientState {
    return this.s;
  }

  /** Send the request and start Timers E (unreliable only) and F. */
  start(): void {
    if (!this.transmit(this.request)) return;
    if (!this.reliable) this.armTimerE(this.t.E);
    this.startTimer('F', this.t.F, () => this.timerF());
  }

  private armTimerE(interval: number): void {
    this.startTimer('E', interval, () => {
      const next = nextTimerE(this.s, interval, this.ctx.timers.T2);
      if (next !== undefined && this.transmit(this.request)) this.armTimerE(next);
    });
  }

  private timerF(): void {
    if (!awaitsFinal(this.s, 'Timer F')) return;
    // 17.1.2.2: Timer F: timeout reported to the TU.
    this.s = NonInviteClientState.Terminated;
    this.terminate();
    this.ctx.timedOut?.(this.request.method);
    this.user.onTimeout(this);
  }

  /** A response matched this transaction (17.1.3). */
  receiveResponse(res: SipResponse): void {
    switch (this.s) {
      case NonInviteClientState.Trying:
      case NonInviteClientState.Proceeding:
        if (res.status < 200) {
          this.s = NonInviteClientState.Proceeding;
          this.user.onResponse(res, this);
        } else {
          // 17.1.2.2: final response: Completed, Timer K (zero on reliable transports).
          this.stopTimer('E');
          this.stopTimer('F');
          this.s = NonInviteClientState.Completed;
          this.startTimer('K', this.t.K, () => {
            if (this.s !== NonInviteClientState.Completed) return;
            this.s = NonInviteClientState.Terminated;
            this.terminate();
          });
          this.user.onResponse(res, this);
        }
        break;
      case NonInviteClientState.Completed:
      case NonInviteClientState.Terminated:
        // 17.1.2.2: retransmissions are absorbed.
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `response in ${String(this.s)}`);
    }
  }

  transportError(err: unknown): void {
    switch (this.s) {
      case NonInviteClientState.Trying:
      case NonInviteClientState.Proceeding:
      case NonInviteClientState.Completed:
        this.s = NonInviteClientState.Terminated;
        this.terminate();
        this.user.onTransportError(err, this);
        break;
      case NonInviteClientState.Terminated:
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `transport error in ${String(this.s)}`);
    }
  }

  override dispose(): void {
    this.s = NonInviteClientState.Terminated;
    super.dispose();
  }
}

/** What a {@link FinalOnlyClientTransaction} reports: its outcome, once. */
export interface FinalResponseUser {
  /**
   * The final response (`response` set), or 408 when Timer F fired, or 503 when the transport failed
   * (RFC 3261 section 8.1.3.1: both are treated like those responses).
   */
  onFinal(status: number, response: SipResponse | undefined): void;
}

/**
 * A lean RFC 3261 section 17.1.2 non-INVITE client transaction for fan-out (a NOTIFY to each of many
 * subscribers): the states and timers of {@link NonInviteClientTransaction} (Timer E retransmits over UDP,
 * doubling to T2, every T2 in Proceeding; Timer F ends it with a 408), but the transaction user hears only
 * the outcome, and on the final response it leaves the table at once: when it had retransmitted its request
 * (the only case in which a UAS retransmits a final response, 17.2.2) the layer keeps its key for Timer K
 * (T4) so those are still absorbed, without keeping the request. The request may be given already written
 * to bytes ({@link RequestBytes}): it is then sent, and retransmitted, as those bytes. Its first Timer E
 * and its Timer F run on the layer's shared {@link OffsetTimers} (offsets E and F): a transaction answered
 * before either allocates no timer; the later Timer E firings (after a loss) are its own.
 */
export class FinalOnlyClientTransaction extends Transaction implements OffsetTimed {
  readonly kind = TransactionKind.NonInviteClient;
  private s = NonInviteClientState.Trying;
  private message: SipRequest | Buffer | undefined;
  /** The request method (also its CSeq method, 17.1.3). */
  readonly method: string;
  private interval: number;
  private retransmitted = false;
  /** @internal */ otStart = 0;
  /** @internal */ otPrev: OffsetTimed | undefined = undefined;
  /** @internal */ otNext: OffsetTimed | undefined = undefined;
  /** @internal */ otList: OffsetTimers | undefined = undefined;

  constructor(
    id: string,
    ctx: TransactionContext,
    destination: Destination,
    request: SipRequest | RequestBytes,
    private readonly user: FinalResponseUser,
    /** Called on the final response with the transaction's key, before it terminates (Timer K). */
    private readonly completed: (id: string) => void,
    /** The first Timer E (offset 0) and Timer F (offset 1) of every such transaction of the layer. */
    private readonly timers: OffsetTimers,
  ) {
    super(id, ctx, destination);
    this.message = 'bytes' in request ? request.bytes : request;
    this.method = request.method;
    this.interval = this.t.E;
  }

  get state(): NonInviteClientState {
    return this.s;
  }

  /** The request (or its bytes) until the final response (then released: only the key lives on for Timer K). */
  get request(): SipRequest | Buffer | undefined {
    return this.message;
  }

  /** Send the request and start Timers E (unreliable only) and F. */
  start(): void {
    if (!this.transmit(this.message!)) return;
    this.timers.add(this);
  }

  /** @internal The shared list's timers: 0 the first Timer E, 1 Timer F. */
  offsetTimer(i: number): void {
    if (i === 0) {
      if (!this.reliable) this.timerE();
    } else this.timerF();
  }

  /** 17.1.2.2 Timer E: retransmit and re-arm (its own timer from the second firing on). */
  private timerE(): void {
    const next = nextTimerE(this.s, this.interval, this.ctx.timers.T2);
    if (next === undefined || !this.transmit(this.message!)) return;
    this.retransmitted = true;
    this.interval = next;
    this.startTimer('E', next, () => this.timerE());
  }

  private timerF(): void {
    if (!awaitsFinal(this.s, 'Timer F')) return;
    // 17.1.2.2: Timer F: timeout reported to the TU (as a 408, 8.1.3.1).
    this.ctx.timedOut?.(this.method);
    this.end();
    this.user.onFinal(408, undefined);
  }

  /** A response matched this transaction (17.1.3). */
  receiveResponse(res: SipResponse): void {
    if (!awaitsFinal(this.s, 'response')) return;
    if (res.status < 200) {
      this.s = NonInviteClientState.Proceeding;
      return;
    }
    // 17.1.2.2: final response: Completed; Timer K is the layer's absorb list (zero on reliable
    // transports). A UAS retransmits a final response only on a retransmitted request (17.2.2), so only a
    // transaction that retransmitted needs one.
    this.s = NonInviteClientState.Completed;
    if (this.retransmitted) this.completed(this.id);
    this.end();
    this.user.onFinal(res.status, res);
  }

  transportError(err: unknown): void {
    if (!awaitsFinal(this.s, `transport error ${String(err)}`)) return;
    this.end();
    this.user.onFinal(503, undefined);
  }

  private end(): void {
    this.s = NonInviteClientState.Terminated;
    this.message = undefined;
    this.terminate();
  }

  protected override terminate(): void {
    this.timers.remove(this);
    super.terminate();
  }

  override dispose(): void {
    this.s = NonInviteClientState.Terminated;
    this.message = undefined;
    super.dispose();
  }
}
