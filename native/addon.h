// Declarations of each native module's registration function, called once from addon.cpp.
#pragma once
#include <napi.h>

namespace switchhook {

// native/csta/binding.cpp: CSTA XML frame splitter and event scanner (cstaScan).
Napi::Object InitCsta(Napi::Env env, Napi::Object exports);
// native/napi/g711_binding.cpp: g711Decode, g711Encode, g711Transcode.
void InitG711(Napi::Env env, Napi::Object exports);
// native/napi/pdsv_binding.cpp: pdsvCrc16, pdsvBuild*, pdsvErrorCodes, class PdsvDecoder.
void InitPdsv(Napi::Env env, Napi::Object exports);
// native/napi/rtp_binding.cpp: rtpEngine*, rtpLeg*, rtpAnalyze.
void InitRtp(Napi::Env env, Napi::Object exports);

// native/napi/sip_binding.cpp: sipInit, sipLimits, sipScanFunction (SIP message scanner).
void InitSip(Napi::Env env, Napi::Object exports);
// native/napi/udp_binding.cpp: class UdpSocket (native/net: recvmmsg/sendmmsg on the libuv loop).
void InitUdp(Napi::Env env, Napi::Object exports);

}  // namespace switchhook
