/**
 * RFC 3261 timer values (section 17.1.1.1 and table 4 of appendix A). All times in milliseconds.
 */
export interface TimerSettings {
  /** RTT estimate, default 500 ms. */
  readonly T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  readonly T2: number;
  /** Maximum duration a message remains in the network, default 5 s. */
  readonly T4: number;
}

/** The defaults of RFC 3261 appendix A. */
export const defaultTimers: TimerSettings = { T1: 500, T2: 4000, T4: 5000 };

/**
 * Per-timer durations derived from T1/T2/T4 (RFC 3261 appendix A, table 4). For unreliable transports;
 * over reliable ones timers D, I, J and K are zero (sections 17.1.1.2, 17.1.2.2, 17.2.1, 17.2.2).
 */
export function timerValues(t: TimerSettings, reliable: boolean): TimerValues {
  // Every transaction asks; nearly always with the settings asked for last.
  if (t !== lastSettings) {
    let pair = cache.get(t);
    if (!pair) {
      pair = [compute(t, false), compute(t, true)];
      cache.set(t, pair);
    }
    lastSettings = t;
    lastPair = pair;
  }
  return lastPair![reliable ? 1 : 0];
}

let lastSettings: TimerSettings | undefined;
let lastPair: [TimerValues, TimerValues] | undefined;

/** Durations of timers A-K, ms. */
export type TimerValues = Readonly<ReturnType<typeof compute>>;

/** Computed once per settings object: transactions share them instead of allocating their own. */
const cache = new WeakMap<TimerSettings, [TimerValues, TimerValues]>();

function compute(t: TimerSettings, reliable: boolean) {
  return {
    /** INVITE request retransmit, initially T1 (17.1.1.2). */
    A: t.T1,
    /** INVITE transaction timeout, 64*T1 (17.1.1.2). */
    B: 64 * t.T1,
    /** Wait time for response retransmits, > 32 s for unreliable, 0 for reliable (17.1.1.2). */
    D: reliable ? 0 : Math.max(32_000, 64 * t.T1),
    /** Non-INVITE request retransmit, initially T1 (17.1.2.2). */
    E: t.T1,
    /** Non-INVITE transaction timeout, 64*T1 (17.1.2.2). */
    F: 64 * t.T1,
    /** INVITE response retransmit, initially T1 (17.2.1). */
    G: t.T1,
    /** Wait time for ACK receipt, 64*T1 (17.2.1). */
    H: 64 * t.T1,
    /** Wait time for ACK retransmits, T4 for unreliable, 0 for reliable (17.2.1). */
    I: reliable ? 0 : t.T4,
    /** Wait time for non-INVITE request retransmits, 64*T1 for unreliable, 0 for reliable (17.2.2). */
    J: reliable ? 0 : 64 * t.T1,
    /** Wait time for response retransmits, T4 for unreliable, 0 for reliable (17.1.2.2). */
    K: reliable ? 0 : t.T4,
  };
}
