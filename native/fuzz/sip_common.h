// The header name table the SIP fuzz target and its seed writer share (a subset of
// src/sip/message/header-names.ts with the same roles and slots as src/sip/message/scan.ts).
#pragma once
#include "sip/scanner.h"

namespace switchhook {
namespace sip {

// Tokens named by index in records (as src/sip/message/scan.ts TOKENS, plus one of 16 bytes).
constexpr const char* kFuzzTokens[] = {"INVITE", "ACK", "BYE", "REGISTER", "SUBSCRIBE", "UDP", "TCP", "WS",
                                       "A-TOKEN-OF-16-BY"};

inline void FuzzNameTable(NameTable* t) {
  for (const char* token : kFuzzTokens) t->AddToken(token);
  t->Add("via", 0, kRoleVia, 1);
  t->Add("v", 0, kRoleVia, 1);
  t->Add("from", 1, kRoleNameAddr, 2);
  t->Add("f", 1, kRoleNameAddr, 2);
  t->Add("to", 2, kRoleNameAddr, 3);
  t->Add("t", 2, kRoleNameAddr, 3);
  t->Add("call-id", 3, kRoleCallId, 8);
  t->Add("i", 3, kRoleCallId, 8);
  t->Add("cseq", 4, kRoleCSeq, 7);
  t->Add("contact", 0, kRoleNameAddrList, 4);
  t->Add("m", 0, kRoleNameAddrList, 4);
  t->Add("route", 0, kRoleNameAddrList, 5);
  t->Add("record-route", 0, kRoleNameAddrList, 6);
  t->Add("content-length", 5, kRoleContentLength);
  t->Add("l", 5, kRoleContentLength);
  t->Add("max-forwards", 6, kRoleOther);
  t->Add("content-type", 7, kRoleOther);
  t->Add("expires", 8, kRoleOther);
  t->Add("event", 0, kRoleOther);
}

}  // namespace sip
}  // namespace switchhook
