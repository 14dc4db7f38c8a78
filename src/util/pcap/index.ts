/**
 * A small general pcap toolkit: read frames with libpcap, decode link/IP/UDP/TCP with IP fragment
 * reassembly and IP-in-IP, and reassemble TCP streams. Shared by protocol tests, `sip-check` and benchmarks.
 */
export * from './reader.js';
export * from './decode.js';
export * from './tcp.js';

import { decodeFrames, type UdpDatagram } from './decode.js';
import { readPcapFile } from './reader.js';
import { reassembleTcp, type TcpStream } from './tcp.js';

/** Reads a capture and returns its UDP datagrams and reassembled TCP streams. */
export async function readCapture(path: string): Promise<{ udp: UdpDatagram[]; tcp: TcpStream[]; skipped: number; incompleteFragments: number }> {
  const decoded = decodeFrames(await readPcapFile(path));
  return { udp: decoded.udp, tcp: reassembleTcp(decoded.tcp), skipped: decoded.skipped, incompleteFragments: decoded.incompleteFragments };
}
