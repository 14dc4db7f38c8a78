// N-API glue for the CSTA scanner: the only file of native/csta/ that touches JavaScript values.
#include <napi.h>

#include "addon.h"
#include "csta/scanner.h"

namespace switchhook {
namespace {

// cstaScan(data: Uint8Array, out: Int32Array, state: Int32Array(2), maxFrameBytes, maxResyncBytes): void
// Arguments are validated by src/native/csta.ts; this re-checks only what memory safety needs.
// state = [resyncing (0/1), bytes skipped in the current resync episode], read and written back.
Napi::Value CstaScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
    Napi::TypeError::New(env, "cstaScan(data, out, state, maxFrameBytes, maxResyncBytes)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto data = info[0].As<Napi::TypedArray>();
  auto out = info[1].As<Napi::TypedArray>();
  auto state = info[2].As<Napi::TypedArray>();
  if (data.TypedArrayType() != napi_uint8_array || out.TypedArrayType() != napi_int32_array ||
      state.TypedArrayType() != napi_int32_array || state.ElementLength() < 2 ||
      out.ElementLength() < static_cast<size_t>(csta::kHdrWords) || data.ElementLength() > 0x7fffffff) {
    Napi::TypeError::New(env, "cstaScan: bad argument types").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto d = data.As<Napi::Uint8Array>();
  auto o = out.As<Napi::Int32Array>();
  auto s = state.As<Napi::Int32Array>();
  csta::ScanLimits limits;
  limits.max_frame_bytes = info[3].As<Napi::Number>().Uint32Value();
  limits.max_resync_bytes = info[4].As<Napi::Number>().Uint32Value();
  csta::StreamState st;
  st.resyncing = s[0] != 0;
  st.resync_skipped = static_cast<uint32_t>(s[1]);
  csta::ScanFrames(d.Data(), d.ElementLength(), limits, st, o.Data(), o.ElementLength());
  s[0] = st.resyncing ? 1 : 0;
  s[1] = static_cast<int32_t>(st.resync_skipped);
  return env.Undefined();
}

}  // namespace

Napi::Object InitCsta(Napi::Env env, Napi::Object exports) {
  exports.Set("cstaScan", Napi::Function::New(env, CstaScan, "cstaScan"));
  return exports;
}

}  // namespace switchhook
