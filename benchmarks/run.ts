/**
 * `npm run bench -- NAME [args]`: runs the benchmark `benchmarks/**\/NAME.bench.ts` (compiled into dist/).
 * Each benchmark module's default export runs its trials (warming up first, its baseline in the same run)
 * and prints one JSON line last. With no NAME, lists the benchmarks.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function findBenchmarks(): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of readdirSync(here, { recursive: true, encoding: 'utf8' })) {
    const m = /([^/]+)\.bench\.js$/.exec(entry);
    if (m) found.set(m[1]!, join(here, entry));
  }
  return found;
}

const [name, ...args] = process.argv.slice(2);
const benches = findBenchmarks();
if (!name) {
  for (const [n, file] of [...benches].sort()) console.log(`${n}\t${relative(here, file)}`);
  process.exit(0);
}
const file = benches.get(name);
if (!file) {
  console.error(`unknown benchmark '${name}'; known: ${[...benches.keys()].sort().join(', ') || 'none'}`);
  process.exit(2);
}
const mod = (await import(pathToFileURL(file).href)) as { default: (args: string[]) => Promise<void> };
await mod.default(args);
