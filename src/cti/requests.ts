/**
 * Builders of the CSTA XML documents an application sends (ECMA-323 service requests, ECMA-354
 * application-session requests) and of its answers to the switch's own requests. Element names follow
 * ECMA-323; shapes are those of the real switches quoted in docs/cti.md.
 */
import { applSessionNamespace, cstaNamespace, switchhookNamespace, type CstaEdition } from './editions.js';
import { connectionEl, doc, el, escapeXml } from './xml.js';

/** A CSTA ConnectionID (ECMA-269 §6.1.4): a call at a device. */
export interface ConnectionId {
  readonly callId: string;
  readonly deviceId: string;
}

/** How DeflectCall carries its `newDestination` (ed3/ed4 switches: plain text; ed5/ed6: a `<device>` child). */
export enum DeflectShape {
  Plain = 'plain',
  Device = 'device',
}

/** ECMA-269 forwarding types used by SetForwarding and ForwardingEvent. */
export enum ForwardingType {
  Immediate = 'forwardImmediate',
  Busy = 'forwardBusy',
  NoAnswer = 'forwardNoAns',
  BusyInternal = 'forwardBusyInt',
  BusyExternal = 'forwardBusyExt',
  DoNotDisturb = 'forwardDND',
  ImmediateInternal = 'forwardImmInt',
  ImmediateExternal = 'forwardImmExt',
  NoAnswerInternal = 'forwardNoAnsInt',
  NoAnswerExternal = 'forwardNoAnsExt',
}

/** Parses a forwarding type name; undefined when it is not one of ECMA-269's. */
export function parseForwardingType(value: string): ForwardingType | undefined {
  return (Object.values(ForwardingType) as string[]).includes(value) ? (value as ForwardingType) : undefined;
}

/**
 * What the daemon tells the switch about itself at start (claim 9 registration, docs/cti.md): its network
 * address (a SIP URI or host:port where the PBX and its users reach it) and its application name.
 */
export interface Registration {
  readonly address: string;
  readonly applicationId: string;
}

function registrationPrivate(reg: Registration): string {
  return (
    `<sh:registration xmlns:sh="${switchhookNamespace}">` +
    `<sh:applicationID>${escapeXml(reg.applicationId)}</sh:applicationID>` +
    `<sh:address>${escapeXml(reg.address)}</sh:address>` +
    `</sh:registration>`
  );
}

/** Builds request documents in one edition's namespace. */
export class CstaRequests {
  readonly ns: string;

  constructor(
    readonly edition: CstaEdition,
    readonly deflectShape: DeflectShape,
  ) {
    this.ns = cstaNamespace(edition);
  }

  /** Empty answer to the switch's SystemStatus (ECMA-323 §14: same invokeID as the request). */
  systemStatusResponse(): string {
    return doc('SystemStatusResponse', this.ns, '');
  }

  /** Answer to the switch's RequestSystemStatus. */
  requestSystemStatusResponse(status: string): string {
    return doc('RequestSystemStatusResponse', this.ns, el('systemStatus', status));
  }

  /** Heartbeat: asks the switch for its status; answered with RequestSystemStatusResponse. */
  requestSystemStatus(): string {
    return doc('RequestSystemStatus', this.ns, '');
  }

  /** Heartbeat in the other direction: tells the switch ours; answered with SystemStatusResponse. */
  systemStatus(status: string): string {
    return doc('SystemStatus', this.ns, el('systemStatus', status));
  }

  /** SystemRegister (ECMA-269 §14.1.4) carrying our registration as private data. */
  systemRegister(reg: Registration): string {
    return doc(
      'SystemRegister',
      this.ns,
      '<requestTypes><systemStatus>true</systemStatus><requestSystemStatus>true</requestSystemStatus></requestTypes>' +
        `<extensions><privateData><private>${registrationPrivate(reg)}</private></privateData></extensions>`,
    );
  }

  /** SystemRegisterCancel (ECMA-269 §14.1.5). */
  systemRegisterCancel(registerId: string): string {
    return doc('SystemRegisterCancel', this.ns, el('sysStatRegisterID', registerId));
  }

  /** ECMA-354 StartApplicationSession: our registration goes into applicationSpecificInfo. */
  startApplicationSession(reg: Registration, sessionSeconds: number): string {
    return doc(
      'StartApplicationSession',
      applSessionNamespace,
      `<applicationInfo>${el('applicationID', reg.applicationId)}` +
        `<applicationSpecificInfo>${registrationPrivate(reg)}</applicationSpecificInfo></applicationInfo>` +
        `<requestedProtocolVersions>${el('protocolVersion', this.ns)}</requestedProtocolVersions>` +
        el('requestedSessionDuration', String(sessionSeconds)),
    );
  }

  /** ECMA-354 keep-alive: restarts the session timer before actualSessionDuration runs out. */
  resetApplicationSessionTimer(sessionId: string, sessionSeconds: number): string {
    return doc(
      'ResetApplicationSessionTimer',
      applSessionNamespace,
      el('sessionID', sessionId) + el('requestedSessionDuration', String(sessionSeconds)),
    );
  }

  /** ECMA-354 StopApplicationSession. */
  stopApplicationSession(sessionId: string): string {
    return doc(
      'StopApplicationSession',
      applSessionNamespace,
      el('sessionID', sessionId) + '<sessionEndReason><appEndReason>normal</appEndReason></sessionEndReason>',
    );
  }

  /** MonitorStart on a device (ECMA-269 §15.1.2). */
  monitorStart(device: string): string {
    return doc(
      'MonitorStart',
      this.ns,
      `<monitorObject>${el('deviceObject', device)}</monitorObject><monitorType>device</monitorType>`,
    );
  }

  /** MonitorStop (ECMA-269 §15.1.4). */
  monitorStop(crossRefId: string): string {
    return doc('MonitorStop', this.ns, el('monitorCrossRefID', crossRefId));
  }

  /** SnapshotDevice (ECMA-269 §16.1.5): the calls at a device and its connection states. */
  snapshotDevice(device: string): string {
    return doc('SnapshotDevice', this.ns, el('snapshotObject', device));
  }

  /** MakeCall (ECMA-269 §17.2.12). */
  makeCall(calling: string, called: string): string {
    return doc(
      'MakeCall',
      this.ns,
      el('callingDevice', calling) + el('calledDirectoryNumber', called) + el('autoOriginate', 'doNotPrompt'),
    );
  }

  /** AnswerCall (ECMA-269 §17.2.2). */
  answerCall(c: ConnectionId): string {
    return doc('AnswerCall', this.ns, connectionEl('callToBeAnswered', c.callId, c.deviceId));
  }

  /** ClearConnection (ECMA-269 §17.2.6). */
  clearConnection(c: ConnectionId): string {
    return doc('ClearConnection', this.ns, connectionEl('connectionToBeCleared', c.callId, c.deviceId));
  }

  /** HoldCall (ECMA-269 §17.2.10). */
  holdCall(c: ConnectionId): string {
    return doc('HoldCall', this.ns, connectionEl('callToBeHeld', c.callId, c.deviceId));
  }

  /** RetrieveCall (ECMA-269 §17.2.16). */
  retrieveCall(c: ConnectionId): string {
    return doc('RetrieveCall', this.ns, connectionEl('callToBeRetrieved', c.callId, c.deviceId));
  }

  /** DeflectCall (ECMA-269 §17.2.8) in the configured `newDestination` shape. */
  deflectCall(c: ConnectionId, destination: string): string {
    const dest =
      this.deflectShape === DeflectShape.Device
        ? `<newDestination>${el('device', destination)}</newDestination>`
        : el('newDestination', destination);
    return doc('DeflectCall', this.ns, connectionEl('callToBeDiverted', c.callId, c.deviceId) + dest);
  }

  /** SingleStepTransferCall (ECMA-269 §17.2.20). */
  singleStepTransferCall(c: ConnectionId, to: string): string {
    return doc('SingleStepTransferCall', this.ns, connectionEl('activeCall', c.callId, c.deviceId) + el('transferredTo', to));
  }

  /** ConsultationCall (ECMA-269 §17.2.7): holds the existing call and calls `consulted`. */
  consultationCall(c: ConnectionId, consulted: string): string {
    return doc('ConsultationCall', this.ns, connectionEl('existingCall', c.callId, c.deviceId) + el('consultedDevice', consulted));
  }

  /** TransferCall (ECMA-269 §17.2.21): joins the held and the active call, dropping the transferring device. */
  transferCall(held: ConnectionId, active: ConnectionId): string {
    return doc(
      'TransferCall',
      this.ns,
      connectionEl('heldCall', held.callId, held.deviceId) + connectionEl('activeCall', active.callId, active.deviceId),
    );
  }

  /** SetForwarding (ECMA-269 §22.2.8). */
  setForwarding(device: string, type: ForwardingType, on: boolean, forwardDN?: string): string {
    return doc(
      'SetForwarding',
      this.ns,
      el('device', device) +
        el('activateForward', String(on)) +
        el('forwardingType', type) +
        (forwardDN === undefined ? '' : el('forwardDN', forwardDN)),
    );
  }

  /** SetDoNotDisturb (ECMA-269 §22.2.7). */
  setDoNotDisturb(device: string, on: boolean): string {
    return doc('SetDoNotDisturb', this.ns, el('device', device) + el('doNotDisturbOn', String(on)));
  }
}
