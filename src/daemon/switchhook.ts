import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';

import { AdapterServer } from '../cti/adapter/index.js';
import { BringUpVariant, CstaEdition, CtiLink, LinkState, type LinkDownInfo } from '../cti/index.js';
import { bindLinkToModel, PbxModel, type DeviceChange, type DeviceSnapshot } from '../model/index.js';
import { SqliteStore, type Store } from '../store/index.js';
import { HttpProblem, JsonHttpServer } from '../util/http.js';
import { createLogger, setLogLevel } from '../util/log.js';
import { MetricsRegistry } from '../util/metrics.js';
import { expandExtensions } from '../util/extensions.js';
import type { SwitchhookConfig } from './config.js';

const log = createLogger('daemon');

/** Events of a running daemon. */
export interface SwitchhookEvents {
  /** A monitored device changed (hook state or calls). */
  device: [change: DeviceChange];
  /** The CTI link came up (every device monitored and resynced). */
  linkUp: [];
  /** The CTI link dropped; every device is `unknown` until it is back. */
  linkDown: [info: LinkDownInfo];
}

/** Where a started daemon listens. */
export interface SwitchhookAddresses {
  admin?: AddressInfo;
  /** Where TAPI/TSAPI adapters connect (`cti.protocol: adapter`). */
  adapter?: AddressInfo;
}

/** Daemon lifecycle states. */
export enum DaemonState {
  Created = 'created',
  Starting = 'starting',
  Running = 'running',
  Stopping = 'stopping',
  Stopped = 'stopped',
}

/**
 * The switchhook daemon as a library: the embedding API vendors use and the `switchhook start` command is
 * built on. It owns the CTI link and the device model, the store and the admin HTTP listener.
 */
export class Switchhook extends EventEmitter<SwitchhookEvents> {
  readonly metrics: MetricsRegistry;
  readonly model: PbxModel;
  private link: CtiLink | undefined;
  private adapterServer: AdapterServer | undefined;
  private unbindModel: (() => void) | undefined;
  private admin: JsonHttpServer | undefined;
  private storeInstance: Store | undefined;
  private lifecycle = DaemonState.Created;
  private readonly startedAt = Date.now();
  private addresses: SwitchhookAddresses = {};

  constructor(
    readonly config: SwitchhookConfig,
    opts: { metrics?: MetricsRegistry } = {},
  ) {
    super();
    this.metrics = opts.metrics ?? new MetricsRegistry();
    this.model = new PbxModel({ metrics: this.metrics });
    this.model.onChange((change) => this.emit('device', change));
  }

  /** Lifecycle state. */
  get state(): DaemonState {
    return this.lifecycle;
  }

  /** The CSTA link, for call control services (MakeCall, HoldCall, ...). Throws when there is none. */
  get cti(): CtiLink {
    if (!this.link) {
      const detail = this.adapterServer ? 'call control is not available through a TAPI/TSAPI adapter' : 'this daemon runs without a CTI link';
      throw new HttpProblem(409, 'No CTI Link', detail, { code: 'CTI_ERR_NOT_CONFIGURED' });
    }
    return this.link;
  }

  /** The state of the CTI source: the CSTA link's state, `up`/`down` for an adapter, `none` without one. */
  get ctiState(): string {
    if (this.link) return this.link.state;
    if (this.adapterServer) return this.adapterServer.isUp ? LinkState.Up : 'down';
    return 'none';
  }

  /** The durable store (SQLite under the data folder), once started. */
  get store(): Store {
    if (!this.storeInstance) throw new Error('daemon not started');
    return this.storeInstance;
  }

  /** Every monitored device and its current state. */
  devices(): DeviceSnapshot[] {
    return this.model.devices();
  }

  /** Where the daemon listens, once started. */
  get address(): SwitchhookAddresses {
    return this.addresses;
  }

  /** Open the store, start the admin listener and the CTI link. Resolves once listeners are bound. */
  async start(): Promise<SwitchhookAddresses> {
    if (this.lifecycle !== DaemonState.Created) throw new Error(`cannot start a daemon that is ${this.lifecycle}`);
    this.lifecycle = DaemonState.Starting;
    setLogLevel(this.config.log);
    try {
      this.storeInstance = new SqliteStore(this.config.data);
      if (this.config.admin) {
        this.admin = this.buildAdmin();
        this.addresses.admin = await this.admin.listen(this.config.admin.host, this.config.admin.port);
        log.info(`admin API on http://${this.addresses.admin.address}:${this.addresses.admin.port}`);
      }
      const cti = this.config.cti;
      if (cti?.protocol === 'adapter') await this.startAdapterServer(cti);
      else if (cti) this.startCti(cti);
      else log.info('no CTI link configured: SIP-only daemon');
      this.lifecycle = DaemonState.Running;
      return this.addresses;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stop everything the daemon started; safe to call twice. */
  async stop(): Promise<void> {
    if (this.lifecycle === DaemonState.Stopped || this.lifecycle === DaemonState.Stopping) return;
    this.lifecycle = DaemonState.Stopping;
    this.unbindModel?.();
    this.unbindModel = undefined;
    await this.link?.stop();
    this.link = undefined;
    await this.adapterServer?.close();
    this.adapterServer = undefined;
    await this.admin?.close();
    this.admin = undefined;
    await this.storeInstance?.close();
    this.lifecycle = DaemonState.Stopped;
  }

  /** Resolves when the CTI source is up (all devices monitored and resynced), or rejects after `timeoutMs`. */
  async whenLinkUp(timeoutMs = 30_000): Promise<void> {
    if (!this.link && !this.adapterServer) throw new HttpProblem(409, 'No CTI Link', 'this daemon runs without a CTI link', { code: 'CTI_ERR_NOT_CONFIGURED' });
    if (this.ctiState === LinkState.Up) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('linkUp', onUp);
        reject(new Error(`CTI link not up within ${timeoutMs} ms`));
      }, timeoutMs);
      const onUp = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.once('linkUp', onUp);
    });
  }

  private async startAdapterServer(cti: NonNullable<SwitchhookConfig['cti']>): Promise<void> {
    const server = new AdapterServer({
      host: cti.host,
      port: cti.port,
      devices: expandExtensions(cti.devices),
      daemonAddress: this.ownAddress(),
      metrics: this.metrics,
    });
    this.adapterServer = server;
    this.unbindModel = bindLinkToModel(server, this.model);
    server.on('up', () => {
      log.info('CTI adapter up: events flow');
      this.emit('linkUp');
    });
    server.on('down', (info) => {
      log.warn(`CTI adapter down: ${info.reason.code}: ${info.reason.message}`);
      this.emit('linkDown', info);
    });
    this.addresses.adapter = await server.listen();
    log.info(`waiting for a TAPI/TSAPI adapter on ${this.addresses.adapter.address}:${this.addresses.adapter.port}`);
  }

  private startCti(cti: NonNullable<SwitchhookConfig['cti']>): void {
    const devices = expandExtensions(cti.devices);
    const link = new CtiLink({
      host: cti.host,
      port: cti.port,
      tls: cti.tls,
      devices,
      bringUp: cti.bringUp as BringUpVariant,
      edition: cti.edition as CstaEdition,
      registration: { address: this.ownAddress(), applicationId: 'switchhook' },
      requestTimeoutMs: cti.requestTimeoutMs,
      heartbeatIntervalMs: cti.heartbeatSeconds * 1000,
      backoff: { initialMs: cti.reconnectMinMs, maxMs: cti.reconnectMaxMs },
      metrics: this.metrics,
    });
    this.link = link;
    this.unbindModel = bindLinkToModel(link, this.model);
    link.on('up', () => {
      log.info(`CTI link up: ${devices.length} devices monitored on ${cti.host}:${cti.port}`);
      this.emit('linkUp');
    });
    link.on('down', (info) => {
      log.warn(`CTI link down: ${info.reason.code}: ${info.reason.message}${info.retryInMs !== undefined ? `; retry in ${info.retryInMs} ms` : ''}`);
      this.emit('linkDown', info);
    });
    link.on('deviceFailed', (device, err) => log.warn(`device ${device} not monitored: ${err.code}: ${err.message}`));
    link.start();
  }

  /**
   * The address the daemon gives the PBX at registration (claim 9): its first SIP listener, else its admin
   * listener, else the host name.
   */
  private ownAddress(): string {
    const sip = this.config.sip.listen[0];
    if (sip) return `sip:switchhook@${sip.host}:${sip.port};transport=${sip.protocol}`;
    if (this.addresses.admin) return `http://${this.addresses.admin.address}:${this.addresses.admin.port}`;
    return hostname();
  }

  private buildAdmin(): JsonHttpServer {
    return new JsonHttpServer('admin', this.metrics)
      .route('GET', '/healthz', () => ({
        json: {
          status: this.ctiState !== 'none' && this.ctiState !== LinkState.Up ? 'degraded' : 'ok',
          state: this.lifecycle,
          cti: this.ctiState,
          uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
        },
      }))
      .route('GET', '/api/devices', () => ({ json: this.model.devices() }))
      .route('GET', '/api/devices/:device', (req) => {
        const device = this.model.device(req.params['device']!);
        if (!device) throw new HttpProblem(404, 'Not Found', `device ${req.params['device']} is not monitored`);
        return { json: device };
      })
      .route('GET', '/metrics', () => ({ text: this.metrics.render(), contentType: 'text/plain; version=0.0.4' }));
  }
}
