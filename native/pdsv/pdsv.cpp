// PDSV frame codec, sequence tracking and streaming deframer (docs/pdsv.md).
#include "pdsv/pdsv.h"

#include <array>

namespace switchhook {
namespace pdsv {
namespace {

// CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0 (check 0x29B1).
constexpr std::array<std::uint16_t, 256> MakeCrcTable() {
  std::array<std::uint16_t, 256> t{};
  for (int i = 0; i < 256; ++i) {
    std::uint16_t c = static_cast<std::uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) c = static_cast<std::uint16_t>((c & 0x8000) ? (c << 1) ^ 0x1021 : c << 1);
    t[i] = c;
  }
  return t;
}
constexpr auto kCrcTable = MakeCrcTable();

constexpr std::uint8_t kFlagDirection = 0x08;
constexpr std::uint8_t kFlagReset = 0x04;
constexpr std::uint8_t kFlagReserved = 0x03;

inline std::uint16_t Be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
inline std::uint32_t Be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline void Put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

Address ReadAddress(const std::uint8_t* f) {
  Address a;
  a.direction = (f[2] & kFlagDirection) ? Direction::kToGateway : Direction::kToPhone;
  a.reset = (f[2] & kFlagReset) != 0;
  a.port = Be16(f + 4);
  a.sequence = Be16(f + 6);
  return a;
}

// Checks a header at f (n >= kHeaderSize bytes available, sync already matched).
Error CheckHeader(const std::uint8_t* f) {
  if ((f[2] >> 4) != kVersion) return Error::kVersion;
  if (Be16(f + 8) > kMaxPayload) return Error::kLength;
  return Error::kNone;
}

bool CrcMatches(const std::uint8_t* f, std::size_t total) {
  const std::size_t body = total - kCrcSize;
  return Crc16CcittFalse(f + 2, body - 2) == Be16(f + body);
}

Error DecodeSignal(Direction dir, const std::uint8_t* p, std::size_t n, Signal* s) {
  if (n < 1) return Error::kLength;
  const bool up = dir == Direction::kToGateway;
  switch (p[0]) {
    case static_cast<std::uint8_t>(MessageId::kHook):
      if (n != 2) return Error::kLength;
      if (!up) return Error::kDirection;
      if (p[1] > static_cast<std::uint8_t>(HookState::kFlash)) return Error::kField;
      s->id = MessageId::kHook;
      s->hook = static_cast<HookState>(p[1]);
      return Error::kNone;
    case static_cast<std::uint8_t>(MessageId::kKey):
      if (n != 2) return Error::kLength;
      if (!up) return Error::kDirection;
      if (!KeyIsValid(p[1])) return Error::kField;
      s->id = MessageId::kKey;
      s->key = p[1];
      return Error::kNone;
    case static_cast<std::uint8_t>(MessageId::kDisplay): {
      if (n < 5 || n != 5u + p[4]) return Error::kLength;
      if (up) return Error::kDirection;
      const std::uint8_t row = p[1], column = p[2], flags = p[3], len = p[4];
      if (row >= kDisplayRows || column >= kDisplayColumns || (flags & ~kDisplayFlagClear) != 0 ||
          column + len > kDisplayColumns) {
        return Error::kField;
      }
      for (std::size_t i = 0; i < len; ++i) {
        if (p[5 + i] < 0x20 || p[5 + i] > 0x7E) return Error::kField;
      }
      s->id = MessageId::kDisplay;
      s->row = row;
      s->column = column;
      s->display_flags = flags;
      s->text = p + 5;
      s->text_length = len;
      return Error::kNone;
    }
    case static_cast<std::uint8_t>(MessageId::kLamp):
      if (n != 3) return Error::kLength;
      if (up) return Error::kDirection;
      if (p[1] > kMaxAppearance || p[2] > static_cast<std::uint8_t>(LampState::kWink)) return Error::kField;
      s->id = MessageId::kLamp;
      s->appearance = p[1];
      s->lamp = static_cast<LampState>(p[2]);
      return Error::kNone;
    case static_cast<std::uint8_t>(MessageId::kRinger):
      if (n != 3) return Error::kLength;
      if (up) return Error::kDirection;
      if (p[1] > static_cast<std::uint8_t>(RingerState::kOn) ||
          p[2] > static_cast<std::uint8_t>(RingCadence::kPriority)) {
        return Error::kField;
      }
      s->id = MessageId::kRinger;
      s->ringer = static_cast<RingerState>(p[1]);
      s->cadence = static_cast<RingCadence>(p[2]);
      return Error::kNone;
    case static_cast<std::uint8_t>(MessageId::kTone):
      if (n != 2) return Error::kLength;
      if (up) return Error::kDirection;
      if (p[1] > static_cast<std::uint8_t>(Tone::kConfirm)) return Error::kField;
      s->id = MessageId::kTone;
      s->tone = static_cast<Tone>(p[1]);
      return Error::kNone;
    default:
      return Error::kType;
  }
}

Error DecodeVoice(const std::uint8_t* p, std::size_t n, Voice* v) {
  if (n != kVoiceHeader + 80 && n != kVoiceHeader + 160) return Error::kLength;
  if (p[0] != static_cast<std::uint8_t>(Codec::kPcmu) && p[0] != static_cast<std::uint8_t>(Codec::kPcma)) {
    return Error::kField;
  }
  if ((p[1] & ~kVoiceFlagTalkspurt) != 0) return Error::kField;
  v->codec = static_cast<Codec>(p[0]);
  v->flags = p[1];
  v->timestamp = Be32(p + 2);
  v->samples = p + kVoiceHeader;
  v->sample_count = n - kVoiceHeader;
  return Error::kNone;
}

Error DecodeLink(const std::uint8_t* p, std::size_t n, Link* l) {
  if (n != 3) return Error::kLength;
  if (p[0] != static_cast<std::uint8_t>(LinkKind::kKeepAlive) &&
      p[0] != static_cast<std::uint8_t>(LinkKind::kKeepAliveAck)) {
    return Error::kField;
  }
  if (p[1] > static_cast<std::uint8_t>(LinkStatus::kOutOfService) || p[2] < 1 || p[2] > 60) return Error::kField;
  l->kind = static_cast<LinkKind>(p[0]);
  l->status = static_cast<LinkStatus>(p[1]);
  l->interval = p[2];
  return Error::kNone;
}

}  // namespace

const char* ErrorCode(Error e) {
  switch (e) {
    case Error::kNone: return "PDSV_OK";
    case Error::kSync: return "PDSV_ERR_SYNC";
    case Error::kCrc: return "PDSV_ERR_CRC";
    case Error::kLength: return "PDSV_ERR_LENGTH";
    case Error::kTruncated: return "PDSV_ERR_TRUNCATED";
    case Error::kVersion: return "PDSV_ERR_VERSION";
    case Error::kType: return "PDSV_ERR_TYPE";
    case Error::kField: return "PDSV_ERR_FIELD";
    case Error::kDirection: return "PDSV_ERR_DIRECTION";
    case Error::kSequence: return "PDSV_ERR_SEQUENCE";
  }
  return "PDSV_ERR_UNKNOWN";
}

std::uint16_t Crc16CcittFalse(const std::uint8_t* data, std::size_t n, std::uint16_t crc) {
  for (std::size_t i = 0; i < n; ++i) {
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrcTable[((crc >> 8) ^ data[i]) & 0xFF]);
  }
  return crc;
}

bool KeyIsValid(std::uint8_t key) {
  return key <= 0x0B || (key >= 0x10 && key <= 0x1A) || (key >= 0x40 && key < 0x40 + kMaxAppearance);
}

Error DecodePayload(FrameType type, Direction dir, const std::uint8_t* payload, std::size_t n, Frame* out) {
  switch (type) {
    case FrameType::kSignal: return DecodeSignal(dir, payload, n, &out->signal);
    case FrameType::kVoice: return DecodeVoice(payload, n, &out->voice);
    case FrameType::kLink: return DecodeLink(payload, n, &out->link);
  }
  return Error::kType;
}

std::size_t BuildFrame(const Address& a, FrameType type, const std::uint8_t* payload, std::size_t n,
                       std::uint8_t* out, std::size_t cap) {
  if (n > kMaxPayload || cap < kOverhead + n) return 0;
  Frame check;
  if (DecodePayload(type, a.direction, payload, n, &check) != Error::kNone) return 0;
  out[0] = kSync0;
  out[1] = kSync1;
  out[2] = static_cast<std::uint8_t>((kVersion << 4) | (a.direction == Direction::kToGateway ? kFlagDirection : 0) |
                                     (a.reset ? kFlagReset : 0));
  out[3] = static_cast<std::uint8_t>(type);
  Put16(out + 4, a.port);
  Put16(out + 6, a.sequence);
  Put16(out + 8, static_cast<std::uint16_t>(n));
  for (std::size_t i = 0; i < n; ++i) out[kHeaderSize + i] = payload[i];
  Put16(out + kHeaderSize + n, Crc16CcittFalse(out + 2, kHeaderSize - 2 + n));
  return kOverhead + n;
}

std::size_t BuildSignal(const Address& a, const Signal& s, std::uint8_t* out, std::size_t cap) {
  std::uint8_t p[5 + kDisplayColumns];
  std::size_t n = 0;
  p[n++] = static_cast<std::uint8_t>(s.id);
  switch (s.id) {
    case MessageId::kHook: p[n++] = static_cast<std::uint8_t>(s.hook); break;
    case MessageId::kKey: p[n++] = s.key; break;
    case MessageId::kDisplay:
      if (s.text_length > kDisplayColumns || (s.text_length > 0 && s.text == nullptr)) return 0;
      p[n++] = s.row;
      p[n++] = s.column;
      p[n++] = s.display_flags;
      p[n++] = s.text_length;
      for (std::size_t i = 0; i < s.text_length; ++i) p[n++] = s.text[i];
      break;
    case MessageId::kLamp:
      p[n++] = s.appearance;
      p[n++] = static_cast<std::uint8_t>(s.lamp);
      break;
    case MessageId::kRinger:
      p[n++] = static_cast<std::uint8_t>(s.ringer);
      p[n++] = static_cast<std::uint8_t>(s.cadence);
      break;
    case MessageId::kTone: p[n++] = static_cast<std::uint8_t>(s.tone); break;
    default: return 0;
  }
  return BuildFrame(a, FrameType::kSignal, p, n, out, cap);
}

std::size_t BuildVoice(const Address& a, const Voice& v, std::uint8_t* out, std::size_t cap) {
  if (v.sample_count != 80 && v.sample_count != 160) return 0;
  if (v.samples == nullptr) return 0;
  const std::size_t n = kVoiceHeader + v.sample_count;
  std::uint8_t p[kVoiceHeader + 160];
  p[0] = static_cast<std::uint8_t>(v.codec);
  p[1] = v.flags;
  p[2] = static_cast<std::uint8_t>(v.timestamp >> 24);
  p[3] = static_cast<std::uint8_t>(v.timestamp >> 16);
  p[4] = static_cast<std::uint8_t>(v.timestamp >> 8);
  p[5] = static_cast<std::uint8_t>(v.timestamp);
  for (std::size_t i = 0; i < v.sample_count; ++i) p[kVoiceHeader + i] = v.samples[i];
  return BuildFrame(a, FrameType::kVoice, p, n, out, cap);
}

std::size_t BuildLink(const Address& a, const Link& l, std::uint8_t* out, std::size_t cap) {
  const std::uint8_t p[3] = {static_cast<std::uint8_t>(l.kind), static_cast<std::uint8_t>(l.status), l.interval};
  return BuildFrame(a, FrameType::kLink, p, sizeof p, out, cap);
}

Error ParseFrame(const std::uint8_t* data, std::size_t n, Frame* out) {
  if (n < 2 || data[0] != kSync0 || data[1] != kSync1) return Error::kSync;
  if (n < kHeaderSize) return Error::kTruncated;
  const Error h = CheckHeader(data);
  if (h != Error::kNone) return h;
  const std::size_t total = kOverhead + Be16(data + 8);
  if (n < total) return Error::kTruncated;
  if (n > total) return Error::kLength;
  if (!CrcMatches(data, total)) return Error::kCrc;
  if (data[2] & kFlagReserved) return Error::kField;
  out->address = ReadAddress(data);
  if (data[3] < static_cast<std::uint8_t>(FrameType::kSignal) || data[3] > static_cast<std::uint8_t>(FrameType::kLink)) {
    return Error::kType;
  }
  out->type = static_cast<FrameType>(data[3]);
  out->payload = data + kHeaderSize;
  out->payload_length = total - kOverhead;
  return DecodePayload(out->type, out->address.direction, out->payload, out->payload_length, out);
}

SequenceTracker::Verdict SequenceTracker::Check(const Address& a) {
  Verdict v;
  const std::uint32_t key = (std::uint32_t{a.port} << 1) | static_cast<std::uint32_t>(a.direction);
  auto it = state_.find(key);
  if (it == state_.end()) {
    state_.emplace(key, a.sequence);
    return v;
  }
  const std::uint16_t last = it->second;
  if (a.reset) {
    it->second = a.sequence;
    return v;
  }
  const std::uint16_t expected = static_cast<std::uint16_t>(last + 1);
  const std::uint16_t ahead = static_cast<std::uint16_t>(a.sequence - expected);
  if (ahead < 0x8000) {
    // In order (ahead == 0) or a forward gap of `ahead` lost frames (RFC 3550 A.1 style distance).
    if (ahead != 0) {
      v.issue = SequenceIssue::kGap;
      v.lost = ahead;
    }
    v.wrapped = a.sequence < last;
    it->second = a.sequence;
    return v;
  }
  v.accept = false;
  v.issue = a.sequence == last ? SequenceIssue::kDuplicate : SequenceIssue::kLate;
  return v;
}

void Deframer::Report(Error e, const Address& a, std::uint32_t count, SequenceIssue issue) {
  switch (e) {
    case Error::kSync: ++counters_.sync_errors; break;
    case Error::kCrc: ++counters_.crc_errors; break;
    case Error::kLength: ++counters_.length_errors; break;
    case Error::kTruncated: ++counters_.truncated; break;
    case Error::kVersion: ++counters_.version_errors; break;
    case Error::kType: ++counters_.type_errors; break;
    case Error::kField: ++counters_.field_errors; break;
    case Error::kDirection: ++counters_.direction_errors; break;
    case Error::kSequence:
      if (issue == SequenceIssue::kGap) {
        ++counters_.sequence_gaps;
        counters_.frames_lost += count;
      } else if (issue == SequenceIssue::kDuplicate) {
        ++counters_.duplicates;
      } else {
        ++counters_.late;
      }
      break;
    case Error::kNone: return;
  }
  ErrorEvent ev;
  ev.error = e;
  ev.sequence_issue = issue;
  ev.address = a;
  ev.count = count;
  sink_->OnError(ev);
}

void Deframer::FlushSkipped() {
  if (skipped_ > 0 && !resync_) Report(Error::kSync, Address{}, skipped_);
  skipped_ = 0;
  resync_ = false;
}

void Deframer::Deliver(const std::uint8_t* f, std::size_t total) {
  const Address a = ReadAddress(f);
  if (f[2] & kFlagReserved) {
    Report(Error::kField, a, 0);
    return;
  }
  const SequenceTracker::Verdict v = seq_.Check(a);
  if (a.reset) ++counters_.resets;
  if (v.wrapped) ++counters_.wraps;
  if (v.issue != SequenceIssue::kNone) Report(Error::kSequence, a, v.lost, v.issue);
  if (!v.accept) return;
  Frame frame;
  frame.address = a;
  frame.payload = f + kHeaderSize;
  frame.payload_length = total - kOverhead;
  const std::uint8_t type = f[3];
  if (type < static_cast<std::uint8_t>(FrameType::kSignal) || type > static_cast<std::uint8_t>(FrameType::kLink)) {
    Report(Error::kType, a, 0);
    return;
  }
  frame.type = static_cast<FrameType>(type);
  const Error e = DecodePayload(frame.type, a.direction, frame.payload, frame.payload_length, &frame);
  if (e != Error::kNone) {
    Report(e, a, 0);
    return;
  }
  ++counters_.frames;
  switch (frame.type) {
    case FrameType::kSignal: ++counters_.signal_frames; break;
    case FrameType::kVoice: ++counters_.voice_frames; break;
    case FrameType::kLink: ++counters_.link_frames; break;
  }
  sink_->OnFrame(frame);
}

std::size_t Deframer::Scan(const std::uint8_t* d, std::size_t n) {
  std::size_t pos = 0;
  while (pos < n) {
    if (d[pos] != kSync0 || (pos + 1 < n && d[pos + 1] != kSync1)) {
      ++pos;
      ++skipped_;
      ++counters_.bytes_skipped;
      continue;
    }
    if (pos + 1 >= n) break;  // a lone first sync byte at the end: wait for the next byte
    FlushSkipped();
    if (n - pos < kHeaderSize) break;
    const std::uint8_t* f = d + pos;
    Error e = CheckHeader(f);
    const std::size_t total = kOverhead + Be16(f + 8);
    if (e == Error::kNone) {
      if (n - pos < total) break;
      if (!CrcMatches(f, total)) e = Error::kCrc;
    }
    if (e != Error::kNone) {
      // The header or CRC is bad, so the length cannot be trusted: drop one byte and hunt for sync.
      Report(e, ReadAddress(f), 0);
      resync_ = true;
      ++pos;
      ++skipped_;
      ++counters_.bytes_skipped;
      continue;
    }
    Deliver(f, total);
    pos += total;
  }
  return pos;
}

void Deframer::Push(const std::uint8_t* data, std::size_t n) {
  counters_.bytes += n;
  if (buf_.empty()) {
    const std::size_t used = Scan(data, n);
    buf_.assign(data + used, data + n);
    return;
  }
  buf_.insert(buf_.end(), data, data + n);
  const std::size_t used = Scan(buf_.data(), buf_.size());
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(used));
}

void Deframer::PushDatagram(const std::uint8_t* data, std::size_t n) {
  counters_.bytes += n;
  Address a;
  if (n >= kHeaderSize) a = ReadAddress(data);
  if (n < 2 || data[0] != kSync0 || data[1] != kSync1) {
    counters_.bytes_skipped += n;
    Report(Error::kSync, Address{}, static_cast<std::uint32_t>(n));
    return;
  }
  if (n < kHeaderSize) {
    Report(Error::kTruncated, a, static_cast<std::uint32_t>(n));
    return;
  }
  Error e = CheckHeader(data);
  const std::size_t total = kOverhead + Be16(data + 8);
  if (e == Error::kNone) {
    if (n < total) {
      e = Error::kTruncated;
    } else if (n > total) {
      e = Error::kLength;
    } else if (!CrcMatches(data, total)) {
      e = Error::kCrc;
    }
  }
  if (e != Error::kNone) {
    Report(e, a, e == Error::kTruncated ? static_cast<std::uint32_t>(n) : 0);
    return;
  }
  Deliver(data, total);
}

void Deframer::Finish() {
  const std::size_t pending = buf_.size();
  if (pending > 0) {
    // What is left is either a lone sync byte or a frame whose end never came.
    counters_.bytes_skipped += pending;
    if (pending >= 2) {
      FlushSkipped();
      Report(Error::kTruncated, pending >= kHeaderSize ? ReadAddress(buf_.data()) : Address{},
             static_cast<std::uint32_t>(pending));
    } else {
      ++skipped_;
    }
  }
  FlushSkipped();
  buf_.clear();
}

void Deframer::Reset() {
  buf_.clear();
  seq_.Clear();
  counters_ = Counters{};
  skipped_ = 0;
  resync_ = false;
}

}  // namespace pdsv
}  // namespace switchhook
