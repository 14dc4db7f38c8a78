/**
 * The CTI link to a CSTA XML switch (ECMA-323 over TCP or TLS, 8-byte framing): session bring-up
 * (SystemRegister or ECMA-354 StartApplicationSession), MonitorStart and SnapshotDevice for every device,
 * heartbeats, invokeID allocation and request/response correlation, event normalisation, and reconnects
 * with bounded jittered backoff. A request in flight when the link drops fails with CTI_ERR_LINK_LOST
 * (outcome unknown) and is never resent.
 */
import { EventEmitter } from 'node:events';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

import { CstaFrameReader, encodeCstaFrame, type CstaFrameError, type CstaMessage } from '../native/csta.js';
import { createLogger } from '../util/log.js';
import { MetricsRegistry, type Counter, type Gauge } from '../util/metrics.js';
import { CstaEdition } from './editions.js';
import { CstaErrorCategory, CtiError, CtiErrorCode, cstaErrorCategories } from './errors.js';
import { normaliseDeviceId, normaliseEvent, type CstaEvent } from './events.js';
import { InvokeIdAllocator } from './invoke-ids.js';
import { CstaRequests, DeflectShape, type ConnectionId, type ForwardingType, type Registration } from './requests.js';
import { parseSnapshotDevice, type SnapshotCall } from './snapshot.js';

/** States of the link. */
export enum LinkState {
  Idle = 'idle',
  /** TCP/TLS connect in progress. */
  Connecting = 'connecting',
  /** Connected; registering, monitoring and snapshotting devices. */
  BringingUp = 'bringingUp',
  /** Every device monitored and resynced; services may be used. */
  Up = 'up',
  /** Down; waiting to reconnect. */
  Backoff = 'backoff',
  Stopped = 'stopped',
}

/** How the application session starts after the TCP connection (docs/cti.md). */
export enum BringUpVariant {
  /** Answer the switch's SystemStatus, then MonitorStart straight away. */
  None = 'none',
  /** ECMA-269 SystemRegister (OpenScape Voice style). */
  SystemRegister = 'systemRegister',
  /** ECMA-354 StartApplicationSession, kept alive with ResetApplicationSessionTimer (AES, OpenScape Business). */
  ApplicationSession = 'applicationSession',
}

/** Which request the link sends as its heartbeat. */
export enum HeartbeatKind {
  RequestSystemStatus = 'requestSystemStatus',
  SystemStatus = 'systemStatus',
}

/** Reconnect backoff: delay = min(maxMs, initialMs * factor^attempt), reduced by up to `jitter` (0..1) at random. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: number;
}

/** Options of {@link CtiLink}. */
export interface CtiLinkOptions {
  readonly host: string;
  readonly port: number;
  /** TLS: true for defaults, or Node's TLS connect options (CA, certificates, servername). */
  readonly tls?: boolean | ConnectionOptions;
  /** Devices to monitor (directory numbers as the switch knows them). */
  readonly devices: readonly string[];
  readonly bringUp?: BringUpVariant;
  /** Namespace edition of what we send (default ed4). */
  readonly edition?: CstaEdition;
  /** DeflectCall newDestination shape (default: plain for ed3/ed4, device for ed5/ed6). */
  readonly deflectShape?: DeflectShape;
  /** Our own network address and name, told to the switch at bring-up (claim 9; docs/cti.md). */
  readonly registration?: { readonly address: string; readonly applicationId?: string };
  readonly requestTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Heartbeat interval (ms); 0 disables. */
  readonly heartbeatIntervalMs?: number;
  readonly heartbeat?: HeartbeatKind;
  /** Requested ECMA-354 session duration (s). */
  readonly sessionSeconds?: number;
  readonly backoff?: Partial<BackoffOptions>;
  /** Consecutive bad frames after which the link is closed even if the reader could resynchronise. */
  readonly maxConsecutiveBadFrames?: number;
  readonly maxFrameBytes?: number;
  readonly metrics?: MetricsRegistry;
  /** Random source in [0, 1) for the backoff jitter (tests pass their own). */
  readonly random?: () => number;
}

/** Why the link went down, and what it was doing. */
export interface LinkDownInfo {
  readonly reason: CtiError;
  /** The next reconnect attempt, in ms (undefined once stopped). */
  readonly retryInMs?: number;
}

/** Events of {@link CtiLink}. */
export interface CtiLinkEvents {
  /** Every state change. */
  state: [state: LinkState];
  /** All devices monitored and resynced. */
  up: [];
  /** The link dropped (every device is now unknown). */
  down: [info: LinkDownInfo];
  /** A normalised call or device event reported by `device`'s monitor. */
  event: [device: string, event: CstaEvent];
  /** A device's calls after (re)monitoring it. */
  snapshot: [device: string, calls: SnapshotCall[]];
  /** MonitorStart or SnapshotDevice failed for a device; it stays unknown until the next bring-up. */
  deviceFailed: [device: string, error: CtiError];
  /** The switch's SystemStatus (normal, disabled, ...). */
  systemStatus: [status: string];
  /** Every message received, raw (diagnostics, adapters). */
  message: [message: CstaMessage];
}

interface Pending {
  readonly service: string;
  readonly expect: readonly string[];
  readonly resolve: (m: CstaMessage) => void;
  readonly reject: (e: CtiError) => void;
  /** Told the number of the frame that answered, as it is dispatched. */
  readonly answered: ((frame: number) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  timedOut: boolean;
}

/** A device's snapshot and the number of the frame that carried it. */
interface DeviceSnapshot {
  readonly calls: SnapshotCall[];
  readonly frame: number;
}

/** An event held while its device's snapshot is read, with the number of the frame that carried it. */
interface HeldEvent {
  readonly frame: number;
  readonly root: string;
  readonly ev: CstaEvent;
}

const log = createLogger('cti');

const defaultBackoff: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

/** The CSTA CTI link. Create, {@link CtiLink.start}, use the services, {@link CtiLink.stop}. */
export class CtiLink extends EventEmitter<CtiLinkEvents> {
  private linkState = LinkState.Idle;
  private socket: Socket | undefined;
  private reader: CstaFrameReader | undefined;
  private readonly ids = new InvokeIdAllocator();
  private readonly pending = new Map<number, Pending>();
  private readonly devices: string[];
  private readonly deviceByXref = new Map<string, string>();
  private readonly xrefByDevice = new Map<string, string>();
  /**
   * Events of devices whose snapshot is being read, held until it is emitted: the snapshot/event race
   * (ARCHITECTURE.md) would otherwise let a snapshot taken before an event overwrite that event's change.
   */
  private readonly held = new Map<string, HeldEvent[]>();
  /** Frames dispatched on this connection, numbering events against the responses of SnapshotDevice. */
  private framesIn = 0;
  private readonly req: CstaRequests;
  private readonly registration: Registration;
  private readonly bringUpVariant: BringUpVariant;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly heartbeatKind: HeartbeatKind;
  private readonly sessionSeconds: number;
  private readonly backoff: BackoffOptions;
  private readonly maxConsecutiveBadFrames: number;
  private readonly random: () => number;
  private attempt = 0;
  private generation = 0;
  private consecutiveBadFrames = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;
  private sessionId: string | undefined;
  private registerId: string | undefined;
  private stopping: Promise<void> | undefined;
  private readonly m: {
    requests: Counter;
    events: Counter;
    dropped: Counter;
    badFrames: Counter;
    reconnects: Counter;
    unmatched: Counter;
    up: Gauge;
  };
  private readonly metrics: MetricsRegistry;
  /** Counters for tests and the admin page. */
  readonly stats = { badFrames: 0, eventsDropped: 0, unmatchedResponses: 0, lateResponses: 0, connects: 0 };

  constructor(private readonly opts: CtiLinkOptions) {
    super();
    const edition = opts.edition ?? CstaEdition.Ed4;
    const shape = opts.deflectShape ?? (edition === CstaEdition.Ed3 || edition === CstaEdition.Ed4 ? DeflectShape.Plain : DeflectShape.Device);
    this.req = new CstaRequests(edition, shape);
    this.devices = [...new Set(opts.devices.map(normaliseDeviceId))];
    this.registration = { address: opts.registration?.address ?? '', applicationId: opts.registration?.applicationId ?? 'switchhook' };
    this.bringUpVariant = opts.bringUp ?? BringUpVariant.SystemRegister;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 30_000;
    this.heartbeatKind = opts.heartbeat ?? HeartbeatKind.RequestSystemStatus;
    this.sessionSeconds = opts.sessionSeconds ?? 180;
    this.backoff = { ...defaultBackoff, ...opts.backoff };
    this.maxConsecutiveBadFrames = opts.maxConsecutiveBadFrames ?? 16;
    this.random = opts.random ?? Math.random;
    this.metrics = opts.metrics ?? new MetricsRegistry();
    const reg = this.metrics;
    this.m = {
      requests: reg.counter('switchhook_cti_requests_total', 'CSTA requests by service and result.'),
      events: reg.counter('switchhook_cti_events_total', 'CSTA events received, by kind.'),
      dropped: reg.counter('switchhook_cti_events_dropped_total', 'CSTA events dropped, by reason.'),
      badFrames: reg.counter('switchhook_cti_bad_frames_total', 'Bad frames from the switch, by code.'),
      reconnects: reg.counter('switchhook_cti_link_down_total', 'Times the CTI link went down, by reason code.'),
      unmatched: reg.counter('switchhook_cti_unmatched_responses_total', 'Responses with no request in flight.'),
      up: reg.gauge('switchhook_cti_link_up', '1 while the CTI link is up.'),
    };
  }

  /** Current state. */
  get state(): LinkState {
    return this.linkState;
  }

  /** The devices this link monitors (normalised). */
  get monitoredDevices(): readonly string[] {
    return this.devices;
  }

  /** The monitorCrossRefID of a device on the current connection. */
  crossRefOf(device: string): string | undefined {
    return this.xrefByDevice.get(device);
  }

  /** The ECMA-354 session ID, when the application-session bring-up is used and up. */
  get applicationSessionId(): string | undefined {
    return this.sessionId;
  }

  /** The SystemRegister ID, when that bring-up is used and up. */
  get systemRegisterId(): string | undefined {
    return this.registerId;
  }

  /** Number of requests in flight (timed-out requests keep their invokeID until a late answer or link loss). */
  get inFlight(): number {
    return this.ids.size;
  }

  /** Connects and keeps the link up until {@link stop}. */
  start(): void {
    if (this.linkState !== LinkState.Idle) throw new Error(`link already ${this.linkState}`);
    this.connect();
  }

  /** Ends the link: pending requests fail with CTI_ERR_STOPPED; resolves once the socket is closed. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  // ---- services (ECMA-269 §17, §22, §15, §16) ----

  /** MakeCall: the calling device's connection in the new call. */
  async makeCall(calling: string, called: string): Promise<ConnectionId> {
    const m = await this.request('MakeCall', this.req.makeCall(calling, called), ['MakeCallResponse']);
    return this.connectionIn(m, 'callingDevice', 'MakeCall');
  }

  async answerCall(c: ConnectionId): Promise<void> {
    await this.request('AnswerCall', this.req.answerCall(c), ['AnswerCallResponse']);
  }

  async clearConnection(c: ConnectionId): Promise<void> {
    await this.request('ClearConnection', this.req.clearConnection(c), ['ClearConnectionResponse']);
  }

  async holdCall(c: ConnectionId): Promise<void> {
    await this.request('HoldCall', this.req.holdCall(c), ['HoldCallResponse']);
  }

  async retrieveCall(c: ConnectionId): Promise<void> {
    await this.request('RetrieveCall', this.req.retrieveCall(c), ['RetrieveCallResponse']);
  }

  async deflectCall(c: ConnectionId, destination: string): Promise<void> {
    await this.request('DeflectCall', this.req.deflectCall(c, destination), ['DeflectCallResponse']);
  }

  /** SingleStepTransferCall: the transferred call, when the switch says it. */
  async singleStepTransferCall(c: ConnectionId, to: string): Promise<ConnectionId | undefined> {
    const m = await this.request('SingleStepTransferCall', this.req.singleStepTransferCall(c, to), ['SingleStepTransferCallResponse']);
    return this.optionalConnection(m, 'transferredCall');
  }

  /** ConsultationCall: the new (consultation) call's connection at the device. */
  async consultationCall(c: ConnectionId, consulted: string): Promise<ConnectionId> {
    const m = await this.request('ConsultationCall', this.req.consultationCall(c, consulted), ['ConsultationCallResponse']);
    return this.connectionIn(m, 'initiatedCall', 'ConsultationCall');
  }

  /** TransferCall: the resulting call, when the switch says it. */
  async transferCall(held: ConnectionId, active: ConnectionId): Promise<ConnectionId | undefined> {
    const m = await this.request('TransferCall', this.req.transferCall(held, active), ['TransferCallResponse']);
    return this.optionalConnection(m, 'transferredCall');
  }

  async setForwarding(device: string, type: ForwardingType, on: boolean, forwardDN?: string): Promise<void> {
    if (on && (forwardDN === undefined || forwardDN === '')) throw new CtiError(CtiErrorCode.BadArgument, 'SetForwarding on needs a forwardDN', { service: 'SetForwarding' });
    await this.request('SetForwarding', this.req.setForwarding(device, type, on, forwardDN), ['SetForwardingResponse']);
  }

  async setDoNotDisturb(device: string, on: boolean): Promise<void> {
    await this.request('SetDoNotDisturb', this.req.setDoNotDisturb(device, on), ['SetDoNotDisturbResponse']);
  }

  /** SnapshotDevice: the device's calls and its connection state in each. */
  async snapshotDevice(device: string): Promise<SnapshotCall[]> {
    const m = await this.request('SnapshotDevice', this.req.snapshotDevice(device), ['SnapshotDeviceResponse']);
    return parseSnapshotDevice(m.xml.toString('utf8')).calls;
  }

  /** RequestSystemStatus: the switch's status (`normal`, ...). */
  async requestSystemStatus(): Promise<string> {
    const m = await this.request('RequestSystemStatus', this.req.requestSystemStatus(), ['RequestSystemStatusResponse']);
    return m.fields['systemStatus'] ?? '';
  }

  /** MonitorStop for a monitored device; it is no longer monitored on this connection nor after reconnects. */
  async monitorStop(device: string): Promise<void> {
    const id = normaliseDeviceId(device);
    const xref = this.xrefByDevice.get(id);
    const at = this.devices.indexOf(id);
    if (at >= 0) this.devices.splice(at, 1);
    if (xref === undefined) return;
    this.xrefByDevice.delete(id);
    this.deviceByXref.delete(xref);
    this.held.delete(id);
    await this.request('MonitorStop', this.req.monitorStop(xref), ['MonitorStopResponse']);
  }

  /** MonitorStart for a further device (kept across reconnects); emits its snapshot. */
  async monitorStart(device: string): Promise<string> {
    const id = normaliseDeviceId(device);
    if (!this.devices.includes(id)) this.devices.push(id);
    const gen = this.generation;
    const xref = await this.monitorOne(id, gen);
    let snapshot: DeviceSnapshot;
    try {
      snapshot = await this.readSnapshot(id);
    } catch (err) {
      if (gen === this.generation) this.releaseHeld(id);
      throw err;
    }
    if (gen === this.generation) this.emitSnapshot(id, snapshot);
    return xref;
  }

  /**
   * Sends one request and waits for its response. Rejects with CTI_ERR_LINK_DOWN when not up,
   * CTI_ERR_TIMEOUT / CTI_ERR_LINK_LOST (outcome unknown), or the CTI_ERR_CSTA_* of a CSTAErrorCode.
   */
  request(service: string, xml: string, expect: readonly string[]): Promise<CstaMessage> {
    if (this.linkState !== LinkState.Up) {
      this.m.requests.inc({ service, result: 'linkDown' });
      return Promise.reject(new CtiError(CtiErrorCode.LinkDown, `${service}: CTI link is ${this.linkState}`, { service }));
    }
    return this.send(service, xml, expect);
  }

  // ---- connection lifecycle ----

  private setState(s: LinkState): void {
    if (this.linkState === s) return;
    this.linkState = s;
    this.m.up.set(s === LinkState.Up ? 1 : 0);
    this.emit('state', s);
  }

  private connect(): void {
    this.setState(LinkState.Connecting);
    const gen = ++this.generation;
    this.stats.connects++;
    const { host, port } = this.opts;
    const socket =
      this.opts.tls === undefined || this.opts.tls === false
        ? netConnect({ host, port })
        : tlsConnect({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), ...(this.opts.tls === true ? {} : this.opts.tls) });
    this.socket = socket;
    this.reader = new CstaFrameReader({ ...(this.opts.maxFrameBytes === undefined ? {} : { maxFrameBytes: this.opts.maxFrameBytes }), metrics: this.metrics });
    this.consecutiveBadFrames = 0;
    this.connectTimer = setTimeout(() => {
      this.linkDown(gen, new CtiError(CtiErrorCode.Socket, `connect to ${host}:${port} timed out after ${this.connectTimeoutMs} ms`));
    }, this.connectTimeoutMs);
    socket.once(this.opts.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      this.setState(LinkState.BringingUp);
      this.bringUp(gen).catch((err: unknown) => {
        const e = err instanceof CtiError ? err : new CtiError(CtiErrorCode.BringUpRefused, `bring-up failed: ${(err as Error).message}`, { cause: err });
        this.linkDown(gen, e);
      });
    });
    socket.on('data', (chunk: Buffer) => this.receive(gen, chunk));
    socket.on('error', (err) => this.linkDown(gen, new CtiError(CtiErrorCode.Socket, `CTI socket: ${err.message}`, { cause: err })));
    socket.on('close', () => this.linkDown(gen, new CtiError(CtiErrorCode.Socket, 'CTI connection closed by the switch')));
  }

  /** ECMA-354 / ECMA-269 session bring-up, then MonitorStart and SnapshotDevice for every device. */
  private async bringUp(gen: number): Promise<void> {
    switch (this.bringUpVariant) {
      case BringUpVariant.ApplicationSession: {
        const m = await this.send('StartApplicationSession', this.req.startApplicationSession(this.registration, this.sessionSeconds), [
          'StartApplicationSessionPosResponse',
        ]);
        const sessionId = m.fields['sessionID'];
        if (sessionId === undefined || sessionId === '') throw new CtiError(CtiErrorCode.BringUpRefused, 'StartApplicationSessionPosResponse without sessionID');
        this.sessionId = sessionId;
        const duration = Number(m.fields['actualSessionDuration'] ?? this.sessionSeconds);
        const periodMs = Math.max(500, ((Number.isFinite(duration) && duration > 0 ? duration : this.sessionSeconds) * 1000) / 2);
        this.sessionTimer = setInterval(() => this.keepSessionAlive(gen), periodMs);
        break;
      }
      case BringUpVariant.SystemRegister: {
        const m = await this.send('SystemRegister', this.req.systemRegister(this.registration), ['SystemRegisterResponse']);
        this.registerId = m.fields['sysStatRegisterID'];
        break;
      }
      case BringUpVariant.None:
        break;
      default:
        throw new Error(`unknown bring-up variant ${this.bringUpVariant as string}`);
    }
    const devices = [...this.devices];
    const monitored = await Promise.all(
      devices.map((d) =>
        this.monitorOne(d, gen).then(
          () => true,
          (err: unknown) => this.deviceFailure(gen, d, err),
        ),
      ),
    );
    const snapshots = await Promise.all(
      devices.map((d, i) =>
        monitored[i]
          ? this.readSnapshot(d).catch((err: unknown) => {
              if (gen === this.generation) this.releaseHeld(d);
              return this.deviceFailure(gen, d, err);
            })
          : false,
      ),
    );
    if (gen !== this.generation) return;
    this.setState(LinkState.Up);
    this.attempt = 0;
    for (let i = 0; i < devices.length; i++) {
      const snapshot = snapshots[i];
      if (snapshot) this.emitSnapshot(devices[i]!, snapshot);
    }
    if (this.heartbeatIntervalMs > 0) this.heartbeatTimer = setInterval(() => this.heartbeat(gen), this.heartbeatIntervalMs);
    this.emit('up');
  }

  private deviceFailure(gen: number, device: string, err: unknown): false {
    const e = err instanceof CtiError ? err : new CtiError(CtiErrorCode.UnexpectedResponse, String(err));
    // A lost link fails the whole bring-up (handled by linkDown); only per-device refusals are reported here.
    if (gen === this.generation && e.code !== CtiErrorCode.LinkLost && e.code !== CtiErrorCode.Stopped) {
      log.warn(`device ${device}: ${e.message}`);
      this.emit('deviceFailed', device, e);
    }
    return false;
  }

  private async monitorOne(device: string, gen: number): Promise<string> {
    const m = await this.send('MonitorStart', this.req.monitorStart(device), ['MonitorStartResponse']);
    const xref = m.monitorCrossRefId ?? m.fields['monitorCrossRefID'];
    if (xref === undefined || xref === '') throw new CtiError(CtiErrorCode.UnexpectedResponse, `MonitorStartResponse for ${device} without monitorCrossRefID`, { service: 'MonitorStart' });
    if (gen === this.generation) {
      this.deviceByXref.set(xref, device);
      this.xrefByDevice.set(device, xref);
      if (!this.held.has(device)) this.held.set(device, []);
    }
    return xref;
  }

  /**
   * SnapshotDevice (ECMA-269 §22.3.1) for a monitored device whose events are held meanwhile; resolves
   * with the calls and the number of the frame that answered.
   */
  private readSnapshot(device: string): Promise<DeviceSnapshot> {
    if (!this.held.has(device)) this.held.set(device, []);
    let frame = 0;
    return this.send('SnapshotDevice', this.req.snapshotDevice(device), ['SnapshotDeviceResponse'], (n) => (frame = n)).then((m) => ({
      calls: parseSnapshotDevice(m.xml.toString('utf8')).calls,
      frame,
    }));
  }

  /**
   * Emits a device's snapshot, then the events held for it that came after the snapshot's response. The
   * switch writes one ordered stream, so the events before the response are already part of the snapshot.
   */
  private emitSnapshot(device: string, snapshot: DeviceSnapshot): void {
    const held = this.held.get(device) ?? [];
    this.held.delete(device);
    this.emit('snapshot', device, snapshot.calls);
    for (const h of held) if (h.frame > snapshot.frame) this.deliver(device, h.root, h.ev);
  }

  /** Stops holding a device's events (its snapshot failed): the held ones are delivered as they came. */
  private releaseHeld(device: string): void {
    const held = this.held.get(device) ?? [];
    this.held.delete(device);
    for (const h of held) this.deliver(device, h.root, h.ev);
  }

  /** SnapshotDevice for every monitored device, each result emitted as `snapshot`. */
  private resyncAll(gen: number): void {
    for (const d of this.xrefByDevice.keys()) {
      this.readSnapshot(d).then(
        (snapshot) => {
          if (gen === this.generation) this.emitSnapshot(d, snapshot);
        },
        (err: unknown) => {
          if (gen === this.generation) this.releaseHeld(d);
          this.deviceFailure(gen, d, err);
        },
      );
    }
  }

  private heartbeat(gen: number): void {
    const [service, xml, expect] =
      this.heartbeatKind === HeartbeatKind.SystemStatus
        ? ['SystemStatus', this.req.systemStatus('normal'), ['SystemStatusResponse']]
        : ['RequestSystemStatus', this.req.requestSystemStatus(), ['RequestSystemStatusResponse']];
    this.send(service, xml, expect).catch((err: CtiError) => {
      if (err.code === CtiErrorCode.Timeout) this.linkDown(gen, new CtiError(CtiErrorCode.HeartbeatLost, `heartbeat ${service} unanswered`, { cause: err }));
    });
  }

  private keepSessionAlive(gen: number): void {
    const id = this.sessionId;
    if (id === undefined) return;
    this.send('ResetApplicationSessionTimer', this.req.resetApplicationSessionTimer(id, this.sessionSeconds), ['ResetApplicationSessionTimerPosResponse']).catch(
      (err: CtiError) => {
        if (err.code !== CtiErrorCode.LinkLost && err.code !== CtiErrorCode.Stopped) {
          this.linkDown(gen, new CtiError(CtiErrorCode.HeartbeatLost, `application session keep-alive failed: ${err.message}`, { cause: err }));
        }
      },
    );
  }

  /** Tears the connection down (once per generation) and schedules the reconnect. */
  private linkDown(gen: number, reason: CtiError): void {
    if (gen !== this.generation || this.linkState === LinkState.Backoff || this.linkState === LinkState.Stopped || this.linkState === LinkState.Idle) return;
    const wasUp = this.linkState === LinkState.Up;
    this.teardown(new CtiError(CtiErrorCode.LinkLost, `CTI link lost (${reason.code}): request outcome unknown`, { cause: reason }));
    this.m.reconnects.inc({ code: reason.code });
    const delay = this.nextDelay();
    log.rateLimited('warn', 'down', `CTI link to ${this.opts.host}:${this.opts.port} down${wasUp ? '' : ' during bring-up'}: ${reason.message}; retry in ${delay} ms`);
    this.setState(LinkState.Backoff);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.linkState === LinkState.Backoff) this.connect();
    }, delay);
    this.emit('down', { reason, retryInMs: delay });
  }

  private nextDelay(): number {
    const b = this.backoff;
    const base = Math.min(b.maxMs, b.initialMs * Math.pow(b.factor, this.attempt));
    this.attempt++;
    return Math.max(0, Math.round(base * (1 - Math.min(1, Math.max(0, b.jitter)) * this.random())));
  }

  /** Closes the socket, stops timers, fails every request in flight with `err`, forgets the monitors. */
  private teardown(err: CtiError): void {
    this.generation++;
    clearTimeout(this.connectTimer);
    clearInterval(this.heartbeatTimer);
    clearInterval(this.sessionTimer);
    this.connectTimer = this.heartbeatTimer = this.sessionTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    this.reader = undefined;
    socket?.removeAllListeners('data');
    socket?.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.ids.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      if (p.timedOut) continue;
      this.m.requests.inc({ service: p.service, result: err.code });
      p.reject(new CtiError(err.code, `${p.service}: ${err.message}`, { service: p.service, cause: err.cause }));
    }
    this.deviceByXref.clear();
    this.xrefByDevice.clear();
    this.held.clear();
    this.framesIn = 0;
    this.sessionId = undefined;
    this.registerId = undefined;
  }

  private async doStop(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const socket = this.socket;
    // End the session or registration politely (ECMA-354 §8.3, ECMA-269 §14.1.5); the answer is not waited
    // for beyond the request timeout.
    if (this.linkState === LinkState.Up && this.sessionId !== undefined) {
      await this.send('StopApplicationSession', this.req.stopApplicationSession(this.sessionId), ['StopApplicationSessionPosResponse']).catch(() => undefined);
    } else if (this.linkState === LinkState.Up && this.registerId !== undefined) {
      await this.send('SystemRegisterCancel', this.req.systemRegisterCancel(this.registerId), ['SystemRegisterCancelResponse']).catch(() => undefined);
    }
    const closed = socket && !socket.destroyed ? new Promise<void>((resolve) => socket.once('close', () => resolve())) : Promise.resolve();
    this.teardown(new CtiError(CtiErrorCode.Stopped, 'CTI link stopped'));
    this.setState(LinkState.Stopped);
    await closed;
  }

  // ---- receiving ----

  private receive(gen: number, chunk: Buffer): void {
    const reader = this.reader;
    if (!reader || gen !== this.generation) return;
    const { messages, errors } = reader.push(chunk);
    for (const m of messages) {
      this.consecutiveBadFrames = 0;
      this.dispatch(gen, m);
      if (gen !== this.generation) return;
    }
    if (errors.length > 0) this.badFrames(gen, errors, messages.length > 0);
  }

  private badFrames(gen: number, errors: CstaFrameError[], sawGood: boolean): void {
    for (const e of errors) {
      this.stats.badFrames++;
      this.m.badFrames.inc({ code: e.code });
      log.rateLimited('warn', `bad:${e.code}`, `bad frame from the switch: ${e.code}: ${e.message}`);
      if (e.fatal) {
        this.linkDown(gen, new CtiError(CtiErrorCode.BadFrame, `unrecoverable CSTA stream: ${e.message}`, { cause: e }));
        return;
      }
    }
    if (!sawGood) this.consecutiveBadFrames += errors.length;
    if (this.consecutiveBadFrames >= this.maxConsecutiveBadFrames) {
      this.linkDown(gen, new CtiError(CtiErrorCode.BadFrame, `${this.consecutiveBadFrames} consecutive bad frames from the switch`, { cause: errors[errors.length - 1] }));
    }
  }

  private dispatch(gen: number, m: CstaMessage): void {
    this.framesIn++;
    if (this.listenerCount('message') > 0) this.emit('message', m);
    const root = m.root;
    if (root.endsWith('Event')) {
      this.onEvent(m);
      return;
    }
    switch (root) {
      // The switch's own requests are answered with their invokeID (OpenScape practice, docs/cti.md).
      case 'SystemStatus': {
        this.write(gen, m.invokeId, this.req.systemStatusResponse());
        const status = m.fields['systemStatus'] ?? '';
        this.emit('systemStatus', status);
        // ECMA-269 §14.2.3: messagesLost means events were dropped; the device states must be re-read.
        if (status === 'messagesLost' && this.linkState === LinkState.Up) this.resyncAll(gen);
        return;
      }
      case 'RequestSystemStatus':
        this.write(gen, m.invokeId, this.req.requestSystemStatusResponse('normal'));
        return;
      default:
        this.onResponse(m);
    }
  }

  private onEvent(m: CstaMessage): void {
    const xref = m.monitorCrossRefId;
    const device = xref === undefined ? undefined : this.deviceByXref.get(xref);
    if (device === undefined) {
      this.stats.eventsDropped++;
      this.m.dropped.inc({ reason: 'unknownMonitor' });
      return;
    }
    const ev = normaliseEvent(m);
    if (!ev) {
      this.stats.eventsDropped++;
      this.m.dropped.inc({ reason: 'unhandled', root: m.root });
      return;
    }
    this.m.events.inc({ kind: ev.kind });
    const held = this.held.get(device);
    if (held) held.push({ frame: this.framesIn, root: m.root, ev });
    else this.deliver(device, m.root, ev);
  }

  private deliver(device: string, root: string, ev: CstaEvent): void {
    try {
      this.emit('event', device, ev);
    } catch (err) {
      // A subscriber's fault must not break the link: count it, keep reading.
      this.m.dropped.inc({ reason: 'listenerError', root });
      log.rateLimited('error', 'listener', `event listener threw on ${root} for ${device}: ${(err as Error).message}`);
    }
  }

  private onResponse(m: CstaMessage): void {
    const p = this.pending.get(m.invokeId);
    if (!p) {
      this.stats.unmatchedResponses++;
      this.m.unmatched.inc();
      log.rateLimited('warn', 'unmatched', `response ${m.root} with invokeID ${m.invokeId} matches no request`);
      return;
    }
    this.pending.delete(m.invokeId);
    this.ids.release(m.invokeId);
    clearTimeout(p.timer);
    if (p.timedOut) {
      this.stats.lateResponses++;
      this.m.requests.inc({ service: p.service, result: 'late' });
      return;
    }
    if (m.root === 'CSTAErrorCode') {
      const category = cstaErrorCategories.find((c) => m.fields[c] !== undefined) ?? CstaErrorCategory.Unspecified;
      const err = CtiError.fromCsta(p.service, category, m.fields[category] ?? '');
      this.m.requests.inc({ service: p.service, result: err.code });
      p.reject(err);
      return;
    }
    if (!p.expect.includes(m.root)) {
      const refused = m.root.endsWith('NegResponse');
      const err = new CtiError(
        refused ? CtiErrorCode.BringUpRefused : CtiErrorCode.UnexpectedResponse,
        `${p.service} answered with ${m.root}${refused ? ` (${Object.values(m.fields).join(', ')})` : ''}`,
        { service: p.service },
      );
      this.m.requests.inc({ service: p.service, result: err.code });
      p.reject(err);
      return;
    }
    this.m.requests.inc({ service: p.service, result: 'ok' });
    p.answered?.(this.framesIn);
    p.resolve(m);
  }

  // ---- sending ----

  private send(service: string, xml: string, expect: readonly string[], answered?: (frame: number) => void): Promise<CstaMessage> {
    const socket = this.socket;
    if (!socket || this.linkState === LinkState.Stopped) {
      return Promise.reject(new CtiError(CtiErrorCode.LinkDown, `${service}: CTI link is ${this.linkState}`, { service }));
    }
    let id: number;
    let frame: Buffer;
    try {
      id = this.ids.take();
    } catch (err) {
      this.m.requests.inc({ service, result: CtiErrorCode.InvokeIdsExhausted });
      return Promise.reject(err);
    }
    try {
      frame = encodeCstaFrame(id, xml);
    } catch (err) {
      this.ids.release(id);
      return Promise.reject(new CtiError(CtiErrorCode.BadArgument, `${service}: ${(err as Error).message}`, { service, cause: err }));
    }
    return new Promise<CstaMessage>((resolve, reject) => {
      const p: Pending = { service, expect, resolve, reject, answered, timer: undefined, timedOut: false };
      p.timer = setTimeout(() => {
        // The invokeID stays reserved: a late answer must not be taken for another request's.
        p.timedOut = true;
        p.timer = undefined;
        this.m.requests.inc({ service, result: CtiErrorCode.Timeout });
        reject(new CtiError(CtiErrorCode.Timeout, `${service}: no response within ${this.requestTimeoutMs} ms; outcome unknown`, { service }));
      }, this.requestTimeoutMs);
      this.pending.set(id, p);
      socket.write(frame);
    });
  }

  private write(gen: number, invokeId: number, xml: string): void {
    if (gen === this.generation) this.socket?.write(encodeCstaFrame(invokeId, xml));
  }

  private connectionIn(m: CstaMessage, role: string, service: string): ConnectionId {
    const c = this.optionalConnection(m, role);
    if (!c) throw new CtiError(CtiErrorCode.UnexpectedResponse, `${m.root} without ${role}`, { service });
    return c;
  }

  private optionalConnection(m: CstaMessage, role: string): ConnectionId | undefined {
    const c = m.connections.find((x) => x.role === role);
    return c && c.callId !== '' ? { callId: c.callId, deviceId: normaliseDeviceId(c.deviceId) } : undefined;
  }
}
