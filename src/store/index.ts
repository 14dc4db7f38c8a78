/** Durable state: SQLite by default, Redis for a cluster. */
export * from './store.js';
export { SqliteStore } from './sqlite-store.js';
export { RedisStore } from './redis-store.js';
