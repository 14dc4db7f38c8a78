// UdpSocket (udp_socket.h): recvmmsg/sendmmsg on a non-blocking fd polled by the JavaScript thread's libuv loop.
#include "net/udp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace switchhook::net {

namespace {

/** recvmmsg rounds per readable wake-up, so one busy socket cannot starve the loop. */
constexpr int kMaxReadRounds = 16;
/** Backlog datagrams per sendmmsg when draining on POLLOUT. */
constexpr uint32_t kDrainBatch = 64;

void Describe(const sockaddr_storage& ss, int32_t* meta) {
  if (ss.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    meta[2] = ntohs(a6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      meta[3] = 4;
      std::memcpy(&meta[4], &a6->sin6_addr.s6_addr[12], 4);
      meta[5] = meta[6] = meta[7] = 0;
    } else {
      meta[3] = 6;
      std::memcpy(&meta[4], &a6->sin6_addr, 16);
    }
    return;
  }
  const auto* a4 = reinterpret_cast<const sockaddr_in*>(&ss);
  meta[2] = ntohs(a4->sin_port);
  meta[3] = 4;
  std::memcpy(&meta[4], &a4->sin_addr, 4);
  meta[5] = meta[6] = meta[7] = 0;
}

}  // namespace

UdpSocket::UdpSocket(uv_loop_t* loop, const UdpOptions& options, const UdpRegions& regions, UdpHooks* hooks)
    : loop_(loop), options_(options), regions_(regions), hooks_(hooks) {
  const uint32_t slots = options_.recv_slots;
  recv_msgs_.resize(slots);
  recv_iov_.resize(slots);
  recv_addr_.resize(slots);
  send_msgs_.resize(options_.send_capacity > kDrainBatch ? options_.send_capacity : kDrainBatch);
  send_iov_.resize(send_msgs_.size());
  send_addr_.resize(send_msgs_.size());
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

int UdpSocket::Open(const char** where) {
  *where = "socket";
  fd_ = ::socket(options_.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return errno;
  *where = "setsockopt";
  if (options_.recv_buffer_bytes > 0 && !SizeBuffer(SO_RCVBUF, SO_RCVBUFFORCE, options_.recv_buffer_bytes)) return errno;
  if (options_.send_buffer_bytes > 0 && !SizeBuffer(SO_SNDBUF, SO_SNDBUFFORCE, options_.send_buffer_bytes)) return errno;
  *where = "bind";
  sockaddr_storage ss{};
  socklen_t len;
  if (options_.family == AF_INET6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(options_.port);
    if (inet_pton(AF_INET6, options_.host.c_str(), &a6->sin6_addr) != 1) return EINVAL;
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(options_.port);
    if (inet_pton(AF_INET, options_.host.c_str(), &a4->sin_addr) != 1) return EINVAL;
    len = sizeof(sockaddr_in);
  }
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) return errno;
  *where = "getsockname";
  len = sizeof(ss);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return errno;
  char text[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof(text));
    bound_port_ = ntohs(a6->sin6_port);
  } else {
    const auto* a4 = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a4->sin_addr, text, sizeof(text));
    bound_port_ = ntohs(a4->sin_port);
  }
  bound_host_ = text;

  for (uint32_t i = 0; i < options_.recv_slots; ++i) {
    recv_iov_[i].iov_base = regions_.recv_slab + static_cast<size_t>(i) * options_.slot_bytes;
    recv_iov_[i].iov_len = options_.slot_bytes;
  }
  *where = "uv_poll_init";
  int rc = uv_poll_init(loop_, &poll_, fd_);
  if (rc != 0) return -rc;
  poll_.data = this;
  polling_ = true;
  UpdatePoll();
  return 0;
}

bool UdpSocket::SizeBuffer(int option, int force_option, int bytes) {
  if (setsockopt(fd_, SOL_SOCKET, option, &bytes, sizeof(int)) != 0) return false;
  int got = 0;
  socklen_t len = sizeof(got);
  // The kernel caps the size at net.core.[rw]mem_max (and reports it doubled); with CAP_NET_ADMIN the
  // FORCE variant goes beyond the cap, without it the capped size stays.
  if (getsockopt(fd_, SOL_SOCKET, option, &got, &len) == 0 && got / 2 < bytes) {
    setsockopt(fd_, SOL_SOCKET, force_option, &bytes, sizeof(int));
  }
  return true;
}

int UdpSocket::BufferBytes(int option) const {
  int got = 0;
  socklen_t len = sizeof(got);
  return getsockopt(fd_, SOL_SOCKET, option, &got, &len) == 0 ? got : 0;
}

int UdpSocket::AddAddress(const char* literal) {
  Address a{};
  if (options_.family == AF_INET6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
    a6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, literal, &a6->sin6_addr) != 1) {
      in_addr v4;
      if (inet_pton(AF_INET, literal, &v4) != 1) return -1;
      // A dual-stack socket reaches IPv4 through the mapped form (RFC 4291 2.5.5.2).
      a6->sin6_addr.s6_addr[10] = 0xff;
      a6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&a6->sin6_addr.s6_addr[12], &v4, 4);
    }
    a.len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&a.addr);
    a4->sin_family = AF_INET;
    if (inet_pton(AF_INET, literal, &a4->sin_addr) != 1) return -1;
    a.len = sizeof(sockaddr_in);
  }
  addresses_.push_back(a);
  return static_cast<int>(addresses_.size() - 1);
}

void UdpSocket::UpdatePoll() {
  if (!polling_ || closing_) return;
  const int events = UV_READABLE | (want_write_ ? UV_WRITABLE : 0);
  uv_poll_start(&poll_, events, &UdpSocket::OnPoll);
}

void UdpSocket::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<UdpSocket*>(handle->data);
  if (self->closing_) return;
  if (status < 0) {
    self->regions_.counters[kRecvErrors] += 1;
    return;
  }
  if (events & UV_WRITABLE) self->WriteReady();
  if (!self->closing_ && (events & UV_READABLE)) self->ReadReady();
}

void UdpSocket::ReadReady() {
  double* c = regions_.counters;
  const uint32_t slots = options_.recv_slots;
  for (int round = 0; round < kMaxReadRounds && !closing_; ++round) {
    for (uint32_t i = 0; i < slots; ++i) {
      msghdr& h = recv_msgs_[i].msg_hdr;
      h.msg_name = &recv_addr_[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &recv_iov_[i];
      h.msg_iovlen = 1;
      h.msg_control = nullptr;
      h.msg_controllen = 0;
      h.msg_flags = 0;
      recv_msgs_[i].msg_len = 0;
    }
    const int n = recvmmsg(fd_, recv_msgs_.data(), slots, MSG_DONTWAIT, nullptr);
    c[kRecvCalls] += 1;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c[kRecvErrors] += 1;
        c[kLastErrno] = errno;
      }
      return;
    }
    uint32_t count = 0;
    for (int i = 0; i < n; ++i) {
      if (recv_msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) {
        c[kRecvTruncated] += 1;
        continue;
      }
      int32_t* meta = regions_.recv_meta + static_cast<size_t>(count) * kRecvMetaWords;
      meta[0] = static_cast<int32_t>(static_cast<size_t>(i) * options_.slot_bytes);
      meta[1] = static_cast<int32_t>(recv_msgs_[i].msg_len);
      Describe(recv_addr_[i], meta);
      c[kRecvBytes] += recv_msgs_[i].msg_len;
      ++count;
    }
    c[kRecvDatagrams] += count;
    if (count > 0) {
      c[kRecvBatches] += 1;
      hooks_->OnBatch(count);
    }
    if (static_cast<uint32_t>(n) < slots) return;
  }
}

int UdpSocket::SendMany(mmsghdr* msgs, uint32_t n) {
  regions_.counters[kSendCalls] += 1;
  if (fault_count_ > 0) {
    --fault_count_;
    errno = fault_errno_;
    return -1;
  }
  return sendmmsg(fd_, msgs, n, 0);
}

void UdpSocket::CountError(int err) {
  double* c = regions_.counters;
  c[kLastErrno] = err;
  switch (err) {
    case EMSGSIZE:
      c[kErrMsgSize] += 1;
      break;
    case EACCES:
    case EPERM:
      c[kErrAccess] += 1;
      break;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
      c[kErrUnreachable] += 1;
      break;
    case ECONNREFUSED:
      c[kErrRefused] += 1;
      break;
    case ENOBUFS:
    case ENOMEM:
      c[kErrNoBufs] += 1;
      break;
    default:
      c[kErrOther] += 1;
      break;
  }
}

bool UdpSocket::Enqueue(const uint8_t* bytes, uint32_t len, const sockaddr* addr, socklen_t addr_len) {
  if (backlog_.size() >= options_.max_queue || backlog_bytes_ + len > options_.max_queue_bytes) {
    regions_.counters[kQueueDrops] += 1;
    regions_.counters[kLastErrno] = EAGAIN;
    return false;
  }
  Queued q;
  q.bytes.assign(bytes, bytes + len);
  std::memcpy(&q.addr, addr, addr_len);
  q.addr_len = addr_len;
  backlog_.push_back(std::move(q));
  backlog_bytes_ += len;
  regions_.counters[kQueued] = static_cast<double>(backlog_.size());
  return true;
}

socklen_t UdpSocket::Destination(const int32_t* m, sockaddr_storage* out) const {
  const int32_t idx = m[2];
  const uint16_t port = htons(static_cast<uint16_t>(m[3]));
  if (idx >= 0) {
    if (static_cast<size_t>(idx) >= addresses_.size()) return 0;
    // The port is per datagram, the table entry shared: each header gets its own copy of the address.
    const Address& a = addresses_[idx];
    std::memcpy(out, &a.addr, a.len);
    if (a.addr.ss_family == AF_INET6) {
      reinterpret_cast<sockaddr_in6*>(out)->sin6_port = port;
    } else {
      reinterpret_cast<sockaddr_in*>(out)->sin_port = port;
    }
    return a.len;
  }
  if (idx != kInlineIpv4 && idx != kInlineIpv6) return 0;
  if (options_.family == AF_INET6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(out);
    *a6 = sockaddr_in6{};
    a6->sin6_family = AF_INET6;
    a6->sin6_port = port;
    if (idx == kInlineIpv6) {
      std::memcpy(&a6->sin6_addr, &m[4], 16);
    } else {
      // An IPv4 source reached a dual-stack socket in the mapped form (RFC 4291 2.5.5.2): answer it so.
      a6->sin6_addr.s6_addr[10] = 0xff;
      a6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&a6->sin6_addr.s6_addr[12], &m[4], 4);
    }
    return sizeof(sockaddr_in6);
  }
  if (idx != kInlineIpv4) return 0;  // an IPv6 address on an IPv4 socket
  auto* a4 = reinterpret_cast<sockaddr_in*>(out);
  *a4 = sockaddr_in{};
  a4->sin_family = AF_INET;
  a4->sin_port = port;
  std::memcpy(&a4->sin_addr, &m[4], 4);
  return sizeof(sockaddr_in);
}

uint32_t UdpSocket::Flush(uint32_t count) {
  if (closing_ || count == 0) return 0;
  double* c = regions_.counters;
  if (count > options_.send_capacity) count = options_.send_capacity;
  uint32_t failed = 0;
  uint32_t valid = 0;
  // Build one message header per staged datagram (bad indexes, addresses or ranges are counted and skipped).
  for (uint32_t i = 0; i < count; ++i) {
    const int32_t* m = regions_.send_meta + static_cast<size_t>(i) * kSendMetaWords;
    const uint32_t off = static_cast<uint32_t>(m[0]);
    const uint32_t len = static_cast<uint32_t>(m[1]);
    const socklen_t addr_len = Destination(m, &send_addr_[valid]);
    if (addr_len == 0 || off > options_.send_slab_bytes || len > options_.send_slab_bytes - off) {
      CountError(addr_len == 0 && (m[2] == kInlineIpv4 || m[2] == kInlineIpv6) ? EAFNOSUPPORT : EINVAL);
      ++failed;
      continue;
    }
    mmsghdr& h = send_msgs_[valid];
    send_iov_[valid].iov_base = regions_.send_slab + off;
    send_iov_[valid].iov_len = len;
    h.msg_hdr = msghdr{};
    h.msg_hdr.msg_iov = &send_iov_[valid];
    h.msg_hdr.msg_iovlen = 1;
    h.msg_len = 0;
    h.msg_hdr.msg_name = &send_addr_[valid];
    h.msg_hdr.msg_namelen = addr_len;
    ++valid;
  }
  uint32_t i = 0;
  if (!backlog_.empty()) {
    // Keep the order: everything waits behind the backlog.
    for (; i < valid; ++i) {
      const msghdr& h = send_msgs_[i].msg_hdr;
      if (!Enqueue(static_cast<const uint8_t*>(h.msg_iov->iov_base), static_cast<uint32_t>(h.msg_iov->iov_len),
                   static_cast<const sockaddr*>(h.msg_name), h.msg_namelen)) {
        ++failed;
      }
    }
    return failed;
  }
  while (i < valid) {
    const int n = SendMany(&send_msgs_[i], valid - i);
    if (n > 0) {
      for (int k = 0; k < n; ++k) c[kSentBytes] += send_msgs_[i + k].msg_len;
      c[kSentDatagrams] += n;
      i += static_cast<uint32_t>(n);
      continue;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      c[kWouldBlock] += 1;
      for (; i < valid; ++i) {
        const msghdr& h = send_msgs_[i].msg_hdr;
        if (!Enqueue(static_cast<const uint8_t*>(h.msg_iov->iov_base), static_cast<uint32_t>(h.msg_iov->iov_len),
                     static_cast<const sockaddr*>(h.msg_name), h.msg_namelen)) {
          ++failed;
        }
      }
      break;
    }
    // A persistent error belongs to the first datagram not sent: count it and go on with the next.
    CountError(err);
    ++failed;
    ++i;
  }
  if (!backlog_.empty() && !want_write_) {
    want_write_ = true;
    UpdatePoll();
  }
  return failed;
}

void UdpSocket::WriteReady() {
  double* c = regions_.counters;
  uint32_t failed = 0;
  int last = 0;
  while (!backlog_.empty()) {
    const uint32_t n = backlog_.size() < kDrainBatch ? static_cast<uint32_t>(backlog_.size()) : kDrainBatch;
    for (uint32_t k = 0; k < n; ++k) {
      Queued& q = backlog_[k];
      send_iov_[k].iov_base = q.bytes.data();
      send_iov_[k].iov_len = q.bytes.size();
      msghdr& h = send_msgs_[k].msg_hdr;
      h = msghdr{};
      h.msg_iov = &send_iov_[k];
      h.msg_iovlen = 1;
      h.msg_name = &q.addr;
      h.msg_namelen = q.addr_len;
    }
    const int sent = SendMany(send_msgs_.data(), n);
    uint32_t pop = 0;
    if (sent > 0) {
      for (int k = 0; k < sent; ++k) c[kSentBytes] += send_msgs_[k].msg_len;
      c[kSentDatagrams] += sent;
      pop = static_cast<uint32_t>(sent);
    } else {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        c[kWouldBlock] += 1;
        break;
      }
      CountError(err);
      last = err;
      ++failed;
      pop = 1;
    }
    for (uint32_t k = 0; k < pop; ++k) {
      backlog_bytes_ -= backlog_.front().bytes.size();
      backlog_.pop_front();
    }
  }
  c[kQueued] = static_cast<double>(backlog_.size());
  if (backlog_.empty() && want_write_) {
    want_write_ = false;
    UpdatePoll();
  }
  if (failed > 0) hooks_->OnSendErrors(last, failed);
}

void UdpSocket::Close() {
  if (closing_) return;
  closing_ = true;
  regions_.counters[kQueueDrops] += static_cast<double>(backlog_.size());
  backlog_.clear();
  backlog_bytes_ = 0;
  regions_.counters[kQueued] = 0;
  if (!polling_) {
    hooks_->OnClosed();
    return;
  }
  uv_poll_stop(&poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &UdpSocket::OnHandleClosed);
}

void UdpSocket::Abandon() {
  if (closing_) return;
  closing_ = true;
  backlog_.clear();
  if (polling_) {
    uv_poll_stop(&poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &UdpSocket::OnHandleClosed);
  }
}

void UdpSocket::OnHandleClosed(uv_handle_t* handle) {
  auto* self = static_cast<UdpSocket*>(handle->data);
  self->polling_ = false;
  if (self->fd_ >= 0) {
    ::close(self->fd_);
    self->fd_ = -1;
  }
  self->hooks_->OnClosed();
}

}  // namespace switchhook::net
