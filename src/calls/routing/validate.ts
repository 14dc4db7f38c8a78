/**
 * Validation of a rule set on write. Every problem is reported, each naming the rule (index and id) and the
 * field, e.g. `rules[2] (id "lunch").conditions.time.days[0]: must be one of mon..sun, or a range such as
 * mon-fri`. The checks here are the contract; {@link ruleSetSchema} describes the same shape for documentation.
 */
import { PhonePresenceState } from '../../presence/phone-state.js';
import {
  isTimeZone, parseCallerRegex, parseClock, parseDateSpec, parseDays, parseDialPattern, parseNumber,
  parseNumberRange, parseTemplate, SyntaxIssue,
} from './syntax.js';
import { RoutingActionType, type RuleSet } from './types.js';

/** One validation problem. */
export interface ValidationIssue {
  /** Field path, starting with the rule: `rules[2] (id "lunch").conditions.caller[1].range`. */
  path: string;
  message: string;
  /** The rule concerned, when the problem is inside one. */
  ruleIndex?: number;
  ruleId?: string;
}

/** Rules per rule set, at most. */
export const MAX_RULES = 1000;
/** Alternatives per condition, at most. */
export const MAX_ALTERNATIVES = 1000;

const PRESENCE_VALUES: readonly string[] = Object.values(PhonePresenceState);
const ACTION_TYPES: readonly string[] = Object.values(RoutingActionType);
const RULE_KEYS = ['id', 'description', 'enabled', 'conditions', 'action'];
const CONDITION_KEYS = ['time', 'dates', 'exceptDates', 'caller', 'presence'];
const CALLER_KINDS = ['exact', 'prefix', 'range', 'pattern', 'regex', 'anonymous'];
const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const SIP_URI_RE = /^sips?:[^\s<>"]{1,250}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  readonly issues: ValidationIssue[] = [];
  ruleIndex: number | undefined;
  ruleId: string | undefined;

  add(path: string, message: string): void {
    const issue: ValidationIssue = { path, message };
    if (this.ruleIndex !== undefined) {
      issue.ruleIndex = this.ruleIndex;
      if (this.ruleId !== undefined) issue.ruleId = this.ruleId;
    }
    this.issues.push(issue);
  }

  /** Report a parse result's issue; true when it parsed. */
  parsed(path: string, result: unknown): boolean {
    if (result instanceof SyntaxIssue) {
      this.add(path, result.message);
      return false;
    }
    return true;
  }

  keys(path: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) this.add(path ? `${path}.${k}` : k, `unknown field (allowed: ${allowed.join(', ')})`);
    }
  }

  /** Visit each alternative of a one-or-many condition with its path. */
  alternatives(path: string, value: unknown, each: (path: string, v: unknown) => void): void {
    if (!Array.isArray(value)) {
      each(path, value);
      return;
    }
    if (value.length === 0) this.add(path, 'must list at least one alternative');
    if (value.length > MAX_ALTERNATIVES) this.add(path, `must list at most ${MAX_ALTERNATIVES} alternatives`);
    value.forEach((v, i) => each(`${path}[${i}]`, v));
  }

  action(path: string, a: unknown): void {
    if (!isObject(a)) {
      this.add(path, 'must be an object with a type');
      return;
    }
    const type = a['type'];
    if (typeof type !== 'string' || !ACTION_TYPES.includes(type)) {
      this.add(`${path}.type`, `must be one of ${ACTION_TYPES.join(', ')}`);
      return;
    }
    switch (type as RoutingActionType) {
      case RoutingActionType.Ring:
      case RoutingActionType.Answer:
      case RoutingActionType.Reject:
        this.keys(path, a, ['type']);
        break;
      case RoutingActionType.TransferExtension:
        this.keys(path, a, ['type', 'extension']);
        this.parsed(`${path}.extension`, parseNumber(a['extension']));
        break;
      case RoutingActionType.TransferComputer:
        this.keys(path, a, ['type', 'uri']);
        if (a['uri'] !== undefined) this.uri(`${path}.uri`, a['uri']);
        break;
      case RoutingActionType.TransferSip:
        this.keys(path, a, ['type', 'uri']);
        this.uri(`${path}.uri`, a['uri']);
        break;
      case RoutingActionType.EndAndMessage:
        this.keys(path, a, ['type', 'text']);
        this.parsed(`${path}.text`, parseTemplate(a['text']));
        break;
      default:
        throw new Error(`unhandled action type ${type}`);
    }
  }

  uri(path: string, v: unknown): void {
    if (typeof v !== 'string' || !SIP_URI_RE.test(v)) this.add(path, 'must be a sip: or sips: URI (RFC 3261 section 19.1)');
  }

  time(path: string, w: unknown): void {
    if (!isObject(w)) {
      this.add(path, 'must be a window { days, from, to }');
      return;
    }
    this.keys(path, w, ['days', 'from', 'to']);
    const days = w['days'];
    if (days !== undefined) {
      if (!Array.isArray(days) || days.length === 0) this.add(`${path}.days`, 'must be a non-empty list of days');
      else days.forEach((d, i) => this.parsed(`${path}.days[${i}]`, parseDays(d)));
    }
    const from = w['from'] === undefined ? 0 : parseClock(w['from'], false);
    const to = w['to'] === undefined ? 1440 : parseClock(w['to'], true);
    const okFrom = this.parsed(`${path}.from`, from);
    const okTo = this.parsed(`${path}.to`, to);
    if (okFrom && okTo && from === to) this.add(`${path}.to`, 'must differ from from (use 00:00 to 24:00 for a whole day)');
  }

  caller(path: string, c: unknown): void {
    if (!isObject(c)) {
      this.add(path, `must be an object with one of ${CALLER_KINDS.join(', ')}`);
      return;
    }
    const keys = Object.keys(c);
    if (keys.length !== 1 || !CALLER_KINDS.includes(keys[0]!)) {
      this.add(path, `must have exactly one of ${CALLER_KINDS.join(', ')}`);
      return;
    }
    const kind = keys[0]!;
    const v = c[kind];
    const p = `${path}.${kind}`;
    switch (kind) {
      case 'exact':
      case 'prefix':
        this.parsed(p, parseNumber(v));
        break;
      case 'range':
        this.parsed(p, parseNumberRange(v));
        break;
      case 'pattern':
        this.parsed(p, parseDialPattern(v));
        break;
      case 'regex':
        this.parsed(p, parseCallerRegex(v));
        break;
      case 'anonymous':
        if (v !== true) this.add(p, 'must be true');
        break;
      default:
        throw new Error(`unhandled caller kind ${kind}`);
    }
  }

  rule(index: number, r: unknown, seen: Map<string, number>): void {
    this.ruleIndex = index;
    this.ruleId = isObject(r) && typeof r['id'] === 'string' ? r['id'] : undefined;
    const base = this.ruleId !== undefined ? `rules[${index}] (id ${JSON.stringify(this.ruleId)})` : `rules[${index}]`;
    if (!isObject(r)) {
      this.add(base, 'must be an object');
      return;
    }
    this.keys(base, r, RULE_KEYS);
    if (this.ruleId === undefined || !ID_RE.test(this.ruleId)) {
      this.add(`${base}.id`, 'must be 1-64 characters of A-Z a-z 0-9 _ . -');
    } else if (seen.has(this.ruleId)) {
      this.add(`${base}.id`, `duplicate id, also used by rules[${seen.get(this.ruleId)}]`);
    } else {
      seen.set(this.ruleId, index);
    }
    if (r['description'] !== undefined && (typeof r['description'] !== 'string' || r['description'].length > 500)) {
      this.add(`${base}.description`, 'must be a string of at most 500 characters');
    }
    if (r['enabled'] !== undefined && typeof r['enabled'] !== 'boolean') this.add(`${base}.enabled`, 'must be true or false');
    const cond = r['conditions'];
    if (cond !== undefined) {
      const cp = `${base}.conditions`;
      if (!isObject(cond)) {
        this.add(cp, 'must be an object');
      } else {
        this.keys(cp, cond, CONDITION_KEYS);
        if (cond['time'] !== undefined) this.alternatives(`${cp}.time`, cond['time'], (p, v) => this.time(p, v));
        for (const k of ['dates', 'exceptDates']) {
          if (cond[k] !== undefined) this.alternatives(`${cp}.${k}`, cond[k], (p, v) => this.parsed(p, parseDateSpec(v)));
        }
        if (cond['caller'] !== undefined) this.alternatives(`${cp}.caller`, cond['caller'], (p, v) => this.caller(p, v));
        if (cond['presence'] !== undefined) {
          this.alternatives(`${cp}.presence`, cond['presence'], (p, v) => {
            if (typeof v !== 'string' || !PRESENCE_VALUES.includes(v)) this.add(p, `must be one of ${PRESENCE_VALUES.join(', ')}`);
          });
        }
      }
    }
    if (r['action'] === undefined) this.add(`${base}.action`, 'is required');
    else this.action(`${base}.action`, r['action']);
    this.ruleIndex = undefined;
    this.ruleId = undefined;
  }
}

/** Check a rule set; returns every problem found (empty when valid). Never throws on bad input. */
export function validateRuleSet(value: unknown): ValidationIssue[] {
  const c = new Checker();
  if (!isObject(value)) {
    c.add('(rule set)', 'must be an object with timeZone and rules');
    return c.issues;
  }
  c.keys('', value, ['timeZone', 'rules', 'default']);
  if (!isTimeZone(value['timeZone'])) c.add('timeZone', 'must be an IANA time zone name such as Europe/Berlin');
  const rules = value['rules'];
  if (!Array.isArray(rules)) {
    c.add('rules', 'must be a list of rules');
  } else {
    if (rules.length > MAX_RULES) c.add('rules', `must hold at most ${MAX_RULES} rules`);
    const seen = new Map<string, number>();
    rules.forEach((r, i) => c.rule(i, r, seen));
  }
  if (value['default'] !== undefined) c.action('default', value['default']);
  return c.issues;
}

/** One line per issue: `path: message`. */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('\n');
}

/** Narrow a validated value. */
export function isValidRuleSet(value: unknown): value is RuleSet {
  return validateRuleSet(value).length === 0;
}
