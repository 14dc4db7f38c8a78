/** Checks the SIP bodies of a loopback capture (test/helpers/capture.ts) with tshark. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

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
