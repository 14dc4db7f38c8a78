/**
 * The user agent core (RFC 3261 section 8, 12-15) on top of the transaction layer: request dispatch through
 * middleware with default answers, dialogs for INVITE (2xx retransmission until ACK, 13.3.1.4; ACK for 2xx,
 * 13.2.2.4), BYE, CANCEL, OPTIONS, 481 for unknown dialogs, bad-request answers, and the UAC side with
 * digest retry. It sends through any {@link TransactionTransport}; {@link SipStack} gives it real sockets.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';

import { utf8Write } from '../../util/buffer-text.js';
import { MetricsRegistry, type Counter } from '../../util/metrics.js';
import { createLogger } from '../../util/log.js';
import { DigestClient, SipAuthError, type DigestClientCredentials } from '../auth/digest.js';
import { Dialog, DialogState, SipDialogError, dialogKey } from '../dialog/dialog.js';
import {
  NameAddr,
  SipError,
  SipParseError,
  SipRequest,
  SipResponse,
  SipUri,
  createRequest,
  createResponse,
  generateBranch,
  parseMessage,
  type SipMessage,
} from '../message/index.js';
import { buildCancel } from '../transaction/builders.js';
import { systemClock, type Clock, type TimerHandle } from '../transaction/clock.js';
import type { ClientTransaction, FinalOnlyClientTransaction } from '../transaction/client-transaction.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { TimerSettings } from '../transaction/timers.js';
import { TransactionLayer } from '../transaction/transaction-layer.js';
import { TransactionKind } from '../transaction/transaction.js';
import {
  isReliable,
  responseDestination,
  type Destination,
  type RequestBytes,
  type SipProtocol,
  type Source,
  type TransactionTransport,
} from '../transaction/transport-port.js';
import { IncomingRequest, OutgoingResponse, applyOptions, type MessageOptions, type Middleware } from './app.js';
import { literalTarget, resolveUri } from './resolve.js';
import { viaTransport } from '../transport/types.js';

const log = createLogger('sip.ua');

/** Bytes of each slab requests are written into (Node's own Buffer pool holds 8 KiB). */
const SLAB_BYTES = 16 * 1024;

/**
 * Writes a request's parts (strings as UTF-8, buffers) one after another straight into a slab and hands
 * the request out as a view of it, so no string of the whole request is made and its bytes are not copied
 * again. Requests take consecutive regions of a slab (8-byte aligned, as Node's pool does) until it is
 * full; a slab lives while a request in it does (a transaction keeps its request until the final response,
 * so a lost one may hold its slab for Timer F). A request that outgrows the slab moves to a new one.
 */
class RequestWriter {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** Where the request being written starts, and its end so far. */
  private from = 0;
  private n = 0;

  start(): this {
    this.from = this.n = (this.n + 7) & ~7;
    return this;
  }

  text(s: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (this.n + 3 * s.length > this.slab.length) this.grow(3 * s.length);
    this.n += utf8Write(this.slab, s, this.n);
  }

  bytes(b: Uint8Array): void {
    if (this.n + b.length > this.slab.length) this.grow(b.length);
    this.slab.set(b, this.n);
    this.n += b.length;
  }

  finish(): Buffer {
    return Buffer.from(this.slab.buffer, this.slab.byteOffset + this.from, this.n - this.from);
  }

  /** A new slab with room for `more` bytes after what this request has so far, which moves there. */
  private grow(more: number): void {
    const have = this.n - this.from;
    const slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, have + more));
    if (have > 0) this.slab.copy(slab, 0, this.from, this.n);
    this.slab = slab;
    this.from = 0;
    this.n = have;
  }
}
const requestWriter = new RequestWriter();

let tagPool = Buffer.alloc(0);
let tagAt = 0;

/**
 * A To tag with 48 random bits (RFC 3261 section 19.3 asks for at least 32), drawn from a pooled random
 * buffer so the per-request cost is a slice, not a crypto call.
 */
export function fastTag(): string {
  if (tagAt + 6 > tagPool.length) {
    tagPool = randomBytes(6 * 1024);
    tagAt = 0;
  }
  const tag = tagPool.toString('base64url', tagAt, tagAt + 6);
  tagAt += 6;
  return tag;
}

/** Methods this core knows (RFC 3261 and the extensions implemented in src/sip). */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'MESSAGE',
  'INFO', 'REFER', 'UPDATE', 'PRACK',
]);

/** Options of a {@link SipUserAgent}. */
export interface UserAgentOptions {
  transport: TransactionTransport;
  /** The address this UA advertises (Via sent-by, Contact) for a protocol; undefined if not listening on it. */
  localAddress(protocol: SipProtocol): { host: string; port: number } | undefined;
  clock?: Clock;
  timers?: Partial<TimerSettings>;
  metrics?: MetricsRegistry;
  /** User part of our Contact URI (default `switchhook`). */
  contactUser?: string;
  /** Server / User-Agent header value. */
  userAgent?: string;
  /** Final status when no middleware answered a known, allowed method (default 404). */
  defaultStatus?: number;
  /** How long a non-INVITE request may wait for the application's final answer before 500 (default 30 s). */
  applicationTimeoutMs?: number;
  /** How long an INVITE may wait for the application's final answer before 480 (default 180 s). */
  inviteTimeoutMs?: number;
  maxServerTransactions?: number;
  maxClientTransactions?: number;
  /** Most dialogs kept; new dialog-creating requests beyond it get 503 (default 100,000). */
  maxDialogs?: number;
}

/** A request the UA sends (RFC 3261 section 8.1.1, or 12.2.1.1 inside a dialog). */
export interface RequestOptions extends MessageOptions {
  method: string;
  /** Request-URI (required outside a dialog). */
  uri?: string | SipUri;
  from?: string | NameAddr;
  to?: string | NameAddr;
  callId?: string;
  cseq?: number;
  /** Send inside this dialog (Request-URI, Route, tags and CSeq from it). */
  dialog?: Dialog;
  /** Override next-hop resolution. */
  destination?: Destination;
  /** Answer 401/407 challenges with these (RFC 3261 section 22.2). */
  credentials?: DigestClientCredentials;
  /** Called for each provisional response. */
  onProvisional?: (res: SipResponse) => void;
  /** Abort an INVITE: sends CANCEL (RFC 3261 section 9.1). */
  signal?: AbortSignal;
  /** Add our Contact (default: for INVITE, SUBSCRIBE, REFER, REGISTER). */
  contact?: boolean;
  /** Called with each request as it is sent (the first one, and a retry with credentials). */
  onRequest?: (req: SipRequest) => void;
}

/** Result of {@link SipUserAgent.request}: the final response (408 on timeout, 503 on transport failure). */
export interface RequestResult {
  request: SipRequest;
  response: SipResponse;
  /** The dialog a 2xx to INVITE created (already ACKed). */
  dialog?: Dialog;
}

/** Resolves a request with a To tag to a dialog the UA does not hold yet (e.g. RFC 6665 NOTIFY before 2xx). */
export type DialogResolver = (req: SipRequest) => Dialog | undefined;

interface PendingAck {
  response: SipResponse;
  tx: ServerTransaction;
  interval: number;
  started: number;
  timer: TimerHandle | undefined;
}

/** The SIP user agent core. Emits `dialog` (Dialog), `dialogTerminated` (Dialog, reason), `ack` (IncomingAck). */
export class SipUserAgent extends EventEmitter {
  readonly transactions: TransactionLayer;
  readonly clock: Clock;
  readonly metrics: MetricsRegistry;
  private readonly dialogTable = new Map<string, Dialog>();
  private readonly middleware: Array<{ method: string | undefined; fn: Middleware }> = [];
  private readonly resolvers: DialogResolver[] = [];
  private readonly pendingAcks = new Map<string, PendingAck>();
  private readonly responseHook = (r: SipResponse, q: IncomingRequest): void => this.onResponseSent(r, q);
  private readonly acksSent = new Map<string, { ack: SipRequest; dest: Destination }>();
  private readonly viaPrefixes = new Map<SipProtocol, { host: string; port: number; text: string }>();
  private readonly contacts = new Map<SipProtocol, { host: string; port: number; text: string }>();
  private readonly o: UserAgentOptions;
  private readonly T1: number;
  private readonly T2: number;
  private readonly counters: { bad: Counter; badResponses: Counter; answered: Counter; errors: Counter; stray: Counter };
  private closed = false;

  constructor(o: UserAgentOptions) {
    super();
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.metrics = o.metrics ?? new MetricsRegistry();
    this.transactions = new TransactionLayer({
      transport: o.transport,
      clock: this.clock,
      metrics: this.metrics,
      ...(o.timers ? { timers: o.timers } : {}),
      ...(o.maxServerTransactions !== undefined ? { maxServerTransactions: o.maxServerTransactions } : {}),
      ...(o.maxClientTransactions !== undefined ? { maxClientTransactions: o.maxClientTransactions } : {}),
      user: {
        onRequest: (req, tx) => this.onRequest(req, tx),
        onAck: (req, source) => this.onAck(req, source),
        onStrayResponse: (res) => this.onStrayResponse(res),
        onCancel: (_cancel, invite) => this.onCancel(invite),
      },
    });
    this.T1 = this.transactions.timers.T1;
    this.T2 = this.transactions.timers.T2;
    this.counters = {
      bad: this.metrics.counter('switchhook_sip_bad_requests_total', 'Malformed SIP requests and unreadable messages, by what was done (answered, dropped).'),
      badResponses: this.metrics.counter('switchhook_sip_bad_responses_total', 'Malformed SIP responses, dropped.'),
      answered: this.metrics.counter('switchhook_sip_default_answers_total', 'Requests answered by the UA defaults, by status.'),
      errors: this.metrics.counter('switchhook_sip_middleware_errors_total', 'Middleware errors turned into error responses.'),
      stray: this.metrics.counter('switchhook_sip_stray_responses_total', 'Responses matching no transaction or dialog.'),
    };
  }

  // --- application surface -------------------------------------------------------------------------

  /** Register middleware for every request, or for one method (drachtio-srf `app.use`). */
  use(fn: Middleware): this;
  use(method: string, fn: Middleware): this;
  use(a: string | Middleware, b?: Middleware): this {
    if (typeof a === 'function') this.middleware.push({ method: undefined, fn: a });
    else this.middleware.push({ method: a.toUpperCase(), fn: b! });
    return this;
  }

  /** Add a resolver consulted for in-dialog requests whose dialog is unknown, before answering 481. */
  addDialogResolver(r: DialogResolver): void {
    this.resolvers.push(r);
  }

  /** Methods listed in Allow (RFC 3261 section 20.5). */
  get allow(): string[] {
    const set = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO']);
    for (const m of this.middleware) if (m.method) set.add(m.method);
    return [...set];
  }

  // --- dialogs -------------------------------------------------------------------------------------

  /** Live dialogs. */
  get dialogs(): ReadonlyMap<string, Dialog> {
    return this.dialogTable;
  }

  /** Find a dialog by Call-ID and tags (RFC 3261 section 12). */
  findDialog(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.dialogTable.get(dialogKey(callId, localTag, remoteTag));
  }

  /** Keep a dialog (created by a usage: INVITE here, SUBSCRIBE/REFER in the subscription module). */
  addDialog(d: Dialog): void {
    const max = this.o.maxDialogs ?? 100_000;
    if (this.dialogTable.size >= max && !this.dialogTable.has(d.id)) {
      throw new SipDialogError('SIP_ERR_DIALOG_LIMIT', 'dialog table full', 503);
    }
    this.dialogTable.set(d.id, d);
    this.emit('dialog', d);
  }

  /** End and forget a dialog (RFC 3261 section 15). */
  removeDialog(d: Dialog, reason = 'terminated'): void {
    if (this.dialogTable.get(d.id) !== d) return;
    d.state = DialogState.Terminated;
    this.dialogTable.delete(d.id);
    const p = this.pendingAcks.get(d.id);
    if (p) {
      p.timer?.cancel();
      this.pendingAcks.delete(d.id);
    }
    this.acksSent.delete(d.id);
    this.emit('dialogTerminated', d, reason);
  }

  /** Our Contact for a protocol, `<sip:user@host:port;transport=x>`. */
  contactFor(protocol: SipProtocol): string {
    const a = this.o.localAddress(protocol) ?? this.o.localAddress('udp') ?? { host: '127.0.0.1', port: 5060 };
    // One string per address, shared by every dialog that carries it.
    const cached = this.contacts.get(protocol);
    if (cached && cached.host === a.host && cached.port === a.port) return cached.text;
    const host = a.host.includes(':') ? `[${a.host}]` : a.host;
    const t = protocol === 'udp' ? '' : `;transport=${protocol}`;
    const text = `<sip:${this.o.contactUser ?? 'switchhook'}@${host}:${a.port}${t}>`;
    this.contacts.set(protocol, { host: a.host, port: a.port, text });
    return text;
  }

  // --- receive path --------------------------------------------------------------------------------

  /**
   * Entry point for every parsed message from the transport. `validated` says the transport already ran
   * `validate()` (RFC 3261 section 8.2 checks); otherwise it runs here.
   */
  receive(msg: SipMessage, source: Source, validated = false): void {
    if (this.closed) return;
    // A response to a fan-out request is validated against the request's bytes and goes straight to its
    // transaction (one lookup for both).
    let final: FinalOnlyClientTransaction | undefined;
    if (!validated) {
      try {
        if (msg.isRequest) msg.validate();
        else {
          final = this.transactions.finalFor(msg as SipResponse);
          const sent = final?.request;
          msg.validate(Buffer.isBuffer(sent) ? sent : undefined);
        }
      } catch (err) {
        if (err instanceof SipParseError) {
          this.receiveParseError(err, source);
          return;
        }
        throw err;
      }
    }
    if (msg.isRequest) this.transactions.receiveRequest(msg as SipRequest, source);
    else if (final !== undefined) this.transactions.receiveFinal(msg as SipResponse, final);
    else this.transactions.receiveResponse(msg as SipResponse, source);
  }

  /**
   * A message that failed to parse or validate (RFC 3261 section 8.2.6; RFC 4475): a request whose
   * Via could be read is answered statelessly with the error's status (400, 505, 413...) and a reason
   * naming the fault; anything else is dropped. Requests (and messages too broken to tell) and responses
   * are counted apart: a malformed response is a peer's fault, not a request the daemon refused.
   */
  receiveParseError(err: SipParseError, source: Source): void {
    const partial = err.partial;
    if (partial && !partial.isRequest) {
      this.counters.badResponses.inc();
      log.rateLimited('debug', 'parse-drop', `dropped malformed response from ${source.remoteAddress}: ${err.reason}`);
      return;
    }
    if (!partial || (partial as SipRequest).method === 'ACK') {
      this.counters.bad.inc({ action: 'dropped' });
      log.rateLimited('debug', 'parse-drop', `dropped malformed message from ${source.remoteAddress}: ${err.reason}`);
      return;
    }
    let via;
    try {
      via = partial.via[0];
    } catch {
      via = undefined;
    }
    if (!via) {
      this.counters.bad.inc({ action: 'dropped' });
      return;
    }
    const res = createResponse(partial, err.status ?? 400, err.reason.replace(/[\r\n]+/g, ' ').slice(0, 120));
    this.counters.bad.inc({ action: 'answered' });
    this.transactions.sendStateless(res, responseDestination(via, source));
  }

  private onRequest(msg: SipRequest, tx: ServerTransaction): void {
    const req = new IncomingRequest(msg, this.sourceOf(tx), tx);
    const toTag = msg.to.tag;
    const res = new OutgoingResponse(req, toTag ?? fastTag(), this.responseHook);
    tx.owner = { req, res };
    if (tx.kind === TransactionKind.InviteServer) tx.user = { onTimeout: () => this.emit('ackTimeout', req) };
    // RFC 3261 section 16.3 / 8.2: Max-Forwards 0 -> 483 (OPTIONS may be answered).
    const mf = msg.maxForwards;
    if (mf === 0 && msg.method !== 'OPTIONS') {
      this.answer(res, 483);
      return;
    }
    if (!msg.uri.isSip && msg.uri.scheme !== 'tel') {
      this.answer(res, 416);
      return;
    }
    if (toTag !== undefined) {
      const fromTag = msg.from.tag ?? '';
      let d = this.dialogTable.get(dialogKey(msg.callId, toTag, fromTag));
      if (!d) {
        for (const r of this.resolvers) {
          d = r(msg);
          if (d) break;
        }
      }
      if (!d) {
        // RFC 3261 section 12.2.2: request for an unknown dialog.
        this.answer(res, 481);
        return;
      }
      try {
        d.receiveRequest(msg);
      } catch (err) {
        this.answer(res, err instanceof SipDialogError ? (err.status ?? 500) : 500);
        return;
      }
      req.dialog = d;
    }
    this.runChain(req, res);
  }

  private sourceOf(tx: ServerTransaction): Source {
    return tx.source;
  }

  private runChain(req: IncomingRequest, res: OutgoingResponse): void {
    let i = 0;
    const method = req.method;
    const next = (err?: unknown): void => {
      if (res.finalSent) return;
      if (err !== undefined) {
        this.counters.errors.inc({ method });
        const status = err instanceof SipError && err.status ? err.status : typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
        log.rateLimited('warn', `mw-${method}`, `middleware error on ${method}: ${String((err as Error)?.message ?? err)}`);
        this.answer(res, status >= 300 && status <= 699 ? status : 500);
        return;
      }
      while (i < this.middleware.length) {
        const m = this.middleware[i++]!;
        if (m.method !== undefined && m.method !== method) continue;
        try {
          const r = m.fn(req, res, next);
          if (r instanceof Promise) r.catch((e: unknown) => next(e ?? new Error('rejected')));
        } catch (e) {
          next(e ?? new Error('thrown'));
        }
        return;
      }
      this.defaultAnswer(req, res);
    };
    next();
    if (!res.finalSent && !req.transaction.terminated) {
      // The application answers later; bound the wait so the transaction cannot leak.
      const invite = method === 'INVITE';
      const t = this.clock.setTimer(invite ? (this.o.inviteTimeoutMs ?? 180_000) : (this.o.applicationTimeoutMs ?? 30_000), () => {
        if (!res.finalSent && !req.transaction.terminated) this.answer(res, invite ? 480 : 500, 'No Answer From Application');
      });
      req.deadline = t;
    }
  }


  /** Defaults when no middleware answered (drachtio-srf: 404; 405/501 for methods; OPTIONS 200; BYE 200). */
  private defaultAnswer(req: IncomingRequest, res: OutgoingResponse): void {
    const method = req.method;
    switch (method) {
      case 'OPTIONS':
        // RFC 3261 section 11.2.
        this.answer(res, 200, undefined, {
          headers: { Allow: this.allow.join(', '), Accept: 'application/sdp, text/plain, message/sipfrag', Supported: 'replaces' },
        });
        return;
      case 'BYE':
        if (req.dialog) {
          // RFC 3261 section 15.1.2.
          this.answer(res, 200);
          this.removeDialog(req.dialog, 'bye');
          return;
        }
        this.answer(res, 481);
        return;
      case 'INFO':
        // RFC 6086 section 4.2.2: an Info-Package nobody handles is 469; legacy INFO in a dialog is 200.
        if (!req.dialog) this.answer(res, 481);
        else if (req.get('info-package') !== undefined) this.answer(res, 469, undefined, { headers: { 'Recv-Info': '' } });
        else this.answer(res, 200);
        return;
      default:
        break;
    }
    if (!KNOWN_METHODS.has(method)) this.answer(res, 501);
    else if (!this.allow.includes(method)) this.answer(res, 405, undefined, { headers: { Allow: this.allow.join(', ') } });
    else this.answer(res, this.o.defaultStatus ?? 404);
  }

  private answer(res: OutgoingResponse, status: number, reason?: string, o: MessageOptions = {}): void {
    this.counters.answered.inc({ status: String(status) });
    if (reason !== undefined) res.send(status, reason, o);
    else res.send(status, o);
  }

  /** Every response the application sends passes here: Server header, INVITE dialogs, 2xx retransmission. */
  private onResponseSent(res: SipResponse, req: IncomingRequest): void {
    if (this.o.userAgent) res.setHeader('Server', this.o.userAgent);
    if (res.status >= 200) {
      req.deadline?.cancel();
      req.transaction.owner = undefined;
    }
    if (req.method !== 'INVITE' || res.status === 100) return;
    const msg = req.message;
    const localTag = res.to.tag ?? '';
    if (res.status < 300 && !res.hasHeader('contact')) res.setHeader('Contact', this.contactFor(req.source.protocol));
    if (req.inDialog) {
      // re-INVITE (RFC 3261 section 14.2): the dialog exists; a 2xx still needs its ACK.
      if (req.dialog && res.status >= 200 && res.status < 300) this.retransmit2xx(req.dialog, res, req.transaction);
      return;
    }
    const key = dialogKey(msg.callId, localTag, msg.from.tag ?? '');
    let d = this.dialogTable.get(key);
    if (res.status < 300) {
      if (!d) {
        d = Dialog.fromRequest(msg, localTag, this.contactFor(req.source.protocol), res.status < 200 ? DialogState.Early : DialogState.Confirmed);
        this.addDialog(d);
      } else if (res.status >= 200) d.state = DialogState.Confirmed;
      req.dialog = d;
      if (res.status >= 200) this.retransmit2xx(d, res, req.transaction);
    } else if (d) {
      this.removeDialog(d, 'rejected');
    }
  }

  /** RFC 3261 section 13.3.1.4: retransmit the 2xx (T1 doubling to T2) until the ACK; BYE after 64*T1. */
  private retransmit2xx(d: Dialog, response: SipResponse, tx: ServerTransaction): void {
    const p: PendingAck = { response, tx, interval: this.T1, started: this.clock.now(), timer: undefined };
    this.pendingAcks.get(d.id)?.timer?.cancel();
    this.pendingAcks.set(d.id, p);
    const limit = 64 * this.T1;
    const arm = (): void => {
      const left = p.started + limit - this.clock.now();
      p.timer = this.clock.setTimer(Math.min(p.interval, Math.max(0, left)), () => {
        if (this.pendingAcks.get(d.id) !== p) return;
        if (this.clock.now() - p.started >= limit) {
          this.pendingAcks.delete(d.id);
          this.emit('ackTimeout', d);
          void this.bye(d).catch(() => undefined);
          return;
        }
        if (!isReliable(tx.destination.protocol)) {
          if (!tx.terminated) tx.respond(response);
          else this.transactions.sendStateless(response, tx.destination);
        }
        p.interval = Math.min(p.interval * 2, this.T2);
        arm();
      });
    };
    arm();
  }

  /** RFC 3261 section 9.2: tell the application, then answer the INVITE 487 (which ends its early dialog). */
  private onCancel(invite: ServerTransaction): void {
    const live = invite.owner as { req: IncomingRequest; res: OutgoingResponse } | undefined;
    if (!live) return;
    try {
      live.req.onCancel?.();
    } catch (err) {
      log.warn(`onCancel handler threw: ${String(err)}`);
    }
    if (!live.res.finalSent) this.answer(live.res, 487);
  }

  private onAck(req: SipRequest, source: Source): void {
    const d = this.findDialog(req.callId, req.to.tag ?? '', req.from.tag ?? '');
    if (!d) {
      this.counters.stray.inc({ kind: 'ack' });
      return;
    }
    const p = this.pendingAcks.get(d.id);
    if (p && p.response.cseq.seq === req.cseq.seq) {
      p.timer?.cancel();
      this.pendingAcks.delete(d.id);
      const c = req.contact[0];
      if (c && c !== '*') d.remoteTarget = c.uri.clone();
      this.emit('ack', { dialog: d, message: req, source });
    }
  }

  private onStrayResponse(res: SipResponse): void {
    // RFC 3261 section 13.2.2.4: a retransmitted 2xx after the transaction ended gets the same ACK again.
    if (res.cseq.method === 'INVITE' && res.status >= 200 && res.status < 300) {
      const d = this.findDialog(res.callId, res.from.tag ?? '', res.to.tag ?? '');
      const sent = d && this.acksSent.get(d.id);
      if (sent) {
        this.transactions.sendStateless(sent.ack, sent.dest);
        return;
      }
    }
    this.counters.stray.inc({ kind: 'response' });
  }

  // --- send path -----------------------------------------------------------------------------------

  /**
   * Send a request and resolve with its final response (RFC 3261 section 8.1). Timeouts resolve with a
   * 408 and transport failures with a 503 built locally (8.1.3.1). A 401/407 is answered once with the
   * credentials given (22.2). A 2xx to INVITE creates the dialog and is ACKed (13.2.2.4).
   */
  async request(o: RequestOptions): Promise<RequestResult> {
    if (this.closed) throw new SipError('SIP_ERR_CLOSED', 'user agent closed');
    let req = this.buildRequest(o);
    const hop = o.destination ? undefined : o.dialog ? o.dialog.nextHopUri() : firstHop(req);
    // An IP-literal next hop (every in-dialog request to a phone) goes out without a lookup or an await.
    const dest = o.destination ?? literalTarget(hop!) ?? (await resolveUri(hop!));
    this.addVia(req, dest.protocol);
    o.onRequest?.(req);
    let result = await this.runClient(req, dest, o);
    const digest = o.credentials ? new DigestClient(o.credentials) : undefined;
    for (let attempt = 0; digest && attempt < 2; attempt++) {
      const status = result.response.status;
      if (status !== 401 && status !== 407) break;
      const challenges = result.response.headers(status === 401 ? 'www-authenticate' : 'proxy-authenticate');
      let value: string;
      try {
        value = digest.authorize(challenges, req.method, req.uriString);
      } catch (err) {
        if (err instanceof SipAuthError) break;
        throw err;
      }
      // 22.2: same Call-ID, From tag; CSeq + 1; a new branch.
      req = parseMessage(req.toBuffer()) as SipRequest;
      const seq = o.dialog ? ++o.dialog.localSeq : req.cseq.seq + 1;
      req.setHeader('CSeq', `${seq} ${req.method}`);
      req.setHeader(status === 401 ? 'Authorization' : 'Proxy-Authorization', value);
      req.removeHeader('via');
      this.addVia(req, dest.protocol);
      o.onRequest?.(req);
      result = await this.runClient(req, dest, o);
    }
    return result;
  }

  /**
   * A request in `dialog` as bytes, written straight from the dialog's texts for senders of many
   * (NOTIFY fan-out; RFC 3261 section 12.2.1.1 via {@link Dialog.requestText}): Via with a new branch, the
   * dialog's headers, User-Agent, `headers` (lines ending in CRLF), Content-Type, Content-Length and the
   * body. Uses the next CSeq. Undefined under strict routing (use {@link request} then). The result goes
   * straight to `transactions.requestFinal` (keyed by its branch, sent as these bytes).
   */
  inDialogBytes(
    dialog: Dialog,
    method: string,
    protocol: SipProtocol,
    headers: string,
    body?: { contentType: string; body: string | Buffer | readonly (string | Buffer)[] },
  ): RequestBytes | undefined {
    const branch = generateBranch();
    const head = dialog.requestText(method, this.viaPrefix(protocol) + branch + ';rport\r\n');
    if (head === undefined) return undefined;
    const w = requestWriter.start();
    w.text(head);
    w.text(headers);
    if (this.o.userAgent) w.text('User-Agent: ' + this.o.userAgent + '\r\n');
    if (body === undefined) w.text('Content-Length: 0\r\n\r\n');
    else {
      const b = body.body;
      const parts = typeof b === 'string' || Buffer.isBuffer(b) ? undefined : b;
      let length = 0;
      if (parts === undefined) length = typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : (b as Buffer).length;
      else for (const p of parts) length += typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.length;
      w.text('Content-Type: ' + body.contentType + '\r\nContent-Length: ' + length + '\r\n\r\n');
      if (parts !== undefined) {
        for (const p of parts) {
          if (typeof p === 'string') w.text(p);
          else w.bytes(p);
        }
      } else if (typeof b === 'string') w.text(b);
      else w.bytes(b as Buffer);
    }
    return { bytes: w.finish(), method, branch };
  }

  /** `Via: SIP/2.0/UDP host:port;branch=` for our address on a protocol (made once per address). */
  private viaPrefix(protocol: SipProtocol): string {
    const a = this.o.localAddress(protocol) ?? { host: '127.0.0.1', port: 5060 };
    const cached = this.viaPrefixes.get(protocol);
    if (cached && cached.host === a.host && cached.port === a.port) return cached.text;
    const host = a.host.includes(':') ? `[${a.host}]` : a.host;
    const text = `Via: SIP/2.0/${viaTransport(protocol)} ${host}:${a.port};branch=`;
    this.viaPrefixes.set(protocol, { host: a.host, port: a.port, text });
    return text;
  }

  private buildRequest(o: RequestOptions): SipRequest {
    const method = o.method.toUpperCase();
    let req: SipRequest;
    if (o.dialog) {
      req = o.dialog.createRequest(method, o);
    } else {
      if (o.uri === undefined) throw new SipError('SIP_ERR_REQUEST_URI', `${method} needs a Request-URI`);
      const uri = typeof o.uri === 'string' ? SipUri.parse(o.uri) : o.uri;
      const proto = (uri.transport as SipProtocol | undefined) ?? (uri.scheme === 'sips' ? 'tls' : 'udp');
      const local = this.o.localAddress(proto) ?? this.o.localAddress('udp');
      const from = o.from ?? `<sip:${this.o.contactUser ?? 'switchhook'}@${local?.host ?? 'localhost'}>`;
      req = createRequest({
        method,
        uri,
        from,
        to: o.to ?? `<${uri.toString()}>`,
        ...(o.callId !== undefined ? { callId: o.callId } : {}),
        ...(o.cseq !== undefined ? { cseq: o.cseq } : {}),
      });
      const wantsContact = o.contact ?? ['INVITE', 'SUBSCRIBE', 'REFER', 'REGISTER'].includes(method);
      if (wantsContact) req.setHeader('Contact', this.contactFor(proto));
      applyOptions(req, o);
    }
    if (this.o.userAgent && !req.hasHeader('user-agent')) req.setHeader('User-Agent', this.o.userAgent);
    return req;
  }

  private addVia(req: SipRequest, protocol: SipProtocol): void {
    const a = this.o.localAddress(protocol) ?? { host: '127.0.0.1', port: 5060 };
    const host = a.host.includes(':') ? `[${a.host}]` : a.host;
    req.addHeader('Via', `SIP/2.0/${viaTransport(protocol)} ${host}:${a.port};branch=${generateBranch()};rport`, { first: true });
  }

  private runClient(req: SipRequest, dest: Destination, o: RequestOptions): Promise<RequestResult> {
    return new Promise((resolve) => {
      let done = false;
      let tx: ClientTransaction | undefined;
      const finish = (r: RequestResult): void => {
        if (done) return;
        done = true;
        o.signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = (): void => {
        if (done || req.method !== 'INVITE' || !tx || tx.terminated) return;
        const cancel = buildCancel(req);
        try {
          this.transactions.request(cancel, dest, { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
        } catch (err) {
          log.debug(`CANCEL not sent: ${String(err)}`);
        }
      };
      tx = this.transactions.request(req, dest, {
        onResponse: (res) => {
          if (res.status < 200) {
            if (res.status > 100 && req.method === 'INVITE' && o.dialog === undefined) this.earlyDialog(req, res);
            o.onProvisional?.(res);
            return;
          }
          if (req.method === 'INVITE' && res.status < 300) {
            const d = this.confirmInvite(req, res, dest, o.dialog);
            finish({ request: req, response: res, dialog: d });
            return;
          }
          if (o.dialog && res.status >= 200) o.dialog.receiveResponse(res, req.method);
          if (req.method === 'INVITE' && o.dialog === undefined) {
            const early = this.findDialog(req.callId, req.from.tag ?? '', res.to.tag ?? '');
            if (early && early.state === DialogState.Early) this.removeDialog(early, 'rejected');
          }
          finish({ request: req, response: res });
        },
        onTimeout: () => finish({ request: req, response: createResponse(req, 408, 'Request Timeout') }),
        onTransportError: () => finish({ request: req, response: createResponse(req, 503, 'Service Unavailable') }),
      });
      if (tx.terminated && !done) finish({ request: req, response: createResponse(req, 503, 'Service Unavailable') });
      o.signal?.addEventListener('abort', onAbort);
      if (o.signal?.aborted) onAbort();
    });
  }

  private earlyDialog(req: SipRequest, res: SipResponse): void {
    const tag = res.to.tag;
    if (!tag || res.contact.length === 0) return;
    if (this.findDialog(req.callId, req.from.tag ?? '', tag)) return;
    try {
      this.addDialog(Dialog.fromResponse(req, res, this.contactFor('udp')));
    } catch (err) {
      log.debug(`no early dialog: ${String(err)}`);
    }
  }

  /** 2xx to INVITE: create or confirm the dialog and send the ACK (RFC 3261 section 13.2.2.4). */
  private confirmInvite(req: SipRequest, res: SipResponse, dest: Destination, existing: Dialog | undefined): Dialog | undefined {
    let d = existing ?? this.findDialog(req.callId, req.from.tag ?? '', res.to.tag ?? '');
    if (!d) {
      try {
        d = Dialog.fromResponse(req, res, req.header('contact') ?? this.contactFor(dest.protocol));
      } catch {
        return undefined;
      }
      this.addDialog(d);
    } else {
      d.receiveResponse(res, 'INVITE');
    }
    const ack = d.createRequest('ACK', { cseq: req.cseq.seq });
    this.addVia(ack, dest.protocol);
    void (existing ? Promise.resolve(dest) : resolveUri(d.nextHopUri()).catch(() => dest)).then((ackDest) => {
      this.acksSent.set(d.id, { ack, dest: ackDest });
      this.transactions.sendStateless(ack, ackDest);
    });
    return d;
  }

  /** Send BYE in a dialog and forget it (RFC 3261 section 15.1.1). */
  async bye(d: Dialog, o: MessageOptions = {}): Promise<SipResponse> {
    const result = this.request({ ...o, method: 'BYE', dialog: d });
    this.removeDialog(d, 'bye');
    return (await result).response;
  }

  /** Stop: dispose every transaction and timer, forget dialogs. */
  close(): void {
    this.closed = true;
    for (const p of this.pendingAcks.values()) p.timer?.cancel();
    this.pendingAcks.clear();
    this.transactions.close();
    for (const d of [...this.dialogTable.values()]) this.removeDialog(d, 'shutdown');
    this.acksSent.clear();
  }
}

function firstHop(req: SipRequest): SipUri {
  const route = req.route[0];
  return route ? route.uri : req.uri;
}
