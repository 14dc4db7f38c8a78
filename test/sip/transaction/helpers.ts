import { parseMessage, type SipMessage, type SipRequest, type SipResponse } from '../../../src/sip/message/index.js';
import type { ManualClock } from '../../../src/sip/transaction/clock.js';
import type { Destination, Source, TransactionTransport } from '../../../src/sip/transaction/transport-port.js';

/** Records what the transaction layer sends, with the fake clock's time. */
export class FakeTransport implements TransactionTransport {
  sent: Array<{ msg: SipMessage; dest: Destination; at: number }> = [];
  fail = false;
  constructor(private readonly clock: ManualClock) {}
  send(msg: SipMessage, dest: Destination): void {
    if (this.fail) throw new Error('network unreachable');
    this.sent.push({ msg: parseMessage(msg.toBuffer()), dest, at: this.clock.now() });
  }
  times(filter: (m: SipMessage) => boolean = () => true): number[] {
    return this.sent.filter((s) => filter(s.msg)).map((s) => s.at);
  }
}

export function req(text: string): SipRequest {
  return parseMessage(Buffer.from(text.replace(/\n/g, '\r\n'))) as SipRequest;
}

export function res(text: string): SipResponse {
  return parseMessage(Buffer.from(text.replace(/\n/g, '\r\n'))) as SipResponse;
}

export function request(method: string, opts: { branch?: string; transport?: string; toTag?: string; cseq?: number } = {}): SipRequest {
  const transport = opts.transport ?? 'UDP';
  const branch = opts.branch ?? 'z9hG4bK' + Math.random().toString(36).slice(2);
  return req(
    `${method} sip:bob@127.0.0.1 SIP/2.0
Via: SIP/2.0/${transport} 127.0.0.2:5070${branch ? ";branch=" + branch : ""}
From: <sip:alice@127.0.0.2>;tag=a1
To: <sip:bob@127.0.0.1>${opts.toTag ? ';tag=' + opts.toTag : ''}
Call-ID: call-${branch}
CSeq: ${opts.cseq ?? 1} ${method}
Contact: <sip:alice@127.0.0.2:5070>
Max-Forwards: 70
Content-Length: 0

`,
  );
}

export function responseTo(r: SipRequest, status: number, toTag = 'b1'): SipResponse {
  return res(
    `SIP/2.0 ${status} Whatever
Via: ${r.headers('via')[0]}
From: ${r.header('from')}
To: ${r.header('to')}${status > 100 && !r.to.tag ? ';tag=' + toTag : ''}
Call-ID: ${r.callId}
CSeq: ${r.header('cseq')}
Contact: <sip:bob@127.0.0.1:5060>
Content-Length: 0

`,
  );
}

export const udpSource: Source = { protocol: 'udp', remoteAddress: '127.0.0.2', remotePort: 5070 };
export const tcpSource: Source = { protocol: 'tcp', remoteAddress: '127.0.0.2', remotePort: 40000, connectionId: 7 };
export const udpDest: Destination = { protocol: 'udp', host: '127.0.0.1', port: 5060 };
export const tcpDest: Destination = { protocol: 'tcp', host: '127.0.0.1', port: 5060 };
