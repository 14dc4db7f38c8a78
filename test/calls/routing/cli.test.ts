import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import t from 'tap';

import { RoutingTable } from '../../../src/calls/routing/index.js';
import { main } from '../../../src/cli/main.js';
import { PhonePresenceState } from '../../../src/presence/phone-state.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';

const rulesYaml = `# user 2001: office hours, lunch, on the phone, nights
timeZone: Europe/Berlin
default: { type: ring }
rules:
  - id: office
    description: answer known callers in office hours
    conditions:
      time: { days: [mon-fri], from: "08:00", to: "17:00" }
      exceptDates: [12-24..12-26, 2026-12-31]
      caller: [{ prefix: "555" }, { range: 2000-2999 }]
    action: { type: answer }
  - id: lunch
    enabled: false
    conditions:
      time: { days: [mon-fri], from: "12:00", to: "13:00" }
    action: { type: reject }
  - id: busy
    conditions:
      presence: [on-call, held]
    action: { type: end-and-message, text: "{{caller}} called at {{time}}" }
  - id: evening
    conditions:
      time: { days: [mon-sun], from: "17:00", to: "23:00" }
      caller: { pattern: "_555XXXX" }
    action: { type: transfer-sip, uri: "sip:alice@example.com" }
`;

function run(args: string[]) {
  let out = '';
  let err = '';
  return main(args, { out: (s) => void (out += s), err: (s) => void (err += s) }).then((code) => ({ code, out, err }));
}

t.test('route set, show, explain, validate, delete', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'route-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, rulesYaml);

  t.match(await run(['route', 'validate', '--file', file]), { code: 0, out: /rules\.yaml: valid/ });
  t.match(await run(['route', 'show', '--user', '2001', '--data', data]), { code: 1, err: /user 2001 has no rule set/ });
  t.match(await run(['route', 'set', '--user', '2001', '--file', file, '--data', data]), { code: 0, out: 'user 2001: stored version 1 (4 rules)\n' });
  t.match(await run(['route', 'set', '--user', '2001', '--file', file, '--data', data]), { code: 0, out: /stored version 2/ });
  t.match(await run(['route', 'set', '--user', '2001', '--file', file, '--version', '1', '--data', data]), { code: 1, err: /ROUTING_ERR_VERSION: stale version/ });

  const shown = await run(['route', 'show', '--user', '2001', '--data', data]);
  t.equal(shown.code, 0);
  t.match(shown.out, /^# user 2001, version 2, updated /);
  t.match(shown.out, /id: lunch\n\s+enabled: false/);
  const json = await run(['route', 'show', '--user', '2001', '--json', '--data', data]);
  t.match(JSON.parse(json.out), { user: '2001', version: 2, ruleSet: { timeZone: 'Europe/Berlin' } });

  const explained = await run(['route', 'explain', '--user', '2001', '--from', '5551234', '--at', '2026-12-24T18:00', '--presence', 'on-call', '--data', data]);
  t.equal(explained.code, 0, explained.err);
  t.equal(
    explained.out,
    [
      'user 2001: rule set version 2, 4 rules, time zone Europe/Berlin',
      'call from 5551234 at 2026-12-24 18:00 Thu Europe/Berlin (2026-12-24T17:00:00.000Z), presence on-call',
      'rules[0] (id "office"): no match',
      '    - time: 18:00 Thu in Europe/Berlin is outside mon-fri 08:00-17:00',
      '    - exceptDates: 2026-12-24 is on excepted date 12-24..12-26',
      '    + caller: 5551234 matches prefix 555',
      'rules[1] (id "lunch"): disabled',
      '    - time: 18:00 Thu in Europe/Berlin is outside mon-fri 12:00-13:00',
      'rules[2] (id "busy"): MATCH -> end-and-message "{{caller}} called at {{time}}"',
      '    + presence: on-call is one of on-call, held',
      'rules[3] (id "evening"): would match, but an earlier rule matched first',
      '    + time: 18:00 Thu in Europe/Berlin is inside mon-sun 17:00-23:00',
      '    + caller: 5551234 matches pattern _555XXXX',
      'decision: rules[2] (id "busy") -> end-and-message "5551234 called at 18:00"',
      '',
    ].join('\n'),
  );
  const idle = await run(['route', 'explain', '--user', '2001', '--from', '5551234', '--at', '2026-12-24T18:00', '--data', data]);
  t.match(idle.out, /- presence: idle is not one of on-call, held\n/);
  t.match(idle.out, /decision: rules\[3\] \(id "evening"\) -> transfer-sip sip:alice@example.com\n$/);
  const office = await run(['route', 'explain', '--user', '2001', '--from', '2002', '--at', '2026-12-23T09:15', '--data', data]);
  t.match(office.out, /\+ caller: 2002 matches range 2000-2999/);
  t.match(office.out, /decision: rules\[0\] \(id "office"\) -> answer\n$/);
  const anon = await run(['route', 'explain', '--user', '2001', '--at', '2026-12-27T03:00Z', '--data', data]);
  t.match(anon.out, /call from anonymous at 2026-12-27 04:00 Sun/);
  t.match(anon.out, /caller: anonymous matches none of prefix 555, range 2000-2999/);
  t.match(anon.out, /decision: no rule matched -> default ring\n$/);
  t.match(await run(['route', 'explain', '--user', '2001', '--at', 'yesterday', '--data', data]), { code: 1, err: /ROUTING_ERR_USAGE: --at must be/ });
  t.match(await run(['route', 'explain', '--user', '2001', '--presence', 'asleep', '--data', data]), { code: 1, err: /--presence must be one of/ });
  t.match(await run(['route', 'explain', '--user', '2009', '--data', data]), { code: 1, err: /user 2009 has no rule set/ });

  t.match(await run(['route', 'delete', '--user', '2001', '--data', data]), { code: 0, out: /deleted/ });
  t.match(await run(['route', 'show', '--user', '2001', '--data', data]), { code: 1 });
});

t.test('route reports invalid files, usage errors and the schema', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'route-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'timeZone: Europe/Berlin\nrules:\n  - id: lunch\n    conditions: { time: { days: [noon] } }\n    action: { type: answer }\n');
  const v = await run(['route', 'validate', '--file', bad]);
  t.equal(v.code, 1);
  t.match(v.err, /rules\[0\] \(id "lunch"\)\.conditions\.time\.days\[0\]: must be one of mon\.\.sun/);
  const s = await run(['route', 'set', '--user', '2001', '--file', bad, '--data', data]);
  t.equal(s.code, 1);
  t.match(s.err, /invalid rule set for user 2001:\nrules\[0\] \(id "lunch"\)/);
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{ nope');
  t.match(await run(['route', 'validate', '--file', broken]), { code: 1, err: /ROUTING_ERR_FILE: .*broken\.json is not valid JSON/ });
  t.match(await run(['route', 'validate', '--file', join(dir, 'missing.yaml')]), { code: 1, err: /cannot read/ });
  t.match(await run(['route', 'validate']), { code: 1, err: /--file is required/ });
  t.match(await run(['route', 'set', '--user', '2001', '--file', bad, '--version', 'x', '--data', data]), { code: 1, err: /--version must be a whole number/ });
  t.match(await run(['route']), { code: 2, err: /usage: switchhook route/ });
  t.match(await run(['route', 'frob']), { code: 2, err: /unknown action 'frob'/ });
  t.match(await run(['route', 'show', 'extra', 'args']), { code: 1, err: /unexpected argument/ });
  t.match(await run(['route', '--help']), { code: 0, out: /route explain|explain\s+--user/ });
  const schema = await run(['route', 'schema']);
  t.match(JSON.parse(schema.out), { title: 'switchhook routing rule set', required: ['timeZone', 'rules'] });
});

t.test('route set reaches a running daemon watching the same data folder, without a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'route-cli-'));
  const data = join(dir, 'data');
  const store = new SqliteStore(data);
  const daemon = new RoutingTable(store);
  t.teardown(async () => {
    await daemon.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await daemon.load();
  daemon.watch(10);
  const call = { caller: '2002', at: Date.parse('2026-12-23T09:15:00+01:00'), presence: PhonePresenceState.Idle };
  t.match(daemon.decide('2001', call), { action: 'ring', version: 0 });
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, rulesYaml);
  t.match(await run(['route', 'set', '--user', '2001', '--file', file, '--data', data]), { code: 0 });
  const deadline = Date.now() + 10_000;
  while (daemon.decide('2001', call).version === 0) {
    if (Date.now() > deadline) throw new Error('the daemon never saw the new rule set');
    await new Promise((r) => setTimeout(r, 5));
  }
  t.match(daemon.decide('2001', call), { action: 'answer', version: 1, ruleId: 'office' });
});
