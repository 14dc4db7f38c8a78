/**
 * Deadlines of many items under one clock timer: a binary min-heap of (time, item), the timer armed for the
 * earliest. How the notifier reaps tens of thousands of subscriptions (RFC 6665 section 4.2.2) without a
 * runtime timer each. An item whose deadline moved is pushed again; the old entry fires too and the owner
 * tells it apart (its recorded deadline no longer matches).
 */
import type { Clock, TimerHandle } from '../transaction/clock.js';

export class DeadlineHeap<T> {
  private at: number[] = [];
  private items: T[] = [];
  private timer: TimerHandle | undefined;
  private armedFor = Infinity;
  private firing = false;

  constructor(
    private readonly clock: Clock,
    /** Called for each entry that falls due, in deadline order, with the deadline it was pushed with. */
    private readonly due: (item: T, at: number) => void,
  ) {}

  /** Entries held (live and stale). */
  get size(): number {
    return this.at.length;
  }

  /** Call `due(item, at)` at clock time `at`. */
  push(at: number, item: T): void {
    let i = this.at.length;
    this.at.push(at);
    this.items.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.at[p]! <= at) break;
      this.at[i] = this.at[p]!;
      this.items[i] = this.items[p]!;
      i = p;
    }
    this.at[i] = at;
    this.items[i] = item;
    if (!this.firing && at < this.armedFor) this.arm();
  }

  /** Drop every entry and the clock timer. */
  clear(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.armedFor = Infinity;
    this.at = [];
    this.items = [];
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.armedFor = Infinity;
    if (this.at.length === 0) return;
    const next = this.at[0]!;
    this.armedFor = next;
    this.timer = this.clock.setTimer(Math.max(0, next - this.clock.now()), () => this.fire());
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    this.firing = true;
    try {
      while (this.at.length > 0 && this.at[0]! <= now) {
        const at = this.at[0]!;
        const item = this.pop();
        this.due(item, at);
      }
    } finally {
      this.firing = false;
    }
    this.arm();
  }

  private pop(): T {
    const top = this.items[0]!;
    const lastAt = this.at.pop()!;
    const lastItem = this.items.pop()!;
    const n = this.at.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.at[r]! < this.at[l]! ? r : l;
        if (this.at[c]! >= lastAt) break;
        this.at[i] = this.at[c]!;
        this.items[i] = this.items[c]!;
        i = c;
      }
      this.at[i] = lastAt;
      this.items[i] = lastItem;
    }
    return top;
  }
}
