/**
 * A small general pcap toolkit: read frames with libpcap, decode link/IP/UDP/TCP with IP fragment
 * reassembly and IP-in-IP, and reassemble TCP streams. Shared by protocol tests, `decode`, `sip-check` and
 * benchmarks.
 */
export * from './reader.js';
export * from './decode.js';
export * from './tcp.js';

import { decodeFrames, type UdpDatagram } from './decode.js';
import { readPcapFile } from './reader.js';
import { reassembleTcp, TcpReassembler, type TcpReassemblyStats, type TcpStream, type TcpStreamHandler } from './tcp.js';

/** Reads a capture and returns its UDP datagrams and reassembled TCP streams. */
export async function readCapture(path: string): Promise<{ udp: UdpDatagram[]; tcp: TcpStream[]; skipped: number; incompleteFragments: number }> {
  const decoded = decodeFrames(await readPcapFile(path));
  return { udp: decoded.udp, tcp: reassembleTcp(decoded.tcp), skipped: decoded.skipped, incompleteFragments: decoded.incompleteFragments };
}

/** Link types {@link readCaptureTcp} decodes (tcpdump.org LINKTYPE_ numbers). */
const tcpLinkTypes = new Set([0, 1, 12, 14, 101, 108, 113, 228, 229, 276]);

/**
 * Reads every TCP stream of a capture and reports their bytes in capture order to `handler`. Rejects with
 * {@link PcapError} when the file cannot be read or its link type is not one of Ethernet, Linux cooked
 * (SLL, SLL2), BSD loopback or raw IP. A handler that throws rejects the read.
 */
export async function readCaptureTcp(path: string, handler: TcpStreamHandler): Promise<TcpReassemblyStats & { packets: number; skipped: number }> {
  const frames = await readPcapFile(path, tcpLinkTypes);
  const decoded = decodeFrames(frames);
  const reassembler = new TcpReassembler(handler);
  for (const seg of decoded.tcp) reassembler.push(seg);
  reassembler.finish();
  return { ...reassembler.stats, packets: frames.length, skipped: decoded.skipped };
}
