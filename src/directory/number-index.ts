/**
 * The in-memory lookup index of the directory, built for 1,000,000 numbers and more: numbers are keys of an
 * open-addressing hash table held in typed arrays (a number's digits as a float64, exact up to 15 digits,
 * the E.164 maximum), client bindings are records in parallel typed arrays chained per number, and strings
 * (client URIs, display names) are interned. A client URI that contains the number's own digits (the usual
 * `sip:+15551230001@pbx.example.com`) is stored as a template with the digits replaced by a marker, so a
 * million such URIs share one interned string. Nothing here allocates a JS object per number.
 */

/** Where a binding came from: a SIP registration (expires) or provisioning (permanent). */
export type ClientSource = 'register' | 'provisioned';

/** One multimedia client address bound to a number. */
export interface ClientBinding {
  /** The client's address (a SIP or SIPS URI, RFC 3261 §19.1). */
  uri: string;
  source: ClientSource;
  /** Display name, when provisioned. */
  display?: string;
  /** Expiry time (ms since the epoch) of a registered binding. */
  expiresAt?: number;
}

const marker = '\u0001';
const emptyKey = -1;

/**
 * Strings with reference counts; id 0 is reserved for "none". Templates (strings holding the marker, shared
 * by many numbers) are interned through a map; other strings (unique URIs, display names) are stored as they
 * are, without a map entry. Each template also keeps its pieces split at the marker, so decoding is a concat.
 */
class StringTable {
  private readonly strings: (string | undefined)[] = [undefined];
  private readonly pieces: (string[] | undefined)[] = [undefined];
  /** For a template `...+<marker>...`: the text around `+<marker>`, so a `+E.164` string fills it as is. */
  private readonly plusPieces: ([string, string] | undefined)[] = [undefined];
  private readonly ids = new Map<string, number>();
  private refs = new Uint32Array(64);
  private readonly free: number[] = [];
  private live = 0;

  intern(s: string): number {
    const template = s.includes(marker);
    let id = template ? this.ids.get(s) : undefined;
    if (id === undefined) {
      id = this.free.pop() ?? this.strings.length;
      // A flat copy: a string sliced from a larger one (a CSV line, a SIP message) would keep all of it alive.
      const own = template ? s : (JSON.parse(JSON.stringify(s)) as string);
      if (id === this.strings.length) {
        this.strings.push(own);
        this.pieces.push(undefined);
        this.plusPieces.push(undefined);
      } else this.strings[id] = own;
      const pieces = template ? s.split(marker) : undefined;
      this.pieces[id] = pieces;
      this.plusPieces[id] = pieces?.length === 2 && pieces[0]!.endsWith('+') ? [pieces[0]!.slice(0, -1), pieces[1]!] : undefined;
      if (template) this.ids.set(s, id);
      if (id >= this.refs.length) {
        const grown = new Uint32Array(this.refs.length * 2);
        grown.set(this.refs);
        this.refs = grown;
      }
      this.live++;
    }
    this.refs[id]!++;
    return id;
  }

  release(id: number): void {
    if (id === 0) return;
    if (--this.refs[id]! === 0) {
      const s = this.strings[id]!;
      if (this.ids.get(s) === id) this.ids.delete(s);
      this.strings[id] = undefined;
      this.pieces[id] = undefined;
      this.plusPieces[id] = undefined;
      this.free.push(id);
      this.live--;
    }
  }

  /** The stored form (a template keeps its marker). */
  get(id: number): string {
    return this.strings[id]!;
  }

  /** The string with a template's marker replaced by `digits`. */
  expand(id: number, digits: string): string {
    const p = this.pieces[id];
    if (p === undefined) return this.strings[id]!;
    if (p.length === 2) return p[0]! + digits + p[1]!;
    return p.join(digits);
  }

  /** As {@link expand}, for an E.164 number given with its `+` (no substring made when the template has `+`). */
  expandE164(id: number, e164: string): string {
    const pp = this.plusPieces[id];
    if (pp !== undefined) return pp[0] + e164 + pp[1];
    return this.pieces[id] === undefined ? this.strings[id]! : this.expand(id, e164.slice(1));
  }

  get size(): number {
    return this.live;
  }
}

/** `uri` with every occurrence of `digits` replaced by the marker (lossless: URIs never hold the marker). */
function templateOf(uri: string, digits: string): string {
  if (digits.length < 3) return uri;
  const at = uri.indexOf(digits);
  if (at === -1) return uri;
  if (uri.indexOf(digits, at + digits.length) === -1) return uri.slice(0, at) + marker + uri.slice(at + digits.length);
  return uri.split(digits).join(marker);
}

function hashKey(key: number): number {
  const lo = key % 4294967296 | 0;
  const hi = (key / 4294967296) | 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Numbers to client bindings. Keys are non-negative integers below 2^53 (the caller encodes E.164 digits or
 * extensions); `digits` passed with a key is the text used for URI templating.
 */
export class NumberIndex {
  private keys: Float64Array;
  private heads: Int32Array;
  private mask: number;
  private used = 0;

  private cAddr: Uint32Array;
  private cDisplay: Uint32Array;
  private cExpires: Uint32Array;
  private cSource: Uint8Array;
  private cNext: Int32Array;
  private cTop = 0;
  private cFree = -1;
  private cCount = 0;
  private strings = new StringTable();

  constructor(expectedNumbers = 1024) {
    let cap = 16;
    while (cap * 0.7 < expectedNumbers) cap *= 2;
    this.keys = new Float64Array(cap).fill(emptyKey);
    this.heads = new Int32Array(cap);
    this.mask = cap - 1;
    const c = Math.max(16, expectedNumbers);
    this.cAddr = new Uint32Array(c);
    this.cDisplay = new Uint32Array(c);
    this.cExpires = new Uint32Array(c);
    this.cSource = new Uint8Array(c);
    this.cNext = new Int32Array(c);
  }

  /** Numbers with at least one binding. */
  get size(): number {
    return this.used;
  }

  /** Bindings over all numbers. */
  get bindings(): number {
    return this.cCount;
  }

  /** Strings held: distinct templates plus untemplated URIs and display names. */
  get internedStrings(): number {
    return this.strings.size;
  }

  private slotOf(key: number): number {
    let i = hashKey(key) & this.mask;
    for (;;) {
      const k = this.keys[i]!;
      if (k === key || k === emptyKey) return i;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * Add or replace the binding of `uri` to the number. Expiry is in ms since the epoch (kept to the second,
   * rounded down).
   */
  upsert(key: number, digits: string, b: ClientBinding): void {
    const uriT = templateOf(b.uri, digits);
    let slot = this.slotOf(key);
    if (this.keys[slot] === emptyKey) {
      if ((this.used + 1) > (this.mask + 1) * 0.7) {
        this.grow();
        slot = this.slotOf(key);
      }
      this.keys[slot] = key;
      this.heads[slot] = -1;
      this.used++;
    }
    let prev = -1;
    for (let c = this.heads[slot]!; c !== -1; prev = c, c = this.cNext[c]!) {
      if (this.strings.get(this.cAddr[c]!) === uriT) {
        this.writeBinding(c, b, uriT);
        return;
      }
    }
    const c = this.allocContact();
    this.cAddr[c] = 0;
    this.cDisplay[c] = 0;
    this.writeBinding(c, b, uriT);
    this.cNext[c] = -1;
    if (prev === -1) this.heads[slot] = c;
    else this.cNext[prev] = c;
    this.cCount++;
  }

  private writeBinding(c: number, b: ClientBinding, uriT: string): void {
    const addr = this.strings.intern(uriT);
    this.strings.release(this.cAddr[c]!);
    this.cAddr[c] = addr;
    const display = b.display ? this.strings.intern(b.display) : 0;
    this.strings.release(this.cDisplay[c]!);
    this.cDisplay[c] = display;
    // Kept to the second, rounded down: a binding never outlives its expiry as stored in SQLite.
    this.cExpires[c] = b.source === 'register' && b.expiresAt !== undefined ? Math.max(1, Math.floor(b.expiresAt / 1000)) : 0;
    this.cSource[c] = b.source === 'register' ? 1 : 0;
  }

  /**
   * Remove the binding of `uri` (or every binding when `uri` is undefined); resolves how many were removed.
   */
  remove(key: number, digits: string, uri?: string): number {
    const uriT = uri === undefined ? undefined : templateOf(uri, digits);
    return this.removeWhere(key, (c) => uriT === undefined || this.strings.get(this.cAddr[c]!) === uriT);
  }

  /** Remove every registered binding that expired at or before `nowMs`; returns how many. */
  removeExpired(key: number, nowMs: number): number {
    const now = nowMs / 1000;
    return this.removeWhere(key, (c) => {
      const exp = this.cExpires[c]!;
      return exp !== 0 && exp <= now;
    });
  }

  /** Unlink and free the contacts of `key` for which `doomed` holds; drops the slot when none is left. */
  private removeWhere(key: number, doomed: (contact: number) => boolean): number {
    const slot = this.slotOf(key);
    if (this.keys[slot] === emptyKey) return 0;
    let removed = 0;
    let prev = -1;
    for (let c = this.heads[slot]!; c !== -1; ) {
      const next = this.cNext[c]!;
      if (doomed(c)) {
        if (prev === -1) this.heads[slot] = next;
        else this.cNext[prev] = next;
        this.freeContact(c);
        removed++;
      } else prev = c;
      c = next;
    }
    if (this.heads[slot] === -1) this.deleteSlot(slot);
    return removed;
  }

  /** The live bindings of a number (expired registrations are left out), or an empty array. */
  get(key: number, digits: string, nowMs: number): ClientBinding[] {
    const slot = this.slotOf(key);
    const out: ClientBinding[] = [];
    if (this.keys[slot] === emptyKey) return out;
    const now = nowMs / 1000;
    for (let c = this.heads[slot]!; c !== -1; c = this.cNext[c]!) {
      const exp = this.cExpires[c]!;
      if (exp !== 0 && exp <= now) continue;
      const b: ClientBinding = { uri: this.strings.expand(this.cAddr[c]!, digits), source: this.cSource[c] === 1 ? 'register' : 'provisioned' };
      if (this.cDisplay[c] !== 0) b.display = this.strings.get(this.cDisplay[c]!);
      if (exp !== 0) b.expiresAt = exp * 1000;
      out.push(b);
    }
    return out;
  }

  /**
   * The first live client URI of a number, without building binding objects (the hot path). The clock is
   * read only when a registered binding is met.
   */
  firstUri(key: number, digits: string, clock: () => number): string | undefined {
    const c = this.firstLive(key, clock);
    return c === -1 ? undefined : this.strings.expand(this.cAddr[c]!, digits);
  }

  /** As {@link firstUri}, for a key made from an E.164 number given with its `+`. */
  firstUriE164(key: number, e164: string, clock: () => number): string | undefined {
    const c = this.firstLive(key, clock);
    return c === -1 ? undefined : this.strings.expandE164(this.cAddr[c]!, e164);
  }

  private firstLive(key: number, clock: () => number): number {
    const slot = this.slotOf(key);
    if (this.keys[slot] === emptyKey) return -1;
    let now = -1;
    for (let c = this.heads[slot]!; c !== -1; c = this.cNext[c]!) {
      const exp = this.cExpires[c]!;
      if (exp !== 0) {
        if (now === -1) now = clock() / 1000;
        if (exp <= now) continue;
      }
      return c;
    }
    return -1;
  }

  /** Drop everything. */
  clear(): void {
    this.keys.fill(emptyKey);
    this.used = 0;
    this.cTop = 0;
    this.cFree = -1;
    this.cCount = 0;
    this.strings = new StringTable();
  }

  /** Bytes held in typed arrays (the interned strings come on top). */
  typedBytes(): number {
    return this.keys.byteLength + this.heads.byteLength + this.cAddr.byteLength + this.cDisplay.byteLength + this.cExpires.byteLength + this.cSource.byteLength + this.cNext.byteLength;
  }

  private allocContact(): number {
    if (this.cFree !== -1) {
      const c = this.cFree;
      this.cFree = this.cNext[c]!;
      return c;
    }
    if (this.cTop === this.cAddr.length) this.growContacts();
    return this.cTop++;
  }

  private freeContact(c: number): void {
    this.strings.release(this.cAddr[c]!);
    this.strings.release(this.cDisplay[c]!);
    this.cAddr[c] = 0;
    this.cDisplay[c] = 0;
    this.cNext[c] = this.cFree;
    this.cFree = c;
    this.cCount--;
  }

  private growContacts(): void {
    const n = Math.ceil(this.cAddr.length * 1.5);
    const grow = <T extends Uint32Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.cAddr = grow(this.cAddr, (k) => new Uint32Array(k));
    this.cDisplay = grow(this.cDisplay, (k) => new Uint32Array(k));
    this.cExpires = grow(this.cExpires, (k) => new Uint32Array(k));
    this.cSource = grow(this.cSource, (k) => new Uint8Array(k));
    this.cNext = grow(this.cNext, (k) => new Int32Array(k));
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldHeads = this.heads;
    const cap = oldKeys.length * 2;
    this.keys = new Float64Array(cap).fill(emptyKey);
    this.heads = new Int32Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k === emptyKey) continue;
      const s = this.slotOf(k);
      this.keys[s] = k;
      this.heads[s] = oldHeads[i]!;
    }
  }

  /** Linear-probing deletion by backward shift (no tombstones). */
  private deleteSlot(slot: number): void {
    let i = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & this.mask;
      const k = this.keys[j]!;
      if (k === emptyKey) break;
      const home = hashKey(k) & this.mask;
      const movable = i <= j ? home <= i || home > j : home <= i && home > j;
      if (movable) {
        this.keys[i] = k;
        this.heads[i] = this.heads[j]!;
        i = j;
      }
    }
    this.keys[i] = emptyKey;
    this.used--;
  }
}
