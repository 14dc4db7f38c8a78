// The header name table the SIP fuzz target and its seed writer share (a subset of
// src/sip/message/header-names.ts with the same roles).
#pragma once
#include "sip/scanner.h"

namespace switchhook {
namespace sip {

inline void FuzzNameTable(NameTable* t) {
  t->Add("via", 0, kRoleVia);
  t->Add("v", 0, kRoleVia);
  t->Add("from", 1, kRoleNameAddr);
  t->Add("f", 1, kRoleNameAddr);
  t->Add("to", 2, kRoleNameAddr);
  t->Add("t", 2, kRoleNameAddr);
  t->Add("call-id", 3, kRoleCallId);
  t->Add("i", 3, kRoleCallId);
  t->Add("cseq", 4, kRoleCSeq);
  t->Add("contact", 0, kRoleNameAddrList);
  t->Add("m", 0, kRoleNameAddrList);
  t->Add("route", 0, kRoleNameAddrList);
  t->Add("record-route", 0, kRoleNameAddrList);
  t->Add("content-length", 5, kRoleContentLength);
  t->Add("l", 5, kRoleContentLength);
  t->Add("max-forwards", 6, kRoleOther);
  t->Add("content-type", 7, kRoleOther);
  t->Add("expires", 8, kRoleOther);
  t->Add("event", 0, kRoleOther);
}

}  // namespace sip
}  // namespace switchhook
