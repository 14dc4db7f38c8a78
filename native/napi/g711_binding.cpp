// N-API surface of the G.711 codec for TypeScript (src/native/g711.ts validates the arguments).
#include <napi.h>

#include "addon.h"
#include "g711/g711.h"

namespace switchhook {
namespace {

constexpr int kLawPcmu = 0;  // RTP payload type numbers (RFC 3551)
constexpr int kLawPcma = 8;

bool ArgLaw(const Napi::CallbackInfo& info, int* law) {
  if (info.Length() < 2 || !info[0].IsNumber()) return false;
  *law = info[0].As<Napi::Number>().Int32Value();
  return *law == kLawPcmu || *law == kLawPcma;
}

// g711Decode(law, codes: Uint8Array) -> Int16Array
Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int law = 0;
  if (!ArgLaw(info, &law) || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "g711Decode(law, Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto in = info[1].As<Napi::Uint8Array>();
  auto out = Napi::Int16Array::New(env, in.ElementLength());
  if (law == kLawPcmu) {
    g711::UlawToLinearBuffer(in.Data(), out.Data(), in.ElementLength());
  } else {
    g711::AlawToLinearBuffer(in.Data(), out.Data(), in.ElementLength());
  }
  return out;
}

// g711Encode(law, samples: Int16Array) -> Uint8Array
Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int law = 0;
  if (!ArgLaw(info, &law) || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int16_array) {
    Napi::TypeError::New(env, "g711Encode(law, Int16Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto in = info[1].As<Napi::Int16Array>();
  auto out = Napi::Uint8Array::New(env, in.ElementLength());
  if (law == kLawPcmu) {
    g711::LinearToUlawBuffer(in.Data(), out.Data(), in.ElementLength());
  } else {
    g711::LinearToAlawBuffer(in.Data(), out.Data(), in.ElementLength());
  }
  return out;
}

// g711Transcode(fromLaw, codes: Uint8Array) -> Uint8Array in the other law
Napi::Value Transcode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int law = 0;
  if (!ArgLaw(info, &law) || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "g711Transcode(law, Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto in = info[1].As<Napi::Uint8Array>();
  auto out = Napi::Uint8Array::New(env, in.ElementLength());
  if (law == kLawPcmu) {
    g711::UlawToAlawBuffer(in.Data(), out.Data(), in.ElementLength());
  } else {
    g711::AlawToUlawBuffer(in.Data(), out.Data(), in.ElementLength());
  }
  return out;
}

}  // namespace

void InitG711(Napi::Env env, Napi::Object exports) {
  exports.Set("g711Decode", Napi::Function::New(env, Decode, "g711Decode"));
  exports.Set("g711Encode", Napi::Function::New(env, Encode, "g711Encode"));
  exports.Set("g711Transcode", Napi::Function::New(env, Transcode, "g711Transcode"));
}

}  // namespace switchhook
