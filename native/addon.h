// Declarations of each native module's registration function, called once from addon.cpp.
#pragma once
#include <napi.h>

namespace switchhook {}
