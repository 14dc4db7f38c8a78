/**
 * The location service behind the registrar (RFC 3261 section 10.3): bindings from an address-of-record
 * to contact addresses. Storage sits behind {@link LocationStore} so the daemon can back it with SQLite;
 * {@link MemoryLocationStore} keeps it in memory.
 */

/** One registered contact of an AOR (RFC 3261 section 10.3 step 7). */
export interface Binding {
  /** Canonical address-of-record, `sip:user@host` (RFC 3261 section 10.3 step 5). */
  aor: string;
  /** The Contact URI as registered. */
  contact: string;
  /** Comparison key of the contact URI (RFC 3261 section 19.1.4 equality). */
  contactKey: string;
  /** Preference 0..1 (the `q` Contact parameter, RFC 3261 section 20.10), default 1. */
  q: number;
  /** Absolute expiry on the registrar's clock (ms). */
  expiresAt: number;
  callId: string;
  cseq: number;
  /** `+sip.instance` (RFC 5626) if given. */
  instance?: string;
  /** Where the REGISTER came from (for reaching clients behind NAT). */
  received?: { protocol: string; host: string; port: number; connectionId?: string | number };
}

/** Storage of bindings. Synchronous, like better-sqlite3. */
export interface LocationStore {
  /** Bindings of an AOR, in no particular order (expired ones may still be present until reaped). */
  get(aor: string): Binding[];
  /** Insert or replace the binding (aor, contactKey). */
  put(binding: Binding): void;
  /** Remove one binding; true when it existed. */
  remove(aor: string, contactKey: string): boolean;
  /** Remove every binding of an AOR, returning them. */
  removeAll(aor: string): Binding[];
  /** Remove and return every binding with `expiresAt <= now`. */
  reap(now: number): Binding[];
  /** The earliest `expiresAt` of all bindings, if any. */
  nextExpiry(): number | undefined;
  /** Total number of bindings. */
  size(): number;
}

/** A {@link LocationStore} in memory. */
export class MemoryLocationStore implements LocationStore {
  private readonly byAor = new Map<string, Map<string, Binding>>();
  private count = 0;

  get(aor: string): Binding[] {
    const m = this.byAor.get(aor);
    return m ? [...m.values()] : [];
  }

  put(binding: Binding): void {
    let m = this.byAor.get(binding.aor);
    if (!m) {
      m = new Map();
      this.byAor.set(binding.aor, m);
    }
    if (!m.has(binding.contactKey)) this.count++;
    m.set(binding.contactKey, { ...binding });
  }

  remove(aor: string, contactKey: string): boolean {
    const m = this.byAor.get(aor);
    if (!m || !m.delete(contactKey)) return false;
    this.count--;
    if (m.size === 0) this.byAor.delete(aor);
    return true;
  }

  removeAll(aor: string): Binding[] {
    const m = this.byAor.get(aor);
    if (!m) return [];
    this.byAor.delete(aor);
    this.count -= m.size;
    return [...m.values()];
  }

  reap(now: number): Binding[] {
    const gone: Binding[] = [];
    for (const [aor, m] of this.byAor) {
      for (const [key, b] of m) {
        if (b.expiresAt <= now) {
          m.delete(key);
          gone.push(b);
        }
      }
      if (m.size === 0) this.byAor.delete(aor);
    }
    this.count -= gone.length;
    return gone;
  }

  nextExpiry(): number | undefined {
    let min: number | undefined;
    for (const m of this.byAor.values()) for (const b of m.values()) if (min === undefined || b.expiresAt < min) min = b.expiresAt;
    return min;
  }

  size(): number {
    return this.count;
  }
}
