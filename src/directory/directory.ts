import Database from 'better-sqlite3';

import { MetricsRegistry, type Counter } from '../util/metrics.js';
import { readCsv } from './csv.js';
import { DirectoryError } from './errors.js';
import { NumberIndex, type ClientBinding, type ClientSource } from './number-index.js';
import { NumberingPlan, type NormalisedNumber, type NumberingPlanConfig } from './numbering-plan.js';

/** A binding as provisioning sees it: the canonical number (E.164 or extension) and one client. */
export interface DirectoryRecord extends ClientBinding {
  /** Canonical key: E.164 (`+...`) or, for an extension outside every DID range, the extension digits. */
  number: string;
}

/** What a lookup found. */
export interface DirectoryLookup {
  number: NormalisedNumber;
  /** Live bindings; empty when the number has no multimedia client. */
  bindings: ClientBinding[];
}

/** Input of {@link Directory.add} and {@link Directory.update} (the admin API's body). */
export interface ProvisionInput {
  number: string;
  client: string;
  display?: string;
}

/** One bad CSV line: its 1-based line number and what was wrong. */
export interface ImportIssue {
  line: number;
  field: string;
  code: string;
  message: string;
}

/** The result of a bulk import: lines imported (in one transaction) and every bad line. */
export interface ImportReport {
  imported: number;
  errors: ImportIssue[];
}

/** Options of a {@link Directory}. */
export interface DirectoryOptions {
  plan: NumberingPlan | NumberingPlanConfig;
  /** A SQLite file path, `:memory:`, or an open better-sqlite3 database to share. */
  database: string | Database.Database;
  metrics?: MetricsRegistry;
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
  /** Size hint for the index (numbers). */
  expectedNumbers?: number;
  /** Reap expired registrations every this many ms (0: only on demand). Default 60000. */
  reapIntervalMs?: number;
}

const uriRe = /^sips?:[^\s<>"\\\u0000-\u001f\u007f]+$/i;
const displayRe = /^[^\u0000-\u001f\u007f]{1,128}$/;
const maxUri = 512;

/**
 * The service node's directory: telephone numbers and extensions mapped to multimedia client addresses.
 * SQLite (a dedicated `directory_bindings` table) is the durable copy; a compact {@link NumberIndex} answers
 * lookups. Provisioning (the admin API) adds permanent bindings; a registrar feeds registrations with expiry
 * through {@link register} (RFC 3261 §10.3: `Expires: 0` removes the binding).
 */
export class Directory {
  readonly plan: NumberingPlan;
  private readonly db: Database.Database;
  private readonly ownsDb: boolean;
  private readonly e164: NumberIndex;
  private readonly ext = new NumberIndex(64);
  private readonly now: () => number;
  private readonly stmts;
  private readonly reaper: NodeJS.Timeout | undefined;
  private closed = false;
  /** Lookup counts not yet added to the metrics (the hot path counts in plain numbers; flushed each second). */
  private hits = 0;
  private misses = 0;
  private readonly flusher: NodeJS.Timeout;
  private readonly m: { hit: Counter; miss: Counter; bad: Counter; reaped: Counter; importBad: Counter };

  constructor(opts: DirectoryOptions) {
    this.plan = opts.plan instanceof NumberingPlan ? opts.plan : new NumberingPlan(opts.plan);
    this.now = opts.now ?? Date.now;
    this.e164 = new NumberIndex(opts.expectedNumbers ?? 1024);
    const metrics = opts.metrics ?? new MetricsRegistry();
    this.m = {
      hit: metrics.counter('switchhook_directory_lookup_hits_total', 'Directory lookups that found a multimedia client'),
      miss: metrics.counter('switchhook_directory_lookup_misses_total', 'Directory lookups that found no multimedia client'),
      bad: metrics.counter('switchhook_directory_invalid_numbers_total', 'Lookups of strings that are not numbers of the plan'),
      reaped: metrics.counter('switchhook_directory_registrations_expired_total', 'Registered bindings removed on expiry'),
      importBad: metrics.counter('switchhook_directory_import_errors_total', 'Bad lines rejected by bulk import'),
    };
    if (typeof opts.database === 'string') {
      this.db = new Database(opts.database);
      this.ownsDb = true;
      if (opts.database !== ':memory:') {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL');
      }
    } else {
      this.db = opts.database;
      this.ownsDb = false;
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS directory_bindings (
        number TEXT NOT NULL,
        client TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('register', 'provisioned')),
        display TEXT,
        expires_at INTEGER,
        PRIMARY KEY (number, client)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS directory_bindings_expiry ON directory_bindings (expires_at) WHERE expires_at IS NOT NULL;
    `);
    type Row = { number: string; client: string; source: ClientSource; display: string | null; expires_at: number | null };
    this.stmts = {
      upsert: this.db.prepare<[string, string, string, string | null, number | null]>(
        'INSERT INTO directory_bindings (number, client, source, display, expires_at) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT (number, client) DO UPDATE SET source = excluded.source, display = excluded.display, expires_at = excluded.expires_at',
      ),
      getOne: this.db.prepare<[string, string], Row>('SELECT * FROM directory_bindings WHERE number = ? AND client = ?'),
      delOne: this.db.prepare<[string, string]>('DELETE FROM directory_bindings WHERE number = ? AND client = ?'),
      delAll: this.db.prepare<[string]>('DELETE FROM directory_bindings WHERE number = ?'),
      list: this.db.prepare<[string, string, string, string, number], Row>(
        'SELECT * FROM directory_bindings WHERE number >= ? AND number < ? AND (number, client) > (?, ?) ORDER BY number, client LIMIT ?',
      ),
      all: this.db.prepare<[], Row>('SELECT * FROM directory_bindings'),
      expired: this.db.prepare<[number], { number: string; client: string }>(
        'DELETE FROM directory_bindings WHERE expires_at IS NOT NULL AND expires_at <= ? RETURNING number, client',
      ),
      count: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM directory_bindings'),
      bulk: this.db.prepare<[string]>(
        "INSERT INTO directory_bindings (number, client, source, display, expires_at) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), 'provisioned', json_extract(value, '$[2]'), NULL " +
          'FROM json_each(?) WHERE true ORDER BY 1, 2, key ' +
          'ON CONFLICT (number, client) DO UPDATE SET source = excluded.source, display = excluded.display, expires_at = excluded.expires_at',
      ),
    };
    this.load();
    this.flusher = setInterval(() => this.flushCounters(), 1000);
    this.flusher.unref();
    const every = opts.reapIntervalMs ?? 60000;
    if (every > 0) {
      this.reaper = setInterval(() => this.reapExpired(), every);
      this.reaper.unref();
    }
  }

  /** Add the lookup counts kept since the last flush to the metrics (done each second and on close). */
  flushCounters(): void {
    if (this.hits > 0) this.m.hit.inc(undefined, this.hits);
    if (this.misses > 0) this.m.miss.inc(undefined, this.misses);
    this.hits = 0;
    this.misses = 0;
  }

  /** Numbers with at least one binding, and bindings in all, held by the index. */
  stats(): { numbers: number; bindings: number; indexBytes: number } {
    this.flushCounters();
    return {
      numbers: this.e164.size + this.ext.size,
      bindings: this.e164.bindings + this.ext.bindings,
      indexBytes: this.e164.typedBytes() + this.ext.typedBytes(),
    };
  }

  /** Rebuild the index from SQLite, leaving out registrations that have expired. */
  private load(): void {
    const now = this.now();
    this.e164.clear();
    this.ext.clear();
    for (const row of this.stmts.all.iterate()) {
      if (row.expires_at !== null && row.expires_at <= now) continue;
      const b: ClientBinding = { uri: row.client, source: row.source };
      if (row.display !== null) b.display = row.display;
      if (row.expires_at !== null) b.expiresAt = row.expires_at;
      this.indexPut(row.number, b);
    }
  }

  private indexFor(key: string): { index: NumberIndex; k: number; digits: string } {
    if (key.charCodeAt(0) === 43) {
      const digits = key.slice(1);
      return { index: this.e164, k: Number(digits), digits };
    }
    return { index: this.ext, k: Number('1' + key), digits: key };
  }

  private indexPut(key: string, b: ClientBinding): void {
    const { index, k, digits } = this.indexFor(key);
    index.upsert(k, digits, b);
  }

  /** The canonical key of a normalised number: its E.164 form, else its extension. */
  static keyOf(n: NormalisedNumber): string {
    return n.e164 ?? n.extension!;
  }

  private checkOpen(): void {
    if (this.closed) throw new DirectoryError('DIR_ERR_CLOSED', 'directory', 'is closed');
  }

  private validate(input: ProvisionInput): { key: string; display: string | null } {
    if (typeof input.number !== 'string') throw new DirectoryError('DIR_ERR_NUMBER', 'number', 'is required');
    const key = Directory.keyOf(this.plan.normalise(input.number, 'number'));
    checkClient(input.client);
    let display: string | null = null;
    if (input.display !== undefined && input.display !== '') {
      if (typeof input.display !== 'string' || !displayRe.test(input.display)) {
        throw new DirectoryError('DIR_ERR_DISPLAY', 'display', 'must be 1 to 128 characters without control characters');
      }
      display = input.display;
    }
    return { key, display };
  }

  /**
   * Provision a permanent binding (or replace the one with the same client). Resolves the stored record and
   * whether it was new.
   * @throws DirectoryError naming the field at fault (`number`, `client`, `display`).
   */
  add(input: ProvisionInput): { record: DirectoryRecord; created: boolean } {
    this.checkOpen();
    const { key, display } = this.validate(input);
    const created = this.stmts.getOne.get(key, input.client) === undefined;
    this.stmts.upsert.run(key, input.client, 'provisioned', display, null);
    const b: ClientBinding = { uri: input.client, source: 'provisioned' };
    if (display !== null) b.display = display;
    this.indexPut(key, b);
    return { record: { number: key, ...b }, created };
  }

  /**
   * Change an existing binding (today: its display name; a registered binding becomes provisioned).
   * @throws DirectoryError `DIR_ERR_NOT_FOUND` when the number has no binding to that client.
   */
  update(input: ProvisionInput): DirectoryRecord {
    this.checkOpen();
    const { key } = this.validate(input);
    if (this.stmts.getOne.get(key, input.client) === undefined) {
      throw new DirectoryError('DIR_ERR_NOT_FOUND', 'client', `${input.client} is not bound to ${key}`);
    }
    return this.add(input).record;
  }

  /**
   * Remove the binding of `client` to the number, or all its bindings when `client` is absent. Returns how
   * many were removed (0: nothing matched).
   */
  remove(number: string, client?: string): number {
    this.checkOpen();
    const key = Directory.keyOf(this.plan.normalise(number, 'number'));
    if (client !== undefined) checkClient(client);
    const changes = client === undefined ? this.stmts.delAll.run(key).changes : this.stmts.delOne.run(key, client).changes;
    const { index, k, digits } = this.indexFor(key);
    index.remove(k, digits, client);
    return changes;
  }

  /**
   * Feed a registration (from a registrar): bind `contact` to the number for `expiresSeconds`; 0 removes it
   * (RFC 3261 §10.2.2). A provisioned binding to the same URI is replaced by the registered one.
   */
  register(number: string, contact: string, expiresSeconds: number): DirectoryRecord | undefined {
    this.checkOpen();
    const key = Directory.keyOf(this.plan.normalise(number, 'number'));
    checkClient(contact, 'contact');
    if (!Number.isInteger(expiresSeconds) || expiresSeconds < 0 || expiresSeconds > 2 ** 31) {
      throw new DirectoryError('DIR_ERR_EXPIRES', 'expires', 'must be a whole number of seconds, 0 or more');
    }
    if (expiresSeconds === 0) {
      this.remove(key, contact);
      return undefined;
    }
    const expiresAt = this.now() + expiresSeconds * 1000;
    this.stmts.upsert.run(key, contact, 'register', null, expiresAt);
    const b: ClientBinding = { uri: contact, source: 'register', expiresAt };
    this.indexPut(key, b);
    return { number: key, ...b };
  }

  /** Remove every registered binding that has expired; returns how many. */
  reapExpired(): number {
    if (this.closed) return 0;
    const now = this.now();
    const rows = this.stmts.expired.all(now);
    for (const r of rows) {
      const { index, k } = this.indexFor(r.number);
      index.removeExpired(k, now);
    }
    this.m.reaped.inc(undefined, rows.length);
    return rows.length;
  }

  /**
   * Look a number up (any form the numbering plan accepts). Undefined when the string is not a number of
   * the plan; otherwise the normalised number and its live bindings (possibly none).
   */
  lookup(number: string): DirectoryLookup | undefined {
    const n = this.plan.tryNormalise(number);
    if (!n) {
      this.m.bad.inc();
      return undefined;
    }
    return { number: n, bindings: this.lookupNormalised(n) };
  }

  /** Live bindings of an already normalised number. */
  lookupNormalised(n: NormalisedNumber): ClientBinding[] {
    this.checkOpen();
    const { index, k, digits } = this.indexFor(Directory.keyOf(n));
    const found = index.get(k, digits, this.now());
    if (found.length > 0) this.hits++;
    else this.misses++;
    if (this.hits + this.misses >= 4096) this.flushCounters();
    return found;
  }

  /** The first live client URI of an E.164 number (`+digits`): the hot path, no binding objects built. */
  firstClient(e164: string): string | undefined {
    let key = 0;
    let valid = e164.length > 2 && e164.length <= 16 && e164.charCodeAt(0) === 43;
    for (let i = 1; valid && i < e164.length; i++) {
      const d = e164.charCodeAt(i) - 48;
      valid = d >= 0 && d <= 9;
      key = key * 10 + d;
    }
    if (!valid) {
      this.m.bad.inc();
      return undefined;
    }
    const uri = this.e164.firstUriE164(key, e164, this.now);
    if (uri !== undefined) this.hits++;
    else this.misses++;
    if (this.hits + this.misses >= 4096) this.flushCounters();
    return uri;
  }

  /**
   * Page through stored bindings in number order, optionally only numbers starting with `prefix`; pass the
   * last record of a page as `after` to get the next.
   */
  list(opts: { prefix?: string; limit?: number; after?: { number: string; client: string } } = {}): DirectoryRecord[] {
    this.checkOpen();
    const limit = opts.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new DirectoryError('DIR_ERR_LIMIT', 'limit', 'must be from 1 to 10000');
    const prefix = opts.prefix ?? '';
    const high = prefix === '' ? '\uffff' : prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    const after = opts.after ?? { number: '', client: '' };
    return this.stmts.list.all(prefix, high, after.number, after.client, limit).map((r) => {
      const rec: DirectoryRecord = { number: r.number, uri: r.client, source: r.source };
      if (r.display !== null) rec.display = r.display;
      if (r.expires_at !== null) rec.expiresAt = r.expires_at;
      return rec;
    });
  }

  /** Bindings stored (SQLite count). */
  count(): number {
    return this.stmts.count.get()!.n;
  }

  /**
   * Bulk import CSV text: `number,client[,display]` per line, an optional header line (`number,...`), RFC 4180
   * quoting. Every bad line is reported with its line number; the good lines go in one transaction.
   */
  importCsv(text: string): ImportReport {
    this.checkOpen();
    const errors: ImportIssue[] = [];
    const keys: string[] = [];
    const clients: string[] = [];
    const displays: (string | null)[] = [];
    let first = true;
    readCsv(text, (row) => {
      const isFirst = first;
      first = false;
      if (row.error !== undefined) {
        errors.push({ line: row.line, field: 'line', code: 'DIR_ERR_CSV', message: row.error });
        return;
      }
      const f = row.fields;
      if (isFirst && f[0]!.trim().toLowerCase() === 'number') return;
      if (f.length < 2 || f.length > 3) {
        errors.push({ line: row.line, field: 'line', code: 'DIR_ERR_CSV', message: `expected 2 or 3 fields (number,client[,display]), got ${f.length}` });
        return;
      }
      try {
        const input: ProvisionInput = { number: f[0]!, client: f[1]!.trim() };
        if (f[2] !== undefined) input.display = f[2];
        const { key, display } = this.validate(input);
        keys.push(key);
        clients.push(input.client);
        displays.push(display);
      } catch (err) {
        if (!(err instanceof DirectoryError)) throw err;
        errors.push({ line: row.line, field: err.field, code: err.code, message: err.message });
      }
    });
    // The good rows go to SQLite as one JSON array in one statement, inserted in key order by SQLite's
    // sorter: one call across the native boundary instead of a million, and B-tree inserts that append to
    // the same few pages instead of touching pages at random. Of duplicate lines, the last wins.
    const rows = new Array<[string, string, string | null]>(keys.length);
    for (let i = 0; i < keys.length; i++) rows[i] = [keys[i]!, clients[i]!, displays[i]!];
    if (rows.length > 0) this.stmts.bulk.run(JSON.stringify(rows));
    for (let i = 0; i < keys.length; i++) {
      const b: ClientBinding = { uri: clients[i]!, source: 'provisioned' };
      if (displays[i] !== null) b.display = displays[i]!;
      this.indexPut(keys[i]!, b);
    }
    this.m.importBad.inc(undefined, errors.length);
    // V8 keeps the last RegExp subject (legacy RegExp.input); ours was a slice of `text`: let it go.
    releaseRegExpInput();
    return { imported: keys.length, errors };
  }

  /** Stop the reaper and close the database (when the directory opened it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flushCounters();
    clearInterval(this.flusher);
    if (this.reaper) clearInterval(this.reaper);
    if (this.ownsDb) this.db.close();
  }
}

function releaseRegExpInput(): void {
  /^/.test('');
}

function checkClient(client: unknown, field = 'client'): asserts client is string {
  if (typeof client !== 'string' || client.length > maxUri || !uriRe.test(client)) {
    throw new DirectoryError('DIR_ERR_CLIENT', field, `must be a SIP or SIPS URI (RFC 3261 §19.1) of at most ${maxUri} characters`);
  }
}
