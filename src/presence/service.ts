/**
 * The presence service: phone hook state to every subscriber. It joins the CTI model to the SIP notifier:
 * `Event: presence` (PIDF, RFC 3863, with RPID `on-the-phone`) and `Event: dialog` (RFC 4235 busy lamps)
 * subscriptions from SIP SUBSCRIBE, and SIP MESSAGE (RFC 3428) to configured instant-message subscribers.
 *
 * Per device the model emits its changes synchronously and in order; each change invalidates the device's
 * rendered bodies and queues one NOTIFY per subscription, which the notifier sends one transaction at a time
 * per subscription, rendering the body when it goes out (so a backlog collapses into the newest state and
 * the final state is always delivered). Subscriptions with their dialog state are persisted in the store;
 * `version` and CSeq numbers are reserved in blocks so a restart, even after `kill -9`, jumps ahead.
 */
import { createLogger } from '../util/log.js';
import { MetricsRegistry, type Counter, type Gauge } from '../util/metrics.js';
import type { CallView, DeviceChange, PbxModel } from '../model/index.js';
import { DigestServer } from '../sip/auth/index.js';
import { Dialog, type DialogRecord } from '../sip/dialog/index.js';
import {
  Notifier,
  NotifierSubscription,
  SubscriptionState,
  type EventPackage,
  type NotifyBody,
} from '../sip/subscription/index.js';
import type { IncomingRequest, SipStack } from '../sip/ua/index.js';
import type { Store } from '../store/index.js';
import { dialogInfoContentType, dialogInfoTemplate, type DialogInfoTemplate } from './dialog-info.js';
import { phoneSnapshotOf } from './from-model.js';
import { buildPresenceMessage, type MessageFormat } from './message.js';
import { PhonePresenceState, type PhoneSnapshot } from './phone-state.js';
import { buildPidf, pidfContentType } from './pidf.js';
import { PresenceRules, type PresenceRule } from './rules.js';

const log = createLogger('presence');

/** Store collection of persisted subscriptions. */
export const subscriptionCollection = 'presence.subscriptions';

/** An instant-message subscriber: MESSAGEs to `uri` for every presence change of `devices`. */
export interface ImSubscriber {
  uri: string;
  devices: readonly string[];
  format: MessageFormat;
}

/** Options of a {@link PresenceService}. */
export interface PresenceServiceOptions {
  stack: SipStack;
  model: PbxModel;
  /** Domain of the entities in bodies (`sip:2001@DOMAIN`). */
  domain: string;
  /** Where subscriptions are persisted; none: they live in memory only. */
  store?: Store;
  /** Who may watch whom; empty or absent: anyone may watch any device. */
  rules?: readonly PresenceRule[];
  /** Digest authentication of new SUBSCRIBEs (RFC 7616); absent: none. */
  auth?: { realm: string; users: Readonly<Record<string, string>> };
  im?: readonly ImSubscriber[];
  /** Display names of extensions (dialog-info remote identity). */
  names?: Readonly<Record<string, string>>;
  /** NOTIFY attempts before a failing subscription ends (default 3: a single 408 never ends it). */
  notifyAttempts?: number;
  notifyRetryMs?: number;
  /** NOTIFYs queued per subscription at most (default 8; changes beyond merge into the newest). */
  maxQueue?: number;
  maxSubscriptions?: number;
  /** NOTIFY transactions in flight at most over all subscriptions (default 1024). */
  maxInFlight?: number;
  /** `version`/CSeq numbers reserved per store write (default 1000). */
  versionBlock?: number;
}

/** What `GET /api/subscriptions` lists. */
export interface SubscriptionInfo {
  device: string;
  event: string;
  subscriber: string;
  state: SubscriptionState;
  version: number;
  expiresInSeconds: number;
  queued: number;
  failures: number;
  callId: string;
}

/** Per-subscription presence data (kept in `NotifierSubscription.attachment`). */
interface SubState {
  device: string;
  /** Last version sent (dialog-info `version`; counted for presence too). */
  version: number;
  /** Highest version and CSeq reserved in the store: after a restart numbering resumes above them. */
  versionHigh: number;
  cseqHigh: number;
}

interface StoredSubscription {
  dialog: DialogRecord;
  event: string;
  eventId?: string;
  resource: string;
  subscriber: string;
  device: string;
  state: SubscriptionState;
  /** Wall-clock expiry, ms since the epoch. */
  expiresAt: number;
  versionHigh: number;
  cseqHigh: number;
}

/**
 * A device's state rendered once for all of its subscribers, its documents encoded once too (each NOTIFY
 * copies the bytes instead of encoding the text again). Made with every field (one object shape whichever
 * documents a change needs, so the send path is not recompiled for each combination).
 */
interface DeviceRender {
  phone: PhoneSnapshot;
  pidf: Buffer | undefined;
  dialog: DialogInfoTemplate | undefined;
  /** The dialog-info template's tail as UTF-8. */
  dialogTail: Buffer | undefined;
}

/** The UTF-8 of a dialog-info template head (the same text for every phone), kept for the text it encodes. */
let dialogHead = { text: '', bytes: Buffer.alloc(0) };

function dialogHeadBytes(head: string): Buffer {
  if (head !== dialogHead.text) dialogHead = { text: head, bytes: Buffer.from(head, 'utf8') };
  return dialogHead.bytes;
}

/** What the service keeps of one device between its changes. */
interface DeviceState {
  /** The current render, while a change's NOTIFYs go out (undefined: render again when needed). */
  render: DeviceRender | undefined;
  /** The calls the last change ended: listed once more as `terminated`. */
  ended: CallView[] | undefined;
  /** The presence state last told. */
  state: PhonePresenceState | undefined;
  /**
   * A 60-bit fingerprint of the last dialog-info document (two 30-bit halves, small integers kept in the
   * object): two documents with equal fingerprints are taken as equal (a false match is a 2^-60 chance).
   */
  dialogHi: number;
  dialogLo: number;
}

interface ImTarget extends ImSubscriber {
  pending: Map<string, PhoneSnapshot>;
  inFlight: boolean;
}

/** The subscriptions of one device, and the device name they share. */
class DeviceSubscriptions extends Set<NotifierSubscription> {
  constructor(readonly device: string) {
    super();
  }
}

const DIALOG = Object.freeze({ event: 'dialog' });
const PRESENCE = Object.freeze({ event: 'presence' });

/** Phone presence to SIP subscribers and instant-message subscribers. */
export class PresenceService {
  readonly notifier: Notifier;
  readonly rules: PresenceRules;
  private readonly stack: SipStack;
  private readonly model: PbxModel;
  private readonly store: Store | undefined;
  private readonly domain: string;
  private readonly names: ReadonlyMap<string, string>;
  private readonly block: number;
  private readonly digest: DigestServer | undefined;
  private readonly byDevice = new Map<string, DeviceSubscriptions>();
  /**
   * What the service keeps per device, one object per device made at its first change and then updated in
   * place: a change writes fields, never map entries, and keeps no string or array of its own until the
   * next change (such per-change garbage would live through young-generation collections).
   */
  private readonly devices = new Map<string, DeviceState>();
  /**
   * Devices this task rendered (for a change, or for a NOTIFY that went out later): their renders, with
   * their encoded documents, are let go when the task's NOTIFYs have left. A render kept longer would hold
   * its documents' bytes and with them the 8 KiB of Node's Buffer pool they were cut from.
   */
  private readonly renderedNow: DeviceState[] = [];
  private readonly imTargets: ImTarget[];
  private readonly imByDevice = new Map<string, ImTarget[]>();
  private unbind: (() => void) | undefined;
  private closed = false;
  /**
   * The NOTIFYs of the changes of one task (a CTI read, one CSTA event or several) leave together when
   * it ends, in one `sendmmsg`, not after whatever else the event-loop turn holds (the receipt of the next
   * batch of 200 OKs, a garbage collection during it).
   */
  private flushQueued = false;
  private readonly flush = (): void => {
    this.flushQueued = false;
    if (!this.closed) this.stack.transport.flushUdp();
    // A NOTIFY still waiting renders the device again when it goes out; until then nothing holds the
    // render, so it dies young instead of living until the device's next change.
    for (const d of this.renderedNow) d.render = undefined;
    this.renderedNow.length = 0;
  };
  private readonly m: {
    changes: Counter;
    rejected: Counter;
    im: Counter;
    storeWrites: Counter;
    storeErrors: Counter;
    depth: Gauge;
    subs: Gauge;
  };

  constructor(o: PresenceServiceOptions) {
    this.stack = o.stack;
    this.model = o.model;
    this.store = o.store;
    this.domain = o.domain;
    this.names = new Map(Object.entries(o.names ?? {}));
    this.block = o.versionBlock ?? 1000;
    this.rules = new PresenceRules(o.rules ?? []);
    const metrics: MetricsRegistry = o.stack.ua.metrics;
    this.m = {
      changes: metrics.counter('switchhook_presence_changes_total', 'Device changes fanned out to subscribers, by event package.'),
      rejected: metrics.counter('switchhook_presence_subscribe_rejected_total', 'SUBSCRIBEs refused, by reason.'),
      im: metrics.counter('switchhook_presence_messages_total', 'Presence MESSAGEs sent to instant-message subscribers, by status.'),
      storeWrites: metrics.counter('switchhook_presence_store_writes_total', 'Subscription records written to the store.'),
      storeErrors: metrics.counter('switchhook_presence_store_errors_total', 'Subscription records the store failed to write or read.'),
      depth: metrics.gauge('switchhook_presence_queue_depth', 'NOTIFYs queued and not yet answered, over every subscription.'),
      subs: metrics.gauge('switchhook_presence_subscriptions', 'Live presence subscriptions, by event package.'),
    };
    if (o.auth) {
      const users = o.auth.users;
      this.digest = new DigestServer({
        realm: o.auth.realm,
        lookup: (user) => (Object.hasOwn(users, user) ? { password: users[user]! } : undefined),
      });
      // Before the notifier's own SUBSCRIBE middleware: new subscriptions must authenticate first.
      o.stack.use('SUBSCRIBE', (req, res, next) => {
        if (req.dialog) return next();
        const verdict = this.digest!.verify(req.get('authorization'), 'SUBSCRIBE');
        if (verdict.ok) {
          req.locals.set('presence.user', verdict.username);
          return next();
        }
        if (verdict.reason !== 'missing') this.m.rejected.inc({ reason: `auth-${verdict.reason}` });
        res.send(401, { headers: { 'WWW-Authenticate': this.digest!.challenge(verdict.stale) } });
        return undefined;
      });
    }
    this.notifier = new Notifier(o.stack.ua, {
      packages: [this.presencePackage(), this.dialogPackage()],
      notifyAttempts: o.notifyAttempts ?? 3,
      notifyRetryMs: o.notifyRetryMs ?? 5000,
      maxQueue: o.maxQueue ?? 8,
      maxSubscriptions: o.maxSubscriptions ?? 200_000,
      coalesce: true,
      maxInFlight: o.maxInFlight ?? 1024,
    });
    this.notifier.on('subscribed', (sub: NotifierSubscription) => {
      this.index(sub);
      this.persist(sub);
    });
    this.notifier.on('refreshed', (sub: NotifierSubscription) => this.persist(sub));
    this.notifier.on('terminated', (sub: NotifierSubscription, reason: string) => this.forget(sub, reason));
    this.imTargets = (o.im ?? []).map((i) => ({ ...i, pending: new Map(), inFlight: false }));
    for (const t of this.imTargets) {
      for (const d of t.devices) {
        const list = this.imByDevice.get(d) ?? [];
        list.push(t);
        this.imByDevice.set(d, list);
      }
    }
  }

  /** Restore persisted subscriptions, then follow the model. Resolves with the number restored. */
  async start(): Promise<number> {
    const restored = await this.restore();
    this.unbind = this.model.onChange((c) => this.onChange(c));
    return restored;
  }

  /** Live subscriptions, for the admin API. */
  subscriptions(): SubscriptionInfo[] {
    const now = this.stack.ua.clock.now();
    return this.notifier.subscriptions().map((s) => {
      const st = s.attachment as SubState;
      return {
        device: st.device,
        event: s.event,
        subscriber: s.subscriber,
        state: s.state,
        version: st.version,
        expiresInSeconds: Math.max(0, Math.round((s.expiresAt - now) / 1000)),
        queued: s.queue.length,
        failures: s.failures,
        callId: s.dialog.callId,
      };
    });
  }

  /** Refresh the queue-depth and subscription gauges (called before metrics are rendered). */
  updateGauges(): void {
    this.m.depth.set(this.notifier.queueDepth);
    let presence = 0;
    let dialog = 0;
    for (const s of this.notifier.subscriptions()) {
      if (s.event === 'presence') presence++;
      else if (s.event === 'dialog') dialog++;
    }
    this.m.subs.set(presence, { event: 'presence' });
    this.m.subs.set(dialog, { event: 'dialog' });
  }

  /**
   * Stop: record every subscription with its exact numbers (so a graceful restart resumes one above them)
   * and forget them without NOTIFYs; they stay in the store for the next start.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unbind?.();
    if (this.store) {
      const records = this.notifier.subscriptions().map((s) => ({ key: keyOf(s), value: this.record(s, true) }));
      try {
        await this.store.putMany(subscriptionCollection, records);
        this.m.storeWrites.inc(undefined, records.length);
      } catch (err) {
        this.m.storeErrors.inc({ op: 'close' });
        log.warn(`subscriptions not saved at shutdown: ${(err as Error).message}`);
      }
    }
    this.notifier.close();
  }

  private onChange(change: DeviceChange): void {
    const device = change.device;
    const subs = this.byDevice.get(device);
    const ims = this.imByDevice.get(device);
    const ds = this.deviceState(device);
    ds.render = undefined;
    ds.ended = undefined;
    for (const c of change.calls) if (c.ended) (ds.ended ??= []).push(c.call);
    if (!subs && !ims) return;
    const render = this.render(device);
    if (!render) return;
    const state = render.phone.state;
    const stateChanged = ds.state !== state;
    ds.state = state;
    // Busy lamps are told only when their document changes (a peer's event may not change this phone's).
    render.dialog = dialogInfoTemplate(render.phone, 'full', { domain: this.domain });
    // Encoded once here: the fingerprint reads the bytes, and every dialog NOTIFY copies them.
    render.dialogTail = Buffer.from(render.dialog.tail, 'utf8');
    fingerprint(render.dialogTail);
    const dialogChanged = fingerprintHi !== ds.dialogHi || fingerprintLo !== ds.dialogLo;
    ds.dialogHi = fingerprintHi;
    ds.dialogLo = fingerprintLo;
    if (subs) {
      let presence = 0;
      let dialog = 0;
      for (const s of subs) {
        if (s.event === 'dialog') {
          if (!dialogChanged) continue;
          dialog++;
          this.notifier.notify(s);
        } else if (stateChanged) {
          presence++;
          this.notifier.notify(s);
        }
      }
      if (dialog) this.m.changes.inc(DIALOG, dialog);
      if (presence) this.m.changes.inc(PRESENCE, presence);
    }
    if (ims && stateChanged) {
      for (const t of ims) {
        t.pending.set(device, render.phone);
        this.pumpIm(t);
      }
    }
  }

  private deviceState(device: string): DeviceState {
    let ds = this.devices.get(device);
    if (!ds) this.devices.set(device, (ds = { render: undefined, ended: undefined, state: undefined, dialogHi: -1, dialogLo: -1 }));
    return ds;
  }

  /** The device's current state, rendered once per change for every subscriber. */
  private render(device: string): DeviceRender | undefined {
    const known = this.devices.get(device);
    if (known?.render) return known.render;
    const snap = this.model.device(device);
    if (!snap) return undefined;
    const ds = known ?? this.deviceState(device);
    ds.render = { phone: phoneSnapshotOf(snap, this.domain, this.names, ds.ended), pidf: undefined, dialog: undefined, dialogTail: undefined };
    this.renderedNow.push(ds);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
    return ds.render;
  }

  private entity(device: string): string {
    return `sip:${device}@${this.domain}`;
  }

  private presencePackage(): EventPackage {
    return {
      name: 'presence',
      accept: [pidfContentType],
      defaultExpires: 3600,
      minExpires: 60,
      maxExpires: 7200,
      authorize: (req, sub) => this.authorize(req, sub),
      body: (sub) => {
        const st = sub.attachment as SubState;
        const r = this.render(st.device);
        if (!r) return undefined;
        r.pidf ??= Buffer.from(buildPidf(this.entity(st.device), r.phone), 'utf8');
        this.advance(sub, st);
        return { contentType: pidfContentType, body: r.pidf };
      },
    };
  }

  private dialogPackage(): EventPackage {
    return {
      name: 'dialog',
      accept: [dialogInfoContentType],
      defaultExpires: 3600,
      minExpires: 60,
      maxExpires: 7200,
      authorize: (req, sub) => this.authorize(req, sub),
      body: (sub): NotifyBody | undefined => {
        const st = sub.attachment as SubState;
        const r = this.render(st.device);
        if (!r) return undefined;
        // RFC 4235 section 4.1: full state every time (always allowed), so a lost NOTIFY never leaves a lamp wrong.
        r.dialog ??= dialogInfoTemplate(r.phone, 'full', { domain: this.domain });
        r.dialogTail ??= Buffer.from(r.dialog.tail, 'utf8');
        this.advance(sub, st);
        return { contentType: dialogInfoContentType, body: [dialogHeadBytes(r.dialog.head), String(st.version), r.dialogTail] };
      },
    };
  }

  /** RFC 6665 section 4.2.1.3: an unknown phone gets 404, a watcher no rule allows gets 403. */
  private authorize(req: IncomingRequest, sub: NotifierSubscription): 'active' | { reject: number; reason?: string } {
    const user = req.message.uri.user;
    const device = user !== undefined ? decodeURIComponent(user) : '';
    if (!this.model.has(device)) {
      this.m.rejected.inc({ reason: 'unknown-device' });
      return { reject: 404, reason: 'Not Found' };
    }
    const from = req.message.from.uri;
    const identities = [`${from.scheme}:${from.user ?? ''}@${from.host}`];
    const authUser = req.locals.get('presence.user');
    if (typeof authUser === 'string') identities.push(authUser);
    if (!this.rules.allows(identities, device)) {
      this.m.rejected.inc({ reason: 'forbidden' });
      return { reject: 403, reason: 'Forbidden' };
    }
    const st: SubState = { device: this.deviceName(device), version: 0, versionHigh: this.block, cseqHigh: sub.dialog.localSeq + this.block };
    sub.attachment = st;
    return 'active';
  }

  /** The next version; a new block of versions and CSeqs is reserved (one store write) when one runs out. */
  private advance(sub: NotifierSubscription, st: SubState): void {
    st.version++;
    if (st.version >= st.versionHigh || sub.dialog.localSeq + 2 >= st.cseqHigh) {
      st.versionHigh = st.version + this.block;
      st.cseqHigh = sub.dialog.localSeq + this.block;
      this.persist(sub);
    }
  }

  /** The device name string its subscriptions share (the index's own). */
  private deviceName(device: string): string {
    return this.byDevice.get(device)?.device ?? device;
  }

  private index(sub: NotifierSubscription): void {
    const st = sub.attachment as SubState;
    let set = this.byDevice.get(st.device);
    if (!set) this.byDevice.set(st.device, (set = new DeviceSubscriptions(st.device)));
    set.add(sub);
  }

  private forget(sub: NotifierSubscription, reason: string): void {
    const st = sub.attachment as SubState | undefined;
    if (!st) return;
    const set = this.byDevice.get(st.device);
    set?.delete(sub);
    if (set?.size === 0) this.byDevice.delete(st.device);
    if (reason === 'shutdown' || !this.store) return;
    this.store.delete(subscriptionCollection, keyOf(sub)).catch((err: Error) => {
      this.m.storeErrors.inc({ op: 'delete' });
      log.rateLimited('warn', 'store-delete', `subscription record not deleted: ${err.message}`);
    });
  }

  /** The stored form; `exact` records the numbers in use instead of the reserved highs (clean shutdown). */
  private record(sub: NotifierSubscription, exact = false): StoredSubscription {
    const st = sub.attachment as SubState;
    return {
      dialog: sub.dialog.toRecord(),
      event: sub.event,
      ...(sub.eventId !== undefined ? { eventId: sub.eventId } : {}),
      resource: sub.resource,
      subscriber: sub.subscriber,
      device: st.device,
      state: sub.state,
      expiresAt: Date.now() + (sub.expiresAt - this.stack.ua.clock.now()),
      versionHigh: exact ? st.version : st.versionHigh,
      cseqHigh: exact ? sub.dialog.localSeq : st.cseqHigh,
    };
  }

  private persist(sub: NotifierSubscription): void {
    if (!this.store || this.closed) return;
    this.m.storeWrites.inc();
    this.store.put(subscriptionCollection, keyOf(sub), this.record(sub)).catch((err: Error) => {
      this.m.storeErrors.inc({ op: 'put' });
      log.rateLimited('warn', 'store-put', `subscription record not written: ${err.message}`);
    });
  }

  private async restore(): Promise<number> {
    if (!this.store) return 0;
    let rows: Array<{ key: string; value: StoredSubscription }>;
    try {
      rows = await this.store.list<StoredSubscription>(subscriptionCollection);
    } catch (err) {
      this.m.storeErrors.inc({ op: 'list' });
      log.warn(`stored subscriptions not read: ${(err as Error).message}`);
      return 0;
    }
    const packages = new Map(this.notifier.eventPackages().map((p) => [p.name, p]));
    let restored = 0;
    const now = this.stack.ua.clock.now();
    for (const { key, value: r } of rows) {
      let ok = false;
      try {
        const pkg = packages.get(r.event);
        if (pkg && r.expiresAt > Date.now()) {
          const dialog = Dialog.fromRecord(r.dialog);
          // Resume above every CSeq and version that may have been sent before the restart.
          dialog.localSeq = Math.max(dialog.localSeq, r.cseqHigh);
          // The local Contact follows the listener actually bound now.
          dialog.localContact = this.stack.ua.contactFor((dialog.remoteTarget.transport as 'udp' | 'tcp' | undefined) ?? 'udp');
          const sub = new NotifierSubscription(dialog, pkg, r.eventId, r.resource, r.subscriber, r.state);
          const st: SubState = { device: r.device, version: r.versionHigh, versionHigh: r.versionHigh + this.block, cseqHigh: dialog.localSeq + this.block };
          sub.attachment = st;
          ok = this.notifier.restore(sub, now + (r.expiresAt - Date.now()));
          if (ok) {
            this.index(sub);
            this.persist(sub);
            restored++;
          }
        }
      } catch (err) {
        this.m.storeErrors.inc({ op: 'restore' });
        log.warn(`stored subscription ${key} dropped: ${(err as Error).message}`);
      }
      if (!ok) await this.store.delete(subscriptionCollection, key).catch(() => this.m.storeErrors.inc({ op: 'delete' }));
    }
    if (restored) log.info(`${restored} subscriptions restored from the store`);
    return restored;
  }

  private pumpIm(t: ImTarget): void {
    if (t.inFlight || this.closed) return;
    const next = t.pending.entries().next();
    if (next.done) return;
    const [device, phone] = next.value;
    t.pending.delete(device);
    t.inFlight = true;
    const { contentType, body } = buildPresenceMessage(phone, t.format, this.entity(device));
    this.stack
      .request({ method: 'MESSAGE', uri: t.uri, from: `<${this.entity(device)}>`, to: `<${t.uri}>`, body, contentType })
      .then(
        ({ response }) => this.m.im.inc({ status: String(response.status) }),
        (err: Error) => {
          this.m.im.inc({ status: 'error' });
          log.rateLimited('warn', 'im', `presence MESSAGE to ${t.uri} failed: ${err.message}`);
        },
      )
      .finally(() => {
        t.inFlight = false;
        this.pumpIm(t);
      });
  }
}

/** The halves of the last {@link fingerprint}. */
let fingerprintHi = 0;
let fingerprintLo = 0;

/**
 * A document's 60-bit fingerprint from its UTF-8, in one pass, as two 30-bit halves (left in
 * {@link fingerprintHi} and {@link fingerprintLo}, so that no object is made): FNV-1a, and a
 * multiply-xorshift hash of its own (MurmurHash2 constant) seeded with the length, each finalised with
 * MurmurHash3's fmix32.
 */
function fingerprint(b: Uint8Array): void {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c ^ b.length;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 13;
  }
  fingerprintHi = fmix32(h1) >>> 2;
  fingerprintLo = fmix32(h2) >>> 2;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function keyOf(sub: NotifierSubscription): string {
  const d = sub.dialog;
  return `${d.callId}|${d.localTag}|${d.remoteTag}|${sub.event}|${sub.eventId ?? ''}`;
}
