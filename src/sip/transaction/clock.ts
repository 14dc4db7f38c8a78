/**
 * Time for the SIP core. Every timer of RFC 3261 section 17 (A-K), dialog, registrar and subscription
 * timers go through a {@link Clock}, so tests drive them with {@link ManualClock} instead of waiting.
 */

/** A scheduled callback; `cancel()` is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

/** Monotonic milliseconds and one-shot timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences are meaningful). */
  now(): number;
  /** Run `fn` once after `ms` milliseconds unless cancelled. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}

class SystemTimer implements TimerHandle {
  constructor(private readonly t: NodeJS.Timeout) {}
  cancel(): void {
    clearTimeout(this.t);
  }
}

/** The process clock: `performance.now()` and unref'd Node timers (they never keep the process alive). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return new SystemTimer(t);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. Timers due at the same instant fire in the order they were set.
 * Used by tests to check timer values exactly (e.g. Timer A doubling up to T2).
 */
export class ManualClock implements Clock {
  private time = 0;
  private seq = 0;
  private timers: ManualTimer[] = [];

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: ManualTimer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Number of timers set and not yet fired or cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Milliseconds until the next live timer, or undefined when none is set. */
  nextIn(): number | undefined {
    const next = this.nextTimer();
    return next ? next.at - this.time : undefined;
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order (timers set while firing included). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.at > end) break;
      this.time = next.at;
      next.cancelled = true;
      this.timers = this.timers.filter((t) => !t.cancelled);
      next.fn();
    }
    this.time = end;
  }

  /** Fire timers until none is left or `limitMs` of clock time has passed. */
  runAll(limitMs = 3_600_000): void {
    const end = this.time + limitMs;
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.at > end) break;
      this.advance(next.at - this.time);
    }
  }

  private nextTimer(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) {
      if (t.cancelled) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

class QueueEntry implements TimerHandle {
  live = true;
  constructor(
    readonly at: number,
    /** Dropped on cancel, so what the callback holds (a finished transaction) can be collected at once. */
    public fn: (() => void) | undefined,
    private readonly queue: DelayQueue,
  ) {}
  cancel(): void {
    if (!this.live) return;
    this.live = false;
    this.fn = undefined;
    this.queue.cancelled();
  }
}

/**
 * Timers that all share one duration, kept in arrival order (which is also expiry order) under a single
 * clock timer: how the transaction layer runs tens of thousands of Timer J/K instances without one
 * runtime timer each. Cancelled entries are skipped when their time comes.
 */
export class DelayQueue {
  private q: QueueEntry[] = [];
  private head = 0;
  private live = 0;
  private firing = false;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    readonly delayMs: number,
  ) {}

  /** Live (not yet fired or cancelled) entries. */
  get size(): number {
    return this.live;
  }

  /**
   * @internal An entry was cancelled; with none left live, the clock timer goes too. Cancelled entries
   * are dropped in one pass once they outnumber the live ones (a 64*T1 Timer F cancelled by nearly every
   * transaction would otherwise pile up for 32 s).
   */
  cancelled(): void {
    if (--this.live === 0) {
      this.clear();
      return;
    }
    const dead = this.q.length - this.head - this.live;
    if (!this.firing && dead >= 4096 && dead > 2 * this.live) {
      this.q = this.q.slice(this.head).filter((e) => e.live);
      this.head = 0;
    }
  }

  /** Run `fn` after the queue's delay. */
  add(fn: () => void): TimerHandle {
    const e = new QueueEntry(this.clock.now() + this.delayMs, fn, this);
    this.q.push(e);
    this.live++;
    if (!this.timer && !this.firing) this.arm();
    return e;
  }

  /** Drop every entry and the clock timer. */
  clear(): void {
    this.timer?.cancel();
    this.timer = undefined;
    for (let i = this.head; i < this.q.length; i++) this.q[i]!.live = false;
    this.q = [];
    this.head = 0;
    this.live = 0;
  }

  private arm(): void {
    const e = this.q[this.head]!;
    this.timer = this.clock.setTimer(Math.max(0, e.at - this.clock.now()), () => this.fire());
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    this.firing = true;
    try {
      while (this.head < this.q.length && this.q[this.head]!.at <= now) {
        const e = this.q[this.head++]!;
        if (e.live) {
          const fn = e.fn!;
          e.live = false;
          e.fn = undefined;
          this.live--;
          fn();
        }
      }
    } finally {
      this.firing = false;
    }
    if (this.timer) return;
    if (this.head >= 1024 && this.head * 2 >= this.q.length) {
      this.q = this.q.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.q.length) this.arm();
    else {
      this.q = [];
      this.head = 0;
    }
  }
}

/**
 * A member of an {@link OffsetTimers} list. The list's links live in the member itself, so joining the list
 * allocates nothing; the fields belong to the list.
 */
export interface OffsetTimed {
  /** @internal When it joined its list (the list's clock). */
  otStart: number;
  /** @internal */ otPrev: OffsetTimed | undefined;
  /** @internal */ otNext: OffsetTimed | undefined;
  /** @internal The list holding it. */
  otList: OffsetTimers | undefined;
  /** Timer `i` of its list is due: `offsets[i]` ms have passed since it joined (it is still a member). */
  offsetTimer(i: number): void;
}

/**
 * Timers at fixed offsets from the moment each member joins, for many short-lived members at once (a
 * NOTIFY fan-out's client transactions: the first Timer E and Timer F, RFC 3261 section 17.1.2.2).
 * Members join at the tail, so they are in order of start and, for each offset, the members whose timer
 * has fired form a prefix: a cursor per offset and one clock timer for the earliest cursor serve them
 * all, and a member leaves in O(1) with no entry left behind (a {@link DelayQueue} keeps an entry per
 * timer until its time comes).
 */
export class OffsetTimers {
  private head: OffsetTimed | undefined;
  private tail: OffsetTimed | undefined;
  /** Per offset, the oldest member whose timer has not fired. */
  private readonly cursors: Array<OffsetTimed | undefined>;
  private timer: TimerHandle | undefined;
  /** When the clock timer is set for. */
  private timerAt = Infinity;
  private firing = false;
  private count = 0;
  private readonly fire = (): void => this.run();

  constructor(
    private readonly clock: Clock,
    /** Offsets in ms, ascending. */
    private readonly offsets: readonly number[],
  ) {
    this.cursors = offsets.map(() => undefined);
  }

  /** Members. */
  get size(): number {
    return this.count;
  }

  /** Adds `m` (not a member of any list) at the tail, started now. */
  add(m: OffsetTimed): void {
    m.otStart = this.clock.now();
    m.otList = this;
    m.otNext = undefined;
    m.otPrev = this.tail;
    if (this.tail) this.tail.otNext = m;
    else this.head = m;
    this.tail = m;
    this.count++;
    let due = Infinity;
    for (let i = 0; i < this.cursors.length; i++) {
      if (this.cursors[i] !== undefined) continue;
      this.cursors[i] = m;
      due = Math.min(due, m.otStart + this.offsets[i]!);
    }
    // The clock timer may be set for a later cursor (every member's first timer had fired): set it sooner.
    if (this.firing || due >= this.timerAt) return;
    this.timer?.cancel();
    this.arm();
  }

  /** Removes `m` if it is a member; its timers will not fire. With no member left, the clock timer goes. */
  remove(m: OffsetTimed): void {
    if (m.otList !== this) return;
    for (let i = 0; i < this.cursors.length; i++) if (this.cursors[i] === m) this.cursors[i] = m.otNext;
    if (m.otPrev) m.otPrev.otNext = m.otNext;
    else this.head = m.otNext;
    if (m.otNext) m.otNext.otPrev = m.otPrev;
    else this.tail = m.otPrev;
    m.otPrev = m.otNext = m.otList = undefined;
    if (--this.count === 0 && this.timer !== undefined) {
      this.timer.cancel();
      this.timer = undefined;
      this.timerAt = Infinity;
    }
  }

  /** Removes every member (none of their timers fires). */
  clear(): void {
    while (this.head) this.remove(this.head);
  }

  /** Sets the clock timer for the earliest due cursor (a stale one fires, finds nothing due, and re-arms). */
  private arm(): void {
    let at = Infinity;
    for (let i = 0; i < this.cursors.length; i++) {
      const c = this.cursors[i];
      if (c) at = Math.min(at, c.otStart + this.offsets[i]!);
    }
    if (at === Infinity) return;
    this.timerAt = at;
    this.timer = this.clock.setTimer(Math.max(0, at - this.clock.now()), this.fire);
  }

  private run(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    this.firing = true;
    try {
      for (let i = 0; i < this.cursors.length; i++) {
        const offset = this.offsets[i]!;
        for (let c = this.cursors[i]; c && c.otStart + offset <= now; c = this.cursors[i]) {
          this.cursors[i] = c.otNext;
          c.offsetTimer(i);
        }
      }
    } finally {
      this.firing = false;
    }
    if (this.count > 0) this.arm();
  }
}
