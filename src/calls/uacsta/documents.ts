/**
 * CSTA XML documents the uaCSTA front end sends to a desktop client (ECMA TR/87 over SIP, ECMA-323 element
 * names): service responses, CSTAErrorCode, and the events of monitored devices rebuilt from the model's
 * device changes. Built with the CTI layer's XML helpers; parsing goes through the native scanner.
 */
import { ConnectionState, CstaErrorCategory, CstaEventKind, connectionStateText, type ConnectionId } from '../../cti/index.js';
import { connectionEl, doc, el } from '../../cti/xml.js';
import type { DeviceChange, DeviceSnapshot } from '../../model/index.js';
import { CallControlError, CallControlErrorCode } from '../control/errors.js';

/** Root element and subject-connection element of each call event (ECMA-323 event schemas). */
const eventShape: Partial<Record<CstaEventKind, { root: string; subject: string }>> = {
  [CstaEventKind.ServiceInitiated]: { root: 'ServiceInitiatedEvent', subject: 'initiatedConnection' },
  [CstaEventKind.Originated]: { root: 'OriginatedEvent', subject: 'originatedConnection' },
  [CstaEventKind.Delivered]: { root: 'DeliveredEvent', subject: 'connection' },
  [CstaEventKind.Established]: { root: 'EstablishedEvent', subject: 'establishedConnection' },
  [CstaEventKind.ConnectionCleared]: { root: 'ConnectionClearedEvent', subject: 'droppedConnection' },
  [CstaEventKind.CallCleared]: { root: 'CallClearedEvent', subject: 'clearedCall' },
  [CstaEventKind.Held]: { root: 'HeldEvent', subject: 'heldConnection' },
  [CstaEventKind.Retrieved]: { root: 'RetrievedEvent', subject: 'retrievedConnection' },
  [CstaEventKind.Diverted]: { root: 'DivertedEvent', subject: 'connection' },
  [CstaEventKind.Transferred]: { root: 'TransferedEvent', subject: 'primaryOldCall' },
  [CstaEventKind.Conferenced]: { root: 'ConferencedEvent', subject: 'primaryOldCall' },
  [CstaEventKind.Failed]: { root: 'FailedEvent', subject: 'failedConnection' },
  [CstaEventKind.Queued]: { root: 'QueuedEvent', subject: 'queuedConnection' },
  [CstaEventKind.NetworkReached]: { root: 'NetworkReachedEvent', subject: 'outboundConnection' },
};

/** The ECMA-269 services the front end serves, for GetCSTAFeaturesResponse. */
const features =
  '<supportedServices>' +
  '<callControlServices><answerCall>true</answerCall><clearConnection>true</clearConnection><deflectCall>true</deflectCall>' +
  '<holdCall>true</holdCall><makeCall>true</makeCall><retrieveCall>true</retrieveCall><singleStepTransferCall>true</singleStepTransferCall></callControlServices>' +
  '<logicalDeviceFeatures><setDoNotDisturb>true</setDoNotDisturb><setForwarding>true</setForwarding></logicalDeviceFeatures>' +
  '<monitoringServices><monitorStart>true</monitorStart><monitorStop>true</monitorStop></monitoringServices>' +
  '<snapshotServices><snapshotDevice>true</snapshotDevice></snapshotServices>' +
  '<statusReportingServices><requestSystemStatus>true</requestSystemStatus></statusReportingServices>' +
  '</supportedServices>';

/** Builds the documents in one namespace (the client's edition, ed3 for Microsoft RCC clients). */
export class UaCstaDocuments {
  constructor(readonly ns: string) {}

  requestSystemStatusResponse(status = 'normal'): string {
    return doc('RequestSystemStatusResponse', this.ns, el('systemStatus', status));
  }

  getCstaFeaturesResponse(): string {
    return doc('GetCSTAFeaturesResponse', this.ns, features);
  }

  /** A response without content (`HoldCallResponse`, `SetForwardingResponse`, ...). */
  empty(root: string): string {
    return doc(root, this.ns, '');
  }

  monitorStartResponse(crossRefId: string): string {
    return doc('MonitorStartResponse', this.ns, el('monitorCrossRefID', crossRefId));
  }

  makeCallResponse(c: ConnectionId, called: string): string {
    return doc('MakeCallResponse', this.ns, connectionEl('callingDevice', c.callId, c.deviceId) + el('calledDevice', called));
  }

  singleStepTransferCallResponse(c: ConnectionId | undefined): string {
    return doc('SingleStepTransferCallResponse', this.ns, c ? connectionEl('transferredCall', c.callId, c.deviceId) : '');
  }

  snapshotDeviceResponse(s: DeviceSnapshot): string {
    const items = s.calls
      .filter((c) => c.state !== ConnectionState.Null)
      .map(
        (c) =>
          `<snapshotDeviceResponseInfo>${connectionEl('connectionIdentifier', c.callId, s.device)}` +
          `<localCallState><compoundCallState>${el('localConnectionState', connectionStateText(c.state))}</compoundCallState></localCallState>` +
          `</snapshotDeviceResponseInfo>`,
      )
      .join('');
    return doc('SnapshotDeviceResponse', this.ns, `<crossRefIDorSnapshotData><snapshotData>${items}</snapshotData></crossRefIDorSnapshotData>`);
  }

  /** CSTAErrorCode (ECMA-323 §9) with one category child. */
  error(category: CstaErrorCategory, value: string): string {
    return doc('CSTAErrorCode', this.ns, el(category, value));
  }

  /** The CSTAErrorCode for a call-control failure: the switch's own error when it refused, else a mapped one. */
  errorFor(e: CallControlError): string {
    const cti = e.cti;
    if (cti?.category !== undefined) return this.error(cti.category, cti.value ?? '');
    switch (e.code) {
      case CallControlErrorCode.UnknownCall:
        return this.error(CstaErrorCategory.Operation, 'invalidConnectionID');
      case CallControlErrorCode.UnknownPhone:
        return this.error(CstaErrorCategory.Operation, 'invalidDeviceID');
      case CallControlErrorCode.NotOwner:
        return this.error(CstaErrorCategory.Security, 'privilegeViolationOnSpecifiedDevice');
      case CallControlErrorCode.NoSuitableCall:
        return this.error(CstaErrorCategory.StateIncompatibility, 'incorrectObjectState');
      case CallControlErrorCode.BadRequest:
        return this.error(CstaErrorCategory.Operation, 'valueOutOfRange');
      case CallControlErrorCode.UnmappedTarget:
        return this.error(CstaErrorCategory.Operation, 'invalidDestination');
      case CallControlErrorCode.UnknownRequest:
        return this.error(CstaErrorCategory.Operation, 'invalidCrossRefID');
      case CallControlErrorCode.Timeout:
      case CallControlErrorCode.Refused:
      case CallControlErrorCode.Closed:
        return this.error(CstaErrorCategory.SystemResourceAvailability, 'resourceOutOfService');
      default:
        throw new Error(`unknown call-control error ${e.code as string}`);
    }
  }

  /**
   * The events for one model change of a monitored device, in the client's monitor (`crossRefId`). Call
   * events carry the call, the device's own connection state (`localConnectionInfo`) and the cause;
   * forwarding and DND changes become ForwardingEvent / DoNotDisturbEvent from the device's snapshot.
   */
  eventsFor(change: DeviceChange, crossRefId: string, device: DeviceSnapshot | undefined): string[] {
    const xref = el('monitorCrossRefID', crossRefId);
    const dev = `<device>${el('deviceIdentifier', change.device)}</device>`;
    switch (change.reason) {
      case 'linkLost':
      case 'resync':
        return [];
      case CstaEventKind.Forwarding:
        return (device?.forwarding ?? []).map((f) =>
          doc('ForwardingEvent', this.ns, xref + dev + el('forwardingType', f.type) + el('forwardStatus', String(f.on)) + (f.to === undefined ? '' : el('forwardTo', f.to))),
        );
      case CstaEventKind.DoNotDisturb:
        return [doc('DoNotDisturbEvent', this.ns, xref + dev + el('doNotDisturbOn', String(device?.doNotDisturb ?? false)))];
      default:
        break;
    }
    const shape = eventShape[change.reason];
    if (!shape) return [];
    return change.calls.map((cc) => {
      const call = cc.call;
      const subject = cc.previous !== call.state ? change.device : (call.remote ?? change.device);
      const calling = call.direction === 'incoming' ? call.remote : change.device;
      const called = call.direction === 'incoming' ? change.device : call.remote;
      return doc(
        shape.root,
        this.ns,
        xref +
          connectionEl(shape.subject, call.callId, subject) +
          party('callingDevice', calling) +
          party('calledDevice', called) +
          el('localConnectionInfo', connectionStateText(call.state)) +
          (change.cause === undefined ? '' : el('cause', change.cause)),
      );
    });
  }
}

function party(role: string, id: string | undefined): string {
  return id === undefined ? '' : `<${role}>${el('deviceIdentifier', id)}</${role}>`;
}

