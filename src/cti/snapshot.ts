/**
 * Reading SnapshotDeviceResponse (ECMA-269 §16.1.5, ECMA-323 `snapshotDeviceResponseInfo` list): the
 * calls at a device with its connection state in each. Used only to resync after a reconnect, so it reads
 * the response's XML text directly rather than through the event scanner's first-wins fields.
 */
import { ConnectionState, normaliseDeviceId, parseConnectionState } from './events.js';
import { unescapeXml } from './xml.js';

/** One call at a snapshotted device. */
export interface SnapshotCall {
  readonly callId: string;
  readonly deviceId: string;
  readonly state: ConnectionState;
}

const pfx = '(?:[A-Za-z_][\\w.-]*:)?';
const infoRe = new RegExp(`<${pfx}snapshotDeviceResponseInfo\\b[^>]*>([\\s\\S]*?)</${pfx}snapshotDeviceResponseInfo>`, 'g');
const callIdRe = new RegExp(`<${pfx}callID\\b[^>]*>([^<]*)</${pfx}callID>`);
const deviceIdRe = new RegExp(`<${pfx}deviceID\\b[^>]*>([^<]*)</${pfx}deviceID>`);
const stateRe = new RegExp(`<${pfx}localConnectionState\\b[^>]*>([^<]*)</${pfx}localConnectionState>`);

/**
 * The calls listed in a SnapshotDeviceResponse document. Items without a call identifier or with a state
 * outside ECMA-269's LocalConnectionState are skipped and counted in `skipped`.
 */
export function parseSnapshotDevice(xml: string): { calls: SnapshotCall[]; skipped: number } {
  const calls: SnapshotCall[] = [];
  let skipped = 0;
  for (const m of xml.matchAll(infoRe)) {
    const body = m[1]!;
    const callId = callIdRe.exec(body)?.[1];
    const deviceId = deviceIdRe.exec(body)?.[1];
    const state = parseConnectionState(stateRe.exec(body)?.[1]?.trim());
    if (callId === undefined || deviceId === undefined || state === undefined) {
      skipped++;
      continue;
    }
    calls.push({ callId: unescapeXml(callId.trim()), deviceId: normaliseDeviceId(unescapeXml(deviceId)), state });
  }
  return { calls, skipped };
}
