// A minimal io_uring (io_uring(7)) ring over the raw system calls, for the bridge thread's io_uring backend:
// one submission and one completion ring mapped once, a ring of provided receive buffers
// (IORING_REGISTER_PBUF_RING) and the few request kinds the bridge uses (multishot RECVMSG and POLL_ADD,
// SENDMSG, ASYNC_CANCEL). Single issuer: only the thread that called Setup may use it. No N-API in here.
#pragma once
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace switchhook::rtp {

class Uring {
 public:
  Uring() = default;
  ~Uring();
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;

  /**
   * Creates the ring on the calling thread (IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN: completions run in
   * this thread when it waits, so their CPU time is this thread's) and registers a ring of kMaxBuffers
   * entries for provided receive buffers in group 0, with `buffers` (a power of two) buffers of `buffer_size`
   * bytes each in it; GrowBuffers adds more. False with `error` set when the kernel lacks any of it
   * (Linux < 6.1, io_uring disabled by sysctl or seccomp).
   */
  bool Setup(unsigned entries, unsigned buffers, size_t buffer_size, std::string* error);
  bool ready() const { return fd_ >= 0; }
  /** Closes the ring (the kernel cancels what is left); the buffer memory stays until destruction. */
  void Close();
  /** The kernel accepts a minimum wait in IORING_ENTER_EXT_ARG (IORING_FEAT_MIN_TIMEOUT, Linux >= 6.12). */
  bool has_min_wait() const { return min_wait_; }

  /** A zeroed submission entry, or nullptr when the submission ring is full (Submit first). */
  io_uring_sqe* Sqe();
  /** Entries prepared and not yet submitted. */
  unsigned Unsubmitted() const { return sq_tail_ - submitted_; }

  /**
   * Submits what was prepared and waits until `wait_nr` completions are ready (0: no wait). With
   * `min_wait_us` (when has_min_wait()), it returns once that time passed with at least one completion;
   * without it, `timeout_us` (when non-zero) bounds the wait. Returns the io_uring_enter result (negative
   * errno; -ETIME and -EINTR are ordinary wake-ups).
   */
  int Enter(unsigned wait_nr, uint32_t min_wait_us, uint32_t timeout_us);

  /** Copies out the ready completions (at most `max`) and frees their slots; returns how many. */
  unsigned Reap(io_uring_cqe* out, unsigned max);

  void PrepRecvMsgMultishot(io_uring_sqe* sqe, int fd, msghdr* msg, uint64_t user_data);
  void PrepPollMultishot(io_uring_sqe* sqe, int fd, uint64_t user_data);
  void PrepSendMsg(io_uring_sqe* sqe, int fd, const msghdr* msg, uint64_t user_data);
  /**
   * One datagram to `to` without a msghdr (IORING_OP_SEND with a destination, sendto(2)); `to` null: to a
   * connected socket's peer (send(2)).
   */
  void PrepSendTo(io_uring_sqe* sqe, int fd, const void* data, size_t len, const sockaddr_in* to, uint64_t user_data);
  void PrepCancel(io_uring_sqe* sqe, uint64_t target, uint64_t user_data);
  /** Cancels every request of the ring (IORING_ASYNC_CANCEL_ANY | ALL, Linux 5.19). */
  void PrepCancelAll(io_uring_sqe* sqe, uint64_t user_data);

  /** Start of provided buffer `bid` (chunk bid / buffers-per-chunk). */
  uint8_t* Buffer(uint16_t bid) const {
    return chunks_[bid / chunk_buffers_] + static_cast<size_t>(bid % chunk_buffers_) * buffer_size_;
  }
  /** Provided buffers in the ring so far. */
  unsigned buffers() const { return static_cast<unsigned>(chunks_.size()) * chunk_buffers_; }
  /**
   * Adds one more chunk of as many buffers as Setup made (while the ring has room: kMaxBuffers) and hands
   * them to the kernel. False when the ring is full or memory is short.
   */
  bool GrowBuffers();
  /** The most provided buffers the ring takes (its registered entries). */
  static constexpr unsigned kMaxBuffers = 32768;
  size_t buffer_size() const { return buffer_size_; }
  /** Hands a provided buffer back to the kernel (visible after PublishBuffers). */
  void ReturnBuffer(uint16_t bid);
  void PublishBuffers();

 private:
  int fd_ = -1;
  bool min_wait_ = false;
  void* sq_ring_ = nullptr;
  size_t sq_ring_size_ = 0;
  void* cq_ring_ = nullptr;  // same mapping as sq_ring_ with IORING_FEAT_SINGLE_MMAP
  size_t cq_ring_size_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_size_ = 0;
  unsigned* sq_khead_ = nullptr;
  unsigned* sq_ktail_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned sq_entries_ = 0;
  unsigned* sq_array_ = nullptr;
  unsigned sq_tail_ = 0;     // prepared up to here
  unsigned submitted_ = 0;   // published to the kernel up to here
  unsigned* cq_khead_ = nullptr;
  unsigned* cq_ktail_ = nullptr;
  unsigned cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
  // Provided buffers (group 0).
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_size_ = 0;
  unsigned buf_entries_ = 0;
  uint16_t buf_tail_ = 0;
  std::vector<uint8_t*> chunks_;  // buffer memory, chunk_buffers_ buffers each
  unsigned chunk_buffers_ = 1;
  size_t buffer_size_ = 0;
};

}  // namespace switchhook::rtp
