// Receiver statistics of one RTP source: sequence tracking (RFC 3550 A.1), loss (A.3) and interarrival
// jitter (A.8). Plain C++; times come in as RTP timestamp units so the arithmetic is exact and testable.
#pragma once
#include <cstdint>

namespace switchhook::rtp {

class ReceiverStats {
 public:
  /** Starts tracking at the first packet of a source (A.1 init_seq, with probation disabled). */
  void Init(uint16_t seq);

  /**
   * A.1 update_seq: returns false for a packet that is a large jump not yet confirmed (counted as bad
   * sequence, not received). MAX_DROPOUT 3000, MAX_MISORDER 100.
   */
  bool UpdateSeq(uint16_t seq);

  /** A.8: `arrival` is the arrival time in RTP timestamp units of the same clock as `rtp_ts`. */
  void UpdateJitter(uint32_t rtp_ts, uint32_t arrival);

  bool started() const { return started_; }
  uint32_t received() const { return received_; }
  uint32_t ExtendedMax() const { return cycles_ + max_seq_; }
  uint32_t Expected() const { return ExtendedMax() - base_seq_ + 1; }
  /** A.3 cumulative number of packets lost (may be negative with duplicates), clamped to 24 bits. */
  int32_t CumulativeLost() const;
  /** A.3 fraction lost since the previous call, 8-bit fixed point; advances the interval. */
  uint8_t FractionLostInterval();
  /** A.8 jitter estimate in timestamp units (the value carried in a report block). */
  uint32_t Jitter() const { return jitter_ >> 4; }

 private:
  bool started_ = false;
  uint16_t max_seq_ = 0;
  uint32_t cycles_ = 0;
  uint32_t base_seq_ = 0;
  uint32_t bad_seq_ = 0;
  uint32_t received_ = 0;
  uint32_t expected_prior_ = 0;
  uint32_t received_prior_ = 0;
  bool have_transit_ = false;
  uint32_t transit_ = 0;
  uint32_t jitter_ = 0;  // scaled by 16 as in A.8
};

}  // namespace switchhook::rtp
