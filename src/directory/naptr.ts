/**
 * NAPTR rule handling for ENUM: RFC 3402 §3.2 substitution expressions (`delim ere delim repl delim flags`,
 * any delimiter, back-references `\1`..`\9`, flag `i`), RFC 6116 §3.4 Enumservice fields
 * (`E2U+type[:subtype]`), and RFC 3403 §4.1 ordering by order then preference.
 */
import { EnumError } from './errors.js';
import type { NaptrData } from './dns-wire.js';

/** A compiled substitution expression. */
export interface Substitution {
  regex: RegExp;
  /** Replacement parts: literal text, or a back-reference number. */
  parts: (string | number)[];
}

const maxExpression = 1024;

const posixClasses: Record<string, string> = {
  digit: '0-9',
  alpha: 'A-Za-z',
  alnum: 'A-Za-z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\r\\n\\v\\f',
  xdigit: '0-9A-Fa-f',
  punct: '!-\\/:-@\\[-`{-~',
};

/**
 * Parse an RFC 3402 substitution expression. The delimiter is the first character (not a digit, not `\`,
 * not the flag `i`); a delimiter inside the ERE or the replacement is escaped with `\`. The ERE (POSIX
 * extended regular expression, including bracket classes such as `[[:digit:]]`) becomes a JavaScript RegExp.
 * @throws EnumError `ENUM_ERR_REGEXP`.
 */
export function parseSubstitution(expr: string): Substitution {
  const cached = compiled.get(expr);
  if (cached !== undefined) return cached;
  const s = compile(expr);
  // Zones repeat the same few expressions: keep the compiled ones (bounded; the oldest go first).
  if (compiled.size >= maxCompiled) compiled.delete(compiled.keys().next().value!);
  compiled.set(expr, s);
  return s;
}

const compiled = new Map<string, Substitution>();
const maxCompiled = 1000;

function compile(expr: string): Substitution {
  const bad = (why: string) => new EnumError('ENUM_ERR_REGEXP', `bad substitution expression '${expr.slice(0, 80)}': ${why}`);
  if (expr.length < 3 || expr.length > maxExpression) throw bad('length');
  const delim = expr[0]!;
  if (/[0-9\\i]/.test(delim)) throw bad(`'${delim}' cannot be the delimiter`);
  const fields: string[] = [];
  let cur = '';
  let i = 1;
  for (; i < expr.length && fields.length < 2; i++) {
    const c = expr[i]!;
    if (c === '\\' && i + 1 < expr.length) {
      // An escaped delimiter stands for itself; other escapes are kept for the ERE or replacement.
      cur += expr[i + 1] === delim ? delim : c + expr[i + 1];
      i++;
    } else if (c === delim) {
      fields.push(cur);
      cur = '';
    } else cur += c;
  }
  if (fields.length < 2) throw bad('missing delimiter');
  const flags = expr.slice(i);
  if (flags !== '' && flags !== 'i') throw bad(`unknown flags '${flags}'`);
  const ere = fields[0]!;
  if (ere === '') throw bad('empty regular expression');
  let regex: RegExp;
  try {
    const js = ere.replace(/\[:([a-z]+):\]/g, (whole, name: string) => posixClasses[name] ?? whole);
    regex = new RegExp(js, flags);
  } catch (err) {
    throw bad((err as Error).message);
  }
  const groups = new RegExp(regex.source + '|').exec('')!.length - 1;
  const parts: (string | number)[] = [];
  let text = '';
  const repl = fields[1]!;
  for (let k = 0; k < repl.length; k++) {
    const c = repl[k]!;
    if (c === '\\' && k + 1 < repl.length) {
      const d = repl[k + 1]!;
      if (d >= '1' && d <= '9') {
        const n = Number(d);
        if (n > groups) throw bad(`back-reference \\${n} but only ${groups} group(s)`);
        if (text) parts.push(text);
        text = '';
        parts.push(n);
      } else text += d;
      k++;
    } else text += c;
  }
  if (text) parts.push(text);
  return { regex, parts };
}

/**
 * Apply a substitution to the application-unique string, sed style: the first match is replaced by the
 * replacement with its back-references filled in (RFC 3402 §3.2). Undefined when the ERE does not match.
 */
export function applySubstitution(s: Substitution, input: string): string | undefined {
  const m = s.regex.exec(input);
  if (!m) return undefined;
  let out = '';
  for (const p of s.parts) out += typeof p === 'number' ? (m[p] ?? '') : p;
  return input.slice(0, m.index) + out + input.slice(m.index + m[0].length);
}

/**
 * The Enumservices of an ENUM NAPTR service field (RFC 6116 §3.4.3: `E2U+type[:subtype][+type...]`),
 * lower-cased; undefined when the field is not an E2U service.
 */
export function parseEnumservices(service: string): string[] | undefined {
  const parts = service.toLowerCase().split('+');
  if (parts[0] !== 'e2u' || parts.length < 2) return undefined;
  const list = parts.slice(1);
  return list.every((p) => /^[a-z0-9-]+(:[a-z0-9-]+)?$/.test(p)) ? list : undefined;
}

/** Sort NAPTR records by order, then preference (RFC 3403 §4.1), lowest first. */
export function sortNaptr<T extends Pick<NaptrData, 'order' | 'preference'>>(records: T[]): T[] {
  return [...records].sort((a, b) => a.order - b.order || a.preference - b.preference);
}
