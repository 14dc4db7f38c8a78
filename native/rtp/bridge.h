// The RTP bridge engine: one native thread that owns every leg's sockets and relays RTP/RTCP between
// joined legs with epoll (edge-triggered, capped reads per wake-up), recvmmsg/sendmmsg batches and a pool
// of receive buffers. Callers on other threads (the addon's JavaScript thread) post commands through a
// queue and an eventfd and read counters through relaxed atomics; events come back in batches through an
// EventSink called on the bridge thread. No N-API in here.
#pragma once
#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace switchhook::rtp {

/** Why the bridge dropped a datagram; one counter per reason and leg. */
enum class DropReason : uint8_t {
  kShort = 0,     // shorter than an RTP/RTCP header
  kVersion,       // version field not 2 (STUN, junk, other protocols)
  kMalformed,     // header fields run past the datagram
  kOversize,      // larger than the leg's maximum packet size
  kRate,          // over the leg's packets-per-second cap
  kSource,        // from an address other than the remote under strict source
  kPayloadType,   // payload type the leg was not configured for
  kNoPeer,        // the leg is not joined to another leg, or the peer has no remote yet
  kSendFailed,    // the kernel refused the outgoing datagram
  kCount
};

constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);
constexpr uint8_t kNoPayloadType = 0xff;

/** How RTCP is handled on a leg (RFC 3550 §6). */
enum class RtcpMode : uint8_t {
  kRelay = 0,     // forward reports to the peer leg, SSRCs and sequence numbers rewritten like RTP
  kTerminate = 1  // the bridge is the endpoint: reports are consumed and generated here
};

/** What the far end of a leg speaks. */
enum class LegKind : uint8_t {
  kRtp = 0,   // RTP/RTCP (RFC 3550)
  kPdsv = 1   // PDSV voice frames of one line port (docs/pdsv.md), packetised to and from 20 ms RTP
};

/** A leg's settings; everything but the sockets can change through UpdateLeg. */
struct LegSettings {
  LegKind kind = LegKind::kRtp;
  uint16_t pdsv_port = 0;                // the PDSV line port of a kPdsv leg
  bool has_remote = false;
  sockaddr_in remote{};       // RTP remote (from SDP or learned)
  sockaddr_in remote_rtcp{};  // RTCP remote (RTP port + 1 unless set)
  bool strict_source = false;
  uint8_t audio_pt = 0;                  // the payload type the far end sends and expects (0 PCMU, 8 PCMA, ...)
  uint8_t telephone_event_pt = kNoPayloadType;
  uint32_t clock_rate = 8000;
  uint32_t idle_timeout_ms = 0;          // 0: never
  uint32_t rate_limit_pps = 0;           // 0: no cap
  uint32_t max_packet_size = 1500;
  RtcpMode rtcp_mode = RtcpMode::kRelay;
  uint32_t rtcp_interval_ms = 5000;
  uint32_t out_ssrc = 0;                 // 0: keep the first source's SSRC
  std::string cname;
};

/** Counters of one leg, written only by the bridge thread and read anywhere (relaxed). */
struct LegCounters {
  std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, tx_packets{0}, tx_bytes{0};
  std::atomic<uint64_t> rtcp_rx{0}, rtcp_tx{0}, dtmf_events{0}, transcoded{0};
  std::atomic<uint32_t> expected{0}, jitter{0}, in_ssrc{0}, out_ssrc{0};
  std::atomic<int32_t> lost{0};
  std::atomic<uint32_t> remote_rtt_us{0};  // from received report blocks (RFC 3550 §6.4.1 LSR/DLSR)
  std::atomic<uint64_t> drops[kDropReasonCount]{};
};

enum class EventType : uint8_t {
  kLearned = 0,  // remote address learned or changed from received RTP; a = 0 (RTP) or 1 (RTCP)
  kIdle,         // no RTP within the idle timeout (reported once until traffic resumes)
  kDigit,        // RFC 4733 event ended: a = event code, b = duration (timestamp units), c = volume
  kError         // a = errno, text says where
};

struct Event {
  Event(EventType t, uint32_t l, uint32_t a_ = 0, uint32_t b_ = 0, uint32_t c_ = 0, std::string text_ = {})
      : type(t), leg(l), a(a_), b(b_), c(c_), text(std::move(text_)) {}
  EventType type;
  uint32_t leg;
  uint32_t a, b, c;
  sockaddr_in addr{};  // sin_family AF_INET when set
  std::string text;
};

using EventSink = std::function<void(std::vector<Event>&&)>;

/** How the bridge thread waits for and moves datagrams. */
enum class Backend : uint8_t {
  kAuto = 0,   // io_uring when the kernel offers it (Linux >= 6.1), epoll otherwise
  kEpoll = 1,  // epoll, recvmmsg, sendmmsg
  kUring = 2   // io_uring only: Start fails where it is unavailable
};

struct EngineCounters {
  std::atomic<uint64_t> wakeups{0}, batches{0}, commands{0};
  std::atomic<uint64_t> gso_messages{0};  // send messages that carried several datagrams (UDP_SEGMENT)
  // io_uring: multishot receives the kernel ended for want of a provided buffer (ENOBUFS), and receives
  // armed again after ending (ENOBUFS or any other non-fatal end, a full submission ring).
  std::atomic<uint64_t> recv_no_buffers{0}, recv_rearms{0};
  std::atomic<uint64_t> recv_buffers{0};  // io_uring: provided receive buffers in the ring
  // Connected send sockets: connect() calls made (first use and remote changes), and legs that fell back to
  // sending through their unconnected socket because the kernel refused one.
  std::atomic<uint64_t> send_connects{0}, send_connect_failures{0};
};

class Engine {
 public:
  explicit Engine(EventSink sink);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /**
   * Starts the bridge thread; false with `error` set when the kernel refused epoll/eventfd/timerfd, or
   * io_uring when the backend is kUring. The io_uring ring is created on the bridge thread itself.
   * A non-zero `thread_nice` sets the thread's nice value (setpriority(2); below 0 needs CAP_SYS_NICE), as
   * media relays commonly run above ordinary work.
   */
  bool Start(std::string* error, int thread_nice = 0);

  /**
   * Coalescing: after a wake-up that relayed packets, the thread naps this long before waiting again, so the
   * next wake-up finds more datagrams per socket (fewer context switches and system calls per packet, at
   * most this much added latency). 0 (default): off. Set before Start.
   */
  void set_coalesce_us(uint32_t us) { coalesce_us_ = us; }
  /**
   * Segmentation offload on send (UDP_SEGMENT, udp(7), Linux >= 4.18): datagrams of one flush leaving one
   * socket for one destination with equal sizes (G.711 packets) go out as one message that the kernel splits,
   * instead of one per datagram. Same datagrams and counters either way; it turns itself off if the kernel
   * refuses it. Default on. Set before Start.
   */
  void set_gso(bool on) { gso_ = on; }
  /**
   * Connected send sockets: RTP towards a leg's remote leaves through a second socket bound to the leg's RTP
   * port (SO_REUSEPORT) and connected to that remote, so the kernel keeps the route instead of looking it up
   * for every datagram; datagrams from that remote arrive on it and are read like the leg's own. Falls back
   * per leg to the unconnected socket if the kernel refuses. Default on. Set before Start.
   */
  void set_connect_send(bool on) { connect_send_ = on; }
  /** Which backend to run (default kAuto). Set before Start. */
  void set_backend(Backend b) { backend_ = b; }
  /**
   * Adaptive moderation: while the recent rate would bring several datagrams within `us`, an io_uring wait
   * returns once about that many completions are ready or `us` passed (with at least one, Linux >= 6.12),
   * and the epoll thread naps `us` after a wake-up; at low rates and when idle the thread wakes for each
   * datagram. 0 (default here; the TypeScript engine defaults to 500): off. Set before Start.
   */
  void set_moderation_us(uint32_t us) { moderation_us_ = us; }
  /**
   * io_uring provided receive buffers: a power of two in [1, 32768], fixed; 0 (default): 4096, growing with
   * the legs (two per leg, up to 32768). Datagrams wait in their socket's queue while none is free. Set
   * before Start.
   */
  void set_receive_buffers(uint32_t n) { receive_buffers_ = n; }
  /** The backend running since Start (kEpoll or kUring). */
  Backend backend() const { return running_backend_; }
  /** Stops the thread (joins it) and closes every leg's sockets. Safe to call twice. */
  void Stop();

  /** Takes ownership of two bound UDP sockets and adds a leg (queued to the bridge thread). */
  std::shared_ptr<const LegCounters> AddLeg(uint32_t id, int rtp_fd, int rtcp_fd, const LegSettings& settings);
  void UpdateLeg(uint32_t id, const LegSettings& settings);
  /** Joins two legs both ways; either leg's previous peer is released. */
  void Connect(uint32_t a, uint32_t b);
  /** Releases a leg's peer both ways. */
  void Disconnect(uint32_t id);
  void RemoveLeg(uint32_t id);

  /** CPU time consumed by the bridge thread so far, in nanoseconds. */
  uint64_t ThreadCpuNs() const;
  const EngineCounters& counters() const { return counters_; }

 private:
  struct Impl;
  struct Command;
  void Post(Command&& cmd);

  EngineCounters counters_;
  uint32_t coalesce_us_ = 0;
  uint32_t moderation_us_ = 0;
  uint32_t receive_buffers_ = 0;
  bool gso_ = true;
  bool connect_send_ = true;
  Backend backend_ = Backend::kAuto;
  Backend running_backend_ = Backend::kEpoll;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  bool running_ = false;
};

/**
 * Binds an even/odd UDP port pair (RTP on the even port, RTCP on the next) inside [min, max], starting
 * at `*cursor` and advancing it. Returns the RTP port, or 0 with `errno_out` set when no pair is free.
 */
uint16_t OpenPortPair(const in_addr& bind_addr, uint16_t min, uint16_t max, uint16_t* cursor, int* rtp_fd,
                      int* rtcp_fd, int* errno_out);

}  // namespace switchhook::rtp
