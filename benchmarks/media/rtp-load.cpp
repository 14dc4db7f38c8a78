// Traffic generator and sink for the rtp-relay benchmark (benchmarks/media/rtp-relay.bench.ts).
// One process, two threads, one UDP socket each on 127.0.0.1:
//  - the generator sends G.711-sized RTP packets (12 + 160 bytes) round robin over N streams at a paced total
//    rate with sendmmsg; each payload carries its send time (CLOCK_MONOTONIC ns), a run tag and the stream;
//  - the sink receives with recvmmsg, counts the current run's packets and records one-way latency in a
//    1 us histogram.
// Control on stdin, one command per line; results on stdout:
//   (start)                         -> "ready <sendPort> <sinkPort>"
//   streams <port> <port> ...       -> "ok <n>"            relay input port of each stream
//   run <totalPps> <ms> <tag>       -> one JSON line        {"sent","sendMs","received","p50Us","p99Us","maxUs"}
//                                      sendMs: how long sending took (more than <ms> when the generator fell
//                                      behind the offered rate; rates are over that time, not <ms>)
//   settle <quietMs> <maxMs>        -> "settled <ms>"       waits until the sink has been quiet that long
//   quit
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kBatch = 64;
constexpr size_t kPacket = 12 + 160;
constexpr size_t kHistogramUs = 2000000;  // 2 s at 1 us; later arrivals land in the last bucket

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

int BindUdp(uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int size = 32 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    perror("bind");
    std::exit(1);
  }
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

struct Sink {
  int fd = -1;
  std::atomic<uint32_t> tag{0};
  std::atomic<uint64_t> received{0};
  std::vector<uint64_t> histogram = std::vector<uint64_t>(kHistogramUs + 1);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> last_ns{0};  // last arrival of any packet, whatever its run

  void Run() {
    static uint8_t buffers[kBatch][2048];
    iovec iov[kBatch];
    mmsghdr msgs[kBatch];
    // The sink polls (non-blocking reads, 200 us naps when empty) instead of sleeping in recvmmsg: a
    // blocked receiver would be woken by every datagram, and that wake-up (and the preemption it brings)
    // would be charged to the relay that sent it.
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < kBatch; ++i) {
        iov[i] = {buffers[i], sizeof buffers[i]};
        std::memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) {
        timespec nap{0, 200000};
        nanosleep(&nap, nullptr);
        continue;
      }
      const uint64_t now = NowNs();
      last_ns.store(now, std::memory_order_relaxed);
      const uint32_t current = tag.load(std::memory_order_acquire);
      uint64_t counted = 0;
      for (int i = 0; i < n; ++i) {
        if (msgs[i].msg_len < kPacket) continue;
        const uint8_t* p = buffers[i] + 12;
        uint64_t sent;
        uint32_t t;
        std::memcpy(&sent, p, 8);
        std::memcpy(&t, p + 8, 4);
        if (t != current || current == 0) continue;
        uint64_t us = now > sent ? (now - sent) / 1000 : 0;
        if (us > kHistogramUs) us = kHistogramUs;
        histogram[us]++;
        ++counted;
      }
      received.fetch_add(counted, std::memory_order_relaxed);
    }
  }

  double Percentile(double q) const {
    uint64_t total = 0;
    for (uint64_t c : histogram) total += c;
    if (total == 0) return 0;
    const uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (size_t us = 0; us < histogram.size(); ++us) {
      seen += histogram[us];
      if (seen >= want) return static_cast<double>(us);
    }
    return static_cast<double>(kHistogramUs);
  }

  double Max() const {
    for (size_t us = histogram.size(); us-- > 0;) {
      if (histogram[us] != 0) return static_cast<double>(us);
    }
    return 0;
  }
};

struct Stream {
  sockaddr_in to{};
  uint16_t seq = 0;
  uint32_t ts = 0;
  uint32_t ssrc = 0;
};

/** Sends `total_pps` x `ms` packets, paced; returns how many were sent and sets `*send_ns` to how long it took. */
uint64_t Generate(int fd, std::vector<Stream>& streams, uint64_t total_pps, uint64_t ms, uint32_t tag,
                  uint64_t* send_ns) {
  static uint8_t packets[kBatch][kPacket];
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  const uint64_t start = NowNs();
  const uint64_t end = start + ms * 1000000ull;
  const uint64_t total = total_pps * ms / 1000;
  uint64_t sent = 0;
  size_t next = 0;
  while (sent < total) {
    const uint64_t now = NowNs();
    if (now >= end + 1000000000ull) break;  // the generator itself cannot keep up: stop a second late
    uint64_t due = (now - start) * total_pps / 1000000000ull;
    if (due > total) due = total;
    if (due <= sent) {
      const uint64_t next_at = start + (sent + 1) * 1000000000ull / total_pps;
      timespec ts{static_cast<time_t>(next_at / 1000000000ull), static_cast<long>(next_at % 1000000000ull)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      continue;
    }
    while (sent < due) {
      const int count = static_cast<int>(std::min<uint64_t>(kBatch, due - sent));
      const uint64_t stamp = NowNs();
      // A generator descheduled for long finds everything due at once: it still stops a second late.
      if (stamp >= end + 1000000000ull) break;
      for (int i = 0; i < count; ++i) {
        Stream& s = streams[next];
        const uint32_t index = static_cast<uint32_t>(next);
        next = next + 1 == streams.size() ? 0 : next + 1;
        uint8_t* p = packets[i];
        p[0] = 0x80;
        p[1] = 8;  // PCMA
        p[2] = static_cast<uint8_t>(s.seq >> 8);
        p[3] = static_cast<uint8_t>(s.seq);
        const uint32_t ts = htonl(s.ts), ssrc = htonl(s.ssrc);
        std::memcpy(p + 4, &ts, 4);
        std::memcpy(p + 8, &ssrc, 4);
        std::memcpy(p + 12, &stamp, 8);
        std::memcpy(p + 20, &tag, 4);
        std::memcpy(p + 24, &index, 4);
        s.seq++;
        s.ts += 160;
        iov[i] = {p, kPacket};
        std::memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_name = &s.to;
        msgs[i].msg_hdr.msg_namelen = sizeof s.to;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int done = 0;
      while (done < count) {
        const int r = sendmmsg(fd, msgs + done, count - done, 0);
        if (r <= 0) {
          ++done;  // an ICMP error from a closed port, or no buffer: that packet is lost
          continue;
        }
        done += r;
      }
      sent += count;
    }
  }
  *send_ns = NowNs() - start;
  return sent;
}

}  // namespace

int main() {
  uint16_t send_port = 0, sink_port = 0;
  const int send_fd = BindUdp(&send_port);
  Sink sink;
  sink.fd = BindUdp(&sink_port);
  std::thread sink_thread([&sink] { sink.Run(); });
  std::vector<Stream> streams;
  std::cout << "ready " << send_port << " " << sink_port << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "streams") {
      streams.clear();
      unsigned port;
      while (in >> port) {
        Stream s;
        s.to.sin_family = AF_INET;
        s.to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s.to.sin_port = htons(static_cast<uint16_t>(port));
        s.ssrc = 0x10000000u + static_cast<uint32_t>(streams.size());
        s.seq = static_cast<uint16_t>(streams.size() * 7919);
        streams.push_back(s);
      }
      std::cout << "ok " << streams.size() << std::endl;
    } else if (cmd == "run") {
      uint64_t pps = 0, ms = 0;
      uint32_t tag = 0;
      in >> pps >> ms >> tag;
      if (streams.empty() || pps == 0 || ms == 0 || tag == 0) {
        std::cout << "{\"error\":\"bad run\"}" << std::endl;
        continue;
      }
      std::fill(sink.histogram.begin(), sink.histogram.end(), 0);
      sink.received.store(0);
      sink.tag.store(tag, std::memory_order_release);
      uint64_t send_ns = 0;
      const uint64_t sent = Generate(send_fd, streams, pps, ms, tag, &send_ns);
      // Let the relay drain (a late packet is late, not lost), then stop counting this run.
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      sink.tag.store(0, std::memory_order_release);
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      std::cout << "{\"sent\":" << sent << ",\"sendMs\":" << send_ns / 1000000 << ",\"received\":" << sink.received.load() << ",\"p50Us\":"
                << sink.Percentile(0.5) << ",\"p99Us\":" << sink.Percentile(0.99) << ",\"maxUs\":" << sink.Max()
                << "}" << std::endl;
    } else if (cmd == "settle") {
      uint64_t quiet = 300, max = 10000;
      in >> quiet >> max;
      const uint64_t start = NowNs();
      while (NowNs() - sink.last_ns.load() < quiet * 1000000ull && NowNs() - start < max * 1000000ull) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      std::cout << "settled " << (NowNs() - start) / 1000000ull << std::endl;
    } else if (cmd == "quit") {
      break;
    }
  }
  sink.stop.store(true);
  sink_thread.join();
  close(send_fd);
  close(sink.fd);
  return 0;
}
