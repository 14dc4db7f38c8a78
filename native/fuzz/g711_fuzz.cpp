// libFuzzer target: G.711 round trips. Input bytes are taken both as G.711 codes and as 16-bit samples;
// the table paths must equal the reference functions, and decode -> encode must give the code back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "g711/g711.h"

using namespace switchhook::g711;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::int16_t> pcm(size);
  std::vector<std::uint8_t> code(size), back(size);
  UlawToLinearBuffer(data, pcm.data(), size);
  LinearToUlawBuffer(pcm.data(), back.data(), size);
  for (std::size_t i = 0; i < size; ++i) {
    // 0x7F (-0) encodes back as 0xFF (+0): the only mu-law code that does not round-trip by value.
    if (back[i] != data[i] && !(data[i] == 0x7F && back[i] == 0xFF)) std::abort();
    if (pcm[i] != DecodeUlaw(data[i])) std::abort();
  }
  AlawToLinearBuffer(data, pcm.data(), size);
  LinearToAlawBuffer(pcm.data(), back.data(), size);
  for (std::size_t i = 0; i < size; ++i) {
    if (back[i] != data[i] || pcm[i] != DecodeAlaw(data[i])) std::abort();
  }
  UlawToAlawBuffer(data, code.data(), size);
  for (std::size_t i = 0; i < size; ++i) {
    if (code[i] != EncodeAlaw(DecodeUlaw(data[i]))) std::abort();
  }
  AlawToUlawBuffer(data, code.data(), size);
  for (std::size_t i = 0; i < size; ++i) {
    if (code[i] != EncodeUlaw(DecodeAlaw(data[i]))) std::abort();
  }
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    const auto s = static_cast<std::int16_t>(data[i] | (data[i + 1] << 8));
    if (LinearToUlaw(s) != EncodeUlaw(s) || LinearToAlaw(s) != EncodeAlaw(s)) std::abort();
    // Re-encoding a decoded sample is idempotent.
    const std::uint8_t u = LinearToUlaw(s), a = LinearToAlaw(s);
    if (LinearToUlaw(UlawToLinear(u)) != (u == 0x7F ? 0xFF : u)) std::abort();
    if (LinearToAlaw(AlawToLinear(a)) != a) std::abort();
  }
  return 0;
}
