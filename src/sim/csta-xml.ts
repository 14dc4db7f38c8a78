/**
 * The simulated switch's side of CSTA XML (ECMA-323): events for a monitor and responses to services,
 * shaped like those of the switches quoted in docs/cti.md (OpenScape Voice ed4 events, Yealink/Zultys
 * responses).
 */
import { CstaErrorCategory } from '../cti/errors.js';
import { ConnectionState, CstaEventKind, connectionStateText } from '../cti/events.js';
import { applSessionNamespace } from '../cti/editions.js';
import { connectionEl, doc, el } from '../cti/xml.js';
import type { SimConnectionId, SimEvent } from './core.js';

function dev(name: string, id: string): string {
  return `<${name}>${el('deviceIdentifier', id)}</${name}>`;
}

/** The XML of one event as the monitor of `monitored` (cross reference `xref`) receives it. */
export function encodeEvent(ns: string, ev: SimEvent, xref: string, monitored: string): string {
  const local = connectionStateText(ev.involved.get(monitored) ?? ConnectionState.Null);
  const head = el('monitorCrossRefID', xref);
  const conn = (role: string): string => connectionEl(role, ev.callId, ev.subject);
  const tail = el('localConnectionInfo', local) + el('cause', ev.cause);
  const calling = ev.callingDevice === undefined ? '' : dev('callingDevice', ev.callingDevice);
  const called = ev.calledDevice === undefined ? '' : dev('calledDevice', ev.calledDevice);
  const acting = (role: string): string => (ev.actingDevice === undefined ? '' : dev(role, ev.actingDevice));
  const lastRedirection =
    ev.lastRedirection === undefined
      ? '<lastRedirectionDevice><notRequired/></lastRedirectionDevice>'
      : `<lastRedirectionDevice>${el('deviceIdentifier', ev.lastRedirection)}</lastRedirectionDevice>`;
  switch (ev.kind) {
    case CstaEventKind.ServiceInitiated:
      return doc('ServiceInitiatedEvent', ns, head + conn('initiatedConnection') + acting('initiatingDevice') + tail);
    case CstaEventKind.Originated:
      return doc('OriginatedEvent', ns, head + conn('originatedConnection') + calling + called + tail);
    case CstaEventKind.Delivered:
      return doc('DeliveredEvent', ns, head + conn('connection') + acting('alertingDevice') + calling + called + lastRedirection + tail);
    case CstaEventKind.Established:
      return doc('EstablishedEvent', ns, head + conn('establishedConnection') + acting('answeringDevice') + calling + called + lastRedirection + tail);
    case CstaEventKind.ConnectionCleared:
      return doc('ConnectionClearedEvent', ns, head + conn('droppedConnection') + acting('releasingDevice') + tail);
    case CstaEventKind.Held:
      return doc('HeldEvent', ns, head + conn('heldConnection') + acting('holdingDevice') + tail);
    case CstaEventKind.Retrieved:
      return doc('RetrievedEvent', ns, head + conn('retrievedConnection') + acting('retrievingDevice') + tail);
    case CstaEventKind.Diverted:
      return doc(
        'DivertedEvent',
        ns,
        head + conn('connection') + acting('divertingDevice') + dev('newDestination', ev.newDestination ?? '') + calling + called + tail,
      );
    case CstaEventKind.NetworkReached:
      return doc('NetworkReachedEvent', ns, head + conn('outboundConnection') + acting('networkInterfaceUsed') + calling + called + lastRedirection + tail);
    case CstaEventKind.Failed:
      return doc('FailedEvent', ns, head + conn('failedConnection') + acting('failingDevice') + calling + called + tail);
    case CstaEventKind.Transferred: {
      const items = (ev.moved ?? [])
        .map(
          (m) =>
            `<connectionListItem>${connectionEl('newConnection', m.newCallId, m.deviceId)}${connectionEl('oldConnection', m.oldCallId, m.deviceId)}</connectionListItem>`,
        )
        .join('');
      const secondary = ev.secondaryCallId === undefined ? '' : connectionEl('secondaryOldCall', ev.secondaryCallId, ev.subject);
      return doc(
        'TransferedEvent',
        ns,
        head +
          conn('primaryOldCall') +
          secondary +
          acting('transferringDevice') +
          dev('transferredToDevice', ev.newDestination ?? '') +
          `<transferredConnections>${items}</transferredConnections>` +
          tail,
      );
    }
    case CstaEventKind.Forwarding: {
      const f = ev.forwarding!;
      return doc(
        'ForwardingEvent',
        ns,
        head + dev('device', ev.subject) + el('forwardingType', f.type) + el('forwardStatus', String(f.on)) + (f.to === undefined ? '' : el('forwardTo', f.to)),
      );
    }
    case CstaEventKind.DoNotDisturb:
      return doc('DoNotDisturbEvent', ns, head + dev('device', ev.subject) + el('doNotDisturbOn', String(ev.doNotDisturb ?? false)));
    case CstaEventKind.CallCleared:
    case CstaEventKind.Conferenced:
    case CstaEventKind.Queued:
      throw new Error(`the simulator does not emit ${ev.kind}`);
    default:
      throw new Error(`unknown event kind ${ev.kind as string}`);
  }
}

/** Builds the simulated switch's responses and requests in one namespace. */
export class SimResponses {
  constructor(readonly ns: string) {}

  /** A response with no content (`AnswerCallResponse`, `HoldCallResponse`, ...). */
  empty(root: string): string {
    return doc(root, this.ns, '');
  }

  /** CSTAErrorCode (ECMA-323 §9) with one category element. */
  error(category: CstaErrorCategory, value: string): string {
    return doc('CSTAErrorCode', this.ns, category === CstaErrorCategory.Unspecified && value === '' ? '<unspecified/>' : el(category, value));
  }

  /** The switch's SystemStatus request (ECMA-269 §14.1.3). */
  systemStatus(status: string, registerId?: string): string {
    return doc('SystemStatus', this.ns, (registerId === undefined ? '' : el('sysStatRegisterID', registerId)) + el('systemStatus', status));
  }

  requestSystemStatusResponse(status: string): string {
    return doc('RequestSystemStatusResponse', this.ns, el('systemStatus', status));
  }

  systemRegisterResponse(registerId: string): string {
    return doc('SystemRegisterResponse', this.ns, el('sysStatRegisterID', registerId));
  }

  /** ECMA-354 StartApplicationSessionPosResponse. */
  startSessionPos(sessionId: string, duration: number): string {
    return doc(
      'StartApplicationSessionPosResponse',
      applSessionNamespace,
      el('sessionID', sessionId) + el('actualProtocolVersion', this.ns) + el('actualSessionDuration', String(duration)),
    );
  }

  /** ECMA-354 StartApplicationSessionNegResponse. */
  startSessionNeg(reason: string): string {
    return doc('StartApplicationSessionNegResponse', applSessionNamespace, `<errorCode>${el('definedError', reason)}</errorCode>`);
  }

  resetSessionTimerPos(duration: number): string {
    return doc('ResetApplicationSessionTimerPosResponse', applSessionNamespace, el('actualSessionDuration', String(duration)));
  }

  resetSessionTimerNeg(reason: string): string {
    return doc('ResetApplicationSessionTimerNegResponse', applSessionNamespace, `<errorCode>${el('definedError', reason)}</errorCode>`);
  }

  stopSessionPos(): string {
    return doc('StopApplicationSessionPosResponse', applSessionNamespace, '');
  }

  monitorStartResponse(xref: string): string {
    return doc('MonitorStartResponse', this.ns, el('monitorCrossRefID', xref));
  }

  makeCallResponse(c: SimConnectionId, called: string): string {
    return doc('MakeCallResponse', this.ns, connectionEl('callingDevice', c.callId, c.deviceId) + el('calledDevice', called));
  }

  /** A response carrying one connection (`transferredCall`, `initiatedCall`). */
  withConnection(root: string, role: string, c: SimConnectionId): string {
    return doc(root, this.ns, connectionEl(role, c.callId, c.deviceId));
  }

  /** SnapshotDeviceResponse (ECMA-269 §16.1.5). */
  snapshotDevice(device: string, calls: ReadonlyArray<{ callId: string; state: ConnectionState }>): string {
    const items = calls
      .map(
        (c) =>
          `<snapshotDeviceResponseInfo>${connectionEl('connectionIdentifier', c.callId, device)}` +
          `<localCallState><compoundCallState>${el('localConnectionState', connectionStateText(c.state))}</compoundCallState></localCallState>` +
          `</snapshotDeviceResponseInfo>`,
      )
      .join('');
    return doc('SnapshotDeviceResponse', this.ns, `<crossRefIDorSnapshotData><snapshotData>${items}</snapshotData></crossRefIDorSnapshotData>`);
  }
}
