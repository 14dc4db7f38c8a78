/**
 * Typed facade over the native UDP socket (`native/net/udp_socket.h`): a non-blocking socket polled by
 * Node's own libuv loop. Receipt drains with `recvmmsg` and arrives as one {@link UdpBatch} per batch;
 * sends are staged in a shared slab without a promise and leave with `sendmmsg` once per event-loop turn
 * (or as soon as the stage is full). When the kernel says EAGAIN the rest waits natively, bounded, for
 * POLLOUT. Failures are counted by cause and reported through one callback.
 */
import { constants } from 'node:os';

import { addon, type NativeUdpSocket } from './addon.js';

/** Counter slots (`native/net/udp_socket.h` UdpCounter), in order. */
export const UDP_COUNTERS = [
  'recvDatagrams',
  'recvBytes',
  'recvBatches',
  'recvCalls',
  'recvTruncated',
  'recvErrors',
  'sentDatagrams',
  'sentBytes',
  'sendCalls',
  'wouldBlock',
  'queued',
  'queueDrops',
  'errMsgSize',
  'errAccess',
  'errUnreachable',
  'errRefused',
  'errNoBufs',
  'errOther',
  'lastErrno',
] as const;

export type UdpCounterName = (typeof UDP_COUNTERS)[number];
export type UdpCounters = Record<UdpCounterName, number>;

const C_ERR_MSGSIZE = UDP_COUNTERS.indexOf('errMsgSize');
const C_LAST_ERRNO = UDP_COUNTERS.indexOf('lastErrno');
const RECV_WORDS = 8;
/** Send metadata per datagram: offset, length, address index (or INLINE_*), port, 4 address words. */
const SEND_WORDS = 8;
/** Address index of a reply: the source address of a received datagram is in the metadata itself. */
const INLINE_IPV4 = -4;
const INLINE_IPV6 = -6;
/** Largest UDP payload (RFC 768 length field, less the header). */
const MAX_DATAGRAM = 65535 - 8;
/** Destination addresses remembered per socket before the table starts again. */
const MAX_ADDRESSES = 4096;
/** Source address strings remembered per socket before the cache starts again. */
const MAX_HOST_CACHE = 4096;

const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

/** The symbolic name of an errno (`EAGAIN`), or `E<number>`. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** Options of a {@link UdpSocket}. */
export interface UdpSocketOptions {
  /** Address literal to bind (`127.0.0.1`, `::`); the family follows from it. */
  host: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /**
   * SO_RCVBUF in bytes (default: the kernel's). Beyond net.core.rmem_max it takes SO_RCVBUFFORCE, which
   * needs CAP_NET_ADMIN; without it the size stays capped.
   */
  recvBufferBytes?: number;
  /** SO_SNDBUF in bytes (default: the kernel's), as `recvBufferBytes` with net.core.wmem_max. */
  sendBufferBytes?: number;
  /** Datagrams per `recvmmsg` (default 16). */
  recvBatch?: number;
  /** Receive slot size: longer datagrams are counted as `recvTruncated` and dropped (default 65536). */
  maxDatagramBytes?: number;
  /** Datagrams staged before a flush is forced (default 1024, the `sendmmsg` limit). */
  sendCapacity?: number;
  /** Bytes staged before a flush is forced (default 256 KiB). */
  sendSlabBytes?: number;
  /** Datagrams waiting for POLLOUT beyond which new ones are dropped and counted (default 65536). */
  maxQueue?: number;
  /** Bytes waiting for POLLOUT beyond which new ones are dropped and counted (default 32 MiB). */
  maxQueueBytes?: number;
}

/** Sends that failed since the last report: the last cause and how many. */
export interface UdpSendFailure {
  /** Symbolic errno of the last failure (`EMSGSIZE`, `EACCES`, `ENETUNREACH`...). */
  code: string;
  errno: number;
  count: number;
}

/**
 * The datagrams of one receive batch. The slab behind it is reused as soon as the batch callback returns:
 * {@link view} is valid only during the callback; keep a {@link copy}.
 */
export class UdpBatch {
  /** Datagrams in this batch. */
  count = 0;
  private readonly hosts4 = new Map<number, string>();
  private readonly hosts6 = new Map<string, string>();

  /** @internal */
  constructor(
    private readonly slab: Buffer,
    private readonly meta: Int32Array,
    private readonly metaBytes: Uint8Array,
    private readonly socket: UdpSocket,
  ) {}

  /**
   * Stages `bytes` for the source of datagram `i` (its address and port, as received): a reply, staged
   * and sent as {@link UdpSocket.send} does, without the source's text or a destination lookup. Call it
   * during the batch callback; the bytes are copied.
   * @throws RangeError unless i is an integer, 0 <= i < count; Error when the socket is closed.
   */
  reply(i: number, bytes: Uint8Array): void {
    if (i >>> 0 !== i || i >= this.count) throw new RangeError(`no datagram ${i} in a batch of ${this.count}`);
    this.socket.stageReply(bytes, this.meta, i * RECV_WORDS);
  }

  /** Length of datagram `i`. */
  length(i: number): number {
    return this.meta[i * RECV_WORDS + 1]!;
  }

  /** A view of datagram `i` in the receive slab; valid only until the batch callback returns. */
  view(i: number): Buffer {
    const at = i * RECV_WORDS;
    const off = this.meta[at]!;
    return this.slab.subarray(off, off + this.meta[at + 1]!);
  }

  /** A copy of datagram `i` that the caller owns. */
  copy(i: number): Buffer {
    const at = i * RECV_WORDS;
    const off = this.meta[at]!;
    const len = this.meta[at + 1]!;
    const out = Buffer.allocUnsafe(len);
    this.slab.copy(out, 0, off, off + len);
    return out;
  }

  /** Source port of datagram `i`. */
  port(i: number): number {
    return this.meta[i * RECV_WORDS + 2]!;
  }

  /** Source address of datagram `i` as text (IPv4-mapped IPv6 sources as IPv4), cached per address. */
  host(i: number): string {
    const at = i * RECV_WORDS;
    if (this.meta[at + 3] === 4) {
      const k = this.meta[at + 4]!;
      let h = this.hosts4.get(k);
      if (h === undefined) {
        const b = (at + 4) * 4;
        const m = this.metaBytes;
        h = `${m[b]}.${m[b + 1]}.${m[b + 2]}.${m[b + 3]}`;
        if (this.hosts4.size >= MAX_HOST_CACHE) this.hosts4.clear();
        this.hosts4.set(k, h);
      }
      return h;
    }
    const k = `${this.meta[at + 4]},${this.meta[at + 5]},${this.meta[at + 6]},${this.meta[at + 7]}`;
    let h = this.hosts6.get(k);
    if (h === undefined) {
      h = formatIpv6(this.metaBytes, (at + 4) * 4);
      if (this.hosts6.size >= MAX_HOST_CACHE) this.hosts6.clear();
      this.hosts6.set(k, h);
    }
    return h;
  }
}

/** RFC 5952 text of the 16 address bytes at `b` (lower case, the longest run of two or more zero groups as `::`). */
export function formatIpv6(bytes: Uint8Array, b: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[b + 2 * i]! << 8) | bytes[b + 2 * i + 1]!);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) best = -1;
  const part = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (best < 0) return part(0, 8);
  return `${part(0, best)}::${part(best + bestLen, 8)}`;
}

/**
 * A UDP socket on the native batched path. `onBatch` runs once per received batch; `onSendFailure` once
 * per event-loop turn in which sends failed. Close it with {@link close}: the fd and the poll handle are
 * released and the process may exit.
 */
export class UdpSocket {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** SO_RCVBUF as the kernel reports it (Linux: twice the usable room). */
  readonly recvBufferBytes: number;
  /** SO_SNDBUF as the kernel reports it. */
  readonly sendBufferBytes: number;
  private readonly native: NativeUdpSocket;
  private readonly stage: Uint8Array;
  private readonly stageMeta: Int32Array;
  private readonly capacity: number;
  private readonly c: Float64Array;
  private readonly batch: UdpBatch;
  private readonly addresses = new Map<string, number>();
  private staged = 0;
  private pos = 0;
  private scheduled = false;
  private failed = 0;
  private closing: Promise<void> | undefined;
  private readonly flushTask = (): void => {
    this.scheduled = false;
    if (this.closing) return;
    this.flush();
  };

  constructor(
    options: UdpSocketOptions,
    onBatch: (batch: UdpBatch) => void,
    private readonly onSendFailure: (failure: UdpSendFailure) => void,
  ) {
    const family = options.host.includes(':') ? 6 : 4;
    let closed!: () => void;
    const whenClosed = new Promise<void>((r) => (closed = r));
    try {
      this.native = new addon.UdpSocket(
        {
          family,
          host: options.host,
          port: options.port ?? 0,
          recvBufferBytes: options.recvBufferBytes,
          sendBufferBytes: options.sendBufferBytes,
          recvSlots: options.recvBatch,
          slotBytes: options.maxDatagramBytes,
          sendCapacity: options.sendCapacity,
          sendSlabBytes: options.sendSlabBytes,
          maxQueue: options.maxQueue,
          maxQueueBytes: options.maxQueueBytes,
        },
        (count) => {
          this.batch.count = count;
          onBatch(this.batch);
        },
        (errno, count) => this.onSendFailure({ code: errnoName(errno), errno, count }),
        () => closed(),
      );
    } catch (err) {
      const e = err as Error & { errno?: number; code?: string };
      if (typeof e.errno === 'number') e.code = errnoName(e.errno);
      throw e;
    }
    this.whenClosed = whenClosed;
    this.family = family;
    this.host = this.native.host;
    this.port = this.native.port;
    this.recvBufferBytes = this.native.recvBufferBytes;
    this.sendBufferBytes = this.native.sendBufferBytes;
    this.stage = new Uint8Array(this.native.sendSlab);
    this.stageMeta = new Int32Array(this.native.sendMeta);
    this.capacity = this.stageMeta.length / SEND_WORDS;
    this.c = new Float64Array(this.native.counters);
    const meta = this.native.recvMeta;
    this.batch = new UdpBatch(Buffer.from(this.native.recvSlab), new Int32Array(meta), new Uint8Array(meta), this);
  }

  private readonly whenClosed: Promise<void>;

  /**
   * Stages one datagram for `host` (an address literal of this socket's family; IPv4 also on an IPv6
   * socket) and `port`; it leaves at the end of this event-loop turn, or sooner when the stage is full.
   * False when `host` is not such a literal (resolve it first). The bytes are copied.
   * @throws RangeError `ERR_SOCKET_BAD_PORT` unless 1 <= port <= 65535; Error when the socket is closed.
   */
  send(bytes: Uint8Array, host: string, port: number): boolean {
    if (this.closing) throw Object.assign(new Error('UDP socket is closed'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw Object.assign(new RangeError(`bad UDP port ${port}`), { code: 'ERR_SOCKET_BAD_PORT' });
    }
    let index = this.addresses.get(host);
    if (index === undefined) {
      if (this.addresses.size >= MAX_ADDRESSES) {
        this.flushStaged();
        this.native.clearAddresses();
        this.addresses.clear();
      }
      index = this.native.addAddress(host);
      if (index < 0) return false;
      this.addresses.set(host, index);
    }
    const m = this.stageBytes(bytes);
    if (m >= 0) {
      this.stageMeta[m + 2] = index;
      this.stageMeta[m + 3] = port;
    }
    return true;
  }

  /**
   * @internal {@link UdpBatch.reply}: stages `bytes` for the source described by the receive metadata
   * words at `at` (port, family, address words), copied into the send metadata.
   */
  stageReply(bytes: Uint8Array, recv: Int32Array, at: number): void {
    if (this.closing) throw Object.assign(new Error('UDP socket is closed'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    const m = this.stageBytes(bytes);
    if (m < 0) return;
    const meta = this.stageMeta;
    meta[m + 2] = recv[at + 3] === 6 ? INLINE_IPV6 : INLINE_IPV4;
    meta[m + 3] = recv[at + 2]!;
    meta[m + 4] = recv[at + 4]!;
    meta[m + 5] = recv[at + 5]!;
    meta[m + 6] = recv[at + 6]!;
    meta[m + 7] = recv[at + 7]!;
  }

  /**
   * Copies `bytes` into the stage (flushing first when it is full) with their offset and length; the index
   * of their metadata words for the caller to fill in the destination, or -1 when they are too long for a
   * datagram (counted as EMSGSIZE, reported at the end of the turn).
   */
  private stageBytes(bytes: Uint8Array): number {
    const len = bytes.length;
    if (len > MAX_DATAGRAM) {
      this.c[C_ERR_MSGSIZE]! += 1;
      this.c[C_LAST_ERRNO] = constants.errno.EMSGSIZE;
      this.failed++;
      this.schedule();
      return -1;
    }
    if (this.staged === this.capacity || this.pos + len > this.stage.length) this.flushStaged();
    this.stage.set(bytes, this.pos);
    const m = this.staged * SEND_WORDS;
    const meta = this.stageMeta;
    meta[m] = this.pos;
    meta[m + 1] = len;
    this.pos += len;
    this.staged++;
    this.schedule();
    return m;
  }

  /** Sends what is staged now (sendmmsg) and reports failures; runs by itself once per event-loop turn. */
  flush(): void {
    if (this.closing) return;
    this.flushStaged();
    if (this.failed > 0) {
      const count = this.failed;
      this.failed = 0;
      const errno = this.c[C_LAST_ERRNO]!;
      this.onSendFailure({ code: errnoName(errno), errno, count });
    }
  }

  /** Counters since the socket opened (`queued` is the current backlog). */
  counters(): UdpCounters {
    const out = {} as UdpCounters;
    for (let i = 0; i < UDP_COUNTERS.length; i++) out[UDP_COUNTERS[i]!] = this.c[i]!;
    return out;
  }

  /** For tests: the next `count` send attempts fail with errno `code` (`EAGAIN`, `ENETUNREACH`...). */
  injectSendFault(code: string, count: number): void {
    const errno = (constants.errno as Record<string, number>)[code];
    if (errno === undefined) throw new TypeError(`unknown errno ${code}`);
    this.native.injectSendFault(errno, count);
  }

  /** Sends what is staged, then releases the fd and the poll handle (the backlog is dropped, counted). */
  close(): Promise<void> {
    if (!this.closing) {
      this.flush();
      this.closing = this.whenClosed;
      this.native.close();
    }
    return this.closing;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushTask);
  }

  private flushStaged(): void {
    const n = this.staged;
    if (n === 0) return;
    this.staged = 0;
    this.pos = 0;
    this.failed += this.native.flush(n);
  }
}
