import { readFileSync } from 'node:fs';

import { Ajv2020 } from 'ajv/dist/2020.js';
import t from 'tap';
import { parse as parseYaml } from 'yaml';

import { formatIssues, ruleSetSchema, validateRuleSet } from '../../../src/calls/routing/index.js';

const good = {
  timeZone: 'Europe/Berlin',
  default: { type: 'ring' },
  rules: [
    {
      id: 'office',
      description: 'office hours',
      conditions: {
        time: [{ days: ['mon-fri'], from: '08:00', to: '17:00' }, { days: ['sat'], from: '09:00', to: '12:00' }],
        exceptDates: ['12-24..12-26', '2026-01-01'],
        caller: [{ prefix: '555' }, { range: '5550000-5559999' }, { pattern: '_NXXXXXX' }, { regex: '^\\+49' }, { exact: '2002' }, { anonymous: true }],
        presence: ['idle', 'ringing'],
      },
      action: { type: 'answer' },
    },
    { id: 'night', enabled: false, conditions: { time: { from: '22:00', to: '06:00' }, dates: '12-31' }, action: { type: 'reject' } },
    { id: 'x1', action: { type: 'transfer-extension', extension: '2002' } },
    { id: 'x2', action: { type: 'transfer-computer' } },
    { id: 'x3', action: { type: 'transfer-computer', uri: 'sip:2001@pc.example' } },
    { id: 'x4', action: { type: 'transfer-sip', uri: 'sips:alice@example.com' } },
    { id: 'x5', action: { type: 'end-and-message', text: '{{caller}} called at {{time}}' } },
  ],
};

const rule = (over: object) => ({ timeZone: 'Europe/Berlin', rules: [{ id: 'ok', action: { type: 'ring' } }, { id: 'lunch', action: { type: 'answer' }, ...over }] });
const R = 'rules[1] (id "lunch")';

/** [what, rule set, expected `path: message` lines (regex)] */
const bad: [string, unknown, RegExp[]][] = [
  ['not an object', 42, [/^\(rule set\): must be an object/]],
  ['unknown zone', { timeZone: 'Mars/Olympus', rules: [] }, [/^timeZone: must be an IANA time zone/]],
  ['rules not a list', { timeZone: 'UTC', rules: {} }, [/^rules: must be a list/]],
  ['unknown top-level field', { timeZone: 'UTC', rules: [], colour: 'red' }, [/^colour: unknown field/]],
  ['bad day', rule({ conditions: { time: { days: ['funday'] } } }), [/^rules\[1\] \(id "lunch"\)\.conditions\.time\.days\[0\]: must be one of mon\.\.sun/]],
  ['bad day in an alternative', rule({ conditions: { time: [{ days: ['mon'] }, { days: ['mon', 'xyz'] }] } }), [/\.conditions\.time\[1\]\.days\[1\]: must be one of mon\.\.sun/]],
  ['empty days', rule({ conditions: { time: { days: [] } } }), [/\.conditions\.time\.days: must be a non-empty list/]],
  ['bad from', rule({ conditions: { time: { from: '8am' } } }), [/\.conditions\.time\.from: must be HH:MM/]],
  ['24:00 as from', rule({ conditions: { time: { from: '24:00' } } }), [/\.conditions\.time\.from: must be HH:MM between 00:00 and 23:59/]],
  ['from equals to', rule({ conditions: { time: { from: '09:00', to: '09:00' } } }), [/\.conditions\.time\.to: must differ from from/]],
  ['window not an object', rule({ conditions: { time: 'office hours' } }), [/\.conditions\.time: must be a window/]],
  ['window unknown field', rule({ conditions: { time: { day: ['mon'] } } }), [/\.conditions\.time\.day: unknown field/]],
  ['bad date', rule({ conditions: { dates: ['2026-02-30'] } }), [/\.conditions\.dates\[0\]: '2026-02-30' is not a calendar date/]],
  ['reversed date range', rule({ conditions: { exceptDates: '2026-12-26..2026-12-24' } }), [/\.conditions\.exceptDates: '2026-12-26\.\.2026-12-24' ends before it starts/]],
  ['no alternatives', rule({ conditions: { caller: [] } }), [/\.conditions\.caller: must list at least one alternative/]],
  ['two caller kinds in one', rule({ conditions: { caller: [{ exact: '1', prefix: '2' }] } }), [/\.conditions\.caller\[0\]: must have exactly one of exact, prefix/]],
  ['unquoted number', rule({ conditions: { caller: { prefix: 800 } } }), [/\.conditions\.caller\.prefix: must be a string: quote numbers in YAML \("800"\)/]],
  ['bad exact', rule({ conditions: { caller: { exact: '555-1234' } } }), [/\.conditions\.caller\.exact: must be 1-32 characters/]],
  ['bad prefix', rule({ conditions: { caller: [{ prefix: '' }] } }), [/\.conditions\.caller\[0\]\.prefix: must be 1-32/]],
  ['bad range', rule({ conditions: { caller: [{ range: '5559999-5550000' }] } }), [/\.conditions\.caller\[0\]\.range: '5559999-5550000': LOW is greater than HIGH/]],
  ['uneven range', rule({ conditions: { caller: [{ range: '100-1999' }] } }), [/\.range: '100-1999': both ends must have the same number of digits/]],
  ['bad pattern', rule({ conditions: { caller: [{ pattern: '55Q' }] } }), [/\.conditions\.caller\[0\]\.pattern: '55Q': 'Q' is not a pattern character/]],
  ['bad regex', rule({ conditions: { caller: [{ regex: '([' }] } }), [/\.conditions\.caller\[0\]\.regex: is not a valid regular expression/]],
  ['long regex', rule({ conditions: { caller: [{ regex: 'a'.repeat(200) }] } }), [/\.regex: must be a regular expression of 1-128 characters/]],
  ['anonymous false', rule({ conditions: { caller: [{ anonymous: false }] } }), [/\.conditions\.caller\[0\]\.anonymous: must be true/]],
  ['caller not an object', rule({ conditions: { caller: ['555'] } }), [/\.conditions\.caller\[0\]: must be an object/]],
  ['bad presence', rule({ conditions: { presence: ['busy'] } }), [/\.conditions\.presence\[0\]: must be one of idle, off-hook/]],
  ['unknown condition', rule({ conditions: { weather: 'rain' } }), [/\.conditions\.weather: unknown field \(allowed: time, dates, exceptDates, caller, presence\)/]],
  ['conditions not an object', rule({ conditions: [] }), [/\.conditions: must be an object/]],
  ['no action', { timeZone: 'UTC', rules: [{ id: 'lunch' }] }, [/^rules\[0\] \(id "lunch"\)\.action: is required/]],
  ['bad action type', rule({ action: { type: 'voicemail' } }), [/\.action\.type: must be one of ring, answer, reject/]],
  ['action not an object', rule({ action: 'answer' }), [/\.action: must be an object with a type/]],
  ['transfer without extension', rule({ action: { type: 'transfer-extension' } }), [/\.action\.extension: must be 1-32/]],
  ['transfer-sip with a bad uri', rule({ action: { type: 'transfer-sip', uri: 'http://x' } }), [/\.action\.uri: must be a sip: or sips: URI/]],
  ['transfer-computer with a bad uri', rule({ action: { type: 'transfer-computer', uri: 'tel:1' } }), [/\.action\.uri: must be a sip:/]],
  ['message with unknown variable', rule({ action: { type: 'end-and-message', text: 'hi {{name}}' } }), [/\.action\.text: unknown variable/]],
  ['extra action field', rule({ action: { type: 'answer', device: '2003' } }), [/\.action\.device: unknown field \(allowed: type\)/]],
  ['bad default', { timeZone: 'UTC', rules: [], default: { type: 'explode' } }, [/^default\.type: must be one of/]],
  ['duplicate id', { timeZone: 'UTC', rules: [{ id: 'a', action: { type: 'ring' } }, { id: 'a', action: { type: 'ring' } }] }, [/^rules\[1\] \(id "a"\)\.id: duplicate id, also used by rules\[0\]/]],
  ['missing id', { timeZone: 'UTC', rules: [{ action: { type: 'ring' } }] }, [/^rules\[0\]\.id: must be 1-64 characters/]],
  ['rule not an object', { timeZone: 'UTC', rules: ['x'] }, [/^rules\[0\]: must be an object/]],
  ['enabled not boolean', rule({ enabled: 'yes' }), [/\.enabled: must be true or false/]],
  ['unknown rule field', rule({ priority: 1 }), [/\.priority: unknown field/]],
  ['several problems at once', rule({ conditions: { time: { days: ['x'], from: 'y' }, presence: 'z' }, action: { type: 'q' } }), [/days\[0\]/, /time\.from/, /presence/, /action\.type/]],
];

t.test('a good rule set has no issues, and the JSON Schema accepts it', async (t) => {
  t.same(validateRuleSet(good), []);
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const check = ajv.compile(ruleSetSchema);
  t.ok(check(good), JSON.stringify(check.errors));
});

t.test('validation errors name the rule (index and id) and the field', async (t) => {
  for (const [what, value, expected] of bad) {
    const issues = validateRuleSet(value);
    const text = formatIssues(issues);
    t.equal(issues.length, expected.length, `${what}: ${expected.length} issue(s)\n${text}`);
    expected.forEach((re, i) => t.match(`${issues[i]?.path}: ${issues[i]?.message}`, re, what));
    if (text.startsWith(R)) t.match(issues[0], { ruleIndex: 1, ruleId: 'lunch' }, `${what}: rule named in the issue`);
  }
});

t.test('the JSON Schema refuses structural errors too', async (t) => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const check = ajv.compile(ruleSetSchema);
  for (const [what, value] of bad) {
    if (/calendar|ends before|duplicate|valid regular|zone|LOW is greater|same number|not a pattern|differ|unknown variable/.test(formatIssues(validateRuleSet(value)))) continue;
    t.notOk(check(value), `schema refuses: ${what}`);
  }
});

t.test('docs/routing-rule-set.schema.json is the exported schema', async (t) => {
  const file = new URL('../../../docs/routing-rule-set.schema.json', import.meta.url);
  t.same(JSON.parse(readFileSync(file, 'utf8')), JSON.parse(JSON.stringify(ruleSetSchema)), 'regenerate with: switchhook route schema > docs/routing-rule-set.schema.json');
});

t.test('the rule set example in docs/routing.md is valid', async (t) => {
  const doc = readFileSync(new URL('../../../docs/routing.md', import.meta.url), 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(doc);
  t.ok(block, 'the doc has a YAML example');
  const example: unknown = parseYaml(block![1]!);
  t.same(validateRuleSet(example), []);
  t.match(example, { rules: [{ id: 'holidays' }, { id: 'office' }, { id: 'lunch' }, { id: 'busy' }, { id: 'night' }, { id: 'withheld' }] });
});
