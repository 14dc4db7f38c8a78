/**
 * A small desktop chat client for the session tests: a SIP UA (the project's SipStack on its own port) that
 * registers `sip:<ext>@pbx.example` with the daemon, answers INVITEs with an MSRP offer answer
 * (`a=setup:active`, RFC 6135), connects to the daemon's relay after the ACK and exchanges MSRP.
 */
import sdpTransform from 'sdp-transform';

import { MsrpConnection, MsrpContinuation, msrpHeader, parseByteRange, type MsrpMessage } from '../../../src/media/msrp/index.js';
import { SipStack, type IncomingRequest } from '../../../src/sip/index.js';

export type Answer = 'accept' | 'reject' | 'ignore' | 'noMsrp';

export interface Received {
  messageId: string;
  contentType: string | undefined;
  body: string;
}

export class ChatClient {
  readonly stack: SipStack;
  answer: Answer = 'accept';
  /** Status for re-INVITEs (200 accepts the offer as it is). */
  reinviteStatus = 200;
  readonly invites: IncomingRequest[] = [];
  readonly reinvites: IncomingRequest[] = [];
  readonly messages: IncomingRequest[] = [];
  readonly byes: string[] = [];
  /** MSRP connections that failed while binding (the session ended first). */
  readonly msrpFailures: Error[] = [];
  readonly received: Received[] = [];
  readonly chunks: MsrpMessage[] = [];
  msrp: MsrpConnection | undefined;
  /** Our MSRP URI and the daemon's. */
  myPath = '';
  peerPath = '';
  private readonly partial = new Map<string, Buffer[]>();
  private waiters: Array<() => void> = [];

  constructor(readonly ext: string, readonly domain = 'pbx.example') {
    this.stack = new SipStack({ listen: ['udp:127.0.0.1:0'], contactUser: ext, inviteTimeoutMs: 60_000 });
    this.myPath = `msrp://127.0.0.1:9/${ext}c${Math.floor(Math.random() * 1e6)};tcp`;
    this.stack.use('INVITE', (req, res) => {
      if (req.inDialog) {
        this.reinvites.push(req);
        if (this.reinviteStatus !== 200) {
          res.send(this.reinviteStatus);
          this.wake();
          return;
        }
        const offer = sdpTransform.parse(req.body.toString());
        offer.origin!.username = this.ext;
        for (const m of offer.media) {
          if (m.type === 'message') {
            (m as { invalid?: Array<{ value: string }> }).invalid = [{ value: 'accept-types:text/plain' }, { value: `path:${this.myPath}` }];
            m.setup = 'active';
            m.port = 9;
          }
        }
        res.send(200, { body: sdpTransform.write(offer), contentType: 'application/sdp' });
        this.wake();
        return;
      }
      this.invites.push(req);
      this.wake();
      switch (this.answer) {
        case 'reject':
          res.send(486, 'Busy Here');
          return;
        case 'ignore':
          res.send(180);
          return;
        case 'noMsrp':
        case 'accept': {
          const offer = sdpTransform.parse(req.body.toString());
          const m = offer.media[0] as { invalid?: Array<{ value: string }> };
          this.peerPath = (m.invalid ?? []).find((a) => a.value.startsWith('path:'))!.value.slice(5);
          const port = this.answer === 'noMsrp' ? 0 : 9;
          const sdp = `v=0\r\no=${this.ext} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message ${port} TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:${this.myPath}\r\na=setup:active\r\n`;
          res.send(200, { body: sdp, contentType: 'application/sdp' });
          return;
        }
        default:
          throw new Error(`unhandled answer ${String(this.answer)}`);
      }
    });
    this.stack.use('MESSAGE', (req, res) => {
      this.messages.push(req);
      res.send(200);
      this.wake();
    });
    // The session may end while the client binds (the call hangs up at once): that failure is kept, not thrown.
    this.stack.ua.on('ack', () =>
      this.connectMsrp().catch((err: unknown) => {
        this.msrpFailures.push(err as Error);
        this.wake();
      }),
    );
    this.stack.ua.on('dialogTerminated', (_d: unknown, reason: string) => {
      this.byes.push(reason);
      this.wake();
    });
  }

  async start(): Promise<void> {
    await this.stack.start();
  }

  get port(): number {
    return this.stack.addresses[0]!.port;
  }

  /** REGISTER with the daemon's registrar (RFC 3261 section 10.2). */
  async register(daemonPort: number): Promise<number> {
    const r = await this.stack.request({
      method: 'REGISTER',
      uri: `sip:${this.domain}`,
      from: `<sip:${this.ext}@${this.domain}>`,
      to: `<sip:${this.ext}@${this.domain}>`,
      headers: { Expires: '600' },
      destination: { protocol: 'udp', host: '127.0.0.1', port: daemonPort },
    });
    return r.response.status;
  }

  private async connectMsrp(): Promise<void> {
    if (this.msrp || this.answer !== 'accept' || !this.peerPath) return;
    const m = /^msrp:\/\/([^:/]+):([0-9]+)\//.exec(this.peerPath)!;
    const conn = await MsrpConnection.connect(m[1]!, Number(m[2]));
    this.msrp = conn;
    conn.on('request', (req) => {
      this.chunks.push(req);
      conn.respond(req, 200, 'OK');
      if (req.method !== 'SEND' || !req.body) return;
      const id = msrpHeader(req, 'message-id')!;
      const parts = this.partial.get(id) ?? [];
      parts.push(req.body);
      this.partial.set(id, parts);
      const range = parseByteRange(msrpHeader(req, 'byte-range') ?? '1-*/*');
      if (req.continuation === '$' && (range.total === undefined || range.end === range.total)) {
        this.partial.delete(id);
        this.received.push({ messageId: id, contentType: msrpHeader(req, 'content-type'), body: Buffer.concat(parts).toString('utf8') });
      }
      this.wake();
    });
    // RFC 4975 section 5.4: the active end sends a SEND at once (empty here) to bind the connection.
    await conn.request({ transactionId: `bind${this.ext}x`, method: 'SEND', headers: [['to-path', this.peerPath], ['from-path', this.myPath], ['message-id', `bind-${this.ext}`], ['byte-range', '1-0/0']], continuation: MsrpContinuation.Complete });
    this.wake();
  }

  /** Send a chat message through the relay. */
  async say(text: string, chunkSize?: number): Promise<string> {
    return this.msrp!.sendMessage({ toPath: this.peerPath, fromPath: this.myPath, body: text, contentType: 'text/plain', ...(chunkSize ? { chunkSize } : {}) });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until `pred` holds (checked on every event of this client), bounded. */
  async until(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.ext}: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.msrp?.close();
    await this.stack.close();
  }
}
