/**
 * From a routing decision to the CSTA request that carries it out (first seed, claim 21: "transmitting to
 * the PBX a group of one or more messages based on the incoming call response"). The call is still
 * alerting at the user's phone, so every transfer is a DeflectCall of the alerting connection
 * (ECMA-269 §17.2.7, the service for diverting a call that has not been answered); answering is AnswerCall
 * (§17.2.2) and stopping the ringing ClearConnection (§17.2.6).
 */
import type { ConnectionId } from '../../cti/requests.js';
import { HookState, type DeviceSnapshot } from '../../model/types.js';
import { PhonePresenceState } from '../../presence/phone-state.js';
import { RoutingError } from './errors.js';
import { RoutingActionType, type RoutingDecision } from './types.js';

/** The part of the CTI link routing uses (`CtiLink` has it). */
export interface RoutingCallControl {
  answerCall(c: ConnectionId): Promise<void>;
  clearConnection(c: ConnectionId): Promise<void>;
  deflectCall(c: ConnectionId, destination: string): Promise<void>;
}

/** The CSTA service sent for a decision. */
export enum RoutingRequest {
  /** `ring`: nothing is sent. */
  None = 'none',
  AnswerCall = 'AnswerCall',
  ClearConnection = 'ClearConnection',
  DeflectCall = 'DeflectCall',
}

export interface ApplyDecisionOptions {
  /**
   * The PBX number that reaches a SIP destination through the VoIP gateway (claims 25-28): `uri` is the
   * decision's target, undefined for `transfer-computer` without one (the user's own computer interface).
   */
  voipDestination?: (uri: string | undefined, decision: RoutingDecision) => string;
}

/** What {@link applyDecision} sent: the service and its outcome. */
export interface AppliedDecision {
  request: RoutingRequest;
  /** The DeflectCall destination, when one was sent. */
  destination?: string;
  /** Settles with the switch's answer (resolved at once for `none`). */
  done: Promise<void>;
}

/**
 * Send the request for a decision about the call alerting at `alerting`. An `end-and-message` decision
 * clears the call; sending its message (to {@link messageTargetFor}) is the caller's part.
 */
export function applyDecision(cc: RoutingCallControl, decision: RoutingDecision, alerting: ConnectionId, options: ApplyDecisionOptions = {}): AppliedDecision {
  switch (decision.action) {
    case RoutingActionType.Ring:
      return { request: RoutingRequest.None, done: Promise.resolve() };
    case RoutingActionType.Answer:
      return { request: RoutingRequest.AnswerCall, done: cc.answerCall(alerting) };
    case RoutingActionType.Reject:
    case RoutingActionType.EndAndMessage:
      return { request: RoutingRequest.ClearConnection, done: cc.clearConnection(alerting) };
    case RoutingActionType.TransferExtension:
      return { request: RoutingRequest.DeflectCall, destination: decision.target!, done: cc.deflectCall(alerting, decision.target!) };
    case RoutingActionType.TransferComputer:
    case RoutingActionType.TransferSip: {
      if (!options.voipDestination) {
        throw new RoutingError('ROUTING_ERR_NO_GATEWAY', `${decision.action} needs a VoIP gateway destination (voipDestination)`);
      }
      const destination = options.voipDestination(decision.target, decision);
      return { request: RoutingRequest.DeflectCall, destination, done: cc.deflectCall(alerting, destination) };
    }
    default:
      throw new Error(`unhandled routing action ${String(decision.action)}`);
  }
}

/**
 * The presence state the rules see for a phone, from the CTI model: do-not-disturb and forwarding first,
 * then the hook state (the device's highest call state, which includes the call now ringing).
 */
export function routingPresence(device: DeviceSnapshot | undefined): PhonePresenceState {
  if (!device) return PhonePresenceState.Unknown;
  if (device.state !== HookState.Unknown) {
    if (device.doNotDisturb) return PhonePresenceState.DoNotDisturb;
    if (device.forwarding.some((f) => f.on)) return PhonePresenceState.Forwarded;
  }
  switch (device.state) {
    case HookState.Unknown: return PhonePresenceState.Unknown;
    case HookState.Idle: return PhonePresenceState.Idle;
    case HookState.OffHook: return PhonePresenceState.OffHook;
    case HookState.Ringing: return PhonePresenceState.Ringing;
    case HookState.Ringback: return PhonePresenceState.Calling;
    case HookState.Talking: return PhonePresenceState.OnCall;
    case HookState.Held: return PhonePresenceState.Held;
    default: throw new Error(`unhandled hook state ${String(device.state)}`);
  }
}
