#include "rtp/stats.h"

namespace switchhook::rtp {

namespace {
constexpr uint32_t kRtpSeqMod = 1u << 16;
constexpr uint16_t kMaxDropout = 3000;
constexpr uint16_t kMaxMisorder = 100;
}  // namespace

void ReceiverStats::Init(uint16_t seq) {
  started_ = true;
  base_seq_ = seq;
  max_seq_ = seq;
  bad_seq_ = kRtpSeqMod + 1;
  cycles_ = 0;
  received_ = 1;
  expected_prior_ = 0;
  received_prior_ = 0;
  have_transit_ = false;
  jitter_ = 0;
}

bool ReceiverStats::UpdateSeq(uint16_t seq) {
  if (!started_) {
    Init(seq);
    return true;
  }
  const uint16_t udelta = static_cast<uint16_t>(seq - max_seq_);
  if (udelta < kMaxDropout) {
    // In order, with a permissible gap.
    if (seq < max_seq_) cycles_ += kRtpSeqMod;
    max_seq_ = seq;
  } else if (udelta <= kRtpSeqMod - kMaxMisorder) {
    // A very large jump: accept it only when the next packet follows it (the source restarted).
    if (seq == bad_seq_) {
      Init(seq);
      return true;
    }
    bad_seq_ = (static_cast<uint32_t>(seq) + 1) & (kRtpSeqMod - 1);
    return false;
  }
  // Otherwise a duplicate or reordered packet: counted, max unchanged.
  received_++;
  return true;
}

void ReceiverStats::UpdateJitter(uint32_t rtp_ts, uint32_t arrival) {
  const uint32_t transit = arrival - rtp_ts;
  if (have_transit_) {
    int32_t d = static_cast<int32_t>(transit - transit_);
    if (d < 0) d = -d;
    // J += (|D| - J) / 16, in the integer form of A.8 with jitter_ scaled by 16.
    jitter_ += static_cast<uint32_t>(d) - ((jitter_ + 8) >> 4);
  }
  transit_ = transit;
  have_transit_ = true;
}

int32_t ReceiverStats::CumulativeLost() const {
  const int64_t lost = static_cast<int64_t>(Expected()) - static_cast<int64_t>(received_);
  if (lost > 0x7fffff) return 0x7fffff;
  if (lost < -0x800000) return -0x800000;
  return static_cast<int32_t>(lost);
}

uint8_t ReceiverStats::FractionLostInterval() {
  const uint32_t expected = Expected();
  const uint32_t expected_interval = expected - expected_prior_;
  expected_prior_ = expected;
  const uint32_t received_interval = received_ - received_prior_;
  received_prior_ = received_;
  const int64_t lost_interval = static_cast<int64_t>(expected_interval) - received_interval;
  if (expected_interval == 0 || lost_interval <= 0) return 0;
  return static_cast<uint8_t>((lost_interval << 8) / expected_interval);
}

}  // namespace switchhook::rtp
