/** Records loopback traffic with dumpcap (tshark's capture engine) and checks SIP bodies with tshark. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

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

/** One SIP request as tshark decoded it: frame, method, Content-Type, malformed and expert fields. */
export interface DecodedRequest {
  frame: number;
  method: string;
  contentType: string;
  malformed: string;
  expert: string;
}

/** Decode the SIP requests of `methods` in a capture (SIP forced on `ports`). */
export async function decodeSip(file: string, ports: number[], methods: string[]): Promise<DecodedRequest[]> {
  const filter = methods.map((m) => `sip.Method == "${m}"`).join(' || ');
  const { stdout } = await run('tshark', [
    '-r', file, ...ports.flatMap((p) => ['-d', `udp.port==${p},sip`]), '-Y', filter, '-T', 'fields', '-E', 'separator=|',
    '-e', 'frame.number', '-e', 'sip.Method', '-e', 'sip.Content-Type', '-e', '_ws.malformed', '-e', '_ws.expert',
  ], { maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [frame, method, contentType, malformed, expert] = line.split('|');
      return { frame: Number(frame), method: method ?? '', contentType: contentType ?? '', malformed: malformed ?? '', expert: expert ?? '' };
    });
}
