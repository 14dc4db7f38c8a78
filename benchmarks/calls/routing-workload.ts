/**
 * A deterministic routing workload: users with rule sets that mix every condition kind the way a site's
 * users write them (office hours, holidays, VIP and blocked callers, internal ranges, presence), most rules
 * not matching a given call, and a stream of incoming calls. Shared by the benchmark and the differential test.
 */
import { PhonePresenceState } from '../../src/presence/phone-state.js';
import type { IncomingCall, RoutingAction, RoutingRule, RuleSet } from '../../src/calls/routing/types.js';

/** Mulberry32: a small seeded PRNG, so every run sees the same workload. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ZONES = ['Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Sydney', 'America/Los_Angeles', 'Europe/London'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const STATES = Object.values(PhonePresenceState);

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function digits(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(Math.floor(r() * 10));
  return s;
}

function hhmm(m: number): string {
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

function action(r: () => number, i: number): RoutingAction {
  switch (i % 7) {
    case 0: return { type: 'answer' };
    case 1: return { type: 'reject' };
    case 2: return { type: 'transfer-extension', extension: '2' + digits(r, 3) };
    case 3: return { type: 'transfer-computer' };
    case 4: return { type: 'transfer-sip', uri: `sip:${digits(r, 4)}@voip.example` };
    case 5: return { type: 'end-and-message', text: '{{caller}} called {{user}} at {{time}} on {{day}} {{date}}' };
    default: return { type: 'ring' };
  }
}

/**
 * One rule: a selective condition (a list of caller numbers or prefixes, a pattern, dates, a rare presence
 * state, anonymous callers) so that it rarely matches a random call, plus up to two of a time window,
 * excepted dates and a presence list.
 */
function rule(r: () => number, i: number): RoutingRule {
  const conditions: NonNullable<RoutingRule['conditions']> = {};
  switch (Math.floor(r() * 7)) {
    case 0:
    case 1:
      conditions.caller = Array.from({ length: 5 + Math.floor(r() * 20) }, () => ({ exact: '0' + digits(r, 9) }));
      break;
    case 2: {
      const block = digits(r, 2);
      conditions.caller = [
        ...Array.from({ length: 3 + Math.floor(r() * 10) }, () => ({ prefix: '0' + digits(r, 3 + Math.floor(r() * 3)) })),
        { range: `${block}00000-${block}99999` },
      ];
      break;
    }
    case 3:
      conditions.caller = [{ pattern: `_0${digits(r, 2)}NXXXXX.` }, { regex: `^\\+${digits(r, 2)}1` }];
      break;
    case 4: {
      const m = String(1 + Math.floor(r() * 12)).padStart(2, '0');
      const d = 1 + Math.floor(r() * 26);
      conditions.dates = [`${m}-${String(d).padStart(2, '0')}`, `2026-${m}-${String(d).padStart(2, '0')}..2026-${m}-${String(d + 2).padStart(2, '0')}`];
      break;
    }
    case 5:
      conditions.presence = pick(r, ['dnd', 'forwarded', 'unknown']);
      break;
    default:
      conditions.caller = { anonymous: true };
  }
  const extra = Math.floor(r() * 3);
  for (let k = 0; k < extra; k++) {
    switch (Math.floor(r() * 3)) {
      case 0: {
        const from = Math.floor(r() * 96) * 15;
        const to = (from + 60 + Math.floor(r() * 10) * 60) % 1440;
        const d0 = Math.floor(r() * 7);
        conditions.time = [{ days: [`${DAYS[d0]}-${DAYS[(d0 + Math.floor(r() * 5)) % 7]}`], from: hhmm(from), to: hhmm(to) }];
        break;
      }
      case 1:
        conditions.exceptDates = ['12-24..12-26', '01-01', `2026-${String(1 + Math.floor(r() * 12)).padStart(2, '0')}-15`];
        break;
      default:
        if (conditions.presence === undefined) conditions.presence = [pick(r, STATES), pick(r, STATES), pick(r, STATES)];
    }
  }
  return { id: `r${i}`, enabled: r() > 0.05, conditions, action: action(r, i) };
}

/** `users` rule sets of `rulesPerUser` rules each; user keys are extensions 2000, 2001, ... */
export function makeRuleSets(users: number, rulesPerUser: number, seed = 1): Map<string, RuleSet> {
  const r = prng(seed);
  const out = new Map<string, RuleSet>();
  for (let u = 0; u < users; u++) {
    out.set(String(2000 + u), {
      timeZone: ZONES[u % ZONES.length]!,
      rules: Array.from({ length: rulesPerUser }, (_, i) => rule(r, i)),
      default: { type: 'ring' },
    });
  }
  return out;
}

/** `count` calls spread over `spanMs` from `start`, each to a user from `users`. */
export function makeCalls(users: readonly string[], count: number, start: number, spanMs: number, seed = 2): { user: string; call: IncomingCall }[] {
  const r = prng(seed);
  const out: { user: string; call: IncomingCall }[] = [];
  for (let i = 0; i < count; i++) {
    const x = r();
    const caller = x < 0.05 ? undefined : x < 0.35 ? '2' + digits(r, 3) : x < 0.6 ? '+' + digits(r, 11) : x < 0.9 ? '0' + digits(r, 9) : digits(r, 7);
    const call: IncomingCall = { at: start + Math.floor((i * spanMs) / count), presence: pick(r, STATES) };
    if (caller !== undefined) call.caller = caller;
    out.push({ user: pick(r, users), call });
  }
  return out;
}
