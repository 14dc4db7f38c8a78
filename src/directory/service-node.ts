/**
 * The service node in action (second seed): it feeds the directory from the SIP registrar, turns a call
 * placed on the PBX (CTI `Originated`) into an {@link OriginationRouter} decision and SIP signalling, acts as
 * the call server of its site for calls arriving from other sites, hands the callee's multimedia client the
 * caller's address (directly, or once the attendant of a main number has recovered the extension), and
 * keeps every outcome bounded and counted. The daemon acts as the call server itself: the INVITE it sends
 * carries the caller's client in `Call-Info` (purpose `switchhook-client`), and the far site's service node
 * answers it. See docs/service-node.md.
 */
import { EventEmitter } from 'node:events';

import type { Binding, Registrar } from '../sip/registrar/index.js';
import type { SipStack } from '../sip/ua/stack.js';
import type { IncomingRequest, Middleware, OutgoingResponse } from '../sip/ua/app.js';
import type { Dialog } from '../sip/dialog/dialog.js';
import type { RequestResult } from '../sip/ua/user-agent.js';
import { CstaEventKind } from '../cti/events.js';
import type { DeviceChange } from '../model/index.js';
import { createLogger } from '../util/log.js';
import { MetricsRegistry, type Counter } from '../util/metrics.js';
import { ADDRESS_CONTENT_TYPE, AddressRole, clientCallInfo, clientFromCallInfo, encodeAddressBody, type AddressBody } from './address-body.js';
import type { Directory } from './directory.js';
import type { NormalisedNumber } from './numbering-plan.js';
import { Route, type OriginationDecision, type OriginationRequest, type OriginationRouter } from './origination.js';

const log = createLogger('directory.node');

/** The PBX side of a site: where calls from other sites enter the PBX, and its attendant. */
export interface SitePbx {
  /** Places a call on the PBX (CSTA MakeCall, ECMA-269 §17.2.12), e.g. `CtiLink.makeCall`. */
  makeCall(calling: string, called: string): Promise<unknown>;
  /** Clears every call of a device (the gateway port when the far site hangs up), e.g. CSTA ClearConnection. */
  release(device: string): Promise<unknown>;
  /**
   * The trunk gateway's ports (channels) on the PBX: each call from the packet network is placed from a free
   * one and holds it until the far site hangs up.
   */
  gatewayDevices: readonly string[];
  /** The attendant position that answers the main number (claim 10b). */
  attendantDevice?: string;
}

/** Options of a {@link ServiceNode}. */
export interface ServiceNodeOptions {
  /** This site's name (sent in address bodies). */
  site: string;
  directory: Directory;
  router: OriginationRouter;
  stack: SipStack;
  pbx?: SitePbx;
  metrics?: MetricsRegistry;
  /** Host of the From URIs this node sends (default: the stack's UDP address). */
  domain?: string;
  /** Longest wait for a final answer to an outgoing INVITE (default 10 s); then CANCEL and fallback. */
  inviteTimeoutMs?: number;
  /** Longest wait for the answer to an address MESSAGE (default 5 s). */
  messageTimeoutMs?: number;
  /** Longest wait for the attendant to recover the extension (default 60 s). */
  attendantTimeoutMs?: number;
}

/** What became of a call the node originated. */
export enum CallOutcome {
  /** The far side answered 2xx. */
  Connected = 'connected',
  /** The decision was `reject`: no signalling sent. */
  Rejected = 'rejected',
  /** The call server did not answer (timeout, 408, 5xx, 6xx): the call went to the PSTN instead. */
  FallbackPstn = 'fallback-pstn',
  /** Every destination refused or failed. */
  Failed = 'failed',
}

/** Result of {@link ServiceNode.originate}. */
export interface OriginationResult {
  decision: OriginationDecision;
  outcome: CallOutcome;
  /** Final SIP status of the last INVITE sent (408 when it timed out). */
  status?: number;
  callId?: string;
  dialog?: Dialog;
  /** The callee's client, when the far call server named it in its answer's `Call-Info`. */
  calleeAddress?: string;
}

/** A call from another site waiting for the attendant to recover the extension (claim 10). */
interface PendingAttendant {
  callId: string;
  /** The gateway port the call was placed from. */
  port: string;
  callerNumber: string;
  callerAddress: string | undefined;
  timer: NodeJS.Timeout;
}

function userOf(uri: { user?: string | undefined }): string | undefined {
  if (uri.user === undefined) return undefined;
  const u = decodeURIComponent(uri.user);
  const semi = u.indexOf(';');
  return semi < 0 ? u : u.slice(0, semi);
}

/**
 * The service node of one site. Emits `call` (OriginationResult) for every call it originated.
 * `close()` stops its timers; the stack and directory belong to the caller.
 */
export class ServiceNode extends EventEmitter {
  private readonly o: ServiceNodeOptions;
  private readonly m: { calls: Counter; incoming: Counter; exchanges: Counter; errors: Counter; feed: Counter };
  private readonly calls = new Map<string, Dialog>();
  private readonly pending: PendingAttendant[] = [];
  /** The gateway ports, each with the Call-ID of the call from another site it carries (undefined: free). */
  private readonly ports = new Map<string, string | undefined>();
  /** Calls from other sites placed on the PBX: their gateway port, by Call-ID. */
  private readonly onPbx = new Map<string, string>();
  private readonly unsubscribe: Array<() => void> = [];
  private closed = false;

  constructor(o: ServiceNodeOptions) {
    super();
    this.o = o;
    const metrics = o.metrics ?? new MetricsRegistry();
    this.m = {
      calls: metrics.counter('switchhook_service_node_calls_total', 'Calls originated by the service node, by route and outcome'),
      incoming: metrics.counter('switchhook_service_node_incoming_total', 'Calls arriving from other sites, by result'),
      exchanges: metrics.counter('switchhook_service_node_address_exchanges_total', 'Address offers sent to callee clients, by result'),
      errors: metrics.counter('switchhook_service_node_errors_total', 'Service node failures, by code'),
      feed: metrics.counter('switchhook_service_node_registrations_total', 'Registrar events fed to the directory, by result'),
    };
    for (const port of o.pbx?.gatewayDevices ?? []) this.ports.set(port, undefined);
    o.stack.use('INVITE', this.inviteMiddleware());
    const onEnded = (d: Dialog): void => this.incomingEnded(d);
    o.stack.ua.on('dialogTerminated', onEnded);
    this.unsubscribe.push(() => o.stack.ua.off('dialogTerminated', onEnded));
  }

  /** Calls this node originated that are up, by Call-ID. */
  get activeCalls(): ReadonlyMap<string, Dialog> {
    return this.calls;
  }

  /**
   * Feed the directory from a registrar: every binding of an AOR whose user part is a number of the plan
   * (`sip:2001@site`, `sip:+15551232001@site`) is registered with its remaining expiry; removal and expiry
   * remove it (RFC 3261 §10.3). `now` is the registrar's clock (its `expiresAt` is on that clock; the
   * default is the SIP stack's `performance.now()`). Returns the unsubscribe function.
   */
  attachRegistrar(registrar: Registrar, now: () => number = () => performance.now()): () => void {
    const feed = (b: Binding, expires: number): void => {
      const user = /^sips?:([^@;]+)@/i.exec(b.aor)?.[1];
      const n = user === undefined ? undefined : this.o.directory.plan.tryNormalise(decodeURIComponent(user));
      if (!n) {
        this.m.feed.inc({ result: 'not-a-number' });
        return;
      }
      try {
        this.o.directory.register(n.e164 ?? n.extension!, b.contact, expires);
        this.m.feed.inc({ result: expires === 0 ? 'removed' : 'registered' });
      } catch (err) {
        this.m.feed.inc({ result: 'refused' });
        this.count('DIR_ERR_REGISTRATION', `registration of ${b.aor} refused: ${(err as Error).message}`);
      }
    };
    const onRegistered = (b: Binding): void => feed(b, Math.max(1, Math.ceil((b.expiresAt - now()) / 1000)));
    const onUnregistered = (b: Binding): void => feed(b, 0);
    registrar.on('registered', onRegistered);
    registrar.on('unregistered', onUnregistered);
    const off = (): void => {
      registrar.off('registered', onRegistered);
      registrar.off('unregistered', onUnregistered);
    };
    this.unsubscribe.push(off);
    return off;
  }

  /**
   * Listen to the PBX model: a device's `Originated` (ECMA-269 §17.3.14, the dialled digits in its remote
   * party) starts {@link originate}, unless the digits are a bare extension (an internal call); on a trunk
   * gateway port, a call the attendant passed on to an extension (`Delivered` to a device other than the
   * attendant) completes the attendant exchange waiting on that port.
   */
  attachModel(model: { onChange(listener: (c: DeviceChange) => void): () => void }): () => void {
    const off = model.onChange((c) => this.onDeviceChange(c));
    this.unsubscribe.push(off);
    return off;
  }

  private onDeviceChange(c: DeviceChange): void {
    const pbx = this.o.pbx;
    switch (c.reason) {
      case CstaEventKind.Originated: {
        if (this.ports.has(c.device) || c.remote === undefined) return;
        // A bare extension is an internal call: the PBX connects it itself, no trunk, nothing to route.
        if (this.o.directory.plan.tryNormalise(c.remote)?.kind === 'extension') {
          this.m.calls.inc({ route: 'internal', outcome: 'ignored' });
          return;
        }
        void this.originate({ caller: c.device, dialled: c.remote }).catch((err: unknown) => this.count('DIR_ERR_ORIGINATE', String(err)));
        return;
      }
      // Single-step transfer rings the extension (Delivered); consultation + transfer after the extension
      // answered moves the gateway's connection to it (Transferred, ECMA-269 §17.3.22). The first report
      // completes the port's exchange; later ones find none waiting.
      case CstaEventKind.Delivered:
      case CstaEventKind.Transferred: {
        if (!pbx || !this.ports.has(c.device) || c.remote === undefined || c.remote === pbx.attendantDevice) return;
        this.attendantRecovered(c.device, c.remote);
        return;
      }
      default:
        // Other events change nothing the service node acts on.
        return;
    }
  }

  /**
   * Decide and signal one call (claims 1-7): `call-server` and `attendant` decisions send an INVITE to the
   * call server with the caller's client in `Call-Info`; `pstn` sends it to the PSTN trunk; `reject` sends
   * nothing. A call server that does not answer in time (or answers 408/5xx/6xx) is CANCELled and the call
   * falls back to the PSTN once. Never rejects except after {@link close}.
   */
  async originate(req: OriginationRequest): Promise<OriginationResult> {
    const decision = await this.o.router.decide(req);
    const done = (r: OriginationResult): OriginationResult => {
      this.m.calls.inc({ route: r.decision.route, outcome: r.outcome });
      this.emit('call', r);
      return r;
    };
    if (decision.route === Route.Reject || !decision.target || !decision.trunk) return done({ decision, outcome: CallOutcome.Rejected });
    // The caller's address travels only to a call server on the packet network, never to the PSTN.
    const first = await this.invite(decision, decision.target, decision.route === Route.Pstn ? undefined : decision.callerAddress);
    if (first.status >= 200 && first.status < 300) return done({ decision, outcome: CallOutcome.Connected, ...first.result });
    if (decision.route === Route.Pstn) return done({ decision, outcome: CallOutcome.Failed, status: first.status });
    this.count('DIR_ERR_FAR_SITE', `call server ${decision.trunk.name} answered ${first.status} for ${decision.target}: falling back to the PSTN`);
    decision.reasons.push({ step: 'far-site-unreachable', detail: `call server ${decision.trunk.name} answered ${first.status}; PSTN fallback` });
    const pstn = this.o.router.pstnTarget(decision);
    const second = await this.invite(decision, pstn, undefined);
    if (second.status >= 200 && second.status < 300) return done({ decision, outcome: CallOutcome.FallbackPstn, ...second.result });
    return done({ decision, outcome: CallOutcome.Failed, status: second.status });
  }

  private async invite(d: OriginationDecision, target: string, callerAddress: string | undefined): Promise<{ status: number; result: Partial<OriginationResult> }> {
    const caller = d.caller.e164 ?? d.caller.extension ?? d.caller.input;
    const ctl = new AbortController();
    const timeoutMs = this.o.inviteTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        ctl.abort();
        resolve('timeout');
      }, timeoutMs);
    });
    const sent = this.o.stack.request({
      method: 'INVITE',
      uri: target,
      from: `<sip:${caller}@${this.domain()};user=phone>`,
      to: `<${target}>`,
      signal: ctl.signal,
      ...(callerAddress ? { headers: { 'Call-Info': clientCallInfo(callerAddress) } } : {}),
    });
    let r: RequestResult | 'timeout';
    try {
      r = await Promise.race([sent, timedOut]);
    } catch (err) {
      this.count('DIR_ERR_SIGNALLING', `INVITE to ${target} failed: ${(err as Error).message}`);
      return { status: 503, result: {} };
    } finally {
      clearTimeout(timer);
    }
    if (r === 'timeout') {
      // The transaction ends on its own (CANCEL after a provisional, else Timer B); a late 2xx is ended by BYE.
      void sent.then((late) => late.dialog && this.o.stack.bye(late.dialog).catch(() => undefined), () => undefined);
      this.count('DIR_ERR_TIMEOUT', `INVITE to ${target} got no final answer in ${timeoutMs} ms`);
      return { status: 408, result: {} };
    }
    const status = r.response.status;
    const result: Partial<OriginationResult> = { status, callId: r.request.callId };
    if (r.dialog) {
      result.dialog = r.dialog;
      this.calls.set(r.request.callId, r.dialog);
      const callee = clientFromCallInfo(r.response.headers('call-info'));
      if (callee) result.calleeAddress = callee;
    }
    return { status, result };
  }

  /** End a call this node originated (BYE, RFC 3261 §15). */
  async hangup(callId: string): Promise<boolean> {
    const d = this.calls.get(callId);
    if (!d) return false;
    this.calls.delete(callId);
    await this.o.stack.bye(d);
    return true;
  }

  /**
   * The call server side (claims 8 and 10): an INVITE from another site for a number served here is
   * answered 200 (its `Call-Info` names the callee's client when known), the call is placed on the PBX from
   * a free trunk gateway port, and the callee's client is offered the caller's address; for the main number
   * the offer waits for the attendant to recover the extension. Numbers not served here get 404; with every
   * gateway port busy the call gets 503 with Retry-After (RFC 3261 §21.5.4). Only
   * INVITEs for telephone numbers (`user=phone`, or carrying a `switchhook-client` Call-Info) are taken;
   * others go to the next middleware.
   */
  inviteMiddleware(): Middleware {
    return (req, res, next) => {
      // Telephone numbers only (RFC 3261 §19.1.1 `user=phone`, or a caller's client in Call-Info): INVITEs to
      // other URIs belong to other handlers (concurrent media sessions, call transfers).
      const forNumber = req.uri.param('user')?.toLowerCase() === 'phone' || clientFromCallInfo(req.message.headers('call-info')) !== undefined;
      if (req.inDialog || !forNumber) {
        next();
        return;
      }
      this.incoming(req, res);
    };
  }

  private incoming(req: IncomingRequest, res: OutgoingResponse): void {
    const plan = this.o.directory.plan;
    const called = userOf(req.uri);
    const n = called === undefined ? undefined : plan.tryNormalise(called);
    if (!n || !plan.serves(n)) {
      this.m.incoming.inc({ result: 'not-served' });
      res.send(404, 'Number Not Served Here');
      return;
    }
    const callerNumber = userOf(req.message.from.uri) ?? 'anonymous';
    const callerAddress = clientFromCallInfo(req.message.headers('call-info'));
    const callId = req.message.callId;
    const pbx = this.o.pbx;
    const main = plan.isMainNumber(n);
    if (main && !pbx?.attendantDevice) {
      this.m.incoming.inc({ result: 'no-attendant' });
      res.send(480, 'No Attendant');
      return;
    }
    const needsPort = pbx !== undefined && (main || n.extension !== undefined);
    const port = needsPort ? this.freePort() : undefined;
    if (needsPort && port === undefined) {
      this.m.incoming.inc({ result: 'ports-busy' });
      res.send(503, 'All Gateway Ports Busy', { headers: { 'Retry-After': '5' } });
      return;
    }
    if (main) {
      this.m.incoming.inc({ result: 'attendant' });
      const timer = setTimeout(() => {
        const i = this.pending.findIndex((p) => p.callId === callId);
        if (i < 0) return;
        this.pending.splice(i, 1);
        this.count('DIR_ERR_ATTENDANT_TIMEOUT', `attendant recovered no extension for call ${callId}`);
      }, this.o.attendantTimeoutMs ?? 60_000);
      this.pending.push({ callId, port: port!, callerNumber, callerAddress, timer });
      this.placeOnPbx(callId, port!, pbx!.attendantDevice!);
      res.send(200);
      return;
    }
    const calleeNumber = n.e164 ?? n.extension!;
    const clients = this.o.directory.lookupNormalised(n).map((b) => b.uri);
    this.m.incoming.inc({ result: clients.length > 0 ? 'client' : 'no-client' });
    if (port !== undefined) this.placeOnPbx(callId, port, n.extension!);
    res.send(200, clients[0] ? { headers: { 'Call-Info': clientCallInfo(clients[0]) } } : {});
    void this.offer(callId, callerNumber, callerAddress, n, calleeNumber);
  }

  /** The first gateway port that carries no call. */
  private freePort(): string | undefined {
    for (const [port, callId] of this.ports) if (callId === undefined) return port;
    return undefined;
  }

  /** Gateway ports in use, of all. */
  get gatewayPorts(): { busy: number; total: number } {
    let busy = 0;
    for (const callId of this.ports.values()) if (callId !== undefined) busy++;
    return { busy, total: this.ports.size };
  }

  /**
   * A call from another site ended (BYE): release its gateway port's call on the PBX (claim 12); the port
   * is free again once the release is answered.
   */
  private incomingEnded(d: Dialog): void {
    const port = this.onPbx.get(d.callId);
    if (port === undefined) return;
    this.onPbx.delete(d.callId);
    const i = this.pending.findIndex((p) => p.callId === d.callId);
    if (i >= 0) clearTimeout(this.pending.splice(i, 1)[0]!.timer);
    this.o.pbx!
      .release(port)
      .catch((err: unknown) => this.count('DIR_ERR_PBX', `releasing ${port} failed: ${(err as Error).message}`))
      .finally(() => this.ports.set(port, undefined));
  }

  private placeOnPbx(callId: string, port: string, device: string): void {
    this.ports.set(port, callId);
    this.onPbx.set(callId, port);
    this.o.pbx!.makeCall(port, device).catch((err: unknown) => this.count('DIR_ERR_PBX', `MakeCall ${port} -> ${device} failed: ${(err as Error).message}`));
  }

  /** The attendant passed the call waiting on `port` to `extension`: offer the addresses (claim 10c-d). */
  private attendantRecovered(port: string, extension: string): void {
    const i = this.pending.findIndex((p) => p.port === port);
    if (i < 0) return;
    const p = this.pending.splice(i, 1)[0]!;
    clearTimeout(p.timer);
    const n = this.o.directory.plan.tryNormalise(extension);
    if (!n) {
      this.count('DIR_ERR_ATTENDANT_EXTENSION', `attendant passed the call to '${extension}', no number of the plan`);
      return;
    }
    void this.offer(p.callId, p.callerNumber, p.callerAddress, n, n.e164 ?? n.extension!);
  }

  /**
   * Send the callee's client the caller's address by MESSAGE (RFC 3428) with an
   * `application/vnd.switchhook.address+json` offer (claim 8c); bounded by `messageTimeoutMs`.
   */
  private async offer(callId: string, callerNumber: string, callerAddress: string | undefined, callee: NormalisedNumber, calleeNumber: string): Promise<void> {
    const client = this.o.directory.lookupNormalised(callee)[0]?.uri;
    if (!client) {
      this.m.exchanges.inc({ result: 'callee-no-client' });
      return;
    }
    if (!callerAddress) {
      this.m.exchanges.inc({ result: 'caller-no-address' });
      return;
    }
    if (!/^\+?[0-9]{1,15}$/.test(callerNumber)) {
      // The body carries numbers only (docs/service-node.md): an anonymous or non-numeric From is not offered.
      this.m.exchanges.inc({ result: 'caller-no-number' });
      return;
    }
    const body: AddressBody = {
      v: 1,
      role: AddressRole.Offer,
      call: callId,
      site: this.o.site,
      caller: { number: callerNumber, address: callerAddress },
      callee: { number: calleeNumber, address: client },
    };
    const status = await this.message(client, encodeAddressBody(body));
    this.m.exchanges.inc({ result: status >= 200 && status < 300 ? 'delivered' : `failed-${status}` });
    if (status >= 300) this.count('DIR_ERR_OFFER', `address offer to ${client} answered ${status}`);
  }

  private async message(to: string, body: string): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.o.messageTimeoutMs ?? 5_000;
    const timedOut = new Promise<number>((resolve) => {
      timer = setTimeout(() => resolve(408), timeoutMs);
    });
    try {
      const sent = this.o.stack
        .request({ method: 'MESSAGE', uri: to, from: `<sip:service-node@${this.domain()}>`, to: `<${to}>`, body, contentType: ADDRESS_CONTENT_TYPE })
        .then((r) => r.response.status, () => 503);
      return await Promise.race([sent, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private domain(): string {
    if (this.o.domain) return this.o.domain;
    const a = this.o.stack.localAddress('udp');
    return a ? `${a.host}:${a.port}` : 'localhost';
  }

  private count(code: string, message: string): void {
    this.m.errors.inc({ code });
    log.rateLimited('warn', code, message);
  }

  /** Stop listening to the registrar and the model, drop waiting attendant calls. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    for (const p of this.pending.splice(0)) clearTimeout(p.timer);
    this.onPbx.clear();
    this.calls.clear();
  }
}
