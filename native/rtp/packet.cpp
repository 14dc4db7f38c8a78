#include "rtp/packet.h"

namespace switchhook::rtp {

ParseStatus ParseRtp(const uint8_t* data, size_t len, RtpView* out) {
  if (len < kRtpHeaderLen) return ParseStatus::kShort;
  if ((data[0] >> 6) != 2) return ParseStatus::kVersion;
  const bool padding = (data[0] & 0x20) != 0;
  const bool extension = (data[0] & 0x10) != 0;
  const size_t csrc_count = data[0] & 0x0f;
  size_t offset = kRtpHeaderLen + 4 * csrc_count;
  if (offset > len) return ParseStatus::kMalformed;
  if (extension) {
    // RFC 3550 §5.3.1: 16-bit profile word, 16-bit length in 32-bit words, then the words.
    if (offset + 4 > len) return ParseStatus::kMalformed;
    offset += 4 + 4 * static_cast<size_t>(Load16(data + offset + 2));
    if (offset > len) return ParseStatus::kMalformed;
  }
  size_t end = len;
  if (padding) {
    // RFC 3550 §5.1: the last octet counts the padding octets, itself included.
    const size_t pad = data[len - 1];
    if (pad == 0 || offset + pad > len) return ParseStatus::kMalformed;
    end -= pad;
  }
  out->payload_type = data[1] & 0x7f;
  out->marker = (data[1] & 0x80) != 0;
  out->seq = Load16(data + 2);
  out->timestamp = Load32(data + 4);
  out->ssrc = Load32(data + 8);
  out->payload_offset = offset;
  out->payload_len = end - offset;
  return ParseStatus::kOk;
}

bool IsRtcpPacketType(const uint8_t* data, size_t len) {
  return len >= 2 && data[1] >= 192 && data[1] <= 223;
}

ParseStatus ParseRtcp(const uint8_t* data, size_t len, RtcpCompound* out) {
  if (len < 8) return ParseStatus::kShort;
  out->count = 0;
  size_t offset = 0;
  while (offset < len) {
    if (len - offset < 4) return ParseStatus::kMalformed;
    const uint8_t* p = data + offset;
    if ((p[0] >> 6) != 2) return ParseStatus::kVersion;
    const size_t part_len = 4 * (static_cast<size_t>(Load16(p + 2)) + 1);
    if (part_len > len - offset) return ParseStatus::kMalformed;
    // RFC 3550 §6.4.1: padding only on the last packet of a compound.
    if ((p[0] & 0x20) != 0 && offset + part_len != len) return ParseStatus::kMalformed;
    if (out->count == kMaxRtcpParts) return ParseStatus::kMalformed;
    RtcpPart& part = out->parts[out->count++];
    part.type = p[1];
    part.count = p[0] & 0x1f;
    part.offset = static_cast<uint16_t>(offset);
    part.length = static_cast<uint16_t>(part_len);
    if (part.type == kSr && part_len < 28 + 24 * static_cast<size_t>(part.count)) return ParseStatus::kMalformed;
    if (part.type == kRr && part_len < 8 + 24 * static_cast<size_t>(part.count)) return ParseStatus::kMalformed;
    offset += part_len;
    if (offset > 0xffff) return ParseStatus::kMalformed;
  }
  // RFC 3550 §6.1: a compound packet starts with SR or RR.
  if (out->parts[0].type != kSr && out->parts[0].type != kRr) return ParseStatus::kMalformed;
  return ParseStatus::kOk;
}

bool ReadReportBlock(const uint8_t* data, const RtcpPart& part, size_t index, ReportBlock* out) {
  if (part.type != kSr && part.type != kRr) return false;
  if (index >= part.count) return false;
  const size_t first = part.type == kSr ? 28 : 8;
  const size_t at = first + 24 * index;
  if (at + 24 > part.length) return false;
  const uint8_t* p = data + part.offset + at;
  out->ssrc = Load32(p);
  out->fraction_lost = p[4];
  uint32_t lost = (static_cast<uint32_t>(p[5]) << 16) | (static_cast<uint32_t>(p[6]) << 8) | p[7];
  if (lost & 0x800000) lost |= 0xff000000u;
  out->cumulative_lost = static_cast<int32_t>(lost);
  out->ext_highest_seq = Load32(p + 8);
  out->jitter = Load32(p + 12);
  out->lsr = Load32(p + 16);
  out->dlsr = Load32(p + 20);
  return true;
}

void WriteReportBlock(uint8_t* dst, const ReportBlock& block) {
  Store32(dst, block.ssrc);
  dst[4] = block.fraction_lost;
  int32_t lost = block.cumulative_lost;
  if (lost > 0x7fffff) lost = 0x7fffff;
  if (lost < -0x800000) lost = -0x800000;
  const uint32_t bits = static_cast<uint32_t>(lost) & 0xffffff;
  dst[5] = static_cast<uint8_t>(bits >> 16);
  dst[6] = static_cast<uint8_t>(bits >> 8);
  dst[7] = static_cast<uint8_t>(bits);
  Store32(dst + 8, block.ext_highest_seq);
  Store32(dst + 12, block.jitter);
  Store32(dst + 16, block.lsr);
  Store32(dst + 20, block.dlsr);
}

size_t VisitRtcpSsrcs(uint8_t* data, const RtcpCompound& compound, void (*fn)(void*, uint8_t*, SsrcField),
                      void* ctx) {
  size_t visited = 0;
  for (size_t i = 0; i < compound.count; ++i) {
    const RtcpPart& part = compound.parts[i];
    uint8_t* p = data + part.offset;
    switch (part.type) {
      case kSr:
      case kRr: {
        // ParseRtcp checked that the sender SSRC and every announced block fit in the part.
        fn(ctx, p + 4, SsrcField::kSender);
        ++visited;
        const size_t first = part.type == kSr ? 28 : 8;
        for (size_t b = 0; b < part.count; ++b, ++visited) fn(ctx, p + first + 24 * b, SsrcField::kReportBlock);
        break;
      }
      case kSdes: {
        // Chunks: SSRC, items (type, length, text) up to a null type octet, padding to 32 bits.
        size_t at = 4;
        for (size_t chunk = 0; chunk < part.count && at + 4 <= part.length; ++chunk) {
          fn(ctx, p + at, SsrcField::kSdesChunk);
          ++visited;
          at += 4;
          while (at < part.length && p[at] != 0) {
            if (at + 2 > part.length) break;
            at += 2 + static_cast<size_t>(p[at + 1]);
          }
          at = (at + 4) & ~static_cast<size_t>(3);
        }
        break;
      }
      case kBye:
        for (size_t k = 0; k < part.count && 8 + 4 * k <= part.length; ++k, ++visited) {
          fn(ctx, p + 4 + 4 * k, SsrcField::kBye);
        }
        break;
      default:
        break;
    }
  }
  return visited;
}

bool ParseTelephoneEvent(const uint8_t* payload, size_t len, TelephoneEvent* out) {
  if (len < 4) return false;
  out->event = payload[0];
  out->end = (payload[1] & 0x80) != 0;
  out->volume = payload[1] & 0x3f;
  out->duration = Load16(payload + 2);
  return true;
}

}  // namespace switchhook::rtp
