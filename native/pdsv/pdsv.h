// PDSV, the private digital signals-and-voice line protocol between a line gateway and digital desk
// phones (docs/pdsv.md is the specification). Plain C++17 over byte spans, no N-API: the RTP bridge and
// the fuzz targets call it directly; pdsv_binding.cpp exposes it to TypeScript.
//
// Frame (big-endian), CRC-16/CCITT-FALSE over bytes 2 .. 9+length:
//   A5 3C | ver:4 dir:1 reset:1 rsv:2 | type | port:16 | sequence:16 | length:16 | payload | crc:16
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace switchhook {
namespace pdsv {

constexpr std::uint8_t kSync0 = 0xA5;
constexpr std::uint8_t kSync1 = 0x3C;
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeaderSize = 10;
constexpr std::size_t kCrcSize = 2;
constexpr std::size_t kOverhead = kHeaderSize + kCrcSize;
constexpr std::size_t kMaxPayload = 512;
constexpr std::size_t kMaxFrame = kOverhead + kMaxPayload;
constexpr std::size_t kDisplayColumns = 40;
constexpr std::size_t kDisplayRows = 4;
constexpr std::uint8_t kMaxAppearance = 64;
constexpr std::size_t kVoiceHeader = 6;  // codec, flags, timestamp:32
constexpr std::uint16_t kCrcCheck = 0x29B1;  // CRC-16/CCITT-FALSE of ASCII "123456789"

enum class Direction : std::uint8_t { kToPhone = 0, kToGateway = 1 };
enum class FrameType : std::uint8_t { kSignal = 1, kVoice = 2, kLink = 3 };
enum class MessageId : std::uint8_t {
  kHook = 1,     // phone -> gateway
  kKey = 2,      // phone -> gateway
  kDisplay = 3,  // gateway -> phone
  kLamp = 4,     // gateway -> phone
  kRinger = 5,   // gateway -> phone
  kTone = 6,     // gateway -> phone
};
enum class HookState : std::uint8_t { kOnHook = 0, kOffHook = 1, kFlash = 2 };
enum class LampState : std::uint8_t { kOff = 0, kOn = 1, kFlash = 2, kWink = 3 };
enum class RingerState : std::uint8_t { kOff = 0, kOn = 1 };
enum class RingCadence : std::uint8_t { kNormal = 0, kInternal = 1, kPriority = 2 };
enum class Tone : std::uint8_t {
  kOff = 0, kDial = 1, kRingback = 2, kBusy = 3, kReorder = 4, kCallWaiting = 5, kConfirm = 6
};
// RTP static payload type numbers (RFC 3551): 0 = PCMU, 8 = PCMA.
enum class Codec : std::uint8_t { kPcmu = 0, kPcma = 8 };
enum class LinkKind : std::uint8_t { kKeepAlive = 1, kKeepAliveAck = 2 };
enum class LinkStatus : std::uint8_t { kInService = 0, kOutOfService = 1 };

constexpr std::uint8_t kDisplayFlagClear = 0x01;
constexpr std::uint8_t kVoiceFlagTalkspurt = 0x01;

// Stable error codes; ErrorCode() gives the PDSV_ERR_* string used in TypeScript and logs.
enum class Error : std::uint8_t {
  kNone = 0,
  kSync,       // bytes that are not a frame where a frame should start (skipped)
  kCrc,        // CRC-16/CCITT-FALSE mismatch
  kLength,     // length over kMaxPayload, or not what the frame type / message requires
  kTruncated,  // datagram or end of stream before the end of the frame
  kVersion,    // version field is not 1
  kType,       // unknown frame type or signal message id
  kField,      // a field value outside its range (state, key, text, codec, reserved bits)
  kDirection,  // a message sent in the wrong direction (e.g. a lamp from a phone)
  kSequence,   // sequence gap, duplicate or late frame
};
const char* ErrorCode(Error e);

enum class SequenceIssue : std::uint8_t { kNone = 0, kGap = 1, kDuplicate = 2, kLate = 3 };

std::uint16_t Crc16CcittFalse(const std::uint8_t* data, std::size_t n, std::uint16_t crc = 0xFFFF);

struct Address {
  Direction direction = Direction::kToPhone;
  std::uint16_t port = 0;
  std::uint16_t sequence = 0;
  bool reset = false;  // the sender restarted its sequence numbering at this frame
};

struct Signal {
  MessageId id = MessageId::kHook;
  HookState hook = HookState::kOnHook;
  std::uint8_t key = 0;  // see KeyIsValid
  std::uint8_t row = 0, column = 0, display_flags = 0;
  const std::uint8_t* text = nullptr;  // display text: a view into the frame, printable ASCII
  std::uint8_t text_length = 0;
  std::uint8_t appearance = 0;  // 0 = message-waiting lamp, 1..64 = call appearances
  LampState lamp = LampState::kOff;
  RingerState ringer = RingerState::kOff;
  RingCadence cadence = RingCadence::kNormal;
  Tone tone = Tone::kOff;
};

struct Voice {
  Codec codec = Codec::kPcmu;
  std::uint8_t flags = 0;
  std::uint32_t timestamp = 0;  // 8 kHz sample clock of the first sample
  const std::uint8_t* samples = nullptr;  // a view into the frame
  std::size_t sample_count = 0;          // 80 (10 ms) or 160 (20 ms)
};

struct Link {
  LinkKind kind = LinkKind::kKeepAlive;
  LinkStatus status = LinkStatus::kInService;
  std::uint8_t interval = 0;  // the sender's keep-alive period in seconds, 1..60
};

struct Frame {
  Address address;
  FrameType type = FrameType::kSignal;
  const std::uint8_t* payload = nullptr;
  std::size_t payload_length = 0;
  Signal signal;  // valid when type == kSignal
  Voice voice;    // valid when type == kVoice
  Link link;      // valid when type == kLink
};

// Keys: 0x00-0x09 digits, 0x0A '*', 0x0B '#', 0x10-0x1A fixed feature keys, 0x40 + n - 1 for
// appearance/programmable key n (1..64).
bool KeyIsValid(std::uint8_t key);

// Builders write one whole frame into out[0..cap) and return its size, or 0 when cap is too small or a
// field is invalid (same checks as the parser).
std::size_t BuildFrame(const Address& a, FrameType type, const std::uint8_t* payload, std::size_t n,
                       std::uint8_t* out, std::size_t cap);
std::size_t BuildSignal(const Address& a, const Signal& s, std::uint8_t* out, std::size_t cap);
std::size_t BuildVoice(const Address& a, const Voice& v, std::uint8_t* out, std::size_t cap);
std::size_t BuildLink(const Address& a, const Link& l, std::uint8_t* out, std::size_t cap);

// Decodes a payload of a CRC-checked frame into out->signal / voice / link (views into `payload`).
Error DecodePayload(FrameType type, Direction dir, const std::uint8_t* payload, std::size_t n, Frame* out);

// Parses exactly one frame occupying all of data[0..n) (a UDP datagram). No sequence check.
Error ParseFrame(const std::uint8_t* data, std::size_t n, Frame* out);

// Per (port, direction) sequence state: in order, gap (frame kept, `lost` frames missing), duplicate or
// late (frame dropped). The first frame of a port and frames with the reset flag set the baseline.
class SequenceTracker {
 public:
  struct Verdict {
    SequenceIssue issue = SequenceIssue::kNone;
    std::uint32_t lost = 0;
    bool wrapped = false;  // the sequence number went through 65535 -> 0
    bool accept = true;
  };
  Verdict Check(const Address& a);
  void Clear() { state_.clear(); }
  std::size_t size() const { return state_.size(); }

 private:
  std::unordered_map<std::uint32_t, std::uint16_t> state_;  // key: port << 1 | direction -> last seq
};

struct Counters {
  std::uint64_t bytes = 0, frames = 0, signal_frames = 0, voice_frames = 0, link_frames = 0;
  std::uint64_t sync_errors = 0, bytes_skipped = 0, crc_errors = 0, length_errors = 0, truncated = 0;
  std::uint64_t version_errors = 0, type_errors = 0, field_errors = 0, direction_errors = 0;
  std::uint64_t sequence_gaps = 0, frames_lost = 0, duplicates = 0, late = 0, wraps = 0, resets = 0;
};

struct ErrorEvent {
  Error error = Error::kNone;
  SequenceIssue sequence_issue = SequenceIssue::kNone;
  Address address;          // of the frame, when the frame header was readable
  std::uint32_t count = 0;  // bytes skipped (sync, truncated) or frames lost (gap)
};

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual void OnFrame(const Frame& frame) = 0;  // views are valid only during the call
  virtual void OnError(const ErrorEvent& error) = 0;
};

// Streaming deframer for a TCP byte stream (frames back to back) or UDP datagrams (one frame each).
// Resynchronises on the sync pattern after corruption: a bad header or CRC drops one byte and scans on.
// Not thread-safe; one instance per link.
class Deframer {
 public:
  explicit Deframer(FrameSink* sink) : sink_(sink) {}

  void Push(const std::uint8_t* data, std::size_t n);
  void PushDatagram(const std::uint8_t* data, std::size_t n);
  // End of stream: reports a pending garbage run and a partial frame (truncated), clears the buffer.
  void Finish();
  void Reset();

  const Counters& counters() const { return counters_; }
  std::size_t buffered() const { return buf_.size(); }

 private:
  std::size_t Scan(const std::uint8_t* data, std::size_t n);
  void Deliver(const std::uint8_t* frame, std::size_t n);
  void Report(Error e, const Address& a, std::uint32_t count, SequenceIssue issue = SequenceIssue::kNone);
  void FlushSkipped();

  FrameSink* sink_;
  std::vector<std::uint8_t> buf_;
  SequenceTracker seq_;
  Counters counters_;
  std::uint32_t skipped_ = 0;  // garbage run in progress
  bool resync_ = false;        // skipping after a bad frame: the run is not reported as PDSV_ERR_SYNC
};

}  // namespace pdsv
}  // namespace switchhook
