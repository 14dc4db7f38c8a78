/**
 * A string-keyed map for tables with heavy insert/delete churn (tens of thousands of short-lived entries a
 * second, such as client transactions by branch), built so that its churn makes no garbage that outlives
 * young-generation collections.
 *
 * Why not a `Map`: V8 replaces a `Map`'s hash table when it fills up with deleted entries or shrinks, and
 * links the replaced table to its successor (so live iterators can follow); the replaced table keeps its
 * entries. Once one table of a long-lived `Map` is in the old generation, every later table and every
 * value any of them held stays reachable through those links from an old object that young collections do
 * not trace, so all of them survive scavenges and are promoted until the next full collection. Under
 * churn that promotes every value that ever passed through the map.
 *
 * Here keys and values sit in two arrays with open addressing (linear probing) and their hashes in a typed
 * array; a delete shifts the following entries back (no tombstones), so the arrays are replaced only when
 * the table grows or shrinks, and a replaced array is simply dropped.
 */
export class FlatStringMap<V> {
  private keys: Array<string | undefined>;
  private vals: Array<V | undefined>;
  private hashes: Int32Array;
  private mask: number;
  private count = 0;
  /**
   * The last key hashed and its hash: the same key is often looked up several times in a row (a
   * response's branch: its request's bytes, then its transaction, then the transaction's removal).
   */
  private lastKey: string | undefined;
  private lastHash = 0;

  /** The smallest capacity; the table never shrinks below it. */
  private readonly minCapacity: number;

  /** `minCapacity` is rounded up to a power of two (at least 8). */
  constructor(minCapacity = 64) {
    this.minCapacity = 2 ** Math.ceil(Math.log2(Math.max(8, minCapacity)));
    minCapacity = this.minCapacity;
    this.keys = new Array<string | undefined>(minCapacity).fill(undefined);
    this.vals = new Array<V | undefined>(minCapacity).fill(undefined);
    this.hashes = new Int32Array(minCapacity);
    this.mask = minCapacity - 1;
  }

  /** Entries. */
  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    const i = this.find(key, this.hash(key));
    return i < 0 ? undefined : this.vals[i];
  }

  has(key: string): boolean {
    return this.find(key, this.hash(key)) >= 0;
  }

  /** Sets `key` to `value` (replacing the value of a key already there). */
  set(key: string, value: V): this {
    const h = this.hash(key);
    const at = this.find(key, h);
    if (at >= 0) {
      this.vals[at] = value;
      return this;
    }
    // At most half full: probe runs stay short.
    if ((this.count + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    this.put(key, value, h);
    this.count++;
    return this;
  }

  /** Removes `key`; true when it was there. */
  delete(key: string): boolean {
    let i = this.find(key, this.hash(key));
    if (i < 0) return false;
    const mask = this.mask;
    // Backward-shift deletion: each following entry of the run moves into the gap when the gap lies
    // between its home slot and where it is.
    for (let j = (i + 1) & mask; this.keys[j] !== undefined; j = (j + 1) & mask) {
      const home = this.hashes[j]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        this.keys[i] = this.keys[j];
        this.vals[i] = this.vals[j];
        this.hashes[i] = this.hashes[j]!;
        i = j;
      }
    }
    this.keys[i] = undefined;
    this.vals[i] = undefined;
    this.count--;
    // Shrinks only far below half full, so that a table whose size swings (a fan-out's transactions come
    // and go every millisecond) is not rebuilt at every swing.
    const capacity = mask + 1;
    if (capacity > this.minCapacity && this.count * 16 < capacity) this.resize(capacity / 2);
    return true;
  }

  /** Removes every entry (the table goes back to its smallest capacity). */
  clear(): void {
    this.keys = new Array<string | undefined>(this.minCapacity).fill(undefined);
    this.vals = new Array<V | undefined>(this.minCapacity).fill(undefined);
    this.hashes = new Int32Array(this.minCapacity);
    this.mask = this.minCapacity - 1;
    this.count = 0;
    this.lastKey = undefined;
  }

  /** The values, in no particular order (a copy: the map may change while they are used). */
  values(): V[] {
    const out: V[] = [];
    for (let i = 0; i <= this.mask; i++) if (this.keys[i] !== undefined) out.push(this.vals[i]!);
    return out;
  }

  private hash(key: string): number {
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastHash = fnv1a(key);
    }
    return this.lastHash;
  }

  private find(key: string, h: number): number {
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const k = this.keys[i];
      if (k === undefined) return -1;
      if (this.hashes[i] === h && k === key) return i;
    }
  }

  private put(key: string, value: V, h: number): void {
    const mask = this.mask;
    let i = h & mask;
    while (this.keys[i] !== undefined) i = (i + 1) & mask;
    this.keys[i] = key;
    this.vals[i] = value;
    this.hashes[i] = h;
  }

  private resize(capacity: number): void {
    const keys = this.keys;
    const vals = this.vals;
    const hashes = this.hashes;
    this.keys = new Array<string | undefined>(capacity).fill(undefined);
    this.vals = new Array<V | undefined>(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== undefined) this.put(k, vals[i]!, hashes[i]!);
    }
  }
}

const charCodeAt = String.prototype.charCodeAt;

/**
 * 32-bit FNV-1a over the string's UTF-16 code units (a signed integer). The code units are read with
 * `charCodeAt.call`, a call V8 compiles to a character load whatever the string's representation: as a
 * method of the string (`s.charCodeAt(i)`), strings of many representations (sliced, concatenated, long
 * documents) made the method's lookup a generic property load per character.
 */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ charCodeAt.call(s, i), 0x01000193);
  return h | 0;
}
