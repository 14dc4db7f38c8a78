/** Runs sipp (Debian sip-tester) as a child process with bounded time, and probes free ports. */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port free for both UDP and TCP on 127.0.0.1. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port');
}

export interface SippRun {
  /** Resolves with the exit code and the error log when sipp exits. */
  done: Promise<{ code: number | null; errors: string }>;
  /** Stops sipp (by its PID) if still running. */
  stop(): void;
}

/** Starts sipp with the given arguments, non-interactive, with a global timeout. */
export function runSipp(args: string[], timeoutSeconds = 60): SippRun {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const child = spawn('sipp', [...args, '-nostdin', '-timeout', `${timeoutSeconds}s`, '-timeout_error', '-trace_err'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; errors: string }>((resolve) => {
    child.on('exit', (code) => {
      let errors = stderr;
      for (const f of readdirSync(dir)) if (f.endsWith('.log')) errors += readFileSync(join(dir, f), 'utf8');
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, errors });
    });
  });
  return {
    done,
    stop: () => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    },
  };
}
