// Writes a small seed corpus for pdsv_fuzz: one file per message type, a voice frame of each codec and
// size, keep-alives, and a few streams (back to back, with garbage, with a bad CRC). Each file starts
// with the chunk-size byte the target reads first. Usage: pdsv_seeds OUTDIR
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "pdsv/pdsv.h"

namespace {

using namespace switchhook::pdsv;
using Bytes = std::vector<std::uint8_t>;

Bytes Copy(std::size_t n, const std::uint8_t* p) { return Bytes(p, p + n); }

void Write(const std::string& dir, const std::string& name, std::uint8_t chunk, const Bytes& body) {
  const std::string path = dir + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return;
  std::fputc(chunk, f);
  std::fwrite(body.data(), 1, body.size(), f);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::uint8_t buf[kMaxFrame];
  std::vector<Bytes> frames;
  Address up{Direction::kToGateway, 7, 1, false};
  Address down{Direction::kToPhone, 7, 1, false};

  Signal s;
  s.id = MessageId::kHook;
  s.hook = HookState::kOffHook;
  frames.push_back(Copy(BuildSignal(up, s, buf, sizeof buf), buf));
  s.id = MessageId::kKey;
  s.key = 0x0B;
  up.sequence = 2;
  frames.push_back(Copy(BuildSignal(up, s, buf, sizeof buf), buf));
  const char* text = "Line 1: 2001 Alice";
  s = Signal{};
  s.id = MessageId::kDisplay;
  s.row = 1;
  s.display_flags = kDisplayFlagClear;
  s.text = reinterpret_cast<const std::uint8_t*>(text);
  s.text_length = static_cast<std::uint8_t>(std::strlen(text));
  frames.push_back(Copy(BuildSignal(down, s, buf, sizeof buf), buf));
  s = Signal{};
  s.id = MessageId::kLamp;
  s.appearance = 2;
  s.lamp = LampState::kFlash;
  down.sequence = 2;
  frames.push_back(Copy(BuildSignal(down, s, buf, sizeof buf), buf));
  s = Signal{};
  s.id = MessageId::kRinger;
  s.ringer = RingerState::kOn;
  s.cadence = RingCadence::kInternal;
  down.sequence = 3;
  frames.push_back(Copy(BuildSignal(down, s, buf, sizeof buf), buf));
  s = Signal{};
  s.id = MessageId::kTone;
  s.tone = Tone::kBusy;
  down.sequence = 4;
  frames.push_back(Copy(BuildSignal(down, s, buf, sizeof buf), buf));
  std::uint8_t samples[160];
  for (int i = 0; i < 160; ++i) samples[i] = static_cast<std::uint8_t>(0xFF - (i & 0x0F));
  Voice v;
  v.samples = samples;
  v.sample_count = 160;
  v.timestamp = 0xFFFFFF60u;
  down.sequence = 0xFFFF;
  frames.push_back(Copy(BuildVoice(down, v, buf, sizeof buf), buf));
  v.codec = Codec::kPcma;
  v.sample_count = 80;
  v.flags = kVoiceFlagTalkspurt;
  up.sequence = 3;
  up.reset = true;
  frames.push_back(Copy(BuildVoice(up, v, buf, sizeof buf), buf));
  Link l;
  l.interval = 5;
  up.reset = false;
  up.sequence = 4;
  frames.push_back(Copy(BuildLink(up, l, buf, sizeof buf), buf));

  Bytes stream;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    Write(dir, "frame-" + std::to_string(i), 0, frames[i]);
    stream.insert(stream.end(), frames[i].begin(), frames[i].end());
  }
  Write(dir, "stream-whole", 0, stream);
  Write(dir, "stream-bytewise", 1, stream);
  Bytes noisy = {0x00, 0xA5, 0x11, 0xA5};
  noisy.insert(noisy.end(), frames[0].begin(), frames[0].end());
  noisy.insert(noisy.end(), {0xA5, 0x3C, 0x10});
  noisy.insert(noisy.end(), frames[2].begin(), frames[2].end());
  Write(dir, "stream-garbage", 7, noisy);
  Bytes bad = frames[3];
  bad[bad.size() - 1] ^= 0x01;
  bad.insert(bad.end(), frames[4].begin(), frames[4].end());
  Write(dir, "stream-badcrc", 13, bad);
  return 0;
}
