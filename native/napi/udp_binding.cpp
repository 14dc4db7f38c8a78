// N-API face of the native UDP socket (native/net/udp_socket.h): class UdpSocket. Runs on the JavaScript thread
// only; the slabs, metadata and counters are ArrayBuffers the wrapper reads and writes in place
// (src/native/udp.ts), so a batch crosses the boundary with one call and no per-datagram objects.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>

#include "addon.h"
#include "net/udp_socket.h"

namespace switchhook {

namespace {

using net::UdpCounter;
using net::UdpHooks;
using net::UdpOptions;
using net::UdpRegions;

/** Frees a socket abandoned at environment teardown once libuv has closed its handle. */
class OrphanHooks : public UdpHooks {
 public:
  explicit OrphanHooks(net::UdpSocket* socket) : socket_(socket) {}
  void OnBatch(uint32_t) override {}
  void OnSendErrors(int, uint32_t) override {}
  void OnClosed() override {
    delete socket_;
    delete this;
  }

 private:
  net::UdpSocket* socket_;
};

uint32_t OptionU32(const Napi::Object& o, const char* name, uint32_t fallback, uint32_t min, uint32_t max) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) return fallback;
  const int64_t n = v.As<Napi::Number>().Int64Value();
  if (n < min) return min;
  if (n > max) return max;
  return static_cast<uint32_t>(n);
}

class UdpHandle : public Napi::ObjectWrap<UdpHandle>, public UdpHooks {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpSocket",
                       {InstanceMethod("addAddress", &UdpHandle::AddAddress),
                        InstanceMethod("clearAddresses", &UdpHandle::ClearAddresses),
                        InstanceMethod("flush", &UdpHandle::Flush),
                        InstanceMethod("injectSendFault", &UdpHandle::InjectSendFault),
                        InstanceMethod("close", &UdpHandle::Close)});
  }

  // new UdpSocket(options, onBatch(count), onSendErrors(errno, count), onClosed())
  explicit UdpHandle(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<UdpHandle>(info), context_(info.Env(), "switchhook.udp") {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction() ||
        !info[3].IsFunction()) {
      Napi::TypeError::New(env, "new UdpSocket(options, onBatch, onSendErrors, onClosed)").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    UdpOptions opt;
    opt.family = OptionU32(o, "family", 4, 4, 6) == 6 ? AF_INET6 : AF_INET;
    Napi::Value host = o.Get("host");
    if (!host.IsString()) {
      Napi::TypeError::New(env, "options.host must be an address literal").ThrowAsJavaScriptException();
      return;
    }
    opt.host = host.As<Napi::String>().Utf8Value();
    opt.port = static_cast<uint16_t>(OptionU32(o, "port", 0, 0, 65535));
    opt.recv_buffer_bytes = static_cast<int>(OptionU32(o, "recvBufferBytes", 0, 0, 1u << 30));
    opt.send_buffer_bytes = static_cast<int>(OptionU32(o, "sendBufferBytes", 0, 0, 1u << 30));
    opt.recv_slots = OptionU32(o, "recvSlots", 16, 1, net::kMaxBatch);
    opt.slot_bytes = OptionU32(o, "slotBytes", 65536, 64, 65536);
    opt.send_capacity = OptionU32(o, "sendCapacity", 1024, 1, net::kMaxBatch);
    opt.send_slab_bytes = OptionU32(o, "sendSlabBytes", 256 * 1024, 65536, 64u << 20);
    opt.max_queue = OptionU32(o, "maxQueue", 65536, 0, 1u << 24);
    opt.max_queue_bytes = OptionU32(o, "maxQueueBytes", 32u << 20, 0, 1u << 30);

    Napi::ArrayBuffer recv_slab = Napi::ArrayBuffer::New(env, static_cast<size_t>(opt.recv_slots) * opt.slot_bytes);
    Napi::ArrayBuffer recv_meta = Napi::ArrayBuffer::New(env, static_cast<size_t>(opt.recv_slots) * net::kRecvMetaWords * 4);
    Napi::ArrayBuffer send_slab = Napi::ArrayBuffer::New(env, opt.send_slab_bytes);
    Napi::ArrayBuffer send_meta = Napi::ArrayBuffer::New(env, static_cast<size_t>(opt.send_capacity) * net::kSendMetaWords * 4);
    Napi::ArrayBuffer counters = Napi::ArrayBuffer::New(env, net::kCounterCount * sizeof(double));
    std::memset(counters.Data(), 0, counters.ByteLength());
    UdpRegions regions{static_cast<uint8_t*>(recv_slab.Data()), static_cast<int32_t*>(recv_meta.Data()),
                       static_cast<uint8_t*>(send_slab.Data()), static_cast<int32_t*>(send_meta.Data()),
                       static_cast<double*>(counters.Data())};
    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("recvSlab", recv_slab);
    self.Set("recvMeta", recv_meta);
    self.Set("sendSlab", send_slab);
    self.Set("sendMeta", send_meta);
    self.Set("counters", counters);

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "no libuv loop").ThrowAsJavaScriptException();
      return;
    }
    socket_ = std::make_unique<net::UdpSocket>(loop, opt, regions, this);
    const char* where = "";
    const int err = socket_->Open(&where);
    if (err != 0) {
      socket_.reset();
      Napi::Error e = Napi::Error::New(env, std::string(where) + " " + opt.host + ":" + std::to_string(opt.port) +
                                                ": " + std::strerror(err));
      e.Set("errno", Napi::Number::New(env, err));
      e.Set("syscall", Napi::String::New(env, where));
      e.ThrowAsJavaScriptException();
      return;
    }
    self.Set("host", Napi::String::New(env, socket_->host()));
    self.Set("port", Napi::Number::New(env, socket_->port()));
    on_batch_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_errors_ = Napi::Persistent(info[2].As<Napi::Function>());
    on_closed_ = Napi::Persistent(info[3].As<Napi::Function>());
    Ref();  // alive while the socket is open, whatever JavaScript holds
    napi_add_env_cleanup_hook(env, &UdpHandle::Teardown, this);
    hooked_ = true;
  }

  ~UdpHandle() override {
    if (hooked_) napi_remove_env_cleanup_hook(Env(), &UdpHandle::Teardown, this);
    if (socket_) Teardown(this);
  }

  void OnBatch(uint32_t count) override {
    Napi::HandleScope scope(Env());
    Call(on_batch_, {Napi::Number::New(Env(), count)});
  }

  void OnSendErrors(int err, uint32_t count) override {
    Napi::HandleScope scope(Env());
    Call(on_errors_, {Napi::Number::New(Env(), err), Napi::Number::New(Env(), count)});
  }

  void OnClosed() override {
    socket_.reset();
    if (hooked_) {
      napi_remove_env_cleanup_hook(Env(), &UdpHandle::Teardown, this);
      hooked_ = false;
    }
    Napi::HandleScope scope(Env());
    Call(on_closed_, {});
    Unref();
  }

 private:
  /** Environment teardown: the socket outlives this object until libuv closes its handle. */
  static void Teardown(void* arg) {
    auto* self = static_cast<UdpHandle*>(arg);
    self->hooked_ = false;
    net::UdpSocket* socket = self->socket_.release();
    if (socket == nullptr) return;
    socket->set_hooks(new OrphanHooks(socket));
    socket->Abandon();
  }

  /**
   * One callback from libuv into JavaScript, inside the caller's handle scope; an exception goes to the
   * process like any listener's.
   */
  void Call(const Napi::FunctionReference& fn, const std::initializer_list<napi_value>& args) {
    Napi::Env env = Env();
    fn.MakeCallback(Value(), args, context_);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  net::UdpSocket* Open(const Napi::CallbackInfo& info) {
    if (!socket_ || socket_->closing()) {
      Napi::Error::New(info.Env(), "UDP socket is closed").ThrowAsJavaScriptException();
      return nullptr;
    }
    return socket_.get();
  }

  Napi::Value AddAddress(const Napi::CallbackInfo& info) {
    net::UdpSocket* s = Open(info);
    if (s == nullptr) return info.Env().Undefined();
    if (info.Length() < 1 || !info[0].IsString()) return Napi::Number::New(info.Env(), -1);
    const std::string literal = info[0].As<Napi::String>().Utf8Value();
    return Napi::Number::New(info.Env(), s->AddAddress(literal.c_str()));
  }

  Napi::Value ClearAddresses(const Napi::CallbackInfo& info) {
    if (net::UdpSocket* s = Open(info)) s->ClearAddresses();
    return info.Env().Undefined();
  }

  Napi::Value Flush(const Napi::CallbackInfo& info) {
    net::UdpSocket* s = Open(info);
    if (s == nullptr) return info.Env().Undefined();
    const uint32_t count = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    return Napi::Number::New(info.Env(), s->Flush(count));
  }

  Napi::Value InjectSendFault(const Napi::CallbackInfo& info) {
    net::UdpSocket* s = Open(info);
    if (s == nullptr) return info.Env().Undefined();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      Napi::TypeError::New(info.Env(), "injectSendFault(errno, count)").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    s->InjectSendFault(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (socket_ && !socket_->closing()) socket_->Close();
    return info.Env().Undefined();
  }

  Napi::AsyncContext context_;
  std::unique_ptr<net::UdpSocket> socket_;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_errors_;
  Napi::FunctionReference on_closed_;
  bool hooked_ = false;
};

}  // namespace

void InitUdp(Napi::Env env, Napi::Object exports) { exports.Set("UdpSocket", UdpHandle::Define(env)); }

}  // namespace switchhook
