/**
 * Where a user's computer interface is (first seed: "the computer interface" of a user): the desktop client
 * registered for `sip:<ext>@<domain>` with the daemon's registrar (RFC 3261 section 10, highest `q` first),
 * else a configured SIP URI. Used by concurrent sessions and by routing (end-and-message, transfers).
 */
import type { Destination, Registrar, SipProtocol } from '../sip/index.js';

/** A computer interface: the Request-URI and, for registered clients, where the REGISTER came from. */
export interface ClientTarget {
  uri: string;
  destination?: Destination;
}

/** Options of {@link ComputerInterfaces}. */
export interface ComputerInterfacesOptions {
  /** Host part of the users' URIs, e.g. `pbx.example`. */
  domain: string;
  registrar?: Pick<Registrar, 'lookup'>;
  /** Configured computer interfaces: extension to SIP URI. */
  configured?: Record<string, string>;
}

/** Finds users' computer interfaces. */
export class ComputerInterfaces {
  constructor(private readonly o: ComputerInterfacesOptions) {}

  get domain(): string {
    return this.o.domain;
  }

  /** `sip:<user>@<domain>` (RFC 3261 section 19.1). */
  aor(user: string): string {
    return `sip:${user}@${this.o.domain}`;
  }

  /** The user's computer interface, or undefined when it has none. */
  find(user: string): ClientTarget | undefined {
    const b = this.o.registrar?.lookup(this.aor(user).toLowerCase())[0];
    if (b) {
      const t: ClientTarget = { uri: b.contact };
      if (b.received) {
        t.destination = { protocol: b.received.protocol as SipProtocol, host: b.received.host, port: b.received.port };
        if (b.received.connectionId !== undefined) t.destination.connectionId = b.received.connectionId;
      }
      return t;
    }
    const configured = this.o.configured?.[user];
    return configured ? { uri: configured } : undefined;
  }

  /**
   * A SIP URI to a target: a URI of this domain is looked up as a user (`sip:2002@pbx.example` goes to 2002's
   * client); any other URI is sent to as it is (RFC 3263 resolution by the stack).
   */
  findUri(uri: string): ClientTarget {
    const m = /^sips?:([^@;>]+)@([^;>:]+)/i.exec(uri);
    if (m && m[2]!.toLowerCase() === this.o.domain.toLowerCase()) {
      const found = this.find(decodeURIComponent(m[1]!));
      if (found) return found;
    }
    return { uri };
  }
}
