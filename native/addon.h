// Declarations of each native module's registration function, called once from addon.cpp.
#pragma once
#include <napi.h>

namespace switchhook {

// native/csta/binding.cpp: CSTA XML frame splitter and event scanner (cstaScan).
Napi::Object InitCsta(Napi::Env env, Napi::Object exports);

}  // namespace switchhook
