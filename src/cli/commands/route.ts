/**
 * `switchhook route`: manage and explain the per-user call routing tables stored under the data folder.
 *   route show     --user U [--json] [--data DIR]
 *   route set      --user U --file rules.yaml [--version N] [--data DIR]
 *   route delete   --user U [--version N] [--data DIR]
 *   route validate --file rules.yaml
 *   route explain  --user U [--from NUMBER] [--at TIME] [--presence STATE] [--data DIR]
 *   route schema
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { parse as parseYaml, stringify as toYaml } from 'yaml';

import {
  formatExplanation, formatIssues, parseInstant, RoutingError, RoutingTable, ruleSetSchema, validateRuleSet,
} from '../../calls/routing/index.js';
import { PhonePresenceState } from '../../presence/phone-state.js';
import { SqliteStore } from '../../store/sqlite-store.js';
import type { Command, CommandIO } from '../command.js';

const usage = `usage: switchhook route <action> [options]

Manage the call routing table of a user (docs/routing.md). Rule sets are stored in the SQLite store
under --data (default ./data) and validated on write; a running daemon picks them up without a restart.

actions:
  show      --user U [--json]                   print the stored rule set (YAML) and its version
  set       --user U --file FILE [--version N]  store a rule set from a YAML or JSON file; --version is the
                                                version the edit is based on (default: the stored one)
  delete    --user U [--version N]              delete the rule set (calls then ring)
  validate  --file FILE                         check a rule set without storing it
  explain   --user U [--from NUMBER] [--at TIME] [--presence STATE]
                                                show which rule would take a call and why: every rule,
                                                every condition with its verdict and reason
  schema                                        print the JSON Schema of a rule set

options:
  --data DIR        data folder holding switchhook.db (default ./data)
  --from NUMBER     caller number or extension; omit (or 'anonymous') for a withheld caller
  --at TIME         YYYY-MM-DDTHH:MM in the user's time zone, or with Z / an offset; default now
  --presence STATE  ${Object.values(PhonePresenceState).join(', ')} (default idle)
`;

function readRuleFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RoutingError('ROUTING_ERR_FILE', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new RoutingError('ROUTING_ERR_FILE', `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new RoutingError('ROUTING_ERR_USAGE', `${flag} is required`);
  return value;
}

function versionFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new RoutingError('ROUTING_ERR_USAGE', `--version must be a whole number, got '${value}'`);
  return Number(value);
}

async function withTable<T>(data: string, fn: (table: RoutingTable) => Promise<T>): Promise<T> {
  const store = new SqliteStore(data);
  try {
    return await fn(new RoutingTable(store));
  } finally {
    await store.close();
  }
}

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      user: { type: 'string' },
      file: { type: 'string' },
      version: { type: 'string' },
      data: { type: 'string', default: './data' },
      from: { type: 'string' },
      at: { type: 'string' },
      presence: { type: 'string', default: PhonePresenceState.Idle },
      json: { type: 'boolean', default: false },
    },
  });
  const [action, ...extra] = positionals;
  if (extra.length > 0) throw new RoutingError('ROUTING_ERR_USAGE', `unexpected argument '${extra[0]}'`);
  const data = values.data!;
  switch (action) {
    case 'schema':
      io.out(JSON.stringify(ruleSetSchema, null, 2) + '\n');
      return 0;
    case 'validate': {
      const issues = validateRuleSet(readRuleFile(need(values.file, '--file')));
      if (issues.length > 0) {
        io.err(`${values.file}: ${issues.length} problem(s):\n${formatIssues(issues)}\n`);
        return 1;
      }
      io.out(`${values.file}: valid\n`);
      return 0;
    }
    case 'show': {
      const user = need(values.user, '--user');
      const rec = await withTable(data, (t) => t.get(user));
      if (!rec) {
        io.err(`user ${user} has no rule set\n`);
        return 1;
      }
      if (values.json) io.out(JSON.stringify(rec, null, 2) + '\n');
      else io.out(`# user ${rec.user}, version ${rec.version}, updated ${rec.updatedAt}\n${toYaml(rec.ruleSet)}`);
      return 0;
    }
    case 'set': {
      const user = need(values.user, '--user');
      const ruleSet = readRuleFile(need(values.file, '--file'));
      const rec = await withTable(data, async (t) => {
        const base = versionFlag(values.version) ?? (await t.get(user))?.version ?? 0;
        return t.put(user, ruleSet, base);
      });
      io.out(`user ${user}: stored version ${rec.version} (${rec.ruleSet.rules.length} rules)\n`);
      return 0;
    }
    case 'delete': {
      const user = need(values.user, '--user');
      await withTable(data, async (t) => {
        const base = versionFlag(values.version) ?? (await t.get(user))?.version ?? 0;
        await t.delete(user, base);
      });
      io.out(`user ${user}: rule set deleted\n`);
      return 0;
    }
    case 'explain': {
      const user = need(values.user, '--user');
      const presence = values.presence!;
      if (!(Object.values(PhonePresenceState) as string[]).includes(presence)) {
        throw new RoutingError('ROUTING_ERR_USAGE', `--presence must be one of ${Object.values(PhonePresenceState).join(', ')}`);
      }
      const caller = values.from === undefined || values.from === 'anonymous' ? undefined : values.from;
      const text = await withTable(data, async (t) => {
        const rec = await t.get(user);
        if (!rec) throw new RoutingError('ROUTING_ERR_NOT_FOUND', `user ${user} has no rule set`);
        const at = values.at === undefined ? Date.now() : parseInstant(values.at, rec.ruleSet.timeZone);
        if (Number.isNaN(at)) {
          throw new RoutingError('ROUTING_ERR_USAGE', `--at must be YYYY-MM-DDTHH:MM (optionally with Z or an offset), got '${values.at}'`);
        }
        const call = caller === undefined ? { at, presence: presence as PhonePresenceState } : { caller, at, presence: presence as PhonePresenceState };
        return formatExplanation(await t.explain(user, call));
      });
      io.out(text);
      return 0;
    }
    case undefined:
      io.err(usage);
      return 2;
    default:
      io.err(`switchhook route: unknown action '${action}'\n\n${usage}`);
      return 2;
  }
}

/** The `route` subcommand. */
export const routeCommand: Command = {
  name: 'route',
  summary: 'manage and explain per-user call routing rules',
  usage,
  run: async (args, io) => {
    try {
      return await run(args, io);
    } catch (err) {
      if (err instanceof RoutingError && err.code === 'ROUTING_ERR_INVALID') {
        io.err(`switchhook route: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  },
};
