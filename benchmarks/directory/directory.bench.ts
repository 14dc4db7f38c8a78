/**
 * `npm run bench -- directory`: the service node's directory and ENUM resolver.
 * - Lookups/s and bytes per number over 1,000,000 numbers (bulk-imported from CSV into the SQLite-backed
 *   directory), against a plain `Map<string, string[]>` built from the same data. Each side is measured in a
 *   fresh child process with `--expose-gc`; memory is heapUsed + arrayBuffers after a full GC, before and
 *   after loading. Two data sets: URIs containing their number (the usual provisioning, templated by the
 *   index) and URIs that do not (no templating: the index's worst case).
 * - ENUM lookups/s against dnsmasq holding 10,000 NAPTR records: cold cache (each number once, 64 in flight)
 *   against `node:dns` `Resolver.resolveNaptr` (a fresh resolver, so its c-ares cache is empty too), and warm.
 * Ends with one JSON line.
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

import { Directory, DnsClient, EnumResolver, RrType } from '../../src/directory/index.js';

const N = Number(process.env['DIRECTORY_BENCH_NUMBERS'] ?? 1_000_000);
const ENUM_N = 10_000;
const LOOKUPS = 2_000_000;

const plan = { countryCode: '44', internationalPrefix: '00', trunkPrefix: '0', extensionLength: 4, didRanges: [{ first: '+441614960000', last: '+441614969999' }] };

type DataSet = 'templated' | 'unique';

function numberAt(i: number): string {
  // Spread over the 10-digit space so keys are not sequential.
  return '+4420' + String((i * 7_368_787) % 100_000_000).padStart(8, '0');
}

function clientAt(set: DataSet, i: number, n: string): string {
  return set === 'templated' ? `sip:${n}@gw${i % 8}.example.com` : `sip:user${i}@pc${i % 1000}.example.com`;
}

function memory(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function lookupOrder(n: number): Uint32Array {
  const order = new Uint32Array(LOOKUPS);
  let seed = 42;
  for (let i = 0; i < LOOKUPS; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    order[i] = seed % n;
  }
  return order;
}

/** Import the data set as CSV text; in its own frame, so the text is garbage once it returns. */
function importInto(dir: Directory, set: DataSet, numbers: string[]): number {
  const parts: string[] = ['number,client'];
  for (let i = 0; i < numbers.length; i++) parts.push(`${numbers[i]},${clientAt(set, i, numbers[i]!)}`);
  const csv = parts.join('\n');
  parts.length = 0;
  const t0 = performance.now();
  const report = dir.importCsv(csv);
  if (report.imported !== numbers.length) throw new Error(`imported ${report.imported} of ${numbers.length}`);
  return (performance.now() - t0) / 1000;
}

/** One trial in a child process: `index` (the directory) or `map` (the baseline). */
async function child(kind: 'index' | 'map', set: DataSet): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const numbers: string[] = new Array<string>(N);
  for (let i = 0; i < N; i++) numbers[i] = numberAt(i);
  const order = lookupOrder(N);
  const before = memory(gc);
  let lookup: (n: string) => string | undefined;
  let importSeconds = 0;
  let holder: unknown;
  if (kind === 'index') {
    const folder = mkdtempSync(join(tmpdir(), 'switchhook-bench-dir-'));
    const dir = new Directory({ plan, database: join(folder, 'directory.db'), expectedNumbers: N, reapIntervalMs: 0 });
    importSeconds = importInto(dir, set, numbers);
    lookup = (n) => dir.firstClient(n);
    holder = dir;
    process.once('exit', () => {
      dir.close();
      rmSync(folder, { recursive: true, force: true });
    });
  } else {
    // Flat strings, as a loader reading rows from SQLite or a file would hold (no cons strings).
    const flat = (s: string) => Buffer.from(s, 'latin1').toString('latin1');
    const map = new Map<string, string[]>();
    for (let i = 0; i < N; i++) map.set(flat(numberAt(i)), [flat(clientAt(set, i, numbers[i]!))]);
    lookup = (n) => map.get(n)?.[0];
    holder = map;
  }
  const after = memory(gc);
  // Warm up, then time.
  let found = 0;
  for (let i = 0; i < 200_000; i++) if (lookup(numbers[order[i]!]!) !== undefined) found++;
  const rates: number[] = [];
  for (let trial = 0; trial < 3; trial++) {
    const t1 = performance.now();
    for (let i = 0; i < LOOKUPS; i++) if (lookup(numbers[order[i]!]!) !== undefined) found++;
    rates.push(LOOKUPS / ((performance.now() - t1) / 1000));
  }
  if (found !== 3 * LOOKUPS + 200_000) throw new Error('lookup missed');
  rates.sort((a, b) => a - b);
  process.send!({ bytesPerNumber: (after - before) / N, lookupsPerSec: rates[1]!, importSeconds, kept: holder !== undefined });
}

interface ChildResult {
  bytesPerNumber: number;
  lookupsPerSec: number;
  importSeconds: number;
}

function runChild(kind: 'index' | 'map', set: DataSet): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), ['--directory-bench-child', kind, set], { execArgv: ['--max-old-space-size=4096'] });
    let result: ChildResult | undefined;
    c.on('message', (m) => {
      result = m as ChildResult;
      c.kill();
    });
    c.on('exit', (code) => (result ? resolve(result) : reject(new Error(`${kind} child exited ${code}`))));
  });
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function enumNumber(i: number): string {
  return '+4930' + String(10_000_000 + i * 37);
}

async function startDnsmasq(folder: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const lines: string[] = [];
  for (let i = 0; i < ENUM_N; i++) {
    const name = enumNumber(i).slice(1).split('').reverse().join('.') + '.e164.arpa';
    lines.push(i % 4 === 3 ? `naptr-record=${name},10,10,u,E2U+pstn:tel,!(^.*$)!tel:\\1;npdi;rn=+4930999${i % 10}!` : `naptr-record=${name},10,10,u,E2U+sip,!^\\+(.*)$!sip:\\1@site${i % 5}.example.com!`);
  }
  const conf = join(folder, 'enum.conf');
  writeFileSync(conf, lines.join('\n') + '\n');
  const port = await freeUdpPort();
  const child = spawn('dnsmasq', ['--no-daemon', '--no-resolv', '--no-hosts', `--conf-file=${conf}`, `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--local-ttl=3600', '--local=/e164.arpa/', '--dns-forward-max=1000'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const probe = new DnsClient({ servers: [`127.0.0.1:${port}`], timeoutMs: 500, tries: 1 });
  try {
    for (let i = 0; ; i++) {
      try {
        await probe.query('ready.e164.arpa', RrType.NAPTR);
        break;
      } catch (err) {
        if (i > 40 || child.exitCode !== null) throw err;
      }
    }
  } finally {
    probe.close();
  }
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function enumBench(): Promise<{ coldPerSec: number; warmPerSec: number; nodeColdPerSec: number; nodeWarmPerSec: number; errors: number; nodeErrors: number; codes: Record<string, number> }> {
  const folder = mkdtempSync(join(tmpdir(), 'switchhook-bench-enum-'));
  const dns = await startDnsmasq(folder);
  try {
    const numbers = Array.from({ length: ENUM_N }, (_, i) => enumNumber(i));
    const names = numbers.map((n) => n.slice(1).split('').reverse().join('.') + '.e164.arpa');
    const ours = new EnumResolver({ servers: [`127.0.0.1:${dns.port}`], timeoutMs: 2000, tries: 3, cacheSize: 2 * ENUM_N });
    let errors = 0;
    let nodeErrors = 0;
    const codes = new Map<string, number>();
    const timeOurs = async (list: string[]) => {
      const t0 = performance.now();
      await pool(list, 64, async (n) => {
        const r = await ours.lookup(n);
        if (r.status !== 'found') {
          errors++;
          const code = r.status === 'error' ? r.code : r.status;
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      });
      return list.length / ((performance.now() - t0) / 1000);
    };
    const timeNode = async (resolver: Resolver, list: string[]) => {
      const t0 = performance.now();
      await pool(list, 64, async (name) => {
        try {
          await resolver.resolveNaptr(name);
        } catch {
          nodeErrors++;
        }
      });
      return list.length / ((performance.now() - t0) / 1000);
    };
    // Warm-up of both code paths on a slice, then flush.
    await timeOurs(numbers.slice(0, 1000));
    const warmupNode = new Resolver({ timeout: 2000, tries: 3 });
    warmupNode.setServers([`127.0.0.1:${dns.port}`]);
    await timeNode(warmupNode, names.slice(0, 1000));
    const cold: number[] = [];
    const nodeCold: number[] = [];
    let nodeResolver = warmupNode;
    for (let trial = 0; trial < 3; trial++) {
      ours.flush();
      cold.push(await timeOurs(numbers));
      nodeResolver = new Resolver({ timeout: 2000, tries: 3 });
      nodeResolver.setServers([`127.0.0.1:${dns.port}`]);
      nodeCold.push(await timeNode(nodeResolver, names));
    }
    const warmList = Array.from({ length: 20 }, () => numbers).flat();
    await timeOurs(warmList.slice(0, 20_000));
    const warm = await timeOurs(warmList);
    const nodeWarm = await timeNode(nodeResolver, names);
    ours.close();
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    return { coldPerSec: median(cold), warmPerSec: warm, nodeColdPerSec: median(nodeCold), nodeWarmPerSec: nodeWarm, errors, nodeErrors, codes: Object.fromEntries(codes) };
  } finally {
    await dns.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

const round = (x: number, d = 0) => Number(x.toFixed(d));

export default async function run(): Promise<void> {
  const results: Record<string, ChildResult> = {};
  for (const set of ['templated', 'unique'] as const) {
    for (const kind of ['index', 'map'] as const) {
      const r = await runChild(kind, set);
      results[`${kind}-${set}`] = r;
      console.log(`${kind.padEnd(5)} ${set.padEnd(9)} ${N} numbers: ${round(r.bytesPerNumber, 1)} bytes/number, ${round(r.lookupsPerSec)} lookups/s${kind === 'index' ? `, CSV import ${round(r.importSeconds, 2)} s` : ''}`);
    }
  }
  const e = await enumBench();
  console.log(`ENUM (${ENUM_N} NAPTR in dnsmasq): cold ${round(e.coldPerSec)}/s (node resolveNaptr ${round(e.nodeColdPerSec)}/s), warm ${round(e.warmPerSec)}/s (node ${round(e.nodeWarmPerSec)}/s), errors ${e.errors} ${JSON.stringify(e.codes)} (node ${e.nodeErrors})`);
  const ours = results['index-templated']!;
  const base = results['map-templated']!;
  const oursU = results['index-unique']!;
  const baseU = results['map-unique']!;
  console.log(
    JSON.stringify({
      bench: 'directory',
      numbers: N,
      lookupsPerSec: round(ours.lookupsPerSec),
      bytesPerNumber: round(ours.bytesPerNumber, 1),
      importSeconds: round(ours.importSeconds, 2),
      enumColdPerSec: round(e.coldPerSec),
      enumWarmPerSec: round(e.warmPerSec),
      baselineMapLookupsPerSec: round(base.lookupsPerSec),
      baselineMapBytesPerNumber: round(base.bytesPerNumber, 1),
      lookupsRatio: round(ours.lookupsPerSec / base.lookupsPerSec, 2),
      bytesRatio: round(ours.bytesPerNumber / base.bytesPerNumber, 3),
      uniqueUriLookupsPerSec: round(oursU.lookupsPerSec),
      uniqueUriBytesPerNumber: round(oursU.bytesPerNumber, 1),
      baselineMapUniqueUriBytesPerNumber: round(baseU.bytesPerNumber, 1),
      uniqueUriBytesRatio: round(oursU.bytesPerNumber / baseU.bytesPerNumber, 3),
      baselineNodeEnumColdPerSec: round(e.nodeColdPerSec),
      baselineNodeEnumWarmPerSec: round(e.nodeWarmPerSec),
      enumColdRatio: round(e.coldPerSec / e.nodeColdPerSec, 2),
      enumErrors: e.errors,
      baselineNodeEnumErrors: e.nodeErrors,
    }),
  );
}

if (process.argv[2] === '--directory-bench-child') {
  await child(process.argv[3] as 'index' | 'map', process.argv[4] as DataSet);
}
