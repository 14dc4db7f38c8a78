/**
 * Messages the transaction and UA layers build from others: responses (RFC 3261 section 8.2.6), the ACK
 * for a non-2xx final response (17.1.1.3) and CANCEL (9.1). Header values are copied as text, so nothing
 * is re-parsed or re-serialised on the hot path.
 */
import { SipRequest, SipResponse, generateTag } from '../message/index.js';

/** Reason phrases of RFC 3261 section 21 and the extensions used here. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout', 410: 'Gone',
  413: 'Request Entity Too Large', 415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme',
  420: 'Bad Extension', 421: 'Extension Required', 423: 'Interval Too Brief', 469: 'Bad Info Package',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected',
  483: 'Too Many Hops', 484: 'Address Incomplete', 486: 'Busy Here', 487: 'Request Terminated',
  488: 'Not Acceptable Here', 489: 'Bad Event', 491: 'Request Pending', 500: 'Server Internal Error',
  501: 'Not Implemented', 503: 'Service Unavailable', 504: 'Server Time-out', 505: 'Version Not Supported',
  513: 'Message Too Large', 600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

/** The standard reason phrase for a status code. */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Provisional' : status < 300 ? 'OK' : 'Error');
}

/**
 * A response to `req` (RFC 3261 section 8.2.6.2): Via, From, To, Call-ID and CSeq copied; a To tag added
 * (the given one, or a new one) when the request had none and the status is not 100.
 */
export function buildResponse(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const res = new SipResponse(status, reason ?? reasonPhrase(status));
  const vias = req.headers('via');
  if (vias.length > 0) res.setHeader('Via', vias);
  const from = req.header('from');
  if (from !== undefined) res.setHeader('From', from);
  const to = req.header('to');
  if (to !== undefined) {
    const hasTag = /;\s*tag\s*=/i.test(to);
    res.setHeader('To', hasTag || status === 100 ? to : `${to};tag=${toTag ?? generateTag()}`);
  }
  const callId = req.header('call-id');
  if (callId !== undefined) res.setHeader('Call-ID', callId);
  const cseq = req.header('cseq');
  if (cseq !== undefined) res.setHeader('CSeq', cseq);
  // 8.2.6.1: a 100 echoes Timestamp.
  if (status === 100) {
    const ts = req.header('timestamp');
    if (ts !== undefined) res.setHeader('Timestamp', ts);
  }
  return res;
}

/**
 * The ACK a client INVITE transaction sends for a 300-699 response (RFC 3261 section 17.1.1.3): same
 * Request-URI, Call-ID, From, CSeq number and top Via as the INVITE, the response's To, the INVITE's Route.
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  const ack = new SipRequest('ACK', invite.uriString);
  const topVia = invite.headers('via')[0];
  if (topVia !== undefined) ack.setHeader('Via', topVia);
  copyHeader(invite, ack, 'from');
  copyHeader(res, ack, 'to');
  copyHeader(invite, ack, 'call-id');
  ack.setHeader('CSeq', `${invite.cseq.seq} ACK`);
  const routes = invite.headers('route');
  if (routes.length > 0) ack.setHeader('Route', routes);
  ack.setHeader('Max-Forwards', '70');
  return ack;
}

/**
 * CANCEL for a pending request (RFC 3261 section 9.1): same Request-URI, Call-ID, To, From, CSeq number
 * and top Via (so the same branch), the request's Route headers.
 */
export function buildCancel(req: SipRequest): SipRequest {
  const cancel = new SipRequest('CANCEL', req.uriString);
  const topVia = req.headers('via')[0];
  if (topVia !== undefined) cancel.setHeader('Via', topVia);
  copyHeader(req, cancel, 'from');
  copyHeader(req, cancel, 'to');
  copyHeader(req, cancel, 'call-id');
  cancel.setHeader('CSeq', `${req.cseq.seq} CANCEL`);
  const routes = req.headers('route');
  if (routes.length > 0) cancel.setHeader('Route', routes);
  cancel.setHeader('Max-Forwards', '70');
  return cancel;
}

function copyHeader(from: SipRequest | SipResponse, to: SipRequest, name: string): void {
  const v = from.header(name);
  if (v !== undefined) to.setHeader(name, v);
}
