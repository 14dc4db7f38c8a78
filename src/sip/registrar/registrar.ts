/**
 * A registrar (RFC 3261 section 10.3): REGISTER with several contacts per AOR, `q` values, per-contact and
 * header expiry, min/max expiry with 423 Interval Too Brief, `*` with Expires 0, Call-ID/CSeq ordering,
 * optional digest authentication, and reaping of expired bindings on the clock. Emits `registered`
 * (Binding), `unregistered` (Binding, reason: 'removed' | 'expired').
 */
import { EventEmitter } from 'node:events';

import type { DigestServer } from '../auth/digest.js';
import type { NameAddr, SipUri } from '../message/index.js';
import { systemClock, type Clock, type TimerHandle } from '../transaction/clock.js';
import type { IncomingRequest, Middleware, OutgoingResponse } from '../ua/app.js';
import { MemoryLocationStore, type Binding, type LocationStore } from './location-store.js';

/** Options of a {@link Registrar}. */
export interface RegistrarOptions {
  store?: LocationStore;
  clock?: Clock;
  /** Shortest expiry accepted (Min-Expires in 423), seconds; default 60. */
  minExpires?: number;
  /** Longest expiry granted (longer requests are shortened), seconds; default 3600. */
  maxExpires?: number;
  /** Expiry when the request gives none, seconds; default 3600 (RFC 3261 section 10.3 step 7). */
  defaultExpires?: number;
  /** Challenge REGISTER with 401 (RFC 3261 section 22.1) and check the user matches the AOR. */
  auth?: DigestServer;
  /** Request-URI hosts this registrar serves (RFC 3261 section 10.3 step 1); any when absent. */
  domains?: string[];
}

/** Canonical address-of-record of a URI: `scheme:user@host` (RFC 3261 section 10.3 step 5). */
export function canonicalAor(uri: SipUri): string {
  const user = uri.user ? decodeURIComponent(uri.user) : '';
  return `${uri.scheme === 'sips' ? 'sips' : 'sip'}:${user ? user + '@' : ''}${uri.host.toLowerCase()}`;
}

/** A comparison key for contact URIs (the parts RFC 3261 section 19.1.4 compares that matter here). */
export function contactKey(uri: SipUri): string {
  return `${uri.scheme}:${uri.user ?? ''}@${uri.host.toLowerCase()}:${uri.port ?? ''};${uri.transport ?? ''}`;
}

/** RFC 3261 section 10.3 registrar with an RFC 3261 location service behind {@link LocationStore}. */
export class Registrar extends EventEmitter {
  readonly store: LocationStore;
  private readonly clock: Clock;
  private readonly min: number;
  private readonly max: number;
  private readonly def: number;
  private readonly auth: DigestServer | undefined;
  private readonly domains: Set<string> | undefined;
  private reaper: TimerHandle | undefined;
  private reaperAt = Infinity;

  constructor(o: RegistrarOptions = {}) {
    super();
    this.store = o.store ?? new MemoryLocationStore();
    this.clock = o.clock ?? systemClock;
    this.min = o.minExpires ?? 60;
    this.max = o.maxExpires ?? 3600;
    this.def = o.defaultExpires ?? 3600;
    this.auth = o.auth;
    this.domains = o.domains ? new Set(o.domains.map((d) => d.toLowerCase())) : undefined;
    this.scheduleReap();
  }

  /** Middleware answering REGISTER: `ua.use('REGISTER', registrar.middleware())`. */
  middleware(): Middleware {
    return (req, res, next) => {
      if (req.method !== 'REGISTER') {
        next();
        return;
      }
      this.handle(req, res);
    };
  }

  /** Current (unexpired) bindings of an AOR, highest q first (RFC 3261 section 16.6 ordering input). */
  lookup(aor: string): Binding[] {
    const now = this.clock.now();
    return this.store
      .get(aor)
      .filter((b) => b.expiresAt > now)
      .sort((a, b) => b.q - a.q);
  }

  /** Process one REGISTER (RFC 3261 section 10.3 steps 1-8). */
  handle(req: IncomingRequest, res: OutgoingResponse): void {
    const msg = req.message;
    // Step 1: is this registrar responsible for the domain?
    if (this.domains && !this.domains.has(msg.uri.host.toLowerCase())) {
      res.send(404, 'Domain Not Served');
      return;
    }
    const aorUri = msg.to.uri;
    if (!aorUri.isSip) {
      res.send(404, 'Address-of-record must be sip or sips');
      return;
    }
    const aor = canonicalAor(aorUri);
    // Steps 3 and 4: authenticate, then authorise the user for this AOR.
    if (this.auth) {
      const verdict = this.auth.verify(req.get('authorization'), 'REGISTER');
      if (!verdict.ok) {
        res.send(401, { headers: { 'WWW-Authenticate': this.auth.challenge(verdict.stale) } });
        return;
      }
      if (aorUri.user !== undefined && decodeURIComponent(aorUri.user) !== verdict.username) {
        res.send(403, 'Not Allowed For This Address-of-Record');
        return;
      }
    }
    let contacts;
    try {
      contacts = msg.contact;
    } catch {
      res.send(400, 'Bad Contact');
      return;
    }
    const callId = msg.callId;
    const cseq = msg.cseq.seq;
    const headerExpires = msg.expires;
    const now = this.clock.now();
    // Step 6: the wildcard.
    if (contacts.length === 1 && contacts[0] === '*') {
      if (headerExpires !== 0) {
        res.send(400, 'Wildcard Contact Needs Expires 0');
        return;
      }
      for (const b of this.store.get(aor)) {
        if (b.callId === callId && cseq <= b.cseq) continue;
        this.store.remove(aor, b.contactKey);
        this.emit('unregistered', b, 'removed');
      }
      this.reply(res, aor, now);
      return;
    }
    if (contacts.some((c) => c === '*')) {
      res.send(400, 'Wildcard Contact Mixed With Others');
      return;
    }
    const items = (contacts as NameAddr[]).map((c) => {
      let expires = c.expires ?? headerExpires ?? this.def;
      if (expires > this.max) expires = this.max;
      return { c, expires, key: contactKey(c.uri), q: c.q === undefined || Number.isNaN(c.q) ? 1 : Math.min(1, Math.max(0, c.q)) };
    });
    // Step 7: too brief an interval (checked before anything changes).
    if (items.some((i) => i.expires !== 0 && i.expires < this.min)) {
      res.send(423, { headers: { 'Min-Expires': String(this.min) } });
      return;
    }
    const existing = new Map(this.store.get(aor).map((b) => [b.contactKey, b]));
    for (const i of items) {
      const b = existing.get(i.key);
      if (b && b.callId === callId && cseq <= b.cseq) {
        // Step 7: out-of-order REGISTER for this binding: abort.
        res.send(500, 'Out Of Order CSeq');
        return;
      }
    }
    for (const i of items) {
      if (i.expires === 0) {
        const b = existing.get(i.key);
        if (b && this.store.remove(aor, i.key)) this.emit('unregistered', b, 'removed');
        continue;
      }
      const binding: Binding = {
        aor,
        contact: i.c.uri.toString(),
        contactKey: i.key,
        q: i.q,
        expiresAt: now + i.expires * 1000,
        callId,
        cseq,
        received: {
          protocol: req.source.protocol,
          host: req.source.remoteAddress,
          port: req.source.remotePort,
          ...(req.source.connectionId !== undefined ? { connectionId: req.source.connectionId } : {}),
        },
      };
      const instance = i.c.params.get('+sip.instance');
      if (instance) binding.instance = instance;
      this.store.put(binding);
      this.emit('registered', binding);
    }
    this.scheduleReap();
    this.reply(res, aor, now);
  }

  /** Step 8: 200 OK listing every current binding with its remaining expiry and q. */
  private reply(res: OutgoingResponse, aor: string, now: number): void {
    const contacts = this.lookup(aor).map(
      (b) => `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))};q=${formatQ(b.q)}`,
    );
    res.send(200, {
      headers: { ...(contacts.length > 0 ? { Contact: contacts } : {}), Date: new Date().toUTCString() },
    });
  }

  /** Remove expired bindings now (also runs on its own timer). */
  reap(): Binding[] {
    const gone = this.store.reap(this.clock.now());
    for (const b of gone) this.emit('unregistered', b, 'expired');
    return gone;
  }

  private scheduleReap(): void {
    const next = this.store.nextExpiry();
    if (next === undefined || next >= this.reaperAt) return;
    this.reaper?.cancel();
    this.reaperAt = next;
    this.reaper = this.clock.setTimer(Math.max(0, next - this.clock.now()), () => {
      this.reaper = undefined;
      this.reaperAt = Infinity;
      this.reap();
      this.scheduleReap();
    });
  }

  /** Stop the reaper timer. */
  close(): void {
    this.reaper?.cancel();
    this.reaper = undefined;
    this.reaperAt = Infinity;
  }
}

function formatQ(q: number): string {
  return q === 1 ? '1' : q.toFixed(3).replace(/0+$/, '').replace(/\.$/, '');
}
