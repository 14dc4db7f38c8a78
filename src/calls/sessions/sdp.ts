/**
 * SDP for the concurrent media session (RFC 4566 / RFC 3264 offer-answer, via sdp-transform). The chat is
 * an MSRP stream, `m=message <port> TCP/MSRP *` with `a=accept-types` and `a=path` (RFC 4975 section 8),
 * and `a=setup:passive` (RFC 6135): the daemon's relay is the passive end of every leg. Escalation adds
 * `m=audio`, `m=video` (screen sharing: `a=content:slides`, RFC 4796) or `m=application ... TCP/BFCP`
 * (RFC 8856) lines, which the daemon passes through unchanged between the clients.
 */
import sdpTransform from 'sdp-transform';

import { SessionError } from './errors.js';

type MediaDescription = sdpTransform.MediaDescription & { invalid?: Array<{ value: string }>; content?: string };

/** The accept-types the daemon offers (RFC 4975 section 8.6). */
export const ACCEPT_TYPES = 'text/plain message/cpim';

/** Where the daemon's relay listens for one leg. */
export interface RelayEndpoint {
  host: string;
  port: number;
  /** The leg's daemon MSRP URI. */
  path: string;
}

function ipVer(host: string): 4 | 6 {
  return host.includes(':') ? 6 : 4;
}

function msrpMedia(ep: RelayEndpoint, acceptTypes: string): MediaDescription {
  return {
    type: 'message',
    port: ep.port,
    protocol: 'TCP/MSRP',
    payloads: '*',
    rtp: [],
    fmtp: [],
    connection: { version: ipVer(ep.host), ip: ep.host },
    setup: 'passive',
    invalid: [{ value: `accept-types:${acceptTypes}` }, { value: `path:${ep.path}` }],
  };
}

/** The initial offer for a chat leg: one MSRP stream to the relay. */
export function chatOffer(ep: RelayEndpoint, sessionId: number, version: number): string {
  return sdpTransform.write({
    version: 0,
    origin: { username: 'switchhook', sessionId, sessionVersion: version, netType: 'IN', ipVer: ipVer(ep.host), address: ep.host },
    name: 'switchhook chat',
    timing: { start: 0, stop: 0 },
    connection: { version: ipVer(ep.host), ip: ep.host },
    media: [msrpMedia(ep, ACCEPT_TYPES)],
  } as sdpTransform.SessionDescription);
}

function attr(m: MediaDescription, name: string): string | undefined {
  for (const a of m.invalid ?? []) if (a.value.startsWith(name + ':')) return a.value.slice(name.length + 1).trim();
  return undefined;
}

/** What a client's SDP says about its media. */
export interface ClientSdp {
  /** The client's MSRP path (`a=path`, last URI is the client), when it has an MSRP stream with a port. */
  msrpPath: string | undefined;
  /** The client's accept-types. */
  acceptTypes: string | undefined;
  /** `type/protocol` of every media line with a non-zero port (e.g. `message/TCP/MSRP`, `audio/RTP/AVP`). */
  media: string[];
}

/** Parse a client's SDP. @throws SessionError `SESSION_ERR_SDP` (SIP 400) when it is not SDP. */
export function readClientSdp(text: string): ClientSdp {
  let s: sdpTransform.SessionDescription;
  try {
    s = sdpTransform.parse(text);
  } catch (err) {
    throw new SessionError('SESSION_ERR_SDP', `unparsable SDP: ${(err as Error).message}`, 400);
  }
  if (!s.media || s.media.length === 0 || s.origin === undefined) throw new SessionError('SESSION_ERR_SDP', 'SDP without origin or media', 400);
  const out: ClientSdp = { msrpPath: undefined, acceptTypes: undefined, media: [] };
  for (const m of s.media as MediaDescription[]) {
    if (m.port === 0) continue;
    out.media.push(`${m.type}/${m.protocol}${m.content ? `;content=${m.content}` : ''}`);
    if (m.type === 'message' && /MSRP/i.test(m.protocol) && out.msrpPath === undefined) {
      const path = attr(m, 'path');
      const uris = path ? path.split(/\s+/) : [];
      out.msrpPath = uris[uris.length - 1];
      out.acceptTypes = attr(m, 'accept-types');
    }
  }
  return out;
}

/**
 * The SDP one client sent, rewritten for the other client (the daemon is back-to-back): the MSRP stream
 * points at the other leg's relay endpoint; every other media line passes unchanged, with the sender's
 * connection address copied onto it so it still reaches the sender (RFC 4566 section 5.7). Session id and
 * version are the daemon's for that leg (RFC 3264 section 8: the version rises with each new offer).
 */
export function rewriteForPeer(text: string, ep: RelayEndpoint, sessionId: number, version: number): string {
  const s = sdpTransform.parse(text);
  const sessionConn = s.connection;
  const media = (s.media as MediaDescription[]).map((m) => {
    if (m.type === 'message' && /MSRP/i.test(m.protocol)) {
      if (m.port === 0) return { ...m, invalid: [] };
      return msrpMedia(ep, attr(m, 'accept-types') ?? ACCEPT_TYPES);
    }
    return m.connection || !sessionConn ? m : { ...m, connection: sessionConn };
  });
  return sdpTransform.write({
    ...s,
    origin: { username: 'switchhook', sessionId, sessionVersion: version, netType: 'IN', ipVer: ipVer(ep.host), address: ep.host },
    connection: { version: ipVer(ep.host), ip: ep.host },
    media,
  } as sdpTransform.SessionDescription);
}
