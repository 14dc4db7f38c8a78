import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

import { CtiError, CtiErrorCode } from '../errors.js';
import { adapterProtocolVersion, encodeEnvelope, EnvelopeReader, type AdapterEnvelope, type AdapterSource } from './codec.js';
import { TapiTranslator, type TapiCallStateRecord } from './tapi.js';
import { translateTsapi, type TsapiEventRecord } from './tsapi.js';

/** What the daemon answered to Hello. */
export interface AdapterWelcome {
  protocolVersion: number;
  daemonAddress: string;
  devices: string[];
}

/**
 * The adapter's end of the CTI adapter protocol: connects to the daemon, says Hello, waits for Welcome, then
 * sends events, snapshots and link status.
 */
export class AdapterClient {
  private constructor(
    private readonly socket: Socket,
    readonly welcome: AdapterWelcome,
  ) {}

  /** Connect and complete the Hello/Welcome exchange (rejects on a Failure, a close or after `timeoutMs`). */
  static async connect(host: string, port: number, hello: { adapter: string; source: AdapterSource; devices: string[] }, timeoutMs = 10_000): Promise<AdapterClient> {
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    const reader = new EnvelopeReader();
    try {
      await Promise.race([
        once(socket, 'connect'),
        new Promise((_, reject) => setTimeout(() => reject(new CtiError(CtiErrorCode.Timeout, 'adapter connect timed out')), timeoutMs).unref()),
      ]);
      socket.write(encodeEnvelope({ hello: { ...hello, protocolVersion: adapterProtocolVersion } }));
      const welcome = await new Promise<AdapterWelcome>((resolve, reject) => {
        const timer = setTimeout(() => reject(new CtiError(CtiErrorCode.Timeout, 'no Welcome from the daemon')), timeoutMs);
        const onData = (chunk: Buffer): void => {
          let envs: AdapterEnvelope[];
          try {
            envs = reader.push(chunk);
          } catch (err) {
            finish();
            reject(err);
            return;
          }
          for (const env of envs) {
            finish();
            if (env.welcome) resolve(env.welcome);
            else reject(new CtiError(CtiErrorCode.BringUpRefused, `daemon refused the adapter: ${env.failure?.code ?? 'unexpected answer'} ${env.failure?.message ?? ''}`.trim()));
            return;
          }
        };
        const onClose = (): void => {
          finish();
          reject(new CtiError(CtiErrorCode.Socket, 'daemon closed the connection before Welcome'));
        };
        const finish = (): void => {
          clearTimeout(timer);
          socket.off('data', onData);
          socket.off('close', onClose);
        };
        socket.on('data', onData);
        socket.on('close', onClose);
      });
      socket.on('error', () => undefined);
      return new AdapterClient(socket, welcome);
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  /** Send one envelope. */
  send(envelope: AdapterEnvelope): void {
    this.socket.write(encodeEnvelope(envelope));
  }

  /** Flush what was sent and close the connection. */
  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    this.socket.end();
    await once(this.socket, 'close');
  }
}

/** Counts of a reference adapter run. */
export interface AdapterRunStats {
  lines: number;
  sent: number;
  skipped: Record<string, number>;
  malformed: number;
}

/**
 * The reference adapter: reads TAPI LINE_CALLSTATE records or TSAPI event records, one JSON object per line
 * (docs/cti-adapter.md), translates them and sends them to the daemon. Tells the daemon its PBX link is up
 * first, sends a snapshot of each wanted device, and closes when the input ends.
 */
export async function runReferenceAdapter(client: AdapterClient, source: 'tapi' | 'tsapi', input: Readable, onError?: (line: number, message: string) => void): Promise<AdapterRunStats> {
  const stats: AdapterRunStats = { lines: 0, sent: 0, skipped: {}, malformed: 0 };
  const tapi = new TapiTranslator();
  client.send({ link: { up: true, reason: '' } });
  for (const device of client.welcome.devices) client.send({ snapshot: { device, calls: tapi.callsOf(device) } });
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    stats.lines++;
    if (line.trim() === '') continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
      if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new Error('not a JSON object');
    } catch (err) {
      stats.malformed++;
      onError?.(stats.lines, (err as Error).message);
      continue;
    }
    const ev = source === 'tapi' ? tapi.translate(rec as TapiCallStateRecord) : translateTsapi(rec as TsapiEventRecord);
    if (typeof ev === 'string') {
      stats.skipped[ev] = (stats.skipped[ev] ?? 0) + 1;
      continue;
    }
    client.send({ event: ev });
    stats.sent++;
  }
  return stats;
}
