/**
 * `switchhook decode FILE...`: prints every CSTA XML frame (ECMA-323 over TCP, 8-byte header) of a raw
 * stream file (`.bin`) or of a pcap/pcapng capture as one JSON object per line. Captures are reassembled
 * per TCP direction in sequence order; bad frames print an error line with their stable code.
 */
import { open, readFile } from 'node:fs/promises';

import { CstaFrameReader, type CstaFrameError, type CstaMessage } from '../../native/csta.js';
import { readCaptureTcp, type TcpFlow } from '../../util/pcap/index.js';
import type { Command, CommandIO } from '../command.js';

const USAGE = `usage: switchhook decode [options] FILE...

Prints each CSTA XML frame (8-byte header: 00 00, uint16 total length, 4-digit invokeID; then ECMA-323 XML)
of FILE as one JSON object per line. FILE is a raw byte stream (e.g. a .bin file of frames) or a pcap/pcapng
capture (link types Ethernet, Linux cooked SLL/SLL2, loopback, raw IP), whose TCP streams are reassembled
per direction in sequence order.

A message line holds file, flow (captures), invokeId, root, monitorCrossRefId, connections, devices,
localConnectionInfo, cause, transferredConnections and fields. A bad frame prints
{"file":..., "error":"CTI_ERR_...", "message":..., "offset":..., "fatal":...}; bytes missing from a
capture print {"error":"CAPTURE_GAP","missing":N}.

options:
  --port N              decode only TCP flows from or to port N (default: every flow whose first bytes
                        look like a CSTA frame header)
  --max-frame-bytes N   refuse frames longer than N bytes (9..65535, default 65535)
  --xml                 add each message's XML body as "xml"

Exit status: 0 when every frame decoded, 1 when a frame was bad or a file unreadable, 2 on a usage error.
`;

interface Options {
  port?: number;
  maxFrameBytes: number;
  xml: boolean;
  files: string[];
}

function parseArgs(args: string[]): Options | string {
  const opts: Options = { maxFrameBytes: 65535, xml: false, files: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    switch (a) {
      case '--port':
      case '--max-frame-bytes': {
        const v = Number(args[++i]);
        if (a === '--port') {
          if (!Number.isInteger(v) || v < 1 || v > 65535) return `--port needs a port number`;
          opts.port = v;
        } else {
          if (!Number.isInteger(v) || v < 9 || v > 65535) return `--max-frame-bytes needs a number from 9 to 65535`;
          opts.maxFrameBytes = v;
        }
        break;
      }
      case '--xml':
        opts.xml = true;
        break;
      default:
        if (a.startsWith('-') && a !== '-') return `unknown option ${a}`;
        opts.files.push(a);
    }
  }
  if (opts.files.length === 0) return 'no FILE given';
  return opts;
}

/** The JSON form of one decoded message (what `decode` prints). */
export function messageJson(m: CstaMessage, withXml: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = { invokeId: m.invokeId, root: m.root };
  if (m.monitorCrossRefId !== undefined) o.monitorCrossRefId = m.monitorCrossRefId;
  o.connections = m.connections;
  o.devices = m.devices;
  if (m.localConnectionInfo !== undefined) o.localConnectionInfo = m.localConnectionInfo;
  if (m.cause !== undefined) o.cause = m.cause;
  o.transferredConnections = m.transferredConnections;
  o.fields = m.fields;
  if (withXml) o.xml = m.xml.toString('utf8');
  return o;
}

function errorJson(e: CstaFrameError): Record<string, unknown> {
  const o: Record<string, unknown> = { error: e.code, message: e.message, offset: e.offset, fatal: e.fatal };
  if (e.invokeId !== undefined) o.invokeId = e.invokeId;
  return o;
}

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a]);

async function isCapture(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return bytesRead === 4 && PCAP_MAGICS.has(head.readUInt32BE(0));
  } finally {
    await fh.close();
  }
}

class Printer {
  bad = 0;
  constructor(
    private readonly io: CommandIO,
    private readonly opts: Options,
  ) {}

  line(head: Record<string, unknown>, body: Record<string, unknown>): void {
    this.io.out(JSON.stringify({ ...head, ...body }) + '\n');
  }

  /** Pushes a chunk and prints its messages and bad frames in stream order. */
  push(head: Record<string, unknown>, reader: CstaFrameReader, chunk: Buffer): void {
    reader.pushBatch(
      chunk,
      (batch, at) => this.line(head, messageJson(batch.message(at), this.opts.xml)),
      (e) => this.error(head, e),
    );
  }

  end(head: Record<string, unknown>, reader: CstaFrameReader): void {
    for (const e of reader.end()) this.error(head, e);
  }

  error(head: Record<string, unknown>, e: CstaFrameError): void {
    this.bad++;
    this.line(head, errorJson(e));
  }
}

async function decodeStream(file: string, opts: Options, p: Printer): Promise<void> {
  const reader = new CstaFrameReader({ maxFrameBytes: opts.maxFrameBytes });
  const data = await readFile(file);
  const head = { file };
  // Fed in TCP-sized pieces, as a link would see them.
  for (let i = 0; i < data.length; i += 65536) p.push(head, reader, data.subarray(i, i + 65536));
  p.end(head, reader);
}

async function decodeCapture(file: string, opts: Options, p: Printer, io: CommandIO): Promise<void> {
  const readers = new Map<string, CstaFrameReader | null>();
  let ignored = 0;
  const readerFor = (flow: TcpFlow, first: Buffer): CstaFrameReader | null => {
    let r = readers.get(flow.id);
    if (r !== undefined) return r;
    const wanted =
      opts.port !== undefined
        ? flow.srcPort === opts.port || flow.dstPort === opts.port
        : first[0] === 0 && (first.length < 2 || first[1] === 0);
    r = wanted ? new CstaFrameReader({ maxFrameBytes: opts.maxFrameBytes }) : null;
    if (!wanted) ignored++;
    readers.set(flow.id, r);
    return r;
  };
  const stats = await readCaptureTcp(file, {
    data(flow, bytes) {
      const r = readerFor(flow, bytes);
      if (r) p.push({ file, flow: flow.id }, r, bytes);
    },
    gap(flow, missing) {
      const r = readers.get(flow.id);
      if (!r) return;
      p.bad++;
      p.line({ file, flow: flow.id }, { error: 'CAPTURE_GAP', message: `${missing} bytes of the stream are missing from the capture`, missing });
      p.end({ file, flow: flow.id }, r);
      r.resynchronise();
    },
    end(flow) {
      const r = readers.get(flow.id);
      if (r) p.end({ file, flow: flow.id }, r);
    },
  });
  if (ignored > 0 && opts.port === undefined) {
    io.err(`decode: ${file}: ignored ${ignored} TCP flow(s) that do not start with a CSTA frame header (use --port)\n`);
  }
  if (stats.retransmittedBytes > 0 || stats.outOfOrderSegments > 0) {
    io.err(`decode: ${file}: ${stats.retransmittedBytes} retransmitted bytes dropped, ${stats.outOfOrderSegments} out-of-order segments reordered\n`);
  }
}

/** The `decode` subcommand. */
export const decodeCommand: Command = {
  name: 'decode',
  summary: 'print the CSTA XML frames of a .bin stream or pcap/pcapng capture as JSON lines',
  usage: USAGE,
  async run(args, io) {
    const opts = parseArgs(args);
    if (typeof opts === 'string') {
      io.err(`switchhook decode: ${opts}\n\n${USAGE}`);
      return 2;
    }
    const p = new Printer(io, opts);
    let unreadable = 0;
    for (const file of opts.files) {
      try {
        if (await isCapture(file)) await decodeCapture(file, opts, p, io);
        else await decodeStream(file, opts, p);
      } catch (err) {
        unreadable++;
        const e = err as { code?: string; message?: string };
        p.line({ file }, { error: e.code ?? 'PCAP_ERR_READ', message: e.message ?? String(err) });
      }
    }
    return p.bad > 0 || unreadable > 0 ? 1 : 0;
  },
};
