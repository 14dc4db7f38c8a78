/**
 * The transaction layer (RFC 3261 section 17): creates transactions, matches incoming requests and
 * responses to them (17.1.3, 17.2.3, with the RFC 2543 fallback for branches without the magic cookie),
 * handles CANCEL (section 9.2), keeps its tables bounded and empties them as transactions end.
 */
import { FlatStringMap } from '../../util/flat-string-map.js';
import { MetricsRegistry, type Counter, type Gauge } from '../../util/metrics.js';
import { MAGIC_COOKIE, createResponse, type SipRequest, type SipResponse } from '../message/index.js';
import { DelayQueue, OffsetTimers, systemClock, type Clock, type TimerHandle } from './clock.js';
import {
  FinalOnlyClientTransaction,
  InviteClientTransaction,
  NonInviteClientTransaction,
  type ClientTransaction,
  type ClientTransactionUser,
  type FinalResponseUser,
} from './client-transaction.js';
import { SipTransactionError } from './errors.js';
import {
  InviteServerState,
  InviteServerTransaction,
  NonInviteServerTransaction,
  type ServerTransaction,
} from './server-transaction.js';
import { defaultTimers, type TimerSettings } from './timers.js';
import { TransactionKind, type Transaction, type TransactionContext } from './transaction.js';
import { responseDestination, type Destination, type RequestBytes, type Source, type TransactionTransport } from './transport-port.js';

/** The transaction user (UA core) above the layer. */
export interface TransactionLayerUser {
  /** A new request with its new server transaction (never ACK; CANCEL is handled by the layer). */
  onRequest(req: SipRequest, tx: ServerTransaction): void;
  /** An ACK matching no transaction: the ACK for a 2xx, which belongs to the dialog (13.3.1.4, 17.2.3). */
  onAck(req: SipRequest, source: Source): void;
  /** A response matching no client transaction (e.g. a late 2xx retransmission), 17.1.3 / 18.1.2. */
  onStrayResponse(res: SipResponse, source: Source): void;
  /** A CANCEL hit an INVITE still without a final response; the TU may answer it (else the layer sends 487). */
  onCancel?(cancel: SipRequest, invite: InviteServerTransaction): void;
}

/** Options of a {@link TransactionLayer}. */
export interface TransactionLayerOptions {
  transport: TransactionTransport;
  user: TransactionLayerUser;
  clock?: Clock;
  timers?: Partial<TimerSettings>;
  /** Maximum live server transactions; new requests beyond it get 503 (default 1,000,000). */
  maxServerTransactions?: number;
  /** Maximum live client transactions; `request()` beyond it throws (default 100,000). */
  maxClientTransactions?: number;
  metrics?: MetricsRegistry;
}

interface LayerMetrics {
  requests: Counter;
  responses: Counter;
  dropped: Counter;
  overload: Counter;
  timeouts: Counter;
  server: Gauge;
  client: Gauge;
}

function sentBy(via: { host: string; port?: number | undefined }): string {
  return `${via.host.toLowerCase()}:${via.port ?? ''}`;
}

/** Server transaction key (17.2.3), or the RFC 2543 key when the branch lacks the magic cookie. */
export function serverTransactionKey(req: SipRequest): string | undefined {
  const via = req.via[0];
  if (!via) return undefined;
  const method = req.method === 'ACK' ? 'INVITE' : req.method;
  const branch = via.branch;
  if (branch && branch.startsWith(MAGIC_COOKIE)) return `${branch}\u0000${sentBy(via)}\u0000${method}`;
  // 17.2.3, RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number, top Via and method. The To
  // tag is left out so that the ACK (carrying the tag of our response) finds the INVITE's transaction.
  return [
    '2543',
    String(req.uri),
    req.from?.tag ?? '',
    req.callId ?? '',
    req.cseq?.seq ?? '',
    `${via.transport}/${sentBy(via)};${branch ?? ''}`,
    method,
  ].join('\u0000');
}

/** Client transaction key (17.1.3): top Via branch and CSeq method. */
export function clientTransactionKey(msg: SipRequest | SipResponse): string | undefined {
  const branch = msg.via[0]?.branch;
  const method = msg.cseq?.method;
  if (!branch || !method) return undefined;
  return `${branch}\u0000${method}`;
}

const CLIENT_SIDE = Object.freeze({ side: 'client' });

/**
 * Slots of the fan-out transaction table to begin with: room for a notifier's default window of 1,024
 * NOTIFYs in flight at half load, so that the table is not resized as each burst comes and goes.
 */
const FINALS_CAPACITY = 2048;

/** RFC 3261 section 17 transaction layer. */
export class TransactionLayer {
  readonly clock: Clock;
  readonly timers: TimerSettings;
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  /**
   * {@link FinalOnlyClientTransaction}s by their top Via branch alone (a key that needs no string built for
   * it); a response reaches one when its CSeq method is the transaction's (17.1.3). Not a `Map`: one of
   * these starts and ends per NOTIFY of a fan-out, and a `Map` under that churn keeps every transaction
   * alive through young collections (see {@link FlatStringMap}).
   */
  private readonly finals = new FlatStringMap<FinalOnlyClientTransaction>(FINALS_CAPACITY);
  /** The first Timer E and Timer F of every {@link FinalOnlyClientTransaction} (17.1.2.2). */
  private readonly finalTimers: OffsetTimers;
  private readonly ctx: TransactionContext;
  private readonly user: TransactionLayerUser;
  private readonly transport: TransactionTransport;
  private readonly maxServers: number;
  private readonly maxClients: number;
  private readonly m: LayerMetrics;
  private readonly methodLabels = new Map<string, { method: string }>();
  private readonly queues = new Map<number, DelayQueue>();
  /**
   * Timer K of {@link FinalOnlyClientTransaction}s (RFC 3261 section 17.1.2.2): keys of completed ones, in
   * two generations swapped every T4, so a key is absorbed for between T4 and 2*T4 after its final response.
   */
  private absorbing = new Set<string>();
  private absorbed = new Set<string>();
  private absorbSwapAt = 0;
  private readonly completedHook = (id: string): void => this.absorb(id);

  constructor(o: TransactionLayerOptions) {
    this.clock = o.clock ?? systemClock;
    this.timers = { ...defaultTimers, ...o.timers };
    this.user = o.user;
    this.transport = o.transport;
    this.maxServers = o.maxServerTransactions ?? 1_000_000;
    this.maxClients = o.maxClientTransactions ?? 100_000;
    const metrics = o.metrics ?? new MetricsRegistry();
    this.m = {
      requests: metrics.counter('switchhook_sip_requests_received_total', 'SIP requests received, by method.'),
      responses: metrics.counter('switchhook_sip_responses_received_total', 'SIP responses received.'),
      dropped: metrics.counter('switchhook_sip_dropped_total', 'SIP messages dropped, by reason.'),
      overload: metrics.counter('switchhook_sip_overload_total', 'Requests refused with 503 because the transaction table was full.'),
      timeouts: metrics.counter('switchhook_sip_transaction_timeouts_total', 'Client transactions ended by Timer B or F.'),
      server: metrics.gauge('switchhook_sip_server_transactions', 'Live server transactions.'),
      client: metrics.gauge('switchhook_sip_client_transactions', 'Live client transactions.'),
    };
    this.finalTimers = new OffsetTimers(this.clock, [this.timers.T1, 64 * this.timers.T1]);
    this.ctx = {
      transport: o.transport,
      clock: this.clock,
      timers: this.timers,
      setTimer: (ms, fn) => this.setTimer(ms, fn),
      terminated: (tx) => this.remove(tx),
      timedOut: (method) => this.m.timeouts.inc(this.methodLabel(method)),
    };
  }

  /** Live server transactions. */
  get serverCount(): number {
    return this.servers.size;
  }

  /** Live client transactions. */
  get clientCount(): number {
    return this.clients.size + this.finals.size;
  }

  /** Find a live server transaction for a request (e.g. the INVITE a CANCEL or Replaces targets). */
  findServer(req: SipRequest, method?: string): ServerTransaction | undefined {
    const key = serverTransactionKey(req);
    if (!key) return undefined;
    if (method === undefined) return this.servers.get(key);
    return this.servers.get(key.slice(0, key.lastIndexOf('\u0000') + 1) + method);
  }

  /** Entry point for every request the transport received (17.2.3). */
  receiveRequest(req: SipRequest, source: Source): void {
    this.m.requests.inc(this.methodLabel(req.method));
    const key = serverTransactionKey(req);
    if (key === undefined) {
      this.m.dropped.inc({ reason: 'no_via' });
      return;
    }
    const existing = this.servers.get(key);
    if (existing) {
      // The key holds the method (ACK mapped to INVITE), so only ACK needs a second look.
      if (req.method !== 'ACK') existing.receiveRequest(req);
      else if (existing.kind === TransactionKind.InviteServer) existing.receiveRequest(req);
      else this.user.onAck(req, source);
      return;
    }
    if (req.method === 'ACK') {
      this.user.onAck(req, source);
      return;
    }
    const destination = responseDestination(req.via[0], source);
    if (this.servers.size >= this.maxServers) {
      this.m.overload.inc();
      const res = createResponse(req, 503, 'Service Unavailable');
      res.setHeader('Retry-After', '5');
      this.sendStateless(res, destination);
      return;
    }
    if (req.method === 'INVITE') {
      const tx = new InviteServerTransaction(key, this.ctx, destination, req, source);
      this.servers.set(key, tx);
      this.user.onRequest(req, tx);
    } else {
      const tx = new NonInviteServerTransaction(key, this.ctx, destination, req, source);
      this.servers.set(key, tx);
      if (req.method === 'CANCEL') this.handleCancel(req, tx);
      else this.user.onRequest(req, tx);
    }
    this.m.server.set(this.servers.size);
  }

  /**
   * RFC 3261 section 9.2: a CANCEL matching a pending INVITE is answered 200, the INVITE's TU is told
   * (it may answer the INVITE itself), and the INVITE gets 487 if still unanswered; otherwise 481.
   */
  private handleCancel(cancel: SipRequest, tx: NonInviteServerTransaction): void {
    const invite = this.findServer(cancel, 'INVITE');
    if (!invite || invite.kind !== TransactionKind.InviteServer) {
      tx.respond(createResponse(cancel, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    tx.respond(createResponse(cancel, 200, 'OK'));
    if (invite.state !== InviteServerState.Proceeding) return;
    invite.cancelled = true;
    this.user.onCancel?.(cancel, invite);
    if (invite.state === InviteServerState.Proceeding && !invite.terminated) {
      invite.respond(createResponse(invite.request, 487, 'Request Terminated'));
    }
  }

  /** Entry point for every response the transport received (17.1.3). */
  receiveResponse(res: SipResponse, source: Source): void {
    this.m.responses.inc();
    const branch = res.via[0]?.branch;
    if (branch !== undefined && this.finals.size > 0) {
      const fin = this.finals.get(branch);
      if (fin !== undefined && fin.method === res.cseq?.method) {
        fin.receiveResponse(res);
        return;
      }
    }
    const key = clientTransactionKey(res);
    const tx = key === undefined ? undefined : this.clients.get(key);
    if (tx) {
      tx.receiveResponse(res);
      return;
    }
    if (key !== undefined && this.absorbs(key)) return;
    this.user.onStrayResponse(res, source);
  }

  /**
   * The live {@link FinalOnlyClientTransaction} a response (not yet validated) answers, by its top Via
   * branch and CSeq method (17.1.3), so that its validation can take the From and To it copied from the
   * request's bytes (`SipMessage.validate`) and {@link receiveFinal} need not look it up again; undefined
   * for any other response.
   * @throws SipParseError when the response's Via or CSeq is malformed.
   */
  finalFor(res: SipResponse): FinalOnlyClientTransaction | undefined {
    if (this.finals.size === 0) return undefined;
    const branch = res.via[0]?.branch;
    const tx = branch === undefined ? undefined : this.finals.get(branch);
    return tx === undefined || tx.method !== res.cseq.method ? undefined : tx;
  }

  /** A response {@link finalFor} matched to `tx`, validated: as {@link receiveResponse} without the lookup. */
  receiveFinal(res: SipResponse, tx: FinalOnlyClientTransaction): void {
    this.m.responses.inc();
    tx.receiveResponse(res);
  }

  /**
   * Start a client transaction for `req` (its top Via must carry a unique `z9hG4bK` branch) towards
   * `destination`. ACK is not a transaction: send it with {@link sendStateless}.
   * @throws SipTransactionError `SIP_ERR_TX_OVERLOAD` when the client table is full, `SIP_ERR_TX_BRANCH`
   * when the branch is missing or already in use.
   */
  request(req: SipRequest, destination: Destination, user: ClientTransactionUser): ClientTransaction {
    const key = this.clientKey(req);
    const tx =
      req.method === 'INVITE'
        ? new InviteClientTransaction(key, this.ctx, destination, req, user)
        : new NonInviteClientTransaction(key, this.ctx, destination, req, user);
    this.clients.set(key, tx);
    this.m.client.set(this.clientCount);
    tx.start();
    return tx;
  }

  /**
   * Start a lean non-INVITE client transaction (RFC 3261 section 17.1.2, see
   * {@link FinalOnlyClientTransaction}) for fan-out: `user.onFinal` hears the outcome once (the final
   * response, 408 on Timer F, 503 on a transport failure; the latter may come before this returns).
   * `req` may be the request already written to bytes: no message object is built for it, it is keyed by
   * the branch and method given and goes to the transport as those bytes (`TransactionTransport.sendBytes`).
   * @throws SipTransactionError as {@link request}; `SIP_ERR_TX_METHOD` for INVITE.
   */
  requestFinal(req: SipRequest | RequestBytes, destination: Destination, user: FinalResponseUser): FinalOnlyClientTransaction {
    if (req.method === 'INVITE') throw new SipTransactionError('SIP_ERR_TX_METHOD', 'INVITE needs a full client transaction');
    const branch = 'bytes' in req ? req.branch : req.via[0]?.branch;
    const method = 'bytes' in req ? req.method : req.cseq?.method;
    const key = this.clientKeyOf(branch, method, req.method, true);
    const tx = new FinalOnlyClientTransaction(key, this.ctx, destination, req, user, this.completedHook, this.finalTimers);
    this.finals.set(key, tx);
    this.m.client.set(this.clientCount);
    tx.start();
    return tx;
  }

  /** The table key of a new client transaction, after the checks of {@link request}. */
  private clientKey(req: SipRequest): string {
    return this.clientKeyOf(req.via[0]?.branch, req.cseq?.method, req.method);
  }

  /**
   * {@link clientKey} from the top Via branch and CSeq method (17.1.3) of a request of `method`; for a
   * {@link FinalOnlyClientTransaction} (`final`) the branch alone, kept apart from the others.
   */
  private clientKeyOf(branch: string | undefined, cseqMethod: string | undefined, method = cseqMethod, final = false): string {
    if (method === 'ACK') throw new SipTransactionError('SIP_ERR_TX_ACK', 'ACK is sent without a transaction');
    if (!branch || !cseqMethod || !branch.startsWith(MAGIC_COOKIE)) {
      throw new SipTransactionError('SIP_ERR_TX_BRANCH', 'request needs a top Via with a z9hG4bK branch');
    }
    const key = final ? branch : `${branch}\u0000${cseqMethod}`;
    if (final ? this.finals.has(key) : this.clients.has(key)) throw new SipTransactionError('SIP_ERR_TX_BRANCH', `branch already in use: ${branch}`);
    if (this.clientCount >= this.maxClients) {
      this.m.overload.inc(CLIENT_SIDE);
      throw new SipTransactionError('SIP_ERR_TX_OVERLOAD', 'client transaction table full');
    }
    return key;
  }

  /** The frozen `{method}` label set of a method (made once; odd methods share one). */
  private methodLabel(method: string): { method: string } {
    let labels = this.methodLabels.get(method);
    if (!labels) {
      labels = Object.freeze({ method: method.length <= 16 ? method : 'other' });
      if (this.methodLabels.size < 64) this.methodLabels.set(method, labels);
    }
    return labels;
  }

  /** Timer K of a completed {@link FinalOnlyClientTransaction} (keyed by `branch`): its key absorbs retransmitted finals. */
  private absorb(branch: string): void {
    const tx = this.finals.get(branch);
    if (!tx) return;
    this.swapAbsorb();
    this.absorbing.add(`${branch}\u0000${tx.method}`);
  }

  private absorbs(key: string): boolean {
    this.swapAbsorb();
    return this.absorbing.has(key) || this.absorbed.has(key);
  }

  private swapAbsorb(): void {
    const now = this.clock.now();
    if (now < this.absorbSwapAt) return;
    // Two generations old (or the clock jumped): drop both; else the current one becomes the old one.
    this.absorbed = now - this.absorbSwapAt >= this.timers.T4 ? new Set() : this.absorbing;
    this.absorbing = new Set();
    this.absorbSwapAt = now + this.timers.T4;
  }

  /** Send without a transaction: ACK for 2xx, 2xx retransmissions, stateless answers (18.1.1, 18.2.2). */
  sendStateless(msg: SipRequest | SipResponse, destination: Destination): boolean {
    try {
      const sent = this.transport.send(msg, destination);
      if (sent) sent.catch(() => this.m.dropped.inc({ reason: 'send_failed' }));
      return true;
    } catch {
      this.m.dropped.inc({ reason: 'send_failed' });
      return false;
    }
  }

  /** Dispose every transaction (stack shutdown); the tables end empty and no timer is left. */
  close(): void {
    for (const tx of [...this.servers.values()]) tx.dispose();
    for (const tx of [...this.clients.values()]) tx.dispose();
    for (const tx of this.finals.values()) tx.dispose();
    this.finalTimers.clear();
    for (const q of this.queues.values()) q.clear();
    this.queues.clear();
    this.absorbing.clear();
    this.absorbed.clear();
  }

  /** Transaction timers: one {@link DelayQueue} per distinct duration (a handful: T1 multiples, T4, 64*T1). */
  private setTimer(ms: number, fn: () => void): TimerHandle {
    let q = this.queues.get(ms);
    if (!q) {
      if (this.queues.size >= 64) return this.clock.setTimer(ms, fn);
      q = new DelayQueue(this.clock, ms);
      this.queues.set(ms, q);
    }
    return q.add(fn);
  }

  private remove(tx: Transaction): void {
    switch (tx.kind) {
      case TransactionKind.InviteServer:
      case TransactionKind.NonInviteServer:
        if (this.servers.get(tx.id) === tx) this.servers.delete(tx.id);
        this.m.server.set(this.servers.size);
        break;
      case TransactionKind.InviteClient:
      case TransactionKind.NonInviteClient:
        // A fan-out transaction is looked for in its own table only (its key is hashed there already).
        if (tx instanceof FinalOnlyClientTransaction) {
          if (this.finals.get(tx.id) === tx) this.finals.delete(tx.id);
        } else if (this.clients.get(tx.id) === tx) this.clients.delete(tx.id);
        this.m.client.set(this.clientCount);
        break;
      default:
        throw new SipTransactionError('SIP_ERR_TX_STATE', `unknown transaction kind ${String(tx.kind)}`);
    }
  }
}
