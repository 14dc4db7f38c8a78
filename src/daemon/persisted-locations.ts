/**
 * The registrar's location service kept in the daemon's store (SQLite or Redis), so a restart does not
 * forget where desktop clients and softphones are registered (RFC 3261 section 10.3: bindings last until
 * they expire, whatever happens to the registrar). Lookups stay in memory and synchronous; every change
 * is written behind, in order, and {@link PersistedLocationStore.flush} waits for the writes.
 */
import { MemoryLocationStore, type Binding, type LocationStore } from '../sip/registrar/index.js';
import type { Clock } from '../sip/transaction/clock.js';
import type { Store } from '../store/index.js';
import { createLogger } from '../util/log.js';
import type { MetricsRegistry } from '../util/metrics.js';

const log = createLogger('registrar');

/** The store collection of the bindings. */
export const locationCollection = 'sip.locations';

/** A binding as stored: its expiry on the wall clock, since the registrar's clock restarts with the process. */
interface StoredBinding extends Omit<Binding, 'expiresAt'> {
  expiresAtWall: number;
}

const recordKey = (aor: string, contactKey: string): string => `${aor} ${contactKey}`;

/** A {@link LocationStore} in memory, written through to a {@link Store}. */
export class PersistedLocationStore implements LocationStore {
  private readonly memory = new MemoryLocationStore();
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly metrics: MetricsRegistry,
  ) {}

  /**
   * Read the stored bindings back: expired ones are deleted, TCP/TLS connection ids dropped (the
   * connections ended with the old process). Resolves how many bindings are live.
   */
  async load(): Promise<number> {
    const now = this.clock.now();
    const wall = Date.now();
    for (const { key, value } of await this.store.list<StoredBinding>(locationCollection)) {
      const { expiresAtWall, ...rest } = value;
      if (typeof expiresAtWall !== 'number' || typeof rest.aor !== 'string' || typeof rest.contactKey !== 'string' || expiresAtWall <= wall) {
        if (typeof expiresAtWall !== 'number') this.metrics.counter('switchhook_registrar_bad_records_total', 'Stored registrar bindings that could not be read').inc();
        await this.store.delete(locationCollection, key);
        continue;
      }
      if (rest.received) delete rest.received.connectionId;
      this.memory.put({ ...rest, expiresAt: now + (expiresAtWall - wall) });
    }
    return this.memory.size();
  }

  /** Resolves once every change so far is stored. */
  flush(): Promise<void> {
    return this.writes;
  }

  get(aor: string): Binding[] {
    return this.memory.get(aor);
  }

  put(binding: Binding): void {
    this.memory.put(binding);
    const { expiresAt, ...rest } = binding;
    const stored: StoredBinding = { ...rest, expiresAtWall: Date.now() + (expiresAt - this.clock.now()) };
    this.write(() => this.store.put(locationCollection, recordKey(binding.aor, binding.contactKey), stored));
  }

  remove(aor: string, contactKey: string): boolean {
    if (!this.memory.remove(aor, contactKey)) return false;
    this.write(() => this.store.delete(locationCollection, recordKey(aor, contactKey)));
    return true;
  }

  removeAll(aor: string): Binding[] {
    return this.forget(this.memory.removeAll(aor));
  }

  reap(now: number): Binding[] {
    return this.forget(this.memory.reap(now));
  }

  nextExpiry(): number | undefined {
    return this.memory.nextExpiry();
  }

  size(): number {
    return this.memory.size();
  }

  private forget(gone: Binding[]): Binding[] {
    for (const b of gone) this.write(() => this.store.delete(locationCollection, recordKey(b.aor, b.contactKey)));
    return gone;
  }

  /** Queue a write after the ones before it; a failed write is logged and counted, the rest go on. */
  private write(op: () => Promise<unknown>): void {
    this.writes = this.writes.then(op).then(
      () => undefined,
      (err: unknown) => {
        this.metrics.counter('switchhook_registrar_store_errors_total', 'Registrar bindings that could not be stored').inc();
        log.warn(`could not store a registrar binding: ${(err as Error).message}`);
      },
    );
  }
}
