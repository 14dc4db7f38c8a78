import type { AdapterConnectionState, AdapterDeviceEvent, AdapterEventKind } from './codec.js';

/** TAPI 2.x LINECALLSTATE_ constants (tapi.h). */
export const lineCallState = {
  LINECALLSTATE_IDLE: 0x1,
  LINECALLSTATE_OFFERING: 0x2,
  LINECALLSTATE_ACCEPTED: 0x4,
  LINECALLSTATE_DIALTONE: 0x8,
  LINECALLSTATE_DIALING: 0x10,
  LINECALLSTATE_RINGBACK: 0x20,
  LINECALLSTATE_BUSY: 0x40,
  LINECALLSTATE_SPECIALINFO: 0x80,
  LINECALLSTATE_CONNECTED: 0x100,
  LINECALLSTATE_PROCEEDING: 0x200,
  LINECALLSTATE_ONHOLD: 0x400,
  LINECALLSTATE_CONFERENCED: 0x800,
  LINECALLSTATE_ONHOLDPENDCONF: 0x1000,
  LINECALLSTATE_ONHOLDPENDTRANSFER: 0x2000,
  LINECALLSTATE_DISCONNECTED: 0x4000,
  LINECALLSTATE_UNKNOWN: 0x8000,
} as const;

export type LineCallStateName = keyof typeof lineCallState;

const nameByValue = new Map<number, LineCallStateName>(Object.entries(lineCallState).map(([n, v]) => [v, n as LineCallStateName]));

/** LINEDISCONNECTMODE_ values (dwParam2 of LINE_CALLSTATE for DISCONNECTED) and the CSTA cause each maps to. */
const disconnectCause = new Map<number, string>([
  [0x1, 'normalClearing'],
  [0x2, 'normalClearing'],
  [0x4, 'callRejected'],
  [0x8, 'callPickup'],
  [0x10, 'redirected'],
  [0x20, 'busy'],
  [0x40, 'noAnswer'],
  [0x80, 'destNotObtainable'],
  [0x100, 'destNotObtainable'],
  [0x200, 'networkCongestion'],
  [0x400, 'incompatibleDestination'],
  [0x800, 'destNotObtainable'],
]);

/**
 * One LINE_CALLSTATE message of a TAPI line, as a TAPI bridge reports it: the line's device (extension),
 * the call handle (or LINECALLINFO dwCallID), the new state (name or value), the state mode, and the
 * caller/called IDs from LINECALLINFO.
 */
export interface TapiCallStateRecord {
  line: string;
  hCall: string;
  callId?: string;
  state: LineCallStateName | number;
  mode?: number;
  caller?: string;
  called?: string;
}

/** Why a TAPI record produced no event. */
export type TapiSkip = 'badState' | 'noChange' | 'dialing' | 'unknownState' | 'noCall';

interface TrackedCall {
  state: LineCallStateName;
  incoming: boolean;
  remote?: string;
}

function event(line: string, kind: AdapterEventKind, callId: string, localState: AdapterConnectionState, fields: Partial<AdapterDeviceEvent>): AdapterDeviceEvent {
  return {
    device: line,
    kind,
    callId,
    subjectDevice: line,
    localState,
    cause: '',
    callingDevice: '',
    calledDevice: '',
    actingDevice: '',
    newDestination: '',
    secondaryCallId: '',
    moved: [],
    doNotDisturb: false,
    ...fields,
  };
}

/**
 * Turns TAPI LINE_CALLSTATE messages into adapter events (docs/cti-adapter.md has the table). TAPI reports
 * per-line call states without saying what changed, so the translator keeps each call's previous state:
 * CONNECTED after ONHOLD is a retrieve, not a new answer; IDLE forgets the call.
 */
export class TapiTranslator {
  private readonly calls = new Map<string, TrackedCall>();

  /** The calls a line has, as snapshot entries (for the adapter's snapshot after connecting). */
  callsOf(line: string): { callId: string; state: AdapterConnectionState }[] {
    const out: { callId: string; state: AdapterConnectionState }[] = [];
    for (const [key, call] of this.calls) {
      const [l, callId] = key.split('\0') as [string, string];
      if (l === line) out.push({ callId, state: stateOf(call) });
    }
    return out;
  }

  /** The event for one record, or why there is none. */
  translate(rec: TapiCallStateRecord): AdapterDeviceEvent | TapiSkip {
    const name = typeof rec.state === 'number' ? nameByValue.get(rec.state) : rec.state in lineCallState ? rec.state : undefined;
    if (!name) return 'badState';
    const callId = rec.callId ?? rec.hCall;
    if (!callId) return 'noCall';
    const key = `${rec.line}\0${callId}`;
    const prev = this.calls.get(key);
    if (prev?.state === name) return 'noChange';
    const line = rec.line;
    const track = (incoming: boolean, remote?: string): void => {
      this.calls.set(key, { state: name, incoming, ...(remote ?? prev?.remote ? { remote: remote ?? prev?.remote } : {}) });
    };
    switch (name) {
      case 'LINECALLSTATE_DIALTONE':
        track(false);
        return event(line, 'SERVICE_INITIATED', callId, 'CONNECTION_INITIATED', { actingDevice: line });
      case 'LINECALLSTATE_DIALING':
        track(false, rec.called);
        return 'dialing';
      case 'LINECALLSTATE_PROCEEDING':
        track(false, rec.called);
        return event(line, 'ORIGINATED', callId, 'CONNECTION_CONNECTED', { callingDevice: line, calledDevice: rec.called ?? '', actingDevice: line });
      case 'LINECALLSTATE_RINGBACK': {
        track(false, rec.called);
        const called = rec.called ?? prev?.remote ?? '';
        return event(line, 'DELIVERED', callId, 'CONNECTION_CONNECTED', { subjectDevice: called || line, callingDevice: line, calledDevice: called, actingDevice: called });
      }
      case 'LINECALLSTATE_OFFERING':
      case 'LINECALLSTATE_ACCEPTED':
        if (prev && (prev.state === 'LINECALLSTATE_OFFERING' || prev.state === 'LINECALLSTATE_ACCEPTED')) {
          track(true, rec.caller);
          return 'noChange';
        }
        track(true, rec.caller);
        return event(line, 'DELIVERED', callId, 'CONNECTION_ALERTING', { callingDevice: rec.caller ?? '', calledDevice: line, actingDevice: line });
      case 'LINECALLSTATE_CONNECTED': {
        const incoming = prev?.incoming ?? false;
        track(incoming);
        if (prev && prev.state.startsWith('LINECALLSTATE_ONHOLD')) return event(line, 'RETRIEVED', callId, 'CONNECTION_CONNECTED', { actingDevice: line });
        const remote = prev?.remote ?? (incoming ? rec.caller : rec.called) ?? '';
        return event(line, 'ESTABLISHED', callId, 'CONNECTION_CONNECTED', {
          subjectDevice: incoming ? line : remote || line,
          callingDevice: incoming ? remote : line,
          calledDevice: incoming ? line : remote,
          actingDevice: incoming ? line : remote,
        });
      }
      case 'LINECALLSTATE_ONHOLD':
      case 'LINECALLSTATE_ONHOLDPENDCONF':
      case 'LINECALLSTATE_ONHOLDPENDTRANSFER':
        track(prev?.incoming ?? false);
        return event(line, 'HELD', callId, 'CONNECTION_HELD', { actingDevice: line });
      case 'LINECALLSTATE_CONFERENCED':
        track(prev?.incoming ?? false);
        return event(line, 'CONFERENCED', callId, 'CONNECTION_CONNECTED', { actingDevice: line });
      case 'LINECALLSTATE_BUSY':
        track(false);
        return event(line, 'FAILED', callId, 'CONNECTION_FAIL', { subjectDevice: rec.called ?? prev?.remote ?? line, cause: 'busy', actingDevice: rec.called ?? prev?.remote ?? '' });
      case 'LINECALLSTATE_SPECIALINFO':
        track(false);
        return event(line, 'FAILED', callId, 'CONNECTION_FAIL', { cause: 'destNotObtainable' });
      case 'LINECALLSTATE_DISCONNECTED': {
        track(prev?.incoming ?? false);
        const remote = prev?.remote ?? '';
        return event(line, 'CONNECTION_CLEARED', callId, 'CONNECTION_FAIL', {
          subjectDevice: remote || line,
          actingDevice: remote,
          cause: disconnectCause.get(rec.mode ?? 1) ?? 'normalClearing',
        });
      }
      case 'LINECALLSTATE_IDLE':
        this.calls.delete(key);
        return event(line, 'CONNECTION_CLEARED', callId, 'CONNECTION_NULL', { actingDevice: line, cause: 'normalClearing' });
      case 'LINECALLSTATE_UNKNOWN':
        return 'unknownState';
      default:
        throw new Error(`unhandled TAPI call state ${name as string}`);
    }
  }
}

function stateOf(call: TrackedCall): AdapterConnectionState {
  switch (call.state) {
    case 'LINECALLSTATE_DIALTONE':
    case 'LINECALLSTATE_DIALING':
      return 'CONNECTION_INITIATED';
    case 'LINECALLSTATE_OFFERING':
    case 'LINECALLSTATE_ACCEPTED':
      return 'CONNECTION_ALERTING';
    case 'LINECALLSTATE_ONHOLD':
    case 'LINECALLSTATE_ONHOLDPENDCONF':
    case 'LINECALLSTATE_ONHOLDPENDTRANSFER':
      return 'CONNECTION_HELD';
    case 'LINECALLSTATE_BUSY':
    case 'LINECALLSTATE_SPECIALINFO':
    case 'LINECALLSTATE_DISCONNECTED':
      return 'CONNECTION_FAIL';
    default:
      return 'CONNECTION_CONNECTED';
  }
}
