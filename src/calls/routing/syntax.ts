/**
 * Parsers for the small text syntaxes inside a rule set: clock times, day names and ranges, dates and date
 * ranges, number ranges, dial-plan patterns and message templates. Each returns the parsed value or a
 * string describing what is wrong (the validator turns that into an error naming the rule and field).
 */
import { DAY_NAMES } from './types.js';

/** Minutes in a day and in a week. */
export const DAY_MINUTES = 1440;
export const WEEK_MINUTES = 7 * DAY_MINUTES;

/** A parse failure: the message to attach to the field's path. */
export class SyntaxIssue {
  constructor(readonly message: string) {}
}

/** `HH:MM` (00:00-23:59), or `24:00` when `allowEndOfDay`; minutes after midnight. */
export function parseClock(text: unknown, allowEndOfDay: boolean): number | SyntaxIssue {
  if (typeof text !== 'string') return new SyntaxIssue('must be a string HH:MM');
  if (allowEndOfDay && text === '24:00') return DAY_MINUTES;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!m) return new SyntaxIssue(`must be HH:MM between 00:00 and ${allowEndOfDay ? '24:00' : '23:59'}, got '${text}'`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** A day name (`mon`..`sun`) or a range (`mon-fri`, wrapping `fri-mon`); the day indexes, Monday = 0. */
export function parseDays(token: unknown): number[] | SyntaxIssue {
  const bad = new SyntaxIssue('must be one of mon..sun, or a range such as mon-fri');
  if (typeof token !== 'string') return bad;
  const parts = token.toLowerCase().split('-');
  const idx = parts.map((p) => (DAY_NAMES as readonly string[]).indexOf(p));
  if (idx.some((i) => i < 0) || idx.length > 2) return bad;
  if (idx.length === 1) return [idx[0]!];
  const out: number[] = [];
  for (let d = idx[0]!; ; d = (d + 1) % 7) {
    out.push(d);
    if (d === idx[1]) break;
  }
  return out;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The civil date of a day number (inverse of {@link daysFromCivil}). */
export function civilFromDays(z: number): { year: number; month: number; day: number } {
  const zz = z + 719468;
  const era = Math.floor(zz / 146097);
  const doe = zz - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** `month * 32 + day`: orders month-days within a year. */
export function monthDayKey(month: number, day: number): number {
  return month * 32 + day;
}

/**
 * A date spec: `YYYY-MM-DD` (one date), `MM-DD` (that date every year), or `A..B` (inclusive range of two
 * specs of the same form; a yearly range may wrap past the new year, e.g. `12-24..01-01`).
 */
export type DateSpec =
  | { kind: 'full'; from: number; to: number; text: string }
  | { kind: 'yearly'; from: number; to: number; text: string };

function parseOneDate(text: string): { kind: 'full' | 'yearly'; key: number } | SyntaxIssue {
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m) {
    const y = Number(m[1]);
    const mo = Number(m[2]);
    const d = Number(m[3]);
    const days = daysFromCivil(y, mo, d);
    const back = civilFromDays(days);
    if (mo < 1 || mo > 12 || back.year !== y || back.month !== mo || back.day !== d) {
      return new SyntaxIssue(`'${text}' is not a calendar date`);
    }
    return { kind: 'full', key: days };
  }
  m = /^(\d{2})-(\d{2})$/.exec(text);
  if (m) {
    const mo = Number(m[1]);
    const d = Number(m[2]);
    const max = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
    if (max === undefined || d < 1 || d > max) return new SyntaxIssue(`'${text}' is not a month-day`);
    return { kind: 'yearly', key: monthDayKey(mo, d) };
  }
  return new SyntaxIssue(`'${text}' must be YYYY-MM-DD, MM-DD, or a range A..B of those`);
}

/** Parse a date spec (see {@link DateSpec}). */
export function parseDateSpec(text: unknown): DateSpec | SyntaxIssue {
  if (typeof text !== 'string') return new SyntaxIssue('must be a string YYYY-MM-DD, MM-DD, or a range A..B');
  const ends = text.split('..');
  if (ends.length > 2) return new SyntaxIssue(`'${text}' has more than one '..'`);
  const a = parseOneDate(ends[0]!.trim());
  if (a instanceof SyntaxIssue) return a;
  const b = ends.length === 2 ? parseOneDate(ends[1]!.trim()) : a;
  if (b instanceof SyntaxIssue) return b;
  if (a.kind !== b.kind) return new SyntaxIssue(`'${text}' mixes a full date and a yearly month-day`);
  if (a.kind === 'full' && b.key < a.key) return new SyntaxIssue(`'${text}' ends before it starts`);
  return { kind: a.kind, from: a.key, to: b.key, text };
}

/** Characters a dialled number may hold, in symbol order: `0`-`9`, `*`, `#`, `+`. */
export const SYMBOLS = '0123456789*#+';

/** Symbol index of a UTF-16 code unit, -1 when it is not a dial symbol. */
export function symbolIndex(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code === 42) return 10;
  if (code === 35) return 11;
  if (code === 43) return 12;
  return -1;
}

/** A number or number prefix: 1-32 dial symbols. */
export function parseNumber(text: unknown): string | SyntaxIssue {
  if (typeof text === 'number') return new SyntaxIssue(`must be a string: quote numbers in YAML ("${text}") so leading zeros and + survive`);
  if (typeof text !== 'string' || !/^[0-9*#+]{1,32}$/.test(text)) {
    return new SyntaxIssue('must be 1-32 characters of 0-9 * # +');
  }
  return text;
}

/** A number range `LOW-HIGH`: digits only, both ends the same length, LOW <= HIGH. */
export function parseNumberRange(text: unknown): { low: string; high: string } | SyntaxIssue {
  if (typeof text !== 'string') return new SyntaxIssue('must be a string LOW-HIGH such as 5550000-5559999');
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(text);
  if (!m) return new SyntaxIssue(`'${text}' must be LOW-HIGH of digits, such as 5550000-5559999`);
  if (m[1]!.length !== m[2]!.length) return new SyntaxIssue(`'${text}': both ends must have the same number of digits`);
  if (m[1]! > m[2]!) return new SyntaxIssue(`'${text}': LOW is greater than HIGH`);
  return { low: m[1]!, high: m[2]! };
}

/**
 * A dial-plan pattern (the Asterisk extension-pattern syntax): an optional leading `_`, then per position
 * `X` (0-9), `Z` (1-9), `N` (2-9), `[...]` (a set of digits and ranges, e.g. `[2-5]`, `[13-57]`), or a
 * literal `0-9 * # +`; it may end in `.` (one or more further symbols) or `!` (zero or more).
 * Compiled to one 13-bit symbol mask per position.
 */
export interface DialPattern {
  masks: Uint16Array;
  /** 0: exact length; 1: `.` (at least one more); 2: `!` (any number more). */
  tail: 0 | 1 | 2;
}

const ALL_DIGITS = 0x3ff;

export function parseDialPattern(text: unknown): DialPattern | SyntaxIssue {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) {
    return new SyntaxIssue('must be a pattern string of 1-64 characters');
  }
  const masks: number[] = [];
  let tail: 0 | 1 | 2 = 0;
  let i = text[0] === '_' ? 1 : 0;
  while (i < text.length) {
    const c = text[i]!;
    if (tail !== 0) return new SyntaxIssue(`'${text}': '.' and '!' may only end the pattern`);
    switch (c.toUpperCase()) {
      case 'X':
        masks.push(ALL_DIGITS);
        break;
      case 'Z':
        masks.push(ALL_DIGITS & ~1);
        break;
      case 'N':
        masks.push(ALL_DIGITS & ~3);
        break;
      case '.':
        tail = 1;
        break;
      case '!':
        tail = 2;
        break;
      case '[': {
        const close = text.indexOf(']', i);
        if (close < 0) return new SyntaxIssue(`'${text}': '[' without ']'`);
        const body = text.slice(i + 1, close);
        let mask = 0;
        for (let j = 0; j < body.length; j++) {
          const lo = symbolIndex(body.charCodeAt(j));
          if (lo < 0) return new SyntaxIssue(`'${text}': '${body[j]}' is not allowed inside [...]`);
          if (body[j + 1] === '-' && j + 2 < body.length) {
            const hi = symbolIndex(body.charCodeAt(j + 2));
            if (hi < 0 || hi > 9 || lo > 9 || hi < lo) return new SyntaxIssue(`'${text}': bad range '${body.slice(j, j + 3)}'`);
            for (let k = lo; k <= hi; k++) mask |= 1 << k;
            j += 2;
          } else {
            mask |= 1 << lo;
          }
        }
        if (mask === 0) return new SyntaxIssue(`'${text}': empty [...]`);
        masks.push(mask);
        i = close;
        break;
      }
      default: {
        const s = symbolIndex(text.charCodeAt(i));
        if (s < 0) return new SyntaxIssue(`'${text}': '${c}' is not a pattern character (X Z N [..] . ! 0-9 * # +)`);
        masks.push(1 << s);
      }
    }
    i++;
  }
  if (masks.length === 0) return new SyntaxIssue(`'${text}': the pattern matches no position`);
  return { masks: Uint16Array.from(masks), tail };
}

/** Match a dialled number against a compiled pattern without allocating. */
export function matchDialPattern(p: DialPattern, number: string): boolean {
  const n = p.masks.length;
  if (p.tail === 0 ? number.length !== n : p.tail === 1 ? number.length <= n : number.length < n) return false;
  for (let i = 0; i < n; i++) {
    const s = symbolIndex(number.charCodeAt(i));
    if (s < 0 || (p.masks[i]! & (1 << s)) === 0) return false;
  }
  for (let i = n; i < number.length; i++) if (symbolIndex(number.charCodeAt(i)) < 0) return false;
  return true;
}

/** Longest caller number a regex is tried on: longer input (bad data from the wire) never matches a regex. */
export const MAX_REGEX_SUBJECT = 64;

/** Longest regex source accepted in a caller condition. */
export const MAX_REGEX_LENGTH = 128;

/** A caller regex: at most {@link MAX_REGEX_LENGTH} characters, compiled once (ECMA-262 syntax, `u` flag). */
export function parseCallerRegex(text: unknown): RegExp | SyntaxIssue {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_REGEX_LENGTH) {
    return new SyntaxIssue(`must be a regular expression of 1-${MAX_REGEX_LENGTH} characters`);
  }
  try {
    return new RegExp(text, 'u');
  } catch (err) {
    return new SyntaxIssue(`is not a valid regular expression: ${(err as Error).message}`);
  }
}

/** Variables a message template may use. */
export const TEMPLATE_VARIABLES = ['caller', 'callerName', 'user', 'time', 'date', 'day'] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

/** A template split into literal text and variables, alternating (literals at even indexes). */
export type MessageTemplate = readonly string[];

/** Parse `text with {{caller}} and {{time}}` (1-1000 characters). */
export function parseTemplate(text: unknown): MessageTemplate | SyntaxIssue {
  if (typeof text !== 'string' || text.length === 0 || text.length > 1000) {
    return new SyntaxIssue('must be a message text of 1-1000 characters');
  }
  const parts: string[] = [];
  const re = /\{\{\s*([^{}]*?)\s*\}\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (!(TEMPLATE_VARIABLES as readonly string[]).includes(m[1]!)) {
      return new SyntaxIssue(`unknown variable '{{${m[1]}}}'; known: ${TEMPLATE_VARIABLES.join(', ')}`);
    }
    parts.push(text.slice(last, m.index), m[1]!);
    last = m.index + m[0].length;
  }
  const rest = text.slice(last);
  if (rest.includes('{{') || rest.includes('}}') || parts.some((p, i) => i % 2 === 0 && (p.includes('{{') || p.includes('}}')))) {
    return new SyntaxIssue(`'${text}' has an unbalanced '{{' or '}}'`);
  }
  parts.push(rest);
  return parts;
}

/** Fill a template. */
export function renderTemplate(t: MessageTemplate, vars: Readonly<Record<TemplateVariable, string>>): string {
  let out = t[0]!;
  for (let i = 1; i < t.length; i += 2) out += vars[t[i] as TemplateVariable] + t[i + 1]!;
  return out;
}

/** True when `zone` is an IANA time zone name this runtime knows. */
export function isTimeZone(zone: unknown): zone is string {
  if (typeof zone !== 'string' || zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
