import type { SimSwitch } from './core.js';
import { SimError } from './errors.js';

/** Mulberry32: a small seeded PRNG in [0, 1), so generated traffic is the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link SimTraffic}. */
export interface SimTrafficOptions {
  /** Mean time between call starts (ms). */
  readonly intervalMs: number;
  /** Stop after this many calls (undefined: until stopped). */
  readonly calls?: number;
  readonly seed?: number;
}

/**
 * Plays simple everyday calls on a simulated switch, one after another at a steady pace: a phone goes off
 * hook, dials an idle phone, which rings and mostly answers; some calls are put on hold and retrieved; then
 * one side hangs up. Used by the demo so there is something to watch.
 */
export class SimTraffic {
  private readonly random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private started = 0;
  private finished = 0;
  private stopped = false;
  private resolveDone: (() => void) | undefined;
  /** Resolves once the configured number of calls has been played (or on stop). */
  readonly done: Promise<void>;

  constructor(
    private readonly sw: SimSwitch,
    private readonly opts: SimTrafficOptions,
  ) {
    this.random = seededRandom(opts.seed ?? 1);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Start placing calls. */
  start(): this {
    this.schedule(() => this.nextCall(), 0);
    return this;
  }

  /** Stop placing calls and cancel pending steps (calls in progress stay as they are). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.resolveDone?.();
  }

  private schedule(step: () => void, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.stopped) return;
      try {
        step();
      } catch (err) {
        // A phone changed state under us (another call reached it): abandon this call's remaining steps.
        if (!(err instanceof SimError)) throw err;
      }
    }, ms);
    this.timers.add(t);
  }

  private jitter(ms: number): number {
    return Math.round(ms * (0.5 + this.random()));
  }

  private idlePhones(): string[] {
    return this.sw.extensions().filter((e) => this.sw.phone(e).hook === 'onHook' && this.sw.phone(e).calls.length === 0);
  }

  private nextCall(): void {
    if (this.opts.calls !== undefined && this.started >= this.opts.calls) return;
    const idle = this.idlePhones();
    if (idle.length >= 2) {
      const a = idle.splice(Math.floor(this.random() * idle.length), 1)[0]!;
      const b = idle[Math.floor(this.random() * idle.length)]!;
      this.started++;
      this.playCall(a, b);
    }
    this.schedule(() => this.nextCall(), this.jitter(this.opts.intervalMs));
  }

  private playCall(a: string, b: string): void {
    const step = this.opts.intervalMs / 4;
    const answered = this.random() < 0.85;
    const held = this.random() < 0.3;
    this.sw.offHook(a);
    this.schedule(() => this.sw.dial(a, b), this.jitter(step));
    if (!answered) {
      this.schedule(() => this.end(a), this.jitter(step * 4));
      return;
    }
    this.schedule(() => this.sw.answer(b), this.jitter(step * 2));
    if (held) {
      this.schedule(() => this.sw.hold(b), this.jitter(step * 3));
      this.schedule(() => this.sw.retrieve(b), this.jitter(step * 4));
    }
    this.schedule(() => this.end(this.random() < 0.5 ? a : b), this.jitter(step * 6));
  }

  private end(ext: string): void {
    try {
      this.sw.onHook(ext);
    } finally {
      this.finished++;
      if (this.opts.calls !== undefined && this.finished >= this.opts.calls) this.resolveDone?.();
    }
  }
}
