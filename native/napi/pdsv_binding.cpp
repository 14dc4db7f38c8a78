// N-API surface of the PDSV codec (src/native/pdsv.ts validates arguments and builds typed events).
// Decoded signals leave as one ArrayBuffer per push: [count, dataOffset] then `count` records of
// kRecordWords int32 words, then the bytes the records point at (display text, delivered voice).
#include <napi.h>

#include <cstring>
#include <vector>

#include "addon.h"
#include "pdsv/pdsv.h"

namespace switchhook {
namespace {

using namespace pdsv;

constexpr int kRecordWords = 11;
enum RecordKind : std::int32_t { kRecSignal = 1, kRecVoice = 2, kRecLink = 3, kRecError = 4 };

bool ReadAddress(const Napi::CallbackInfo& info, Address* a) {
  for (std::size_t i = 0; i < 4; ++i) {
    if (!info[i].IsNumber() && !info[i].IsBoolean()) return false;
  }
  const std::uint32_t dir = info[0].ToNumber().Uint32Value();
  const std::uint32_t port = info[1].ToNumber().Uint32Value();
  const std::uint32_t seq = info[2].ToNumber().Uint32Value();
  if (dir > 1 || port > 0xFFFF || seq > 0xFFFF) return false;
  a->direction = static_cast<Direction>(dir);
  a->port = static_cast<std::uint16_t>(port);
  a->sequence = static_cast<std::uint16_t>(seq);
  a->reset = info[3].ToBoolean().Value();
  return true;
}

bool ReadBytes(const Napi::CallbackInfo& info, std::size_t n, std::uint32_t* out) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!info[4 + i].IsNumber()) return false;
    out[i] = info[4 + i].As<Napi::Number>().Uint32Value();
    if (out[i] > 0xFF) return false;
  }
  return true;
}

Napi::Value Built(Napi::Env env, const std::uint8_t* buf, std::size_t n) {
  if (n == 0) return env.Null();
  return Napi::Buffer<std::uint8_t>::Copy(env, buf, n);
}

// pdsvBuildSignal(dir, port, seq, reset, id, a, b, c, text?: Uint8Array) -> Buffer | null
Napi::Value BuildSignalJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address a;
  std::uint32_t f[4];
  if (info.Length() < 9 || !ReadAddress(info, &a) || !ReadBytes(info, 4, f)) {
    Napi::TypeError::New(env, "pdsvBuildSignal: bad arguments").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Signal s;
  s.id = static_cast<MessageId>(f[0]);
  switch (s.id) {
    case MessageId::kHook: s.hook = static_cast<HookState>(f[1]); break;
    case MessageId::kKey: s.key = static_cast<std::uint8_t>(f[1]); break;
    case MessageId::kDisplay: {
      s.row = static_cast<std::uint8_t>(f[1]);
      s.column = static_cast<std::uint8_t>(f[2]);
      s.display_flags = static_cast<std::uint8_t>(f[3]);
      if (info[8].IsTypedArray() && info[8].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
        auto text = info[8].As<Napi::Uint8Array>();
        if (text.ElementLength() > kDisplayColumns) return env.Null();
        s.text = text.Data();
        s.text_length = static_cast<std::uint8_t>(text.ElementLength());
      }
      break;
    }
    case MessageId::kLamp:
      s.appearance = static_cast<std::uint8_t>(f[1]);
      s.lamp = static_cast<LampState>(f[2]);
      break;
    case MessageId::kRinger:
      s.ringer = static_cast<RingerState>(f[1]);
      s.cadence = static_cast<RingCadence>(f[2]);
      break;
    case MessageId::kTone: s.tone = static_cast<Tone>(f[1]); break;
    default: return env.Null();
  }
  std::uint8_t buf[kMaxFrame];
  return Built(env, buf, BuildSignal(a, s, buf, sizeof buf));
}

// pdsvBuildVoice(dir, port, seq, reset, codec, flags, timestamp, samples: Uint8Array) -> Buffer | null
Napi::Value BuildVoiceJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address a;
  std::uint32_t f[2];
  if (info.Length() < 8 || !ReadAddress(info, &a) || !ReadBytes(info, 2, f) || !info[6].IsNumber() ||
      !info[7].IsTypedArray() || info[7].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "pdsvBuildVoice: bad arguments").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto samples = info[7].As<Napi::Uint8Array>();
  Voice v;
  v.codec = static_cast<Codec>(f[0]);
  v.flags = static_cast<std::uint8_t>(f[1]);
  v.timestamp = static_cast<std::uint32_t>(info[6].As<Napi::Number>().Int64Value());
  v.samples = samples.Data();
  v.sample_count = samples.ElementLength();
  std::uint8_t buf[kMaxFrame];
  return Built(env, buf, BuildVoice(a, v, buf, sizeof buf));
}

// pdsvBuildLink(dir, port, seq, reset, kind, status, interval) -> Buffer | null
Napi::Value BuildLinkJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address a;
  std::uint32_t f[3];
  if (info.Length() < 7 || !ReadAddress(info, &a) || !ReadBytes(info, 3, f)) {
    Napi::TypeError::New(env, "pdsvBuildLink: bad arguments").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Link l;
  l.kind = static_cast<LinkKind>(f[0]);
  l.status = static_cast<LinkStatus>(f[1]);
  l.interval = static_cast<std::uint8_t>(f[2]);
  std::uint8_t buf[kMaxFrame];
  return Built(env, buf, BuildLink(a, l, buf, sizeof buf));
}

Napi::Value Crc16Js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "pdsvCrc16(Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto in = info[0].As<Napi::Uint8Array>();
  return Napi::Number::New(env, Crc16CcittFalse(in.Data(), in.ElementLength()));
}

Napi::Value ErrorCodesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int last = static_cast<int>(Error::kSequence);
  auto arr = Napi::Array::New(env, last + 1);
  for (int i = 0; i <= last; ++i) arr.Set(i, Napi::String::New(env, ErrorCode(static_cast<Error>(i))));
  return arr;
}

// Collects one push's frames and errors as compact records.
class BatchSink : public FrameSink {
 public:
  bool deliver_voice = false;
  std::vector<std::int32_t> records;
  std::vector<std::uint8_t> data;
  std::size_t count = 0;

  void OnFrame(const Frame& f) override {
    switch (f.type) {
      case FrameType::kSignal: {
        const Signal& s = f.signal;
        std::int32_t a = 0, b = 0, c = 0;
        std::size_t off = data.size(), len = 0;
        switch (s.id) {
          case MessageId::kHook: a = static_cast<std::int32_t>(s.hook); break;
          case MessageId::kKey: a = s.key; break;
          case MessageId::kDisplay:
            a = s.row;
            b = s.column;
            c = s.display_flags;
            data.insert(data.end(), s.text, s.text + s.text_length);
            len = s.text_length;
            break;
          case MessageId::kLamp:
            a = s.appearance;
            b = static_cast<std::int32_t>(s.lamp);
            break;
          case MessageId::kRinger:
            a = static_cast<std::int32_t>(s.ringer);
            b = static_cast<std::int32_t>(s.cadence);
            break;
          case MessageId::kTone: a = static_cast<std::int32_t>(s.tone); break;
        }
        Add(kRecSignal, f.address, static_cast<std::int32_t>(s.id), a, b, c, off, len);
        break;
      }
      case FrameType::kVoice: {
        const Voice& v = f.voice;
        const std::size_t off = data.size();
        std::size_t len = 0;
        if (deliver_voice) {
          data.insert(data.end(), v.samples, v.samples + v.sample_count);
          len = v.sample_count;
        }
        Add(kRecVoice, f.address, static_cast<std::int32_t>(v.codec), v.flags,
            static_cast<std::int32_t>(v.sample_count), static_cast<std::int32_t>(v.timestamp), off, len);
        break;
      }
      case FrameType::kLink:
        Add(kRecLink, f.address, static_cast<std::int32_t>(f.link.kind), static_cast<std::int32_t>(f.link.status),
            f.link.interval, 0, data.size(), 0);
        break;
    }
  }

  void OnError(const ErrorEvent& e) override {
    Add(kRecError, e.address, static_cast<std::int32_t>(e.error), static_cast<std::int32_t>(e.sequence_issue),
        static_cast<std::int32_t>(e.count), 0, data.size(), 0);
  }

  Napi::Value Take(Napi::Env env) {
    if (count == 0) return env.Undefined();
    const std::size_t head = (2 + records.size()) * sizeof(std::int32_t);
    auto ab = Napi::ArrayBuffer::New(env, head + data.size());
    auto* words = static_cast<std::int32_t*>(ab.Data());
    words[0] = static_cast<std::int32_t>(count);
    words[1] = static_cast<std::int32_t>(head);
    std::memcpy(words + 2, records.data(), records.size() * sizeof(std::int32_t));
    if (!data.empty()) std::memcpy(static_cast<std::uint8_t*>(ab.Data()) + head, data.data(), data.size());
    records.clear();
    data.clear();
    count = 0;
    return ab;
  }

 private:
  void Add(RecordKind kind, const Address& addr, std::int32_t id, std::int32_t a, std::int32_t b, std::int32_t c,
           std::size_t off, std::size_t len) {
    const std::int32_t rec[kRecordWords] = {kind, addr.port, static_cast<std::int32_t>(addr.direction),
                                            addr.sequence, addr.reset ? 1 : 0, id, a, b, c,
                                            static_cast<std::int32_t>(off), static_cast<std::int32_t>(len)};
    records.insert(records.end(), rec, rec + kRecordWords);
    ++count;
  }
};

// new PdsvDecoder(deliverVoice: boolean)
class DecoderWrap : public Napi::ObjectWrap<DecoderWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PdsvDecoder",
                       {InstanceMethod<&DecoderWrap::Push>("push"),
                        InstanceMethod<&DecoderWrap::PushDatagram>("pushDatagram"),
                        InstanceMethod<&DecoderWrap::Finish>("finish"), InstanceMethod<&DecoderWrap::Reset>("reset"),
                        InstanceMethod<&DecoderWrap::Counters>("counters"),
                        InstanceMethod<&DecoderWrap::Buffered>("buffered")});
  }

  explicit DecoderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DecoderWrap>(info), deframer_(&sink_) {
    sink_.deliver_voice = info.Length() > 0 && info[0].ToBoolean().Value();
  }

 private:
  bool Bytes(const Napi::CallbackInfo& info, Napi::Uint8Array* out) {
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      Napi::TypeError::New(info.Env(), "expected a Uint8Array").ThrowAsJavaScriptException();
      return false;
    }
    *out = info[0].As<Napi::Uint8Array>();
    return true;
  }

  Napi::Value Push(const Napi::CallbackInfo& info) {
    Napi::Uint8Array in;
    if (!Bytes(info, &in)) return info.Env().Undefined();
    deframer_.Push(in.Data(), in.ElementLength());
    return sink_.Take(info.Env());
  }

  Napi::Value PushDatagram(const Napi::CallbackInfo& info) {
    Napi::Uint8Array in;
    if (!Bytes(info, &in)) return info.Env().Undefined();
    deframer_.PushDatagram(in.Data(), in.ElementLength());
    return sink_.Take(info.Env());
  }

  Napi::Value Finish(const Napi::CallbackInfo& info) {
    deframer_.Finish();
    return sink_.Take(info.Env());
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    deframer_.Reset();
    sink_.Take(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Buffered(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(deframer_.buffered()));
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const pdsv::Counters& c = deframer_.counters();
    auto o = Napi::Object::New(env);
    const auto set = [&](const char* k, std::uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
    set("bytes", c.bytes);
    set("frames", c.frames);
    set("signalFrames", c.signal_frames);
    set("voiceFrames", c.voice_frames);
    set("linkFrames", c.link_frames);
    set("syncErrors", c.sync_errors);
    set("bytesSkipped", c.bytes_skipped);
    set("crcErrors", c.crc_errors);
    set("lengthErrors", c.length_errors);
    set("truncated", c.truncated);
    set("versionErrors", c.version_errors);
    set("typeErrors", c.type_errors);
    set("fieldErrors", c.field_errors);
    set("directionErrors", c.direction_errors);
    set("sequenceGaps", c.sequence_gaps);
    set("framesLost", c.frames_lost);
    set("duplicates", c.duplicates);
    set("late", c.late);
    set("wraps", c.wraps);
    set("resets", c.resets);
    return o;
  }

  BatchSink sink_;
  Deframer deframer_;
};

}  // namespace

void InitPdsv(Napi::Env env, Napi::Object exports) {
  exports.Set("pdsvCrc16", Napi::Function::New(env, Crc16Js, "pdsvCrc16"));
  exports.Set("pdsvErrorCodes", Napi::Function::New(env, ErrorCodesJs, "pdsvErrorCodes"));
  exports.Set("pdsvBuildSignal", Napi::Function::New(env, BuildSignalJs, "pdsvBuildSignal"));
  exports.Set("pdsvBuildVoice", Napi::Function::New(env, BuildVoiceJs, "pdsvBuildVoice"));
  exports.Set("pdsvBuildLink", Napi::Function::New(env, BuildLinkJs, "pdsvBuildLink"));
  exports.Set("PdsvDecoder", DecoderWrap::Define(env));
}

}  // namespace switchhook
