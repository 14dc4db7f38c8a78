// Declarations of each native module's registration function, called once from addon.cpp.
#pragma once
#include <napi.h>

namespace switchhook {

/** RTP bridge engine: rtpEngine* and rtpLeg* functions (native/rtp/rtp_addon.cpp). */
void InitRtp(Napi::Env env, Napi::Object exports);

}  // namespace switchhook
