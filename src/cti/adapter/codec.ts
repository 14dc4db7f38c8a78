import { join } from 'node:path';

import protobuf from 'protobufjs';

import { packageRoot } from '../../util/package-root.js';
import { CtiError, CtiErrorCode } from '../errors.js';

/** Version of the adapter protocol (proto/cti_adapter.proto) this daemon speaks. */
export const adapterProtocolVersion = 1;

/** Largest envelope accepted (bytes). */
export const maxEnvelopeBytes = 64 * 1024;

const root = protobuf.loadSync(join(packageRoot(), 'proto', 'cti_adapter.proto'));
const envelopeType = root.lookupType('switchhook.adapter.v1.Envelope');

/** Enum names as they appear in decoded envelopes. */
export type AdapterSource = 'SOURCE_UNSPECIFIED' | 'SOURCE_TAPI' | 'SOURCE_TSAPI' | 'SOURCE_CSTA' | 'SOURCE_OTHER';
export type AdapterEventKind =
  | 'EVENT_UNSPECIFIED'
  | 'SERVICE_INITIATED'
  | 'ORIGINATED'
  | 'DELIVERED'
  | 'ESTABLISHED'
  | 'CONNECTION_CLEARED'
  | 'CALL_CLEARED'
  | 'HELD'
  | 'RETRIEVED'
  | 'DIVERTED'
  | 'TRANSFERRED'
  | 'CONFERENCED'
  | 'FAILED'
  | 'QUEUED'
  | 'NETWORK_REACHED'
  | 'FORWARDING'
  | 'DO_NOT_DISTURB';
export type AdapterConnectionState =
  | 'CONNECTION_UNSPECIFIED'
  | 'CONNECTION_NULL'
  | 'CONNECTION_INITIATED'
  | 'CONNECTION_ALERTING'
  | 'CONNECTION_CONNECTED'
  | 'CONNECTION_HELD'
  | 'CONNECTION_QUEUED'
  | 'CONNECTION_FAIL';

/** A DeviceEvent as plain data (proto3 defaults filled in). */
export interface AdapterDeviceEvent {
  device: string;
  kind: AdapterEventKind;
  callId: string;
  subjectDevice: string;
  localState: AdapterConnectionState;
  cause: string;
  callingDevice: string;
  calledDevice: string;
  actingDevice: string;
  newDestination: string;
  secondaryCallId: string;
  moved: { deviceId: string; newCallId: string; oldCallId: string }[];
  forwarding?: { type: string; on: boolean; to: string };
  doNotDisturb: boolean;
}

/** One message of the adapter protocol: exactly one body field is set. */
export interface AdapterEnvelope {
  hello?: { adapter: string; source: AdapterSource; protocolVersion: number; devices: string[] };
  welcome?: { protocolVersion: number; daemonAddress: string; devices: string[] };
  event?: AdapterDeviceEvent;
  snapshot?: { device: string; calls: { callId: string; state: AdapterConnectionState }[] };
  link?: { up: boolean; reason: string };
  heartbeat?: { sentMs: number };
  failure?: { code: string; message: string };
}

/** Encode one envelope with its varint length prefix. */
export function encodeEnvelope(envelope: AdapterEnvelope): Buffer {
  let msg: protobuf.Message;
  try {
    msg = envelopeType.fromObject(envelope);
  } catch (err) {
    throw new CtiError(CtiErrorCode.AdapterProtocol, `adapter envelope is invalid: ${(err as Error).message}`);
  }
  const invalid = envelopeType.verify(msg);
  if (invalid) throw new CtiError(CtiErrorCode.AdapterProtocol, `adapter envelope is invalid: ${invalid}`);
  return Buffer.from(envelopeType.encodeDelimited(msg).finish());
}

function toEnvelope(bytes: Uint8Array): AdapterEnvelope {
  const msg = envelopeType.decode(bytes);
  const obj = envelopeType.toObject(msg, { enums: String, longs: Number, defaults: true, oneofs: true }) as AdapterEnvelope & { body?: string };
  const body = obj.body;
  if (!body) throw new Error('envelope has no body');
  const out: Record<string, unknown> = {};
  out[body] = (obj as Record<string, unknown>)[body];
  return out as AdapterEnvelope;
}

/**
 * Splits a TCP byte stream into adapter envelopes (varint length + protobuf). A length over
 * {@link maxEnvelopeBytes}, a malformed varint or an undecodable envelope is fatal for the stream: framing
 * cannot be recovered, so the connection must close with the error.
 */
export class EnvelopeReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Feed bytes; returns the envelopes completed by them. Throws a {@link CtiError} when the stream is broken. */
  push(chunk: Buffer): AdapterEnvelope[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: AdapterEnvelope[] = [];
    let off = 0;
    for (;;) {
      let len = 0;
      let shift = 0;
      let p = off;
      let complete = false;
      while (p < this.pending.length) {
        const b = this.pending[p++]!;
        if (shift > 28) throw new CtiError(CtiErrorCode.AdapterProtocol, 'adapter stream: malformed length prefix');
        len |= (b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      if (len > maxEnvelopeBytes) throw new CtiError(CtiErrorCode.AdapterProtocol, `adapter stream: envelope of ${len} bytes is over ${maxEnvelopeBytes}`);
      if (this.pending.length - p < len) break;
      try {
        out.push(toEnvelope(this.pending.subarray(p, p + len)));
      } catch (err) {
        throw new CtiError(CtiErrorCode.AdapterProtocol, `adapter stream: undecodable envelope: ${(err as Error).message}`);
      }
      off = p + len;
    }
    this.pending = off === this.pending.length ? Buffer.alloc(0) : this.pending.subarray(off);
    return out;
  }
}
