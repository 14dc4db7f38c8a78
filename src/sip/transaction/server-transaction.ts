/**
 * Server transactions (RFC 3261 section 17.2): INVITE (17.2.1, with the Accepted state of RFC 6026
 * section 7.1) and non-INVITE (17.2.2).
 */
import { createResponse, parseMessage, type SipRequest, type SipResponse } from '../message/index.js';
import { SipTransactionError } from './errors.js';
import { Transaction, TransactionKind, type TransactionContext } from './transaction.js';
import type { Destination, Source } from './transport-port.js';

/** What a server transaction reports to its transaction user besides the request itself. */
export interface ServerTransactionUser {
  /** Timer H fired: no ACK arrived for a 300-699 final response (17.2.1). */
  onTimeout?(tx: ServerTransaction): void;
  /** A response could not be sent (17.2.4). */
  onTransportError?(err: unknown, tx: ServerTransaction): void;
}

/** The default transaction user: nothing to report to (shared, never mutated). */
const NO_USER: ServerTransactionUser = Object.freeze({});

/** INVITE server transaction states (RFC 3261 figure 7, RFC 6026 figure 5). */
export enum InviteServerState {
  /** 17.2.1: request passed to the TU; provisionals sent. */
  Proceeding = 'Proceeding',
  /** 17.2.1: 300-699 sent; Timer G retransmits it (UDP), Timer H waits for the ACK. */
  Completed = 'Completed',
  /** 17.2.1: ACK received; Timer I absorbs further ACKs. */
  Confirmed = 'Confirmed',
  /** RFC 6026 7.1: 2xx sent; Timer L absorbs INVITE retransmissions, the TU retransmits the 2xx. */
  Accepted = 'Accepted',
  /** 17.2.1: done. */
  Terminated = 'Terminated',
}

/** Non-INVITE server transaction states (RFC 3261 figure 8). */
export enum NonInviteServerState {
  /** 17.2.2: request passed to the TU, nothing sent yet. */
  Trying = 'Trying',
  /** 17.2.2: a provisional was sent. */
  Proceeding = 'Proceeding',
  /** 17.2.2: final response sent; Timer J absorbs request retransmissions. */
  Completed = 'Completed',
  /** 17.2.2: done. */
  Terminated = 'Terminated',
}

/** Either server transaction. */
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

/** How long the INVITE server transaction waits for the TU before sending 100 Trying (17.2.1). */
export const TRYING_DELAY_MS = 200;

/** RFC 3261 section 17.2.1 INVITE server transaction. */
export class InviteServerTransaction extends Transaction {
  readonly kind = TransactionKind.InviteServer;
  private s = InviteServerState.Proceeding;
  private lastResponse: SipResponse | undefined;
  /** The CANCEL that arrived for this INVITE, if any (RFC 3261 section 9.2). */
  cancelled = false;
  user: ServerTransactionUser = NO_USER;

  constructor(
    id: string,
    ctx: TransactionContext,
    destination: Destination,
    readonly request: SipRequest,
    readonly source: Source,
  ) {
    super(id, ctx, destination);
    // 17.2.1: send 100 Trying unless the TU answers within 200 ms.
    this.startTimer('Trying', TRYING_DELAY_MS, () => {
      if (this.s === InviteServerState.Proceeding && !this.lastResponse) this.respond(createResponse(this.request, 100));
    });
  }

  get state(): InviteServerState {
    return this.s;
  }

  /** The last response sent, if any. */
  get response(): SipResponse | undefined {
    return this.lastResponse;
  }

  /** The TU sends a response through the transaction (17.2.1). */
  respond(res: SipResponse): void {
    const status = res.status;
    switch (this.s) {
      case InviteServerState.Proceeding:
        this.stopTimer('Trying');
        this.lastResponse = res;
        if (status < 200) {
          this.transmit(res);
        } else if (status < 300) {
          // RFC 6026 7.1: 2xx: Accepted, Timer L.
          this.s = InviteServerState.Accepted;
          if (!this.transmit(res)) return;
          this.startTimer('L', 64 * this.ctx.timers.T1, () => this.end(InviteServerState.Accepted));
        } else {
          // 17.2.1: 300-699: Completed, Timer G (UDP) and H.
          this.s = InviteServerState.Completed;
          if (!this.transmit(res)) return;
          if (!this.reliable) this.armTimerG(this.t.G);
          this.startTimer('H', this.t.H, () => this.timerH());
        }
        break;
      case InviteServerState.Accepted:
        // RFC 6026 7.1: 2xx retransmissions from the TU are passed to the transport.
        if (status >= 200 && status < 300) this.transmit(res);
        break;
      case InviteServerState.Completed:
      case InviteServerState.Confirmed:
      case InviteServerState.Terminated:
        throw new SipTransactionError('SIP_ERR_TX_FINAL_SENT', `response ${status} after the final response (${this.s})`);
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `respond in ${String(this.s)}`);
    }
  }

  private armTimerG(interval: number): void {
    this.startTimer('G', interval, () => {
      switch (this.s) {
        case InviteServerState.Completed:
          // 17.2.1: retransmit the final response, interval MIN(2*interval, T2).
          if (this.lastResponse && this.transmit(this.lastResponse)) this.armTimerG(Math.min(interval * 2, this.ctx.timers.T2));
          break;
        case InviteServerState.Proceeding:
        case InviteServerState.Confirmed:
        case InviteServerState.Accepted:
        case InviteServerState.Terminated:
          break;
        default:
          throw new SipTransactionError('SIP_ERR_TX_STATE', `Timer G in ${String(this.s)}`);
      }
    });
  }

  private timerH(): void {
    switch (this.s) {
      case InviteServerState.Completed:
        // 17.2.1: no ACK: Terminated, the TU is told of the failure.
        this.s = InviteServerState.Terminated;
        this.terminate();
        this.user.onTimeout?.(this);
        break;
      case InviteServerState.Proceeding:
      case InviteServerState.Confirmed:
      case InviteServerState.Accepted:
      case InviteServerState.Terminated:
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `Timer H in ${String(this.s)}`);
    }
  }

  /** A request matched this transaction: an INVITE retransmission or the ACK for a non-2xx (17.2.3). */
  receiveRequest(req: SipRequest): void {
    const isAck = req.method === 'ACK';
    switch (this.s) {
      case InviteServerState.Proceeding:
        // 17.2.1: retransmitted INVITE: resend the most recent provisional.
        if (!isAck && this.lastResponse) this.transmit(this.lastResponse);
        break;
      case InviteServerState.Completed:
        if (isAck) {
          // 17.2.1: ACK: Confirmed, Timer I.
          this.stopTimer('G');
          this.stopTimer('H');
          this.s = InviteServerState.Confirmed;
          this.startTimer('I', this.t.I, () => this.end(InviteServerState.Confirmed));
        } else if (this.lastResponse) {
          this.transmit(this.lastResponse);
        }
        break;
      case InviteServerState.Confirmed:
      case InviteServerState.Accepted:
      case InviteServerState.Terminated:
        // 17.2.1 / RFC 6026 7.1: absorbed.
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `request in ${String(this.s)}`);
    }
  }

  private end(expected: InviteServerState): void {
    if (this.s !== expected) return;
    this.s = InviteServerState.Terminated;
    this.terminate();
  }

  transportError(err: unknown): void {
    switch (this.s) {
      case InviteServerState.Proceeding:
      case InviteServerState.Completed:
      case InviteServerState.Confirmed:
      case InviteServerState.Accepted:
        this.s = InviteServerState.Terminated;
        this.terminate();
        this.user.onTransportError?.(err, this);
        break;
      case InviteServerState.Terminated:
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `transport error in ${String(this.s)}`);
    }
  }

  override dispose(): void {
    this.s = InviteServerState.Terminated;
    super.dispose();
  }
}

/** RFC 3261 section 17.2.2 non-INVITE server transaction. */
export class NonInviteServerTransaction extends Transaction {
  readonly kind = TransactionKind.NonInviteServer;
  private s = NonInviteServerState.Trying;
  private lastResponse: SipResponse | undefined;
  /** In Completed only the bytes of the final response are kept (re-parsed for a retransmission). */
  private finalBytes: Buffer | undefined;
  private req: SipRequest | undefined;
  user: ServerTransactionUser = NO_USER;

  constructor(
    id: string,
    ctx: TransactionContext,
    destination: Destination,
    request: SipRequest,
    readonly source: Source,
  ) {
    super(id, ctx, destination);
    this.req = request;
  }

  /** The request; released once the final response is sent (Completed keeps only that response). */
  get request(): SipRequest | undefined {
    return this.req;
  }

  get state(): NonInviteServerState {
    return this.s;
  }

  /** The last response sent, if any. */
  get response(): SipResponse | undefined {
    return this.lastResponse ?? (this.finalBytes ? (parseMessage(this.finalBytes) as SipResponse) : undefined);
  }

  /** The TU sends a response through the transaction (17.2.2). */
  respond(res: SipResponse): void {
    switch (this.s) {
      case NonInviteServerState.Trying:
      case NonInviteServerState.Proceeding:
        this.lastResponse = res;
        if (res.status < 200) {
          this.s = NonInviteServerState.Proceeding;
          this.transmit(res);
        } else {
          // 17.2.2: final response: Completed, Timer J (zero on reliable transports).
          this.s = NonInviteServerState.Completed;
          this.req = undefined;
          if (!this.transmit(res)) return;
          this.finalBytes = res.toBuffer();
          this.lastResponse = undefined;
          if (this.t.J === 0) this.end();
          else this.startTimer('J', this.t.J, () => this.end());
        }
        break;
      case NonInviteServerState.Completed:
      case NonInviteServerState.Terminated:
        throw new SipTransactionError('SIP_ERR_TX_FINAL_SENT', `response ${res.status} after the final response (${this.s})`);
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `respond in ${String(this.s)}`);
    }
  }

  /** A retransmission of the request matched this transaction (17.2.3). */
  receiveRequest(): void {
    switch (this.s) {
      case NonInviteServerState.Trying:
        // 17.2.2: discarded.
        break;
      case NonInviteServerState.Proceeding:
      case NonInviteServerState.Completed:
        // 17.2.2: resend the last response.
        if (this.lastResponse || this.finalBytes) this.transmit(this.response!);
        break;
      case NonInviteServerState.Terminated:
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `request in ${String(this.s)}`);
    }
  }

  private end(): void {
    if (this.s !== NonInviteServerState.Completed) return;
    this.s = NonInviteServerState.Terminated;
    this.terminate();
  }

  transportError(err: unknown): void {
    switch (this.s) {
      case NonInviteServerState.Trying:
      case NonInviteServerState.Proceeding:
      case NonInviteServerState.Completed:
        this.s = NonInviteServerState.Terminated;
        this.terminate();
        this.user.onTransportError?.(err, this);
        break;
      case NonInviteServerState.Terminated:
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `transport error in ${String(this.s)}`);
    }
  }

  override dispose(): void {
    this.s = NonInviteServerState.Terminated;
    super.dispose();
  }
}
