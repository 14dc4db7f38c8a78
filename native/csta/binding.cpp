// N-API glue for the CSTA scanner: the only file of native/csta/ that touches JavaScript values.
#include <napi.h>

#include "addon.h"
#include "csta/scanner.h"

namespace switchhook {
namespace {

// cstaScan(data: Uint8Array, out: Int32Array, state: Int32Array(3), maxFrameBytes, maxResyncBytes,
//          cache: Uint8Array, scratch: Uint8Array): void
// Arguments are validated by src/native/csta.ts; this re-checks only what memory safety needs.
// state = [resyncing (0/1), bytes skipped in the current resync episode, cache generation], read and
// written back. cache: the stream's string cache (scanner.h), a power-of-two number of slots. scratch:
// where decoded values go (rewritten by every call).
Napi::Value CstaScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      !info[5].IsTypedArray() || !info[6].IsTypedArray()) {
    Napi::TypeError::New(env, "cstaScan(data, out, state, maxFrameBytes, maxResyncBytes, cache, scratch)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto data = info[0].As<Napi::TypedArray>();
  auto out = info[1].As<Napi::TypedArray>();
  auto state = info[2].As<Napi::TypedArray>();
  if (data.TypedArrayType() != napi_uint8_array || out.TypedArrayType() != napi_int32_array ||
      state.TypedArrayType() != napi_int32_array || state.ElementLength() < 3 ||
      out.ElementLength() < static_cast<size_t>(csta::kHdrWords) || data.ElementLength() > 0x7fffffff) {
    Napi::TypeError::New(env, "cstaScan: bad argument types").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto cache_array = info[5].As<Napi::TypedArray>();
  const size_t cache_bytes = cache_array.ByteLength();
  const size_t slots = cache_bytes / csta::kCacheSlotBytes;
  if (cache_array.TypedArrayType() != napi_uint8_array || slots * csta::kCacheSlotBytes != cache_bytes ||
      (slots & (slots - 1)) != 0 || slots > (1u << 20)) {
    Napi::TypeError::New(env, "cstaScan: cache must be a power-of-two number of slots").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto scratch = info[6].As<Napi::TypedArray>();
  if (scratch.TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "cstaScan: scratch must be a Uint8Array").ThrowAsJavaScriptException();
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
  csta::StringCache cache;
  cache.mem = cache_array.As<Napi::Uint8Array>().Data();
  cache.slots = static_cast<uint32_t>(slots);
  cache.gen = static_cast<uint32_t>(s[2]) == 0 ? 1 : static_cast<uint32_t>(s[2]);
  cache.scratch = scratch.As<Napi::Uint8Array>().Data();
  cache.scratch_bytes = scratch.ByteLength();
  csta::ScanFrames(d.Data(), d.ElementLength(), limits, st, cache, o.Data(), o.ElementLength());
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
