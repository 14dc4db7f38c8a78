// libFuzzer target: the PDSV deframer over a byte stream cut at fuzzer-chosen points, the datagram
// parser, and a rebuild of every accepted frame (which must reproduce the same bytes). docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pdsv/pdsv.h"

namespace {

using namespace switchhook::pdsv;

// Re-encodes every frame the deframer accepts and checks that the bytes and the decode agree.
class CheckingSink : public FrameSink {
 public:
  void OnFrame(const Frame& f) override {
    std::uint8_t out[kMaxFrame];
    std::size_t n = 0;
    switch (f.type) {
      case FrameType::kSignal: n = BuildSignal(f.address, f.signal, out, sizeof out); break;
      case FrameType::kVoice: n = BuildVoice(f.address, f.voice, out, sizeof out); break;
      case FrameType::kLink: n = BuildLink(f.address, f.link, out, sizeof out); break;
    }
    if (n != kOverhead + f.payload_length) std::abort();
    if (std::memcmp(out + kHeaderSize, f.payload, f.payload_length) != 0) std::abort();
    Frame again;
    if (ParseFrame(out, n, &again) != Error::kNone) std::abort();
    if (again.address.port != f.address.port || again.address.sequence != f.address.sequence) std::abort();
    ++frames;
  }
  void OnError(const ErrorEvent& e) override {
    if (e.error == Error::kNone) std::abort();
    ++errors;
  }
  std::size_t frames = 0, errors = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // First byte picks the chunk size for the stream path (1..64 bytes, or whole input when 0).
  const std::size_t chunk = data[0] & 0x3F;
  const std::uint8_t* body = data + 1;
  const std::size_t n = size - 1;

  CheckingSink whole;
  Deframer a(&whole);
  a.Push(body, n);
  a.Finish();

  CheckingSink split;
  Deframer b(&split);
  const std::size_t step = chunk == 0 ? (n == 0 ? 1 : n) : chunk;
  for (std::size_t off = 0; off < n; off += step) b.Push(body + off, off + step <= n ? step : n - off);
  b.Finish();
  // Chunking must not change what the deframer finds.
  if (whole.frames != split.frames || a.counters().crc_errors != b.counters().crc_errors ||
      a.counters().bytes_skipped != b.counters().bytes_skipped) {
    std::abort();
  }
  if (b.buffered() != 0) std::abort();

  CheckingSink dgram;
  Deframer c(&dgram);
  c.PushDatagram(body, n);
  Frame f;
  const Error e = ParseFrame(body, n, &f);
  if ((e == Error::kNone) != (dgram.frames == 1)) std::abort();
  return 0;
}
