// G.711 payload transcoding between mu-law (PT 0) and A-law (PT 8), in place (RFC 3551 §4.5.14).
// Private to native/rtp/.
#pragma once
#include <cstddef>
#include <cstdint>

namespace switchhook::rtp {

constexpr uint8_t kPtPcmu = 0;
constexpr uint8_t kPtPcma = 8;
constexpr uint8_t kPtComfortNoise = 13;

inline bool IsG711(uint8_t pt) { return pt == kPtPcmu || pt == kPtPcma; }

/** Rewrites `len` G.711 samples from one law to the other; `from` and `to` are PT 0 or 8 and differ. */
void TranscodeG711(uint8_t* samples, size_t len, uint8_t from, uint8_t to);

}  // namespace switchhook::rtp
