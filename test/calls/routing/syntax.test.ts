import t from 'tap';

import {
  civilFromDays, daysFromCivil, matchDialPattern, parseCallerRegex, parseClock, parseDateSpec, parseDays,
  parseDialPattern, parseNumberRange, parseTemplate, renderTemplate, SyntaxIssue, type DialPattern,
} from '../../../src/calls/routing/syntax.js';

t.test('dial-plan patterns (Asterisk extension-pattern syntax)', async (t) => {
  const cases: [string, string, boolean][] = [
    ['555XXXX', '5551234', true],
    ['555XXXX', '555123', false],
    ['555XXXX', '55512345', false],
    ['_555XXXX', '5559999', true],
    ['NXX', '200', true],
    ['NXX', '100', false],
    ['ZX', '10', true],
    ['ZX', '01', false],
    ['[2-5]XX', '499', true],
    ['[2-5]XX', '699', false],
    ['[13-57]', '4', true],
    ['[13-57]', '6', false],
    ['9.', '9', false],
    ['9.', '90', true],
    ['9!', '9', true],
    ['9!', '9123', true],
    ['*XX', '*72', true],
    ['+49.', '+4930123', true],
    ['xxx', '123', true],
    ['555XXXX', '555123a', false],
    ['9.', '9a', false],
  ];
  for (const [pattern, number, expected] of cases) {
    const p = parseDialPattern(pattern);
    t.notOk(p instanceof SyntaxIssue, `${pattern} parses`);
    t.equal(matchDialPattern(p as DialPattern, number), expected, `${pattern} ~ ${number}`);
  }
  for (const bad of ['', 'A', '[25', '[]', '9.1', '[9-2]', '[a]', 'X'.repeat(65), '_']) {
    t.ok(parseDialPattern(bad) instanceof SyntaxIssue, `'${bad}' is refused`);
  }
});

t.test('clock times, days, ranges, regexes', async (t) => {
  t.equal(parseClock('08:30', false), 510);
  t.equal(parseClock('24:00', true), 1440);
  t.ok(parseClock('24:00', false) instanceof SyntaxIssue);
  t.ok(parseClock('8:30', false) instanceof SyntaxIssue);
  t.ok(parseClock(830, false) instanceof SyntaxIssue);
  t.same(parseDays('wed'), [2]);
  t.same(parseDays('Mon-Fri'), [0, 1, 2, 3, 4]);
  t.same(parseDays('fri-mon'), [4, 5, 6, 0]);
  t.ok(parseDays('weekday') instanceof SyntaxIssue);
  t.ok(parseDays('mon-tue-wed') instanceof SyntaxIssue);
  t.same(parseNumberRange('5550000-5559999'), { low: '5550000', high: '5559999' });
  t.ok(parseNumberRange('555-5559999') instanceof SyntaxIssue);
  t.ok(parseNumberRange('5559999-5550000') instanceof SyntaxIssue);
  t.ok(parseNumberRange(5) instanceof SyntaxIssue);
  t.ok(parseCallerRegex('^\\+49') instanceof RegExp);
  t.ok(parseCallerRegex('(') instanceof SyntaxIssue);
  t.ok(parseCallerRegex('x'.repeat(129)) instanceof SyntaxIssue);
});

t.test('dates and the civil calendar', async (t) => {
  const wrong: number[] = [];
  for (let d = -800000; d < 800000; d += 997) {
    const c = civilFromDays(d);
    if (daysFromCivil(c.year, c.month, c.day) !== d) wrong.push(d);
  }
  t.same(wrong, [], 'day numbers round-trip through the civil calendar');
  t.equal(daysFromCivil(1970, 1, 1), 0);
  t.equal(daysFromCivil(2026, 12, 24), Date.UTC(2026, 11, 24) / 86400000);
  t.match(parseDateSpec('2026-12-24'), { kind: 'full', from: daysFromCivil(2026, 12, 24), to: daysFromCivil(2026, 12, 24) });
  t.match(parseDateSpec('12-24..01-01'), { kind: 'yearly', from: 12 * 32 + 24, to: 1 * 32 + 1 });
  t.match(parseDateSpec('02-29'), { kind: 'yearly' });
  for (const bad of ['2026-02-30', '2026-13-01', '02-30', '2026-12-26..2026-12-24', '12-24..2026-12-26', '24.12.', '1..2..3', 5]) {
    t.ok(parseDateSpec(bad) instanceof SyntaxIssue, `${String(bad)} is refused`);
  }
});

t.test('message templates', async (t) => {
  const tpl = parseTemplate('{{caller}} called at {{ time }} ({{day}} {{date}}) for {{user}}');
  t.notOk(tpl instanceof SyntaxIssue);
  t.equal(
    renderTemplate(tpl as readonly string[], { caller: '5551234', callerName: 'x', user: '2001', time: '18:00', date: '2026-12-24', day: 'Thu' }),
    '5551234 called at 18:00 (Thu 2026-12-24) for 2001',
  );
  t.match(parseTemplate('{{who}} called'), { message: /unknown variable '\{\{who\}\}'/ });
  t.match(parseTemplate('{{caller} called'), { message: /unbalanced/ });
  t.ok(parseTemplate('') instanceof SyntaxIssue);
});
