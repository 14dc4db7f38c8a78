// RTP and RTCP wire parsing and building (RFC 3550 §5.1, §6.4, §6.5, §6.6; RFC 4733 §2.3; RFC 5761 §4).
// Private to native/rtp/. Plain C++ without N-API, so the fuzz target links it alone. Views point into the
// caller's buffer; nothing is copied.
#pragma once
#include <cstddef>
#include <cstdint>

namespace switchhook::rtp {

/** Why a datagram is not usable; every value is a drop counter. */
enum class ParseStatus : uint8_t {
  kOk = 0,
  kShort,      // shorter than the fixed header
  kVersion,    // V != 2
  kMalformed,  // CSRC list, extension, padding or RTCP length run past the datagram
};

/** The fixed RTP header and where the payload lies (RFC 3550 §5.1). */
struct RtpView {
  uint8_t payload_type = 0;
  bool marker = false;
  uint16_t seq = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  size_t payload_offset = 0;
  size_t payload_len = 0;  // without padding
};

constexpr size_t kRtpHeaderLen = 12;

/** Parses an RTP packet; `out` is filled only on kOk. */
ParseStatus ParseRtp(const uint8_t* data, size_t len, RtpView* out);

/** RFC 5761 §4: packet types 192-223 (second byte) are RTCP when RTP and RTCP share a port. */
bool IsRtcpPacketType(const uint8_t* data, size_t len);

enum RtcpType : uint8_t { kSr = 200, kRr = 201, kSdes = 202, kBye = 203, kApp = 204 };

/** One packet of a compound RTCP datagram: its type, count field and byte range. */
struct RtcpPart {
  uint8_t type = 0;
  uint8_t count = 0;
  uint16_t offset = 0;
  uint16_t length = 0;  // bytes, header included
};

/** A report block (RFC 3550 §6.4.1), decoded. */
struct ReportBlock {
  uint32_t ssrc = 0;
  uint8_t fraction_lost = 0;
  int32_t cumulative_lost = 0;  // 24-bit signed
  uint32_t ext_highest_seq = 0;
  uint32_t jitter = 0;
  uint32_t lsr = 0;
  uint32_t dlsr = 0;
};

constexpr size_t kMaxRtcpParts = 16;

/** A validated compound RTCP datagram (RFC 3550 §6.1): first part SR or RR, lengths add up exactly. */
struct RtcpCompound {
  RtcpPart parts[kMaxRtcpParts];
  size_t count = 0;
};

/** Walks and validates a compound RTCP datagram. */
ParseStatus ParseRtcp(const uint8_t* data, size_t len, RtcpCompound* out);

/** Reads report block `index` of an SR or RR part (checked against the part's length). */
bool ReadReportBlock(const uint8_t* data, const RtcpPart& part, size_t index, ReportBlock* out);

/** Where an SSRC sits in a compound RTCP packet. */
enum class SsrcField : uint8_t { kSender, kReportBlock, kSdesChunk, kBye };

/**
 * Calls `fn(ctx, field, kind)` for every SSRC field of a compound already validated by ParseRtcp: the
 * sender of SR/RR (§6.4), each report block (the pointer is the block's start), each SDES chunk (§6.5) and
 * each BYE source (§6.6). Returns the number of fields visited. Never reads outside the parts.
 */
size_t VisitRtcpSsrcs(uint8_t* data, const RtcpCompound& compound, void (*fn)(void*, uint8_t*, SsrcField),
                      void* ctx);

/** Writes one 24-byte report block at `dst`. */
void WriteReportBlock(uint8_t* dst, const ReportBlock& block);

/** RFC 4733 §2.3 telephone-event payload. */
struct TelephoneEvent {
  uint8_t event = 0;
  bool end = false;
  uint8_t volume = 0;
  uint16_t duration = 0;
};

bool ParseTelephoneEvent(const uint8_t* payload, size_t len, TelephoneEvent* out);

inline uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Load32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void Store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Store32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace switchhook::rtp
