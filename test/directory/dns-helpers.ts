import dgram from 'node:dgram';
import net from 'node:net';

import { DnsClient, RrType } from '../../src/directory/index.js';
import { freeUdpPort, startPeer, type Peer } from '../helpers/peers.js';

/** A NAPTR record for dnsmasq's `--naptr-record`. */
export interface NaptrSpec {
  name: string;
  order: number;
  preference: number;
  flags: string;
  service: string;
  regexp: string;
  replacement?: string;
}

/** `--naptr-record=<name>,<order>,<preference>,<flags>,<service>,<regexp>[,<replacement>]` (man dnsmasq). */
export function naptrArg(r: NaptrSpec): string {
  return `--naptr-record=${[r.name, r.order, r.preference, r.flags, r.service, r.regexp, ...(r.replacement ? [r.replacement] : [])].join(',')}`;
}

/** A running dnsmasq, authoritative for the apex (so negative answers carry an SOA with minimum `ttl`). */
export interface Dnsmasq {
  port: number;
  peer: Peer;
  stop(): Promise<void>;
}

/**
 * Start dnsmasq on 127.0.0.1 holding `records` (as command-line options, or a conf file given in `extra`),
 * authoritative for `apex` with every TTL set to `ttl`; ready once it answers a query.
 */
export async function startDnsmasq(records: NaptrSpec[], opts: { ttl?: number; apex?: string; extra?: string[] } = {}): Promise<Dnsmasq> {
  const ttl = opts.ttl ?? 60;
  const apex = opts.apex ?? 'e164.arpa';
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort();
    const args = [
      '--no-daemon', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--auth-server=ns.test,127.0.0.1', `--auth-zone=${apex}`, `--auth-ttl=${ttl}`, `--local-ttl=${ttl}`, `--auth-soa=1,hostmaster.test,1200,120,1209600`,
      '--log-facility=-', ...records.map(naptrArg), ...(opts.extra ?? []),
    ];
    let peer: Peer;
    try {
      peer = await startPeer('dnsmasq', args, /started, version/);
    } catch (err) {
      if (attempt < 5 && /in use/i.test(String(err))) continue;
      throw err;
    }
    // Ready when it answers (bounded: the client times out and retries).
    const client = new DnsClient({ servers: [`127.0.0.1:${port}`], timeoutMs: 1000, tries: 1 });
    try {
      for (let i = 0; ; i++) {
        try {
          await client.query(`ready.${apex}`, RrType.NAPTR);
          break;
        } catch (err) {
          if (i >= 20) throw err;
        }
      }
    } finally {
      client.close();
    }
    return { port, peer, stop: () => peer.stop() };
  }
}

/** A fake DNS server on UDP and TCP (same port) that answers with whatever bytes `handler` returns. */
export interface FakeDns {
  port: number;
  /** Queries received: transport and raw bytes. */
  received: { transport: 'udp' | 'tcp'; packet: Buffer }[];
  close(): Promise<void>;
}

/**
 * A TCP listener and a UDP socket on the same free port of 127.0.0.1. The UDP port can be taken by another
 * process between the two binds, so a clash closes both and tries another port (at most 20 times).
 */
async function bindTcpAndUdp(): Promise<{ tcp: net.Server; udp: dgram.Socket; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const tcp = net.createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, '127.0.0.1', () => resolve());
      });
      return { tcp, udp, port };
    } catch (err) {
      udp.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      if (attempt >= 19) throw err;
    }
  }
}

export async function startFakeDns(handler: (query: Buffer, transport: 'udp' | 'tcp') => Buffer[] | Buffer | undefined): Promise<FakeDns> {
  const conns = new Set<net.Socket>();
  const { tcp, udp, port } = await bindTcpAndUdp();
  const received: FakeDns['received'] = [];
  const asList = (r: Buffer[] | Buffer | undefined): Buffer[] => (r === undefined ? [] : Array.isArray(r) ? r : [r]);
  udp.on('message', (msg, rinfo) => {
    received.push({ transport: 'udp', packet: msg });
    for (const out of asList(handler(msg, 'udp'))) udp.send(out, rinfo.port, rinfo.address);
  });
  tcp.on('connection', (sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
      received.push({ transport: 'tcp', packet: q });
      for (const out of asList(handler(q, 'tcp'))) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        sock.write(Buffer.concat([len, out]));
      }
    });
  });
  return {
    port,
    received,
    async close() {
      for (const c of conns) c.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}

/** ID, name and type of a query packet. */
export function questionOf(q: Buffer): { id: number; name: string; type: number } {
  const labels: string[] = [];
  let p = 12;
  while (q[p]! !== 0) {
    labels.push(q.toString('utf8', p + 1, p + 1 + q[p]!));
    p += q[p]! + 1;
  }
  return { id: q.readUInt16BE(0), name: labels.join('.'), type: q.readUInt16BE(p + 1) };
}
