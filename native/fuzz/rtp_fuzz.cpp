// libFuzzer target: the RTP and RTCP parsers of the bridge (native/rtp/packet.h), the RTCP SSRC visitor
// that relaying rewrites through, report block read/write, RFC 4733 payloads, receiver statistics over
// fuzzer-chosen sequence numbers and in-place G.711 transcoding. docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "rtp/packet.h"
#include "rtp/stats.h"
#include "rtp/transcode.h"

using namespace switchhook::rtp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A private copy: the bridge rewrites packets in place.
  std::vector<uint8_t> buf(data, data + size);
  uint8_t* p = buf.data();

  RtpView v;
  if (ParseRtp(p, size, &v) == ParseStatus::kOk) {
    if (v.payload_offset < kRtpHeaderLen || v.payload_offset + v.payload_len > size) std::abort();
    TelephoneEvent te;
    if (ParseTelephoneEvent(p + v.payload_offset, v.payload_len, &te) != (v.payload_len >= 4)) std::abort();
    if (te.volume > 63 && v.payload_len >= 4) std::abort();
    TranscodeG711(p + v.payload_offset, v.payload_len, kPtPcma, kPtPcmu);
    TranscodeG711(p + v.payload_offset, v.payload_len, kPtPcmu, kPtPcma);
  }

  RtcpCompound compound;
  if (ParseRtcp(p, size, &compound) == ParseStatus::kOk) {
    size_t covered = 0;
    for (size_t i = 0; i < compound.count; ++i) {
      const RtcpPart& part = compound.parts[i];
      if (part.offset != covered || part.length < 4) std::abort();
      covered += part.length;
      ReportBlock block;
      for (size_t b = 0; ReadReportBlock(p, part, b, &block); ++b) {
        // Writing a decoded block back must reproduce it.
        uint8_t again[24];
        WriteReportBlock(again, block);
        ReportBlock round;
        RtcpPart one{kRr, 1, 0, 32};
        uint8_t rr[32] = {0x81, kRr, 0, 7};
        std::memcpy(rr + 8, again, 24);
        if (!ReadReportBlock(rr, one, 0, &round) || round.ssrc != block.ssrc ||
            round.fraction_lost != block.fraction_lost || round.cumulative_lost != block.cumulative_lost ||
            round.ext_highest_seq != block.ext_highest_seq || round.jitter != block.jitter ||
            round.lsr != block.lsr || round.dlsr != block.dlsr) {
          std::abort();
        }
      }
    }
    if (covered != size) std::abort();
    // Rewrite every SSRC as the relay does; the result must still parse the same way.
    VisitRtcpSsrcs(
        p, compound, [](void*, uint8_t* field, SsrcField) { Store32(field, Load32(field) ^ 0x5a5a5a5au); }, nullptr);
    RtcpCompound after;
    if (ParseRtcp(p, size, &after) != ParseStatus::kOk || after.count != compound.count) std::abort();
  }

  // Receiver statistics over the input read as 16-bit sequence numbers and 32-bit arrival offsets.
  ReceiverStats stats;
  for (size_t i = 0; i + 6 <= size; i += 6) {
    const uint16_t seq = Load16(data + i);
    if (stats.started()) {
      stats.UpdateSeq(seq);
    } else {
      stats.Init(seq);
    }
    stats.UpdateJitter(static_cast<uint32_t>(i) * 160, Load32(data + i + 2));
    (void)stats.CumulativeLost();
    (void)stats.FractionLostInterval();
  }
  return 0;
}
