/**
 * The compiled form of a rule set, evaluated while the call rings. Conditions are turned into structures
 * that answer in constant or logarithmic time without allocating: a minute-of-week bitset (10080 bits) per
 * rule for its time windows, sorted day-number ranges for dates, a presence bitmask, and for callers a hash
 * set (exact), a symbol trie (prefixes), same-length string ranges, per-position symbol masks (dial-plan
 * patterns) and regexes compiled once. Local time comes from the shared {@link ZoneClock} of the user's zone.
 */
import { PhonePresenceState } from '../../presence/phone-state.js';
import { RoutingError } from './errors.js';
import {
  DAY_MINUTES, matchDialPattern, MAX_REGEX_SUBJECT, parseCallerRegex, parseClock, parseDateSpec, parseDays, parseDialPattern,
  parseNumberRange, parseTemplate, renderTemplate, symbolIndex, SyntaxIssue, WEEK_MINUTES,
  type DialPattern, type MessageTemplate,
} from './syntax.js';
import {
  RoutingActionType, type CallerMatch, type IncomingCall, type OneOrMany, type RoutingAction,
  type RoutingDecision, type RoutingRule, type RuleSet, type TimeWindow,
} from './types.js';
import { DAY_LABELS, formatClock, formatDate, zoneClock, type LocalTime, type ZoneClock } from './zone-clock.js';

/** Bit of each presence state in a rule's presence mask. */
export const PRESENCE_BITS: Readonly<Record<string, number>> = Object.assign(
  Object.create(null) as Record<string, number>,
  Object.fromEntries(Object.values(PhonePresenceState).map((s, i) => [s, 1 << i])),
);

/** Alternatives of a one-or-many condition as a list. */
export function alternativesOf<T>(v: OneOrMany<T>): T[] {
  return Array.isArray(v) ? v : [v];
}

function must<T>(v: T | SyntaxIssue): T {
  if (v instanceof SyntaxIssue) throw new RoutingError('ROUTING_ERR_INVALID', `rule set not validated before compiling: ${v.message}`);
  return v;
}

/** The set of minutes of the week a list of windows covers, as a bitset. */
export function windowBits(windows: readonly TimeWindow[]): Uint32Array {
  const bits = new Uint32Array(Math.ceil(WEEK_MINUTES / 32));
  for (const w of windows) {
    const from = w.from === undefined ? 0 : must(parseClock(w.from, false));
    const to = w.to === undefined ? DAY_MINUTES : must(parseClock(w.to, true));
    const days = w.days === undefined ? [0, 1, 2, 3, 4, 5, 6] : w.days.flatMap((d) => must(parseDays(d)));
    const length = to > from ? to - from : to + DAY_MINUTES - from;
    for (const d of days) {
      const start = d * DAY_MINUTES + from;
      for (let m = 0; m < length; m++) {
        const minute = (start + m) % WEEK_MINUTES;
        bits[minute >>> 5]! |= 1 << (minute & 31);
      }
    }
  }
  return bits;
}

/** Local-date ranges: full dates as day numbers, yearly ones as month-day keys (may wrap). */
export class DateSet {
  private readonly full: Int32Array;
  private readonly yearly: Int32Array;

  constructor(specs: readonly string[]) {
    const full: number[] = [];
    const yearly: number[] = [];
    for (const s of specs) {
      const d = must(parseDateSpec(s));
      (d.kind === 'full' ? full : yearly).push(d.from, d.to);
    }
    this.full = Int32Array.from(full);
    this.yearly = Int32Array.from(yearly);
  }

  has(t: LocalTime): boolean {
    const f = this.full;
    for (let i = 0; i < f.length; i += 2) if (t.dayNumber >= f[i]! && t.dayNumber <= f[i + 1]!) return true;
    const y = this.yearly;
    for (let i = 0; i < y.length; i += 2) {
      const lo = y[i]!;
      const hi = y[i + 1]!;
      if (lo <= hi ? t.monthDay >= lo && t.monthDay <= hi : t.monthDay >= lo || t.monthDay <= hi) return true;
    }
    return false;
  }
}

const TRIE_STRIDE = 14; // 13 symbols + terminal flag

/** The caller alternatives of one rule. */
export class CallerMatcher {
  private readonly exact = new Set<string>();
  private readonly trie: Int32Array | null;
  private readonly rangeLow: string[] = [];
  private readonly rangeHigh: string[] = [];
  private readonly patterns: DialPattern[] = [];
  private readonly regexes: RegExp[] = [];
  private readonly anonymous: boolean;

  constructor(alternatives: readonly CallerMatch[]) {
    const nodes: number[] = new Array<number>(TRIE_STRIDE).fill(0);
    let prefixes = 0;
    let anonymous = false;
    const ranges: { low: string; high: string }[] = [];
    for (const a of alternatives) {
      if ('exact' in a) this.exact.add(a.exact);
      else if ('prefix' in a) {
        prefixes++;
        let node = 0;
        for (let i = 0; i < a.prefix.length; i++) {
          const s = symbolIndex(a.prefix.charCodeAt(i));
          let next = nodes[node * TRIE_STRIDE + s]!;
          if (next === 0) {
            next = nodes.length / TRIE_STRIDE;
            for (let k = 0; k < TRIE_STRIDE; k++) nodes.push(0);
            nodes[node * TRIE_STRIDE + s] = next;
          }
          node = next;
        }
        nodes[node * TRIE_STRIDE + 13] = 1;
      } else if ('range' in a) ranges.push(must(parseNumberRange(a.range)));
      else if ('pattern' in a) this.patterns.push(must(parseDialPattern(a.pattern)));
      else if ('regex' in a) this.regexes.push(must(parseCallerRegex(a.regex)));
      else anonymous = true;
    }
    ranges.sort((x, y) => x.low.length - y.low.length || (x.low < y.low ? -1 : x.low > y.low ? 1 : 0));
    for (const r of ranges) {
      this.rangeLow.push(r.low);
      this.rangeHigh.push(r.high);
    }
    this.trie = prefixes > 0 ? Int32Array.from(nodes) : null;
    this.anonymous = anonymous;
  }

  /** `caller` is '' when anonymous; `digitsOnly` is true when it holds only 0-9. */
  match(caller: string, digitsOnly: boolean): boolean {
    if (caller.length === 0) return this.anonymous;
    if (this.exact.size > 0 && this.exact.has(caller)) return true;
    const trie = this.trie;
    if (trie) {
      let node = 0;
      for (let i = 0; i < caller.length; i++) {
        const s = symbolIndex(caller.charCodeAt(i));
        if (s < 0) break;
        node = trie[node * TRIE_STRIDE + s]!;
        if (node === 0) break;
        if (trie[node * TRIE_STRIDE + 13] === 1) return true;
      }
    }
    if (digitsOnly) {
      const lows = this.rangeLow;
      for (let i = 0; i < lows.length; i++) {
        const low = lows[i]!;
        if (low.length > caller.length) break;
        if (low.length === caller.length && caller >= low && caller <= this.rangeHigh[i]!) return true;
      }
    }
    for (let i = 0; i < this.patterns.length; i++) if (matchDialPattern(this.patterns[i]!, caller)) return true;
    if (caller.length <= MAX_REGEX_SUBJECT) for (let i = 0; i < this.regexes.length; i++) if (this.regexes[i]!.test(caller)) return true;
    return false;
  }
}

/** A compiled action: the parts of a decision fixed by the rule. */
interface CompiledAction {
  type: RoutingActionType;
  target: string | undefined;
  template: MessageTemplate | undefined;
}

function compileAction(a: RoutingAction): CompiledAction {
  const type = a.type as RoutingActionType;
  switch (type) {
    case RoutingActionType.Ring:
    case RoutingActionType.Answer:
    case RoutingActionType.Reject:
      return { type, target: undefined, template: undefined };
    case RoutingActionType.TransferExtension:
      return { type, target: (a as { extension: string }).extension, template: undefined };
    case RoutingActionType.TransferComputer:
    case RoutingActionType.TransferSip:
      return { type, target: (a as { uri?: string }).uri, template: undefined };
    case RoutingActionType.EndAndMessage:
      return { type, target: undefined, template: must(parseTemplate((a as { text: string }).text)) };
    default:
      throw new Error(`unhandled action type ${String(type)}`);
  }
}

/** One enabled rule, compiled. */
export interface CompiledRule {
  readonly index: number;
  readonly id: string;
  /** 0 when the rule has no presence condition. */
  readonly presenceMask: number;
  readonly time: Uint32Array | null;
  readonly dates: DateSet | null;
  readonly exceptDates: DateSet | null;
  readonly caller: CallerMatcher | null;
  readonly action: CompiledAction;
  /** The decision when the action needs no per-call text (shared, frozen). */
  readonly decision: RoutingDecision | null;
}

function frozenDecision(user: string, version: number, index: number, id: string | undefined, a: CompiledAction): RoutingDecision | null {
  if (a.template) return null;
  const d: RoutingDecision = { user, version, ruleIndex: index, ruleId: id, action: a.type };
  if (a.target !== undefined) d.target = a.target;
  return Object.freeze(d);
}

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return s.length > 0;
}

/** A user's rule set in evaluation form. Immutable: a write builds a new one and swaps it in. */
export class CompiledRuleSet {
  readonly clock: ZoneClock;
  /** Enabled rules, in order. */
  readonly rules: readonly CompiledRule[];
  private readonly defaultAction: CompiledAction;
  private readonly defaultDecision: RoutingDecision | null;
  /** Presence mask per rule (struct of arrays for the decision loop). */
  private readonly presenceMasks: Int32Array;
  private readonly callers: (CallerMatcher | null)[];
  /**
   * Per rule, 1 when its time, date and excepted-date conditions hold in {@link gateMinute}: they depend
   * on the minute only, so they are worked out once per minute, not per call.
   */
  private readonly gate: Uint8Array;
  private gateMinute = Number.NaN;

  constructor(
    readonly user: string,
    readonly version: number,
    readonly source: RuleSet,
  ) {
    this.clock = zoneClock(source.timeZone);
    const rules: CompiledRule[] = [];
    source.rules.forEach((r: RoutingRule, index) => {
      if (r.enabled === false) return;
      const c = r.conditions ?? {};
      let presenceMask = 0;
      if (c.presence !== undefined) for (const p of alternativesOf(c.presence)) presenceMask |= PRESENCE_BITS[p]!;
      const action = compileAction(r.action);
      rules.push({
        index,
        id: r.id,
        presenceMask,
        time: c.time === undefined ? null : windowBits(alternativesOf(c.time)),
        dates: c.dates === undefined ? null : new DateSet(alternativesOf(c.dates)),
        exceptDates: c.exceptDates === undefined ? null : new DateSet(alternativesOf(c.exceptDates)),
        caller: c.caller === undefined ? null : new CallerMatcher(alternativesOf(c.caller)),
        action,
        decision: frozenDecision(user, version, index, r.id, action),
      });
    });
    this.rules = rules;
    this.presenceMasks = Int32Array.from(rules, (r) => r.presenceMask);
    this.callers = rules.map((r) => r.caller);
    this.gate = new Uint8Array(rules.length);
    this.defaultAction = compileAction(source.default ?? { type: RoutingActionType.Ring });
    this.defaultDecision = frozenDecision(user, version, -1, undefined, this.defaultAction);
  }

  /** The first matching rule's decision, or the default. */
  decide(call: IncomingCall): RoutingDecision {
    if (!Number.isFinite(call.at)) throw new RangeError('call.at must be a finite epoch time in milliseconds');
    const local = this.clock.at(call.at);
    const presence = PRESENCE_BITS[call.presence] ?? 0;
    const caller = call.caller ?? '';
    const digits = isDigits(caller);
    if (local.utcMinute !== this.gateMinute) this.openGate(local);
    const gate = this.gate;
    const masks = this.presenceMasks;
    const callers = this.callers;
    for (let i = 0; i < gate.length; i++) {
      if (gate[i] === 0) continue;
      const mask = masks[i]!;
      if (mask !== 0 && (mask & presence) === 0) continue;
      const matcher = callers[i]!;
      if (matcher !== null && !matcher.match(caller, digits)) continue;
      const r = this.rules[i]!;
      return r.decision ?? this.render(r.index, r.id, r.action, call, local);
    }
    return this.defaultDecision ?? this.render(-1, undefined, this.defaultAction, call, local);
  }

  /** Work out which rules' time and date conditions hold in the minute of `local`. */
  private openGate(local: LocalTime): void {
    const rules = this.rules;
    const word = local.minuteOfWeek >>> 5;
    const bit = 1 << (local.minuteOfWeek & 31);
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      const open =
        (r.time === null || (r.time[word]! & bit) !== 0) &&
        (r.dates === null || r.dates.has(local)) &&
        (r.exceptDates === null || !r.exceptDates.has(local));
      this.gate[i] = open ? 1 : 0;
    }
    this.gateMinute = local.utcMinute;
  }

  private render(index: number, id: string | undefined, a: CompiledAction, call: IncomingCall, local: LocalTime): RoutingDecision {
    const caller = call.caller || 'anonymous';
    const message = renderTemplate(a.template!, {
      caller,
      callerName: call.callerName || caller,
      user: this.user,
      time: formatClock(local),
      date: formatDate(local),
      day: DAY_LABELS[local.weekday]!,
    });
    return { user: this.user, version: this.version, ruleIndex: index, ruleId: id, action: a.type, message };
  }
}
