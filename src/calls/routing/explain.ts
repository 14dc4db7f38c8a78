/**
 * `route explain`: every rule in order with each condition's verdict and the reason, e.g.
 * `time: 18:00 Thu in Europe/Berlin is outside mon-fri 08:00-17:00`. This walks the stored rule set
 * directly (the source text, local time from `Intl.DateTimeFormat` each time), independently of the
 * compiled form, so tests can check one against the other. {@link interpretRuleSet} is the same walk
 * without the reasons: the straightforward evaluator the benchmark compares the compiled one with.
 */
import { alternativesOf } from './compile.js';
import { RoutingError } from './errors.js';
import {
  DAY_MINUTES, MAX_REGEX_SUBJECT, parseCallerRegex, parseClock, parseDays, parseNumberRange, parseTemplate, renderTemplate,
  SyntaxIssue, WEEK_MINUTES,
} from './syntax.js';
import {
  RoutingActionType, type CallerMatch, type IncomingCall, type RoutingAction, type RoutingDecision,
  type RoutingRule, type RuleSet, type TimeWindow,
} from './types.js';
import { DAY_LABELS } from './zone-clock.js';

/** Local wall-clock facts of the call, as explain shows them. */
export interface LocalFacts {
  date: string;
  /** `MM-DD`. */
  monthDay: string;
  clock: string;
  /** 0 = Monday. */
  weekday: number;
  minuteOfWeek: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** Local date and time of an instant in a zone, straight from Intl. */
export function localFacts(zone: string, at: number): LocalFacts {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', weekday: 'short',
    });
    formats.set(zone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(at)) p[part.type] = part.value;
  const weekday = DAY_LABELS.indexOf(p['weekday'] as (typeof DAY_LABELS)[number]);
  const minuteOfDay = Number(p['hour']) * 60 + Number(p['minute']);
  return {
    date: `${p['year']}-${p['month']}-${p['day']}`,
    monthDay: `${p['month']}-${p['day']}`,
    clock: `${p['hour']}:${p['minute']}`,
    weekday,
    minuteOfWeek: weekday * DAY_MINUTES + minuteOfDay,
  };
}

function must<T>(v: T | SyntaxIssue): T {
  if (v instanceof SyntaxIssue) throw new RoutingError('ROUTING_ERR_INVALID', `rule set not validated before explaining: ${v.message}`);
  return v;
}

/** A verdict on one condition. */
export interface ConditionVerdict {
  kind: 'time' | 'dates' | 'exceptDates' | 'caller' | 'presence';
  matched: boolean;
  /** Empty when reasons were not asked for. */
  reason: string;
}

function windowLabel(w: TimeWindow): string {
  return `${w.days ? w.days.join(',') : 'every day'} ${w.from ?? '00:00'}-${w.to ?? '24:00'}`;
}

function insideWindow(w: TimeWindow, minuteOfWeek: number): boolean {
  const from = w.from === undefined ? 0 : must(parseClock(w.from, false));
  const to = w.to === undefined ? DAY_MINUTES : must(parseClock(w.to, true));
  const length = to > from ? to - from : to + DAY_MINUTES - from;
  const days = w.days === undefined ? [0, 1, 2, 3, 4, 5, 6] : w.days.flatMap((d) => must(parseDays(d)));
  return days.some((d) => (minuteOfWeek - (d * DAY_MINUTES + from) + WEEK_MINUTES) % WEEK_MINUTES < length);
}

function onDate(spec: string, local: LocalFacts): boolean {
  const [a, b = a] = spec.split('..').map((s) => s.trim()) as [string, string?];
  if (a.length === 10) return local.date >= a && local.date <= b!;
  return a <= b! ? local.monthDay >= a && local.monthDay <= b! : local.monthDay >= a || local.monthDay <= b!;
}

function patternRegex(pattern: string): RegExp {
  let src = '';
  for (let i = pattern[0] === '_' ? 1 : 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    switch (c.toUpperCase()) {
      case 'X': src += '[0-9]'; break;
      case 'Z': src += '[1-9]'; break;
      case 'N': src += '[2-9]'; break;
      case '.': src += '[0-9*#+]+'; break;
      case '!': src += '[0-9*#+]*'; break;
      case '[': {
        const close = pattern.indexOf(']', i);
        src += '[' + pattern.slice(i + 1, close).replace(/[*#+]/g, '\\$&') + ']';
        i = close;
        break;
      }
      default: src += c.replace(/[*#+]/g, '\\$&');
    }
  }
  return new RegExp(`^${src}$`);
}

function callerMatches(m: CallerMatch, caller: string): boolean {
  if ('anonymous' in m) return caller === '';
  if (caller === '') return false;
  if ('exact' in m) return caller === m.exact;
  if ('prefix' in m) return caller.startsWith(m.prefix);
  if ('range' in m) {
    const r = must(parseNumberRange(m.range));
    return /^\d+$/.test(caller) && caller.length === r.low.length && BigInt(caller) >= BigInt(r.low) && BigInt(caller) <= BigInt(r.high);
  }
  if ('pattern' in m) return patternRegex(m.pattern).test(caller);
  return caller.length <= MAX_REGEX_SUBJECT && must(parseCallerRegex(m.regex)).test(caller);
}

function callerLabel(m: CallerMatch): string {
  const [k, v] = Object.entries(m)[0]!;
  return k === 'anonymous' ? 'anonymous' : `${k} ${String(v)}`;
}

/** Verdicts on every condition of a rule (all of them, not stopping at the first failure when `why`). */
export function ruleVerdicts(rule: RoutingRule, zone: string, local: LocalFacts, call: IncomingCall, why: boolean): ConditionVerdict[] {
  const out: ConditionVerdict[] = [];
  const c = rule.conditions ?? {};
  const stop = (): boolean => !why && out.length > 0 && !out[out.length - 1]!.matched;
  if (c.time !== undefined) {
    const windows = alternativesOf(c.time);
    const hit = windows.find((w) => insideWindow(w, local.minuteOfWeek));
    const at = `${local.clock} ${DAY_LABELS[local.weekday]} in ${zone}`;
    out.push({
      kind: 'time',
      matched: hit !== undefined,
      reason: !why ? '' : hit ? `${at} is inside ${windowLabel(hit)}` : `${at} is outside ${windows.map(windowLabel).join(' and ')}`,
    });
  }
  if (stop()) return out;
  if (c.dates !== undefined) {
    const specs = alternativesOf(c.dates);
    const hit = specs.find((s) => onDate(s, local));
    out.push({
      kind: 'dates',
      matched: hit !== undefined,
      reason: !why ? '' : hit ? `${local.date} is on ${hit}` : `${local.date} is not on any of ${specs.join(', ')}`,
    });
  }
  if (stop()) return out;
  if (c.exceptDates !== undefined) {
    const specs = alternativesOf(c.exceptDates);
    const hit = specs.find((s) => onDate(s, local));
    out.push({
      kind: 'exceptDates',
      matched: hit === undefined,
      reason: !why ? '' : hit ? `${local.date} is on excepted date ${hit}` : `${local.date} is not on any excepted date (${specs.join(', ')})`,
    });
  }
  if (stop()) return out;
  if (c.caller !== undefined) {
    const alts = alternativesOf(c.caller);
    const caller = call.caller ?? '';
    const hit = alts.find((m) => callerMatches(m, caller));
    const who = caller === '' ? 'anonymous' : caller;
    out.push({
      kind: 'caller',
      matched: hit !== undefined,
      reason: !why ? '' : hit ? `${who} matches ${callerLabel(hit)}` : `${who} matches none of ${alts.map(callerLabel).join(', ')}`,
    });
  }
  if (stop()) return out;
  if (c.presence !== undefined) {
    const states: string[] = alternativesOf(c.presence);
    const matched = states.includes(call.presence);
    out.push({
      kind: 'presence',
      matched,
      reason: !why ? '' : `${call.presence} is ${matched ? '' : 'not '}one of ${states.join(', ')}`,
    });
  }
  return out;
}

function decisionOf(user: string, version: number, index: number, id: string | undefined, a: RoutingAction, call: IncomingCall, local: LocalFacts): RoutingDecision {
  const type = a.type as RoutingActionType;
  const d: RoutingDecision = { user, version, ruleIndex: index, ruleId: id, action: type };
  if ('extension' in a) d.target = a.extension;
  if ('uri' in a && a.uri !== undefined) d.target = a.uri;
  if ('text' in a) {
    const caller = call.caller || 'anonymous';
    d.message = renderTemplate(must(parseTemplate(a.text)), {
      caller, callerName: call.callerName || caller, user, time: local.clock, date: local.date, day: DAY_LABELS[local.weekday]!,
    });
  }
  return d;
}

/** Evaluate a stored rule set by walking its source: the reference and baseline evaluator. */
export function interpretRuleSet(user: string, version: number, set: RuleSet, call: IncomingCall): RoutingDecision {
  const local = localFacts(set.timeZone, call.at);
  for (let i = 0; i < set.rules.length; i++) {
    const r = set.rules[i]!;
    if (r.enabled === false) continue;
    if (ruleVerdicts(r, set.timeZone, local, call, false).every((v) => v.matched)) {
      return decisionOf(user, version, i, r.id, r.action, call, local);
    }
  }
  return decisionOf(user, version, -1, undefined, set.default ?? { type: RoutingActionType.Ring }, call, local);
}

/** One rule's part of an explanation. */
export interface RuleExplanation {
  index: number;
  id: string;
  enabled: boolean;
  /** All conditions hold (and the rule is enabled). */
  matched: boolean;
  /** An earlier rule matched first. */
  shadowed: boolean;
  conditions: ConditionVerdict[];
  action: RoutingAction;
}

/** Why a call would be routed as it is. */
export interface Explanation {
  user: string;
  version: number;
  timeZone: string;
  at: number;
  local: LocalFacts;
  call: IncomingCall;
  rules: RuleExplanation[];
  decision: RoutingDecision;
}

/** Explain the routing of a call by a rule set (every rule, every condition). */
export function explainRuleSet(user: string, version: number, set: RuleSet, call: IncomingCall): Explanation {
  const local = localFacts(set.timeZone, call.at);
  let first = -1;
  const rules = set.rules.map((r, index): RuleExplanation => {
    const conditions = ruleVerdicts(r, set.timeZone, local, call, true);
    const enabled = r.enabled !== false;
    const matched = enabled && conditions.every((v) => v.matched);
    const shadowed = first >= 0;
    if (matched && first < 0) first = index;
    return { index, id: r.id, enabled, matched, shadowed, conditions, action: r.action };
  });
  const hit = first >= 0 ? set.rules[first]! : undefined;
  const decision = hit
    ? decisionOf(user, version, first, hit.id, hit.action, call, local)
    : decisionOf(user, version, -1, undefined, set.default ?? { type: RoutingActionType.Ring }, call, local);
  return { user, version, timeZone: set.timeZone, at: call.at, local, call, rules, decision };
}

/** An action in one line: `transfer-sip sip:alice@example.com`. */
export function describeAction(a: { type: string; extension?: string; uri?: string; text?: string } | RoutingDecision): string {
  if ('action' in a) {
    const d = a;
    return [d.action, d.target, d.message === undefined ? undefined : JSON.stringify(d.message)].filter((x) => x !== undefined).join(' ');
  }
  return [a.type, a.extension, a.uri, a.text === undefined ? undefined : JSON.stringify(a.text)].filter((x) => x !== undefined).join(' ');
}

/** The text `route explain` prints. */
export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const caller = e.call.caller ? e.call.caller : 'anonymous';
  lines.push(`user ${e.user}: rule set version ${e.version}, ${e.rules.length} rules, time zone ${e.timeZone}`);
  lines.push(
    `call from ${caller} at ${e.local.date} ${e.local.clock} ${DAY_LABELS[e.local.weekday]} ${e.timeZone}` +
      ` (${new Date(e.at).toISOString()}), presence ${e.call.presence}`,
  );
  for (const r of e.rules) {
    const head = `rules[${r.index}] (id ${JSON.stringify(r.id)})`;
    let verdict: string;
    if (!r.enabled) verdict = 'disabled';
    else if (r.matched && !r.shadowed) verdict = `MATCH -> ${describeAction(r.action)}`;
    else if (r.matched) verdict = 'would match, but an earlier rule matched first';
    else verdict = 'no match';
    lines.push(`${head}: ${verdict}`);
    if (r.conditions.length === 0) lines.push('    (no conditions: matches every call)');
    for (const c of r.conditions) lines.push(`    ${c.matched ? '+' : '-'} ${c.kind}: ${c.reason}`);
  }
  const d = e.decision;
  lines.push(
    d.ruleIndex >= 0
      ? `decision: rules[${d.ruleIndex}] (id ${JSON.stringify(d.ruleId)}) -> ${describeAction(d)}`
      : `decision: no rule matched -> default ${describeAction(d)}`,
  );
  return lines.join('\n') + '\n';
}
