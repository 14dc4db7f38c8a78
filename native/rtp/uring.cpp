// Raw io_uring system calls (io_uring_setup(2), io_uring_enter(2), io_uring_register(2)) and ring access with
// the memory ordering io_uring(7) asks for: the kernel reads the submission tail and the buffer ring tail with
// acquire semantics and writes completion tails with release semantics.
#include "rtp/uring.h"

#include <errno.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)  // Linux 6.12: io_uring_getevents_arg.min_wait_usec
#endif

namespace switchhook::rtp {

namespace {

// io_uring_getevents_arg as of Linux 6.12 (the 6.1 uapi header calls min_wait_usec `pad`).
struct GeteventsArg {
  uint64_t sigmask;
  uint32_t sigmask_sz;
  uint32_t min_wait_usec;
  uint64_t ts;
};

struct KernelTimespec {
  int64_t tv_sec;
  long long tv_nsec;
};

unsigned LoadAcquire(const unsigned* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void StoreRelease(unsigned* p, unsigned v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

void* MapRing(int fd, size_t size, off_t offset) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

void Uring::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Uring::~Uring() {
  Close();  // cancels every request still in flight before the memory goes
  if (sqes_) munmap(sqes_, sqes_size_);
  if (cq_ring_ && cq_ring_ != sq_ring_) munmap(cq_ring_, cq_ring_size_);
  if (sq_ring_) munmap(sq_ring_, sq_ring_size_);
  if (buf_ring_) munmap(buf_ring_, buf_ring_size_);
  for (uint8_t* chunk : chunks_) munmap(chunk, static_cast<size_t>(chunk_buffers_) * buffer_size_);
}

bool Uring::Setup(unsigned entries, unsigned buffers, size_t buffer_size, std::string* error) {
  io_uring_params p{};
  // Completions run as task work of this thread only when it waits (DEFER_TASKRUN), so one wait collects
  // many and their CPU time is the bridge thread's; SUBMIT_ALL keeps submitting past a failed entry.
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  p.cq_entries = entries * 8;
  const int fd = static_cast<int>(syscall(__NR_io_uring_setup, entries, &p));
  auto fail = [&](const char* where, int err) {
    *error = std::string(where) + ": " + strerror(err);
    if (fd >= 0 && fd_ < 0) close(fd);
    return false;
  };
  if (fd < 0) return fail("io_uring_setup", errno);
  const unsigned needed = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
  if ((p.features & needed) != needed) return fail("io_uring features", ENOSYS);
  sq_ring_size_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_ring_size_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  if (cq_ring_size_ > sq_ring_size_) sq_ring_size_ = cq_ring_size_;
  sq_ring_ = MapRing(fd, sq_ring_size_, IORING_OFF_SQ_RING);
  if (!sq_ring_) return fail("io_uring mmap", errno);
  cq_ring_ = sq_ring_;
  cq_ring_size_ = sq_ring_size_;
  sqes_size_ = p.sq_entries * sizeof(io_uring_sqe);
  sqes_ = static_cast<io_uring_sqe*>(MapRing(fd, sqes_size_, IORING_OFF_SQES));
  if (!sqes_) return fail("io_uring mmap", errno);
  auto* sq = static_cast<uint8_t*>(sq_ring_);
  sq_khead_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
  sq_ktail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
  sq_mask_ = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
  sq_entries_ = p.sq_entries;
  sq_array_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
  for (unsigned i = 0; i < sq_entries_; ++i) sq_array_[i] = i;
  sq_tail_ = *sq_ktail_;
  auto* cq = static_cast<uint8_t*>(cq_ring_);
  cq_khead_ = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
  cq_ktail_ = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
  cq_mask_ = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
  min_wait_ = (p.features & IORING_FEAT_MIN_TIMEOUT) != 0;

  // Provided buffers, group 0 (Linux 5.19): a page-aligned ring of {addr, len, bid} the kernel picks from,
  // registered at its largest so buffers can be added while legs are; the kernel uses what is published.
  buf_entries_ = kMaxBuffers;
  buf_ring_size_ = kMaxBuffers * sizeof(io_uring_buf);
  void* ring = mmap(nullptr, buf_ring_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED) return fail("buffer ring mmap", errno);
  buf_ring_ = static_cast<io_uring_buf_ring*>(ring);
  buffer_size_ = buffer_size;
  chunk_buffers_ = buffers;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
  reg.ring_entries = kMaxBuffers;
  reg.bgid = 0;
  if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_PBUF_RING, &reg, 1) != 0) {
    return fail("io_uring_register PBUF_RING", errno);
  }
  fd_ = fd;
  if (!GrowBuffers()) {
    Close();
    *error = "buffer pool mmap: " + std::string(strerror(ENOMEM));
    return false;
  }
  return true;
}

bool Uring::GrowBuffers() {
  const unsigned first = buffers();
  if (first + chunk_buffers_ > kMaxBuffers) return false;
  void* pool = mmap(nullptr, static_cast<size_t>(chunk_buffers_) * buffer_size_, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pool == MAP_FAILED) return false;
  chunks_.push_back(static_cast<uint8_t*>(pool));
  for (unsigned i = 0; i < chunk_buffers_; ++i) ReturnBuffer(static_cast<uint16_t>(first + i));
  PublishBuffers();
  return true;
}

io_uring_sqe* Uring::Sqe() {
  if (sq_tail_ - LoadAcquire(sq_khead_) >= sq_entries_) return nullptr;
  io_uring_sqe* sqe = &sqes_[sq_tail_ & sq_mask_];
  memset(sqe, 0, sizeof *sqe);
  ++sq_tail_;
  return sqe;
}

int Uring::Enter(unsigned wait_nr, uint32_t min_wait_us, uint32_t timeout_us) {
  const unsigned to_submit = sq_tail_ - LoadAcquire(sq_khead_);
  if (to_submit != 0) StoreRelease(sq_ktail_, sq_tail_);
  unsigned flags = wait_nr != 0 ? IORING_ENTER_GETEVENTS : 0;
  GeteventsArg arg{};
  KernelTimespec ts{};
  void* argp = nullptr;
  size_t argsz = 0;
  if (wait_nr != 0 && (min_wait_us != 0 || timeout_us != 0)) {
    flags |= IORING_ENTER_EXT_ARG;
    if (min_wait_us != 0 && min_wait_) {
      arg.min_wait_usec = min_wait_us;
    } else {
      const uint32_t us = timeout_us != 0 ? timeout_us : min_wait_us;
      ts.tv_sec = us / 1'000'000;
      ts.tv_nsec = static_cast<long long>(us % 1'000'000) * 1000;
      arg.ts = reinterpret_cast<uint64_t>(&ts);
    }
    argp = &arg;
    argsz = sizeof arg;
  }
  if (to_submit == 0 && flags == 0) return 0;
  const long r = syscall(__NR_io_uring_enter, fd_, to_submit, wait_nr, flags, argp, argsz);
  return r < 0 ? -errno : static_cast<int>(r);
}

unsigned Uring::Reap(io_uring_cqe* out, unsigned max) {
  const unsigned head = *cq_khead_;
  const unsigned tail = LoadAcquire(cq_ktail_);
  unsigned n = tail - head;
  if (n > max) n = max;
  for (unsigned i = 0; i < n; ++i) out[i] = cqes_[(head + i) & cq_mask_];
  if (n != 0) StoreRelease(cq_khead_, head + n);
  return n;
}

void Uring::PrepRecvMsgMultishot(io_uring_sqe* sqe, int fd, msghdr* msg, uint64_t user_data) {
  // One CQE per datagram, each in a provided buffer laid out as io_uring_recvmsg_out, name, payload
  // (Linux 6.0); the request stays armed while IORING_CQE_F_MORE is set.
  sqe->opcode = IORING_OP_RECVMSG;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(msg);
  sqe->len = 1;
  sqe->ioprio = IORING_RECV_MULTISHOT;
  sqe->flags = IOSQE_BUFFER_SELECT;
  sqe->buf_group = 0;
  sqe->user_data = user_data;
}

void Uring::PrepPollMultishot(io_uring_sqe* sqe, int fd, uint64_t user_data) {
  sqe->opcode = IORING_OP_POLL_ADD;
  sqe->fd = fd;
  sqe->poll32_events = POLLIN;
  sqe->len = IORING_POLL_ADD_MULTI;
  sqe->user_data = user_data;
}

void Uring::PrepSendMsg(io_uring_sqe* sqe, int fd, const msghdr* msg, uint64_t user_data) {
  // MSG_DONTWAIT: a full socket buffer fails the send at once (counted) instead of parking it, so every send
  // completes within the submitting io_uring_enter, as sendmmsg would.
  sqe->opcode = IORING_OP_SENDMSG;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(msg);
  sqe->len = 1;
  sqe->msg_flags = MSG_DONTWAIT;
  sqe->user_data = user_data;
}

void Uring::PrepSendTo(io_uring_sqe* sqe, int fd, const void* data, size_t len, const sockaddr_in* to,
                       uint64_t user_data) {
  sqe->opcode = IORING_OP_SEND;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(data);
  sqe->len = static_cast<uint32_t>(len);
  sqe->msg_flags = MSG_DONTWAIT;
  sqe->addr2 = reinterpret_cast<uint64_t>(to);
  sqe->addr_len = to ? sizeof(sockaddr_in) : 0;
  sqe->user_data = user_data;
}

void Uring::PrepCancel(io_uring_sqe* sqe, uint64_t target, uint64_t user_data) {
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = target;
  sqe->user_data = user_data;
}

void Uring::PrepCancelAll(io_uring_sqe* sqe, uint64_t user_data) {
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
  sqe->user_data = user_data;
}

void Uring::ReturnBuffer(uint16_t bid) {
  io_uring_buf* bufs = reinterpret_cast<io_uring_buf*>(buf_ring_);
  io_uring_buf& b = bufs[buf_tail_ & (buf_entries_ - 1)];
  b.addr = reinterpret_cast<uint64_t>(Buffer(bid));
  b.len = static_cast<uint32_t>(buffer_size_);
  b.bid = bid;
  ++buf_tail_;
}

void Uring::PublishBuffers() {
  // The ring's tail overlays the first entry's resv field (offset 14).
  auto* tail = reinterpret_cast<uint16_t*>(reinterpret_cast<uint8_t*>(buf_ring_) + 14);
  __atomic_store_n(tail, buf_tail_, __ATOMIC_RELEASE);
}

}  // namespace switchhook::rtp
