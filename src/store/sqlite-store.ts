import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { checkName, decodeValue, type Store, type StoredRecord } from './store.js';

/**
 * The embedded default store: one SQLite file (`switchhook.db`) under the data folder, in WAL mode with
 * `synchronous=NORMAL`, so a process crash (even `kill -9`) loses no committed write.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly path: string;
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(dataDir: string, fileName = 'switchhook.db') {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, fileName);
    this.db = new Database(this.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS records (
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (collection, key)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
    `);
    this.stmts = {
      get: this.db.prepare<[string, string], { value: string }>('SELECT value FROM records WHERE collection = ? AND key = ?'),
      put: this.db.prepare('INSERT INTO records (collection, key, value) VALUES (?, ?, ?) ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value'),
      del: this.db.prepare('DELETE FROM records WHERE collection = ? AND key = ?'),
      list: this.db.prepare<[string], { key: string; value: string }>('SELECT key, value FROM records WHERE collection = ? ORDER BY key'),
      inc: this.db.prepare<[{ name: string; by: number }], { value: number }>(
        'INSERT INTO counters (name, value) VALUES (@name, @by) ON CONFLICT (name) DO UPDATE SET value = value + @by RETURNING value',
      ),
    };
  }

  async get<T>(collection: string, key: string): Promise<T | undefined> {
    checkName('collection', collection);
    const row = this.stmts.get.get(collection, key);
    return row ? decodeValue<T>(collection, key, row.value) : undefined;
  }

  async put<T>(collection: string, key: string, value: T): Promise<void> {
    checkName('collection', collection);
    this.stmts.put.run(collection, key, JSON.stringify(value));
  }

  async putMany<T>(collection: string, records: readonly StoredRecord<T>[]): Promise<void> {
    checkName('collection', collection);
    this.db.transaction(() => {
      for (const r of records) this.stmts.put.run(collection, r.key, JSON.stringify(r.value));
    })();
  }

  async delete(collection: string, key: string): Promise<boolean> {
    checkName('collection', collection);
    return this.stmts.del.run(collection, key).changes > 0;
  }

  async list<T>(collection: string): Promise<StoredRecord<T>[]> {
    checkName('collection', collection);
    return this.stmts.list.all(collection).map((row) => ({ key: row.key, value: decodeValue<T>(collection, row.key, row.value) }));
  }

  async increment(counter: string, by = 1): Promise<number> {
    checkName('counter', counter);
    return this.stmts.inc.get({ name: counter, by })!.value;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
