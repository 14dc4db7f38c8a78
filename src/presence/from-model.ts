/**
 * From the CTI model to what subscribers are told: a device's {@link DeviceSnapshot} becomes a
 * {@link PhoneSnapshot} (presence state and calls as RFC 4235 dialogs).
 */
import { ConnectionState } from '../cti/index.js';
import { CallDirection, HookState, type CallView, type DeviceSnapshot } from '../model/index.js';
import { PhonePresenceState, type DialogState, type PhoneCall, type PhoneSnapshot } from './phone-state.js';

/** Display names of extensions (configuration `presence.names`), for the remote identity of a dialog. */
export type DisplayNames = ReadonlyMap<string, string>;

/** The presence state of a device: its hook state, then do-not-disturb and forwarding for an idle phone. */
export function presenceStateOf(d: DeviceSnapshot): PhonePresenceState {
  switch (d.state) {
    case HookState.Unknown:
      return PhonePresenceState.Unknown;
    case HookState.Idle:
      if (d.doNotDisturb) return PhonePresenceState.DoNotDisturb;
      if (d.forwarding.some((f) => f.on)) return PhonePresenceState.Forwarded;
      return PhonePresenceState.Idle;
    case HookState.OffHook:
      return PhonePresenceState.OffHook;
    case HookState.Ringing:
      return PhonePresenceState.Ringing;
    case HookState.Ringback:
      return PhonePresenceState.Calling;
    case HookState.Talking:
      return PhonePresenceState.OnCall;
    case HookState.Held:
      return PhonePresenceState.Held;
    default:
      throw new Error(`unhandled hook state ${d.state as string}`);
  }
}

/** RFC 4235 section 3.7.1 state of one call at the device (ECMA-269 §6.1.5 connection states). */
function dialogStateOf(c: CallView): DialogState {
  switch (c.state) {
    case ConnectionState.Initiated:
    case ConnectionState.Fail:
      return 'trying';
    case ConnectionState.Alerting:
    case ConnectionState.Queued:
      return 'early';
    case ConnectionState.Connected: {
      const others = Object.values(c.parties);
      const farAlerting = others.some((s) => s === ConnectionState.Alerting || s === ConnectionState.Queued);
      const farConnected = others.some((s) => s === ConnectionState.Connected || s === ConnectionState.Held);
      return farAlerting && !farConnected ? 'early' : 'confirmed';
    }
    case ConnectionState.Held:
      return 'confirmed';
    case ConnectionState.Null:
      return 'terminated';
    default:
      throw new Error(`unhandled connection state ${c.state as string}`);
  }
}

/**
 * One call as a dialog-info `<dialog>`. PBX calls have no SIP dialog of their own, so the identifiers are
 * derived from the CSTA callID: Call-ID `csta-CALLID@DOMAIN`, local tag the device, remote tag the other
 * party. They are stable for the life of the call and the same in every NOTIFY.
 */
export function phoneCallOf(device: string, c: CallView, domain: string, names?: DisplayNames, ended = false): PhoneCall {
  const remote = c.remote ?? '';
  const display = names?.get(remote);
  return {
    id: c.callId,
    callId: `csta-${c.callId}@${domain}`,
    localTag: device,
    ...(remote ? { remoteTag: remote } : {}),
    direction: c.direction === CallDirection.Outgoing ? 'initiator' : 'recipient',
    state: ended ? 'terminated' : dialogStateOf(c),
    held: c.state === ConnectionState.Held,
    remote: { number: remote || 'anonymous', ...(display ? { display } : {}) },
  };
}

/** A device's state for subscribers; `ended` are calls the last change removed (rendered `terminated`). */
export function phoneSnapshotOf(d: DeviceSnapshot, domain: string, names?: DisplayNames, ended: readonly CallView[] = []): PhoneSnapshot {
  const fwd = d.forwarding.find((f) => f.on && f.to);
  return {
    device: d.device,
    state: presenceStateOf(d),
    calls: [
      ...d.calls.map((c) => phoneCallOf(d.device, c, domain, names)),
      ...ended.filter((e) => !d.calls.some((c) => c.callId === e.callId)).map((c) => phoneCallOf(d.device, c, domain, names, true)),
    ],
    ...(fwd?.to ? { forwardTo: fwd.to } : {}),
  };
}
