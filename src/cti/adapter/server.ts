import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

import { createLogger } from '../../util/log.js';
import { MetricsRegistry, type Counter } from '../../util/metrics.js';
import { CtiError, CtiErrorCode } from '../errors.js';
import type { CstaEvent } from '../events.js';
import type { LinkDownInfo } from '../link.js';
import type { SnapshotCall } from '../snapshot.js';
import { adapterProtocolVersion, encodeEnvelope, EnvelopeReader, type AdapterEnvelope } from './codec.js';
import { toCstaEvent, toSnapshotCalls } from './convert.js';

const log = createLogger('cti.adapter');

/** Options of {@link AdapterServer}. */
export interface AdapterServerOptions {
  readonly host: string;
  readonly port: number;
  /** Devices the daemon wants events for (sent in Welcome; events for others are counted and dropped). */
  readonly devices: readonly string[];
  /** The daemon's own network address, told to the adapter in Welcome (claim 9). */
  readonly daemonAddress: string;
  /** Close an adapter that sent nothing (not even a heartbeat) for this long, ms (default 90,000). */
  readonly idleTimeoutMs?: number;
  readonly metrics?: MetricsRegistry;
}

/** Events of {@link AdapterServer}: the same surface as the CSTA link, so the model binds to either. */
export interface AdapterServerEvents {
  up: [];
  down: [info: LinkDownInfo];
  event: [device: string, event: CstaEvent];
  snapshot: [device: string, calls: SnapshotCall[]];
}

/** Adapter session states. */
enum AdapterState {
  /** Connected, waiting for Hello. */
  AwaitingHello = 'awaitingHello',
  /** Welcomed; events flow. */
  Active = 'active',
  Closed = 'closed',
}

/**
 * The daemon's end of the CTI adapter protocol (proto/cti_adapter.proto, docs/cti-adapter.md): a TAPI or
 * TSAPI bridge, or a CTI server (claim 7), connects and streams normalised events. One adapter is active at
 * a time; another connecting meanwhile is refused with a Failure. While no adapter is active, or the active
 * one reports its PBX link down, every device is `unknown`.
 */
export class AdapterServer extends EventEmitter<AdapterServerEvents> {
  private server: Server | undefined;
  private active: { socket: Socket; state: AdapterState; idle: NodeJS.Timeout | undefined; pbxUp: boolean } | undefined;
  private readonly wanted: ReadonlySet<string>;
  private readonly received: Counter;
  private readonly errors: Counter;

  constructor(private readonly opts: AdapterServerOptions) {
    super();
    this.wanted = new Set(opts.devices);
    const metrics = opts.metrics ?? new MetricsRegistry();
    this.received = metrics.counter('switchhook_cti_adapter_envelopes_total', 'Envelopes received from CTI adapters, by body.');
    this.errors = metrics.counter('switchhook_cti_adapter_errors_total', 'CTI adapter input refused, by reason.');
  }

  /** The devices whose events the daemon uses. */
  get monitoredDevices(): readonly string[] {
    return this.opts.devices;
  }

  /** True while an adapter is active and its PBX link is up. */
  get isUp(): boolean {
    return this.active?.state === AdapterState.Active && this.active.pbxUp;
  }

  /** Start listening for adapters. */
  async listen(): Promise<AddressInfo> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /** Close the listener and the active adapter. */
  async close(): Promise<void> {
    if (this.active) this.drop(new CtiError(CtiErrorCode.Stopped, 'daemon stopping'), false);
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    if (this.active) {
      this.errors.inc({ reason: 'busy' });
      socket.on('error', () => undefined);
      socket.end(encodeEnvelope({ failure: { code: 'CTI_ERR_ADAPTER_BUSY', message: 'another adapter is active' } }));
      // Read (and discard) until the peer's FIN, so the half-closed socket finishes closing.
      socket.resume();
      return;
    }
    const session = { socket, state: AdapterState.AwaitingHello, idle: undefined as NodeJS.Timeout | undefined, pbxUp: false };
    this.active = session;
    const reader = new EnvelopeReader();
    this.touch();
    socket.on('data', (chunk: Buffer) => {
      if (this.active !== session) return;
      this.touch();
      let envelopes: AdapterEnvelope[];
      try {
        envelopes = reader.push(chunk);
      } catch (err) {
        this.fail(err as CtiError);
        return;
      }
      for (const env of envelopes) {
        if (this.active !== session) return;
        this.handle(env);
      }
    });
    socket.on('error', (err) => log.debug(`adapter socket: ${err.message}`));
    socket.on('close', () => {
      if (this.active === session) this.drop(new CtiError(CtiErrorCode.Socket, 'adapter disconnected'), false);
    });
  }

  private touch(): void {
    const session = this.active;
    if (!session) return;
    if (session.idle) clearTimeout(session.idle);
    session.idle = setTimeout(() => this.fail(new CtiError(CtiErrorCode.HeartbeatLost, 'adapter silent for too long')), this.opts.idleTimeoutMs ?? 90_000);
  }

  private handle(env: AdapterEnvelope): void {
    const session = this.active!;
    const body = Object.keys(env)[0]!;
    this.received.inc({ body });
    if (session.state === AdapterState.AwaitingHello) {
      if (!env.hello) return this.fail(new CtiError(CtiErrorCode.AdapterProtocol, `adapter sent ${body} before hello`));
      if (env.hello.protocolVersion !== adapterProtocolVersion) {
        return this.fail(new CtiError(CtiErrorCode.AdapterProtocol, `adapter speaks protocol version ${env.hello.protocolVersion}, not ${adapterProtocolVersion}`));
      }
      session.state = AdapterState.Active;
      session.socket.write(
        encodeEnvelope({ welcome: { protocolVersion: adapterProtocolVersion, daemonAddress: this.opts.daemonAddress, devices: [...this.opts.devices] } }),
      );
      log.info(`adapter '${env.hello.adapter}' (${env.hello.source}) connected from ${session.socket.remoteAddress}:${session.socket.remotePort}`);
      return;
    }
    if (env.event) {
      const ev = env.event;
      if (!this.wanted.has(ev.device)) return void this.errors.inc({ reason: 'unknownDevice' });
      const normalised = toCstaEvent(ev);
      if (typeof normalised === 'string') return void this.errors.inc({ reason: normalised });
      this.emit('event', ev.device, normalised);
    } else if (env.snapshot) {
      if (!this.wanted.has(env.snapshot.device)) return void this.errors.inc({ reason: 'unknownDevice' });
      this.emit('snapshot', env.snapshot.device, toSnapshotCalls(env.snapshot.device, env.snapshot.calls));
    } else if (env.link) {
      this.setPbxUp(env.link.up, env.link.reason);
    } else if (env.heartbeat) {
      session.socket.write(encodeEnvelope({ heartbeat: { sentMs: Date.now() } }));
    } else {
      this.fail(new CtiError(CtiErrorCode.AdapterProtocol, `adapter sent unexpected ${body}`));
    }
  }

  private setPbxUp(up: boolean, reason: string): void {
    const session = this.active!;
    if (session.pbxUp === up) return;
    session.pbxUp = up;
    if (up) this.emit('up');
    else this.emit('down', { reason: new CtiError(CtiErrorCode.LinkDown, `adapter's PBX link down${reason ? ': ' + reason : ''}`) });
  }

  private fail(err: CtiError): void {
    this.errors.inc({ reason: err.code });
    log.warn(`adapter closed: ${err.code}: ${err.message}`);
    this.drop(err, true);
  }

  private drop(reason: CtiError, tell: boolean): void {
    const session = this.active;
    if (!session) return;
    this.active = undefined;
    if (session.idle) clearTimeout(session.idle);
    const wasUp = session.pbxUp;
    session.state = AdapterState.Closed;
    if (tell && !session.socket.destroyed) session.socket.end(encodeEnvelope({ failure: { code: reason.code, message: reason.message } }));
    else session.socket.destroy();
    if (wasUp) this.emit('down', { reason });
  }
}
