import { parseMessage, type SipMessage } from '../../../src/sip/message/index.js';
import { ManualClock } from '../../../src/sip/transaction/clock.js';
import type { Destination } from '../../../src/sip/transaction/transport-port.js';
import { SipUserAgent, type UserAgentOptions } from '../../../src/sip/ua/user-agent.js';

/** An in-memory UDP network between user agents sharing one manual clock. */
export class Net {
  readonly clock = new ManualClock();
  readonly nodes = new Map<string, SipUserAgent>();
  readonly log: Array<{ from: string; to: string; msg: SipMessage }> = [];
  /** Return true to lose a message. */
  drop: (msg: SipMessage, from: string, to: string) => boolean = () => false;

  node(host: string, port = 5060, o: Partial<UserAgentOptions> = {}): SipUserAgent {
    const self = `${host}:${port}`;
    const ua = new SipUserAgent({
      clock: this.clock,
      contactUser: host.replace(/\./g, ''),
      ...o,
      localAddress: () => ({ host, port }),
      transport: {
        send: (msg: SipMessage, dest: Destination) => {
          const to = `${dest.host}:${dest.port}`;
          const copy = parseMessage(msg.toBuffer());
          this.log.push({ from: self, to, msg: copy });
          if (this.drop(copy, self, to)) return;
          setImmediate(() => this.nodes.get(to)?.receive(parseMessage(msg.toBuffer()), { protocol: 'udp', remoteAddress: host, remotePort: port }));
        },
      },
    });
    this.nodes.set(self, ua);
    return ua;
  }

  /** Let queued deliveries and promise chains run. */
  async settle(rounds = 20): Promise<void> {
    for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
  }

  /** Advance the clock in steps, settling in between. */
  async advance(ms: number, step = 100): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(Math.min(step, ms - t));
      await this.settle(3);
    }
  }

  /** Messages seen on the wire, as `METHOD` or `status METHOD`. */
  summary(): string[] {
    return this.log.map(({ msg }) => (msg.isRequest ? (msg as unknown as { method: string }).method : `${(msg as unknown as { status: number }).status} ${msg.cseq.method}`));
  }

  close(): void {
    for (const ua of this.nodes.values()) if (typeof ua.close === 'function') ua.close();
  }
}
