/**
 * Normalisation of CSTA events (ECMA-269 §15-§22, XML per ECMA-323) into one flat, typed record. The
 * native scanner has already pulled out the connections, devices and leaf fields by local element name,
 * so every namespace and both spellings of the transfer event are accepted here.
 */
import type { CstaMessage } from '../native/csta.js';
import { parseForwardingType, type ForwardingType } from './requests.js';

/** LocalConnectionState (ECMA-269 §6.1.5): the state of one device's connection to one call. */
export enum ConnectionState {
  Null = 'null',
  Initiated = 'initiated',
  Alerting = 'alerting',
  Connected = 'connected',
  Held = 'held',
  Queued = 'queued',
  Fail = 'fail',
}

/** Parses ECMA-323 `localConnectionInfo` / `localConnectionState` text (`hold` is ECMA's spelling of held). */
export function parseConnectionState(text: string | undefined): ConnectionState | undefined {
  switch (text) {
    case 'null':
      return ConnectionState.Null;
    case 'initiated':
    case 'initiate':
      return ConnectionState.Initiated;
    case 'alerting':
      return ConnectionState.Alerting;
    case 'connected':
    case 'connect':
      return ConnectionState.Connected;
    case 'hold':
    case 'held':
      return ConnectionState.Held;
    case 'queued':
      return ConnectionState.Queued;
    case 'fail':
      return ConnectionState.Fail;
    default:
      return undefined;
  }
}

/** The ECMA-323 text of a connection state (the inverse of {@link parseConnectionState}). */
export function connectionStateText(state: ConnectionState): string {
  return state === ConnectionState.Held ? 'hold' : state;
}

/** The CSTA events the model understands. */
export enum CstaEventKind {
  ServiceInitiated = 'serviceInitiated',
  Originated = 'originated',
  Delivered = 'delivered',
  Established = 'established',
  ConnectionCleared = 'connectionCleared',
  CallCleared = 'callCleared',
  Held = 'held',
  Retrieved = 'retrieved',
  Diverted = 'diverted',
  Transferred = 'transferred',
  Conferenced = 'conferenced',
  Failed = 'failed',
  Queued = 'queued',
  NetworkReached = 'networkReached',
  Forwarding = 'forwarding',
  DoNotDisturb = 'doNotDisturb',
}

/** A connection that moved to a new call (transfer, conference): ECMA-269 ConnectionList item. */
export interface MovedConnection {
  readonly deviceId: string;
  readonly newCallId: string;
  /** The old call, when the switch says it (otherwise: the device's connection in the old calls). */
  readonly oldCallId?: string;
}

/** Forwarding settings reported by ForwardingEvent (ECMA-269 §22.1.4). */
export interface ForwardingSetting {
  readonly type: ForwardingType;
  readonly on: boolean;
  readonly to?: string;
}

/** One CSTA event, normalised. Device identifiers are normalised with {@link normaliseDeviceId}. */
export interface CstaEvent {
  readonly kind: CstaEventKind;
  readonly monitorCrossRefId: string;
  /** The call of the event's subject connection ('' for device events: forwarding, DND). */
  readonly callId: string;
  /** The device of the subject connection (for device events: the device). */
  readonly subjectDevice: string;
  /** State of the monitored device's own connection after the event (`localConnectionInfo`). */
  readonly localState?: ConnectionState;
  readonly cause?: string;
  readonly callingDevice?: string;
  readonly calledDevice?: string;
  /** The device that acted: alerting, answering, releasing, holding, retrieving, diverting, failing, transferring, conferencing. */
  readonly actingDevice?: string;
  /** Diverted: where the call went. Transferred: the transferred-to device. */
  readonly newDestination?: string;
  /** Transferred/Conferenced: the secondary old call. */
  readonly secondaryCallId?: string;
  /** Transferred/Conferenced: connections now in a new call. */
  readonly moved: readonly MovedConnection[];
  readonly forwarding?: ForwardingSetting;
  readonly doNotDisturb?: boolean;
}

/** Root element local names of the events, both spellings of the transfer event included. */
const kindByRoot: ReadonlyMap<string, CstaEventKind> = new Map([
  ['ServiceInitiatedEvent', CstaEventKind.ServiceInitiated],
  ['OriginatedEvent', CstaEventKind.Originated],
  ['DeliveredEvent', CstaEventKind.Delivered],
  ['EstablishedEvent', CstaEventKind.Established],
  ['ConnectionClearedEvent', CstaEventKind.ConnectionCleared],
  ['CallClearedEvent', CstaEventKind.CallCleared],
  ['HeldEvent', CstaEventKind.Held],
  ['RetrievedEvent', CstaEventKind.Retrieved],
  ['DivertedEvent', CstaEventKind.Diverted],
  ['TransferedEvent', CstaEventKind.Transferred],
  ['TransferredEvent', CstaEventKind.Transferred],
  ['ConferencedEvent', CstaEventKind.Conferenced],
  ['FailedEvent', CstaEventKind.Failed],
  ['QueuedEvent', CstaEventKind.Queued],
  ['NetworkReachedEvent', CstaEventKind.NetworkReached],
  ['ForwardingEvent', CstaEventKind.Forwarding],
  ['DoNotDisturbEvent', CstaEventKind.DoNotDisturb],
]);

/** The element wrapping each event's subject connection (ECMA-323 event schemas). */
const subjectRole: Record<CstaEventKind, string> = {
  [CstaEventKind.ServiceInitiated]: 'initiatedConnection',
  [CstaEventKind.Originated]: 'originatedConnection',
  [CstaEventKind.Delivered]: 'connection',
  [CstaEventKind.Established]: 'establishedConnection',
  [CstaEventKind.ConnectionCleared]: 'droppedConnection',
  [CstaEventKind.CallCleared]: 'clearedCall',
  [CstaEventKind.Held]: 'heldConnection',
  [CstaEventKind.Retrieved]: 'retrievedConnection',
  [CstaEventKind.Diverted]: 'connection',
  [CstaEventKind.Transferred]: 'primaryOldCall',
  [CstaEventKind.Conferenced]: 'primaryOldCall',
  [CstaEventKind.Failed]: 'failedConnection',
  [CstaEventKind.Queued]: 'queuedConnection',
  [CstaEventKind.NetworkReached]: 'outboundConnection',
  [CstaEventKind.Forwarding]: '',
  [CstaEventKind.DoNotDisturb]: '',
};

/** The element naming the device that acted, per event. */
const actingRole: Record<CstaEventKind, string> = {
  [CstaEventKind.ServiceInitiated]: 'initiatingDevice',
  [CstaEventKind.Originated]: 'callingDevice',
  [CstaEventKind.Delivered]: 'alertingDevice',
  [CstaEventKind.Established]: 'answeringDevice',
  [CstaEventKind.ConnectionCleared]: 'releasingDevice',
  [CstaEventKind.CallCleared]: 'clearingDevice',
  [CstaEventKind.Held]: 'holdingDevice',
  [CstaEventKind.Retrieved]: 'retrievingDevice',
  [CstaEventKind.Diverted]: 'divertingDevice',
  [CstaEventKind.Transferred]: 'transferringDevice',
  [CstaEventKind.Conferenced]: 'conferencingDevice',
  [CstaEventKind.Failed]: 'failingDevice',
  [CstaEventKind.Queued]: 'queue',
  [CstaEventKind.NetworkReached]: 'networkInterfaceUsed',
  [CstaEventKind.Forwarding]: 'device',
  [CstaEventKind.DoNotDisturb]: 'device',
};

/** The event kind of a root element local name, or undefined for events the model does not use. */
export function eventKindOf(root: string): CstaEventKind | undefined {
  return kindByRoot.get(root);
}

/**
 * The canonical form of a CSTA device identifier, so that decorated forms match the configured number:
 * `N<302118840100>;noa=nk` -> `302118840100` (OpenScape), `tel:73124;phone-context=x` -> `73124`,
 * `sip:2000@pbx` -> `2000` (uaCSTA).
 */
export function normaliseDeviceId(raw: string): string {
  let id = raw.trim();
  if (id.startsWith('N<')) {
    const end = id.indexOf('>');
    return end > 2 ? id.slice(2, end) : id.slice(2);
  }
  if (id.startsWith('tel:')) id = id.slice(4);
  else if (id.startsWith('sip:')) id = id.slice(4);
  else if (id.startsWith('sips:')) id = id.slice(5);
  else if (!id.includes(';') && !id.includes('@')) return id;
  const semi = id.indexOf(';');
  if (semi >= 0) id = id.slice(0, semi);
  const at = id.indexOf('@');
  if (at >= 0) id = id.slice(0, at);
  return id;
}

function deviceByRole(msg: CstaMessage, role: string): string | undefined {
  for (const d of msg.devices) if (d.role === role) return normaliseDeviceId(d.id);
  return undefined;
}

function parseBool(text: string | undefined): boolean | undefined {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  return undefined;
}

/**
 * Turns a scanned event message into a {@link CstaEvent}; undefined when the root is not an event the
 * model uses (CallInformationEvent, ...) or the event lacks its subject connection (counted by the caller).
 */
export function normaliseEvent(msg: CstaMessage): CstaEvent | undefined {
  const kind = kindByRoot.get(msg.root);
  if (kind === undefined) return undefined;
  let callId = '';
  let subjectDevice = '';
  let secondaryCallId: string | undefined;
  const role = subjectRole[kind];
  if (role !== '') {
    for (const c of msg.connections) {
      if (c.role === role && callId === '') {
        callId = c.callId;
        subjectDevice = normaliseDeviceId(c.deviceId);
      } else if (c.role === 'secondaryOldCall' && secondaryCallId === undefined) {
        secondaryCallId = c.callId;
      }
    }
    if (callId === '') return undefined;
  } else {
    subjectDevice = deviceByRole(msg, 'device') ?? '';
    if (subjectDevice === '') return undefined;
  }
  const moved: MovedConnection[] = [];
  for (const t of msg.transferredConnections) {
    if (t.newCallId === undefined || (t.newDeviceId ?? t.oldDeviceId) === undefined) continue;
    const deviceId = normaliseDeviceId((t.newDeviceId ?? t.oldDeviceId)!);
    moved.push(t.oldCallId === undefined ? { deviceId, newCallId: t.newCallId } : { deviceId, newCallId: t.newCallId, oldCallId: t.oldCallId });
  }
  const out: {
    -readonly [K in keyof CstaEvent]: CstaEvent[K];
  } = {
    kind,
    monitorCrossRefId: msg.monitorCrossRefId ?? '',
    callId,
    subjectDevice,
    moved,
  };
  const localState = parseConnectionState(msg.localConnectionInfo);
  if (localState !== undefined) out.localState = localState;
  if (msg.cause !== undefined) out.cause = msg.cause;
  const calling = deviceByRole(msg, 'callingDevice');
  if (calling !== undefined) out.callingDevice = calling;
  const called = deviceByRole(msg, 'calledDevice');
  if (called !== undefined) out.calledDevice = called;
  const acting = deviceByRole(msg, actingRole[kind]);
  if (acting !== undefined) out.actingDevice = acting;
  if (secondaryCallId !== undefined) out.secondaryCallId = secondaryCallId;
  switch (kind) {
    case CstaEventKind.Diverted: {
      const dest = deviceByRole(msg, 'newDestination');
      if (dest !== undefined) out.newDestination = dest;
      break;
    }
    case CstaEventKind.Transferred:
    case CstaEventKind.Conferenced: {
      const dest = deviceByRole(msg, 'transferredToDevice') ?? deviceByRole(msg, 'addedParty');
      if (dest !== undefined) out.newDestination = dest;
      break;
    }
    case CstaEventKind.Forwarding: {
      const type = parseForwardingType(msg.fields['forwardingType'] ?? '');
      const on = parseBool(msg.fields['forwardStatus'] ?? msg.fields['activateForward']);
      if (type === undefined || on === undefined) return undefined;
      const to = deviceByRole(msg, 'forwardTo') ?? deviceByRole(msg, 'forwardDN') ?? msg.fields['forwardTo'] ?? msg.fields['forwardDN'];
      out.forwarding = to === undefined || to === '' ? { type, on } : { type, on, to: normaliseDeviceId(to) };
      break;
    }
    case CstaEventKind.DoNotDisturb: {
      const on = parseBool(msg.fields['doNotDisturbOn']);
      if (on === undefined) return undefined;
      out.doNotDisturb = on;
      break;
    }
    case CstaEventKind.ServiceInitiated:
    case CstaEventKind.Originated:
    case CstaEventKind.Delivered:
    case CstaEventKind.Established:
    case CstaEventKind.ConnectionCleared:
    case CstaEventKind.CallCleared:
    case CstaEventKind.Held:
    case CstaEventKind.Retrieved:
    case CstaEventKind.Failed:
    case CstaEventKind.Queued:
    case CstaEventKind.NetworkReached:
      break;
    default:
      throw new Error(`unhandled CSTA event kind ${kind as string}`);
  }
  return out;
}
