// N-API face of the RTP bridge (native/rtp/bridge.h): engines, legs, counters and batched events. Runs on the JavaScript
// thread only; settings are copied into plain C++ structs before they cross to the bridge thread.
#include <arpa/inet.h>
#include <napi.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "addon.h"
#include "rtp/bridge.h"
#include "rtp/stats.h"

namespace switchhook {

namespace {

using rtp::DropReason;
using rtp::Engine;
using rtp::Event;
using rtp::EventType;
using rtp::LegCounters;
using rtp::LegSettings;

/** Events from the bridge thread waiting for the JavaScript thread; one callback per batch. */
struct EventQueue {
  std::mutex mutex;
  std::vector<Event> events;
  bool scheduled = false;
};

struct EngineHandle {
  std::unique_ptr<Engine> engine;
  std::shared_ptr<EventQueue> queue;
  Napi::ThreadSafeFunction tsfn;
  in_addr bind_addr{};
  uint16_t port_min = 0, port_max = 0, cursor = 0;
  uint32_t next_leg = 1;
  std::unordered_map<uint32_t, std::shared_ptr<const LegCounters>> legs;
};

struct RtpState {
  uint32_t next_engine = 1;
  std::unordered_map<uint32_t, std::unique_ptr<EngineHandle>> engines;
};

const char* const kDropNames[rtp::kDropReasonCount] = {"short",       "version", "malformed",
                                                       "oversize",    "rate",    "source",
                                                       "payloadType", "noPeer",  "sendFailed"};

const char* EventName(EventType t) {
  switch (t) {
    case EventType::kLearned:
      return "learned";
    case EventType::kIdle:
      return "idle";
    case EventType::kDigit:
      return "digit";
    case EventType::kError:
      return "error";
  }
  return "error";
}

/** Per-environment state (main thread and each worker); keyed by env so other modules keep instance data. */
std::unordered_map<napi_env, std::unique_ptr<RtpState>>& States() {
  static std::unordered_map<napi_env, std::unique_ptr<RtpState>> states;
  return states;
}

RtpState* State(const Napi::Env& env) { return States()[env].get(); }

EngineHandle* FindEngine(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return nullptr;
  RtpState* st = State(info.Env());
  auto it = st->engines.find(info[0].As<Napi::Number>().Uint32Value());
  return it == st->engines.end() ? nullptr : it->second.get();
}

Napi::Value Fail(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

uint32_t U32(const Napi::Object& o, const char* key, uint32_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : fallback;
}

bool ParseAddr(const std::string& host, uint32_t port, sockaddr_in* out) {
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(port));
  return port > 0 && port < 65536 && inet_pton(AF_INET, host.c_str(), &out->sin_addr) == 1;
}

/** Copies a validated settings object (see src/native/rtp.ts) into the plain struct. */
bool ReadSettings(const Napi::Object& o, LegSettings* s) {
  Napi::Value host = o.Get("remoteAddress");
  if (host.IsString()) {
    const std::string h = host.As<Napi::String>().Utf8Value();
    const uint32_t port = U32(o, "remotePort", 0);
    if (!ParseAddr(h, port, &s->remote)) return false;
    if (!ParseAddr(h, U32(o, "remoteRtcpPort", port + 1), &s->remote_rtcp)) return false;
    s->has_remote = true;
  }
  const uint32_t pdsv_port = U32(o, "pdsvPort", 0x10000);
  if (pdsv_port <= 0xffff) {
    s->kind = rtp::LegKind::kPdsv;
    s->pdsv_port = static_cast<uint16_t>(pdsv_port);
  }
  s->strict_source = o.Get("strictSource").ToBoolean().Value();
  s->audio_pt = static_cast<uint8_t>(U32(o, "audioPt", 0) & 0x7f);
  const uint32_t te = U32(o, "telephoneEventPt", rtp::kNoPayloadType);
  s->telephone_event_pt = te > 127 ? rtp::kNoPayloadType : static_cast<uint8_t>(te);
  s->clock_rate = U32(o, "clockRate", 8000);
  s->idle_timeout_ms = U32(o, "idleTimeoutMs", 0);
  s->rate_limit_pps = U32(o, "rateLimitPps", 0);
  s->max_packet_size = U32(o, "maxPacketSize", 1500);
  s->rtcp_mode = U32(o, "rtcpMode", 0) == 1 ? rtp::RtcpMode::kTerminate : rtp::RtcpMode::kRelay;
  s->rtcp_interval_ms = U32(o, "rtcpIntervalMs", 5000);
  s->out_ssrc = U32(o, "outSsrc", 0);
  Napi::Value cname = o.Get("cname");
  if (cname.IsString()) s->cname = cname.As<Napi::String>().Utf8Value();
  return s->clock_rate > 0 && s->rtcp_interval_ms > 0;
}

void DeliverEvents(Napi::Env env, Napi::Function callback, EventQueue* queue) {
  std::vector<Event> batch;
  {
    std::lock_guard<std::mutex> lock(queue->mutex);
    batch.swap(queue->events);
    queue->scheduled = false;
  }
  if (batch.empty() || env == nullptr) return;
  Napi::Array arr = Napi::Array::New(env, batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const Event& e = batch[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", EventName(e.type));
    o.Set("leg", e.leg);
    o.Set("a", e.a);
    o.Set("b", e.b);
    o.Set("c", e.c);
    if (e.addr.sin_family == AF_INET) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &e.addr.sin_addr, text, sizeof text);
      o.Set("address", text);
      o.Set("port", ntohs(e.addr.sin_port));
    }
    if (!e.text.empty()) o.Set("text", e.text);
    arr.Set(static_cast<uint32_t>(i), o);
  }
  callback.Call({arr});
}

void CloseEngine(EngineHandle* h) {
  h->engine->Stop();  // joins the bridge thread: no sink call after this
  h->tsfn.Release();
  h->legs.clear();
}

// rtpEngineCreate({bindAddress, portMin, portMax}, onEvents) -> engine id
Napi::Value EngineCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    return Fail(env, "MEDIA_ERR_ARGUMENT", "rtpEngineCreate(options, onEvents)");
  }
  Napi::Object opts = info[0].As<Napi::Object>();
  auto h = std::make_unique<EngineHandle>();
  const std::string bind =
      opts.Get("bindAddress").IsString() ? opts.Get("bindAddress").As<Napi::String>().Utf8Value() : "127.0.0.1";
  if (inet_pton(AF_INET, bind.c_str(), &h->bind_addr) != 1) {
    return Fail(env, "MEDIA_ERR_ARGUMENT", "bindAddress must be an IPv4 address");
  }
  h->port_min = static_cast<uint16_t>(U32(opts, "portMin", 30000));
  h->port_max = static_cast<uint16_t>(U32(opts, "portMax", 39999));
  h->cursor = h->port_min;
  h->queue = std::make_shared<EventQueue>();
  h->tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "switchhook-rtp-events", 0, 1);
  std::shared_ptr<EventQueue> queue = h->queue;
  Napi::ThreadSafeFunction tsfn = h->tsfn;
  h->engine = std::make_unique<Engine>([queue, tsfn](std::vector<Event>&& events) mutable {
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(queue->mutex);
      for (Event& e : events) queue->events.push_back(std::move(e));
      if (!queue->scheduled) queue->scheduled = schedule = true;
    }
    if (schedule) {
      std::shared_ptr<EventQueue> keep = queue;
      tsfn.NonBlockingCall([keep](Napi::Env env, Napi::Function cb) { DeliverEvents(env, cb, keep.get()); });
    }
  });
  h->engine->set_coalesce_us(U32(opts, "coalesceUs", 0));
  const Napi::Value gso = opts.Get("gso");
  h->engine->set_gso(!gso.IsBoolean() || gso.As<Napi::Boolean>().Value());
  const Napi::Value connect_send = opts.Get("connectSend");
  h->engine->set_connect_send(!connect_send.IsBoolean() || connect_send.As<Napi::Boolean>().Value());
  const Napi::Value backend = opts.Get("backend");
  const std::string backend_name = backend.IsString() ? backend.As<Napi::String>().Utf8Value() : "auto";
  h->engine->set_backend(backend_name == "epoll"      ? switchhook::rtp::Backend::kEpoll
                         : backend_name == "io_uring" ? switchhook::rtp::Backend::kUring
                                                      : switchhook::rtp::Backend::kAuto);
  h->engine->set_moderation_us(U32(opts, "moderationUs", 0));
  h->engine->set_receive_buffers(U32(opts, "receiveBuffers", 0));
  std::string error;
  const Napi::Value nice = opts.Get("threadNice");
  if (!h->engine->Start(&error, nice.IsNumber() ? nice.As<Napi::Number>().Int32Value() : 0)) {
    h->tsfn.Release();
    return Fail(env, "MEDIA_ERR_ENGINE", error);
  }
  RtpState* st = State(env);
  const uint32_t id = st->next_engine++;
  st->engines.emplace(id, std::move(h));
  return Napi::Number::New(env, id);
}

Napi::Value EngineClose(const Napi::CallbackInfo& info) {
  EngineHandle* h = FindEngine(info);
  if (!h) return info.Env().Undefined();
  CloseEngine(h);
  State(info.Env())->engines.erase(info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

Napi::Value EngineStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineHandle* h = FindEngine(info);
  if (!h) return Fail(env, "MEDIA_ERR_CLOSED", "RTP engine is closed");
  Napi::Object o = Napi::Object::New(env);
  o.Set("cpuNs", static_cast<double>(h->engine->ThreadCpuNs()));
  o.Set("wakeups", static_cast<double>(h->engine->counters().wakeups.load(std::memory_order_relaxed)));
  o.Set("batches", static_cast<double>(h->engine->counters().batches.load(std::memory_order_relaxed)));
  o.Set("commands", static_cast<double>(h->engine->counters().commands.load(std::memory_order_relaxed)));
  o.Set("gsoMessages", static_cast<double>(h->engine->counters().gso_messages.load(std::memory_order_relaxed)));
  o.Set("recvNoBuffers", static_cast<double>(h->engine->counters().recv_no_buffers.load(std::memory_order_relaxed)));
  o.Set("recvBuffers", static_cast<double>(h->engine->counters().recv_buffers.load(std::memory_order_relaxed)));
  o.Set("recvRearms", static_cast<double>(h->engine->counters().recv_rearms.load(std::memory_order_relaxed)));
  o.Set("sendConnects", static_cast<double>(h->engine->counters().send_connects.load(std::memory_order_relaxed)));
  o.Set("sendConnectFailures",
        static_cast<double>(h->engine->counters().send_connect_failures.load(std::memory_order_relaxed)));
  o.Set("legs", static_cast<double>(h->legs.size()));
  o.Set("backend", h->engine->backend() == switchhook::rtp::Backend::kUring ? "io_uring" : "epoll");
  return o;
}

// rtpLegCreate(engine, settings) -> {id, rtpPort, rtcpPort}
Napi::Value LegCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineHandle* h = FindEngine(info);
  if (!h) return Fail(env, "MEDIA_ERR_CLOSED", "RTP engine is closed");
  if (info.Length() < 2 || !info[1].IsObject()) return Fail(env, "MEDIA_ERR_ARGUMENT", "settings object expected");
  LegSettings s;
  if (!ReadSettings(info[1].As<Napi::Object>(), &s)) return Fail(env, "MEDIA_ERR_ARGUMENT", "invalid leg settings");
  int rtp_fd = -1, rtcp_fd = -1, err = 0;
  const uint16_t port = rtp::OpenPortPair(h->bind_addr, h->port_min, h->port_max, &h->cursor, &rtp_fd, &rtcp_fd, &err);
  if (port == 0) {
    return Fail(env, "MEDIA_ERR_NO_PORTS",
                std::string("no free RTP/RTCP port pair in range: ") + strerror(err));
  }
  const uint32_t id = h->next_leg++;
  h->legs.emplace(id, h->engine->AddLeg(id, rtp_fd, rtcp_fd, s));
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", id);
  o.Set("rtpPort", port);
  o.Set("rtcpPort", port + 1);
  return o;
}

Napi::Value LegUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineHandle* h = FindEngine(info);
  if (!h) return Fail(env, "MEDIA_ERR_CLOSED", "RTP engine is closed");
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsObject()) {
    return Fail(env, "MEDIA_ERR_ARGUMENT", "rtpLegUpdate(engine, leg, settings)");
  }
  LegSettings s;
  if (!ReadSettings(info[2].As<Napi::Object>(), &s)) return Fail(env, "MEDIA_ERR_ARGUMENT", "invalid leg settings");
  h->engine->UpdateLeg(info[1].As<Napi::Number>().Uint32Value(), s);
  return env.Undefined();
}

Napi::Value LegConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineHandle* h = FindEngine(info);
  if (!h) return Fail(env, "MEDIA_ERR_CLOSED", "RTP engine is closed");
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) {
    return Fail(env, "MEDIA_ERR_ARGUMENT", "rtpLegConnect(engine, a, b)");
  }
  h->engine->Connect(info[1].As<Napi::Number>().Uint32Value(), info[2].As<Napi::Number>().Uint32Value());
  return env.Undefined();
}

Napi::Value LegDisconnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineHandle* h = FindEngine(info);
  if (!h) return Fail(env, "MEDIA_ERR_CLOSED", "RTP engine is closed");
  if (info.Length() < 2 || !info[1].IsNumber()) return Fail(env, "MEDIA_ERR_ARGUMENT", "rtpLegDisconnect(engine, leg)");
  h->engine->Disconnect(info[1].As<Napi::Number>().Uint32Value());
  return env.Undefined();
}

Napi::Value LegDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineHandle* h = FindEngine(info);
  if (!h) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsNumber()) return Fail(env, "MEDIA_ERR_ARGUMENT", "rtpLegDestroy(engine, leg)");
  const uint32_t id = info[1].As<Napi::Number>().Uint32Value();
  if (h->legs.erase(id) != 0) h->engine->RemoveLeg(id);
  return env.Undefined();
}

Napi::Value LegStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineHandle* h = FindEngine(info);
  if (!h) return Fail(env, "MEDIA_ERR_CLOSED", "RTP engine is closed");
  if (info.Length() < 2 || !info[1].IsNumber()) return Fail(env, "MEDIA_ERR_ARGUMENT", "rtpLegStats(engine, leg)");
  auto it = h->legs.find(info[1].As<Napi::Number>().Uint32Value());
  if (it == h->legs.end()) return Fail(env, "MEDIA_ERR_NO_LEG", "no such RTP leg");
  const LegCounters& c = *it->second;
  constexpr auto r = std::memory_order_relaxed;
  Napi::Object o = Napi::Object::New(env);
  o.Set("rxPackets", static_cast<double>(c.rx_packets.load(r)));
  o.Set("rxBytes", static_cast<double>(c.rx_bytes.load(r)));
  o.Set("txPackets", static_cast<double>(c.tx_packets.load(r)));
  o.Set("txBytes", static_cast<double>(c.tx_bytes.load(r)));
  o.Set("rtcpRx", static_cast<double>(c.rtcp_rx.load(r)));
  o.Set("rtcpTx", static_cast<double>(c.rtcp_tx.load(r)));
  o.Set("digits", static_cast<double>(c.dtmf_events.load(r)));
  o.Set("transcoded", static_cast<double>(c.transcoded.load(r)));
  o.Set("expected", c.expected.load(r));
  o.Set("lost", c.lost.load(r));
  o.Set("jitter", c.jitter.load(r));
  o.Set("inSsrc", c.in_ssrc.load(r));
  o.Set("outSsrc", c.out_ssrc.load(r));
  o.Set("rttUs", c.remote_rtt_us.load(r));
  Napi::Object drops = Napi::Object::New(env);
  for (size_t i = 0; i < rtp::kDropReasonCount; ++i) drops.Set(kDropNames[i], static_cast<double>(c.drops[i].load(r)));
  o.Set("drops", drops);
  return o;
}

// rtpAnalyze(seqs, timestamps, arrivals) -> receiver statistics of a crafted packet sequence, computed by
// the same code the bridge runs (RFC 3550 A.1, A.3, A.8); arrivals are in RTP timestamp units.
Napi::Value Analyze(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray()) {
    return Fail(env, "MEDIA_ERR_ARGUMENT", "rtpAnalyze(seqs, timestamps, arrivals)");
  }
  Napi::Array seqs = info[0].As<Napi::Array>();
  Napi::Array tss = info[1].As<Napi::Array>();
  Napi::Array arrivals = info[2].As<Napi::Array>();
  if (tss.Length() != seqs.Length() || arrivals.Length() != seqs.Length()) {
    return Fail(env, "MEDIA_ERR_ARGUMENT", "rtpAnalyze arrays differ in length");
  }
  rtp::ReceiverStats stats;
  for (uint32_t i = 0; i < seqs.Length(); ++i) {
    const uint16_t seq = static_cast<uint16_t>(seqs.Get(i).ToNumber().Uint32Value());
    if (stats.started()) {
      stats.UpdateSeq(seq);
    } else {
      stats.Init(seq);
    }
    stats.UpdateJitter(tss.Get(i).ToNumber().Uint32Value(), arrivals.Get(i).ToNumber().Uint32Value());
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("received", stats.received());
  o.Set("expected", stats.Expected());
  o.Set("extendedMax", stats.ExtendedMax());
  o.Set("lost", stats.CumulativeLost());
  o.Set("fractionLost", stats.FractionLostInterval());
  o.Set("jitter", stats.Jitter());
  return o;
}

}  // namespace

void InitRtp(Napi::Env env, Napi::Object exports) {
  napi_env raw = env;
  States()[raw] = std::make_unique<RtpState>();
  // Engines still open when the environment goes away (worker exit, process exit) stop their threads.
  napi_add_env_cleanup_hook(
      env,
      [](void* arg) {
        auto it = States().find(static_cast<napi_env>(arg));
        if (it == States().end()) return;
        for (auto& [id, h] : it->second->engines) h->engine->Stop();
        States().erase(it);
      },
      raw);
  exports.Set("rtpEngineCreate", Napi::Function::New(env, EngineCreate, "rtpEngineCreate"));
  exports.Set("rtpEngineClose", Napi::Function::New(env, EngineClose, "rtpEngineClose"));
  exports.Set("rtpEngineStats", Napi::Function::New(env, EngineStats, "rtpEngineStats"));
  exports.Set("rtpLegCreate", Napi::Function::New(env, LegCreate, "rtpLegCreate"));
  exports.Set("rtpLegUpdate", Napi::Function::New(env, LegUpdate, "rtpLegUpdate"));
  exports.Set("rtpLegConnect", Napi::Function::New(env, LegConnect, "rtpLegConnect"));
  exports.Set("rtpLegDisconnect", Napi::Function::New(env, LegDisconnect, "rtpLegDisconnect"));
  exports.Set("rtpLegDestroy", Napi::Function::New(env, LegDestroy, "rtpLegDestroy"));
  exports.Set("rtpLegStats", Napi::Function::New(env, LegStats, "rtpLegStats"));
  exports.Set("rtpAnalyze", Napi::Function::New(env, Analyze, "rtpAnalyze"));
}

}  // namespace switchhook
