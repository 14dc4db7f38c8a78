import { Redis } from 'ioredis';

import { keepPrototypeFast } from '../util/fast-prototype.js';
import { createLogger } from '../util/log.js';

import { checkName, decodeValue, StoreError, type Store, type StoredRecord } from './store.js';

const log = createLogger('store');

// ioredis extends String (its RESP3 `VerbatimString`), which leaves String.prototype in dictionary mode
// for the whole process, and every string method call in optimised code pays a generic property load.
keepPrototypeFast(String.prototype);

/**
 * The cluster store: daemons that share presence state and subscriptions point at one Redis. Each collection
 * is a hash `PREFIX:c:NAME`; counters are `PREFIX:n:NAME` integers (INCRBY is atomic across daemons).
 */
export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly prefix = 'switchhook',
  ) {
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true });
    this.redis.on('error', (err: Error) => log.rateLimited('warn', 'redis', `redis: ${err.message}`));
  }

  /** Connect and check the server answers. */
  async open(): Promise<this> {
    try {
      await this.redis.connect();
      await this.redis.ping();
    } catch (err) {
      this.redis.disconnect();
      throw new StoreError('STORE_ERR_CONNECT', `cannot reach Redis: ${(err as Error).message}`, { cause: err });
    }
    return this;
  }

  private hash(collection: string): string {
    checkName('collection', collection);
    return `${this.prefix}:c:${collection}`;
  }

  async get<T>(collection: string, key: string): Promise<T | undefined> {
    const text = await this.redis.hget(this.hash(collection), key);
    return text === null ? undefined : decodeValue<T>(collection, key, text);
  }

  async put<T>(collection: string, key: string, value: T): Promise<void> {
    await this.redis.hset(this.hash(collection), key, JSON.stringify(value));
  }

  async putMany<T>(collection: string, records: readonly StoredRecord<T>[]): Promise<void> {
    if (records.length === 0) return;
    const args: string[] = [];
    for (const r of records) args.push(r.key, JSON.stringify(r.value));
    await this.redis.hset(this.hash(collection), ...args);
  }

  async delete(collection: string, key: string): Promise<boolean> {
    return (await this.redis.hdel(this.hash(collection), key)) > 0;
  }

  async list<T>(collection: string): Promise<StoredRecord<T>[]> {
    const all = await this.redis.hgetall(this.hash(collection));
    return Object.keys(all)
      .sort()
      .map((key) => ({ key, value: decodeValue<T>(collection, key, all[key]!) }));
  }

  async increment(counter: string, by = 1): Promise<number> {
    checkName('counter', counter);
    return this.redis.incrby(`${this.prefix}:n:${counter}`, by);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
