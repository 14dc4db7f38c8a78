/**
 * Requests the transaction and UA layers build from others: the ACK for a non-2xx final response
 * (RFC 3261 section 17.1.1.3) and CANCEL (9.1). Header values are copied as text, so nothing
 * is re-parsed or re-serialised on the hot path.
 */
import { SipRequest, type SipResponse } from '../message/index.js';

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
