/**
 * The simulated PBX's VoIP gateway and media switch. Its SIP side is a user agent on the SIP core's
 * {@link SipStack}: calls the switch routes to a network destination (its dial plan: device -> SIP URI)
 * become INVITEs with G.711 SDP (RFC 3264), and their answers Established (or Failed) in the switch. Its
 * media side is an {@link RtpEngine}: every trunk party (a far end) has one leg, joined to whatever talks
 * to it now — a digital phone's PDSV voice leg or a VoIP session's leg — and moved with `bridge.move`, so
 * the far end keeps one SSRC with continuous sequence numbers and timestamps (RFC 3550 §5.1) through
 * transfers. A VoIP session whose network connection was transferred away ends (BYE) once its far end is
 * joined to the new side: the caller hears the softphone until the desk phone has the call.
 */
import { ConnectionState, CstaEventKind } from '../cti/events.js';
import { legOptionsFromSdp, sdpForLeg } from '../media/sdp.js';
import type { RtpBridge } from '../media/rtp-bridge.js';
import type { RtpEngine } from '../media/rtp-engine.js';
import type { RtpLeg } from '../media/rtp-leg.js';
import type { Dialog } from '../sip/dialog/dialog.js';
import type { IncomingRequest, NextFunction, OutgoingResponse } from '../sip/ua/app.js';
import type { SipStack } from '../sip/ua/stack.js';
import { createLogger } from '../util/log.js';
import { MetricsRegistry, type Counter } from '../util/metrics.js';
import type { SimEvent, SimSwitch } from './core.js';
import type { SimDigitalLines } from './digital-lines.js';
import { RtpStream } from './rtp-stream.js';

const log = createLogger('sim-gateway');

/** Life cycle of one gateway VoIP session. */
export enum GatewaySessionState {
  /** INVITE sent, no final answer yet. */
  Inviting = 'inviting',
  /** 2xx received and ACKed; media may flow. */
  Established = 'established',
  /** BYE sent or received, or the INVITE failed. */
  Ended = 'ended',
}

interface FarParty {
  readonly device: string;
  readonly leg: RtpLeg;
  /** The JavaScript far end of a simulated trunk call. */
  readonly stream: RtpStream | undefined;
  bridge: RtpBridge | undefined;
  /** The leg the far end is joined to now. */
  peer: RtpLeg | undefined;
  /** A SIP caller through the gateway: its INVITE, answered once a phone takes the call. */
  inbound?: { req: IncomingRequest; res: OutgoingResponse; dialog: Dialog | undefined };
}

interface Session {
  readonly callId: string;
  readonly device: string;
  readonly far: string;
  readonly leg: RtpLeg;
  readonly abort: AbortController;
  state: GatewaySessionState;
  dialog: Dialog | undefined;
}

/** Options of {@link SimVoipGateway}. */
export interface SimVoipGatewayOptions {
  /** Dial plan: network device (as the switch sees the destination) -> SIP URI to INVITE. */
  readonly routes: ReadonlyMap<string, string> | Record<string, string>;
  /** How long an INVITE may stay unanswered before it is cancelled (ms). */
  readonly inviteTimeoutMs?: number;
  readonly metrics?: MetricsRegistry;
}

/** The gateway: SIP towards the network, RTP joined to trunk parties, digital phones and VoIP sessions. */
export class SimVoipGateway {
  private readonly routes: Map<string, string>;
  private readonly farParties = new Map<string, FarParty>();
  private readonly sessions = new Map<string, Session>();
  private readonly inviteTimeoutMs: number;
  private readonly counters: { invites: Counter; failures: Counter };
  private off: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly core: SimSwitch,
    private readonly stack: SipStack,
    private readonly engine: RtpEngine,
    private readonly lines: SimDigitalLines | undefined,
    o: SimVoipGatewayOptions,
  ) {
    this.routes = new Map(o.routes instanceof Map ? o.routes : Object.entries(o.routes));
    this.inviteTimeoutMs = o.inviteTimeoutMs ?? 30_000;
    const metrics = o.metrics ?? new MetricsRegistry();
    this.counters = {
      invites: metrics.counter('switchhook_sim_gateway_invites_total', 'INVITEs the simulated gateway sent, by final status class.'),
      failures: metrics.counter('switchhook_sim_gateway_failures_total', 'Gateway steps that failed, by reason.'),
    };
    this.core.setNetworkRoutes({ isNetwork: (to) => this.routes.has(to) });
    this.off = this.core.onEvent((ev) => this.onEvent(ev));
    this.stack.ua.on('dialogTerminated', (d: Dialog, reason: string) => this.onDialogEnded(d, reason));
    this.stack.use('INVITE', (req, res, next) => this.onInvite(req, res, next));
  }

  /**
   * A SIP call into the PBX (`sip:<extension>@gateway`): the caller becomes a trunk party whose RTP meets
   * the phone's; 180 at once, 200 OK (with the far end leg's SDP) when a phone takes the call (RFC 3261
   * §13.3.1), CANCEL or BYE clear its connection.
   */
  private onInvite(req: IncomingRequest, res: OutgoingResponse, next: NextFunction): void {
    const ext = req.uri.user ?? '';
    if (req.inDialog || this.closed || !this.core.hasDevice(ext)) {
      next();
      return;
    }
    let offer;
    try {
      offer = legOptionsFromSdp(req.body.toString('utf8'));
    } catch (err) {
      this.counters.failures.inc({ reason: 'sdp' });
      res.send(488, (err as Error).message.slice(0, 60));
      return;
    }
    const device = req.message.from.uri.user ?? 'anonymous';
    if (this.farParties.has(device) || this.core.hasDevice(device)) {
      res.send(486);
      return;
    }
    const leg = this.engine.createLeg({ ...offer, strictSource: true });
    const far: FarParty = { device, leg, stream: undefined, bridge: undefined, peer: undefined, inbound: { req, res, dialog: undefined } };
    this.farParties.set(device, far);
    try {
      this.core.incomingNetworkCall(device, ext);
    } catch (err) {
      void this.dropFar(device);
      res.send(404, (err as Error).message.slice(0, 60));
      return;
    }
    req.onCancel = () => {
      const call = this.core.calls().find((c) => c.connections[device] !== undefined);
      if (call) this.core.clearConnection(device, call.callId);
    };
    if (!res.finalSent) res.send(180);
    this.reconcile();
  }

  /** Adds or changes a route of the dial plan. */
  setRoute(device: string, uri: string): void {
    this.routes.set(device, uri);
  }

  /**
   * A trunk call from `from` to extension `to`, with a JavaScript far end sending a 20 ms G.711 stream
   * (known pattern) and checking what comes back. Resolves with the callID and the far end.
   */
  async externalCall(from: string, to: string): Promise<{ callId: string; far: RtpStream }> {
    const stream = await RtpStream.open({ payloadType: 0 });
    const leg = this.engine.createLeg({ payloadType: 0, remote: { address: '127.0.0.1', port: stream.port }, strictSource: true });
    stream.setRemote('127.0.0.1', leg.rtpPort);
    this.farParties.set(from, { device: from, leg, stream, bridge: undefined, peer: undefined });
    try {
      const c = this.core.incomingNetworkCall(from, to);
      stream.start();
      return { callId: c.callId, far: stream };
    } catch (err) {
      this.dropFar(from);
      throw err;
    }
  }

  /** VoIP sessions in progress (for tests: none may outlive its call). */
  sessionCount(): number {
    return this.sessions.size;
  }

  /** The leg a far end is joined to now (undefined: nobody). */
  farPeer(device: string): RtpLeg | undefined {
    return this.farParties.get(device)?.peer;
  }

  /** Ends every session (BYE or CANCEL) and far end, and detaches from the switch. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.off?.();
    this.core.setNetworkRoutes(undefined);
    const byes: Promise<unknown>[] = [];
    for (const s of [...this.sessions.values()]) byes.push(this.endSession(s, 'close'));
    await Promise.allSettled(byes);
    for (const device of [...this.farParties.keys()]) await this.dropFar(device);
  }

  private onEvent(ev: SimEvent): void {
    if (this.closed) return;
    switch (ev.kind) {
      case CstaEventKind.NetworkReached:
        if (this.routes.has(ev.subject)) void this.invite(ev.callId, ev.subject, ev.callingDevice ?? '');
        break;
      case CstaEventKind.ConnectionCleared:
        if (this.farParties.has(ev.subject)) void this.dropFar(ev.subject);
        break;
      default:
        break;
    }
    this.reconcile();
  }

  /** INVITE for a call routed to `device` (RFC 3261 §13.2.1), from the far party `far`. */
  private async invite(callId: string, device: string, far: string): Promise<void> {
    const uri = this.routes.get(device)!;
    const leg = this.engine.createLeg({ payloadType: 0 });
    const session: Session = { callId, device, far, leg, abort: new AbortController(), state: GatewaySessionState.Inviting, dialog: undefined };
    this.sessions.set(key(callId, device), session);
    const timer = setTimeout(() => session.abort.abort(), this.inviteTimeoutMs);
    const local = this.stack.localAddress('udp')!;
    let status: number;
    try {
      const r = await this.stack.request({
        method: 'INVITE',
        uri,
        from: `<sip:${far}@${local.host}:${local.port}>`,
        body: Buffer.from(sdpForLeg({ address: '127.0.0.1', rtpPort: leg.rtpPort, payloadType: 0, telephoneEventPayloadType: 101 })),
        contentType: 'application/sdp',
        signal: session.abort.signal,
      });
      status = r.response.status;
      this.counters.invites.inc({ class: `${Math.floor(status / 100)}xx` });
      if (status < 300 && r.dialog) {
        session.dialog = r.dialog;
        if (session.state !== GatewaySessionState.Inviting) {
          // Ended while the INVITE was out (the call was transferred away): hang up at once.
          void this.stack.bye(r.dialog).catch(() => undefined);
          return;
        }
        leg.update({ ...legOptionsFromSdp(r.response.body.toString('utf8')), strictSource: true });
        session.state = GatewaySessionState.Established;
        this.core.networkAnswered(callId, device);
        return;
      }
    } catch (err) {
      this.counters.failures.inc({ reason: 'answer' });
      log.rateLimited('warn', 'invite', `INVITE to ${uri}: ${(err as Error).message}`);
      status = 500;
      if (session.dialog) void this.stack.bye(session.dialog).catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
    if (session.state === GatewaySessionState.Inviting) {
      session.state = GatewaySessionState.Ended;
      this.sessions.delete(key(callId, device));
      leg.dispose();
      try {
        this.core.networkFailed(callId, device, status === 486 || status === 600 ? 'busy' : status === 408 || status === 487 || status === 480 ? 'noAnswer' : 'destNotObtainable');
      } catch (err) {
        // The call moved on meanwhile; nothing to report.
        log.debug(`network failure of ${device} not reported: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Joins every far end to whoever talks to it now (a digital phone or an established session in its
   * call), and ends sessions that no call holds any more once their far end talks elsewhere.
   */
  private reconcile(): void {
    const calls = this.core.calls();
    for (const far of this.farParties.values()) {
      const call = calls.find((c) => c.connections[far.device] !== undefined);
      if (!call) continue;
      let target: RtpLeg | undefined;
      for (const [device, state] of Object.entries(call.connections)) {
        if (device === far.device || state !== ConnectionState.Connected) continue;
        const session = this.sessions.get(key(call.callId, device));
        target = session?.state === GatewaySessionState.Established ? session.leg : this.lines?.voiceLeg(device);
        if (target) break;
      }
      if (!target || target === far.peer) continue;
      try {
        if (far.bridge && far.peer) far.bridge.move(far.peer, target);
        else far.bridge = this.engine.bridge(far.leg, target);
        far.peer = target;
        if (far.inbound && !far.inbound.res.finalSent) {
          far.inbound.res.send(200, {
            body: Buffer.from(sdpForLeg({ address: '127.0.0.1', rtpPort: far.leg.rtpPort, payloadType: far.leg.options.payloadType ?? 0 })),
            contentType: 'application/sdp',
          });
          far.inbound.dialog = far.inbound.req.dialog;
        }
      } catch (err) {
        this.counters.failures.inc({ reason: 'media' });
        log.rateLimited('warn', 'media', `far end ${far.device}: ${(err as Error).message}`);
      }
    }
    for (const s of [...this.sessions.values()]) {
      const call = calls.find((c) => c.callId === s.callId);
      if (call && call.connections[s.device] !== undefined) continue;
      // The network connection left its call: end it, unless its far end still hears nobody else.
      const far = this.farParties.get(s.far);
      if (s.state === GatewaySessionState.Established && far && far.peer === s.leg && calls.some((c) => c.connections[s.far] !== undefined)) continue;
      void this.endSession(s, 'transferred');
    }
  }

  private async endSession(s: Session, why: string): Promise<void> {
    if (s.state === GatewaySessionState.Ended && !this.sessions.has(key(s.callId, s.device))) return;
    const wasInviting = s.state === GatewaySessionState.Inviting;
    s.state = GatewaySessionState.Ended;
    this.sessions.delete(key(s.callId, s.device));
    const far = this.farParties.get(s.far);
    if (far?.peer === s.leg) {
      far.bridge?.dispose();
      far.bridge = undefined;
      far.peer = undefined;
    }
    s.leg.dispose();
    if (wasInviting) {
      s.abort.abort();
      return;
    }
    if (s.dialog && this.stack.ua.dialogs.get(s.dialog.id) === s.dialog) {
      log.debug(`BYE for ${s.device} in ${s.callId} (${why})`);
      await this.stack.bye(s.dialog).catch(() => undefined);
    }
  }

  /** BYE from the far side (RFC 3261 §15.1.2): the network connection leaves the call. */
  private onDialogEnded(d: Dialog, reason: string): void {
    if (reason !== 'bye' || this.closed) return;
    for (const far of this.farParties.values()) {
      if (far.inbound?.dialog !== d) continue;
      far.inbound.dialog = undefined;
      const call = this.core.calls().find((c) => c.connections[far.device] !== undefined);
      if (call) this.core.clearConnection(far.device, call.callId);
      else void this.dropFar(far.device);
      return;
    }
    for (const s of this.sessions.values()) {
      if (s.dialog !== d) continue;
      void this.endSession(s, 'remote BYE');
      try {
        this.core.clearConnection(s.device, s.callId);
      } catch (err) {
        log.debug(`clear ${s.device}: ${(err as Error).message}`);
      }
      return;
    }
  }

  private async dropFar(device: string): Promise<void> {
    const far = this.farParties.get(device);
    if (!far) return;
    this.farParties.delete(device);
    far.bridge?.dispose();
    far.leg.dispose();
    if (far.inbound && !far.inbound.res.finalSent) far.inbound.res.send(480);
    const dialog = far.inbound?.dialog;
    if (dialog && this.stack.ua.dialogs.get(dialog.id) === dialog) await this.stack.bye(dialog).catch(() => undefined);
    await far.stream?.close();
  }
}

function key(callId: string, device: string): string {
  return `${callId}|${device}`;
}
