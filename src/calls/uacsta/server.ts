/**
 * uaCSTA (ECMA TR/87, as Microsoft RCC and Cisco CME CTI use it): a desktop SIP client opens a long-lived
 * INVITE dialog whose body is a CSTA request (`Content-Type: application/csta+xml`, usually
 * RequestSystemStatus naming the line); the 200 OK carries the CSTA response. CSTA requests then come in
 * INFO inside that dialog; each is answered 200 OK with the CSTA response or CSTAErrorCode as the body (as
 * MS RCC gateways and Yealink phones do). Events of the devices the client monitors go to it in INFO
 * requests. Who may act on which phone is the call control's ownership table: a device the client's AOR
 * does not own gets 403, an unknown device 404. The dialog ends with BYE from either side, with a failed
 * event INFO (481, 408), or with {@link UaCstaServer.close}; nothing outlives it.
 */
import { CstaErrorCategory, cstaNamespace, CstaEdition, normaliseDeviceId, parseEdition } from '../../cti/index.js';
import type { Dialog } from '../../sip/dialog/dialog.js';
import type { IncomingRequest, NextFunction, OutgoingResponse } from '../../sip/ua/app.js';
import type { SipUserAgent } from '../../sip/ua/user-agent.js';
import type { DeviceChange, PbxModel } from '../../model/index.js';
import { scanCstaXml, type CstaMessage } from '../../native/csta.js';
import { createLogger } from '../../util/log.js';
import { MetricsRegistry, type Counter, type Gauge } from '../../util/metrics.js';
import { CallControl, RequesterKind, type Requester } from '../control/call-control.js';
import { CallControlError, CallControlErrorCode } from '../control/errors.js';
import { UaCstaDocuments } from './documents.js';

/** The uaCSTA body type (ECMA TR/87 §7; matched case-insensitively). */
export const cstaContentType = 'application/csta+xml';

/** Options of {@link UaCstaServer}. */
export interface UaCstaServerOptions {
  readonly ua: SipUserAgent;
  readonly control: CallControl;
  readonly model: PbxModel;
  /** Namespace edition of the documents sent (default: the edition of the client's INVITE body, else ed3). */
  readonly edition?: CstaEdition;
  /** Event INFOs queued per client at most; older ones beyond are dropped and counted (default 256). */
  readonly maxQueuedEvents?: number;
  readonly metrics?: MetricsRegistry;
}

/** One client's uaCSTA dialog. */
interface Session {
  readonly dialog: Dialog;
  readonly who: Requester;
  readonly aor: string;
  /** The line (phone) named at the INVITE. */
  readonly line: string;
  readonly docs: UaCstaDocuments;
  readonly xrefByDevice: Map<string, string>;
  readonly deviceByXref: Map<string, string>;
  queue: string[];
  sending: boolean;
  ended: boolean;
  /** Requests being served: their events wait until the response went out (as a switch does). */
  busy: number;
}

const log = createLogger('calls.uacsta');

function isCsta(req: IncomingRequest): boolean {
  const ct = req.get('content-type');
  return ct !== undefined && ct.split(';')[0]!.trim().toLowerCase() === cstaContentType;
}

function editionOf(m: CstaMessage): CstaEdition | undefined {
  const ns = /xmlns(?::[\w.-]+)?="([^"]*ecma-323\/csta\/(ed[3-6]))"/.exec(m.xml.subarray(0, 512).toString('utf8'));
  return ns ? parseEdition(ns[2]!) : undefined;
}

/** The uaCSTA front end of call control, as middleware on a {@link SipUserAgent}. */
export class UaCstaServer {
  private readonly ua: SipUserAgent;
  private readonly control: CallControl;
  private readonly model: PbxModel;
  private readonly edition: CstaEdition | undefined;
  private readonly maxQueued: number;
  private readonly sessions = new Map<string, Session>();
  private nextXref = 1;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly onDialogEnd = (d: Dialog): void => this.forget(d.id);
  private readonly m: { requests: Counter; bad: Counter; events: Counter; dropped: Counter; live: Gauge };

  constructor(opts: UaCstaServerOptions) {
    this.ua = opts.ua;
    this.control = opts.control;
    this.model = opts.model;
    this.edition = opts.edition;
    this.maxQueued = opts.maxQueuedEvents ?? 256;
    const reg = opts.metrics ?? new MetricsRegistry();
    this.m = {
      requests: reg.counter('switchhook_uacsta_requests_total', 'uaCSTA requests from desktop clients, by service and result.'),
      bad: reg.counter('switchhook_uacsta_bad_requests_total', 'uaCSTA requests that could not be read, by reason.'),
      events: reg.counter('switchhook_uacsta_events_total', 'CSTA events sent to uaCSTA clients in INFO.'),
      dropped: reg.counter('switchhook_uacsta_events_dropped_total', 'CSTA events not sent to uaCSTA clients, by reason.'),
      live: reg.gauge('switchhook_uacsta_sessions', 'Open uaCSTA dialogs.'),
    };
    this.ua.use('INVITE', (req, res, next) => this.onInvite(req, res, next));
    this.ua.use('INFO', (req, res, next) => this.onInfo(req, res, next));
    this.ua.on('dialogTerminated', this.onDialogEnd);
    this.unsubscribe = this.model.onChange((c) => this.onChange(c));
  }

  /** Open uaCSTA dialogs. */
  get size(): number {
    return this.sessions.size;
  }

  /** The line named by the client of a uaCSTA dialog (the REFER front end uses it). */
  lineOf(dialogId: string): { line: string; aor: string } | undefined {
    const s = this.sessions.get(dialogId);
    return s ? { line: s.line, aor: s.aor } : undefined;
  }

  /** Ends every uaCSTA dialog with BYE and stops listening to the model. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    this.m.live.set(0);
    await Promise.all(sessions.map((s) => this.ua.bye(s.dialog).catch(() => undefined)));
    this.ua.off('dialogTerminated', this.onDialogEnd);
  }

  // ---- INVITE: the long-lived dialog (TR/87 §8; MS RCC: RequestSystemStatus naming the line) ----

  private onInvite(req: IncomingRequest, res: OutgoingResponse, next: NextFunction): void {
    const existing = req.dialog ? this.sessions.get(req.dialog.id) : undefined;
    if (existing) {
      // A session refresh (re-INVITE): answer with our status again.
      res.send(200, this.body(existing.docs.requestSystemStatusResponse()));
      return;
    }
    if (!isCsta(req) || req.inDialog) {
      next();
      return;
    }
    let m: CstaMessage;
    try {
      m = scanCstaXml(req.body);
    } catch (err) {
      this.m.bad.inc({ reason: 'xml' });
      res.send(400, 'Bad CSTA XML');
      log.rateLimited('warn', 'bad-invite', `bad uaCSTA INVITE body from ${req.message.from.uri.toString()}: ${(err as Error).message}`);
      return;
    }
    if (m.root !== 'RequestSystemStatus' && m.root !== 'SystemRegister') {
      this.m.bad.inc({ reason: 'root' });
      res.send(488, 'Expected RequestSystemStatus');
      return;
    }
    const aor = req.message.from.uri.toString();
    const line = normaliseDeviceId(m.fields['line'] ?? req.message.to.uri.user ?? '');
    const who: Requester = { kind: RequesterKind.Sip, aor };
    try {
      this.control.authorize(who, line);
    } catch (err) {
      const e = err as CallControlError;
      this.m.requests.inc({ service: 'INVITE', result: e.code });
      res.send(e instanceof CallControlError ? e.sipStatus : 500);
      return;
    }
    const docs = new UaCstaDocuments(cstaNamespace(this.edition ?? editionOf(m) ?? CstaEdition.Ed3));
    const body = m.root === 'SystemRegister' ? docs.empty('SystemRegisterResponse') : docs.requestSystemStatusResponse();
    res.send(200, this.body(body));
    const dialog = req.dialog;
    if (!dialog) return;
    this.sessions.set(dialog.id, { dialog, who, aor, line, docs, xrefByDevice: new Map(), deviceByXref: new Map(), queue: [], sending: false, ended: false, busy: 0 });
    this.m.live.set(this.sessions.size);
    this.m.requests.inc({ service: 'INVITE', result: 'ok' });
  }

  // ---- INFO: one CSTA request each, its response in the 200 OK ----

  private onInfo(req: IncomingRequest, res: OutgoingResponse, next: NextFunction): void {
    const s = req.dialog ? this.sessions.get(req.dialog.id) : undefined;
    if (!s) {
      next();
      return;
    }
    if (!isCsta(req)) {
      this.m.bad.inc({ reason: 'contentType' });
      res.send(415, { headers: { Accept: cstaContentType } });
      return;
    }
    let m: CstaMessage;
    try {
      m = scanCstaXml(req.body);
    } catch (err) {
      this.m.bad.inc({ reason: 'xml' });
      res.send(400, 'Bad CSTA XML');
      log.rateLimited('warn', 'bad-info', `bad uaCSTA INFO body from ${s.aor}: ${(err as Error).message}`);
      return;
    }
    s.busy++;
    const done = (): void => {
      s.busy--;
      if (s.busy === 0 && !s.sending && s.queue.length > 0) void this.drain(s);
    };
    this.serve(s, m).then(
      (xml) => {
        this.m.requests.inc({ service: m.root, result: 'ok' });
        res.send(200, this.body(xml));
        done();
      },
      (err: unknown) => {
        const e = err instanceof CallControlError ? err : CallControlError.refused(m.root, err);
        this.m.requests.inc({ service: m.root, result: e.cti?.code ?? e.code });
        // Not the client's device, or no such device: a SIP-level refusal; anything else is a CSTA answer.
        if (e.code === CallControlErrorCode.NotOwner || e.code === CallControlErrorCode.UnknownPhone) res.send(e.sipStatus);
        else res.send(200, this.body(s.docs.errorFor(e)));
        done();
      },
    );
  }

  private body(xml: string): { body: string; contentType: string; headers: Record<string, string> } {
    return { body: xml, contentType: cstaContentType, headers: { 'Content-Disposition': 'signal;handling=required' } };
  }

  /** Carries out one CSTA request; resolves with the response document. */
  private async serve(s: Session, m: CstaMessage): Promise<string> {
    const d = s.docs;
    const device = (role: string): string => {
      const v = m.devices.find((x) => x.role === role)?.id ?? m.fields[role];
      if (v === undefined || v === '') throw new CallControlError(CallControlErrorCode.BadRequest, `${m.root} without ${role}`);
      return v;
    };
    const connection = (role: string): { callId: string; deviceId: string } => {
      const c = m.connections.find((x) => x.role === role);
      if (!c || c.deviceId === '') throw new CallControlError(CallControlErrorCode.BadRequest, `${m.root} without ${role}`);
      return { callId: c.callId, deviceId: normaliseDeviceId(c.deviceId) };
    };
    const callOf = (c: { callId: string }): string | undefined => (c.callId === '' ? undefined : c.callId);
    switch (m.root) {
      case 'RequestSystemStatus':
        return d.requestSystemStatusResponse();
      case 'GetCSTAFeatures':
        return d.getCstaFeaturesResponse();
      case 'MonitorStart': {
        const dev = normaliseDeviceId(device('deviceObject'));
        this.control.authorize(s.who, dev);
        let xref = s.xrefByDevice.get(dev);
        if (xref === undefined) {
          xref = String(this.nextXref++);
          s.xrefByDevice.set(dev, xref);
          s.deviceByXref.set(xref, dev);
        }
        return d.monitorStartResponse(xref);
      }
      case 'MonitorStop': {
        const xref = m.monitorCrossRefId ?? m.fields['monitorCrossRefID'] ?? '';
        const dev = s.deviceByXref.get(xref);
        if (dev === undefined) throw new CallControlError(CallControlErrorCode.UnknownRequest, `no monitor ${xref}`);
        s.deviceByXref.delete(xref);
        s.xrefByDevice.delete(dev);
        return d.empty('MonitorStopResponse');
      }
      case 'SnapshotDevice':
        return d.snapshotDeviceResponse(this.control.snapshot(s.who, normaliseDeviceId(device('snapshotObject'))));
      case 'MakeCall': {
        const r = await this.control.dial(s.who, normaliseDeviceId(device('callingDevice')), device('calledDirectoryNumber'));
        return d.makeCallResponse({ callId: r.callId ?? '', deviceId: r.phone }, r.target);
      }
      case 'AnswerCall': {
        const c = connection('callToBeAnswered');
        const id = callOf(c);
        await this.control.answer(s.who, c.deviceId, id === undefined ? {} : { callId: id });
        return d.empty('AnswerCallResponse');
      }
      case 'ClearConnection': {
        const c = connection('connectionToBeCleared');
        await this.control.clear(s.who, c.deviceId, callOf(c));
        return d.empty('ClearConnectionResponse');
      }
      case 'HoldCall': {
        const c = connection('callToBeHeld');
        await this.control.hold(s.who, c.deviceId, callOf(c));
        return d.empty('HoldCallResponse');
      }
      case 'RetrieveCall': {
        const c = connection('callToBeRetrieved');
        await this.control.retrieve(s.who, c.deviceId, callOf(c));
        return d.empty('RetrieveCallResponse');
      }
      case 'DeflectCall': {
        const c = connection('callToBeDiverted');
        await this.control.deflect(s.who, c.deviceId, device('newDestination'), callOf(c));
        return d.empty('DeflectCallResponse');
      }
      case 'SingleStepTransferCall': {
        const c = connection('activeCall');
        const id = callOf(c);
        const r = await this.control.transfer(s.who, c.deviceId, device('transferredTo'), id === undefined ? {} : { callId: id });
        return d.singleStepTransferCallResponse(r.call);
      }
      case 'SetForwarding': {
        const on = m.fields['activateForward'] === 'true' || m.fields['activateForward'] === '1';
        const to = m.devices.find((x) => x.role === 'forwardDN')?.id ?? m.fields['forwardDN'];
        const type = m.fields['forwardingType'] ?? '';
        await this.control.forward(s.who, normaliseDeviceId(device('device')), to === undefined || !on ? { type, on } : { type, on, to });
        return d.empty('SetForwardingResponse');
      }
      case 'SetDoNotDisturb': {
        const on = m.fields['doNotDisturbOn'] === 'true' || m.fields['doNotDisturbOn'] === '1';
        await this.control.doNotDisturb(s.who, normaliseDeviceId(device('device')), on);
        return d.empty('SetDoNotDisturbResponse');
      }
      default:
        this.m.bad.inc({ reason: 'service' });
        return d.error(CstaErrorCategory.Operation, 'requestIncompatibleWithObject');
    }
  }

  // ---- events of monitored devices, in INFO (TR/87; sipe process_incoming_info_csta) ----

  private onChange(c: DeviceChange): void {
    for (const s of this.sessions.values()) {
      const xref = s.xrefByDevice.get(c.device);
      if (xref === undefined) continue;
      for (const xml of s.docs.eventsFor(c, xref, this.model.device(c.device))) this.enqueue(s, xml);
    }
  }

  private enqueue(s: Session, xml: string): void {
    if (s.queue.length >= this.maxQueued) {
      s.queue.shift();
      this.m.dropped.inc({ reason: 'queueFull' });
    }
    s.queue.push(xml);
    if (!s.sending && s.busy === 0) void this.drain(s);
  }

  /** Sends the queued events one INFO at a time, in order; a dialog the client no longer has ends here. */
  private async drain(s: Session): Promise<void> {
    s.sending = true;
    while (s.queue.length > 0 && !s.ended && s.busy === 0) {
      const xml = s.queue.shift()!;
      let status: number;
      try {
        status = (await this.ua.request({ method: 'INFO', dialog: s.dialog, ...this.body(xml) })).response.status;
      } catch (err) {
        log.rateLimited('warn', 'info-send', `event INFO to ${s.aor} not sent: ${(err as Error).message}`);
        status = 481;
      }
      if (status >= 200 && status < 300) {
        this.m.events.inc();
        continue;
      }
      this.m.dropped.inc({ reason: String(status) });
      if (status === 481 || status === 408) {
        // RFC 5057 section 5.1: the dialog is gone (481) or the client unreachable (408): end our usage.
        log.warn(`uaCSTA client ${s.aor} answered an event INFO with ${status}: ending its dialog`);
        this.forget(s.dialog.id);
        if (status === 408) void this.ua.bye(s.dialog).catch(() => undefined);
        else this.ua.removeDialog(s.dialog, 'info-481');
      }
    }
    s.sending = false;
  }

  private forget(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    s.ended = true;
    s.queue = [];
    this.sessions.delete(id);
    this.m.live.set(this.sessions.size);
  }
}
