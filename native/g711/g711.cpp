// G.711 codec (ITU-T G.711 11/1988). Reference per-sample functions follow Tables 1 (A-law) and 2
// (mu-law) segment by segment; the fast paths are tables generated from them at compile time.
#include "g711/g711.h"

#include <array>

namespace switchhook {
namespace g711 {
namespace {

// Magnitude code: segment (3 bits) << 4 | quantisation step (4 bits), before sign and bit inversion.
constexpr int kSignBit = 0x80;
constexpr int kUlawClip = 8158;  // 14-bit magnitude; 8158 + 33 = 8191, the top of segment 7 (Table 2)
constexpr int kUlawBias = 33;

// mu-law: the 14-bit magnitude plus 33 has its leading one in bit (segment + 5).
constexpr int UlawMagnitudeCode(int mag14) {
  const int biased = (mag14 > kUlawClip ? kUlawClip : mag14) + kUlawBias;
  int seg = 0;
  while (biased >= (64 << seg)) ++seg;
  return (seg << 4) | ((biased >> (seg + 1)) & 0x0F);
}

// A-law: segment 0 and 1 both have steps of 2; segment s >= 1 spans [32 << (s-1), 32 << s).
constexpr int AlawMagnitudeCode(int mag13) {
  const int x = mag13 > 4095 ? 4095 : mag13;
  if (x < 32) return x >> 1;
  int seg = 1;
  while (x >= (32 << seg)) ++seg;
  return (seg << 4) | ((x >> seg) & 0x0F);
}

// Decoder output values (Tables 1 and 2, "decoder output value"), in 16-bit scale.
constexpr int UlawMagnitude16(int m) {
  const int seg = m >> 4, q = m & 0x0F;
  return (((2 * q + kUlawBias) << seg) - kUlawBias) * 4;
}

constexpr int AlawMagnitude16(int m) {
  const int seg = m >> 4, q = m & 0x0F;
  return (seg == 0 ? 2 * q + 1 : (2 * q + 33) << (seg - 1)) * 8;
}

constexpr std::int16_t DecodeUlawRef(int code) {
  const int inv = ~code & 0xFF;  // mu-law characters are transmitted with every bit inverted
  const int mag = UlawMagnitude16(inv & 0x7F);
  return static_cast<std::int16_t>((inv & kSignBit) ? -mag : mag);
}

constexpr std::int16_t DecodeAlawRef(int code) {
  const int x = code ^ 0x55;  // A-law inverts the even bits (alternate digit inversion)
  const int mag = AlawMagnitude16(x & 0x7F);
  return static_cast<std::int16_t>((x & kSignBit) ? mag : -mag);
}

constexpr int Magnitude(int pcm) { return pcm < 0 ? -pcm : pcm; }

constexpr std::uint8_t EncodeUlawRef(int pcm) {
  const int m = UlawMagnitudeCode(Magnitude(pcm) >> 2);
  return static_cast<std::uint8_t>(m ^ (pcm < 0 ? 0x7F : 0xFF));
}

constexpr std::uint8_t EncodeAlawRef(int pcm) {
  const int m = AlawMagnitudeCode(Magnitude(pcm) >> 3);
  return static_cast<std::uint8_t>(m ^ (pcm < 0 ? 0x55 : 0xD5));
}

template <typename T, std::size_t N, typename F>
constexpr std::array<T, N> MakeTable(F f) {
  std::array<T, N> t{};
  for (std::size_t i = 0; i < N; ++i) t[i] = f(static_cast<int>(i));
  return t;
}

constexpr auto kUlawDecode = MakeTable<std::int16_t, 256>(DecodeUlawRef);
constexpr auto kAlawDecode = MakeTable<std::int16_t, 256>(DecodeAlawRef);
// Encode tables hold the magnitude code for |pcm| >> 2 (mu-law) and |pcm| >> 3 (A-law); |pcm| <= 32768.
constexpr auto kUlawEncode =
    MakeTable<std::uint8_t, 8193>([](int i) { return static_cast<std::uint8_t>(UlawMagnitudeCode(i)); });
constexpr auto kAlawEncode =
    MakeTable<std::uint8_t, 4097>([](int i) { return static_cast<std::uint8_t>(AlawMagnitudeCode(i)); });
// Transcoding: the source law's decoder output re-quantised with the target law's decision values.
constexpr auto kU2A = MakeTable<std::uint8_t, 256>([](int c) { return EncodeAlawRef(DecodeUlawRef(c)); });
constexpr auto kA2U = MakeTable<std::uint8_t, 256>([](int c) { return EncodeUlawRef(DecodeAlawRef(c)); });

}  // namespace

const std::int16_t* const kUlawToLinear = kUlawDecode.data();
const std::int16_t* const kAlawToLinear = kAlawDecode.data();
const std::uint8_t* const kUlawToAlaw = kU2A.data();
const std::uint8_t* const kAlawToUlaw = kA2U.data();

std::uint8_t EncodeUlaw(std::int16_t pcm) { return EncodeUlawRef(pcm); }
std::int16_t DecodeUlaw(std::uint8_t code) { return DecodeUlawRef(code); }
std::uint8_t EncodeAlaw(std::int16_t pcm) { return EncodeAlawRef(pcm); }
std::int16_t DecodeAlaw(std::uint8_t code) { return DecodeAlawRef(code); }

std::uint8_t LinearToUlaw(std::int16_t pcm) {
  const int v = pcm;
  const int mask = v >> 31;  // 0 or -1
  const int mag = (v ^ mask) - mask;
  return static_cast<std::uint8_t>(kUlawEncode[static_cast<unsigned>(mag) >> 2] ^ (0xFF ^ (mask & 0x80)));
}

std::uint8_t LinearToAlaw(std::int16_t pcm) {
  const int v = pcm;
  const int mask = v >> 31;
  const int mag = (v ^ mask) - mask;
  return static_cast<std::uint8_t>(kAlawEncode[static_cast<unsigned>(mag) >> 3] ^ (0xD5 ^ (mask & 0x80)));
}

void UlawToLinearBuffer(const std::uint8_t* in, std::int16_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = kUlawDecode[in[i]];
}

void AlawToLinearBuffer(const std::uint8_t* in, std::int16_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = kAlawDecode[in[i]];
}

void LinearToUlawBuffer(const std::int16_t* in, std::uint8_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = LinearToUlaw(in[i]);
}

void LinearToAlawBuffer(const std::int16_t* in, std::uint8_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = LinearToAlaw(in[i]);
}

void UlawToAlawBuffer(const std::uint8_t* in, std::uint8_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = kU2A[in[i]];
}

void AlawToUlawBuffer(const std::uint8_t* in, std::uint8_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = kA2U[in[i]];
}

}  // namespace g711
}  // namespace switchhook
