/**
 * Moving a call between a user's desk phone and their softphone (claims 32-40 of the first seed;
 * docs/transfers.md). To the softphone: a CTI SingleStepTransferCall (ECMA-269 §17.2.20) sends the call to
 * the user's computer-interface SIP URI; the PBX's VoIP gateway INVITEs us (RFC 3261 §13); we INVITE the
 * softphone's registered contact (a back-to-back user agent), answer the gateway 200 OK once it answered,
 * and join the two RTP legs on the native bridge. Back to the desk: SingleStepTransferCall of the gateway's
 * connection to the desk extension; the PBX rings the phone (PDSV for a digital one) and ends the VoIP
 * session with BYE once the phone has the call; we BYE the softphone and release the legs.
 * A transfer that fails halfway leaves the call where it was: no softphone answer or no gateway INVITE
 * undoes the CTI transfer towards the desk phone.
 */
import type { TransferTargetMove, TransferTargetResolver } from '../control/call-control.js';
import type { ConnectionId, CstaEvent } from '../../cti/index.js';
import { CstaEventKind, normaliseDeviceId } from '../../cti/events.js';
import type { RtpBridge } from '../../media/rtp-bridge.js';
import type { RtpEngine } from '../../media/rtp-engine.js';
import type { RtpLeg } from '../../media/rtp-leg.js';
import { legOptionsFromSdp, sdpForLeg } from '../../media/sdp.js';
import type { PbxModel } from '../../model/pbx-model.js';
import type { Dialog } from '../../sip/dialog/dialog.js';
import type { Registrar } from '../../sip/registrar/registrar.js';
import type { IncomingRequest, OutgoingResponse, NextFunction } from '../../sip/ua/app.js';
import type { SipStack } from '../../sip/ua/stack.js';
import type { JsonHttpServer } from '../../util/http.js';
import { createLogger } from '../../util/log.js';
import { MetricsRegistry, type Counter } from '../../util/metrics.js';
import { TransferError } from './errors.js';

const log = createLogger('transfer');

/** The CTI services this feature uses ({@link CtiLink} has them). */
export interface TransferLink {
  singleStepTransferCall(c: ConnectionId, to: string): Promise<ConnectionId | undefined>;
  on(event: 'event', listener: (device: string, event: CstaEvent) => void): unknown;
  off(event: 'event', listener: (device: string, event: CstaEvent) => void): unknown;
}

/** Options of {@link SoftphoneTransfer.registerRoutes}. */
export interface TransferRoutesOptions {
  /**
   * Checks that the requester may move `device`'s call (call control's ownership table): `principal` is the
   * request's authenticated principal, undefined when the admin API does not authenticate. Throws an error
   * with `httpStatus` (rendered as problem details) when not.
   */
  readonly authorize?: (device: string, principal: string | undefined) => void;
}

/** The user part of a `sip:`/`sips:`/`tel:` URI or name-addr (RFC 3261 §19.1.1), percent-decoded; bare digits as they are. */
function userPart(target: string): string | undefined {
  let s = target.trim();
  const lt = s.indexOf('<');
  if (lt >= 0) s = s.slice(lt + 1);
  if (/^\+?[0-9*#]+$/.test(s)) return s;
  const m = /^(?:sips?:([^@;>?]+)@|tel:([^;>?]+))/i.exec(s);
  const raw = m?.[1] ?? m?.[2];
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** One user: desk phone, computer-interface name and softphone AOR. */
export interface SoftphoneUser {
  /** The desk phone's extension (a monitored device). */
  readonly device: string;
  /** User part of the computer-interface URI the PBX is told to transfer to (`sip:<user>@<our host>`). */
  readonly user: string;
  /** The softphone's address-of-record at our registrar (`sip:alice@example.com`). */
  readonly softphoneAor: string;
}

/** Options of {@link SoftphoneTransfer}. */
export interface SoftphoneTransferOptions {
  readonly link: TransferLink;
  readonly model: PbxModel;
  readonly stack: SipStack;
  readonly registrar: Pick<Registrar, 'lookup'>;
  readonly engine: RtpEngine;
  readonly users: readonly SoftphoneUser[];
  /** Host of the computer-interface URIs (default: the stack's UDP address). */
  readonly host?: string;
  /** Address written into our SDP (default 127.0.0.1, where the engine binds by default). */
  readonly mediaAddress?: string;
  /** How long the softphone may ring before the call goes back to the desk (default 20 s). */
  readonly softphoneAnswerMs?: number;
  /** How long to wait for the gateway's INVITE after the CTI transfer (default 10 s). */
  readonly gatewayInviteMs?: number;
  /** How long the desk phone may ring on a transfer back before the request fails (default 30 s). */
  readonly deskAnswerMs?: number;
  readonly metrics?: MetricsRegistry;
}

/** Where a user's call is. */
export enum TransferPhase {
  /** On the desk phone (or no call). */
  OnDesk = 'onDesk',
  /** CTI transfer sent; waiting for the gateway's INVITE and the softphone's answer. */
  ToSoftphone = 'toSoftphone',
  /** Bridged: gateway <-> us <-> softphone. */
  OnSoftphone = 'onSoftphone',
  /** CTI transfer back sent; the desk phone rings, the softphone still talks. */
  ToDesk = 'toDesk',
}

/** A user's state as the admin API shows it. */
export interface TransferView {
  readonly device: string;
  readonly user: string;
  readonly phase: TransferPhase;
  readonly voipCallId?: string;
  readonly farDevice?: string;
  readonly legs?: { gateway: number; softphone: number };
}

interface Session {
  readonly gatewayLeg: RtpLeg;
  readonly softphoneLeg: RtpLeg;
  readonly bridge: RtpBridge;
  readonly gatewayDialog: Dialog;
  readonly softphoneDialog: Dialog;
}

interface Waiter {
  resolve: () => void;
  reject: (e: TransferError) => void;
  timer: NodeJS.Timeout;
}

interface UserState {
  readonly cfg: SoftphoneUser;
  readonly ciUri: string;
  readonly networkDevice: string;
  phase: TransferPhase;
  voipCallId: string | undefined;
  farDevice: string | undefined;
  session: Session | undefined;
  waiter: Waiter | undefined;
  /** Legs of an INVITE being set up (released if the setup fails). */
  setup: { legs: RtpLeg[]; abort: AbortController } | undefined;
}

/** The transfer feature: compose with a CTI link, the model, a SIP stack with a registrar, and an RTP engine. */
export class SoftphoneTransfer implements TransferTargetResolver {
  private readonly byDevice = new Map<string, UserState>();
  private readonly byUser = new Map<string, UserState>();
  private readonly softphoneAnswerMs: number;
  private readonly gatewayInviteMs: number;
  private readonly deskAnswerMs: number;
  private readonly mediaAddress: string;
  private readonly counters: { transfers: Counter; failures: Counter; invites: Counter };
  private readonly onLinkEvent = (device: string, ev: CstaEvent): void => this.linkEvent(device, ev);
  private readonly onDialogEnded = (d: Dialog, reason: string): void => this.dialogEnded(d, reason);
  private closed = false;

  constructor(private readonly o: SoftphoneTransferOptions) {
    this.softphoneAnswerMs = o.softphoneAnswerMs ?? 20_000;
    this.gatewayInviteMs = o.gatewayInviteMs ?? 10_000;
    this.deskAnswerMs = o.deskAnswerMs ?? 30_000;
    this.mediaAddress = o.mediaAddress ?? '127.0.0.1';
    const metrics = o.metrics ?? new MetricsRegistry();
    this.counters = {
      transfers: metrics.counter('switchhook_transfers_total', 'Desk/softphone transfers completed, by direction.'),
      failures: metrics.counter('switchhook_transfer_failures_total', 'Desk/softphone transfers that failed, by direction and code.'),
      invites: metrics.counter('switchhook_transfer_invites_total', 'INVITEs from the PBX gateway to computer interfaces, by final status.'),
    };
    for (const u of o.users) {
      if (this.byDevice.has(u.device) || this.byUser.has(u.user)) throw new TransferError('TRANSFER_ERR_USER', `user ${u.user} / ${u.device} configured twice`);
      const st: UserState = {
        cfg: u,
        ciUri: '',
        networkDevice: normaliseDeviceId(`sip:${u.user}@x`),
        phase: TransferPhase.OnDesk,
        voipCallId: undefined,
        farDevice: undefined,
        session: undefined,
        waiter: undefined,
        setup: undefined,
      };
      this.byDevice.set(u.device, st);
      this.byUser.set(u.user, st);
    }
    o.stack.use('INVITE', (req, res, next) => this.onInvite(req, res, next));
    o.stack.ua.on('dialogTerminated', this.onDialogEnded);
    o.link.on('event', this.onLinkEvent);
  }

  /** The computer-interface URI of a user: where the PBX sends the call (claim 34). */
  computerInterfaceUri(user: string): string {
    const a = this.o.stack.localAddress('udp');
    const host = this.o.host ?? (a ? `${a.host}:${a.port}` : '127.0.0.1');
    return `sip:${user}@${host}`;
  }

  /** Every user's state. */
  list(): TransferView[] {
    return [...this.byDevice.values()].map((u) => this.view(u));
  }

  /** Number of bridged sessions and setups in progress (0 once every call ended). */
  get activeSessions(): number {
    let n = 0;
    for (const u of this.byDevice.values()) if (u.session || u.setup) n++;
    return n;
  }

  /**
   * Moves the desk phone's connected call to the user's softphone (claims 32-36). Resolves when the
   * softphone answered and the media is bridged.
   */
  async toSoftphone(device: string): Promise<TransferView> {
    const u = this.userOf(device);
    if (u.phase !== TransferPhase.OnDesk) throw new TransferError('TRANSFER_ERR_STATE', `${device}: a transfer is in progress or the call is on the softphone (${u.phase})`);
    if (this.o.registrar.lookup(u.cfg.softphoneAor).length === 0) throw new TransferError('TRANSFER_ERR_NOT_REGISTERED', `${u.cfg.softphoneAor} has no registered contact`);
    const call = this.o.model.callsOf(device).find((c) => c.state === 'connected');
    if (!call) throw new TransferError('TRANSFER_ERR_NO_CALL', `${device} has no connected call`);
    u.phase = TransferPhase.ToSoftphone;
    u.voipCallId = undefined;
    u.farDevice = undefined;
    const done = this.wait(u, this.gatewayInviteMs + this.softphoneAnswerMs, 'TRANSFER_ERR_GATEWAY');
    const inviteTimer = setTimeout(() => {
      if (u.phase === TransferPhase.ToSoftphone && !u.setup) void this.undo(u, new TransferError('TRANSFER_ERR_GATEWAY', `no INVITE from the PBX gateway for ${u.cfg.user}`));
    }, this.gatewayInviteMs);
    try {
      const moved = await this.o.link.singleStepTransferCall({ callId: call.callId, deviceId: device }, this.computerInterfaceUri(u.cfg.user));
      if (moved && u.voipCallId === undefined) u.voipCallId = moved.callId;
    } catch (err) {
      clearTimeout(inviteTimer);
      u.phase = TransferPhase.OnDesk;
      this.settle(u, new TransferError('TRANSFER_ERR_CTI', `SingleStepTransferCall of ${device}: ${(err as Error).message}`, { cause: err }));
    }
    try {
      await done;
      this.counters.transfers.inc({ direction: 'toSoftphone' });
      return this.view(u);
    } catch (err) {
      this.counters.failures.inc({ direction: 'toSoftphone', code: (err as TransferError).code });
      throw err;
    } finally {
      clearTimeout(inviteTimer);
    }
  }

  /**
   * Moves the call from the softphone back to the desk phone (claims 37-40): resolves when the desk phone
   * has the call and the VoIP session is gone.
   */
  async toDesk(device: string): Promise<TransferView> {
    const u = this.userOf(device);
    if (u.phase !== TransferPhase.OnSoftphone || !u.session || u.voipCallId === undefined) {
      throw new TransferError('TRANSFER_ERR_STATE', `${device}: the call is not on the softphone (${u.phase})`);
    }
    u.phase = TransferPhase.ToDesk;
    const done = this.wait(u, this.deskAnswerMs, 'TRANSFER_ERR_NO_ANSWER');
    try {
      await this.o.link.singleStepTransferCall({ callId: u.voipCallId, deviceId: u.networkDevice }, device);
    } catch (err) {
      if (u.phase === TransferPhase.ToDesk) u.phase = TransferPhase.OnSoftphone;
      this.settle(u, new TransferError('TRANSFER_ERR_CTI', `SingleStepTransferCall back to ${device}: ${(err as Error).message}`, { cause: err }));
    }
    try {
      await done;
      this.counters.transfers.inc({ direction: 'toDesk' });
      return this.view(u);
    } catch (err) {
      // The desk phone did not answer in time: the softphone keeps talking until the PBX ends the session.
      if (u.phase === TransferPhase.ToDesk && u.session) u.phase = TransferPhase.OnSoftphone;
      this.counters.failures.inc({ direction: 'toDesk', code: (err as TransferError).code });
      throw err;
    }
  }

  /** Admin routes: `GET /transfers`, `POST /transfers/:device/softphone`, `POST /transfers/:device/desk`. */
  registerRoutes(http: JsonHttpServer, opts: TransferRoutesOptions = {}): void {
    const check = opts.authorize ?? ((): void => undefined);
    http
      .route('GET', '/api/transfers', () => ({ json: this.list() }))
      .route(
        'POST',
        '/api/transfers/:device/softphone',
        async (req) => {
          check(req.params['device']!, req.principal);
          return { json: await this.toSoftphone(req.params['device']!) };
        },
        { principals: 'any' },
      )
      .route(
        'POST',
        '/api/transfers/:device/desk',
        async (req) => {
          check(req.params['device']!, req.principal);
          return { json: await this.toDesk(req.params['device']!) };
        },
        { principals: 'any' },
      );
  }

  /**
   * The transfer target resolver of call control (REFER, uaCSTA SingleStepTransferCall, the embedding API):
   * from the desk phone, a target naming the user's computer interface or softphone (`sip:alice@...`) moves
   * the call to the softphone; while the call is on the softphone, a target naming the desk extension moves
   * it back. Any other target is left to a plain PBX transfer (`undefined`).
   */
  resolveTransfer(phone: string, target: string): TransferTargetMove | undefined {
    const u = this.closed ? undefined : this.byDevice.get(phone);
    if (!u) return undefined;
    const user = userPart(target);
    if (user === undefined) return undefined;
    if (user === u.cfg.user || user === userPart(u.cfg.softphoneAor)) {
      return { direction: TransferPhase.ToSoftphone, aor: u.cfg.softphoneAor, run: async () => void (await this.toSoftphone(phone)) };
    }
    if (user === u.cfg.device && u.phase !== TransferPhase.OnDesk) {
      return { direction: TransferPhase.ToDesk, run: async () => void (await this.toDesk(phone)) };
    }
    return undefined;
  }

  /** Ends every session (BYE both sides), releases legs, detaches. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.o.link.off('event', this.onLinkEvent);
    const byes: Promise<unknown>[] = [];
    for (const u of this.byDevice.values()) {
      this.settle(u, new TransferError('TRANSFER_ERR_CLOSED', 'closed'));
      u.setup?.abort.abort();
      if (u.session) byes.push(this.hangUp(u, undefined));
    }
    await Promise.allSettled(byes);
    this.o.stack.ua.off('dialogTerminated', this.onDialogEnded);
  }

  private userOf(device: string): UserState {
    if (this.closed) throw new TransferError('TRANSFER_ERR_CLOSED', 'closed');
    const u = this.byDevice.get(device);
    if (!u) throw new TransferError('TRANSFER_ERR_USER', `no softphone user for desk phone ${device}`);
    return u;
  }

  private view(u: UserState): TransferView {
    return {
      device: u.cfg.device,
      user: u.cfg.user,
      phase: u.phase,
      ...(u.voipCallId !== undefined ? { voipCallId: u.voipCallId } : {}),
      ...(u.farDevice !== undefined ? { farDevice: u.farDevice } : {}),
      ...(u.session ? { legs: { gateway: u.session.gatewayLeg.rtpPort, softphone: u.session.softphoneLeg.rtpPort } } : {}),
    };
  }

  private wait(u: UserState, ms: number, code: 'TRANSFER_ERR_GATEWAY' | 'TRANSFER_ERR_NO_ANSWER'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        u.waiter = undefined;
        reject(new TransferError(code, `${u.cfg.device}: transfer did not complete in ${ms} ms`));
      }, ms);
      u.waiter = { resolve, reject, timer };
    });
  }

  private settle(u: UserState, err?: TransferError): void {
    const w = u.waiter;
    if (!w) return;
    u.waiter = undefined;
    clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve();
  }

  /** TransferedEvent on the desk phone's monitor: the far party's new callID (ECMA-269 §17.3.22). */
  private linkEvent(device: string, ev: CstaEvent): void {
    if (ev.kind !== CstaEventKind.Transferred) return;
    const u = this.byDevice.get(device);
    if (!u || u.phase !== TransferPhase.ToSoftphone || ev.subjectDevice !== device) return;
    const far = ev.moved.find((m) => m.deviceId !== device);
    if (!far) return;
    u.voipCallId = far.newCallId;
    u.farDevice = far.deviceId;
  }

  /** The gateway's INVITE to a computer-interface URI (claims 35-36): B2BUA towards the softphone. */
  private onInvite(req: IncomingRequest, res: OutgoingResponse, next: NextFunction): void {
    const u = req.inDialog ? undefined : this.byUser.get(req.uri.user ?? '');
    if (!u || this.closed) {
      next();
      return;
    }
    void this.bridgeInvite(u, req, res).catch((err: unknown) => {
      log.rateLimited('warn', 'invite', `INVITE for ${u.cfg.user}: ${(err as Error).message}`);
      res.send(500);
    });
  }

  private async bridgeInvite(u: UserState, req: IncomingRequest, res: OutgoingResponse): Promise<void> {
    if (u.session || u.setup) {
      this.counters.invites.inc({ status: '486' });
      res.send(486);
      return;
    }
    let offer;
    try {
      offer = legOptionsFromSdp(req.body.toString('utf8'));
    } catch (err) {
      this.counters.invites.inc({ status: '488' });
      res.send(488, (err as Error).message.slice(0, 60));
      return;
    }
    const contact = this.o.registrar.lookup(u.cfg.softphoneAor)[0];
    if (!contact) {
      this.counters.invites.inc({ status: '480' });
      res.send(480);
      return;
    }
    const caller = req.message.from.uri.user;
    if (caller !== undefined) u.farDevice ??= caller;
    const gatewayLeg = this.o.engine.createLeg({ ...offer, strictSource: true });
    const softphoneLeg = this.o.engine.createLeg({ payloadType: offer.payloadType ?? 0, telephoneEventPayloadType: offer.telephoneEventPayloadType ?? null });
    const setup = { legs: [gatewayLeg, softphoneLeg], abort: new AbortController() };
    u.setup = setup;
    req.onCancel = () => setup.abort.abort();
    const timer = setTimeout(() => setup.abort.abort(), this.softphoneAnswerMs);
    res.send(180);
    let answered: { dialog: Dialog; sdp: string } | undefined;
    try {
      const r = await this.o.stack.request({
        method: 'INVITE',
        uri: contact.contact,
        ...(contact.received ? { destination: { protocol: contact.received.protocol as 'udp', host: contact.received.host, port: contact.received.port } } : {}),
        from: req.message.header('from')!.replace(/;\s*tag=[^;>\s]*/i, ''),
        to: `<${u.cfg.softphoneAor}>`,
        body: Buffer.from(sdpForLeg({ address: this.mediaAddress, rtpPort: softphoneLeg.rtpPort, payloadType: offer.payloadType ?? 0, telephoneEventPayloadType: offer.telephoneEventPayloadType ?? null })),
        contentType: 'application/sdp',
        signal: setup.abort.signal,
      });
      if (r.response.status < 300 && r.dialog) answered = { dialog: r.dialog, sdp: r.response.body.toString('utf8') };
    } finally {
      clearTimeout(timer);
    }
    u.setup = undefined;
    if (answered && !setup.abort.signal.aborted) {
      try {
        softphoneLeg.update({ ...legOptionsFromSdp(answered.sdp), strictSource: true });
      } catch (err) {
        log.rateLimited('warn', 'answer', `softphone answer for ${u.cfg.user}: ${(err as Error).message}`);
        answered = { ...answered, sdp: '' };
      }
    }
    if (!answered || answered.sdp === '' || setup.abort.signal.aborted) {
      if (answered) await this.o.stack.bye(answered.dialog).catch(() => undefined);
      gatewayLeg.dispose();
      softphoneLeg.dispose();
      this.counters.invites.inc({ status: '480' });
      res.send(480);
      // The PBX reports the network failure; the call goes back to the desk phone.
      if (u.phase === TransferPhase.ToSoftphone) await this.undo(u, new TransferError('TRANSFER_ERR_NO_ANSWER', `softphone ${u.cfg.softphoneAor} did not answer`));
      return;
    }
    const bridge = this.o.engine.bridge(gatewayLeg, softphoneLeg);
    const sent = res.send(200, {
      body: Buffer.from(sdpForLeg({ address: this.mediaAddress, rtpPort: gatewayLeg.rtpPort, payloadType: offer.payloadType ?? 0, telephoneEventPayloadType: offer.telephoneEventPayloadType ?? null })),
      contentType: 'application/sdp',
    });
    if (!sent || !req.dialog) {
      bridge.dispose();
      gatewayLeg.dispose();
      softphoneLeg.dispose();
      await this.o.stack.bye(answered.dialog).catch(() => undefined);
      return;
    }
    this.counters.invites.inc({ status: '200' });
    u.session = { gatewayLeg, softphoneLeg, bridge, gatewayDialog: req.dialog, softphoneDialog: answered.dialog };
    // The transfer is done when the gateway confirmed our 2xx with its ACK (RFC 3261 §13.3.1.4): from then
    // on the PBX holds the VoIP call as connected and may be asked to move it again.
    await this.ackOf(req.dialog);
    if (u.session?.gatewayDialog !== req.dialog) return;
    u.phase = TransferPhase.OnSoftphone;
    this.settle(u);
  }

  /** Resolves on the ACK for `dialog`'s 2xx, or when the dialog ends first (the UA's own 64*T1 limit). */
  private ackOf(dialog: Dialog): Promise<void> {
    return new Promise((resolve) => {
      const ua = this.o.stack.ua;
      const onAck = (e: { dialog: Dialog }): void => {
        if (e.dialog === dialog) finish();
      };
      const onEnd = (d: Dialog): void => {
        if (d === dialog) finish();
      };
      const finish = (): void => {
        ua.off('ack', onAck);
        ua.off('dialogTerminated', onEnd);
        resolve();
      };
      ua.on('ack', onAck);
      ua.on('dialogTerminated', onEnd);
    });
  }

  /** Settles a transfer back once the model shows the desk phone connected (its CSTA events and the BYE race). */
  private whenDeskConnected(u: UserState): void {
    const connected = (): boolean => this.o.model.callsOf(u.cfg.device).some((c) => c.state === 'connected');
    if (connected()) {
      this.settle(u);
      return;
    }
    const off = this.o.model.onChange((change) => {
      if (change.device !== u.cfg.device || !connected()) return;
      off();
      this.settle(u);
    });
    const w = u.waiter;
    if (w) {
      const { resolve, reject } = w;
      w.resolve = () => {
        off();
        resolve();
      };
      w.reject = (e) => {
        off();
        reject(e);
      };
    } else {
      off();
    }
  }

  /** Sends the call back to the desk phone: SingleStepTransferCall of the far party's connection. */
  private async undo(u: UserState, why: TransferError): Promise<void> {
    if (u.voipCallId !== undefined && u.farDevice !== undefined) {
      try {
        await this.o.link.singleStepTransferCall({ callId: u.voipCallId, deviceId: u.farDevice }, u.cfg.device);
      } catch (err) {
        log.rateLimited('warn', 'undo', `undo for ${u.cfg.device}: ${(err as Error).message}`);
      }
    }
    u.phase = TransferPhase.OnDesk;
    u.voipCallId = undefined;
    this.settle(u, why);
  }

  /** A BYE ended one side of a bridged session (RFC 3261 §15): end the other side too. */
  private dialogEnded(d: Dialog, reason: string): void {
    if (reason !== 'bye') return;
    for (const u of this.byDevice.values()) {
      const s = u.session;
      if (!s || (s.gatewayDialog !== d && s.softphoneDialog !== d)) continue;
      void this.hangUp(u, d);
      return;
    }
  }

  private async hangUp(u: UserState, endedBy: Dialog | undefined): Promise<void> {
    const s = u.session;
    if (!s) return;
    u.session = undefined;
    const backOnDesk = endedBy === s.gatewayDialog && u.phase === TransferPhase.ToDesk;
    u.phase = TransferPhase.OnDesk;
    u.voipCallId = undefined;
    u.farDevice = undefined;
    s.bridge.dispose();
    s.gatewayLeg.dispose();
    s.softphoneLeg.dispose();
    const other = [s.gatewayDialog, s.softphoneDialog].filter((x) => x !== endedBy && this.o.stack.ua.dialogs.get(x.id) === x);
    if (backOnDesk) this.whenDeskConnected(u);
    else this.settle(u, new TransferError('TRANSFER_ERR_STATE', `${u.cfg.device}: the call ended`));
    await Promise.allSettled(other.map((x) => this.o.stack.bye(x)));
  }
}
