/**
 * A multimedia client's side of the address exchange (second seed, claims 9, 11 and 19): it receives the
 * service node's offer (a SIP MESSAGE with an `application/vnd.switchhook.address+json` body naming the
 * caller's client), answers the caller's client with its own address, and accepts media sessions (INVITE)
 * from the peer it learned, so either side can start one. Embedders use it in softphones; the tests use it
 * as the client of each site.
 */
import { EventEmitter } from 'node:events';

import type { SipStack } from '../sip/ua/stack.js';
import type { Middleware } from '../sip/ua/app.js';
import { MetricsRegistry, type Counter } from '../util/metrics.js';
import { ADDRESS_CONTENT_TYPE, AddressRole, encodeAddressBody, parseAddressBody, type AddressBody } from './address-body.js';
import { DirectoryError } from './errors.js';

/** Options of an {@link AddressExchangeClient}. */
export interface AddressExchangeClientOptions {
  stack: SipStack;
  /** This client's own address (what it sends in its answer). */
  address: string;
  metrics?: MetricsRegistry;
  /** Longest wait for the answer MESSAGE's response (default 5 s). */
  timeoutMs?: number;
}

/**
 * Emits `offer` (AddressBody) when a service node hands it a caller's address, `answer` (AddressBody) when
 * the far client answers with its own, and `session` (peer URI) when a peer opens a media session.
 */
export class AddressExchangeClient extends EventEmitter {
  /** Peer clients learned, by Call-ID of the voice call. */
  readonly peers = new Map<string, string>();
  private readonly o: AddressExchangeClientOptions;
  private readonly bad: Counter;

  constructor(o: AddressExchangeClientOptions) {
    super();
    this.o = o;
    this.bad = (o.metrics ?? new MetricsRegistry()).counter('switchhook_address_client_bad_bodies_total', 'Address bodies refused by a client, by code');
    o.stack.use('MESSAGE', this.messageMiddleware());
    o.stack.use('INVITE', (req, res, next) => {
      if (req.inDialog) {
        next();
        return;
      }
      const from = req.message.from.uri.toString();
      this.emit('session', from);
      res.send(200);
    });
  }

  private messageMiddleware(): Middleware {
    return (req, res, next) => {
      if ((req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase() !== ADDRESS_CONTENT_TYPE) {
        next();
        return;
      }
      let body: AddressBody;
      try {
        body = parseAddressBody(req.body);
      } catch (err) {
        const code = err instanceof DirectoryError ? err.code : 'DIR_ERR_ADDRESS_BODY';
        this.bad.inc({ code });
        res.send(400, `Bad Address Body: ${(err as Error).message}`.slice(0, 120));
        return;
      }
      res.send(200);
      switch (body.role) {
        case AddressRole.Offer:
          this.peers.set(body.call, body.caller.address!);
          this.emit('offer', body);
          void this.answer(body);
          return;
        case AddressRole.Answer:
          this.peers.set(body.call, body.callee.address!);
          this.emit('answer', body);
          return;
        default:
          throw new Error(`unknown role ${String(body.role)}`);
      }
    };
  }

  /** Claim 9: send the caller's client our own address, using the address the service node gave us. */
  private async answer(offer: AddressBody): Promise<void> {
    const answer: AddressBody = { ...offer, role: AddressRole.Answer, callee: { number: offer.callee.number, address: this.o.address } };
    const to = offer.caller.address!;
    let timer: NodeJS.Timeout | undefined;
    const status = await Promise.race([
      this.o.stack.request({ method: 'MESSAGE', uri: to, from: `<${this.o.address}>`, to: `<${to}>`, body: encodeAddressBody(answer), contentType: ADDRESS_CONTENT_TYPE }).then(
        (r) => r.response.status,
        () => 503,
      ),
      new Promise<number>((resolve) => {
        timer = setTimeout(() => resolve(408), this.o.timeoutMs ?? 5_000);
      }),
    ]);
    clearTimeout(timer);
    this.emit('answered', status);
  }

  /** Open a media session (INVITE, RFC 3261 §13) with the peer learned for a call; resolves the final status. */
  async call(callId: string): Promise<number> {
    const peer = this.peers.get(callId);
    if (!peer) throw new DirectoryError('DIR_ERR_NOT_FOUND', 'call', `no peer address for call ${callId}`);
    const r = await this.o.stack.request({ method: 'INVITE', uri: peer, from: `<${this.o.address}>`, to: `<${peer}>` });
    if (r.dialog) await this.o.stack.bye(r.dialog);
    return r.response.status;
  }
}
