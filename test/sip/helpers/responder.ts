/**
 * A stateless SIP responder on the transport layer, for interop tests and capture recording: INVITE gets
 * 100, 180 and 200 with an SDP answer; ACK nothing; every other request 200; malformed requests 400 with
 * the parser's reason. Not a user agent: no transactions, no retransmission handling beyond answering again.
 */
import { createHash } from 'node:crypto';

import {
  NameAddr,
  SipRequest,
  TransportLayer,
  createResponse,
  responseTarget,
  type MessageSource,
  type SipMessage,
} from '../../../src/sip/index.js';

export class Responder {
  readonly counts = new Map<string, number>();
  readonly badRequests: string[] = [];

  constructor(private readonly tl: TransportLayer) {
    tl.on('message', (m, src) => this.onMessage(m, src));
    tl.on('parseError', (err, src) => {
      const partial = err.partial;
      if (!(partial instanceof SipRequest) || partial.method === 'ACK' || !partial.hasHeader('via')) return;
      this.badRequests.push(err.reason);
      try {
        const res = createResponse(partial, err.status ?? 400, err.reason);
        void this.tl.send(res, responseTarget(partial.topVia!, src)).catch(() => undefined);
      } catch {
        // The Via itself was unreadable: there is nowhere to send a response (RFC 3261 18.2.2).
      }
    });
  }

  private onMessage(m: SipMessage, src: MessageSource): void {
    if (!(m instanceof SipRequest)) return;
    this.counts.set(m.method, (this.counts.get(m.method) ?? 0) + 1);
    const tag = createHash('sha1').update(m.callId).digest('hex').slice(0, 10);
    const send = (status: number, fill?: (r: SipMessage) => void) => {
      const res = createResponse(m, status, undefined, tag);
      fill?.(res);
      void this.tl.send(res, responseTarget(m.topVia!, src)).catch(() => undefined);
    };
    const contact = `<sip:responder@${src.local.host}:${src.local.port};transport=${src.protocol}>`;
    switch (m.method) {
      case 'ACK':
        return;
      case 'INVITE':
        send(100);
        send(180, (r) => r.setHeader('Contact', contact));
        send(200, (r) => {
          r.setHeader('Contact', contact);
          r.setHeader('Content-Type', 'application/sdp');
          r.body = [
            'v=0',
            `o=responder 1 1 IN IP4 ${src.local.host}`,
            's=-',
            `c=IN IP4 ${src.local.host}`,
            't=0 0',
            'm=audio 6000 RTP/AVP 0',
            'a=rtpmap:0 PCMU/8000',
            '',
          ].join('\r\n');
        });
        return;
      case 'REGISTER':
        send(200, (r) => {
          const contacts = m.contact.filter((c): c is NameAddr => c !== '*');
          if (contacts.length > 0) r.setHeader('Contact', contacts.map((c) => `${c.toString()};expires=${m.expires ?? 3600}`));
        });
        return;
      case 'SUBSCRIBE':
        send(200, (r) => {
          r.setHeader('Expires', String(m.expires ?? 3600));
          r.setHeader('Contact', contact);
        });
        return;
      default:
        send(200);
    }
  }
}
