/**
 * `npm run bench -- sip-transactions`: sipp sends MESSAGE over UDP (from test/fixtures/sipp/message.xml) to a
 * SipStack in a separate process at rising rates; the highest rate held for 10 s with no failed transaction
 * is the result (when even the first step cannot keep pace on a loaded machine, the best zero-failure
 * throughput is reported instead). Baseline in the same run: Kamailio answering the same MESSAGEs statefully with tm
 * (`t_newtran(); t_reply("200","OK")`, benchmarks/sip/kamailio-message.cfg). Last line: one JSON object.
 * Options: `--rates 2000,5000,...` `--seconds 10`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { packageRoot } from '../../src/util/package-root.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = packageRoot();
const scenario = join(root, 'test/fixtures/sipp/message.xml');
const kamailioCfg = join(root, 'benchmarks/sip/kamailio-message.cfg');

interface Step {
  rate: number;
  ok: number;
  failed: number;
  elapsedSec: number;
  /** Transactions completed per second over the run (sipp's elapsed time, so it includes the drain). */
  achieved: number;
  held: boolean;
}

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function waitExit(c: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    const t = setTimeout(() => {
      if (c.pid) process.kill(c.pid, 'SIGKILL');
      resolve();
    }, ms);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** One sipp run at `rate` for `seconds`; returns its counters from the -trace_stat CSV. */
async function sippStep(target: string, rate: number, seconds: number): Promise<Step> {
  const dir = mkdtempSync(join(tmpdir(), 'sh-bench-'));
  const stats = join(dir, 'stats.csv');
  const total = rate * seconds;
  const child = spawn(
    'sipp',
    ['-sf', scenario, '-i', '127.0.0.1', '-buff_size', '4194304', '-r', String(rate), '-rp', '1000', '-m', String(total),
      '-l', String(Math.max(1000, rate * 4)), '-max_recv_loops', '2000', '-max_sched_loops', '2000',
      '-nostdin', '-trace_stat', '-stf', stats, '-fd', '1', '-timeout', `${seconds + 40}s`, target],
    { cwd: dir, stdio: 'ignore' },
  );
  await waitExit(child, (seconds + 60) * 1000);
  let ok = 0;
  let failed = total;
  let elapsedSec = Infinity;
  if (existsSync(stats)) {
    const lines = readFileSync(stats, 'utf8').trim().split('\n');
    const head = lines[0]!.split(';');
    const last = lines.at(-1)!.split(';');
    const col = (name: string) => last[head.indexOf(name)] ?? '';
    ok = Number(col('SuccessfulCall(C)'));
    failed = Number(col('FailedCall(C)')) + (total - ok - Number(col('FailedCall(C)')));
    const [h, m, s] = col('ElapsedTime(C)').split(':').map(Number);
    elapsedSec = (h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0);
  }
  rmSync(dir, { recursive: true, force: true });
  const achieved = elapsedSec > 0 && Number.isFinite(elapsedSec) ? Math.round(ok / elapsedSec) : 0;
  // Held: every transaction answered, and the run kept at least 90% of the offered rate end to end.
  const held = failed === 0 && ok === total && achieved >= rate * 0.9;
  return { rate, ok, failed, elapsedSec, achieved, held };
}

async function ramp(name: string, target: string, rates: number[], seconds: number): Promise<Step[]> {
  const steps: Step[] = [];
  // Warm-up: a short run at the lowest rate (JIT, socket buffers).
  await sippStep(target, Math.min(1000, rates[0]!), 2);
  for (const rate of rates) {
    const s = await sippStep(target, rate, seconds);
    steps.push(s);
    process.stdout.write(`${name}: offered ${rate}/s -> ok ${s.ok} failed ${s.failed} in ${s.elapsedSec}s (${s.achieved}/s) ${s.held ? 'held' : 'NOT held'}\n`);
    if (!s.held) break;
  }
  return steps;
}

/** The highest offered rate held (0 failed, pace kept); when none was held, the best zero-failure throughput. */
function best(steps: Step[]): { rate: number; failed: number } {
  const held = steps.filter((s) => s.held);
  if (held.length > 0) return { rate: held.at(-1)!.rate, failed: 0 };
  const clean = steps.filter((s) => s.failed === 0);
  if (clean.length > 0) return { rate: Math.max(...clean.map((s) => s.achieved)), failed: 0 };
  return { rate: 0, failed: steps[0]?.failed ?? 0 };
}

async function startStack(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(here, 'stack-server.js'), '0'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SWITCHHOOK_LOG: 'warn' } });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`stack exited ${code}`)));
  });
  return { child, port };
}

async function startKamailio(): Promise<{ child: ChildProcess; port: number; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sh-kam-'));
  const child = spawn(
    'kamailio',
    ['-f', kamailioCfg, '-DD', '-E', '-m', '2048', '-M', '64', '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-l', `udp:127.0.0.1:${port}`, '-n', '2'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // Ready when it answers (an OPTIONS probe gets 405 from the cfg).
  const probe = createSocket('udp4');
  const ready = await new Promise<boolean>((resolve) => {
    const deadline = Date.now() + 20_000;
    let settled = false;
    const finish = (v: boolean): void => {
      settled = true;
      resolve(v);
    };
    probe.on('message', () => finish(true));
    const tick = (): void => {
      if (settled) return;
      if (Date.now() > deadline || child.exitCode !== null) return finish(false);
      const msg = `OPTIONS sip:probe@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${(probe.address() as { port: number }).port};branch=z9hG4bKprobe${Date.now()}\r\nFrom: <sip:b@x>;tag=1\r\nTo: <sip:p@x>\r\nCall-ID: probe${Date.now()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
      probe.send(msg, port, '127.0.0.1');
      setTimeout(tick, 200);
    };
    probe.bind(0, '127.0.0.1', tick);
  });
  probe.close();
  if (!ready) throw new Error(`kamailio did not start: ${err.slice(-500)}`);
  return { child, port, dir };
}

export default async function main(args: string[]): Promise<void> {
  const opt = (name: string, def: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : def;
  };
  const rates = opt('rates', '2000,4000,6000,8000,10000,15000,20000,25000,30000').split(',').map(Number);
  const seconds = Number(opt('seconds', '10'));

  const stack = await startStack();
  let ours: Step[];
  try {
    ours = await ramp('switchhook', `127.0.0.1:${stack.port}`, rates, seconds);
  } finally {
    stack.child.kill('SIGTERM');
    await waitExit(stack.child, 5000);
  }

  const kam = await startKamailio();
  let theirs: Step[];
  try {
    theirs = await ramp('kamailio', `127.0.0.1:${kam.port}`, rates, seconds);
  } finally {
    kam.child.kill('SIGTERM');
    await waitExit(kam.child, 10_000);
    rmSync(kam.dir, { recursive: true, force: true });
  }

  const a = best(ours);
  const b = best(theirs);
  process.stdout.write(
    JSON.stringify({
      bench: 'sip-transactions',
      transactionsPerSec: a.rate,
      failed: a.failed,
      kamailioTransactionsPerSec: b.rate,
      ratio: b.rate > 0 ? Number((a.rate / b.rate).toFixed(3)) : null,
    }) + '\n',
  );
}
