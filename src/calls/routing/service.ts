/**
 * The routing table wired to the CTI link (first seed, claim 21): on every Delivered event alerting at a
 * monitored user's phone (ECMA-269 §17.2.5, the call is ringing), the user's rules decide at once — from
 * the time, the caller and the presence state the model holds — and the decision goes to the PBX as its
 * CSTA request while the phone still rings ({@link applyDecision}). `end-and-message` then sends the
 * rendered text as a SIP MESSAGE (RFC 3428) to the caller's computer interface ({@link messageTargetFor},
 * claim 30); `transfer-computer` and `transfer-sip` deflect the call to the configured VoIP gateway number
 * (claims 25-28) and record the SIP target the gateway's call is for ({@link RoutingService.voipTarget}).
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';

import { ConnectionState, CstaEventKind, type CstaEvent, type CtiEventSource } from '../../cti/index.js';
import type { PbxModel } from '../../model/index.js';
import type { SipStack } from '../../sip/index.js';
import { createLogger } from '../../util/log.js';
import { MetricsRegistry, type Counter } from '../../util/metrics.js';
import type { ClientTarget, ComputerInterfaces } from '../computer-interfaces.js';
import { applyDecision, routingPresence, RoutingRequest, type AppliedDecision, type RoutingCallControl } from './call-control.js';
import { messageTargetFor } from './message-target.js';
import type { RoutingTable } from './table.js';
import { RoutingActionType, type IncomingCall, type RoutingDecision } from './types.js';

const log = createLogger('routing');

/** Options of {@link RoutingService}. */
export interface RoutingServiceOptions {
  /** The CTI link (events in, CSTA requests out). */
  link: CtiEventSource & RoutingCallControl;
  model: PbxModel;
  table: RoutingTable;
  /** Users' computer interfaces (the callee's for `transfer-computer`, the caller's for messages). */
  clients: ComputerInterfaces;
  /** Sends the `end-and-message` MESSAGE; without it the message is counted as not sent. */
  sip?: SipStack;
  /** The PBX number of the VoIP gateway that reaches SIP destinations (claims 25-28). */
  gatewayNumber?: string;
  /** The directory (service node): a number to its multimedia client's SIP URI. */
  directory?: (number: string) => string | undefined | Promise<string | undefined>;
  /** True when a number is an extension of this PBX (default: a device the model tracks). */
  isExtension?: (number: string) => boolean;
  metrics?: MetricsRegistry;
  now?: () => number;
}

/** One routed call, as {@link RoutingService} reports it (event `routed`). */
export interface RoutedCall {
  device: string;
  callId: string;
  caller: string | undefined;
  decision: RoutingDecision;
  applied: AppliedDecision;
  /** For transfers through the gateway: the SIP URI the call is meant for. */
  voipTarget?: string;
  /** `performance.now()` when the Delivered event arrived and when the request was written. */
  eventAt: number;
  requestAt: number;
}

/** Events of {@link RoutingService}. */
export interface RoutingServiceEvents {
  routed: [call: RoutedCall];
  /** The `end-and-message` MESSAGE: its target and final status (0 when it could not be sent). */
  messaged: [call: RoutedCall, target: string | undefined, status: number];
}

/** Routes ringing calls by the users' tables. `start()` listens, `close()` stops. */
export class RoutingService extends EventEmitter<RoutingServiceEvents> {
  private readonly o: RoutingServiceOptions;
  private readonly now: () => number;
  private readonly decisions: Counter;
  private readonly outcomes: Counter;
  private readonly messages: Counter;
  private readonly voip = new Map<string, string>();
  private readonly onEvent = (device: string, ev: CstaEvent): void => this.handle(device, ev);
  private started = false;

  constructor(o: RoutingServiceOptions) {
    super();
    this.o = o;
    this.now = o.now ?? Date.now;
    const metrics = o.metrics ?? new MetricsRegistry();
    this.decisions = metrics.counter('switchhook_routing_decisions_total', 'Incoming calls decided by the routing tables, by action.');
    this.outcomes = metrics.counter('switchhook_routing_requests_total', 'CSTA requests sent for routing decisions, by request and result (ok, error).');
    this.messages = metrics.counter('switchhook_routing_messages_total', 'end-and-message instant messages, by result (sent, rejected, noTarget, noSip, error).');
  }

  /** Listen to the link's events. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.o.link.on('event', this.onEvent);
  }

  /** The SIP URI a call deflected to the VoIP gateway is meant for (the transfers part places it). */
  voipTarget(callId: string): string | undefined {
    return this.voip.get(callId);
  }

  private handle(device: string, ev: CstaEvent): void {
    if (ev.kind !== CstaEventKind.Delivered) {
      if (ev.kind === CstaEventKind.ConnectionCleared && ev.subjectDevice === device) this.voip.delete(ev.callId);
      return;
    }
    if (ev.localState !== ConnectionState.Alerting || ev.subjectDevice !== device) return;
    const eventAt = performance.now();
    const call: IncomingCall = { at: this.now(), presence: routingPresence(this.o.model.device(device)) };
    if (ev.callingDevice) call.caller = ev.callingDevice;
    const decision = this.o.table.decide(device, call);
    let voipTarget: string | undefined;
    let applied: AppliedDecision;
    try {
      applied = applyDecision(this.o.link, decision, { callId: ev.callId, deviceId: device }, {
        voipDestination: (uri) => {
          voipTarget = uri ?? this.o.clients.find(device)?.uri ?? this.o.clients.aor(device);
          if (!this.o.gatewayNumber) throw new Error('no VoIP gateway number configured');
          return this.o.gatewayNumber;
        },
      });
    } catch (err) {
      this.decisions.inc({ action: decision.action });
      this.outcomes.inc({ request: RoutingRequest.DeflectCall, result: 'error' });
      log.rateLimited('warn', 'no-gateway', `routing ${device}: ${(err as Error).message}`);
      return;
    }
    const requestAt = performance.now();
    this.decisions.inc({ action: decision.action });
    if (voipTarget !== undefined) this.voip.set(ev.callId, voipTarget);
    const routed: RoutedCall = { device, callId: ev.callId, caller: call.caller, decision, applied, eventAt, requestAt };
    if (voipTarget !== undefined) routed.voipTarget = voipTarget;
    this.emit('routed', routed);
    if (applied.request === RoutingRequest.None) return;
    applied.done.then(
      () => {
        this.outcomes.inc({ request: applied.request, result: 'ok' });
        if (decision.action === RoutingActionType.EndAndMessage) void this.sendMessage(routed);
      },
      (err: unknown) => {
        this.outcomes.inc({ request: applied.request, result: 'error' });
        log.rateLimited('info', 'request-failed', `routing ${device}: ${applied.request} failed: ${(err as Error).message}`);
      },
    );
  }

  /** Claims 29-30: the instant message to the caller's computer interface. */
  private async sendMessage(call: RoutedCall): Promise<void> {
    const sip = this.o.sip;
    const isExtension = this.o.isExtension ?? ((n: string) => this.o.model.has(n));
    let target: string | undefined;
    let status = 0;
    try {
      target = await messageTargetFor(call.caller, {
        isExtension,
        domain: this.o.clients.domain,
        ...(this.o.directory ? { directory: this.o.directory } : {}),
      });
      if (!target) {
        this.messages.inc({ result: 'noTarget' });
        return;
      }
      if (!sip) {
        this.messages.inc({ result: 'noSip' });
        return;
      }
      const to: ClientTarget = this.o.clients.findUri(target);
      const r = await sip.request({
        method: 'MESSAGE',
        uri: to.uri,
        from: `<${this.o.clients.aor(call.device)}>`,
        to: `<${target}>`,
        ...(to.destination ? { destination: to.destination } : {}),
        headers: { Subject: `Call to ${call.device}`, 'X-PBX-Call-ID': call.callId },
        body: call.decision.message ?? '',
        contentType: 'text/plain;charset=UTF-8',
      });
      status = r.response.status;
      this.messages.inc({ result: status < 300 ? 'sent' : 'rejected' });
    } catch (err) {
      this.messages.inc({ result: 'error' });
      log.rateLimited('warn', 'message', `end-and-message to ${target ?? call.caller}: ${(err as Error).message}`);
    } finally {
      this.emit('messaged', call, target, status);
    }
  }

  /** Stop listening. */
  close(): void {
    if (!this.started) return;
    this.started = false;
    this.o.link.off('event', this.onEvent);
    this.voip.clear();
  }
}
