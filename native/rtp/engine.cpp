// The bridge thread: legs, relaying, rewriting, RTCP, idle and digit events. Everything below Engine's
// public methods runs on the bridge thread only, except Post() and the atomics in LegCounters.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <unordered_map>

#include "pdsv/pdsv.h"
#include "rtp/bridge.h"
#include "rtp/packet.h"
#include "rtp/stats.h"
#include "rtp/transcode.h"
#include "rtp/uring.h"

namespace switchhook::rtp {

namespace {

constexpr int kBatch = 32;              // datagrams per recvmmsg/sendmmsg
constexpr int kRoundsPerWake = 4;       // recvmmsg calls per socket per wake-up before yielding
constexpr size_t kBufferSize = 2048;    // larger than any accepted packet, so truncation means oversize
constexpr int kMaxEvents = 256;
constexpr uint64_t kTickNs = 100'000'000;  // idle and RTCP timer resolution
constexpr uint64_t kNtpEpochOffset = 2208988800ull;  // 1900-01-01 to 1970-01-01 (RFC 3550 §4)
constexpr size_t kFrameSamples = 160;  // 20 ms of G.711 at 8 kHz: one RTP packet from PDSV voice
constexpr int kScratch = 2 * kBatch;   // built datagrams (PDSV <-> RTP) per flush
constexpr size_t kGsoMaxSegments = 64;  // UDP_MAX_SEGMENTS of older kernels (newer allow 128)
constexpr size_t kGsoMaxBytes = 60000;  // below the 64 KiB IP datagram limit of one GSO message
// Segments must fit the route's MTU or the kernel refuses the message: Ethernet's 1500 minus IPv4 and UDP
// headers. Larger datagrams (rare for RTP) go out plainly rather than turning GSO off.
constexpr size_t kGsoMaxSegment = 1472;
// io_uring backend: submission ring size, provided receive buffers (each io_uring_recvmsg_out, the source
// address, then as much payload as the epoll backend reads), and the most completions one moderated wait asks
// for.
constexpr unsigned kUringEntries = 1024;
constexpr unsigned kUringBuffers = 4096;
constexpr size_t kUringBufferSize = sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_in) + kBufferSize;
constexpr unsigned kMaxModeratedWait = 64;
// user_data of io_uring requests: a Sock pointer (8-aligned) for receives, or a tag in the low three bits.
constexpr uint64_t kTagMask = 7;
constexpr uint64_t kTagRecv = 0;
constexpr uint64_t kTagSend = 1;  // message index << 3
constexpr uint64_t kTagWake = 2;
constexpr uint64_t kTagTimer = 3;
constexpr uint64_t kTagIgnore = 4;  // cancellations
constexpr uint64_t kTagCancelAll = 5;  // the cancellation of everything when the thread stops

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t NtpNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t seconds = static_cast<uint64_t>(ts.tv_sec) + kNtpEpochOffset;
  const uint64_t fraction = (static_cast<uint64_t>(ts.tv_nsec) << 32) / 1'000'000'000ull;
  return (seconds << 32) | fraction;
}

/** Middle 32 bits of an NTP timestamp: units of 1/65536 s (RFC 3550 §6.4.1 LSR, DLSR). */
uint32_t NtpMiddle(uint64_t ntp) { return static_cast<uint32_t>(ntp >> 16); }

template <typename T>
void Bump(std::atomic<T>& counter, T by = 1) {
  // One writer (the bridge thread): a plain load and store, no locked instruction.
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

template <typename T>
void Put(std::atomic<T>& counter, T value) {
  counter.store(value, std::memory_order_relaxed);
}

bool SameAddr(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
}

uint32_t ToClock(uint64_t ns, uint32_t clock_rate) {
  return static_cast<uint32_t>((static_cast<unsigned __int128>(ns) * clock_rate) / 1'000'000'000ull);
}

struct Leg;

/** One socket registered with epoll; the epoll data pointer. */
struct Sock {
  Leg* leg = nullptr;
  bool rtcp = false;
  bool pending = false;  // on the re-read list after hitting the per-wake cap
  int fd = -1;
  bool armed = false;    // io_uring: a multishot receive is live on this socket
  bool rearm = false;    // io_uring: on the re-arm list (its receive ended; armed again once buffers are back)
};

/** Outgoing rewriting state of a leg (what its remote sees): one SSRC, continuous seq and timestamps. */
struct OutState {
  bool started = false;
  uint32_t ssrc = 0;
  uint64_t source_key = 0;  // (source leg id, source SSRC) currently mapped onto this output
  uint16_t seq_offset = 0;
  uint32_t ts_offset = 0;
  uint16_t last_seq = 0;
  uint32_t last_ts = 0;
  uint64_t last_ns = 0;
  bool mark_next = false;
  uint64_t packets = 0;
  uint64_t octets = 0;
  uint64_t packets_at_last_report = 0;
};

struct Leg {
  uint32_t id = 0;
  bool removed = false;
  int armed = 0;  // io_uring: live multishot receives; a removed leg is freed when none is left
  LegSettings s;
  Sock rtp, rtcp;
  // Connected send socket (connect_send): on the RTP port, connected to tx_to; fd -1 until first used.
  Sock tx;
  bool tx_tried = false;      // tx_to is the remote it was last connected to (or tried)
  sockaddr_in tx_to{};
  bool tx_connected = false;  // false when the kernel refused: RTP leaves through the rtp socket, unconnected
  std::shared_ptr<LegCounters> c;
  Leg* peer = nullptr;
  bool rtcp_remote_known = false;
  bool have_in_ssrc = false;
  uint32_t in_ssrc = 0;
  ReceiverStats rx;
  OutState out;
  uint32_t local_ssrc = 0;
  double tokens = 0;
  uint64_t token_ns = 0;
  uint64_t last_rx_ns = 0;
  bool idle_reported = false;
  // RFC 4733 tracking: one report per event (identified by its RTP timestamp).
  bool te_active = false;
  bool te_reported = false;
  uint32_t te_ts = 0;
  TelephoneEvent te;
  // PDSV voice packetising (docs/pdsv.md §5): 10 or 20 ms frames in, 20 ms RTP packets out.
  uint8_t pcm[kFrameSamples];
  size_t pcm_len = 0;
  uint32_t pcm_ts = 0;
  uint8_t pcm_codec = 0;
  bool pcm_talkspurt = false;
  uint16_t packet_seq = 0;     // RTP sequence of packets built from PDSV voice
  uint16_t pdsv_tx_seq = 0;    // PDSV sequence towards the phone
  bool pdsv_tx_started = false;
  // RTCP
  uint64_t next_rtcp_ns = 0;
  uint32_t last_sr_mid = 0;
  uint64_t last_sr_ns = 0;
};

/**
 * Adaptive moderation: the recent datagram rate (averaged over wake-ups) and, from it, how many datagrams a
 * wait may gather within the bound. Below two there is nothing to gather: the thread wakes for each.
 */
struct Moderation {
  uint64_t last_ns = 0;
  double rate = 0;  // datagrams per second

  /** Feeds one wake-up's datagrams; returns how many the next wait should gather (1: no moderation). */
  unsigned Update(uint64_t packets, uint64_t now, uint32_t bound_us) {
    const uint64_t elapsed = std::max<uint64_t>(last_ns == 0 ? 0 : now - last_ns, 1000);
    last_ns = now;
    rate = (rate + static_cast<double>(packets) * 1e9 / static_cast<double>(elapsed)) / 2;
    const double expected = rate * bound_us / 1e6;
    return expected < 2 ? 1 : static_cast<unsigned>(std::min<double>(expected, kMaxModeratedWait));
  }
};

/** A datagram on its way out: which socket, where to, which leg pays for a failure. */
struct Outgoing {
  int fd;
  const sockaddr_in* to;
  Leg* leg;
  uint8_t* data;
  size_t len;
  bool rtp;  // counted in tx_packets/tx_bytes when sent
  bool connected = false;  // fd is connected to `to`: sent without a destination (no route lookup)
  bool retried = false;    // sent again after ECONNREFUSED (connected sockets)
};

/** The drop reason of a datagram that did not parse as RTP or RTCP (`s` is never kOk). */
DropReason UnparsedDrop(ParseStatus s) {
  switch (s) {
    case ParseStatus::kShort:
      return DropReason::kShort;
    case ParseStatus::kVersion:
      return DropReason::kVersion;
    case ParseStatus::kMalformed:
    case ParseStatus::kOk:
      break;
  }
  return DropReason::kMalformed;
}

}  // namespace

struct Engine::Command {
  enum class Kind : uint8_t { kAdd, kUpdate, kConnect, kDisconnect, kRemove, kStop };
  explicit Command(Kind k) : kind(k) {}
  Kind kind;
  uint32_t id = 0;
  uint32_t other = 0;
  int rtp_fd = -1;
  int rtcp_fd = -1;
  LegSettings settings;
  std::shared_ptr<LegCounters> counters;
};

struct Engine::Impl {
  explicit Impl(EventSink s, EngineCounters* ec) : sink(std::move(s)), counters(ec), rng(std::random_device{}()) {}

  EventSink sink;
  EngineCounters* counters;
  std::mutex mutex;
  std::vector<Command> queue;
  int epoll_fd = -1;
  int wake_fd = -1;
  int timer_fd = -1;
  bool stop = false;
  uint64_t coalesce_ns = 0;
  std::mt19937 rng;
  std::unordered_map<uint32_t, std::unique_ptr<Leg>> legs;
  std::vector<std::unique_ptr<Leg>> removed;  // freed at the end of the wake-up that removed them
  std::vector<Sock*> pending;
  std::vector<Event> events;

  // The receive pool: one batch of buffers reused for every recvmmsg; packets are rewritten in place and
  // sent from the same buffers before the next read.
  uint8_t buffers[kBatch][kBufferSize];
  iovec recv_iov[kBatch];
  sockaddr_in recv_from[kBatch];
  mmsghdr recv_msgs[kBatch];
  std::vector<Outgoing> out;
  mmsghdr send_msgs[kBatch];
  iovec send_iov[kBatch * kGsoMaxSegments];
  alignas(cmsghdr) uint8_t send_cmsg[kBatch][CMSG_SPACE(sizeof(uint16_t))];
  size_t send_first[kBatch];  // index in `out` of each message's first datagram
  size_t send_count[kBatch];  // datagrams in each message (more than one: a GSO message)
  bool gso_enabled = false;
  bool connect_send = false;
  int connect_fd_limit = 0;  // connected send sockets only below this descriptor number (half of RLIMIT_NOFILE)
  uint8_t rtcp_buffer[1500];
  uint8_t scratch[kScratch][pdsv::kMaxFrame];
  int scratch_used = 0;
  // io_uring backend (when `uring`): completions of one wake-up, receive buffers to hand back once the
  // datagrams read into them were sent, the receive template (source address only) and sends in flight.
  Uring ring;
  bool uring = false;
  uint32_t moderation_us = 0;
  std::vector<io_uring_cqe> cqes;
  std::vector<uint16_t> recycle;
  std::vector<Sock*> rearm;  // receives that ended, armed again after the buffers went back to the ring
  unsigned receive_buffers = kUringBuffers;
  bool grow_buffers = true;  // false when the number was set (receive_buffers)
  msghdr recv_msg{};
  bool send_to[kBatch];     // the message went as IORING_OP_SEND with a destination
  bool send_to_ok = true;   // the kernel takes those (Linux >= 6.1); SENDMSG otherwise
  int sends_in_flight = 0;
  std::vector<Outgoing> resend;  // datagrams of GSO messages the kernel refused, sent again plainly
  uint64_t wake_packets = 0;     // datagrams read in the current wake-up

  void Run();
  void RunEpoll();
  void RunUring();
  void ArmRecv(Sock* sock);
  void Rearm();
  void ArmPoll(int fd, uint64_t tag);
  io_uring_sqe* Sqe();
  void ReapCompletions();
  void Received(const io_uring_cqe& cqe, uint64_t now);
  void FlushUring();
  void ReturnBuffers();
  void ReleaseRemoved();
  void BuildMessage(int count, size_t at, size_t next, size_t base, bool gso);
  void Sent(int q);
  void Drain();
  void Apply(Command& cmd);
  void AddLeg(Command& cmd);
  void RemoveLeg(Leg* leg);
  void Unlink(Leg* leg);
  void ReadSocket(Sock* sock);
  void Handle(Sock* sock, uint8_t* data, size_t len, bool truncated, const sockaddr_in& from, uint64_t now);
  void HandleRtcp(Leg* leg, bool muxed, uint8_t* data, size_t len, const sockaddr_in& from, uint64_t now);
  void TrackDigit(Leg* leg, const RtpView& v, const TelephoneEvent& te);
  void Forward(Leg* leg, uint8_t* data, size_t len, const RtpView& v, uint64_t now);
  void HandlePdsv(Leg* leg, const uint8_t* data, size_t len, bool from_remote, const sockaddr_in& from,
                  uint64_t now);
  void SendPdsv(Leg* to, const uint8_t* data, const RtpView& v, uint8_t pt);
  void Learn(Leg* leg, const sockaddr_in& from);
  uint8_t* Scratch() {
    if (scratch_used == kScratch) Flush();
    return scratch[scratch_used++];
  }
  void RewriteOut(Leg* to, uint64_t source_key, uint8_t* data, const RtpView& v, uint64_t now);
  void RewriteRtcp(Leg* from, Leg* to, uint8_t* data, const RtcpCompound& compound);
  void Tick(uint64_t now);
  void SendReport(Leg* leg, uint64_t now);
  void Queue(int fd, const sockaddr_in* to, Leg* leg, uint8_t* data, size_t len, bool rtp,
             bool connected = false);
  bool ConnectTx(Leg* leg);
  bool Retry(const Outgoing& o, int err);
  void Flush();
  bool GsoRun(size_t i, size_t end, size_t* j) const;
  void Drop(Leg* leg, DropReason reason) { Bump(leg->c->drops[static_cast<size_t>(reason)]); }
  void Emit(Event&& e) { events.push_back(std::move(e)); }
  uint64_t Jittered(uint32_t interval_ms) {
    // RFC 3550 §6.3.1: the interval is randomised over [0.5, 1.5] of its nominal value.
    std::uniform_real_distribution<double> d(0.5, 1.5);
    return static_cast<uint64_t>(d(rng) * interval_ms * 1e6);
  }
};

// ---- public side (any thread) ----

Engine::Engine(EventSink sink) : impl_(std::make_unique<Impl>(std::move(sink), &counters_)) {}

Engine::~Engine() { Stop(); }

bool Engine::Start(std::string* error, int thread_nice) {
  Impl& im = *impl_;
  im.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  im.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  im.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (im.epoll_fd < 0 || im.wake_fd < 0 || im.timer_fd < 0) {
    *error = std::string("bridge setup failed: ") + strerror(errno);
    for (int* fd : {&im.epoll_fd, &im.wake_fd, &im.timer_fd}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    return false;
  }
  itimerspec spec{};
  spec.it_interval.tv_nsec = static_cast<long>(kTickNs);
  spec.it_value.tv_nsec = static_cast<long>(kTickNs);
  timerfd_settime(im.timer_fd, 0, &spec, nullptr);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &im.wake_fd;
  epoll_ctl(im.epoll_fd, EPOLL_CTL_ADD, im.wake_fd, &ev);
  ev.data.ptr = &im.timer_fd;
  epoll_ctl(im.epoll_fd, EPOLL_CTL_ADD, im.timer_fd, &ev);
  for (int i = 0; i < kBatch; ++i) {
    im.recv_iov[i].iov_base = im.buffers[i];
    im.recv_iov[i].iov_len = kBufferSize;
  }
  im.out.reserve(kBatch * 2);
  impl_->coalesce_ns = static_cast<uint64_t>(coalesce_us_) * 1000;
  impl_->moderation_us = moderation_us_;
  if (receive_buffers_ != 0) {
    impl_->receive_buffers = receive_buffers_;
    impl_->grow_buffers = false;
  }
  impl_->gso_enabled = gso_;
  impl_->connect_send = connect_send_;
  // A connected send socket is one more descriptor per sending leg: they take the lower half of the process's
  // limit at most, so the legs themselves (two each) and the rest of the process keep the upper half.
  rlimit files{};
  impl_->connect_fd_limit =
      getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY
          ? static_cast<int>(std::min<rlim_t>(files.rlim_cur / 2, 1 << 30))
          : 1 << 30;
  // The io_uring ring belongs to the thread that creates it (single issuer, task work run on waits), so the
  // bridge thread sets it up and reports back before Start returns.
  struct Started {
    bool ok;
    std::string why;
  };
  std::promise<Started> started;
  std::future<Started> result = started.get_future();
  const Backend want = backend_;
  thread_ = std::thread([this, thread_nice, want, started = std::move(started)]() mutable {
    pthread_setname_np(pthread_self(), "switchhook-rtp");
    if (thread_nice != 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), thread_nice) != 0) {
      impl_->Emit(Event(EventType::kError, 0, static_cast<uint32_t>(errno), 0, 0, "setpriority"));
    }
    if (impl_->moderation_us != 0 || impl_->coalesce_ns != 0) {
      // Naps and bounded waits of a few hundred microseconds: without this, the default 50 us timer slack
      // (prctl(2) PR_SET_TIMERSLACK) would stretch each of them.
      prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    }
    std::string why;
    if (want != Backend::kEpoll) impl_->uring = impl_->ring.Setup(kUringEntries, impl_->receive_buffers, kUringBufferSize, &why);
    if (impl_->uring) counters_.recv_buffers.store(impl_->ring.buffers(), std::memory_order_relaxed);
    const bool ok = impl_->uring || want != Backend::kUring;
    started.set_value(Started{ok, why});
    if (!ok) return;
    if (!impl_->uring && want == Backend::kAuto) {
      impl_->Emit(Event(EventType::kError, 0, 0, 0, 0, "io_uring unavailable (" + why + "): epoll"));
    }
    impl_->Run();
  });
  const Started s = result.get();
  if (!s.ok) {
    thread_.join();
    *error = "io_uring setup failed: " + s.why;
    for (int* fd : {&im.epoll_fd, &im.wake_fd, &im.timer_fd}) {
      close(*fd);
      *fd = -1;
    }
    return false;
  }
  running_backend_ = impl_->uring ? Backend::kUring : Backend::kEpoll;
  running_ = true;
  return true;
}

void Engine::Stop() {
  if (!running_) return;
  Command cmd(Command::Kind::kStop);
  Post(std::move(cmd));
  thread_.join();
  running_ = false;
  Impl& im = *impl_;
  // Commands posted after the stop (none expected) still own sockets: close them.
  for (Command& c : im.queue) {
    if (c.rtp_fd >= 0) close(c.rtp_fd);
    if (c.rtcp_fd >= 0) close(c.rtcp_fd);
  }
  im.queue.clear();
  close(im.epoll_fd);
  close(im.wake_fd);
  close(im.timer_fd);
}

void Engine::Post(Command&& cmd) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->queue.push_back(std::move(cmd));
  }
  const uint64_t one = 1;
  ssize_t n = write(impl_->wake_fd, &one, sizeof one);
  (void)n;  // the eventfd counter cannot overflow at this rate; a failed write still leaves it readable
}

std::shared_ptr<const LegCounters> Engine::AddLeg(uint32_t id, int rtp_fd, int rtcp_fd,
                                                   const LegSettings& settings) {
  auto counters = std::make_shared<LegCounters>();
  Command cmd(Command::Kind::kAdd);
  cmd.id = id;
  cmd.rtp_fd = rtp_fd;
  cmd.rtcp_fd = rtcp_fd;
  cmd.settings = settings;
  cmd.counters = counters;
  Post(std::move(cmd));
  return counters;
}

void Engine::UpdateLeg(uint32_t id, const LegSettings& settings) {
  Command cmd(Command::Kind::kUpdate);
  cmd.id = id;
  cmd.settings = settings;
  Post(std::move(cmd));
}

void Engine::Connect(uint32_t a, uint32_t b) {
  Command cmd(Command::Kind::kConnect);
  cmd.id = a;
  cmd.other = b;
  Post(std::move(cmd));
}

void Engine::Disconnect(uint32_t id) {
  Command cmd(Command::Kind::kDisconnect);
  cmd.id = id;
  Post(std::move(cmd));
}

void Engine::RemoveLeg(uint32_t id) {
  Command cmd(Command::Kind::kRemove);
  cmd.id = id;
  Post(std::move(cmd));
}

uint64_t Engine::ThreadCpuNs() const {
  if (!running_) return 0;
  clockid_t cid;
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &cid) != 0) return 0;
  timespec ts;
  if (clock_gettime(cid, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint16_t OpenPortPair(const in_addr& bind_addr, uint16_t min, uint16_t max, uint16_t* cursor, int* rtp_fd,
                      int* rtcp_fd, int* errno_out) {
  const uint32_t first = min + (min & 1);
  if (first + 1 > max) {
    *errno_out = EINVAL;
    return 0;
  }
  const uint32_t pairs = (static_cast<uint32_t>(max) - first + 1) / 2;
  uint32_t start = *cursor < first || *cursor + 1u > max ? first : *cursor & ~1u;
  int last_errno = EADDRINUSE;
  for (uint32_t i = 0; i < pairs; ++i) {
    uint32_t port = start + 2 * i;
    if (port + 1 > max) port = first + (port - first) % (2 * pairs);
    int fds[2] = {-1, -1};
    bool ok = true;
    bool no_socket = false;
    for (int k = 0; k < 2 && ok; ++k) {
      fds[k] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      no_socket = fds[k] < 0;
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr = bind_addr;
      sa.sin_port = htons(static_cast<uint16_t>(port + k));
      if (fds[k] < 0 || bind(fds[k], reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        last_errno = errno;
        ok = false;
      }
    }
    if (!ok) {
      for (int fd : fds) {
        if (fd >= 0) close(fd);
      }
      // No socket at all (out of file descriptors, EMFILE/ENFILE, or memory): no other port does better.
      if (no_socket) break;
      continue;
    }
    // Room for about a second of a busy stream, so a bridge thread descheduled for a moment loses nothing
    // (capped by net.core.rmem_max).
    int rcvbuf = 1 << 20;
    setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    *rtp_fd = fds[0];
    *rtcp_fd = fds[1];
    *cursor = static_cast<uint16_t>(port + 2 > max ? first : port + 2);
    return static_cast<uint16_t>(port);
  }
  *errno_out = last_errno;
  return 0;
}

// ---- bridge thread ----

void Engine::Impl::Run() {
  if (uring) {
    RunUring();
    // Receives hold their sockets (and ports) until they end: cancel everything and wait for every receive's
    // last completion (its socket reference is dropped in this thread then), so the ports are free when
    // Stop returns; a ring closed with requests left would release them later, from a kernel worker.
    if (io_uring_sqe* sqe = Sqe()) {
      ring.PrepCancelAll(sqe, kTagCancelAll);
      auto armed = [this] {
        for (auto& [id, leg] : legs) {
          if (leg->armed != 0) return true;
        }
        for (auto& leg : removed) {
          if (leg->armed != 0) return true;
        }
        return false;
      };
      bool cancelled = false;
      for (int i = 0; i < 100 && (!cancelled || armed()); ++i) {
        ring.Enter(1, 0, 10'000);
        ReapCompletions();
        for (const io_uring_cqe& cqe : cqes) {
          cancelled = cancelled || cqe.user_data == kTagCancelAll;
          if ((cqe.user_data & kTagMask) != kTagRecv || (cqe.flags & IORING_CQE_F_MORE) != 0) continue;
          Sock* sock = reinterpret_cast<Sock*>(cqe.user_data);
          sock->armed = false;
          --sock->leg->armed;
        }
        cqes.clear();
      }
    }
    ring.Close();
  } else {
    RunEpoll();
  }
  for (auto& [id, leg] : legs) {
    close(leg->rtp.fd);
    close(leg->rtcp.fd);
    if (leg->tx.fd >= 0) close(leg->tx.fd);
  }
  legs.clear();
  removed.clear();
}

void Engine::Impl::RunEpoll() {
  epoll_event ready[kMaxEvents];
  Moderation moderation;
  while (!stop) {
    const int timeout = pending.empty() ? -1 : 0;
    const int n = epoll_wait(epoll_fd, ready, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) {
      // Not expected with valid descriptors; report it and stop relaying rather than spin.
      std::vector<Event> fatal;
      fatal.push_back(Event(EventType::kError, 0, static_cast<uint32_t>(errno), 0, 0, "epoll_wait"));
      sink(std::move(fatal));
      break;
    }
    Bump(counters->wakeups);
    bool tick = false;
    // Commands first, so a packet sent after a command (a new bridge, a move) sees its effect. Legs
    // removed here are parked in `removed` until the end of the wake-up: `ready` may still point at them.
    for (int i = 0; i < n; ++i) {
      if (ready[i].data.ptr == &wake_fd) Drain();
      if (ready[i].data.ptr == &timer_fd) tick = true;
    }
    // Sockets that hit the read cap last time go first, then what epoll reported.
    std::vector<Sock*> again;
    again.swap(pending);
    for (Sock* s : again) {
      s->pending = false;
      if (!s->leg->removed) ReadSocket(s);
    }
    for (int i = 0; i < n; ++i) {
      void* p = ready[i].data.ptr;
      if (p == &wake_fd || p == &timer_fd) continue;
      Sock* s = static_cast<Sock*>(p);
      if (!s->pending && !s->leg->removed) ReadSocket(s);
    }
    if (tick) {
      uint64_t expirations;
      ssize_t r = read(timer_fd, &expirations, sizeof expirations);
      (void)r;
      Tick(NowNs());
    }
    ReleaseRemoved();
    // epoll cannot wait for a number of datagrams: moderation naps for the bound instead, when due.
    const bool moderate = moderation.Update(wake_packets, NowNs(), moderation_us) > 1;
    uint64_t nap_ns = wake_packets != 0 ? coalesce_ns : 0;
    wake_packets = 0;
    if (moderate && pending.empty()) nap_ns = std::max<uint64_t>(nap_ns, static_cast<uint64_t>(moderation_us) * 1000);
    if (nap_ns != 0 && pending.empty()) {
      timespec nap{0, static_cast<long>(nap_ns)};
      nanosleep(&nap, nullptr);
    }
    if (!events.empty()) {
      std::vector<Event> batch;
      batch.swap(events);
      sink(std::move(batch));
    }
  }
}

void Engine::Impl::RunUring() {
  // One io_uring_enter per wake-up waits for completions: a multishot receive on every leg socket posts one
  // per datagram into a provided buffer, and the command eventfd and the tick timerfd have multishot polls.
  // Sends go as SEND/SENDMSG entries submitted together (FlushUring).
  recv_msg.msg_namelen = sizeof(sockaddr_in);
  ArmPoll(wake_fd, kTagWake);
  ArmPoll(timer_fd, kTagTimer);
  Moderation moderation;
  unsigned wait_nr = 1;
  while (!stop) {
    // Adaptive moderation: when the recent rate brings at least two datagrams within the bound, wait for
    // about that many or the bound (Linux >= 6.12: the bound with at least one); otherwise wake for each.
    const uint32_t bound = wait_nr > 1 ? moderation_us : 0;
    const int r = ring.Enter(wait_nr, bound, bound);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
      std::vector<Event> fatal;
      fatal.push_back(Event(EventType::kError, 0, static_cast<uint32_t>(-r), 0, 0, "io_uring_enter"));
      sink(std::move(fatal));
      break;
    }
    Bump(counters->wakeups);
    ReapCompletions();
    const uint64_t now = NowNs();
    bool tick = false;
    // Commands first, as with epoll; the polls re-arm themselves unless the kernel ended them.
    for (io_uring_cqe& cqe : cqes) {
      const uint64_t tag = cqe.user_data & kTagMask;
      if (tag != kTagWake && tag != kTagTimer) continue;
      if ((cqe.flags & IORING_CQE_F_MORE) == 0) ArmPoll(tag == kTagWake ? wake_fd : timer_fd, tag);
      if (tag == kTagWake) Drain();
      if (tag == kTagTimer) tick = true;
      cqe.user_data = kTagIgnore;
    }
    size_t packets = 0;
    // Flushing may append completions (an eventfd or timer poll, a receive ending): read by index.
    for (size_t i = 0; i < cqes.size(); ++i) {
      const io_uring_cqe cqe = cqes[i];
      const uint64_t tag = cqe.user_data & kTagMask;
      if (tag == kTagWake || tag == kTagTimer) {
        if ((cqe.flags & IORING_CQE_F_MORE) == 0) ArmPoll(tag == kTagWake ? wake_fd : timer_fd, tag);
        if (tag == kTagWake) Drain();
        if (tag == kTagTimer) tick = true;
        continue;
      }
      if (tag != kTagRecv) continue;
      Received(cqe, now);
      if (++packets % kBatch == 0) {
        Flush();
        ReturnBuffers();
      }
    }
    cqes.clear();
    Flush();
    ReturnBuffers();
    Rearm();
    if (packets != 0) Bump(counters->batches);
    if (tick) {
      uint64_t expirations;
      ssize_t n = read(timer_fd, &expirations, sizeof expirations);
      (void)n;
      Tick(now);
    }
    ReleaseRemoved();
    wait_nr = moderation.Update(packets, now, moderation_us);
    if (packets != 0 && coalesce_ns != 0) {
      timespec nap{0, static_cast<long>(coalesce_ns)};
      nanosleep(&nap, nullptr);
    }
    if (!events.empty()) {
      std::vector<Event> batch;
      batch.swap(events);
      sink(std::move(batch));
    }
  }
}

io_uring_sqe* Engine::Impl::Sqe() {
  io_uring_sqe* sqe = ring.Sqe();
  if (sqe) return sqe;
  // The submission ring is full (thousands of legs added at once): submit what is there.
  ring.Enter(0, 0, 0);
  return ring.Sqe();
}

void Engine::Impl::ArmRecv(Sock* sock) {
  io_uring_sqe* sqe = Sqe();
  if (!sqe) {
    // No submission entry even after submitting (the kernel is busy flushing completions): try again at the
    // end of the next wake-up; the datagrams wait in the socket's queue meanwhile.
    if (!sock->rearm) rearm.push_back(sock);
    sock->rearm = true;
    return;
  }
  ring.PrepRecvMsgMultishot(sqe, sock->fd, &recv_msg, reinterpret_cast<uint64_t>(sock) | kTagRecv);
  sock->armed = true;
  ++sock->leg->armed;
}

void Engine::Impl::Rearm() {
  // After ReturnBuffers: a receive armed again while the ring is still empty would end at once with ENOBUFS
  // on a socket with queued datagrams, and again on every wake-up.
  if (rearm.empty() || !recycle.empty()) return;
  std::vector<Sock*> list;
  list.swap(rearm);
  for (Sock* sock : list) {
    sock->rearm = false;
    if (sock->leg->removed || sock->armed) continue;
    Bump(counters->recv_rearms);
    ArmRecv(sock);
  }
}

void Engine::Impl::ArmPoll(int fd, uint64_t tag) {
  io_uring_sqe* sqe = Sqe();
  if (sqe) ring.PrepPollMultishot(sqe, fd, tag);
}

void Engine::Impl::ReapCompletions() {
  io_uring_cqe batch[256];
  for (;;) {
    const unsigned n = ring.Reap(batch, 256);
    for (unsigned i = 0; i < n; ++i) {
      const io_uring_cqe& cqe = batch[i];
      if ((cqe.user_data & kTagMask) == kTagSend) {
        --sends_in_flight;
        const int q = static_cast<int>(cqe.user_data >> 3);
        if (cqe.res >= 0) {
          Sent(q);
        } else if (send_to[q] && cqe.res == -EINVAL && send_to_ok) {
          // A kernel without destinations on IORING_OP_SEND: msghdrs from now on, starting with this one.
          send_to_ok = false;
          resend.push_back(out[send_first[q]]);
        } else if (send_count[q] > 1 && (cqe.res == -EINVAL || cqe.res == -EIO || cqe.res == -ENOPROTOOPT ||
                                         cqe.res == -EOPNOTSUPP)) {
          // The kernel or the route has no UDP GSO: send plainly from now on, starting with these.
          if (gso_enabled) {
            gso_enabled = false;
            Emit(Event(EventType::kError, out[send_first[q]].leg->id, static_cast<uint32_t>(-cqe.res), 0, 0,
                       "UDP_SEGMENT off"));
          }
          for (size_t k = 0; k < send_count[q]; ++k) resend.push_back(out[send_first[q] + k]);
        } else {
          for (size_t k = 0; k < send_count[q]; ++k) {
            Outgoing& o = out[send_first[q] + k];
            if (!Retry(o, -cqe.res)) Drop(o.leg, DropReason::kSendFailed);
          }
        }
      } else {
        cqes.push_back(cqe);
      }
    }
    if (n < 256) return;
  }
}

void Engine::Impl::Received(const io_uring_cqe& cqe, uint64_t now) {
  Sock* sock = reinterpret_cast<Sock*>(cqe.user_data & ~kTagMask);
  Leg* leg = sock->leg;
  const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
  const uint16_t bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) {
    // The multishot receive ended: out of provided buffers (ENOBUFS), a full completion ring, or cancelled.
    sock->armed = false;
    --leg->armed;
    const int err = -cqe.res;
    const bool fatal = cqe.res < 0 && (err == EINVAL || err == EBADF || err == ENOTSOCK || err == EOPNOTSUPP ||
                                       err == ECANCELED);
    if (err == ENOBUFS) Bump(counters->recv_no_buffers);
    if (!leg->removed && !fatal && !sock->rearm) {
      sock->rearm = true;
      rearm.push_back(sock);
    }
    if (!leg->removed && fatal && err != ECANCELED) {
      Emit(Event(EventType::kError, leg->id, static_cast<uint32_t>(err), 0, 0, "io_uring recvmsg"));
    }
  }
  if (leg->removed || cqe.res < 0 || !has_buffer) {
    if (has_buffer) recycle.push_back(bid);
    return;
  }
  uint8_t* buffer = ring.Buffer(bid);
  io_uring_recvmsg_out header;
  memcpy(&header, buffer, sizeof header);
  sockaddr_in from{};
  memcpy(&from, buffer + sizeof header, std::min<size_t>(header.namelen, sizeof from));
  uint8_t* payload = buffer + sizeof header + recv_msg.msg_namelen + recv_msg.msg_controllen;
  const bool truncated = (header.flags & MSG_TRUNC) != 0;
  recycle.push_back(bid);
  Handle(sock, payload, header.payloadlen, truncated, from, now);
}

void Engine::Impl::ReturnBuffers() {
  // Only once every datagram read into them has left (FlushUring waits for its sends).
  if (recycle.empty() || sends_in_flight != 0) return;
  for (uint16_t bid : recycle) ring.ReturnBuffer(bid);
  ring.PublishBuffers();
  recycle.clear();
}

void Engine::Impl::ReleaseRemoved() {
  if (!uring) {
    removed.clear();
    return;
  }
  // A removed leg's Sock is the user_data of its receives until their last completion.
  rearm.erase(std::remove_if(rearm.begin(), rearm.end(), [](const Sock* s) { return s->leg->removed; }), rearm.end());
  removed.erase(std::remove_if(removed.begin(), removed.end(), [](const std::unique_ptr<Leg>& l) { return l->armed == 0; }),
                removed.end());
}

void Engine::Impl::Drain() {
  uint64_t value;
  ssize_t r = read(wake_fd, &value, sizeof value);
  (void)r;
  std::vector<Command> batch;
  {
    std::lock_guard<std::mutex> lock(mutex);
    batch.swap(queue);
  }
  for (Command& cmd : batch) {
    Bump(counters->commands);
    Apply(cmd);
  }
}

void Engine::Impl::Apply(Command& cmd) {
  auto find = [this](uint32_t id) -> Leg* {
    auto it = legs.find(id);
    return it == legs.end() ? nullptr : it->second.get();
  };
  switch (cmd.kind) {
    case Command::Kind::kAdd:
      AddLeg(cmd);
      return;
    case Command::Kind::kUpdate: {
      Leg* leg = find(cmd.id);
      if (!leg) return;
      const bool learned = leg->s.has_remote && !cmd.settings.has_remote;
      const sockaddr_in keep = leg->s.remote, keep_rtcp = leg->s.remote_rtcp;
      leg->s = cmd.settings;
      if (learned) {
        leg->s.has_remote = true;
        leg->s.remote = keep;
        leg->s.remote_rtcp = keep_rtcp;
      } else if (cmd.settings.has_remote) {
        leg->rtcp_remote_known = true;
      }
      if (leg->s.out_ssrc != 0 && leg->out.started && leg->out.ssrc != leg->s.out_ssrc) {
        leg->out.ssrc = leg->s.out_ssrc;
      }
      leg->tokens = leg->s.rate_limit_pps;
      return;
    }
    case Command::Kind::kConnect: {
      Leg* a = find(cmd.id);
      Leg* b = find(cmd.other);
      if (!a || !b || a == b) return;
      if (a->peer && a->peer != b) a->peer->peer = nullptr;
      if (b->peer && b->peer != a) b->peer->peer = nullptr;
      a->peer = b;
      b->peer = a;
      return;
    }
    case Command::Kind::kDisconnect: {
      Leg* leg = find(cmd.id);
      if (leg) Unlink(leg);
      return;
    }
    case Command::Kind::kRemove: {
      Leg* leg = find(cmd.id);
      if (leg) RemoveLeg(leg);
      return;
    }
    case Command::Kind::kStop:
      stop = true;
      return;
  }
}

void Engine::Impl::AddLeg(Command& cmd) {
  auto leg = std::make_unique<Leg>();
  leg->id = cmd.id;
  leg->s = cmd.settings;
  leg->c = cmd.counters;
  leg->rtp = Sock{leg.get(), false, false, cmd.rtp_fd};
  leg->rtcp = Sock{leg.get(), true, false, cmd.rtcp_fd};
  leg->tx = Sock{leg.get(), false, false, -1};
  leg->rtcp_remote_known = leg->s.has_remote;
  const uint64_t now = NowNs();
  leg->last_rx_ns = now;
  leg->token_ns = now;
  leg->tokens = leg->s.rate_limit_pps;
  leg->local_ssrc = rng();
  leg->next_rtcp_ns = now + Jittered(leg->s.rtcp_interval_ms);
  cmd.rtp_fd = cmd.rtcp_fd = -1;
  // The provided buffers grow with the legs, two per leg (about 40 ms of a 50 packets/s stream both ways
  // before the ring runs dry), in chunks of the initial size, unless a fixed number was asked for.
  while (uring && grow_buffers && ring.buffers() < 2 * (legs.size() + 1) && ring.GrowBuffers()) {
  }
  if (uring) counters->recv_buffers.store(ring.buffers(), std::memory_order_relaxed);
  for (Sock* s : {&leg->rtp, &leg->rtcp}) {
    if (uring) {
      ArmRecv(s);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = s;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
      Emit(Event(EventType::kError, leg->id, static_cast<uint32_t>(errno), 0, 0, "epoll_ctl add"));
    }
  }
  auto it = legs.find(leg->id);
  if (it != legs.end()) RemoveLeg(it->second.get());
  legs.emplace(leg->id, std::move(leg));
}

void Engine::Impl::Unlink(Leg* leg) {
  if (leg->peer) leg->peer->peer = nullptr;
  leg->peer = nullptr;
}

void Engine::Impl::RemoveLeg(Leg* leg) {
  Unlink(leg);
  pending.erase(std::remove_if(pending.begin(), pending.end(), [leg](Sock* s) { return s->leg == leg; }),
                pending.end());
  if (uring) {
    // The receives hold the sockets until cancelled; their last completions free the leg (ReleaseRemoved).
    for (Sock* s : {&leg->rtp, &leg->rtcp, &leg->tx}) {
      io_uring_sqe* sqe = s->armed ? Sqe() : nullptr;
      if (sqe) ring.PrepCancel(sqe, reinterpret_cast<uint64_t>(s) | kTagRecv, kTagIgnore);
    }
  } else {
    for (const Sock* s : {&leg->rtp, &leg->rtcp, &leg->tx}) {
      if (s->fd >= 0) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s->fd, nullptr);
    }
  }
  close(leg->rtp.fd);
  close(leg->rtcp.fd);
  if (leg->tx.fd >= 0) close(leg->tx.fd);
  leg->removed = true;
  auto it = legs.find(leg->id);
  removed.push_back(std::move(it->second));
  legs.erase(it);
}

void Engine::Impl::ReadSocket(Sock* sock) {
  for (int round = 0; round < kRoundsPerWake; ++round) {
    for (int i = 0; i < kBatch; ++i) {
      mmsghdr& m = recv_msgs[i];
      m.msg_hdr.msg_name = &recv_from[i];
      m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
      m.msg_hdr.msg_iov = &recv_iov[i];
      m.msg_hdr.msg_iovlen = 1;
      m.msg_hdr.msg_control = nullptr;
      m.msg_hdr.msg_controllen = 0;
      m.msg_hdr.msg_flags = 0;
    }
    const int n = recvmmsg(sock->fd, recv_msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      // ICMP port unreachable from a far end that went away surfaces once as ECONNREFUSED; the datagrams
      // queued behind it are still there.
      if (n < 0 && errno == ECONNREFUSED) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        Emit(Event(EventType::kError, sock->leg->id, static_cast<uint32_t>(errno), 0, 0, "recvmmsg"));
      }
      return;
    }
    Bump(counters->batches);
    wake_packets += static_cast<uint64_t>(n);
    const uint64_t now = NowNs();
    for (int i = 0; i < n; ++i) {
      const bool truncated = (recv_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      Handle(sock, buffers[i], recv_msgs[i].msg_len, truncated, recv_from[i], now);
    }
    Flush();
    if (n < kBatch) return;
  }
  // Edge-triggered: the socket may still hold data; come back to it after the other ready sockets.
  sock->pending = true;
  pending.push_back(sock);
}

void Engine::Impl::Handle(Sock* sock, uint8_t* data, size_t len, bool truncated, const sockaddr_in& from,
                          uint64_t now) {
  Leg* leg = sock->leg;
  if (truncated || len > leg->s.max_packet_size) return Drop(leg, DropReason::kOversize);
  const bool muxed = !sock->rtcp && IsRtcpPacketType(data, len) && len >= 8;
  const bool is_rtcp = sock->rtcp || muxed;
  const sockaddr_in& expected = is_rtcp && !muxed ? leg->s.remote_rtcp : leg->s.remote;
  const bool known = is_rtcp && !muxed ? leg->rtcp_remote_known : leg->s.has_remote;
  const bool from_remote = known && SameAddr(from, expected);
  if (!from_remote && known && leg->s.strict_source) return Drop(leg, DropReason::kSource);
  if (leg->s.rate_limit_pps != 0) {
    // Token bucket: refill at the cap, burst of one second's worth.
    const double cap = leg->s.rate_limit_pps;
    leg->tokens = std::min(cap, leg->tokens + static_cast<double>(now - leg->token_ns) * cap / 1e9);
    leg->token_ns = now;
    if (leg->tokens < 1.0) return Drop(leg, DropReason::kRate);
    leg->tokens -= 1.0;
  }
  if (is_rtcp) return HandleRtcp(leg, muxed, data, len, from, now);
  if (leg->s.kind == LegKind::kPdsv) return HandlePdsv(leg, data, len, from_remote, from, now);

  RtpView v;
  const ParseStatus parsed = ParseRtp(data, len, &v);
  if (parsed != ParseStatus::kOk) return Drop(leg, UnparsedDrop(parsed));
  const bool audio = v.payload_type == leg->s.audio_pt;
  const bool digit = v.payload_type == leg->s.telephone_event_pt;
  if (!audio && !digit && v.payload_type != kPtComfortNoise) return Drop(leg, DropReason::kPayloadType);
  TelephoneEvent te;
  if (digit && !ParseTelephoneEvent(data + v.payload_offset, v.payload_len, &te)) {
    return Drop(leg, DropReason::kMalformed);
  }
  if (!from_remote) Learn(leg, from);
  if (digit) TrackDigit(leg, v, te);
  Forward(leg, data, len, v, now);
}

void Engine::Impl::Learn(Leg* leg, const sockaddr_in& from) {
  // RTP latching: the remote follows the sender unless strict source pinned it (checked before).
  leg->s.remote = from;
  leg->s.has_remote = true;
  if (!leg->rtcp_remote_known) {
    // RFC 3550 §11: RTCP on the next port up, until the far end's RTCP says otherwise.
    leg->s.remote_rtcp = from;
    leg->s.remote_rtcp.sin_port = htons(static_cast<uint16_t>(ntohs(from.sin_port) + 1));
    leg->rtcp_remote_known = true;
  }
  Event e{EventType::kLearned, leg->id};
  e.addr = from;
  Emit(std::move(e));
}

void Engine::Impl::Forward(Leg* leg, uint8_t* data, size_t len, const RtpView& v, uint64_t now) {
  const bool audio = v.payload_type == leg->s.audio_pt;
  const bool digit = v.payload_type == leg->s.telephone_event_pt;
  leg->last_rx_ns = now;
  leg->idle_reported = false;

  LegCounters& c = *leg->c;
  Bump<uint64_t>(c.rx_packets);
  Bump<uint64_t>(c.rx_bytes, len);
  if (!leg->have_in_ssrc || v.ssrc != leg->in_ssrc) {
    leg->have_in_ssrc = true;
    leg->in_ssrc = v.ssrc;
    leg->rx.Init(v.seq);
    Put(c.in_ssrc, v.ssrc);
  } else {
    leg->rx.UpdateSeq(v.seq);
  }
  if (audio) leg->rx.UpdateJitter(v.timestamp, ToClock(now, leg->s.clock_rate));
  Put(c.expected, leg->rx.Expected());
  Put(c.lost, leg->rx.CumulativeLost());
  Put(c.jitter, leg->rx.Jitter());

  Leg* peer = leg->peer;
  if (!peer || !peer->s.has_remote) return Drop(leg, DropReason::kNoPeer);
  uint8_t out_pt = v.payload_type;
  if (audio && peer->s.audio_pt != leg->s.audio_pt) {
    if (!IsG711(leg->s.audio_pt) || !IsG711(peer->s.audio_pt)) return Drop(leg, DropReason::kPayloadType);
    TranscodeG711(data + v.payload_offset, v.payload_len, leg->s.audio_pt, peer->s.audio_pt);
    out_pt = peer->s.audio_pt;
    Bump<uint64_t>(c.transcoded);
  } else if (digit) {
    if (peer->s.telephone_event_pt == kNoPayloadType) return Drop(leg, DropReason::kPayloadType);
    out_pt = peer->s.telephone_event_pt;
  }
  data[1] = static_cast<uint8_t>((data[1] & 0x80) | out_pt);
  RewriteOut(peer, (static_cast<uint64_t>(leg->id) << 32) | v.ssrc, data, v, now);
  peer->out.packets++;
  peer->out.octets += v.payload_len;
  if (peer->s.kind == LegKind::kPdsv) return SendPdsv(peer, data, v, out_pt);
  if (connect_send && (!peer->tx_tried || !SameAddr(peer->tx_to, peer->s.remote))) {
    peer->tx_tried = true;
    peer->tx_to = peer->s.remote;
    peer->tx_connected = ConnectTx(peer);
  }
  Queue(peer->tx_connected ? peer->tx.fd : peer->rtp.fd, &peer->s.remote, peer, data, len, true,
        peer->tx_connected);
}

void Engine::Impl::HandlePdsv(Leg* leg, const uint8_t* data, size_t len, bool from_remote, const sockaddr_in& from,
                              uint64_t now) {
  pdsv::Frame f;
  switch (pdsv::ParseFrame(data, len, &f)) {
    case pdsv::Error::kNone:
      break;
    case pdsv::Error::kTruncated:
      return Drop(leg, DropReason::kShort);
    case pdsv::Error::kVersion:
      return Drop(leg, DropReason::kVersion);
    default:
      return Drop(leg, DropReason::kMalformed);
  }
  // Signals and keep-alives belong to the PDSV line endpoint, not the media path.
  if (f.type != pdsv::FrameType::kVoice) return Drop(leg, DropReason::kPayloadType);
  if (f.address.direction != pdsv::Direction::kToGateway || f.address.port != leg->s.pdsv_port) {
    return Drop(leg, DropReason::kSource);
  }
  if (!from_remote) Learn(leg, from);
  const pdsv::Voice& voice = f.voice;
  const uint8_t codec = static_cast<uint8_t>(voice.codec);
  // A gap, a codec change or a new talkspurt restarts the 20 ms packet being filled.
  if (leg->pcm_len != 0 && (voice.timestamp != leg->pcm_ts + static_cast<uint32_t>(leg->pcm_len) || codec != leg->pcm_codec ||
                            (voice.flags & pdsv::kVoiceFlagTalkspurt) != 0)) {
    leg->pcm_len = 0;
  }
  if (leg->pcm_len == 0) {
    leg->pcm_ts = voice.timestamp;
    leg->pcm_codec = codec;
    leg->pcm_talkspurt = (voice.flags & pdsv::kVoiceFlagTalkspurt) != 0;
  }
  memcpy(leg->pcm + leg->pcm_len, voice.samples, voice.sample_count);
  leg->pcm_len += voice.sample_count;
  if (leg->pcm_len < kFrameSamples) return;
  // One RTP packet of 20 ms (RFC 3551 §4.5.14: 160 octets of G.711 at 8000 Hz).
  uint8_t* p = Scratch();
  p[0] = 0x80;
  p[1] = static_cast<uint8_t>((leg->pcm_talkspurt ? 0x80 : 0) | leg->pcm_codec);
  Store16(p + 2, leg->packet_seq++);
  Store32(p + 4, leg->pcm_ts);
  Store32(p + 8, leg->local_ssrc);
  memcpy(p + kRtpHeaderLen, leg->pcm, kFrameSamples);
  leg->pcm_len = 0;
  RtpView v;
  ParseRtp(p, kRtpHeaderLen + kFrameSamples, &v);
  if (v.payload_type != leg->s.audio_pt) {
    // The phone's codec is what the leg speaks; transcoding follows from it.
    leg->s.audio_pt = v.payload_type;
  }
  Forward(leg, p, kRtpHeaderLen + kFrameSamples, v, now);
}

void Engine::Impl::SendPdsv(Leg* to, const uint8_t* data, const RtpView& v, uint8_t pt) {
  if (pt != to->s.audio_pt || (v.payload_len != 80 && v.payload_len != kFrameSamples)) {
    return Drop(to, DropReason::kPayloadType);  // digits and comfort noise do not travel on PDSV voice
  }
  pdsv::Address address;
  address.direction = pdsv::Direction::kToPhone;
  address.port = to->s.pdsv_port;
  address.sequence = to->pdsv_tx_seq++;
  address.reset = !to->pdsv_tx_started;
  to->pdsv_tx_started = true;
  pdsv::Voice voice;
  voice.codec = static_cast<pdsv::Codec>(pt);
  voice.flags = (data[1] & 0x80) != 0 ? pdsv::kVoiceFlagTalkspurt : 0;
  voice.timestamp = Load32(data + 4);  // rewritten: continuous across moves
  voice.samples = data + v.payload_offset;
  voice.sample_count = v.payload_len;
  uint8_t* frame = Scratch();
  const size_t n = pdsv::BuildVoice(address, voice, frame, pdsv::kMaxFrame);
  if (n == 0) return Drop(to, DropReason::kMalformed);
  Queue(to->rtp.fd, &to->s.remote, to, frame, n, true);
}

void Engine::Impl::TrackDigit(Leg* leg, const RtpView& v, const TelephoneEvent& te) {
  auto report = [this, leg]() {
    Bump<uint64_t>(leg->c->dtmf_events);
    Emit(Event(EventType::kDigit, leg->id, leg->te.event, leg->te.duration, leg->te.volume));
    leg->te_reported = true;
  };
  // RFC 4733 §2.5.1.2: every packet of one event carries the event's start timestamp.
  if (!leg->te_active || v.timestamp != leg->te_ts) {
    if (leg->te_active && !leg->te_reported) report();  // the previous event's end packets were all lost
    leg->te_active = true;
    leg->te_reported = false;
    leg->te_ts = v.timestamp;
    leg->te = TelephoneEvent{};
  }
  if (leg->te_reported) return;  // §2.5.1.4: the end packet's retransmissions
  leg->te.event = te.event;
  leg->te.volume = te.volume;
  leg->te.duration = std::max(leg->te.duration, te.duration);
  if (te.end) report();
}

void Engine::Impl::RewriteOut(Leg* to, uint64_t source_key, uint8_t* data, const RtpView& v, uint64_t now) {
  OutState& o = to->out;
  if (!o.started) {
    o.started = true;
    o.ssrc = to->s.out_ssrc != 0 ? to->s.out_ssrc : v.ssrc;
    o.source_key = source_key;
    o.seq_offset = 0;
    o.ts_offset = 0;
    o.last_seq = static_cast<uint16_t>(v.seq - 1);
    o.last_ts = v.timestamp;
    o.last_ns = now;
    Put(to->c->out_ssrc, o.ssrc);
  } else if (o.source_key != source_key) {
    // A new source (a move between legs, or the sender restarted): continue the sequence and advance
    // the timestamp by the real time elapsed since the last packet sent (RFC 3550 §5.1, §8.2).
    const uint32_t elapsed = ToClock(now - o.last_ns, to->s.clock_rate);
    o.seq_offset = static_cast<uint16_t>(o.last_seq + 1 - v.seq);
    o.ts_offset = o.last_ts + std::max<uint32_t>(elapsed, 1) - v.timestamp;
    o.source_key = source_key;
    o.mark_next = true;
  }
  const uint16_t seq = static_cast<uint16_t>(v.seq + o.seq_offset);
  const uint32_t ts = v.timestamp + o.ts_offset;
  if (static_cast<int16_t>(seq - o.last_seq) > 0) {
    o.last_seq = seq;
    o.last_ts = ts;
    o.last_ns = now;
  }
  Store16(data + 2, seq);
  Store32(data + 4, ts);
  Store32(data + 8, o.ssrc);
  if (o.mark_next) {
    data[1] |= 0x80;  // RFC 3551 §4.1: marker on the first packet after a discontinuity of the source
    o.mark_next = false;
  }
}

void Engine::Impl::HandleRtcp(Leg* leg, bool muxed, uint8_t* data, size_t len, const sockaddr_in& from,
                              uint64_t now) {
  RtcpCompound compound;
  const ParseStatus parsed = ParseRtcp(data, len, &compound);
  if (parsed != ParseStatus::kOk) return Drop(leg, UnparsedDrop(parsed));
  sockaddr_in& remote = muxed ? leg->s.remote : leg->s.remote_rtcp;
  bool& known = muxed ? leg->s.has_remote : leg->rtcp_remote_known;
  if (!known || !SameAddr(remote, from)) {
    remote = from;
    known = true;
    Event e{EventType::kLearned, leg->id, 1};
    e.addr = from;
    Emit(std::move(e));
  }
  Bump<uint64_t>(leg->c->rtcp_rx);
  for (size_t i = 0; i < compound.count; ++i) {
    const RtcpPart& part = compound.parts[i];
    const uint8_t* p = data + part.offset;
    if (part.type == kSr) {
      leg->last_sr_mid = Load32(p + 10);
      leg->last_sr_ns = now;
    }
    ReportBlock block;
    for (size_t b = 0; ReadReportBlock(data, part, b, &block); ++b) {
      if (!leg->out.started || block.ssrc != leg->out.ssrc || block.lsr == 0) continue;
      // RFC 3550 §6.4.1: RTT = A - LSR - DLSR, in 1/65536 s.
      const uint32_t rtt = NtpMiddle(NtpNow()) - block.lsr - block.dlsr;
      if (static_cast<int32_t>(rtt) >= 0) {
        Put(leg->c->remote_rtt_us, static_cast<uint32_t>((static_cast<uint64_t>(rtt) * 1'000'000) >> 16));
      }
    }
  }
  Leg* peer = leg->peer;
  if (leg->s.rtcp_mode != RtcpMode::kRelay || !peer || peer->s.rtcp_mode != RtcpMode::kRelay ||
      peer->s.kind != LegKind::kRtp) {
    return;
  }
  if (!peer->rtcp_remote_known) return Drop(leg, DropReason::kNoPeer);
  RewriteRtcp(leg, peer, data, compound);
  Queue(peer->rtcp.fd, &peer->s.remote_rtcp, peer, data, len, false);
  Bump<uint64_t>(peer->c->rtcp_tx);
}

void Engine::Impl::RewriteRtcp(Leg* from, Leg* to, uint8_t* data, const RtcpCompound& compound) {
  // What `from`'s remote calls in_ssrc reaches `to`'s remote as to->out.ssrc; reports about our output to
  // `from` (from->out.ssrc) are about the stream `to`'s remote sends (to->in_ssrc), whose sequence numbers
  // we shifted by from->out.seq_offset.
  struct Ctx {
    Leg* from;
    Leg* to;
  } ctx{from, to};
  VisitRtcpSsrcs(
      data, compound,
      [](void* arg, uint8_t* field, SsrcField kind) {
        const Ctx& c = *static_cast<Ctx*>(arg);
        if (kind == SsrcField::kReportBlock) {
          if (c.from->out.started && c.to->have_in_ssrc && Load32(field) == c.from->out.ssrc) {
            Store32(field, c.to->in_ssrc);
            Store32(field + 8, Load32(field + 8) - c.from->out.seq_offset);
          }
        } else if (c.to->out.started && c.from->have_in_ssrc && Load32(field) == c.from->in_ssrc) {
          Store32(field, c.to->out.ssrc);
        }
      },
      &ctx);
  // SR RTP timestamps follow the timestamp rewriting (RFC 3550 §6.4.1).
  if (!to->out.started) return;
  for (size_t i = 0; i < compound.count; ++i) {
    uint8_t* p = data + compound.parts[i].offset;
    if (compound.parts[i].type == kSr) Store32(p + 16, Load32(p + 16) + to->out.ts_offset);
  }
}

void Engine::Impl::Tick(uint64_t now) {
  for (auto& [id, leg] : legs) {
    if (leg->s.idle_timeout_ms != 0 && !leg->idle_reported &&
        now - leg->last_rx_ns >= static_cast<uint64_t>(leg->s.idle_timeout_ms) * 1'000'000ull) {
      leg->idle_reported = true;
      Emit(Event(EventType::kIdle, leg->id));
    }
    if (leg->s.rtcp_mode == RtcpMode::kTerminate && leg->s.kind == LegKind::kRtp && leg->rtcp_remote_known &&
        now >= leg->next_rtcp_ns) {
      SendReport(leg.get(), now);
      leg->next_rtcp_ns = now + Jittered(leg->s.rtcp_interval_ms);
    }
  }
  Flush();
}

void Engine::Impl::SendReport(Leg* leg, uint64_t now) {
  // RFC 3550 §6.4: SR when we sent RTP since the last report, RR otherwise; then SDES CNAME (§6.5.1).
  uint8_t* p = rtcp_buffer;
  OutState& o = leg->out;
  const bool sender = o.started && o.packets != o.packets_at_last_report;
  const uint32_t ssrc = o.started ? o.ssrc : leg->local_ssrc;
  const bool block = leg->have_in_ssrc;
  size_t at = 0;
  p[0] = static_cast<uint8_t>(0x80 | (block ? 1 : 0));
  p[1] = sender ? kSr : kRr;
  Store32(p + 4, ssrc);
  at = 8;
  if (sender) {
    const uint64_t ntp = NtpNow();
    Store32(p + 8, static_cast<uint32_t>(ntp >> 32));
    Store32(p + 12, static_cast<uint32_t>(ntp));
    Store32(p + 16, o.last_ts + ToClock(now - o.last_ns, leg->s.clock_rate));
    Store32(p + 20, static_cast<uint32_t>(o.packets));
    Store32(p + 24, static_cast<uint32_t>(o.octets));
    at = 28;
    o.packets_at_last_report = o.packets;
  }
  if (block) {
    ReportBlock rb;
    rb.ssrc = leg->in_ssrc;
    rb.fraction_lost = leg->rx.FractionLostInterval();
    rb.cumulative_lost = leg->rx.CumulativeLost();
    rb.ext_highest_seq = leg->rx.ExtendedMax();
    rb.jitter = leg->rx.Jitter();
    rb.lsr = leg->last_sr_mid;
    rb.dlsr = leg->last_sr_ns == 0 ? 0 : static_cast<uint32_t>(((now - leg->last_sr_ns) << 16) / 1'000'000'000ull);
    WriteReportBlock(p + at, rb);
    at += 24;
  }
  Store16(p + 2, static_cast<uint16_t>(at / 4 - 1));
  // SDES with one chunk: SSRC, CNAME item, END item, padding to a 32-bit boundary.
  const size_t sdes = at;
  const std::string& cname = leg->s.cname.empty() ? std::string("switchhook") : leg->s.cname;
  const size_t name_len = std::min<size_t>(cname.size(), 255);
  p[sdes] = 0x81;
  p[sdes + 1] = kSdes;
  Store32(p + sdes + 4, ssrc);
  p[sdes + 8] = 1;  // CNAME
  p[sdes + 9] = static_cast<uint8_t>(name_len);
  memcpy(p + sdes + 10, cname.data(), name_len);
  size_t end = sdes + 10 + name_len;
  const size_t padded = (end + 4) & ~static_cast<size_t>(3);  // at least one zero octet ends the items
  memset(p + end, 0, padded - end);
  end = padded;
  Store16(p + sdes + 2, static_cast<uint16_t>((end - sdes) / 4 - 1));
  Queue(leg->rtcp.fd, &leg->s.remote_rtcp, leg, p, end, false);
  Bump<uint64_t>(leg->c->rtcp_tx);
  Flush();
}

void Engine::Impl::Queue(int fd, const sockaddr_in* to, Leg* leg, uint8_t* data, size_t len, bool rtp,
                         bool connected) {
  out.push_back(Outgoing{fd, to, leg, data, len, rtp, connected});
}

bool Engine::Impl::ConnectTx(Leg* leg) {
  // udp(7) looks a route up for every datagram sent with a destination; a connected socket keeps it (and
  // the kernel copies no address). The leg's own socket cannot be connected (it must hear any source for
  // latching and moves), so a second socket joins its port (SO_REUSEPORT, set on both; the leg's socket was
  // bound without it, so the port scan of other legs and engines never shares a port) and is connected to
  // the remote. The kernel delivers that remote's datagrams to the connected socket, the rest to the leg's
  // own: both are read as the leg's RTP socket.
  Bump(counters->send_connects);
  if (leg->tx.fd < 0) {
    const int one = 1;
    sockaddr_in local{};
    socklen_t len = sizeof local;
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rcvbuf = 1 << 20;
    const bool ok = fd >= 0 && fd < connect_fd_limit &&
                    setsockopt(leg->rtp.fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 &&
                    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 &&
                    getsockname(leg->rtp.fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
                    bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0 &&
                    connect(fd, reinterpret_cast<const sockaddr*>(&leg->s.remote), sizeof leg->s.remote) == 0;
    if (!ok) {
      Bump(counters->send_connect_failures);
      if (fd >= 0) close(fd);
      return false;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    leg->tx.fd = fd;
    if (uring) {
      ArmRecv(&leg->tx);
    } else {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLET;
      ev.data.ptr = &leg->tx;
      epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    }
    return true;
  }
  // The remote moved: connect again (a UDP socket may change its peer at any time).
  if (connect(leg->tx.fd, reinterpret_cast<const sockaddr*>(&leg->s.remote), sizeof leg->s.remote) == 0) {
    return true;
  }
  // Refused (no route, broadcast): unconnect it, so it keeps receiving for the leg as one more socket of its
  // port; the next remote is tried again.
  Bump(counters->send_connect_failures);
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  connect(leg->tx.fd, &unspec, sizeof unspec);
  return false;
}

bool Engine::Impl::Retry(const Outgoing& o, int err) {
  // A connected UDP socket reports an ICMP error (port unreachable) from its remote on its next send, which
  // fails without sending; an unconnected one never does. That datagram goes again through the leg's own
  // socket (same port), with its destination, as it would have left unconnected.
  if (!o.connected || err != ECONNREFUSED) return false;
  Outgoing again = o;
  again.fd = o.leg->rtp.fd;
  again.connected = false;
  resend.push_back(again);
  return true;
}

bool Engine::Impl::GsoRun(size_t i, size_t end, size_t* j) const {
  // UDP_SEGMENT (Linux >= 4.18, udp(7)): datagrams to one destination of equal size (the last may be
  // shorter) travel the stack as one message and are split into separate datagrams on the way out, so the
  // route, IP output and loopback/driver work is paid once per run instead of once per datagram.
  const Outgoing& first = out[i];
  size_t k = i + 1;
  if (first.len > kGsoMaxSegment) {
    *j = k;
    return false;
  }
  size_t total = first.len;
  while (k < end && k - i < kGsoMaxSegments && SameAddr(*out[k].to, *first.to) && out[k].len <= first.len &&
         total + out[k].len <= kGsoMaxBytes) {
    total += out[k].len;
    const bool shorter = out[k].len < first.len;
    ++k;
    if (shorter) break;  // only the last segment may be shorter than the segment size
  }
  *j = k;
  return k - i > 1;
}

void Engine::Impl::BuildMessage(int count, size_t at, size_t next, size_t base, bool gso) {
  mmsghdr& m = send_msgs[count];
  memset(&m, 0, sizeof m);
  if (!out[at].connected) {
    m.msg_hdr.msg_name = const_cast<sockaddr_in*>(out[at].to);
    m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
  }
  m.msg_hdr.msg_iov = &send_iov[at - base];
  m.msg_hdr.msg_iovlen = next - at;
  for (size_t k = at; k < next; ++k) {
    send_iov[k - base].iov_base = out[k].data;
    send_iov[k - base].iov_len = out[k].len;
  }
  if (gso) {
    cmsghdr* cm = reinterpret_cast<cmsghdr*>(send_cmsg[count]);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t segment = static_cast<uint16_t>(out[at].len);
    memcpy(CMSG_DATA(cm), &segment, sizeof segment);
    m.msg_hdr.msg_control = cm;
    m.msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
  }
  send_first[count] = at;
  send_count[count] = next - at;
}

void Engine::Impl::Sent(int q) {
  if (send_count[q] > 1) Bump(counters->gso_messages);
  for (size_t k = 0; k < send_count[q]; ++k) {
    const Outgoing& o = out[send_first[q] + k];
    if (o.rtp) {
      Bump<uint64_t>(o.leg->c->tx_packets);
      Bump<uint64_t>(o.leg->c->tx_bytes, o.len);
    }
  }
}

void Engine::Impl::FlushUring() {
  // Up to kBatch messages per submission, each its own SENDMSG entry (any socket), grouped like sendmmsg's;
  // the submitting io_uring_enter completes them all (MSG_DONTWAIT), and their completions are reaped here.
  while (!out.empty()) {
    size_t at = 0;
    while (at < out.size()) {
      const size_t base = at;
      int count = 0;
      size_t run_end = at;
      while (at < out.size() && count < kBatch) {
        if (at >= run_end) {
          run_end = at;
          while (run_end < out.size() && out[run_end].fd == out[at].fd) ++run_end;
        }
        size_t next = at + 1;
        const bool gso = gso_enabled && GsoRun(at, run_end, &next);
        BuildMessage(count, at, next, base, gso);
        io_uring_sqe* sqe = Sqe();
        if (!sqe) {
          for (size_t k = at; k < next; ++k) Drop(out[k].leg, DropReason::kSendFailed);
        } else {
          // A lone datagram needs no msghdr (which the kernel would copy and check): sendto.
          const uint64_t tag = (static_cast<uint64_t>(count) << 3) | kTagSend;
          send_to[count] = send_to_ok && !gso && next == at + 1;
          if (send_to[count]) {
            const sockaddr_in* to = out[at].connected ? nullptr : out[at].to;
            ring.PrepSendTo(sqe, out[at].fd, out[at].data, out[at].len, to, tag);
          } else {
            ring.PrepSendMsg(sqe, out[at].fd, &send_msgs[count].msg_hdr, tag);
          }
          ++sends_in_flight;
          ++count;
        }
        at = next;
      }
      ring.Enter(0, 0, 0);
      ReapCompletions();
      while (sends_in_flight > 0) {
        ring.Enter(1, 0, 0);
        ReapCompletions();
      }
    }
    out.swap(resend);
    resend.clear();
  }
  scratch_used = 0;
}

void Engine::Impl::Flush() {
  if (uring) return FlushUring();
  size_t i = 0;
  while (i < out.size()) {
    // One sendmmsg per run of datagrams leaving through the same socket; within it, one message per run of
    // equal-size datagrams to one destination when GSO is on.
    size_t end = i;
    while (end < out.size() && out[end].fd == out[i].fd) ++end;
    int count = 0;
    size_t at = i;
    while (at < end && count < kBatch) {
      size_t next = at + 1;
      const bool gso = gso_enabled && GsoRun(at, end, &next);
      BuildMessage(count, at, next, i, gso);
      at = next;
      ++count;
    }
    int sent = 0;
    while (sent < count) {
      const int r = sendmmsg(out[i].fd, send_msgs + sent, count - sent, MSG_DONTWAIT);
      if (r <= 0) {
        const int err = errno;
        Outgoing& first = out[send_first[sent]];
        if (err == ECONNREFUSED && first.connected && !first.retried) {
          // A connected socket's report of an earlier ICMP error from its remote (the failure cleared it): the
          // message did not leave; once more. (An error after the first message ends the call early instead,
          // and the rest goes in the next call.)
          first.retried = true;
          continue;
        }
        if (send_count[sent] > 1 && (err == EINVAL || err == EIO || err == ENOPROTOOPT || err == EOPNOTSUPP)) {
          // The kernel or the route has no UDP GSO: send plainly from now on, starting with this flush.
          gso_enabled = false;
          Emit(Event(EventType::kError, out[i].leg->id, static_cast<uint32_t>(err), 0, 0, "UDP_SEGMENT off"));
          break;
        }
        // Count the failed message's datagrams and go on with the rest (EAGAIN on a full buffer,
        // ECONNREFUSED, ...).
        for (size_t k = 0; k < send_count[sent]; ++k) Drop(out[send_first[sent] + k].leg, DropReason::kSendFailed);
        ++sent;
        continue;
      }
      for (int q = sent; q < sent + r; ++q) Sent(q);
      sent += r;
    }
    // What is left after a GSO refusal goes again (plainly) from where it stopped.
    i = sent < count ? send_first[sent] : at;
  }
  out.clear();
  scratch_used = 0;
}

}  // namespace switchhook::rtp
