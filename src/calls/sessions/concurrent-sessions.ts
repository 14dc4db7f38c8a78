/**
 * Concurrent media sessions (first seed, claims 11-20): when PBX phone B calls phone A, A's computer
 * interface invites B's to a chat session that runs beside the phone call.
 *
 * The daemon is back-to-back between the two desktop clients. On the CTI event for A (the model's
 * {@link DeviceChange}: an incoming call from B at A, alerting or connected as configured) it sends an
 * INVITE to B's client, To `sip:<B>@<domain>` (claim 13: a URI built from B's extension), From A's URI,
 * offering an MSRP chat stream through the daemon's relay (RFC 4975). B's 200 OK establishes B's leg (the
 * UA sends the ACK, RFC 3261 section 13.2.2.4); the daemon then connects A's own client the same way. A
 * rejection or a timeout is reported to A's client in a MESSAGE with a `message/sipfrag` body (RFC 3420)
 * carrying the final status. Re-INVITEs (escalation to audio, video, screen sharing) are relayed between the
 * legs with the MSRP stream rewritten for each side. The session ends with the phone call (BYE on both legs)
 * unless both users' settings keep it, and when either client sends BYE.
 *
 * `Answer-Mode` (RFC 5373) tells the invited client whether to accept at once (`Auto`) or ask its user
 * (`Manual`), from the per-contact setting of that client's user; `never` on either side opens nothing.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';

import { ConnectionState } from '../../cti/index.js';
import type { MsrpLeg, MsrpRelay, MsrpRelaySession } from '../../media/msrp/index.js';
import { CallDirection, type DeviceChange, type PbxModel } from '../../model/index.js';
import type { Dialog, SipStack, IncomingRequest, OutgoingResponse } from '../../sip/index.js';
import type { Store } from '../../store/store.js';
import type { JsonHttpServer } from '../../util/http.js';
import { HttpProblem } from '../../util/http.js';
import { createLogger } from '../../util/log.js';
import { MetricsRegistry, type Counter, type Gauge } from '../../util/metrics.js';
import type { ClientTarget, ComputerInterfaces } from '../computer-interfaces.js';
import { SessionError } from './errors.js';
import { chatOffer, readClientSdp, rewriteForPeer, type RelayEndpoint } from './sdp.js';
import { ChatMode, OpenMode, SessionSettingsStore } from './settings.js';

const log = createLogger('sessions');

/** Lifecycle of a concurrent session. */
export enum SessionState {
  /** INVITE sent to the calling party's client (claim 11: "requesting a media session"). */
  Inviting = 'inviting',
  /** That client accepted (claim 20: 200 OK); the called party's own client is being connected. */
  Connecting = 'connecting',
  /** Both legs confirmed; MSRP flows through the relay. */
  Established = 'established',
  /** Ended by the call, a client's BYE, or the admin API. */
  Ended = 'ended',
  /** Never established: rejected, timed out, or no client. */
  Failed = 'failed',
}

/** When a session opens, relative to the phone call at A. */
export enum OpenOn {
  /** While A's phone rings (RFC-less: the CTI Delivered event). */
  Alerting = 'alerting',
  /** Once A answered (Established event). */
  Connected = 'connected',
}

/** One client's side of a session. */
export interface SessionLeg {
  /** The user's extension. */
  readonly user: string;
  /** `sip:<ext>@<domain>`. */
  readonly aor: string;
  dialog: Dialog | undefined;
  readonly relay: MsrpLeg;
  /** SDP o= session id and version the daemon uses towards this client (RFC 3264 section 8). */
  readonly sdpId: number;
  sdpVersion: number;
  /** Media lines the client accepted (`message/TCP/MSRP`, `audio/RTP/AVP`, ...). */
  media: string[];
  /** MSRP through the relay, or page-mode MESSAGE (the user's `chat` setting). */
  readonly chat: ChatMode;
}

/** A concurrent media session between the computer interfaces of A (called) and B (calling). */
export interface ConcurrentSession {
  readonly id: string;
  /** RFC 7989 Session-ID carried in every request of the session (ties page-mode MESSAGEs to it). */
  readonly sessionId: string;
  /** The PBX call it runs beside. */
  readonly pbxCallId: string;
  state: SessionState;
  /** [A's client leg, B's client leg]. */
  readonly legs: readonly [SessionLeg, SessionLeg];
  readonly relay: MsrpRelaySession;
  readonly startedAt: number;
  establishedAt?: number;
  /** Final status of a failed INVITE, or why it ended. */
  outcome?: string;
  /** Re-INVITE in progress (RFC 3261 section 14.1: one at a time, else 491). */
  escalating: boolean;
  abort: AbortController;
}

/** Options of {@link ConcurrentSessions}. */
export interface ConcurrentSessionsOptions {
  model: PbxModel;
  sip: SipStack;
  /** The users' computer interfaces (registrar location service, or configured). */
  clients: ComputerInterfaces;
  store: Store;
  relay: MsrpRelay;
  metrics?: MetricsRegistry;
  /** Default `connected`. */
  openOn?: OpenOn | `${OpenOn}`;
  /** CANCEL an unanswered INVITE after this (default 30 s); reported as 408. */
  inviteTimeoutMs?: number;
}

/** JSON view of a session for the admin API. */
export interface SessionView {
  id: string;
  pbxCallId: string;
  state: SessionState;
  users: [string, string];
  media: [string[], string[]];
  startedAt: string;
  establishedAt?: string;
  outcome?: string;
}

/** Events: `state` (session) on every state change. */
export interface ConcurrentSessionsEvents {
  state: [session: ConcurrentSession];
}

/** The concurrent media session service. */
export class ConcurrentSessions extends EventEmitter<ConcurrentSessionsEvents> {
  readonly settings: SessionSettingsStore;
  private readonly o: ConcurrentSessionsOptions;
  private readonly byCall = new Map<string, ConcurrentSession>();
  private readonly byId = new Map<string, ConcurrentSession>();
  private readonly byDialog = new Map<string, { session: ConcurrentSession; side: 0 | 1 }>();
  /** PBX calls already considered (opened, skipped or failed): decided once per call, until it ends. */
  private readonly considered = new Set<string>();
  private readonly unsubscribe: () => void;
  private readonly m: { opened: Counter; skipped: Counter; escalations: Counter; reports: Counter; ended: Counter; live: Gauge; pages: Counter };
  private nextId = 1;
  private closed = false;

  constructor(o: ConcurrentSessionsOptions) {
    super();
    this.o = o;
    this.settings = new SessionSettingsStore(o.store);
    const metrics = o.metrics ?? new MetricsRegistry();
    this.m = {
      opened: metrics.counter('switchhook_sessions_total', 'Concurrent media sessions attempted, by outcome (established, rejected, timeout, noMsrp).'),
      skipped: metrics.counter('switchhook_sessions_skipped_total', 'Calls for which no session was opened, by reason (never, noClient).'),
      escalations: metrics.counter('switchhook_sessions_escalations_total', 'Re-INVITEs relayed between the clients, by result.'),
      reports: metrics.counter('switchhook_sessions_reports_total', 'Failure reports (MESSAGE) sent to the inviting client, by status.'),
      ended: metrics.counter('switchhook_sessions_ended_total', 'Established sessions ended, by reason.'),
      live: metrics.gauge('switchhook_sessions_live', 'Concurrent media sessions in progress.'),
      pages: metrics.counter('switchhook_sessions_page_messages_total', 'Page-mode MESSAGEs relayed for clients without MSRP, by direction and result.'),
    };
    this.unsubscribe = o.model.onChange((c) => this.onDeviceChange(c));
    o.sip.use('INVITE', (req, res, next) => this.onInDialog(req, res, next));
    o.sip.use('BYE', (req, res, next) => this.onInDialog(req, res, next));
    o.sip.use('MESSAGE', (req, res, next) => this.onPageMessage(req, res, next));
    o.sip.ua.on('dialogTerminated', (d: Dialog) => this.byDialog.delete(d.id));
  }

  /** Load the stored settings. */
  async start(): Promise<void> {
    await this.settings.load();
  }

  /** Live and recent sessions. */
  sessions(): ConcurrentSession[] {
    return [...this.byId.values()];
  }

  /** The session beside a PBX call. */
  forCall(pbxCallId: string): ConcurrentSession | undefined {
    return this.byCall.get(pbxCallId);
  }

  private aor(user: string): string {
    return this.o.clients.aor(user);
  }

  private clientOf(user: string): ClientTarget | undefined {
    return this.o.clients.find(user);
  }

  private onDeviceChange(c: DeviceChange): void {
    if (this.closed) return;
    for (const cc of c.calls) {
      const call = cc.call;
      if (cc.ended) {
        this.considered.delete(call.callId);
        const s = this.byCall.get(call.callId);
        if (s && (s.legs[0].user === c.device || s.legs[1].user === c.device)) this.callEnded(s);
        continue;
      }
      if (call.direction !== CallDirection.Incoming || !call.remote || this.considered.has(call.callId)) continue;
      const at = (this.o.openOn ?? OpenOn.Connected) === OpenOn.Alerting ? ConnectionState.Alerting : ConnectionState.Connected;
      if (call.state !== at) continue;
      this.considered.add(call.callId);
      this.open(c.device, call.remote, call.callId).catch((err: unknown) => log.warn(`session for call ${call.callId} failed: ${(err as Error).message}`));
    }
  }

  /**
   * Open a session for PBX call `pbxCallId` in which `caller`'s phone calls `called`'s: the called user's
   * computer interface invites the caller's. Resolves with the session (or undefined when none opened).
   */
  async open(called: string, caller: string, pbxCallId: string): Promise<ConcurrentSession | undefined> {
    const modeA = this.settings.modeFor(called, caller);
    const modeB = this.settings.modeFor(caller, called);
    if (modeA === OpenMode.Never || modeB === OpenMode.Never) {
      this.m.skipped.inc({ reason: 'never' });
      return undefined;
    }
    const ta = this.clientOf(called);
    const tb = this.clientOf(caller);
    if (!ta || !tb) {
      this.m.skipped.inc({ reason: 'noClient' });
      return undefined;
    }
    const relay = this.o.relay.createSession();
    const leg = (user: string, r: MsrpLeg): SessionLeg => ({
      user, aor: this.aor(user), dialog: undefined, relay: r, sdpId: Math.floor(Math.random() * 1e9), sdpVersion: 1, media: [], chat: this.settings.get(user).chat as ChatMode,
    });
    const s: ConcurrentSession = {
      id: `s${this.nextId++}`,
      sessionId: randomBytes(16).toString('hex'),
      pbxCallId,
      state: SessionState.Inviting,
      legs: [leg(called, relay.legs[0]), leg(caller, relay.legs[1])],
      relay,
      startedAt: Date.now(),
      escalating: false,
      abort: new AbortController(),
    };
    for (const side of [0, 1] as const) {
      const l = s.legs[side];
      if (l.chat === ChatMode.Page) {
        l.relay.sink = (msg) => this.sendPage(s, side, msg.body, msg.contentType, 'fromMsrp');
        l.media.push('message/SIP');
      }
    }
    this.byCall.set(pbxCallId, s);
    this.byId.set(s.id, s);
    this.emit('state', s);
    // Claim 11: A's computer interface requests the session from B's.
    const b = await this.invite(s, 1, tb, modeB);
    if (!this.live(s, b)) return s;
    if (b.status >= 300 || (s.legs[1].chat === ChatMode.Msrp && !b.dialog)) {
      this.fail(s, b.status === 487 && b.timedOut ? 408 : b.status, b.reason);
      await this.report(s, ta, b.status === 487 && b.timedOut ? '408 Request Timeout' : `${b.status} ${b.reason}`, b.callId);
      return s;
    }
    if (b.dialog && !s.legs[1].relay.remotePath) {
      // 200 OK without an MSRP stream: the chat was refused (RFC 3264 section 6: port 0).
      this.fail(s, 488, 'No MSRP stream accepted');
      await this.o.sip.bye(b.dialog).catch(() => undefined);
      await this.report(s, ta, '488 Not Acceptable Here', b.callId);
      return s;
    }
    this.setState(s, SessionState.Connecting);
    const a = await this.invite(s, 0, ta, modeA);
    if (!this.live(s, a)) return s;
    if (a.status >= 300 || (s.legs[0].chat === ChatMode.Msrp && (!a.dialog || !s.legs[0].relay.remotePath))) {
      this.fail(s, a.status >= 300 ? a.status : 488, a.reason);
      if (a.dialog) await this.o.sip.bye(a.dialog).catch(() => undefined);
      if (b.dialog) await this.o.sip.bye(b.dialog).catch(() => undefined);
      return s;
    }
    s.establishedAt = Date.now();
    this.m.opened.inc({ outcome: 'established' });
    this.m.live.set(this.countLive() + 1);
    this.setState(s, SessionState.Established);
    return s;
  }

  /** False (and the dialog ended) when the session ended while the INVITE was out. */
  private live(s: ConcurrentSession, r: { dialog?: Dialog }): boolean {
    if (s.state !== SessionState.Ended && !this.closed) return true;
    if (r.dialog && this.o.sip.ua.dialogs.has(r.dialog.id)) void this.o.sip.bye(r.dialog).catch(() => undefined);
    return false;
  }

  private countLive(): number {
    let n = 0;
    for (const s of this.byId.values()) if (s.state === SessionState.Established) n++;
    return n;
  }

  private endpoint(leg: SessionLeg): RelayEndpoint {
    const a = this.o.relay.address;
    return { host: a.host, port: a.port, path: leg.relay.localUri };
  }

  private async invite(s: ConcurrentSession, side: 0 | 1, target: ClientTarget, mode: OpenMode): Promise<{ status: number; reason: string; dialog?: Dialog; callId: string; timedOut: boolean }> {
    const leg = s.legs[side];
    const peer = s.legs[side === 0 ? 1 : 0];
    if (leg.chat === ChatMode.Page) {
      // A client without MSRP: the session opens with a page-mode MESSAGE (RFC 3428) naming it.
      const r = await this.page(s, side, target, Buffer.from(`Chat beside the call with ${peer.user}: reply to this message.`), 'text/plain;charset=UTF-8', { Subject: `Call ${peer.user} - ${leg.user}`, 'X-PBX-Call-ID': s.pbxCallId });
      return { status: r.status, reason: r.reason, callId: r.callId, timedOut: r.status === 408 };
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      s.abort.abort();
    }, this.o.inviteTimeoutMs ?? 30_000);
    let callId = '';
    try {
      const r = await this.o.sip.request({
        method: 'INVITE',
        uri: target.uri,
        from: `<${peer.aor}>`,
        to: `<${leg.aor}>`,
        ...(target.destination ? { destination: target.destination } : {}),
        headers: {
          'Answer-Mode': mode === OpenMode.Prompt ? 'Manual' : 'Auto',
          Subject: `Call ${peer.user} - ${leg.user}`,
          'X-PBX-Call-ID': s.pbxCallId,
          'Session-ID': s.sessionId,
        },
        body: chatOffer(this.endpoint(leg), leg.sdpId, leg.sdpVersion),
        contentType: 'application/sdp',
        signal: s.abort.signal,
        onRequest: (req) => {
          callId = req.callId;
        },
      });
      const res = r.response;
      if (res.status < 300 && r.dialog) {
        leg.dialog = r.dialog;
        this.byDialog.set(r.dialog.id, { session: s, side });
        try {
          const sdp = readClientSdp(res.body.toString('utf8'));
          leg.media = sdp.media;
          if (sdp.msrpPath) leg.relay.remotePath = sdp.msrpPath;
        } catch (err) {
          log.warn(`session ${s.id}: bad SDP answer from ${leg.aor}: ${(err as Error).message}`);
        }
        return { status: res.status, reason: res.reason, dialog: r.dialog, callId, timedOut };
      }
      return { status: res.status, reason: res.reason, callId, timedOut };
    } catch (err) {
      // A bad configured URI, or the stack closing: the INVITE never went out.
      log.warn(`session ${s.id}: INVITE to ${leg.aor} not sent: ${(err as Error).message}`);
      return { status: 500, reason: 'Not Sent', callId, timedOut };
    } finally {
      clearTimeout(timer);
    }
  }

  /** One page-mode MESSAGE to a leg's client, From the other leg's user, with the session's Session-ID. */
  private async page(s: ConcurrentSession, side: 0 | 1, target: ClientTarget, body: Buffer, contentType: string, headers: Record<string, string> = {}): Promise<{ status: number; reason: string; callId: string }> {
    const leg = s.legs[side];
    const peer = s.legs[side === 0 ? 1 : 0];
    let callId = '';
    try {
      const r = await this.o.sip.request({
        method: 'MESSAGE',
        uri: target.uri,
        from: `<${peer.aor}>`,
        to: `<${leg.aor}>`,
        ...(target.destination ? { destination: target.destination } : {}),
        headers: { ...headers, 'Session-ID': s.sessionId },
        body,
        contentType,
        onRequest: (req) => {
          callId = req.callId;
        },
      });
      return { status: r.response.status, reason: r.response.reason, callId };
    } catch (err) {
      log.warn(`session ${s.id}: MESSAGE to ${leg.aor} not sent: ${(err as Error).message}`);
      return { status: 503, reason: 'Service Unavailable', callId };
    }
  }

  /** Deliver a chat message to a page-mode leg (from the relay's sink, or from the other page client). */
  private async sendPage(s: ConcurrentSession, side: 0 | 1, body: Buffer, contentType: string, direction: string): Promise<number> {
    const target = this.clientOf(s.legs[side].user);
    const status = target ? (await this.page(s, side, target, body, contentType)).status : 480;
    this.m.pages.inc({ direction, result: status < 300 ? 'delivered' : 'failed' });
    return status;
  }

  /**
   * A MESSAGE from a page-mode client of an established session (matched by its Session-ID, else by the
   * two users): relayed to the other client, over MSRP or as a MESSAGE; the answer carries the outcome.
   */
  private async onPageMessage(req: IncomingRequest, res: OutgoingResponse, next: (err?: unknown) => void): Promise<unknown> {
    const sid = req.get('session-id')?.split(';')[0]?.trim().toLowerCase();
    const fromUser = req.message.from.uri.user;
    const toUser = req.message.to.uri.user ?? req.uri.user;
    let found: { s: ConcurrentSession; side: 0 | 1 } | undefined;
    for (const s of this.byId.values()) {
      if (s.state !== SessionState.Established || (sid && s.sessionId !== sid)) continue;
      const side = s.legs[0].user === fromUser && s.legs[1].user === toUser ? 0 : s.legs[1].user === fromUser && s.legs[0].user === toUser ? 1 : -1;
      if (side >= 0 && s.legs[side as 0 | 1].chat === ChatMode.Page) {
        found = { s, side: side as 0 | 1 };
        break;
      }
    }
    if (!found) return next();
    const { s, side } = found;
    const other = side === 0 ? 1 : 0;
    const contentType = req.get('content-type') ?? 'text/plain';
    let status: number;
    if (s.legs[other].chat === ChatMode.Page) {
      status = await this.sendPage(s, other, req.body, contentType, 'pageToPage');
    } else {
      status = await this.o.relay.inject(s.relay, other, req.body, contentType);
      this.m.pages.inc({ direction: 'toMsrp', result: status < 300 ? 'delivered' : 'failed' });
    }
    res.send(status < 300 ? 200 : status >= 400 && status < 700 ? status : 500);
    return undefined;
  }

  /**
   * Tell the inviting user's client that the session did not open: MESSAGE with `message/sipfrag` (RFC
   * 3420) holding the final status line, `In-Reply-To` the failed INVITE's Call-ID (RFC 3261 section 20.21).
   */
  private async report(s: ConcurrentSession, to: ClientTarget, statusLine: string, inviteCallId: string): Promise<void> {
    const a = s.legs[0];
    const b = s.legs[1];
    this.m.reports.inc({ status: statusLine.slice(0, 3) });
    const r = await this.o.sip.request({
      method: 'MESSAGE',
      uri: to.uri,
      from: `<${b.aor}>`,
      to: `<${a.aor}>`,
      ...(to.destination ? { destination: to.destination } : {}),
      headers: { Subject: `Chat session with ${b.user} not established`, 'In-Reply-To': inviteCallId, 'X-PBX-Call-ID': s.pbxCallId },
      body: `SIP/2.0 ${statusLine}\r\n`,
      contentType: 'message/sipfrag',
    }).catch((err: unknown) => {
      log.warn(`session ${s.id}: report not sent: ${String(err)}`);
      return undefined;
    });
    if (r && r.response.status >= 300) log.info(`session ${s.id}: report answered ${r.response.status}`);
  }

  private fail(s: ConcurrentSession, status: number, reason: string): void {
    s.outcome = `${status} ${reason}`;
    this.m.opened.inc({ outcome: status === 408 ? 'timeout' : status === 488 ? 'noMsrp' : 'rejected' });
    this.o.relay.closeSession(s.relay);
    this.byCall.delete(s.pbxCallId);
    this.setState(s, SessionState.Failed);
    this.byId.delete(s.id);
  }

  private setState(s: ConcurrentSession, state: SessionState): void {
    s.state = state;
    this.emit('state', s);
  }

  private callEnded(s: ConcurrentSession): void {
    const keep = !this.settings.get(s.legs[0].user).endWithCall && !this.settings.get(s.legs[1].user).endWithCall;
    this.byCall.delete(s.pbxCallId);
    if (keep && s.state === SessionState.Established) return;
    void this.end(s, 'callEnded');
  }

  /** End a session: CANCEL an INVITE in progress, BYE both legs, close the relay session. */
  async end(s: ConcurrentSession, reason: string): Promise<void> {
    if (s.state === SessionState.Ended || s.state === SessionState.Failed) return;
    const was = s.state;
    s.outcome = reason;
    this.byCall.delete(s.pbxCallId);
    this.byId.delete(s.id);
    this.setState(s, SessionState.Ended);
    s.abort.abort();
    if (was === SessionState.Established) {
      this.m.ended.inc({ reason });
      this.m.live.set(this.countLive());
    }
    this.o.relay.closeSession(s.relay);
    await Promise.all(s.legs.map(async (leg) => {
      const d = leg.dialog;
      if (!d) return;
      this.byDialog.delete(d.id);
      if (this.o.sip.ua.dialogs.has(d.id)) await this.o.sip.bye(d).catch(() => undefined);
    }));
  }

  /** In-dialog INVITE (escalation) and BYE from a client of a session. */
  private onInDialog(req: IncomingRequest, res: OutgoingResponse, next: (err?: unknown) => void): unknown {
    const found = req.dialog ? this.byDialog.get(req.dialog.id) : undefined;
    if (!found) return next();
    const { session: s, side } = found;
    if (req.method === 'BYE') {
      // RFC 3261 section 15.1.2: 200 to the BYE, then end the other leg.
      res.send(200);
      this.byDialog.delete(req.dialog!.id);
      this.o.sip.ua.removeDialog(req.dialog!, 'bye');
      s.legs[side].dialog = undefined;
      return this.end(s, 'clientBye');
    }
    return this.escalate(s, side, req, res);
  }

  /**
   * Relay a re-INVITE (claim 18: escalation from chat to audio, video, screen sharing) to the other client
   * and its answer back, each SDP rewritten for the receiving leg (RFC 3264 section 8).
   */
  private async escalate(s: ConcurrentSession, side: 0 | 1, req: IncomingRequest, res: OutgoingResponse): Promise<void> {
    const me = s.legs[side];
    const other = s.legs[side === 0 ? 1 : 0];
    if (s.state !== SessionState.Established || !other.dialog) {
      res.send(s.state === SessionState.Established ? 481 : 491);
      return;
    }
    if (s.escalating) {
      // RFC 3261 section 14.2: an offer while ours is pending.
      this.m.escalations.inc({ result: 'glare' });
      res.send(491);
      return;
    }
    const body = req.body.toString('utf8');
    try {
      readClientSdp(body);
    } catch (err) {
      this.m.escalations.inc({ result: 'badSdp' });
      res.send(488, 'Not Acceptable Here');
      log.info(`session ${s.id}: re-INVITE with bad SDP: ${(err as Error).message}`);
      return;
    }
    s.escalating = true;
    try {
      other.sdpVersion++;
      const r = await this.o.sip.request({
        method: 'INVITE',
        dialog: other.dialog,
        body: rewriteForPeer(body, this.endpoint(other), other.sdpId, other.sdpVersion),
        contentType: 'application/sdp',
      });
      const answer = r.response;
      if (answer.status >= 300) {
        this.m.escalations.inc({ result: 'rejected' });
        res.send(answer.status, answer.reason);
        return;
      }
      const sdp = answer.body.toString('utf8');
      other.media = readClientSdp(sdp).media;
      me.media = readClientSdp(body).media;
      me.sdpVersion++;
      this.m.escalations.inc({ result: 'accepted' });
      res.send(200, { body: rewriteForPeer(sdp, this.endpoint(me), me.sdpId, me.sdpVersion), contentType: 'application/sdp' });
    } catch (err) {
      this.m.escalations.inc({ result: 'error' });
      res.send(500);
      log.warn(`session ${s.id}: escalation failed: ${(err as Error).message}`);
    } finally {
      s.escalating = false;
    }
  }

  /** JSON view of a session. */
  static view(s: ConcurrentSession): SessionView {
    const v: SessionView = {
      id: s.id,
      pbxCallId: s.pbxCallId,
      state: s.state,
      users: [s.legs[0].user, s.legs[1].user],
      media: [s.legs[0].media, s.legs[1].media],
      startedAt: new Date(s.startedAt).toISOString(),
    };
    if (s.establishedAt !== undefined) v.establishedAt = new Date(s.establishedAt).toISOString();
    if (s.outcome !== undefined) v.outcome = s.outcome;
    return v;
  }

  /**
   * Admin routes: `GET /api/sessions`, `DELETE /api/sessions/:id`, and per-user settings
   * `GET|PUT|DELETE /api/sessions/settings/:user`.
   */
  registerRoutes(http: JsonHttpServer): void {
    http.route('GET', '/api/sessions', () => ({ json: this.sessions().map((s) => ConcurrentSessions.view(s)) }));
    http.route('DELETE', '/api/sessions/:id', async (req) => {
      const s = this.byId.get(req.params.id!);
      if (!s) throw new HttpProblem(404, 'No such session', `no session '${req.params.id}'`);
      await this.end(s, 'admin');
      return { status: 204 };
    });
    const user = (u: string | undefined): string => {
      if (!u || !/^[0-9A-Za-z*#+._-]{1,32}$/.test(u)) throw new SessionError('SESSION_ERR_USER', `bad user '${u}'`, 400);
      return u;
    };
    http.route('GET', '/api/sessions/settings/:user', (req) => ({ json: { user: user(req.params.user), saved: this.settings.has(req.params.user!), settings: this.settings.get(req.params.user!) } }));
    http.route('PUT', '/api/sessions/settings/:user', async (req) => ({ json: { user: user(req.params.user), settings: await this.settings.put(req.params.user!, req.body) } }));
    http.route('DELETE', '/api/sessions/settings/:user', async (req) => {
      const found = await this.settings.delete(user(req.params.user));
      if (!found) throw new HttpProblem(404, 'No settings', `user ${req.params.user} has no saved settings`);
      return { status: 204 };
    });
  }

  /** End every session and stop listening to the model. */
  async close(): Promise<void> {
    this.unsubscribe();
    this.considered.clear();
    const all = [...this.byId.values()];
    await Promise.all(all.map((s) => this.end(s, 'shutdown')));
    this.closed = true;
  }
}
