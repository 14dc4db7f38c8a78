// G.711 mu-law and A-law (ITU-T Recommendation G.711, 11/1988): per-sample encode/decode, table-driven
// buffer paths, and mu-law <-> A-law transcoding tables. Plain C++17, no N-API: the RTP bridge and the
// fuzz targets call it directly; src/native/g711.ts reaches it through g711_binding.cpp.
//
// Linear samples are 16-bit two's complement. G.711 works on 14-bit (mu-law) and 13-bit (A-law)
// magnitudes; the 16-bit values here are those scaled by 4 (mu-law) and 8 (A-law), so a decoded sample is
// the G.711 "decoder output value" times 4 or 8 and the low bits are dropped when encoding.
#pragma once

#include <cstddef>
#include <cstdint>

namespace switchhook {
namespace g711 {

// Largest decoder output magnitude (16-bit scale): mu-law 8031 * 4, A-law 4032 * 8.
constexpr int kUlawMax = 32124;
constexpr int kAlawMax = 32256;

// Per-sample reference functions: the segment search written out as G.711 Tables 1 and 2 describe it.
std::uint8_t EncodeUlaw(std::int16_t pcm);
std::int16_t DecodeUlaw(std::uint8_t code);
std::uint8_t EncodeAlaw(std::int16_t pcm);
std::int16_t DecodeAlaw(std::uint8_t code);

// Table-driven fast paths (identical results to the functions above, checked by the tests).
// Decode tables: 256 entries. Encode tables are indexed by the 16-bit sample shifted right by 2 (mu-law,
// 16384 entries) or 3 (A-law, 8192 entries), offset to be non-negative.
extern const std::int16_t* const kUlawToLinear;
extern const std::int16_t* const kAlawToLinear;
extern const std::uint8_t* const kUlawToAlaw;
extern const std::uint8_t* const kAlawToUlaw;

inline std::int16_t UlawToLinear(std::uint8_t code) { return kUlawToLinear[code]; }
inline std::int16_t AlawToLinear(std::uint8_t code) { return kAlawToLinear[code]; }
std::uint8_t LinearToUlaw(std::int16_t pcm);
std::uint8_t LinearToAlaw(std::int16_t pcm);
inline std::uint8_t UlawToAlaw(std::uint8_t code) { return kUlawToAlaw[code]; }
inline std::uint8_t AlawToUlaw(std::uint8_t code) { return kAlawToUlaw[code]; }

// Buffer conversions; `in` and `out` may not overlap except where noted. `n` counts samples.
void UlawToLinearBuffer(const std::uint8_t* in, std::int16_t* out, std::size_t n);
void AlawToLinearBuffer(const std::uint8_t* in, std::int16_t* out, std::size_t n);
void LinearToUlawBuffer(const std::int16_t* in, std::uint8_t* out, std::size_t n);
void LinearToAlawBuffer(const std::int16_t* in, std::uint8_t* out, std::size_t n);
// Transcoding through the 256-entry tables; `in == out` (in place) is allowed.
void UlawToAlawBuffer(const std::uint8_t* in, std::uint8_t* out, std::size_t n);
void AlawToUlawBuffer(const std::uint8_t* in, std::uint8_t* out, std::size_t n);

}  // namespace g711
}  // namespace switchhook
