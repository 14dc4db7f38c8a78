/**
 * The routing tables of every user: stored in the project's {@link Store} (one record per user in the
 * `routing.rules` collection), validated on write, versioned (a write names the version it was based on and
 * is refused when that is stale), and compiled into memory so a change takes effect without a restart: the
 * new compiled form replaces the old in one assignment, and calls being decided keep the one they started
 * with. Subscribers hear of every change, so a cluster of daemons can forward it and call {@link
 * RoutingTable.reload} on the others; without such a channel, {@link RoutingTable.watch} polls a store
 * counter that every write raises (so `switchhook route set` against the data folder reaches a running
 * daemon too). These are the functions the admin HTTP API calls.
 */
import type { Store } from '../../store/store.js';
import { createLogger } from '../../util/log.js';
import type { Counter, MetricsRegistry } from '../../util/metrics.js';
import { CompiledRuleSet } from './compile.js';
import { RoutingError } from './errors.js';
import { explainRuleSet, type Explanation } from './explain.js';
import { RoutingActionType, type IncomingCall, type RoutingDecision, type RuleSet, type VersionedRuleSet } from './types.js';
import { formatIssues, validateRuleSet, type ValidationIssue } from './validate.js';

/** Store collection holding one {@link VersionedRuleSet} per user. */
export const RULES_COLLECTION = 'routing.rules';

/** Store counter raised by every write, so other processes sharing the store notice changes. */
export const GENERATION_COUNTER = 'routing.rules.generation';

const USER_RE = /^[A-Za-z0-9_.:+@-]{1,64}$/;

/** A change of one user's rule set; `version` is 0 after a delete. */
export interface RoutingChange {
  user: string;
  version: number;
  /** `write`: through this table; `reload`: read back from the store on request. */
  origin: 'write' | 'reload';
}

export type RoutingListener = (change: RoutingChange) => void;

export interface RoutingTableOptions {
  metrics?: MetricsRegistry;
  /** Clock for `updatedAt` (tests). */
  now?: () => number;
}

/** Check a user key (an extension or user name). */
export function checkUser(user: unknown): string {
  if (typeof user !== 'string' || !USER_RE.test(user)) {
    throw new RoutingError('ROUTING_ERR_USER', `invalid user '${String(user)}': 1-64 characters of A-Z a-z 0-9 _ . : + @ -`);
  }
  return user;
}

export class RoutingTable {
  private compiled = new Map<string, CompiledRuleSet>();
  private readonly listeners = new Set<RoutingListener>();
  private readonly writes = new Map<string, Promise<unknown>>();
  private generation = -1;
  private watchTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly log = createLogger('routing');
  private readonly decisions: Counter | undefined;
  private readonly rejected: Counter | undefined;
  private readonly badInput: Counter | undefined;

  constructor(
    private readonly store: Store,
    options: RoutingTableOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    const m = options.metrics;
    this.decisions = m?.counter('switchhook_routing_decisions_total', 'Routing decisions taken for incoming calls');
    this.rejected = m?.counter('switchhook_routing_writes_rejected_total', 'Rule set writes refused (invalid or stale version)');
    this.badInput = m?.counter('switchhook_routing_bad_input_total', 'Calls or stored rule sets that could not be evaluated');
  }

  /** Read and compile every stored rule set (at start). Resolves to the number loaded. */
  async load(): Promise<number> {
    this.generation = await this.store.increment(GENERATION_COUNTER, 0);
    const next = new Map<string, CompiledRuleSet>();
    for (const { key, value } of await this.store.list<VersionedRuleSet>(RULES_COLLECTION)) {
      const c = this.compileStored(key, value);
      if (c) next.set(key, c);
    }
    this.compiled = next;
    return next.size;
  }

  private compileStored(user: string, rec: VersionedRuleSet | undefined): CompiledRuleSet | undefined {
    if (!rec) return undefined;
    const issues = validateRuleSet(rec.ruleSet);
    if (issues.length > 0 || !Number.isInteger(rec.version)) {
      this.badInput?.inc();
      this.log.error(`stored rule set of user ${user} is invalid and is ignored: ${formatIssues(issues) || 'bad version'}`);
      return undefined;
    }
    return new CompiledRuleSet(user, rec.version, rec.ruleSet);
  }

  /** The stored rule set of a user, with its version. */
  async get(user: string): Promise<VersionedRuleSet | undefined> {
    return this.store.get<VersionedRuleSet>(RULES_COLLECTION, checkUser(user));
  }

  /** Dry run: every problem with a rule set, nothing stored. */
  validate(ruleSet: unknown): ValidationIssue[] {
    return validateRuleSet(ruleSet);
  }

  /**
   * Store a user's rule set. `expectedVersion` is the version the write is based on (0: the user has none
   * yet); a stale one is refused with `ROUTING_ERR_VERSION`. An invalid rule set is refused with
   * `ROUTING_ERR_INVALID` listing every problem. On success the new rule set decides the next call.
   */
  async put(user: string, ruleSet: unknown, expectedVersion: number): Promise<VersionedRuleSet> {
    checkUser(user);
    const issues = validateRuleSet(ruleSet);
    if (issues.length > 0) {
      this.rejected?.inc();
      throw new RoutingError('ROUTING_ERR_INVALID', `invalid rule set for user ${user}:\n${formatIssues(issues)}`, issues);
    }
    return this.serialised(user, async () => {
      const current = await this.get(user);
      this.checkVersion(user, current, expectedVersion);
      const rec: VersionedRuleSet = {
        user,
        version: (current?.version ?? 0) + 1,
        updatedAt: new Date(this.now()).toISOString(),
        ruleSet: ruleSet as RuleSet,
      };
      const compiled = new CompiledRuleSet(user, rec.version, rec.ruleSet);
      await this.store.put(RULES_COLLECTION, user, rec);
      await this.store.increment(GENERATION_COUNTER);
      this.compiled.set(user, compiled);
      this.emit({ user, version: rec.version, origin: 'write' });
      return rec;
    });
  }

  /** Delete a user's rule set (calls then take the default: ring). Same version rule as {@link put}. */
  async delete(user: string, expectedVersion: number): Promise<void> {
    checkUser(user);
    await this.serialised(user, async () => {
      const current = await this.get(user);
      if (!current) throw new RoutingError('ROUTING_ERR_NOT_FOUND', `user ${user} has no rule set`);
      this.checkVersion(user, current, expectedVersion);
      await this.store.delete(RULES_COLLECTION, user);
      await this.store.increment(GENERATION_COUNTER);
      this.compiled.delete(user);
      this.emit({ user, version: 0, origin: 'write' });
    });
  }

  /** Re-read one user's rule set from the store and swap it in (another daemon changed it). */
  async reload(user: string): Promise<void> {
    checkUser(user);
    await this.serialised(user, async () => {
      const c = this.compileStored(user, await this.get(user));
      if (c) this.compiled.set(user, c);
      else this.compiled.delete(user);
      this.emit({ user, version: c?.version ?? 0, origin: 'reload' });
    });
  }

  /**
   * Bring every user up to the store when its generation counter moved (another process wrote): changed
   * rule sets are recompiled and swapped in, deleted ones dropped, each reported with origin `reload`.
   */
  async sync(): Promise<void> {
    this.syncing ??= this.doSync().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async doSync(): Promise<void> {
    const generation = await this.store.increment(GENERATION_COUNTER, 0);
    if (generation === this.generation) return;
    this.generation = generation;
    const stored = new Map((await this.store.list<VersionedRuleSet>(RULES_COLLECTION)).map((r) => [r.key, r.value]));
    for (const [user, rec] of stored) {
      if (this.compiled.get(user)?.version === rec.version) continue;
      const c = this.compileStored(user, rec);
      if (c) this.compiled.set(user, c);
      else this.compiled.delete(user);
      this.emit({ user, version: c?.version ?? 0, origin: 'reload' });
    }
    for (const user of [...this.compiled.keys()]) {
      if (stored.has(user)) continue;
      this.compiled.delete(user);
      this.emit({ user, version: 0, origin: 'reload' });
    }
  }

  /** Call {@link sync} every `intervalMs` until {@link close}. */
  watch(intervalMs = 1000): void {
    if (this.watchTimer) return;
    this.watchTimer = setInterval(() => {
      this.sync().catch((err: unknown) => {
        this.badInput?.inc();
        this.log.rateLimited('error', 'routing-sync', `routing sync failed: ${(err as Error).message}`, 60_000);
      });
    }, intervalMs);
    this.watchTimer.unref();
  }

  /** Stop watching; resolves once a sync in progress has finished. */
  async close(): Promise<void> {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    await this.syncing?.catch(() => undefined);
  }

  /** Hear of every change; returns the function that unsubscribes. */
  subscribe(listener: RoutingListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The compiled rule set in effect for a user. */
  compiledFor(user: string): CompiledRuleSet | undefined {
    return this.compiled.get(user);
  }

  /**
   * Decide an incoming call for a user, synchronously, from the compiled rule set in effect (the default,
   * ring, when the user has none). Throws `ROUTING_ERR_INPUT` for a call without a valid instant.
   */
  decide(user: string, call: IncomingCall): RoutingDecision {
    if (!Number.isFinite(call.at)) {
      this.badInput?.inc();
      throw new RoutingError('ROUTING_ERR_INPUT', `call for user ${user} has no valid arrival time`);
    }
    this.decisions?.inc();
    const c = this.compiled.get(user);
    if (c) return c.decide(call);
    return { user, version: 0, ruleIndex: -1, ruleId: undefined, action: RoutingActionType.Ring };
  }

  /** Explain, from the stored rule set, how a call would be routed. */
  async explain(user: string, call: IncomingCall): Promise<Explanation> {
    const rec = await this.get(user);
    if (!rec) throw new RoutingError('ROUTING_ERR_NOT_FOUND', `user ${user} has no rule set`);
    if (!Number.isFinite(call.at)) throw new RoutingError('ROUTING_ERR_INPUT', 'the call has no valid arrival time');
    return explainRuleSet(user, rec.version, rec.ruleSet, call);
  }

  private checkVersion(user: string, current: VersionedRuleSet | undefined, expected: number): void {
    const have = current?.version ?? 0;
    if (expected !== have) {
      this.rejected?.inc();
      throw new RoutingError(
        'ROUTING_ERR_VERSION',
        `stale version: the rule set of user ${user} is at version ${have}, the write was based on version ${expected}`,
      );
    }
  }

  private emit(change: RoutingChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.log.error(`routing change listener failed: ${(err as Error).message}`);
      }
    }
  }

  /** Run writes for one user one after another (a read-check-write must not interleave). */
  private serialised<T>(user: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.writes.get(user) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.then(() => undefined, () => undefined);
    this.writes.set(user, settled);
    void settled.then(() => {
      if (this.writes.get(user) === settled) this.writes.delete(user);
    });
    return run;
  }
}
