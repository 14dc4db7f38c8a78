/**
 * What a subscriber is told about a phone: its presence state and its calls, derived from the CTI model.
 * Plain data, shared by every body generator (PIDF, dialog-info, MESSAGE).
 */

/** The presence state of one PBX phone. */
export enum PhonePresenceState {
  /** On hook, no call. */
  Idle = 'idle',
  /** Off hook, dialling (no call delivered yet). */
  OffHook = 'off-hook',
  /** An incoming call is ringing. */
  Ringing = 'ringing',
  /** An outgoing call is ringing at the far end. */
  Calling = 'calling',
  /** Talking. */
  OnCall = 'on-call',
  /** Every call is on hold. */
  Held = 'held',
  DoNotDisturb = 'dnd',
  Forwarded = 'forwarded',
  /** The CTI link is down: the state is not known (never report a stale one). */
  Unknown = 'unknown',
}

/** RFC 4235 section 3.7.1 dialog states. */
export type DialogState = 'trying' | 'proceeding' | 'early' | 'confirmed' | 'terminated';

/** One call of the phone, as a dialog-info `<dialog>` describes it. */
export interface PhoneCall {
  /** Stable id of the dialog element (the CSTA callID). */
  id: string;
  /** Call-ID, local and remote tags of the SIP dialog, when the call has one; else derived from the callID. */
  callId: string;
  localTag?: string;
  remoteTag?: string;
  /** `initiator`: this phone placed the call; `recipient`: it was called. */
  direction: 'initiator' | 'recipient';
  state: DialogState;
  /** The call is held by this phone (RFC 4235 `+sip.rendering="no"`). */
  held: boolean;
  remote: { number: string; display?: string };
}

/** The full state of a phone at one moment. */
export interface PhoneSnapshot {
  /** Extension / device ID. */
  device: string;
  state: PhonePresenceState;
  calls: PhoneCall[];
  /** Where calls are forwarded, when forwarding is on. */
  forwardTo?: string;
}

/** True while the phone is in use (RPID `on-the-phone`). */
export function isOnThePhone(state: PhonePresenceState): boolean {
  return (
    state === PhonePresenceState.OffHook ||
    state === PhonePresenceState.Ringing ||
    state === PhonePresenceState.Calling ||
    state === PhonePresenceState.OnCall ||
    state === PhonePresenceState.Held
  );
}
