/** Helpers to run sipp on loopback in tests: bounded runs, traces, cleanup by PID (free ports: test/helpers/peers.ts). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PeerRun {
  code: number | null;
  stdout: string;
  stderr: string;
  dir: string;
  messages: string;
}

const running = new Set<ChildProcess>();

/** Kill every peer still running (by PID). */
export function killPeers(): void {
  for (const c of running) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
  running.clear();
}

/**
 * Run sipp to completion with a message trace; resolves with its exit code (0: every call succeeded) and
 * the trace. `timeoutSec` bounds it (sipp's own -timeout, plus a kill as a last resort).
 */
export function runSipp(args: string[], timeoutSec = 30): { done: Promise<PeerRun>; child: ChildProcess } {
  const dir = mkdtempSync(join(tmpdir(), 'sh-sipp-'));
  const messagesFile = join(dir, 'messages.log');
  const child = spawn('sipp', [...args, '-nostdin', '-trace_msg', '-message_file', messagesFile, '-trace_err', '-error_file', join(dir, 'errors.log'), '-timeout', `${timeoutSec}s`, '-timeout_error'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), (timeoutSec + 15) * 1000);
  const done = new Promise<PeerRun>((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(killer);
      running.delete(child);
      const messages = existsSync(messagesFile) ? readFileSync(messagesFile, 'utf8') : '';
      const errors = existsSync(join(dir, 'errors.log')) ? readFileSync(join(dir, 'errors.log'), 'utf8') : '';
      resolve({ code, stdout, stderr: stderr + errors, dir, messages });
    });
  });
  return { done, child };
}

/** The fixtures folder. */
export const fixtures = new URL('../../fixtures/sipp/', import.meta.url).pathname;
