import { SwitchhookError } from '../util/errors.js';

/** A stored record: its key within a collection and its JSON value. */
export interface StoredRecord<T> {
  key: string;
  value: T;
}

/**
 * Durable state behind one interface: SQLite for a single daemon (the embedded default) and Redis for a
 * cluster of daemons that share presence state and subscriptions. Values are JSON-serialisable records
 * grouped in named collections; `increment` gives a durable monotonically increasing counter (used for
 * RFC 4235 dialog-info `version` and similar sequence numbers that must survive a restart).
 */
export interface Store {
  /** `sqlite` or `redis`. */
  readonly kind: string;
  get<T>(collection: string, key: string): Promise<T | undefined>;
  put<T>(collection: string, key: string, value: T): Promise<void>;
  /** Resolves true when the record existed. */
  delete(collection: string, key: string): Promise<boolean>;
  list<T>(collection: string): Promise<StoredRecord<T>[]>;
  /** Write many records at once (one transaction / pipeline). */
  putMany<T>(collection: string, records: readonly StoredRecord<T>[]): Promise<void>;
  /** Add `by` to a named counter and resolve to its new value; counters start at 0. */
  increment(counter: string, by?: number): Promise<number>;
  close(): Promise<void>;
}

/** A store operation failed, or a stored value could not be read back. */
export class StoreError extends SwitchhookError {}

/** Validate names used as collection and counter identifiers. */
export function checkName(kind: 'collection' | 'counter', name: string): void {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(name)) {
    throw new StoreError('STORE_ERR_NAME', `invalid ${kind} name '${name}'`);
  }
}

/** Parse a stored JSON value, turning corruption into a {@link StoreError}. */
export function decodeValue<T>(collection: string, key: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new StoreError('STORE_ERR_CORRUPT', `record ${collection}/${key} is not valid JSON`, { cause: err });
  }
}
