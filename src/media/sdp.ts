import sdpTransform from 'sdp-transform';

import { MediaError } from './errors.js';
import type { RtpLegOptions } from './rtp-leg.js';

/** Audio codecs the bridge relays and transcodes (RFC 3551 §6 static payload types). */
const G711: Record<string, number> = { PCMU: 0, PCMA: 8 };

/**
 * Reads the first audio stream of an SDP body (RFC 4566, RFC 3264) into leg options: the remote address
 * (media-level `c=` over session-level), RTP port, RTCP port (`a=rtcp`, RFC 3605; `a=rtcp-mux`, RFC 5761),
 * the first G.711 payload type offered and the RFC 4733 telephone-event payload type.
 */
export function legOptionsFromSdp(sdp: string): RtpLegOptions {
  let parsed: sdpTransform.SessionDescription;
  try {
    parsed = sdpTransform.parse(sdp);
  } catch (err) {
    throw new MediaError('MEDIA_ERR_SDP', 'unparsable SDP', { cause: err });
  }
  const audio = (parsed.media ?? []).find((m) => m.type === 'audio');
  if (!audio) throw new MediaError('MEDIA_ERR_SDP', 'SDP has no audio stream');
  const address = audio.connection?.ip ?? parsed.connection?.ip;
  if (!address) throw new MediaError('MEDIA_ERR_SDP', 'SDP audio stream has no connection address');
  if (!Number.isInteger(audio.port) || audio.port <= 0 || audio.port > 65535) {
    throw new MediaError('MEDIA_ERR_SDP', `SDP audio port ${audio.port} is not usable`);
  }
  const offered = String(audio.payloads ?? '')
    .split(/\s+/)
    .filter((p) => p !== '')
    .map(Number);
  const nameOf = (pt: number): string | undefined => {
    const rtpmap = audio.rtp.find((r) => r.payload === pt);
    if (rtpmap) return rtpmap.codec.toUpperCase();
    return pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : undefined;
  };
  const payloadType = offered.find((pt) => {
    const name = nameOf(pt);
    return name !== undefined && name in G711;
  });
  if (payloadType === undefined) throw new MediaError('MEDIA_ERR_SDP', 'SDP offers neither PCMU nor PCMA');
  const te = audio.rtp.find((r) => r.codec.toLowerCase() === 'telephone-event' && offered.includes(r.payload));
  const rtcpPort = audio.rtcpMux !== undefined ? audio.port : audio.rtcp?.port;
  return {
    remote: { address, port: audio.port, ...(rtcpPort !== undefined ? { rtcpPort } : {}) },
    payloadType,
    telephoneEventPayloadType: te ? te.payload : null,
  };
}

/** An SDP body describing a leg's local side (RFC 4566), e.g. for an answer or a re-INVITE. */
export function sdpForLeg(params: {
  address: string;
  rtpPort: number;
  payloadType: number;
  telephoneEventPayloadType?: number | null;
  sessionId?: number;
}): string {
  const name = Object.keys(G711).find((k) => G711[k] === params.payloadType);
  if (!name) throw new MediaError('MEDIA_ERR_SDP', `payload type ${params.payloadType} is not G.711`);
  const te = params.telephoneEventPayloadType ?? null;
  const id = params.sessionId ?? Date.now();
  const lines = [
    'v=0',
    `o=switchhook ${id} ${id} IN IP4 ${params.address}`,
    's=switchhook',
    `c=IN IP4 ${params.address}`,
    't=0 0',
    `m=audio ${params.rtpPort} RTP/AVP ${params.payloadType}${te !== null ? ` ${te}` : ''}`,
    `a=rtpmap:${params.payloadType} ${name}/8000`,
  ];
  if (te !== null) lines.push(`a=rtpmap:${te} telephone-event/8000`, `a=fmtp:${te} 0-16`);
  lines.push('a=sendrecv', '');
  return lines.join('\r\n');
}
