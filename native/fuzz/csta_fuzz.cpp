// libFuzzer harness for the CSTA frame scanner (not part of the addon; binding.gyp skips native/fuzz/).
// Build and run (clang with libclang-rt for libFuzzer/ASan):
//   clang++ -g -O1 -std=c++17 -fsanitize=fuzzer,address,undefined -Inative \
//     native/fuzz/csta_fuzz.cpp native/csta/scanner.cpp -o native/fuzz/out/csta_fuzz
//   native/fuzz/out/csta_fuzz -max_total_time=60 native/fuzz/out/corpus captures/public/csta
// Checks, beyond memory safety: every offset in the batch stays inside the data, the scratch area or the
// cache, and consumed never exceeds the input.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "csta/scanner.h"

using namespace switchhook::csta;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckValue(int32_t s, int32_t l, int how, size_t size, size_t scratch, uint32_t slots) {
  if (l == kCached) return Check(s >= 0 && static_cast<uint32_t>(s) < slots);
  if (s < 0) return Check(l == 0);
  Check(l >= 0);
  const size_t limit = how == 2 ? scratch : size;
  Check(static_cast<size_t>(s) + static_cast<size_t>(l) <= limit);
}

// Scans data in two pieces (split at `split`), carrying the stream state, with a tiny batch array.
void Run(const uint8_t* data, size_t size, size_t split, size_t capacity, uint32_t slots) {
  std::vector<uint8_t> cache(static_cast<size_t>(slots) * kCacheSlotBytes);
  std::vector<uint8_t> scratch(256);
  std::vector<int32_t> out(capacity);
  StreamState state;
  ScanLimits limits;
  limits.max_frame_bytes = 4096;
  limits.max_resync_bytes = 2048;
  std::vector<uint8_t> pending;
  uint32_t gen = 1;
  for (int piece = 0; piece < 2; ++piece) {
    const uint8_t* p = piece == 0 ? data : data + split;
    const size_t n = piece == 0 ? split : size - split;
    pending.insert(pending.end(), p, p + n);
    for (int round = 0; round < 10000; ++round) {
      StringCache c;
      c.mem = cache.data();
      c.slots = slots;
      c.gen = gen++;
      c.scratch = scratch.data();
      c.scratch_bytes = scratch.size();
      ScanFrames(pending.data(), pending.size(), limits, state, c, out.data(), out.size());
      const size_t consumed = static_cast<size_t>(out[kHdrConsumed]);
      const size_t used = static_cast<size_t>(out[kHdrUsed]);
      Check(consumed <= pending.size());
      Check(used >= kHdrWords && used + 4 * static_cast<size_t>(out[kHdrDefs]) <= out.size());
      for (int32_t d = 0; d < out[kHdrDefs]; ++d) {
        const int32_t* def = &out[out.size() - 4 * (d + 1)];
        Check(def[0] >= 0 && static_cast<uint32_t>(def[0]) < slots);
        CheckValue(def[1], def[2], def[3], pending.size(), scratch.size(), slots);
      }
      for (size_t at = kHdrWords; at < used;) {
        const int32_t words = out[at + 1];
        Check(words > 0 && at + static_cast<size_t>(words) <= used);
        if (out[at] == kTagMessage) {
          Check(out[at + 3] >= 0 && out[at + 3] <= out[at + 4] && static_cast<size_t>(out[at + 4]) <= consumed);
          CheckValue(out[at + 5], out[at + 6], 0, pending.size(), scratch.size(), slots);
          Check((words - kMessageHead) % kRecordWords == 0);
          for (size_t r = at + kMessageHead; r < at + static_cast<size_t>(words); r += kRecordWords) {
            const int32_t flags = out[r] >> 8;
            for (int i = 0; i < 4; ++i) {
              CheckValue(out[r + 1 + 2 * i], out[r + 2 + 2 * i], (flags >> (2 * i)) & 3, pending.size(),
                         scratch.size(), slots);
            }
          }
        } else {
          Check(out[at] == kTagError && words == kErrorWords);
        }
        at += static_cast<size_t>(words);
      }
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(consumed));
      if (out[kHdrFatal] == 1) return;
      if (out[kHdrFull] != 1) break;
      if (consumed == 0) out.resize(out.size() * 2);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const size_t split = size == 0 ? 0 : data[0] % (size + 1);
  Run(data, size, split, 64, 4);
  Run(data, size, size / 2, 4096, 64);
  Run(data, size, size, 256, 0);
  // The input as the XML body of one well-framed frame, twice, so the document scanner sees it directly.
  if (size <= 4000) {
    std::vector<uint8_t> frames;
    for (int i = 0; i < 2; ++i) {
      const size_t total = size + 8;
      const uint8_t header[8] = {0, 0, static_cast<uint8_t>(total >> 8), static_cast<uint8_t>(total), '0', '0', '0', '1'};
      frames.insert(frames.end(), header, header + 8);
      frames.insert(frames.end(), data, data + size);
    }
    Run(frames.data(), frames.size(), frames.size() / 3, 128, 8);
  }
  return 0;
}
