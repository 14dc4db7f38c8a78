import type { AdapterConnectionState, AdapterDeviceEvent, AdapterEventKind } from './codec.js';

/** TSAPI unsolicited event types (csta.h) and the adapter event each becomes. */
const kindByTsapi = new Map<string, { value: number; kind: AdapterEventKind; acting: string }>([
  ['CSTA_CALL_CLEARED', { value: 54, kind: 'CALL_CLEARED', acting: 'clearingDevice' }],
  ['CSTA_CONFERENCED', { value: 55, kind: 'CONFERENCED', acting: 'confController' }],
  ['CSTA_CONNECTION_CLEARED', { value: 56, kind: 'CONNECTION_CLEARED', acting: 'releasingDevice' }],
  ['CSTA_DELIVERED', { value: 57, kind: 'DELIVERED', acting: 'alertingDevice' }],
  ['CSTA_DIVERTED', { value: 58, kind: 'DIVERTED', acting: 'divertingDevice' }],
  ['CSTA_ESTABLISHED', { value: 59, kind: 'ESTABLISHED', acting: 'answeringDevice' }],
  ['CSTA_FAILED', { value: 60, kind: 'FAILED', acting: 'failingDevice' }],
  ['CSTA_HELD', { value: 61, kind: 'HELD', acting: 'holdingDevice' }],
  ['CSTA_NETWORK_REACHED', { value: 62, kind: 'NETWORK_REACHED', acting: 'trunkUsed' }],
  ['CSTA_ORIGINATED', { value: 63, kind: 'ORIGINATED', acting: 'callingDevice' }],
  ['CSTA_QUEUED', { value: 64, kind: 'QUEUED', acting: 'queue' }],
  ['CSTA_RETRIEVED', { value: 65, kind: 'RETRIEVED', acting: 'retrievingDevice' }],
  ['CSTA_SERVICE_INITIATED', { value: 66, kind: 'SERVICE_INITIATED', acting: 'initiatingDevice' }],
  ['CSTA_TRANSFERRED', { value: 67, kind: 'TRANSFERRED', acting: 'transferringDevice' }],
  ['CSTA_DO_NOT_DISTURB', { value: 69, kind: 'DO_NOT_DISTURB', acting: 'device' }],
  ['CSTA_FORWARDING', { value: 70, kind: 'FORWARDING', acting: 'device' }],
]);

const nameByValue = new Map([...kindByTsapi].map(([name, v]) => [v.value, name]));

/** TSAPI LocalConnectionState_t (csta.h): csNone -1, csNull 0, csInitiate 1, csAlerting 2, csConnect 3, csHold 4, csQueued 5, csFail 6. */
const localStates: readonly AdapterConnectionState[] = [
  'CONNECTION_NULL',
  'CONNECTION_INITIATED',
  'CONNECTION_ALERTING',
  'CONNECTION_CONNECTED',
  'CONNECTION_HELD',
  'CONNECTION_QUEUED',
  'CONNECTION_FAIL',
];
const localStateByName = new Map<string, AdapterConnectionState>([
  ['csNull', 'CONNECTION_NULL'],
  ['csInitiate', 'CONNECTION_INITIATED'],
  ['csAlerting', 'CONNECTION_ALERTING'],
  ['csConnect', 'CONNECTION_CONNECTED'],
  ['csHold', 'CONNECTION_HELD'],
  ['csQueued', 'CONNECTION_QUEUED'],
  ['csFail', 'CONNECTION_FAIL'],
]);

/**
 * One TSAPI unsolicited event as a TSAPI bridge reports it: the monitored device, the event type (csta.h
 * name or value), the subject connection, the device fields of that event's PDU by their TSAPI names
 * (alertingDevice, answeringDevice, ...), localConnectionInfo, cause and the transferred/conferenced
 * connection list.
 */
export interface TsapiEventRecord {
  device: string;
  event: string | number;
  callId?: string;
  subjectDevice?: string;
  localConnectionInfo?: string | number;
  cause?: string;
  callingDevice?: string;
  calledDevice?: string;
  [deviceField: string]: unknown;
  connections?: { deviceId: string; newCallId: string; oldCallId?: string }[];
  secondaryOldCall?: string;
  newDestination?: string;
  forwarding?: { type: string; on: boolean; to?: string };
  doNotDisturb?: boolean;
}

/** Why a TSAPI record produced no event. */
export type TsapiSkip = 'unknownEvent' | 'badLocalState';

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The adapter event for one TSAPI event record (docs/cti-adapter.md has the table), or why there is none. */
export function translateTsapi(rec: TsapiEventRecord): AdapterDeviceEvent | TsapiSkip {
  const name = typeof rec.event === 'number' ? nameByValue.get(rec.event) : rec.event;
  const entry = name ? kindByTsapi.get(name) : undefined;
  if (!entry) return 'unknownEvent';
  let localState: AdapterConnectionState = 'CONNECTION_UNSPECIFIED';
  if (typeof rec.localConnectionInfo === 'number') {
    if (rec.localConnectionInfo !== -1) {
      const s = localStates[rec.localConnectionInfo];
      if (!s) return 'badLocalState';
      localState = s;
    }
  } else if (rec.localConnectionInfo !== undefined && rec.localConnectionInfo !== 'csNone') {
    const s = localStateByName.get(rec.localConnectionInfo);
    if (!s) return 'badLocalState';
    localState = s;
  }
  const acting = str(rec[entry.acting]);
  return {
    device: rec.device,
    kind: entry.kind,
    callId: rec.callId ?? '',
    subjectDevice: rec.subjectDevice ?? (acting || rec.device),
    localState,
    cause: rec.cause ?? '',
    callingDevice: rec.callingDevice ?? '',
    calledDevice: rec.calledDevice ?? '',
    actingDevice: acting,
    newDestination: rec.newDestination ?? str(rec['transferredDevice']),
    secondaryCallId: rec.secondaryOldCall ?? '',
    moved: (rec.connections ?? []).map((c) => ({ deviceId: c.deviceId, newCallId: c.newCallId, oldCallId: c.oldCallId ?? '' })),
    ...(rec.forwarding ? { forwarding: { type: rec.forwarding.type, on: rec.forwarding.on, to: rec.forwarding.to ?? '' } } : {}),
    doNotDisturb: rec.doNotDisturb ?? false,
  };
}
