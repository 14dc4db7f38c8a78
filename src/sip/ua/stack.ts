/**
 * {@link SipStack}: transports + transactions + dialogs + the application surface in one object, built from
 * listen specs such as `udp:127.0.0.1:5060`. The daemon builds it from its `--sip` options; with no
 * middleware it already answers OPTIONS with 200 (RFC 3261 section 11) and everything else with the
 * defaults of {@link SipUserAgent}.
 */
import { SipError, parseMessage, type SipMessage } from '../message/index.js';
import type { Dialog } from '../dialog/dialog.js';
import { TransportLayer } from '../transport/transport-layer.js';
import type { BoundAddress, ListenOptions, MessageSource, SendTarget, TransportOptions } from '../transport/types.js';
import type { Destination, SipProtocol, Source } from '../transaction/transport-port.js';
import type { MessageOptions, Middleware } from './app.js';
import { SipUserAgent, type RequestOptions, type RequestResult, type UserAgentOptions } from './user-agent.js';

/** Options of a {@link SipStack}. */
export interface SipStackOptions extends Omit<UserAgentOptions, 'transport' | 'localAddress'> {
  /** Listeners: objects, or specs `proto:host:port` (`udp:127.0.0.1:5060`, `tcp:[::1]:5060`). */
  listen: ReadonlyArray<ListenOptions | string>;
  /** Transport options (limits, TLS client options...). */
  transport?: TransportOptions;
  /** Host to advertise in Via and Contact instead of the bound address (e.g. behind NAT). */
  advertiseHost?: string;
}

/**
 * Parse a listen spec `proto:host:port` (IPv6 hosts in brackets; port 0 picks a free one).
 * @throws SipError `SIP_ERR_LISTEN_SPEC` on bad syntax.
 */
export function parseListenSpec(spec: string): ListenOptions {
  const m = /^(udp|tcp|tls|ws|wss):(\[[0-9a-fA-F:.]+\]|[^:\s]+):([0-9]{1,5})$/.exec(spec.trim());
  if (!m || Number(m[3]) > 65535) {
    throw new SipError('SIP_ERR_LISTEN_SPEC', `bad SIP listen spec '${spec}' (expected proto:host:port, e.g. udp:127.0.0.1:5060)`);
  }
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  return { protocol: m[1] as SipProtocol, host, port: Number(m[3]) };
}

function toTarget(d: Destination): SendTarget {
  if (d.connectionId !== undefined) return { connectionId: String(d.connectionId) };
  return { protocol: d.protocol, host: d.host, port: d.port };
}

function toSource(s: MessageSource): Source {
  const out: Source = {
    protocol: s.protocol,
    remoteAddress: s.remote.host,
    remotePort: s.remote.port,
    localAddress: s.local.host,
    localPort: s.local.port,
  };
  if (s.connectionId !== undefined) out.connectionId = s.connectionId;
  return out;
}

/** A SIP endpoint on real sockets: `new SipStack({listen: ['udp:127.0.0.1:5060']})`, `start()`, `close()`. */
export class SipStack {
  readonly transport: TransportLayer;
  readonly ua: SipUserAgent;
  private readonly specs: ListenOptions[];
  private readonly advertiseHost: string | undefined;
  private bound: BoundAddress[] = [];
  private readonly advertised = new Map<SipProtocol, { readonly host: string; readonly port: number }>();

  constructor(o: SipStackOptions) {
    this.specs = o.listen.map((l) => (typeof l === 'string' ? parseListenSpec(l) : l));
    this.advertiseHost = o.advertiseHost;
    // Responses are validated by the user agent, which knows the request each answers.
    this.transport = new TransportLayer({ udpBufferBytes: 4 * 1024 * 1024, ...o.transport, validateResponses: false, ...(o.metrics ? { metrics: o.metrics } : {}) });
    const { listen: _listen, transport: _transport, advertiseHost: _advertise, ...uaOptions } = o;
    const send = (msg: SipMessage, dest: Destination): void | Promise<unknown> => {
      // UDP: staged on the native socket at once, no promise (the datagrams leave once per loop turn).
      if (dest.connectionId === undefined && dest.protocol === 'udp' && this.transport.sendNow(msg, dest)) return;
      // A connection that closed meanwhile: fall back to the address (RFC 3261 section 18.2.2).
      if (dest.connectionId !== undefined && !this.transport.connectionInfo(String(dest.connectionId))) {
        return this.transport.send(msg, { protocol: dest.protocol, host: dest.host, port: dest.port });
      }
      return this.transport.send(msg, toTarget(dest));
    };
    this.ua = new SipUserAgent({
      ...uaOptions,
      transport: {
        send,
        // A request already in bytes (NOTIFY fan-out): staged as it is over UDP; otherwise parsed and sent as above.
        sendBytes: (bytes, dest) => {
          if (dest.connectionId === undefined && dest.protocol === 'udp' && this.transport.sendBytesNow(bytes, dest, true)) return;
          return send(parseMessage(bytes), dest);
        },
      },
      localAddress: (protocol) => this.localAddress(protocol),
    });
    this.transport.on('message', (msg, source) => this.ua.receive(msg, toSource(source), msg.isRequest));
    this.transport.on('parseError', (err, source) => this.ua.receiveParseError(err, toSource(source)));
  }

  /** Open every listener; resolves with the bound addresses (ports filled in). */
  async start(): Promise<BoundAddress[]> {
    for (const spec of this.specs) {
      this.bound.push(await this.transport.listen(spec));
      // An address asked for while the listeners were still opening may have named another one.
      this.advertised.clear();
    }
    return this.addresses;
  }

  /** Bound listeners. */
  get addresses(): BoundAddress[] {
    return this.bound.map((b) => ({ ...b }));
  }

  /**
   * The address advertised for a protocol: its listener, else the first listener. One frozen object per
   * protocol while the listeners stay the same (every NOTIFY's Via asks for it).
   */
  localAddress(protocol: SipProtocol): { readonly host: string; readonly port: number } | undefined {
    let a = this.advertised.get(protocol);
    if (a === undefined) {
      const b = this.bound.find((x) => x.protocol === protocol) ?? this.bound[0];
      if (!b) return undefined;
      a = Object.freeze({ host: this.advertiseHost ?? (b.host === '0.0.0.0' || b.host === '::' ? '127.0.0.1' : b.host), port: b.port });
      this.advertised.set(protocol, a);
    }
    return a;
  }

  /** See {@link SipUserAgent.use}. */
  use(fn: Middleware): this;
  use(method: string, fn: Middleware): this;
  use(a: string | Middleware, b?: Middleware): this {
    if (typeof a === 'function') this.ua.use(a);
    else this.ua.use(a, b!);
    return this;
  }

  /** See {@link SipUserAgent.request}. */
  request(o: RequestOptions): Promise<RequestResult> {
    return this.ua.request(o);
  }

  /** See {@link SipUserAgent.bye}. */
  bye(d: Dialog, o?: MessageOptions) {
    return this.ua.bye(d, o);
  }

  /** Stop the UA (transactions, dialogs, timers) and close every socket. */
  async close(): Promise<void> {
    this.ua.close();
    await this.transport.close();
  }
}
