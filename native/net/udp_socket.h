// A UDP socket owned natively and driven by the JavaScript thread's own libuv loop (uv_poll_t on the fd):
// no extra thread, no cross-thread hop. Receives drain with recvmmsg into a slab of fixed slots and are handed
// up one batch at a time; sends are staged by the caller in a shared slab and leave with sendmmsg, the rest
// waiting in a bounded backlog for POLLOUT when the kernel says EAGAIN. Every call happens on the loop thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace switchhook::net {

/** Slots of the counter array (doubles, shared with JavaScript; src/native/udp.ts mirrors the order). */
enum UdpCounter : int {
  kRecvDatagrams,
  kRecvBytes,
  kRecvBatches,
  kRecvCalls,
  kRecvTruncated,
  kRecvErrors,
  kSentDatagrams,
  kSentBytes,
  kSendCalls,
  kWouldBlock,
  kQueued,
  kQueueDrops,
  kErrMsgSize,
  kErrAccess,
  kErrUnreachable,
  kErrRefused,
  kErrNoBufs,
  kErrOther,
  kLastErrno,
  kCounterCount
};

/** Words per received datagram in the receive metadata: offset, length, port, family, 4 address words. */
constexpr int kRecvMetaWords = 8;
/**
 * Words per staged datagram in the send metadata: offset, length, address index, port, 4 address words.
 * The address index names an entry of the destination table (AddAddress), or is kInlineIpv4/kInlineIpv6:
 * the address is then in the 4 address words, laid out as in the receive metadata (a reply to a source).
 */
constexpr int kSendMetaWords = 8;
/** Send metadata address index: the IPv4 address is inline (word 4, network order bytes). */
constexpr int32_t kInlineIpv4 = -4;
/** Send metadata address index: the IPv6 address is inline (words 4-7, network order bytes). */
constexpr int32_t kInlineIpv6 = -6;
/** sendmmsg/recvmmsg vector limit (UIO_MAXIOV). */
constexpr uint32_t kMaxBatch = 1024;

struct UdpOptions {
  int family = AF_INET;
  std::string host;
  uint16_t port = 0;
  int recv_buffer_bytes = 0;  // SO_RCVBUF (SO_RCVBUFFORCE beyond rmem_max where permitted); 0 keeps the kernel's
  int send_buffer_bytes = 0;  // SO_SNDBUF (SO_SNDBUFFORCE beyond wmem_max where permitted); 0 keeps the kernel's
  uint32_t recv_slots = 16;
  uint32_t slot_bytes = 65536;
  uint32_t send_capacity = 1024;
  uint32_t send_slab_bytes = 256 * 1024;
  uint32_t max_queue = 65536;
  uint64_t max_queue_bytes = 32u * 1024 * 1024;
};

/** Memory the socket reads and writes; owned by the caller (JavaScript ArrayBuffers) and outliving the socket. */
struct UdpRegions {
  uint8_t* recv_slab;   // recv_slots * slot_bytes
  int32_t* recv_meta;   // recv_slots * kRecvMetaWords
  uint8_t* send_slab;   // send_slab_bytes
  int32_t* send_meta;   // send_capacity * kSendMetaWords
  double* counters;     // kCounterCount
};

/** What the socket tells its owner; called on the loop thread from libuv callbacks. */
class UdpHooks {
 public:
  virtual ~UdpHooks() = default;
  /** `count` datagrams are described in recv_meta; the slab is reused once this returns. */
  virtual void OnBatch(uint32_t count) = 0;
  /** `count` datagrams failed while draining the backlog; `err` is the last errno. */
  virtual void OnSendErrors(int err, uint32_t count) = 0;
  /** The poll handle and the fd are released; the owner may free the socket. */
  virtual void OnClosed() = 0;
};

class UdpSocket {
 public:
  UdpSocket(uv_loop_t* loop, const UdpOptions& options, const UdpRegions& regions, UdpHooks* hooks);
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  /** Creates, sizes, binds and starts polling; 0 or an errno (`where` names the failed step). */
  int Open(const char** where);
  /** Bound address (after Open). */
  const std::string& host() const { return bound_host_; }
  uint16_t port() const { return bound_port_; }
  /** SO_RCVBUF / SO_SNDBUF as the kernel reports them (twice the usable payload room). */
  int recv_buffer_bytes() const { return BufferBytes(SO_RCVBUF); }
  int send_buffer_bytes() const { return BufferBytes(SO_SNDBUF); }

  /** Registers a destination address literal; its index, or -1 when it is not an address of this family. */
  int AddAddress(const char* literal);
  void ClearAddresses() { addresses_.clear(); }

  /**
   * Sends the `count` datagrams staged in send_slab/send_meta (sendmmsg); what the kernel does not take
   * (EAGAIN) is copied to the backlog (bounded) and waits for POLLOUT. Returns the datagrams that failed,
   * those dropped at the backlog bound included (as EAGAIN); the last errno is in counters[kLastErrno].
   */
  uint32_t Flush(uint32_t count);

  /** For tests: the next `count` send attempts fail with `err` before reaching the kernel. */
  void InjectSendFault(int err, uint32_t count) {
    fault_errno_ = err;
    fault_count_ = count;
  }

  /** Stops polling, drops the backlog (counted) and closes; OnClosed follows from the loop. Idempotent. */
  void Close();
  /** Environment teardown: stops polling and releases the fd; OnClosed still follows from the loop. */
  void Abandon();
  bool closing() const { return closing_; }
  /** Hands the callbacks to another owner (environment teardown). */
  void set_hooks(UdpHooks* hooks) { hooks_ = hooks; }

 private:
  struct Queued {
    std::vector<uint8_t> bytes;
    sockaddr_storage addr;
    socklen_t addr_len;
  };
  struct Address {
    sockaddr_storage addr;
    socklen_t len;
  };

  /** The destination of one staged datagram from its metadata words into `out`; its length, or 0 when invalid. */
  socklen_t Destination(const int32_t* meta, sockaddr_storage* out) const;
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnHandleClosed(uv_handle_t* handle);
  void ReadReady();
  void WriteReady();
  int SendMany(mmsghdr* msgs, uint32_t n);
  void CountError(int err);
  bool SizeBuffer(int option, int force_option, int bytes);
  int BufferBytes(int option) const;
  bool Enqueue(const uint8_t* bytes, uint32_t len, const sockaddr* addr, socklen_t addr_len);
  void UpdatePoll();

  uv_loop_t* loop_;
  UdpOptions options_;
  UdpRegions regions_;
  UdpHooks* hooks_;
  uv_poll_t poll_{};
  int fd_ = -1;
  bool polling_ = false;
  bool want_write_ = false;
  bool closing_ = false;
  std::string bound_host_;
  uint16_t bound_port_ = 0;
  std::vector<Address> addresses_;
  std::vector<mmsghdr> recv_msgs_;
  std::vector<iovec> recv_iov_;
  std::vector<sockaddr_storage> recv_addr_;
  std::vector<mmsghdr> send_msgs_;
  std::vector<iovec> send_iov_;
  std::vector<sockaddr_storage> send_addr_;
  std::deque<Queued> backlog_;
  uint64_t backlog_bytes_ = 0;
  int fault_errno_ = 0;
  uint32_t fault_count_ = 0;
};

}  // namespace switchhook::net
