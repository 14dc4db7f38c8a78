/**
 * The notifier side of RFC 6665 for any event package: SUBSCRIBE handling (Expires, 423 with Min-Expires,
 * 489 Bad Event with Allow-Events, 200 then the immediate NOTIFY), refreshes, `Expires: 0` with a final
 * NOTIFY, Subscription-State on every NOTIFY, termination reasons, expiry reaping, and one NOTIFY
 * transaction in flight per subscription with a bounded queue. A failed NOTIFY (408, timeout, 5xx) is
 * retried and only ends the subscription after the configured attempts; a 481 ends it at once.
 * Emits `subscribed` (sub), `refreshed` (sub), `terminated` (sub, reason).
 */
import { EventEmitter } from 'node:events';

import { createLogger } from '../../util/log.js';
import type { Counter, Gauge } from '../../util/metrics.js';
import { Dialog, ownString } from '../dialog/dialog.js';
import type { SipResponse } from '../message/index.js';
import type { FinalResponseUser } from '../transaction/client-transaction.js';
import { systemClock, type Clock, type TimerHandle } from '../transaction/clock.js';
import type { IncomingRequest, Middleware, OutgoingResponse } from '../ua/app.js';
import { literalTarget } from '../ua/resolve.js';
import type { SipUserAgent } from '../ua/user-agent.js';
import type { Destination } from '../transaction/transport-port.js';
import { DeadlineHeap } from './deadline-heap.js';
import { bodyContent, type EventPackage, type NotifyBody } from './event-package.js';
import {
  SubscriptionState,
  formatEventHeader,
  formatSubscriptionState,
  parseEventHeader,
  type TerminationReason,
} from './subscription-state.js';

const log = createLogger('sip.notifier');

/** Options of a {@link Notifier}. */
export interface NotifierOptions {
  packages?: EventPackage[];
  clock?: Clock;
  /** NOTIFY attempts before a failing subscription is ended (default 3; OpenSIPS #380). */
  notifyAttempts?: number;
  /** Wait between NOTIFY attempts, ms (default 5000). */
  notifyRetryMs?: number;
  /** Queued NOTIFYs per subscription at most (at least 1); the oldest non-final one is dropped beyond (default 32). */
  maxQueue?: number;
  /** Live subscriptions at most; new SUBSCRIBEs beyond get 503 (default 100,000). */
  maxSubscriptions?: number;
  /**
   * Merge a {@link Notifier.notify} into a package-rendered NOTIFY still waiting in the queue (default
   * false). Bodies are rendered when sent, so the waiting one carries the newest state: intermediate
   * states may be skipped under load, the final state never is.
   */
  coalesce?: boolean;
  /**
   * NOTIFY transactions in flight over all subscriptions at most (default unlimited). A fan-out to many
   * subscribers then goes out as a window instead of a burst that overflows receive buffers (and waits
   * for Timer E retransmissions, RFC 3261 section 17.1.2.2); subscriptions wait for a slot in order.
   */
  maxInFlight?: number;
}

/**
 * A NOTIFY waiting or in flight. Every entry has all four fields (one object shape): the send path reads
 * entries of a subscription's first NOTIFY and of a fan-out alike, and a second shape there makes V8 drop
 * and recompile that path at the first fan-out.
 */
class QueuedNotify {
  constructor(
    readonly final: boolean,
    readonly reason: TerminationReason | undefined = undefined,
    readonly retryAfter: number | undefined = undefined,
    readonly body: NotifyBody | undefined = undefined,
  ) {}
}

/**
 * An empty array already of V8's elements kind for objects: the first object pushed does not change its
 * map (an empty literal starts as small integers), so code compiled before a fan-out stays valid in it.
 */
function objectArray<T extends object>(): T[] {
  const a: Array<T | null> = [null];
  a.length = 0;
  return a as T[];
}

/** The common NOTIFY queue entry: the package renders the body when it goes out. */
const PLAIN = new QueuedNotify(false);
const NO_QUEUE: readonly QueuedNotify[] = Object.freeze([]);
const IN_FLIGHT = 1;
const FINAL_QUEUED = 2;
const WAITING_SLOT = 4;
const LIVE = 8;
const OWNS_DIALOG = 16;
/** `data` maps, made for the few subscriptions that use them. */
const dataMaps = new WeakMap<NotifierSubscription, Map<string, unknown>>();

/** One subscription held by the notifier. */
export class NotifierSubscription implements FinalResponseUser {
  state: SubscriptionState;
  /** Absolute expiry on the notifier's clock, ms. */
  expiresAt = 0;
  /** Consecutive failed NOTIFY attempts. */
  failures = 0;
  /** The event package's own per-subscription state (one plain object; cheaper than {@link data}). */
  attachment: unknown = undefined;
  /** @internal NOTIFYs waiting or in flight (the first); none: undefined, so an idle subscription holds no array. */
  q: QueuedNotify[] | undefined;
  /** @internal */ retryTimer: TimerHandle | undefined;
  /** @internal The notifier holding it (the outcome of its NOTIFY goes back there). */
  owner: Notifier | undefined;
  /** The next hop (an IP literal; null: it needs a lookup) and the remote target it was found for. */
  private hop: Destination | null | undefined;
  private hopFor: string | undefined;
  private subscriberText: string | undefined;
  /** The boolean states below, one bit each (one small integer in the object instead of five fields). */
  private bits = OWNS_DIALOG;

  /** @internal A NOTIFY of it is in flight. */
  get inFlight(): boolean {
    return (this.bits & IN_FLIGHT) !== 0;
  }
  set inFlight(v: boolean) {
    this.bits = v ? this.bits | IN_FLIGHT : this.bits & ~IN_FLIGHT;
  }

  /** @internal Its final NOTIFY is queued. */
  get finalQueued(): boolean {
    return (this.bits & FINAL_QUEUED) !== 0;
  }
  set finalQueued(v: boolean) {
    this.bits = v ? this.bits | FINAL_QUEUED : this.bits & ~FINAL_QUEUED;
  }

  /** @internal In the notifier's queue for an in-flight slot. */
  get waitingSlot(): boolean {
    return (this.bits & WAITING_SLOT) !== 0;
  }
  set waitingSlot(v: boolean) {
    this.bits = v ? this.bits | WAITING_SLOT : this.bits & ~WAITING_SLOT;
  }

  /** @internal Held by its notifier (false once removed). */
  get live(): boolean {
    return (this.bits & LIVE) !== 0;
  }
  set live(v: boolean) {
    this.bits = v ? this.bits | LIVE : this.bits & ~LIVE;
  }

  /** False when the dialog belongs to another usage (REFER inside an INVITE dialog) and must outlive this. */
  get ownsDialog(): boolean {
    return (this.bits & OWNS_DIALOG) !== 0;
  }
  set ownsDialog(v: boolean) {
    this.bits = v ? this.bits | OWNS_DIALOG : this.bits & ~OWNS_DIALOG;
  }

  constructor(
    readonly dialog: Dialog,
    readonly pkg: EventPackage,
    readonly eventId: string | undefined,
    /** The subscribed resource: the SUBSCRIBE Request-URI as `user@host` (or its full text). */
    readonly resource: string,
    /** The subscriber's address-of-record (From URI). */
    subscriber: string,
    state: SubscriptionState,
  ) {
    this.state = state;
    // Kept only when the dialog's remote URI does not already say it (it does for SUBSCRIBE dialogs).
    if (subscriber !== this.subscriber) this.subscriberText = ownString(subscriber);
  }

  /** The subscriber's address-of-record (From URI): the dialog's remote URI unless given otherwise. */
  get subscriber(): string {
    return this.subscriberText ?? this.dialog.remoteUri.uri.toString();
  }

  /** NOTIFYs waiting or in flight (the first). */
  get queue(): readonly QueuedNotify[] {
    return this.q ?? NO_QUEUE;
  }

  /** Application data by name (made on first use). */
  get data(): Map<string, unknown> {
    let m = dataMaps.get(this);
    if (!m) dataMaps.set(this, (m = new Map()));
    return m;
  }

  /** Event package name. */
  get event(): string {
    return this.pkg.name;
  }

  /** Key: dialog plus event and id (RFC 6665 section 4.1.2.5: several subscriptions may share a dialog). */
  get key(): string {
    return subscriptionKey(this.dialog.id, this.pkg.name, this.eventId);
  }

  /** @internal Where NOTIFYs go: the next hop when it is an IP literal (found again after a target refresh). */
  nextHop(shared: Map<string, Destination>): Destination | null {
    const d = this.dialog;
    const key = d.routeTexts.length > 0 ? d.routeTexts[0]! : d.remoteTargetText;
    if (this.hop === undefined || this.hopFor !== key) {
      const hop = literalTarget(d.nextHopUri());
      if (hop) {
        const k = `${hop.protocol} ${hop.host} ${hop.port}`;
        this.hop = shared.get(k) ?? hop;
        if (shared.size < 65_536) shared.set(k, this.hop);
      } else this.hop = null;
      this.hopFor = key;
    }
    return this.hop;
  }

  /** @internal The outcome of the NOTIFY in flight (RFC 3261 section 17.1.2). */
  onFinal(status: number, response: SipResponse | undefined): void {
    this.owner?.notifyDone(this, status, response);
  }
}

function subscriptionKey(dialogId: string, event: string, id: string | undefined): string {
  return `${dialogId}\u0000${event}\u0000${id ?? ''}`;
}

/** The subscriptions of one resource, and the resource name they share. */
class ResourceSubscriptions extends Set<NotifierSubscription> {
  constructor(readonly name: string) {
    super();
  }
}

/**
 * Live subscriptions by dialog ID (the dialog's own key string, shared with the user agent's dialog
 * table): one subscription per dialog is the rule, several (RFC 6665 section 4.1.2.5) an array.
 */
class SubscriptionTable {
  private readonly byDialog = new Map<string, NotifierSubscription | NotifierSubscription[]>();
  size = 0;

  get(dialogId: string, event: string, id: string | undefined): NotifierSubscription | undefined {
    const e = this.byDialog.get(dialogId);
    if (e === undefined) return undefined;
    if (!Array.isArray(e)) return e.pkg.name === event && e.eventId === id ? e : undefined;
    return e.find((s) => s.pkg.name === event && s.eventId === id);
  }

  add(sub: NotifierSubscription): void {
    const id = sub.dialog.id;
    const e = this.byDialog.get(id);
    if (e === undefined) this.byDialog.set(id, sub);
    else if (Array.isArray(e)) e.push(sub);
    else this.byDialog.set(id, [e, sub]);
    sub.live = true;
    this.size++;
  }

  delete(sub: NotifierSubscription): void {
    const id = sub.dialog.id;
    const e = this.byDialog.get(id);
    if (e === sub) this.byDialog.delete(id);
    else if (Array.isArray(e)) {
      const rest = e.filter((s) => s !== sub);
      this.byDialog.set(id, rest.length === 1 ? rest[0]! : rest);
    }
    sub.live = false;
    this.size--;
  }

  *values(): IterableIterator<NotifierSubscription> {
    for (const e of this.byDialog.values()) {
      if (Array.isArray(e)) yield* e;
      else yield e;
    }
  }
}

/** The resource name of a Request-URI: `user@host`, or the whole URI when it has no user. */
export function resourceOf(uri: { user: string | undefined; host: string; toString(): string }): string {
  return uri.user !== undefined ? `${decodeURIComponent(uri.user)}@${uri.host.toLowerCase()}` : uri.toString();
}

/** RFC 6665 notifier. */
export class Notifier extends EventEmitter {
  private readonly packages = new Map<string, EventPackage>();
  private readonly subs = new SubscriptionTable();
  private readonly byResource = new Map<string, ResourceSubscriptions>();
  /** Next hops by `protocol host port`, shared by the subscriptions that go there. */
  private readonly hops = new Map<string, Destination>();
  private readonly clock: Clock;
  private readonly attempts: number;
  private readonly retryMs: number;
  private readonly maxQueue: number;
  private readonly maxSubs: number;
  private readonly coalesce: boolean;
  private readonly maxInFlight: number;
  private inFlightTotal = 0;
  private readonly labelSets = new Map<string, Array<Readonly<Record<string, string>>>>();
  /** Subscriptions with a NOTIFY ready, waiting for an in-flight slot, oldest first from `waitHead`. */
  private readonly waiting: NotifierSubscription[] = objectArray();
  private waitHead = 0;
  private drainScheduled = false;
  private readonly drain = (): void => {
    this.drainSlots();
    this.tidyLine();
  };
  /** Expiry of every subscription: one clock timer for the earliest (RFC 6665 section 4.2.2 reaping). */
  private readonly expiries: DeadlineHeap<NotifierSubscription>;
  private readonly eventLabels = new Map<string, Readonly<Record<string, string>>>();
  private readonly eventLines = new Map<EventPackage, string>();
  /** The last Event and Subscription-State lines made (see {@link notifyHeaders}). */
  private readonly lastHeaders: { pkg: EventPackage | undefined; state: SubscriptionState; expires: number; text: string } = {
    pkg: undefined,
    state: SubscriptionState.Active,
    expires: -1,
    text: '',
  };
  private readonly m: { notifies: Counter; dropped: Counter; coalesced: Counter; retries: Counter; live: Gauge };

  constructor(
    private readonly ua: SipUserAgent,
    o: NotifierOptions = {},
  ) {
    super();
    this.clock = o.clock ?? ua.clock ?? systemClock;
    this.attempts = o.notifyAttempts ?? 3;
    this.retryMs = o.notifyRetryMs ?? 5000;
    this.maxQueue = Math.max(1, o.maxQueue ?? 32);
    this.maxSubs = o.maxSubscriptions ?? 100_000;
    this.coalesce = o.coalesce ?? false;
    this.maxInFlight = o.maxInFlight ?? Infinity;
    for (const p of o.packages ?? []) this.addPackage(p);
    this.expiries = new DeadlineHeap(this.clock, (sub, at) => this.expired(sub, at));
    this.m = {
      notifies: ua.metrics.counter('switchhook_sip_notify_total', 'NOTIFY requests sent, by event and outcome.'),
      dropped: ua.metrics.counter('switchhook_sip_notify_coalesced_total', 'Queued NOTIFYs dropped because the queue was full.'),
      coalesced: ua.metrics.counter('switchhook_sip_notify_merged_total', 'State changes merged into a NOTIFY already queued (its body is rendered when sent).'),
      retries: ua.metrics.counter('switchhook_sip_notify_retries_total', 'NOTIFYs sent again after a failed attempt (408, timeout, 5xx).'),
      live: ua.metrics.gauge('switchhook_sip_subscriptions', 'Live notifier subscriptions.'),
    };
    ua.use('SUBSCRIBE', this.middleware());
  }

  /** Register an event package. */
  addPackage(p: EventPackage): void {
    this.packages.set(p.name.toLowerCase(), p);
  }

  /** The registered event packages. */
  eventPackages(): EventPackage[] {
    return [...this.packages.values()];
  }

  /** Allow-Events value (RFC 6665 section 8.2.2). */
  get allowEvents(): string {
    return [...this.packages.keys()].join(', ');
  }

  /** Live subscriptions, optionally of one resource and/or package. */
  subscriptions(resource?: string, event?: string): NotifierSubscription[] {
    const src = resource !== undefined ? [...(this.byResource.get(resource) ?? [])] : [...this.subs.values()];
    return event === undefined ? src : src.filter((s) => s.event === event);
  }

  /** Number of live subscriptions. */
  get size(): number {
    return this.subs.size;
  }

  private middleware(): Middleware {
    return (req, res) => {
      const ev = parseEventHeader(req.get('event'));
      if (!ev) {
        res.send(400, 'Missing Event Header');
        return;
      }
      const pkg = this.packages.get(ev.name);
      if (!pkg) {
        res.send(489, { headers: { 'Allow-Events': this.allowEvents } });
        return;
      }
      if (req.dialog) this.refresh(req, res, pkg, ev.id);
      else this.create(req, res, pkg, ev.id);
    };
  }

  private expiresFor(req: IncomingRequest, res: OutgoingResponse, pkg: EventPackage): number | undefined {
    const min = pkg.minExpires ?? 60;
    const max = pkg.maxExpires ?? 3600;
    let e = req.message.expires ?? pkg.defaultExpires ?? 3600;
    // RFC 6665 section 4.2.1.1: too short -> 423 with Min-Expires; longer than allowed -> shortened.
    if (e !== 0 && e < min) {
      res.send(423, { headers: { 'Min-Expires': String(min) } });
      return undefined;
    }
    if (e > max) e = max;
    return e;
  }

  /** RFC 6665 section 4.2.1: a new subscription. */
  private create(req: IncomingRequest, res: OutgoingResponse, pkg: EventPackage, id: string | undefined): void {
    const accept = req.message.headers('accept');
    if (accept.length > 0 && pkg.accept && !accept.some((a) => pkg.accept!.includes(a.split(';')[0]!.trim().toLowerCase()) || a.trim() === '*/*')) {
      res.send(406, { headers: { Accept: pkg.accept.join(', ') } });
      return;
    }
    const expires = this.expiresFor(req, res, pkg);
    if (expires === undefined) return;
    if (this.subs.size >= this.maxSubs) {
      res.send(503, { headers: { 'Retry-After': '30' } });
      return;
    }
    let dialog: Dialog;
    try {
      dialog = Dialog.fromRequest(req.message, res.localTag, this.ua.contactFor(req.source.protocol));
    } catch {
      res.send(400, 'Missing Contact');
      return;
    }
    const resource = resourceOf(req.message.uri);
    const sub = new NotifierSubscription(
      dialog, pkg, id, this.byResource.get(resource)?.name ?? ownString(resource), req.message.from.uri.toString(), SubscriptionState.Active,
    );
    const verdict = pkg.authorize ? pkg.authorize(req, sub) : 'active';
    if (typeof verdict === 'object') {
      res.send(verdict.reject, verdict.reason);
      return;
    }
    sub.state = verdict === 'pending' ? SubscriptionState.Pending : SubscriptionState.Active;
    try {
      this.ua.addDialog(dialog);
    } catch {
      res.send(503, { headers: { 'Retry-After': '30' } });
      return;
    }
    this.add(sub);
    // RFC 6665 section 4.2.1.1: 200 (never 202) with the granted Expires, then the immediate NOTIFY.
    res.send(200, { headers: { Expires: String(expires), Contact: dialog.localContact } });
    if (expires === 0) {
      this.emit('subscribed', sub);
      this.enqueue(sub, new QueuedNotify(true, 'timeout'));
      return;
    }
    this.setExpiry(sub, expires);
    // Emitted with the expiry set, so listeners (persistence) see the whole subscription.
    this.emit('subscribed', sub);
    this.enqueue(sub, PLAIN);
  }

  /** RFC 6665 section 4.2.1.2: refresh or remove (Expires 0) an existing subscription. */
  private refresh(req: IncomingRequest, res: OutgoingResponse, pkg: EventPackage, id: string | undefined): void {
    const sub = this.subs.get(req.dialog!.id, pkg.name, id);
    if (!sub || sub.finalQueued) {
      res.send(481, 'Subscription Does Not Exist');
      return;
    }
    const expires = this.expiresFor(req, res, pkg);
    if (expires === undefined) return;
    res.send(200, { headers: { Expires: String(expires), Contact: sub.dialog.localContact } });
    if (expires === 0) {
      this.terminate(sub, 'timeout');
      return;
    }
    this.setExpiry(sub, expires);
    this.emit('refreshed', sub);
    this.enqueue(sub, PLAIN);
  }

  /**
   * Take over a subscription created by another mechanism (RFC 3515 REFER's implicit subscription): keep
   * it for `expires` seconds and send its first NOTIFY (with `body`, else the package's).
   */
  adopt(sub: NotifierSubscription, expires: number, body?: NotifyBody): void {
    this.add(sub);
    this.setExpiry(sub, expires);
    this.enqueue(sub, body ? new QueuedNotify(false, undefined, undefined, body) : PLAIN);
  }

  /**
   * Put back a subscription saved before a restart (its dialog rebuilt with `Dialog.fromRecord`): it is
   * live again until `expiresAt` (the notifier's clock, ms) without a NOTIFY; the next state change
   * notifies it. An already expired one is not restored. Returns whether it was.
   */
  restore(sub: NotifierSubscription, expiresAt: number): boolean {
    const left = expiresAt - this.clock.now();
    if (left <= 0 || this.subs.get(sub.dialog.id, sub.pkg.name, sub.eventId)) return false;
    try {
      this.ua.addDialog(sub.dialog);
    } catch {
      return false;
    }
    this.add(sub);
    this.setExpiry(sub, left / 1000);
    return true;
  }

  /** NOTIFYs queued and not yet answered, over every subscription. */
  get queueDepth(): number {
    let n = 0;
    for (const s of this.subs.values()) n += s.queue.length;
    return n;
  }

  /** Find the subscription of a dialog, package and id. */
  find(dialogId: string, event: string, id?: string): NotifierSubscription | undefined {
    return this.subs.get(dialogId, event, id);
  }

  private add(sub: NotifierSubscription): void {
    sub.owner = this;
    this.subs.add(sub);
    let set = this.byResource.get(sub.resource);
    if (!set) {
      set = new ResourceSubscriptions(sub.resource);
      this.byResource.set(sub.resource, set);
    }
    set.add(sub);
    sub.dialog.usages++;
    this.m.live.set(this.subs.size);
  }

  private setExpiry(sub: NotifierSubscription, seconds: number): void {
    // Whole milliseconds: a small integer, kept in the object rather than boxed.
    sub.expiresAt = Math.round(this.clock.now() + seconds * 1000);
    this.expiries.push(sub.expiresAt, sub);
  }

  /** RFC 6665 section 4.2.2: at expiry the notifier sends a final NOTIFY (reason=timeout) and forgets it. */
  private expired(sub: NotifierSubscription, at: number): void {
    // Entries left by a refresh (a later expiry) or by a subscription already ended are stale.
    if (sub.expiresAt !== at || !sub.live) return;
    this.terminate(sub, 'timeout');
  }

  /** Send the current state to one subscription (body from its package unless given). */
  notify(sub: NotifierSubscription, body?: NotifyBody): void {
    if (sub.finalQueued || !sub.live) return;
    // Overload: a package-rendered NOTIFY still waiting will carry the newest state when it goes out, so
    // a further change merges into it (the final state is always delivered, intermediate ones may not).
    // (`q` is undefined or holds an entry: no load past the end of an array, which V8 makes generic.)
    const q = sub.q;
    const last = this.coalesce && q !== undefined ? q[q.length - 1] : undefined;
    if (!body && last && !last.final && !last.body && (q!.length > 1 || !sub.inFlight)) {
      this.m.coalesced.inc(this.eventLabel(sub.event));
      return;
    }
    this.enqueue(sub, body ? new QueuedNotify(false, undefined, undefined, body) : PLAIN);
  }

  /** Notify every subscription to a resource (optionally of one package). */
  notifyResource(resource: string, event?: string): number {
    const list = this.subscriptions(resource, event);
    for (const s of list) this.notify(s);
    return list.length;
  }

  /** Move a pending subscription to active (RFC 6665 section 4.2.1.3) and tell the subscriber. */
  activate(sub: NotifierSubscription): void {
    if (sub.state !== SubscriptionState.Pending || sub.finalQueued) return;
    sub.state = SubscriptionState.Active;
    this.enqueue(sub, PLAIN);
  }

  /** End a subscription with a final NOTIFY (RFC 6665 section 4.2.2). */
  terminate(sub: NotifierSubscription, reason: TerminationReason = 'deactivated', retryAfter?: number, body?: NotifyBody): void {
    if (sub.finalQueued || !sub.live) return;
    this.enqueue(sub, new QueuedNotify(true, reason, retryAfter, body));
  }

  private enqueue(sub: NotifierSubscription, item: QueuedNotify): void {
    if (item.final) sub.finalQueued = true;
    const q = sub.q;
    if (q === undefined) {
      // The common case, an idle subscription: a one-slot array rather than an empty one grown by push.
      sub.q = [item];
    } else {
      q.push(item);
      if (q.length > this.maxQueue) {
        // Bounded: drop the oldest non-final NOTIFY (bodies are rendered at send time, so state is not lost).
        const i = q.findIndex((x) => !x.final);
        if (i >= 0) {
          q.splice(i, 1);
          this.m.dropped.inc(this.eventLabel(sub.event));
        }
      }
    }
    this.pump(sub);
  }

  /**
   * Sends the subscription's first queued NOTIFY unless one is in flight or a retry waits. Without a free
   * slot, or while others wait for one, it joins the line: a subscription with more changes queued goes
   * behind those that have not had the first one yet.
   */
  private pump(sub: NotifierSubscription): void {
    if (sub.inFlight || sub.retryTimer) return;
    const item = sub.q?.[0];
    if (!item) return;
    if (this.inFlightTotal >= this.maxInFlight || this.waitHead < this.waiting.length) this.waitForSlot(sub);
    else this.transmit(sub, item);
  }

  /**
   * In line for an in-flight slot. Apart from {@link transmit}: a fan-out is the first to need this, and V8
   * drops the compiled code holding a branch at its first run; the send path should not go with it.
   */
  private waitForSlot(sub: NotifierSubscription): void {
    if (sub.waitingSlot) return;
    sub.waitingSlot = true;
    this.waiting.push(sub);
  }

  /** Takes a slot and sends `item`, the subscription's first queued NOTIFY, its body rendered now. */
  private transmit(sub: NotifierSubscription, item: QueuedNotify): void {
    this.inFlightTotal++;
    sub.inFlight = true;
    let body: NotifyBody | undefined;
    try {
      body = item.body ?? sub.pkg.body(sub);
    } catch (err) {
      log.warn(`event package ${sub.event} failed to render: ${String(err)}`);
      body = undefined;
    }
    const hop = sub.nextHop(this.hops);
    if (!hop || !this.send(sub, hop, item, body)) this.sendResolved(sub, this.stateValue(sub, item), body);
  }

  /** The Subscription-State value of a NOTIFY (RFC 6665 section 8.2.3): the time left, or the end and its reason. */
  private stateValue(sub: NotifierSubscription, item: QueuedNotify): string {
    if (item.final) {
      return formatSubscriptionState({ state: SubscriptionState.Terminated, ...(item.reason ? { reason: item.reason } : {}), ...(item.retryAfter !== undefined ? { retryAfter: item.retryAfter } : {}) });
    }
    return `${sub.state};expires=${this.expiresLeft(sub)}`;
  }

  private expiresLeft(sub: NotifierSubscription): number {
    return Math.max(0, Math.round((sub.expiresAt - this.clock.now()) / 1000));
  }

  /**
   * The Event and Subscription-State lines of a NOTIFY. The last pair made for a package without an event
   * id is kept and given again while the package, state and seconds left are the same: the subscriptions of
   * a fan-out, made about the same time, mostly share it, so it is not joined again (and flattened again
   * when written) for each of them.
   */
  private notifyHeaders(sub: NotifierSubscription, item: QueuedNotify): string {
    if (item.final || sub.eventId !== undefined) return this.eventLine(sub) + 'Subscription-State: ' + this.stateValue(sub, item) + '\r\n';
    const expires = this.expiresLeft(sub);
    const last = this.lastHeaders;
    if (last.pkg === sub.pkg && last.state === sub.state && last.expires === expires) return last.text;
    last.pkg = sub.pkg;
    last.state = sub.state;
    last.expires = expires;
    last.text = `${this.eventLine(sub)}Subscription-State: ${sub.state};expires=${expires}\r\n`;
    return last.text;
  }

  /**
   * The NOTIFY written straight to bytes from the dialog's texts (only the Via branch, CSeq,
   * Subscription-State, Content-Length and body differ from one to the next) and sent in a lean
   * transaction (RFC 3261 section 17.1.2) that reports its outcome to the subscription, without a promise.
   * False under strict routing (the caller uses the full request path).
   */
  private send(sub: NotifierSubscription, hop: Destination, item: QueuedNotify, body: NotifyBody | undefined): boolean {
    try {
      const req = this.ua.inDialogBytes(sub.dialog, 'NOTIFY', hop.protocol, this.notifyHeaders(sub, item), body);
      if (!req) return false;
      this.ua.transactions.requestFinal(req, hop, sub);
    } catch (err) {
      log.rateLimited('warn', 'notify-send', `NOTIFY not sent: ${(err as Error).message}`);
      this.notifyDone(sub, 503, undefined);
    }
    return true;
  }

  /** The NOTIFY through the user agent's request path (a next hop that needs a DNS lookup). */
  private sendResolved(sub: NotifierSubscription, state: string, body: NotifyBody | undefined): void {
    const event = formatEventHeader({ name: sub.event, ...(sub.eventId !== undefined ? { id: sub.eventId } : {}) });
    this.ua
      .request({
        method: 'NOTIFY',
        dialog: sub.dialog,
        headers: { Event: event, 'Subscription-State': state },
        ...(body ? { body: bodyContent(body), contentType: body.contentType } : {}),
      })
      .then(
        ({ response }) => this.notifyDone(sub, response.status, undefined),
        () => this.notifyDone(sub, 500, undefined),
      );
  }

  /** @internal The outcome of a subscription's NOTIFY in flight; a 2xx response may refresh the target (RFC 6665 section 4.1.2.2). */
  notifyDone(sub: NotifierSubscription, status: number, response: SipResponse | undefined): void {
    if (!sub.inFlight) return;
    const item = sub.queue[0]!;
    sub.inFlight = false;
    this.inFlightTotal--;
    this.releaseSlot();
    this.m.notifies.inc(this.outcomeLabels(sub.event, status));
    if (!sub.live) return;
    if (response && status >= 200) sub.dialog.receiveResponse(response, 'NOTIFY');
    if (status >= 200 && status < 300) {
      sub.failures = 0;
      sub.q!.shift();
      if (sub.q!.length === 0) sub.q = undefined;
      if (item.final) {
        this.remove(sub, item.reason ?? 'deactivated');
        return;
      }
      this.pump(sub);
      return;
    }
    if (status === 481) {
      // RFC 6665 section 4.2.2: the subscriber no longer knows it.
      this.remove(sub, 'noresource');
      return;
    }
    sub.failures++;
    if (sub.failures >= this.attempts) {
      log.rateLimited('info', 'notify-giveup', `subscription to ${sub.resource} (${sub.event}) ended after ${sub.failures} failed NOTIFYs`);
      this.remove(sub, 'giveup');
      return;
    }
    sub.retryTimer = this.clock.setTimer(this.retryMs, () => {
      sub.retryTimer = undefined;
      this.m.retries.inc(this.eventLabel(sub.event));
      this.pump(sub);
    });
  }

  /** The Event header line of a subscription's NOTIFYs (RFC 6665 section 8.2.1), made once per package without an id. */
  private eventLine(sub: NotifierSubscription): string {
    if (sub.eventId !== undefined) return `Event: ${formatEventHeader({ name: sub.pkg.name, id: sub.eventId })}\r\n`;
    let line = this.eventLines.get(sub.pkg);
    if (line === undefined) {
      line = `Event: ${formatEventHeader({ name: sub.pkg.name })}\r\n`;
      this.eventLines.set(sub.pkg, line);
    }
    return line;
  }

  /** The frozen `{event}` label set of a package (made once). */
  private eventLabel(event: string): Readonly<Record<string, string>> {
    let labels = this.eventLabels.get(event);
    if (!labels) {
      labels = Object.freeze({ event });
      this.eventLabels.set(event, labels);
    }
    return labels;
  }

  /**
   * The label set of a NOTIFY outcome, made once per event and status (a frozen object the metrics cache
   * by), found by the event's string and the status as an index: no key string is made per NOTIFY.
   */
  private outcomeLabels(event: string, status: number): Readonly<Record<string, string>> {
    let byStatus = this.labelSets.get(event);
    if (byStatus === undefined) {
      byStatus = [];
      this.labelSets.set(event, byStatus);
    }
    let labels = byStatus[status];
    if (labels === undefined) {
      labels = Object.freeze({ event, status: String(status) });
      byStatus[status] = labels;
    }
    return labels;
  }

  /**
   * A slot is free: the longest-waiting subscriptions send (RFC 6665 order per subscription is kept) once
   * this event-loop turn's receipts are handled (`setImmediate`), so that the 200s of one socket wake-up
   * free their slots together and the NOTIFYs taking them leave in one batch (one `sendmmsg`, one render of
   * the device), not one small batch per `recvmmsg`.
   */
  private releaseSlot(): void {
    if (this.drainScheduled || this.waitHead >= this.waiting.length) return;
    this.drainScheduled = true;
    setImmediate(this.drain);
  }

  private drainSlots(): void {
    this.drainScheduled = false;
    const waiting = this.waiting;
    while (this.inFlightTotal < this.maxInFlight && this.waitHead < waiting.length) {
      const sub = waiting[this.waitHead++]!;
      if (!sub.waitingSlot) continue; // removed meanwhile
      sub.waitingSlot = false;
      // Nothing in flight or retrying while it waited (both start from a slot it did not have).
      const item = sub.q?.[0];
      if (item !== undefined) this.transmit(sub, item);
    }
  }

  /**
   * After a drain: the line is emptied, or shifted once half of it has been served. Kept out of
   * {@link drainSlots}, whose loop V8 compiles while the first fan-out drains (with the send inlined):
   * code after the loop that has not run yet would throw that away when it first runs. The one array is
   * kept (emptied or shifted in place): a new empty array has another elements kind.
   */
  private tidyLine(): void {
    const waiting = this.waiting;
    if (this.waitHead >= waiting.length) {
      waiting.length = 0;
      this.waitHead = 0;
    } else if (this.waitHead >= 1024 && this.waitHead * 2 >= waiting.length) {
      waiting.copyWithin(0, this.waitHead);
      waiting.length -= this.waitHead;
      this.waitHead = 0;
    }
  }

  private remove(sub: NotifierSubscription, reason: string): void {
    if (!sub.live) return;
    sub.waitingSlot = false;
    this.subs.delete(sub);
    sub.retryTimer?.cancel();
    sub.retryTimer = undefined;
    sub.q = undefined;
    sub.state = SubscriptionState.Terminated;
    const set = this.byResource.get(sub.resource);
    set?.delete(sub);
    if (set && set.size === 0) this.byResource.delete(sub.resource);
    // The dialog ends with its last usage (RFC 5057).
    if (--sub.dialog.usages <= 0) {
      sub.dialog.usages = 0;
      if (sub.ownsDialog) this.ua.removeDialog(sub.dialog, 'subscription-ended');
    }
    this.m.live.set(this.subs.size);
    if (this.subs.size === 0) this.expiries.clear();
    this.emit('terminated', sub, reason);
  }

  /** Forget every subscription without NOTIFYs (shutdown). */
  close(): void {
    for (const s of [...this.subs.values()]) this.remove(s, 'shutdown');
    this.expiries.clear();
    // Every subscription in the line is gone: let go of them now, not at a drain that may never come.
    this.waiting.length = 0;
    this.waitHead = 0;
  }
}
