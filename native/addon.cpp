// The addon's single registration point: every native module adds its exports here.
#include <napi.h>

#include "addon.h"

namespace {

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  switchhook::InitCsta(env, exports);
  switchhook::InitG711(env, exports);
  switchhook::InitPdsv(env, exports);
  switchhook::InitRtp(env, exports);
  switchhook::InitSip(env, exports);
  switchhook::InitUdp(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(switchhook, InitAddon)
