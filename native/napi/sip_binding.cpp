// N-API surface of the SIP scanner (native/sip). src/native/sip.ts (SipScanner) owns the arguments: it
// creates a scanner (name table + record ring) behind an external handle and takes its scan function, which
// scans one message per call.
#include <napi.h>

#include <algorithm>
#include <memory>
#include <string>

#include "addon.h"
#include "sip/scanner.h"

namespace switchhook {
namespace {

// One scanner (src/native/sip.ts SipScanner): the name table and the record ring, kept alive here.
struct SipState {
  sip::NameTable names;
  Napi::Reference<Napi::Int32Array> out_ref;
  int32_t* out = nullptr;
  size_t cap = 0;
  size_t room = 0;  // words one scan may write from its start
  sip::Limits limits{32 * 1024, 64 * 1024, 256};
};

// The scanner behind the handle in argument 0, or nullptr.
SipState* State(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) return nullptr;
  return info[0].As<Napi::External<SipState>>().Data();
}

bool IsInt32Array(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array;
}

// sipInit(names: string[], singleGroups: Uint8Array, roles: Uint8Array, slots: Uint8Array, out: Int32Array,
// room: number, tokens?: string[], baselineSimd?: boolean) -> handle. Every scan writes its record into `out`
// from the word it is given and within `room` words of it, so the caller can use `out` as a ring. `tokens`
// (methods, transports) are named by index in the record. `baselineSimd` keeps the scans to the x86-64 baseline
// instruction set even where the CPU has AVX2 (the records are the same; tests compare the two).
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      !info[3].IsTypedArray() || !IsInt32Array(info[4]) || !info[5].IsNumber()) {
    Napi::TypeError::New(env, "sipInit(string[], Uint8Array, Uint8Array, Uint8Array, Int32Array, number)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto names = info[0].As<Napi::Array>();
  auto single = info[1].As<Napi::Uint8Array>();
  auto roles = info[2].As<Napi::Uint8Array>();
  auto slots = info[3].As<Napi::Uint8Array>();
  auto out = info[4].As<Napi::Int32Array>();
  auto state = std::make_unique<SipState>();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    Napi::Value v = names.Get(i);
    if (!v.IsString()) continue;
    uint8_t one = i < single.ElementLength() ? single[i] : 0;
    auto role = static_cast<sip::Role>(i < roles.ElementLength() ? roles[i] : 0);
    uint8_t slot = i < slots.ElementLength() ? slots[i] : 0;
    state->names.Add(v.As<Napi::String>().Utf8Value(), one, role, slot);
  }
  if (info.Length() > 6 && info[6].IsArray()) {
    auto tokens = info[6].As<Napi::Array>();
    for (uint32_t i = 0; i < tokens.Length(); ++i) {
      Napi::Value v = tokens.Get(i);
      state->names.AddToken(v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string());
    }
  }
  if (info.Length() > 7 && info[7].IsBoolean() && info[7].As<Napi::Boolean>().Value()) {
    state->names.SetSimd(sip::Simd::kBase);
  }
  state->out_ref = Napi::Persistent(out);
  state->out = out.Data();
  state->cap = out.ElementLength();
  const int64_t room = info[5].As<Napi::Number>().Int64Value();
  state->room = room > 0 ? static_cast<size_t>(room) : 0;
  return Napi::External<SipState>::New(env, state.release(), [](Napi::Env, SipState* s) { delete s; });
}

// sipLimits(handle, maxHeaderBytes, maxBodyBytes, maxHeaders) -> undefined: the limits of the following scans.
Napi::Value SetLimits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SipState* state = State(info);
  if (state == nullptr || info.Length() < 4 || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    Napi::TypeError::New(env, "sipLimits(handle, number, number, number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  state->limits = {info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::Number>().Int32Value(),
                   info[3].As<Napi::Number>().Int32Value()};
  return env.Undefined();
}

// The scan function of one scanner (sipScanFunction): (buf: Uint8Array, at: number) -> the start line and
// headers as a latin1 string (offsets in it are the record's "rel" offsets) when scanned, undefined when not;
// the record starts at word `at`. Returning the head from here saves the caller a second native call to
// decode it. Called once per received message, so written against the C API with the scanner as the
// function's data (no handle to unwrap): each argument is checked by the call that reads it.
napi_value Scan(napi_env env, napi_callback_info cbi) {
  size_t argc = 2;
  napi_value argv[2];
  void* data = nullptr;
  napi_typedarray_type type = napi_int8_array;
  size_t len = 0;
  void* bytes = nullptr;
  int64_t at = -1;
  if (napi_get_cb_info(env, cbi, &argc, argv, nullptr, &data) != napi_ok || argc < 2 ||
      napi_get_typedarray_info(env, argv[0], &type, &len, &bytes, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array || napi_get_value_int64(env, argv[1], &at) != napi_ok || data == nullptr) {
    napi_throw_type_error(env, nullptr, "scan(Uint8Array, number)");
    return nullptr;
  }
  auto* state = static_cast<SipState*>(data);
  napi_value result = nullptr;
  if (at < 0 || static_cast<size_t>(at) >= state->cap) {
    napi_get_undefined(env, &result);
    return result;
  }
  int32_t* w = state->out + at;
  const auto* in = static_cast<const uint8_t*>(bytes);
  const size_t cap = std::min(state->cap - static_cast<size_t>(at), state->room);
  if (sip::ScanMessage(in, len, state->names, state->limits, w, cap) != 1 ||
      napi_create_string_latin1(env, reinterpret_cast<const char*>(in + w[sip::kBase]),
                                static_cast<size_t>(w[sip::kBodyStart] - w[sip::kBase]), &result) != napi_ok) {
    napi_get_undefined(env, &result);
  }
  return result;
}

// sipScanFunction(handle) -> the scan function of that scanner (Scan above). The function keeps the handle
// (as its `handle` property), so the scanner lives as long as either.
Napi::Value ScanFunction(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SipState* state = State(info);
  if (state == nullptr) {
    Napi::TypeError::New(env, "sipScanFunction(handle)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_value fn;
  if (napi_create_function(env, "scan", NAPI_AUTO_LENGTH, Scan, state, &fn) != napi_ok) {
    Napi::Error::New(env, "sipScanFunction: cannot create the function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Function scan(env, fn);
  scan.Set("handle", info[0]);
  return scan;
}

}  // namespace

void InitSip(Napi::Env env, Napi::Object exports) {
  exports.Set("sipInit", Napi::Function::New(env, Init, "sipInit"));
  exports.Set("sipLimits", Napi::Function::New(env, SetLimits, "sipLimits"));
  exports.Set("sipScanFunction", Napi::Function::New(env, ScanFunction, "sipScanFunction"));
}

}  // namespace switchhook
