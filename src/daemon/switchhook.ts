import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { CallControl, OwnershipTable, RequesterKind, registerCallControlRoutes } from '../calls/control/index.js';
import { RoutingService, RoutingTable, type IncomingCall } from '../calls/routing/index.js';
import { ComputerInterfaces, ConcurrentSessions } from '../calls/sessions/index.js';
import { SoftphoneTransfer } from '../calls/transfer/index.js';
import { ReferTransfers, UaCstaServer } from '../calls/uacsta/index.js';
import { AdapterServer } from '../cti/adapter/index.js';
import { BringUpVariant, CstaEdition, CtiLink, LinkState, type LinkDownInfo } from '../cti/index.js';
import { Directory, EnumResolver, OriginationRouter, registerDirectoryRoutes, ServiceNode } from '../directory/index.js';
import { RtpEngine } from '../media/index.js';
import { MsrpRelay } from '../media/msrp/index.js';
import { bindLinkToModel, PbxModel, type DeviceChange, type DeviceSnapshot } from '../model/index.js';
import { PhonePresenceState } from '../presence/phone-state.js';
import { PresenceService } from '../presence/index.js';
import { Registrar } from '../sip/registrar/index.js';
import { systemClock } from '../sip/transaction/clock.js';
import type { BoundAddress } from '../sip/transport/index.js';
import { SipStack } from '../sip/ua/index.js';
import { RedisStore, SqliteStore, type Store } from '../store/index.js';
import { HttpProblem, JsonHttpServer, type HttpRequest } from '../util/http.js';
import { createLogger, setLogLevel } from '../util/log.js';
import { MetricsRegistry } from '../util/metrics.js';
import { expandExtensions } from '../util/extensions.js';
import { ConfigError, type AdminToken, type SwitchhookConfig } from './config.js';
import { PersistedLocationStore } from './persisted-locations.js';

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
  /** SIP listeners, with the ports actually bound. */
  sip?: BoundAddress[];
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
  private sipStack: SipStack | undefined;
  private presenceService: PresenceService | undefined;
  private registrarInstance: Registrar | undefined;
  private locations: PersistedLocationStore | undefined;
  private callControlInstance: CallControl | undefined;
  private uacsta: UaCstaServer | undefined;
  private rtpEngine: RtpEngine | undefined;
  private softphoneTransfer: SoftphoneTransfer | undefined;
  private routingTable: RoutingTable | undefined;
  private routingService: RoutingService | undefined;
  private msrpRelay: MsrpRelay | undefined;
  private sessionsInstance: ConcurrentSessions | undefined;
  private directoryInstance: Directory | undefined;
  private enumResolver: EnumResolver | undefined;
  private serviceNodeInstance: ServiceNode | undefined;
  private readonly unbinds: Array<() => void> = [];
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

  /** The durable store (SQLite under the data folder, or the cluster's Redis), once started. */
  get store(): Store {
    if (!this.storeInstance) throw new Error('daemon not started');
    return this.storeInstance;
  }

  /** The SIP stack, when the daemon has SIP listeners. */
  get sip(): SipStack | undefined {
    return this.sipStack;
  }

  /** The presence service (subscriptions, NOTIFY and MESSAGE fan-out), when the daemon has SIP listeners. */
  get presence(): PresenceService | undefined {
    return this.presenceService;
  }

  /** The SIP registrar (location service of desktop clients and softphones), when the daemon has SIP listeners. */
  get registrar(): Registrar | undefined {
    return this.registrarInstance;
  }

  /** Call control services for users' phones (configured with `callControl`). */
  get callControl(): CallControl | undefined {
    return this.callControlInstance;
  }

  /** Desk phone / softphone transfers (configured with `transfers`). */
  get transfers(): SoftphoneTransfer | undefined {
    return this.softphoneTransfer;
  }

  /** Users' call routing rules (stored; edited with `switchhook route` or the admin API). */
  get routing(): RoutingTable | undefined {
    return this.routingTable;
  }

  /** Concurrent media sessions between computer interfaces (configured with `sessions`). */
  get sessions(): ConcurrentSessions | undefined {
    return this.sessionsInstance;
  }

  /** The service node's directory (configured with `serviceNode`). */
  get directory(): Directory | undefined {
    return this.directoryInstance;
  }

  /** The service node (configured with `serviceNode`). */
  get serviceNode(): ServiceNode | undefined {
    return this.serviceNodeInstance;
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
      const store = this.config.store;
      this.storeInstance = store.kind === 'redis' ? await new RedisStore(store.url, store.prefix).open() : new SqliteStore(this.config.data);
      if (this.config.admin) {
        this.admin = this.buildAdmin(this.config.admin);
        this.addresses.admin = await this.admin.listen(this.config.admin.host, this.config.admin.port);
        log.info(`admin API on http://${this.addresses.admin.address}:${this.addresses.admin.port}`);
      }
      if (this.config.sip.listen.length) await this.startSip();
      const cti = this.config.cti;
      if (cti?.protocol === 'adapter') await this.startAdapterServer(cti);
      else if (cti) this.startCti(cti);
      else log.info('no CTI link configured: SIP-only daemon');
      this.startCallServices();
      await this.startRoutingAndSessions();
      this.startServiceNode();
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
    for (const unbind of this.unbinds.splice(0)) unbind();
    this.serviceNodeInstance?.close();
    this.serviceNodeInstance = undefined;
    this.enumResolver?.close();
    this.enumResolver = undefined;
    this.directoryInstance?.close();
    this.directoryInstance = undefined;
    this.routingService?.close();
    this.routingService = undefined;
    await this.routingTable?.close();
    this.routingTable = undefined;
    await this.sessionsInstance?.close();
    this.sessionsInstance = undefined;
    await this.msrpRelay?.close();
    this.msrpRelay = undefined;
    await this.softphoneTransfer?.close();
    this.softphoneTransfer = undefined;
    this.rtpEngine?.close();
    this.rtpEngine = undefined;
    await this.uacsta?.close();
    this.uacsta = undefined;
    this.callControlInstance?.close();
    this.callControlInstance = undefined;
    this.registrarInstance?.close();
    this.registrarInstance = undefined;
    this.unbindModel?.();
    this.unbindModel = undefined;
    await this.link?.stop();
    this.link = undefined;
    await this.adapterServer?.close();
    this.adapterServer = undefined;
    await this.presenceService?.close();
    this.presenceService = undefined;
    await this.sipStack?.close();
    this.sipStack = undefined;
    await this.admin?.close();
    this.admin = undefined;
    await this.locations?.flush();
    this.locations = undefined;
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

  private async startSip(): Promise<void> {
    const p = this.config.presence;
    const stack = new SipStack({ listen: this.config.sip.listen, metrics: this.metrics, userAgent: 'switchhook' });
    this.sipStack = stack;
    this.locations = new PersistedLocationStore(this.store, systemClock, this.metrics);
    const restored = await this.locations.load();
    if (restored) log.info(`registrar: ${restored} bindings restored from the store`);
    this.registrarInstance = new Registrar({ store: this.locations });
    stack.use('REGISTER', this.registrarInstance.middleware());
    this.addresses.sip = await stack.start();
    for (const b of this.addresses.sip) log.info(`SIP on ${b.protocol}:${b.host}:${b.port}`);
    // Devices known now and later (the model learns them from the CTI link) are in scope of the rules.
    const devices = this.config.cti ? expandExtensions(this.config.cti.devices) : [];
    for (const d of devices) this.model.addDevice(d);
    this.presenceService = new PresenceService({
      stack,
      model: this.model,
      domain: this.config.sip.domain,
      store: this.store,
      rules: p.rules.map((r) => ({ watchers: r.watchers, devices: r.devices.includes('*') ? '*' : expandExtensions(r.devices) })),
      ...(p.auth ? { auth: p.auth } : {}),
      im: p.im.map((i) => ({ uri: i.uri, devices: expandExtensions(i.devices), format: i.format })),
      names: p.names,
      notifyAttempts: p.notifyAttempts,
      notifyRetryMs: p.notifyRetryMs,
    });
    await this.presenceService.start();
    if (this.presenceService.rules.open) log.info('presence: no rules configured, any watcher may subscribe to any monitored device');
    if (p.auth) log.info(`presence: SUBSCRIBE needs digest authentication (realm ${p.auth.realm})`);
    if (p.im.length) log.info(`presence: ${p.im.length} instant-message subscribers`);
  }

  /** Call control (uaCSTA, REFER, admin routes) and desk phone / softphone transfers, where configured. */
  private startCallServices(): void {
    const { callControl, transfers } = this.config;
    const link = this.link;
    const sip = this.sipStack;
    if (callControl && link) {
      const control = new CallControl({
        link,
        model: this.model,
        ownership: new OwnershipTable(callControl),
        metrics: this.metrics,
        // REFER/uaCSTA targets naming the user's own softphone or desk phone move the call (docs/transfers.md).
        transferTargets: { resolveTransfer: (phone, target) => this.softphoneTransfer?.resolveTransfer(phone, target) },
      });
      this.callControlInstance = control;
      if (this.admin) registerCallControlRoutes(this.admin, control, { principal: callControl.adminPrincipal });
      if (sip && this.presenceService) {
        this.uacsta = new UaCstaServer({ ua: sip.ua, control, model: this.model, metrics: this.metrics });
        new ReferTransfers({ ua: sip.ua, notifier: this.presenceService.notifier, control, model: this.model, uacsta: this.uacsta });
        log.info(`call control for ${callControl.users.length} users: uaCSTA (ECMA TR/87) and REFER on the SIP listeners`);
      }
    }
    if (transfers && link && sip && this.registrarInstance) {
      this.rtpEngine = new RtpEngine({ bindAddress: transfers.mediaAddress, portMin: transfers.rtpPorts[0], portMax: transfers.rtpPorts[1],
        ...(transfers.rtpBackend !== undefined ? { backend: transfers.rtpBackend } : {}),
        ...(transfers.rtpModerationUs !== undefined ? { moderationUs: transfers.rtpModerationUs } : {}),
        ...(transfers.rtpGso !== undefined ? { gso: transfers.rtpGso } : {}),
        ...(transfers.rtpConnectSend !== undefined ? { connectSend: transfers.rtpConnectSend } : {}),
        metrics: this.metrics });
      this.softphoneTransfer = new SoftphoneTransfer({
        link,
        model: this.model,
        stack: sip,
        registrar: this.registrarInstance,
        engine: this.rtpEngine,
        users: transfers.users,
        mediaAddress: transfers.mediaAddress,
        softphoneAnswerMs: transfers.softphoneAnswerMs,
        gatewayInviteMs: transfers.gatewayInviteMs,
        deskAnswerMs: transfers.deskAnswerMs,
        metrics: this.metrics,
      });
      log.info(`desk phone / softphone transfers for ${transfers.users.length} users, RTP on ${transfers.mediaAddress}:${transfers.rtpPorts[0]}-${transfers.rtpPorts[1]}`);
    }
    const moves = this.softphoneTransfer;
    if (moves && this.admin) {
      const control = this.callControlInstance;
      moves.registerRoutes(
        this.admin,
        control && callControl ? { authorize: (device, principal) => control.authorize({ kind: RequesterKind.Admin, name: principal ?? callControl.adminPrincipal }, device) } : {},
      );
    }
  }

  /**
   * Routing of ringing calls by the users' rules (with a CSTA link; rules take effect without a restart) and
   * concurrent media sessions (configured with `sessions`).
   */
  private async startRoutingAndSessions(): Promise<void> {
    const link = this.link;
    const sip = this.sipStack;
    const clients = new ComputerInterfaces({
      domain: this.config.sip.domain,
      ...(this.registrarInstance ? { registrar: this.registrarInstance } : {}),
      configured: this.config.sessions?.clients ?? {},
    });
    if (link) {
      const table = new RoutingTable(this.store, { metrics: this.metrics });
      this.routingTable = table;
      const users = await table.load();
      table.watch(1000);
      this.routingService = new RoutingService({
        link,
        model: this.model,
        table,
        clients,
        ...(sip ? { sip } : {}),
        ...(this.config.routing.gatewayNumber ? { gatewayNumber: this.config.routing.gatewayNumber } : {}),
        ...(this.config.serviceNode ? { directory: (n: string) => this.directoryInstance?.firstClient(n) } : {}),
        metrics: this.metrics,
      });
      this.routingService.start();
      if (this.admin) this.registerRoutingRoutes(this.admin, table);
      log.info(`call routing: rules of ${users} users loaded`);
    }
    const sessions = this.config.sessions;
    if (sessions && sip) {
      this.msrpRelay = new MsrpRelay({ host: sessions.msrp.host, port: sessions.msrp.port, ...(sessions.msrp.advertiseHost ? { advertiseHost: sessions.msrp.advertiseHost } : {}), metrics: this.metrics });
      const msrp = await this.msrpRelay.start();
      this.sessionsInstance = new ConcurrentSessions({
        model: this.model,
        sip,
        clients,
        store: this.store,
        relay: this.msrpRelay,
        openOn: sessions.openOn,
        inviteTimeoutMs: sessions.inviteTimeoutMs,
        metrics: this.metrics,
      });
      await this.sessionsInstance.start();
      if (this.admin) this.sessionsInstance.registerRoutes(this.admin);
      log.info(`concurrent media sessions open on ${sessions.openOn} calls; MSRP relay on ${msrp.host}:${msrp.port}`);
    }
  }

  /** The service node: directory, ENUM / number portability, origination and address exchange. */
  private startServiceNode(): void {
    const sn = this.config.serviceNode;
    const sip = this.sipStack;
    if (!sn || !sip) return;
    const directory = new Directory({ plan: sn.numberingPlan, database: join(this.config.data, 'directory.sqlite'), metrics: this.metrics });
    this.directoryInstance = directory;
    if (sn.enum) {
      this.enumResolver = new EnumResolver({ servers: sn.enum.servers, apex: sn.enum.apex, timeoutMs: sn.enum.timeoutMs, tries: sn.enum.tries, metrics: this.metrics });
    }
    const self = this.addresses.sip?.[0];
    const router = new OriginationRouter(
      directory,
      this.enumResolver,
      {
        callServer: sn.callServer ?? { name: sn.site, uri: `sip:${self?.host ?? '127.0.0.1'}:${self?.port ?? 5060}` },
        pstn: sn.pstn,
        ...(sn.attendant ? { attendant: sn.attendant } : {}),
        farSites: sn.farSites,
        enumFallback: sn.enum?.fallback ?? 'pstn',
        unknownFarSite: sn.unknownFarSite,
      },
      this.metrics,
    );
    const link = this.link;
    this.serviceNodeInstance = new ServiceNode({
      site: sn.site,
      directory,
      router,
      stack: sip,
      metrics: this.metrics,
      inviteTimeoutMs: sn.inviteTimeoutMs,
      messageTimeoutMs: sn.messageTimeoutMs,
      attendantTimeoutMs: sn.attendantTimeoutMs,
      ...(link && sn.pbx
        ? {
            pbx: {
              makeCall: (a: string, b: string) => link.makeCall(a, b),
              release: async (device: string) => {
                for (const c of this.model.callsOf(device)) await link.clearConnection({ callId: c.callId, deviceId: device });
              },
              gatewayDevices: expandExtensions(sn.pbx.gatewayDevices),
              ...(sn.pbx.attendantDevice ? { attendantDevice: sn.pbx.attendantDevice } : {}),
            },
          }
        : {}),
    });
    if (this.registrarInstance) this.unbinds.push(this.serviceNodeInstance.attachRegistrar(this.registrarInstance));
    this.unbinds.push(this.serviceNodeInstance.attachModel(this.model));
    if (this.admin) registerDirectoryRoutes(this.admin, directory);
    log.info(`service node '${sn.site}': ${directory.count()} numbers${sn.enum ? `, ENUM via ${sn.enum.servers.join(', ')}` : ''}`);
  }

  /** Admin routes over the users' routing rules (docs/routing.md); stale versions get 409. */
  private registerRoutingRoutes(http: JsonHttpServer, table: RoutingTable): void {
    const statusOf: Record<string, number> = { ROUTING_ERR_VERSION: 409, ROUTING_ERR_NOT_FOUND: 404 };
    const routingCall = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (!e.code?.startsWith('ROUTING_ERR_')) throw err;
        throw new HttpProblem(statusOf[e.code] ?? 400, 'Routing Rules Refused', e.message, { cause: err, code: e.code });
      }
    };
    const version = (req: HttpRequest): number => {
      const v = Number(req.query.get('version') ?? 0);
      if (!Number.isInteger(v) || v < 0) throw new HttpProblem(400, 'Bad Request', 'version must be a whole number');
      return v;
    };
    http
      .route('GET', '/api/routing/:user', async (req) => {
        const set = await table.get(req.params['user']!);
        if (!set) throw new HttpProblem(404, 'Not Found', `user ${req.params['user']} has no rules`);
        return { json: set };
      })
      .route('PUT', '/api/routing/:user', async (req) => ({ json: await routingCall(() => table.put(req.params['user']!, req.body, version(req))) }))
      .route('DELETE', '/api/routing/:user', async (req) => {
        await routingCall(() => table.delete(req.params['user']!, version(req)));
        return {};
      })
      .route('POST', '/api/routing/validate', (req) => ({ json: { issues: table.validate(req.body) } }))
      .route('GET', '/api/routing/:user/explain', async (req) => {
        const at = req.query.get('at');
        const when = at ? Date.parse(at) : Date.now();
        if (Number.isNaN(when)) throw new HttpProblem(400, 'Bad Request', 'at must be an ISO 8601 time');
        const presence = req.query.get('presence') ?? PhonePresenceState.Idle;
        if (!(Object.values(PhonePresenceState) as string[]).includes(presence)) throw new HttpProblem(400, 'Bad Request', `presence must be one of ${Object.values(PhonePresenceState).join(', ')}`);
        const from = req.query.get('from');
        const call: IncomingCall = { at: when, presence: presence as PhonePresenceState, ...(from && from !== 'anonymous' ? { caller: from } : {}) };
        return { json: await routingCall(() => table.explain(req.params['user']!, call)) };
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
   * The address the daemon gives the PBX at registration (claim 9): its first SIP listener (the port actually
   * bound), else its admin listener, else the host name.
   */
  ownAddress(): string {
    const sip = this.addresses.sip?.[0];
    if (sip) {
      const host = sip.host === '0.0.0.0' || sip.host === '::' ? hostname() : sip.host.includes(':') ? `[${sip.host}]` : sip.host;
      return `sip:switchhook@${host}:${sip.port};transport=${sip.protocol}`;
    }
    if (this.addresses.admin) return `http://${this.addresses.admin.address}:${this.addresses.admin.port}`;
    return hostname();
  }

  /**
   * The admin API: with `admin.tokens`, every route but `/healthz` needs a bearer token; admins (all
   * principals when call control is off) use every route, users only the call routes of their own phones.
   */
  private buildAdmin(admin: NonNullable<SwitchhookConfig['admin']>): JsonHttpServer {
    const http = new JsonHttpServer('admin', this.metrics);
    if (admin.tokens.length) {
      const admins = this.config.callControl?.admins;
      http.requireTokens({ tokens: admin.tokens.map(readAdminToken), isAdmin: (p) => admins === undefined || admins.includes(p), open: ['/healthz'] });
      log.info(`admin API: bearer tokens for ${admin.tokens.map((t) => t.principal).join(', ')}`);
    } else if (!/^(127\.|::1$|localhost$)/.test(admin.host)) {
      log.warn(`admin API on ${admin.host} without tokens: anyone who reaches it acts as the admin principal (set admin.tokens)`);
    }
    return http
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
      .route('GET', '/api/subscriptions', () => ({ json: this.presenceService?.subscriptions() ?? [] }))
      .route('GET', '/metrics', () => {
        this.presenceService?.updateGauges();
        return { text: this.metrics.render(), contentType: 'text/plain; version=0.0.4' };
      });
  }
}

/** An admin token as the HTTP server takes it: read from its file (trimmed) when not inline. */
function readAdminToken(t: AdminToken): { principal: string; token: string } {
  if (t.token !== undefined) return { principal: t.principal, token: t.token };
  let token: string;
  try {
    token = readFileSync(t.tokenFile!, 'utf8').trim();
  } catch (err) {
    throw new ConfigError([{ key: 'admin.tokens', message: `cannot read the token file of '${t.principal}': ${(err as Error).message}` }]);
  }
  if (!/^[A-Za-z0-9._~+/-]{16,}=*$/.test(token)) {
    throw new ConfigError([{ key: 'admin.tokens', message: `the token file of '${t.principal}' must hold one token of at least 16 characters` }]);
  }
  return { principal: t.principal, token };
}
