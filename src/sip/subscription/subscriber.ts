/**
 * The subscriber side of RFC 6665: send SUBSCRIBE, accept NOTIFYs (also one arriving before the 2xx,
 * section 4.1.2.4), follow Subscription-State, refresh before expiry, unsubscribe (Expires 0), Timer N
 * (4.1.2.2) when no NOTIFY follows. REFER's implicit subscription (RFC 3515) is followed the same way.
 */
import { EventEmitter } from 'node:events';

import type { DigestClientCredentials } from '../auth/digest.js';
import { Dialog } from '../dialog/dialog.js';
import type { SipRequest } from '../message/index.js';
import type { TimerHandle } from '../transaction/clock.js';
import type { IncomingRequest } from '../ua/app.js';
import type { RequestOptions, RequestResult, SipUserAgent } from '../ua/user-agent.js';
import {
  SubscriptionState,
  formatEventHeader,
  parseEventHeader,
  parseSubscriptionState,
  type SubscriptionStateValue,
} from './subscription-state.js';

/** What to subscribe to. */
export interface SubscribeOptions {
  uri: string;
  /** Event package name. */
  event: string;
  /** Event id (RFC 6665 section 8.2.1). */
  id?: string;
  /** Requested duration, seconds (default 3600). */
  expires?: number;
  from?: string;
  to?: string;
  accept?: string[];
  credentials?: DigestClientCredentials;
  headers?: Record<string, string>;
  /** Refresh automatically before expiry (default true). */
  refresh?: boolean;
}

/** Client subscription states (RFC 6665 section 4.1.2, figure in 4.1.3). */
export enum ClientSubscriptionState {
  /** 4.1.2.1: SUBSCRIBE sent, nothing heard yet. */
  NotifyWait = 'notify-wait',
  /** 4.1.3: NOTIFY said pending. */
  Pending = 'pending',
  /** 4.1.3: NOTIFY said active. */
  Active = 'active',
  /** 4.1.3: ended. */
  Terminated = 'terminated',
}

/**
 * One subscription this UA holds. Emits `notify` (IncomingRequest, SubscriptionStateValue),
 * `terminated` (reason).
 */
export class ClientSubscription extends EventEmitter {
  state = ClientSubscriptionState.NotifyWait;
  dialog: Dialog | undefined;
  /** Absolute expiry on the clock, ms. */
  expiresAt = 0;
  /** Why it ended. */
  reason: string | undefined;
  /** @internal */ request: SipRequest | undefined;
  /** @internal */ refreshTimer: TimerHandle | undefined;
  /** @internal */ timerN: TimerHandle | undefined;
  /** @internal */ notified = false;

  constructor(
    private readonly owner: Subscriber,
    readonly event: string,
    public id: string | undefined,
    /** Call-ID and our tag, known once the SUBSCRIBE is built. */
    public callId: string,
    public localTag: string,
    readonly requestedExpires: number,
    readonly options: SubscribeOptions | undefined,
  ) {
    super();
  }

  /** Re-SUBSCRIBE in the dialog now (RFC 6665 section 4.1.2.2). */
  refresh(expires = this.requestedExpires): Promise<void> {
    return this.owner.refresh(this, expires);
  }

  /** SUBSCRIBE with Expires 0 and wait for the final NOTIFY (RFC 6665 section 4.1.2.3). */
  unsubscribe(): Promise<void> {
    return this.owner.refresh(this, 0);
  }
}

/** Options of a {@link Subscriber}. */
export interface SubscriberOptions {
  /** Refresh this many seconds before expiry, at most half the duration (default 30). */
  refreshMarginSec?: number;
}

/** RFC 6665 subscriber for a {@link SipUserAgent}. */
export class Subscriber {
  private readonly byDialog = new Map<string, ClientSubscription>();
  private readonly pending = new Map<string, ClientSubscription>();
  /** Subscriptions per dialog: the dialog ends with its last usage (RFC 5057). */
  private readonly dialogUse = new Map<string, number>();
  private readonly margin: number;

  constructor(
    private readonly ua: SipUserAgent,
    o: SubscriberOptions = {},
  ) {
    this.margin = o.refreshMarginSec ?? 30;
    ua.addDialogResolver((req) => this.resolve(req));
    ua.use('NOTIFY', (req, res, next) => {
      const sub = req.dialog ? this.find(req.dialog.id, req.get('event')) : undefined;
      if (!sub) {
        next();
        return;
      }
      this.onNotify(sub, req, (status, reason) => res.send(status, reason));
    });
  }

  /** Live subscriptions. */
  get size(): number {
    return this.byDialog.size + this.pending.size;
  }

  /** Start a subscription; the returned object reports NOTIFYs and its end. */
  subscribe(o: SubscribeOptions): ClientSubscription {
    const expires = o.expires ?? 3600;
    const sub = new ClientSubscription(this, o.event.toLowerCase(), o.id, '', '', expires, o);
    void this.ua
      .request({
        method: 'SUBSCRIBE',
        uri: o.uri,
        ...(o.from !== undefined ? { from: o.from } : {}),
        ...(o.to !== undefined ? { to: o.to } : {}),
        onRequest: (req) => {
          this.pending.delete(`${sub.callId}\u0000${sub.localTag}`);
          sub.request = req;
          sub.callId = req.callId;
          sub.localTag = req.from.tag ?? '';
          if (sub.state !== ClientSubscriptionState.Terminated && !sub.dialog) this.pending.set(`${sub.callId}\u0000${sub.localTag}`, sub);
        },
        headers: {
          ...o.headers,
          Event: formatEventHeader({ name: sub.event, ...(o.id !== undefined ? { id: o.id } : {}) }),
          Expires: String(expires),
          ...(o.accept ? { Accept: o.accept.join(', ') } : {}),
        },
        ...(o.credentials ? { credentials: o.credentials } : {}),
      })
      .then((r) => this.onInitialResponse(sub, r), () => this.end(sub, 'error'));
    return sub;
  }

  /**
   * Send REFER (RFC 3515) and follow its implicit subscription: the returned subscription reports the
   * NOTIFYs (message/sipfrag bodies) and ends with the final one. `ready` resolves with the REFER's result.
   */
  refer(o: Omit<RequestOptions, 'method'> & { referTo: string }): ClientSubscription & { ready: Promise<RequestResult> } {
    const inDialog = o.dialog !== undefined;
    const sub = new ClientSubscription(this, 'refer', undefined, '', '', 60, { uri: '', event: 'refer', refresh: false });
    const { referTo, ...rest } = o;
    const ready = this.ua.request({
      ...rest,
      method: 'REFER',
      headers: { ...rest.headers, 'Refer-To': referTo },
      onRequest: (req) => {
        rest.onRequest?.(req);
        sub.request = req;
        sub.callId = req.callId;
        sub.localTag = req.from.tag ?? '';
        if (inDialog) {
          // RFC 3515 section 2.4.6: inside a dialog the NOTIFYs carry id=<REFER CSeq>.
          sub.id = String(req.cseq.seq);
          sub.dialog = o.dialog;
          this.byDialog.set(this.key(o.dialog!.id, 'refer', sub.id), sub);
          this.dialogUse.set(o.dialog!.id, (this.dialogUse.get(o.dialog!.id) ?? 0) + 1);
        } else {
          this.pending.set(`${sub.callId}\u0000${sub.localTag}`, sub);
        }
      },
    });
    ready.then((r) => this.onInitialResponse(sub, r), () => this.end(sub, 'error'));
    return Object.assign(sub, { ready });
  }

  private key(dialogId: string, event: string, id: string | undefined): string {
    return `${dialogId}\u0000${event}\u0000${id ?? ''}`;
  }

  private find(dialogId: string, eventHeader: string | undefined): ClientSubscription | undefined {
    const ev = parseEventHeader(eventHeader);
    if (!ev) return undefined;
    return this.byDialog.get(this.key(dialogId, ev.name, ev.id));
  }

  /** A NOTIFY for a SUBSCRIBE whose 2xx has not arrived: it creates the dialog (RFC 6665 section 4.1.2.4). */
  private resolve(req: SipRequest): Dialog | undefined {
    if (req.method !== 'NOTIFY') return undefined;
    const sub = this.pending.get(`${req.callId}\u0000${req.to.tag ?? ''}`);
    if (!sub || !sub.request) return undefined;
    const ev = parseEventHeader(req.header('event'));
    if (!ev || ev.name !== sub.event || ev.id !== sub.id) return undefined;
    try {
      const d = Dialog.fromResponse(sub.request, req, sub.request.header('contact') ?? this.ua.contactFor('udp'));
      d.remoteSeq = undefined;
      this.ua.addDialog(d);
      this.bind(sub, d);
      return d;
    } catch {
      return undefined;
    }
  }

  private bind(sub: ClientSubscription, d: Dialog): void {
    sub.dialog = d;
    this.pending.delete(`${sub.callId}\u0000${sub.localTag}`);
    this.byDialog.set(this.key(d.id, sub.event, sub.id), sub);
    this.dialogUse.set(d.id, (this.dialogUse.get(d.id) ?? 0) + 1);
  }

  private onInitialResponse(sub: ClientSubscription, r: RequestResult): void {
    sub.request = r.request;
    const status = r.response.status;
    if (status >= 300) {
      // RFC 6665 section 4.1.2.1: a failure means no subscription (423 is retried once with Min-Expires).
      const min = Number(r.response.header('min-expires'));
      if (status === 423 && sub.options && Number.isFinite(min) && min > sub.requestedExpires) {
        this.pending.delete(`${sub.callId}\u0000${sub.localTag}`);
        const again = this.subscribe({ ...sub.options, expires: min });
        again.on('notify', (...a) => sub.emit('notify', ...a));
        again.on('terminated', (reason) => this.end(sub, reason));
        return;
      }
      this.end(sub, `rejected:${status}`);
      return;
    }
    if (sub.state === ClientSubscriptionState.Terminated) return;
    if (!sub.dialog) {
      let d = this.ua.findDialog(sub.callId, sub.localTag, r.response.to.tag ?? '');
      if (!d) {
        try {
          d = Dialog.fromResponse(r.request, r.response, r.request.header('contact') ?? this.ua.contactFor('udp'));
          this.ua.addDialog(d);
        } catch {
          this.end(sub, 'error');
          return;
        }
      }
      this.bind(sub, d);
    }
    const granted = r.response.expires ?? sub.requestedExpires;
    this.setExpiry(sub, granted);
    if (!sub.notified) this.startTimerN(sub);
  }

  private startTimerN(sub: ClientSubscription): void {
    sub.timerN?.cancel();
    sub.timerN = this.ua.clock.setTimer(64 * this.ua.transactions.timers.T1, () => {
      sub.timerN = undefined;
      if (!sub.notified || sub.state === ClientSubscriptionState.NotifyWait) this.end(sub, 'timeout');
    });
  }

  private setExpiry(sub: ClientSubscription, seconds: number): void {
    sub.expiresAt = this.ua.clock.now() + seconds * 1000;
    sub.refreshTimer?.cancel();
    sub.refreshTimer = undefined;
    if (seconds <= 0 || !sub.options || sub.options.refresh === false) return;
    const lead = Math.min(this.margin, seconds / 2);
    sub.refreshTimer = this.ua.clock.setTimer((seconds - lead) * 1000, () => {
      sub.refreshTimer = undefined;
      void this.refresh(sub, sub.requestedExpires);
    });
  }

  private onNotify(sub: ClientSubscription, req: IncomingRequest, reply: (status: number, reason?: string) => void): void {
    const raw = req.get('subscription-state');
    if (raw === undefined) {
      reply(400, 'Missing Subscription-State');
      return;
    }
    let st: SubscriptionStateValue;
    try {
      st = parseSubscriptionState(raw);
    } catch {
      reply(400, 'Bad Subscription-State');
      return;
    }
    reply(200);
    sub.notified = true;
    sub.timerN?.cancel();
    sub.timerN = undefined;
    sub.emit('notify', req, st);
    switch (st.state) {
      case SubscriptionState.Active:
      case SubscriptionState.Pending:
        sub.state = st.state === SubscriptionState.Active ? ClientSubscriptionState.Active : ClientSubscriptionState.Pending;
        // 4.1.2.2: the expires parameter is authoritative.
        if (st.expires !== undefined) this.setExpiry(sub, st.expires);
        break;
      case SubscriptionState.Terminated:
        this.end(sub, st.reason ?? 'terminated');
        break;
      default:
        // 4.1.3: unknown states are treated as pending... only while nothing better is known.
        break;
    }
  }

  /** Refresh (or with 0 remove) a subscription (RFC 6665 sections 4.1.2.2 and 4.1.2.3). */
  async refresh(sub: ClientSubscription, expires: number): Promise<void> {
    if (sub.state === ClientSubscriptionState.Terminated || !sub.dialog) return;
    const r = await this.ua.request({
      method: 'SUBSCRIBE',
      dialog: sub.dialog,
      headers: {
        Event: formatEventHeader({ name: sub.event, ...(sub.id !== undefined ? { id: sub.id } : {}) }),
        Expires: String(expires),
      },
      ...(sub.options?.credentials ? { credentials: sub.options.credentials } : {}),
    });
    const status = r.response.status;
    if (status === 481 || status === 408 || (status >= 300 && expires === 0)) {
      this.end(sub, status === 481 ? 'noresource' : `failed:${status}`);
      return;
    }
    if (status >= 300) return;
    if (expires === 0) {
      // Wait for the final NOTIFY, at most Timer N.
      sub.refreshTimer?.cancel();
      sub.refreshTimer = undefined;
      sub.notified = false;
      this.startTimerN(sub);
      sub.state = ClientSubscriptionState.NotifyWait;
      return;
    }
    this.setExpiry(sub, r.response.expires ?? expires);
  }

  private end(sub: ClientSubscription, reason: string): void {
    if (sub.state === ClientSubscriptionState.Terminated) return;
    sub.state = ClientSubscriptionState.Terminated;
    sub.reason = reason;
    sub.refreshTimer?.cancel();
    sub.timerN?.cancel();
    sub.refreshTimer = undefined;
    sub.timerN = undefined;
    this.pending.delete(`${sub.callId}\u0000${sub.localTag}`);
    if (sub.dialog) {
      this.byDialog.delete(this.key(sub.dialog.id, sub.event, sub.id));
      const uses = (this.dialogUse.get(sub.dialog.id) ?? 1) - 1;
      if (uses > 0) this.dialogUse.set(sub.dialog.id, uses);
      else {
        this.dialogUse.delete(sub.dialog.id);
        if (sub.dialog.usage !== 'INVITE') this.ua.removeDialog(sub.dialog, 'subscription-ended');
      }
    }
    sub.emit('terminated', reason);
  }

  /** Forget every subscription (shutdown); no requests are sent. */
  close(): void {
    for (const s of [...this.byDialog.values(), ...this.pending.values()]) this.end(s, 'shutdown');
  }

}
