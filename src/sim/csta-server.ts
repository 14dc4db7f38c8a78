/**
 * The simulated switch's CSTA XML server (ECMA-323 over TCP, 8-byte framing): answers every service the
 * CTI link uses, reports {@link SimEvent}s to the monitors of the devices involved, sends SystemStatus as
 * OpenScape switches do, and supports both bring-up variants (SystemRegister, ECMA-354 application session).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';

import { CstaErrorCategory } from '../cti/errors.js';
import { cstaNamespace, CstaEdition } from '../cti/editions.js';
import { normaliseDeviceId } from '../cti/events.js';
import { eventInvokeId } from '../cti/invoke-ids.js';
import { parseForwardingType } from '../cti/requests.js';
import { CstaFrameReader, encodeCstaFrame, type CstaMessage } from '../native/csta.js';
import { createLogger } from '../util/log.js';
import { MetricsRegistry, type Counter } from '../util/metrics.js';
import type { SimConnectionId, SimEvent, SimSwitch } from './core.js';
import { encodeEvent, SimResponses } from './csta-xml.js';
import { SimError } from './errors.js';

/** Which bring-up the server insists on before it accepts MonitorStart. */
export enum SimBringUp {
  Any = 'any',
  SystemRegister = 'systemRegister',
  ApplicationSession = 'applicationSession',
}

/** Options of {@link SimCstaServer}. */
export interface SimCstaServerOptions {
  readonly edition?: CstaEdition;
  /** Interval of the switch's SystemStatus requests to each client (ms); 0 sends only the one at connect. */
  readonly systemStatusIntervalMs?: number;
  readonly bringUp?: SimBringUp;
  /** Longest application session granted (s). */
  readonly maxSessionSeconds?: number;
  /** Most CTI applications registered at once (SystemRegister or application session), as switches limit CSTA links. */
  readonly maxApplications?: number;
  readonly metrics?: MetricsRegistry;
  /** Serve CSTA over TLS with these options (key and certificate). */
  readonly tls?: TlsOptions;
}

/** What a connected CTI client has told the switch. */
export interface SimClientInfo {
  readonly id: number;
  readonly remote: string;
  /** The address the client registered (SystemRegister private data or applicationSpecificInfo). */
  readonly registeredAddress?: string;
  readonly applicationId?: string;
  readonly sysStatRegisterId?: string;
  readonly sessionId?: string;
  readonly monitors: Record<string, string>;
  readonly systemStatusAnswered: number;
}

interface Session {
  readonly id: number;
  readonly socket: Socket;
  readonly reader: CstaFrameReader;
  readonly monitors: Map<string, string>;
  registeredAddress?: string;
  applicationId?: string;
  registerId?: string;
  sessionId?: string;
  sessionTimer?: NodeJS.Timeout;
  statusTimer?: NodeJS.Timeout;
  nextSwitchInvoke: number;
  statusAnswered: number;
  /** Events raised while a request is handled go out after its response. */
  deferred: Buffer[] | undefined;
  /** Writes of one tick share TCP segments, as a switch's burst of events does. */
  corked: boolean;
}

const log = createLogger('sim.csta');

/** The CSTA server of the simulated PBX. */
export class SimCstaServer {
  private server: Server | undefined;
  private readonly sessions = new Set<Session>();
  private nextSession = 1;
  private nextXref = 1;
  private readonly r: SimResponses;
  private readonly statusIntervalMs: number;
  private readonly bringUp: SimBringUp;
  private readonly maxSessionSeconds: number;
  private readonly maxApplications: number;
  private respond = true;
  private readonly tls: TlsOptions | undefined;
  private readonly unsubscribe: () => void;
  private readonly badFrames: Counter;
  private readonly requests: Counter;

  constructor(
    private readonly core: SimSwitch,
    opts: SimCstaServerOptions = {},
  ) {
    this.r = new SimResponses(cstaNamespace(opts.edition ?? CstaEdition.Ed4));
    this.statusIntervalMs = opts.systemStatusIntervalMs ?? 30_000;
    this.bringUp = opts.bringUp ?? SimBringUp.Any;
    this.maxSessionSeconds = opts.maxSessionSeconds ?? 600;
    this.maxApplications = opts.maxApplications ?? Number.POSITIVE_INFINITY;
    this.tls = opts.tls;
    const metrics = opts.metrics ?? new MetricsRegistry();
    this.badFrames = metrics.counter('switchhook_sim_bad_frames_total', 'Bad CSTA frames received by the simulator.');
    this.requests = metrics.counter('switchhook_sim_requests_total', 'CSTA requests received by the simulator, by service.');
    this.unsubscribe = core.onEvent((ev) => this.report(ev));
  }

  /** Listens on `host:port` (port 0 picks a free one). */
  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    const server = this.tls ? createTlsServer(this.tls, (socket) => this.accept(socket)) : createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /** The connected clients. */
  clients(): SimClientInfo[] {
    return [...this.sessions].map((s) => {
      const info: { -readonly [K in keyof SimClientInfo]: SimClientInfo[K] } = {
        id: s.id,
        remote: `${s.socket.remoteAddress}:${s.socket.remotePort}`,
        monitors: Object.fromEntries(s.monitors),
        systemStatusAnswered: s.statusAnswered,
      };
      if (s.registeredAddress !== undefined) info.registeredAddress = s.registeredAddress;
      if (s.applicationId !== undefined) info.applicationId = s.applicationId;
      if (s.registerId !== undefined) info.sysStatRegisterId = s.registerId;
      if (s.sessionId !== undefined) info.sessionId = s.sessionId;
      return info;
    });
  }

  /** Drops every CTI link (the clients see the TCP connection reset). Returns how many were dropped. */
  dropLinks(): number {
    const n = this.sessions.size;
    // A TCP reset where the transport allows it (a TLS socket cannot reset its wrapped handle).
    for (const s of [...this.sessions]) {
      if (this.tls) s.socket.destroy();
      else s.socket.resetAndDestroy();
    }
    return n;
  }

  /** Stops answering requests (they are swallowed) or resumes: for request-timeout tests. */
  setResponding(on: boolean): void {
    this.respond = on;
  }

  /** Writes raw bytes to every client (bad-frame tests). */
  injectRaw(bytes: Buffer): number {
    for (const s of this.sessions) this.write(s, bytes);
    return this.sessions.size;
  }

  /** Sends SystemStatus with `status` to every client now. */
  sendSystemStatus(status = 'normal'): void {
    for (const s of this.sessions) this.sendStatus(s, status);
  }

  /** Closes the listener and every client. */
  async close(): Promise<void> {
    this.unsubscribe();
    for (const s of [...this.sessions]) {
      this.endSession(s);
      s.socket.destroy();
    }
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const s: Session = {
      id: this.nextSession++,
      socket,
      reader: new CstaFrameReader(),
      monitors: new Map(),
      nextSwitchInvoke: 9000,
      statusAnswered: 0,
      deferred: undefined,
      corked: false,
    };
    this.sessions.add(s);
    socket.on('data', (chunk: Buffer) => this.receive(s, chunk));
    socket.on('error', (err) => log.debug(`client ${s.id}: ${err.message}`));
    socket.on('close', () => this.endSession(s));
    // OpenScape switches open with a SystemStatus the application must answer (docs/cti.md).
    this.sendStatus(s, 'normal');
    if (this.statusIntervalMs > 0) s.statusTimer = setInterval(() => this.sendStatus(s, 'normal'), this.statusIntervalMs);
  }

  private endSession(s: Session): void {
    if (s.statusTimer) clearInterval(s.statusTimer);
    if (s.sessionTimer) clearTimeout(s.sessionTimer);
    s.statusTimer = undefined;
    s.sessionTimer = undefined;
    this.sessions.delete(s);
  }

  private sendStatus(s: Session, status: string): void {
    const id = s.nextSwitchInvoke;
    s.nextSwitchInvoke = id >= 9998 ? 9000 : id + 1;
    this.write(s, encodeCstaFrame(id, this.r.systemStatus(status, s.registerId)));
  }

  private write(s: Session, frame: Buffer): void {
    if (s.socket.destroyed) return;
    if (!s.corked) {
      s.corked = true;
      s.socket.cork();
      process.nextTick(() => {
        s.corked = false;
        s.socket.uncork();
      });
    }
    s.socket.write(frame);
  }

  private receive(s: Session, chunk: Buffer): void {
    const { messages, errors } = s.reader.push(chunk);
    for (const err of errors) {
      this.badFrames.inc({ code: err.code });
      if (err.fatal) {
        log.warn(`client ${s.id}: ${err.message}; closing`);
        s.socket.destroy();
        return;
      }
    }
    for (const m of messages) this.handle(s, m);
  }

  private handle(s: Session, m: CstaMessage): void {
    this.requests.inc({ service: m.root });
    if (m.root === 'SystemStatusResponse') {
      s.statusAnswered++;
      return;
    }
    if (!this.respond) return;
    s.deferred = [];
    let reply: string;
    try {
      reply = this.serve(s, m);
    } catch (err) {
      if (err instanceof SimError) {
        reply = this.r.error(err.category, err.value);
      } else {
        // A fault of the simulator itself must not take the switch down: report it and refuse the request.
        log.error(`client ${s.id}: ${m.root} failed: ${(err as Error).stack ?? String(err)}`);
        reply = this.r.error(CstaErrorCategory.Unspecified, '');
      }
    }
    const events = s.deferred;
    s.deferred = undefined;
    if (s.socket.destroyed) return;
    this.write(s, encodeCstaFrame(m.invokeId, reply));
    for (const e of events) this.write(s, e);
    // Events for other sessions were written directly; ours were held back until the response went out.
  }

  /** Carries out one request; returns the response document. */
  private serve(s: Session, m: CstaMessage): string {
    const r = this.r;
    const core = this.core;
    switch (m.root) {
      case 'SystemStatus':
        return r.empty('SystemStatusResponse');
      case 'RequestSystemStatus':
        return r.requestSystemStatusResponse('normal');
      case 'SystemRegister':
        if (!this.admits(s)) throw new SimError(CstaErrorCategory.SystemResourceAvailability, 'resourceLimitExceeded', 'too many CTI applications');
        s.registerId = String(s.id);
        this.register(s, m);
        return r.systemRegisterResponse(s.registerId);
      case 'SystemRegisterCancel':
        s.registerId = undefined;
        return r.empty('SystemRegisterCancelResponse');
      case 'StartApplicationSession': {
        if (!this.admits(s)) return r.startSessionNeg('resourceLimitation');
        this.register(s, m);
        const requested = Number(m.fields['requestedSessionDuration'] ?? '180');
        const duration = Math.max(1, Math.min(this.maxSessionSeconds, Number.isFinite(requested) ? requested : 180));
        s.sessionId = `S${String(s.id).padStart(6, '0')}`;
        this.armSession(s, duration);
        return r.startSessionPos(s.sessionId, duration);
      }
      case 'ResetApplicationSessionTimer': {
        if (s.sessionId === undefined || m.fields['sessionID'] !== s.sessionId) return r.resetSessionTimerNeg('invalidSessionID');
        const requested = Number(m.fields['requestedSessionDuration'] ?? '180');
        const duration = Math.max(1, Math.min(this.maxSessionSeconds, Number.isFinite(requested) ? requested : 180));
        this.armSession(s, duration);
        return r.resetSessionTimerPos(duration);
      }
      case 'StopApplicationSession':
        if (s.sessionTimer) clearTimeout(s.sessionTimer);
        s.sessionId = undefined;
        return r.stopSessionPos();
      case 'MonitorStart': {
        this.checkBringUp(s);
        const device = this.device(m, 'deviceObject');
        if (!core.hasDevice(device)) throw new SimError(CstaErrorCategory.Operation, 'invalidDeviceID', `no device ${device}`);
        const xref = String(this.nextXref++);
        s.monitors.set(xref, device);
        return r.monitorStartResponse(xref);
      }
      case 'MonitorStop': {
        const xref = m.monitorCrossRefId ?? '';
        if (!s.monitors.delete(xref)) throw new SimError(CstaErrorCategory.Operation, 'invalidMonitorCrossRefID', `no monitor ${xref}`);
        return r.empty('MonitorStopResponse');
      }
      case 'SnapshotDevice': {
        const device = normaliseDeviceId(m.fields['snapshotObject'] ?? this.device(m, 'snapshotObject'));
        if (!core.hasDevice(device)) throw new SimError(CstaErrorCategory.Operation, 'invalidDeviceID', `no device ${device}`);
        return r.snapshotDevice(device, core.snapshot(device));
      }
      case 'MakeCall': {
        const called = this.device(m, 'calledDirectoryNumber');
        const c = core.makeCall(this.device(m, 'callingDevice'), called);
        return r.makeCallResponse(c, called);
      }
      case 'AnswerCall': {
        const c = this.connection(m, 'callToBeAnswered');
        core.answer(c.deviceId, c.callId);
        return r.empty('AnswerCallResponse');
      }
      case 'ClearConnection': {
        const c = this.connection(m, 'connectionToBeCleared');
        core.clearConnection(c.deviceId, c.callId);
        return r.empty('ClearConnectionResponse');
      }
      case 'HoldCall': {
        const c = this.connection(m, 'callToBeHeld');
        core.hold(c.deviceId, c.callId);
        return r.empty('HoldCallResponse');
      }
      case 'RetrieveCall': {
        const c = this.connection(m, 'callToBeRetrieved');
        core.retrieve(c.deviceId, c.callId);
        return r.empty('RetrieveCallResponse');
      }
      case 'DeflectCall': {
        const c = this.connection(m, 'callToBeDiverted');
        core.deflect(c.deviceId, c.callId, this.device(m, 'newDestination'));
        return r.empty('DeflectCallResponse');
      }
      case 'SingleStepTransferCall': {
        const c = this.connection(m, 'activeCall');
        const t = core.singleStepTransfer(c.deviceId, c.callId, this.device(m, 'transferredTo'));
        return r.withConnection('SingleStepTransferCallResponse', 'transferredCall', t);
      }
      case 'ConsultationCall': {
        const c = this.connection(m, 'existingCall');
        const t = core.consultation(c.deviceId, c.callId, this.device(m, 'consultedDevice'));
        return r.withConnection('ConsultationCallResponse', 'initiatedCall', t);
      }
      case 'TransferCall': {
        const held = this.connection(m, 'heldCall');
        const active = this.connection(m, 'activeCall');
        if (held.deviceId !== active.deviceId) throw new SimError(CstaErrorCategory.Operation, 'invalidConnectionID', 'held and active call are at different devices');
        const t = core.transfer(held.deviceId, held.callId, active.callId);
        return r.withConnection('TransferCallResponse', 'transferredCall', t);
      }
      case 'SetForwarding': {
        const type = parseForwardingType(m.fields['forwardingType'] ?? '');
        const on = m.fields['activateForward'];
        if (type === undefined || (on !== 'true' && on !== 'false')) throw new SimError(CstaErrorCategory.Operation, 'valueOutOfRange', 'bad forwardingType or activateForward');
        const dn = m.devices.find((d) => d.role === 'forwardDN')?.id ?? m.fields['forwardDN'];
        core.setForwarding(this.device(m, 'device'), type, on === 'true', dn === undefined ? undefined : normaliseDeviceId(dn));
        return r.empty('SetForwardingResponse');
      }
      case 'SetDoNotDisturb': {
        const on = m.fields['doNotDisturbOn'];
        if (on !== 'true' && on !== 'false') throw new SimError(CstaErrorCategory.Operation, 'valueOutOfRange', 'bad doNotDisturbOn');
        core.setDoNotDisturb(this.device(m, 'device'), on === 'true');
        return r.empty('SetDoNotDisturbResponse');
      }
      default:
        if (m.root.endsWith('Response') || m.root === 'CSTAErrorCode') return r.error(CstaErrorCategory.Unspecified, '');
        throw new SimError(CstaErrorCategory.Operation, 'serviceNotSupported', `service ${m.root} not supported`);
    }
  }

  /** Whether one more application may register (a session already registered always may again). */
  private admits(s: Session): boolean {
    if (s.registerId !== undefined || s.sessionId !== undefined) return true;
    let n = 0;
    for (const o of this.sessions) if (o.registerId !== undefined || o.sessionId !== undefined) n++;
    return n < this.maxApplications;
  }

  private register(s: Session, m: CstaMessage): void {
    const address = m.fields['address'];
    const app = m.fields['applicationID'];
    if (address !== undefined) s.registeredAddress = address;
    if (app !== undefined) s.applicationId = app;
  }

  private armSession(s: Session, seconds: number): void {
    if (s.sessionTimer) clearTimeout(s.sessionTimer);
    // ECMA-354: a session whose timer runs out is ended by the switch; here its link closes.
    s.sessionTimer = setTimeout(() => {
      log.info(`client ${s.id}: application session ${s.sessionId ?? ''} expired`);
      s.socket.destroy();
    }, seconds * 1000);
  }

  private checkBringUp(s: Session): void {
    const ok =
      this.bringUp === SimBringUp.Any ||
      (this.bringUp === SimBringUp.SystemRegister && s.registerId !== undefined) ||
      (this.bringUp === SimBringUp.ApplicationSession && s.sessionId !== undefined);
    if (!ok) throw new SimError(CstaErrorCategory.Security, 'requestIncompatibleWithObject', `bring-up ${this.bringUp} required`);
  }

  private device(m: CstaMessage, role: string): string {
    const d = m.devices.find((x) => x.role === role)?.id ?? m.fields[role];
    if (d === undefined || d === '') throw new SimError(CstaErrorCategory.Operation, 'invalidDeviceID', `${m.root} without ${role}`);
    return normaliseDeviceId(d);
  }

  private connection(m: CstaMessage, role: string): SimConnectionId {
    const c = m.connections.find((x) => x.role === role);
    if (!c || c.callId === '' || c.deviceId === '') throw new SimError(CstaErrorCategory.Operation, 'invalidConnectionID', `${m.root} without ${role}`);
    return { callId: c.callId, deviceId: normaliseDeviceId(c.deviceId) };
  }

  private report(ev: SimEvent): void {
    for (const s of this.sessions) {
      if (s.monitors.size === 0) continue;
      for (const [xref, device] of s.monitors) {
        if (!ev.involved.has(device)) continue;
        const frame = encodeCstaFrame(eventInvokeId, encodeEvent(this.r.ns, ev, xref, device));
        if (s.deferred) s.deferred.push(frame);
        else this.write(s, frame);
      }
    }
  }
}
