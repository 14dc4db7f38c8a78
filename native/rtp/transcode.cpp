#include "rtp/transcode.h"

#include "g711/g711.h"

namespace switchhook::rtp {

void TranscodeG711(uint8_t* samples, size_t len, uint8_t from, uint8_t to) {
  if (from == kPtPcmu && to == kPtPcma) {
    g711::UlawToAlawBuffer(samples, samples, len);
  } else if (from == kPtPcma && to == kPtPcmu) {
    g711::AlawToUlawBuffer(samples, samples, len);
  }
}

}  // namespace switchhook::rtp
