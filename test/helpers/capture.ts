/** Loopback captures with dumpcap (tshark's capture engine), and what tshark reads back from them. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** A running capture; `stop()` ends it (SIGINT, by PID) and resolves once the file is complete. */
export interface Capture {
  stop(): Promise<void>;
}

/** Start dumpcap on `lo` with a capture filter; resolves once it is capturing, or undefined if it cannot. */
export async function startCapture(filter: string, file: string): Promise<Capture | undefined> {
  let proc: ChildProcess;
  try {
    proc = spawn('dumpcap', ['-q', '-i', 'lo', '-B', '64', '-f', filter, '-w', file, '-P'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    return undefined;
  }
  let err = '';
  const started = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 20_000);
    proc.on('error', () => resolve(false));
    proc.on('exit', () => resolve(false));
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/Capturing on/.test(err)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      process.kill(proc.pid!, 'SIGINT');
    });
  if (!started) {
    await stop();
    return undefined;
  }
  return { stop };
}

/** Like {@link startCapture}, but a capture that cannot start fails the test; it stops at teardown. */
export async function requireCapture(t: { teardown(fn: () => unknown): void }, filter: string, file: string): Promise<Capture> {
  const capture = await startCapture(filter, file);
  if (!capture) throw new Error(`dumpcap could not capture '${filter}' on lo`);
  t.teardown(() => capture.stop());
  return capture;
}

/** One RTP stream towards `port` in a capture, as tshark decodes it. */
export interface RtpStreamFacts {
  packets: number;
  ssrcs: number;
  /** Sequence numbers skipped (a lost or missing packet each). */
  gaps: number;
  /** Sequence numbers that went back. */
  backwards: number;
  /** Packets whose timestamp did not advance. */
  stalled: number;
}

/** Decode UDP to `port` in `file` as RTP and check its continuity (RFC 3550 sequence numbers and timestamps). */
export function rtpStreamTo(file: string, port: number): RtpStreamFacts {
  const fields = spawnSync('tshark', ['-r', file, '-d', `udp.port==${port},rtp`, '-Y', `udp.dstport==${port}`, '-T', 'fields', '-e', 'rtp.ssrc', '-e', 'rtp.seq', '-e', 'rtp.timestamp'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const rows = fields.stdout.trim().split('\n').filter((l) => l !== '').map((l) => l.split('\t').map(Number));
  const facts: RtpStreamFacts = { packets: rows.length, ssrcs: new Set(rows.map((r) => r[0])).size, gaps: 0, backwards: 0, stalled: 0 };
  for (let i = 1; i < rows.length; i++) {
    const d = (rows[i]![1]! - rows[i - 1]![1]! - 1) & 0xffff;
    if (d >= 0x8000) facts.backwards++;
    else facts.gaps += d;
    const dt = (rows[i]![2]! - rows[i - 1]![2]!) >>> 0;
    if (dt === 0 || dt >= 0x80000000) facts.stalled++;
  }
  return facts;
}
