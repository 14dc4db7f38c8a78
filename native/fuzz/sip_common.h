// The header name table the SIP fuzz target and its seed writer share (a subset of
// src/sip/message/header-names.ts with the same roles).
#pragma once
#include "sip/scanner.h"

namespace switchhook {
namespace sip {

inline void FuzzNameTable(NameTable* t) {
  t->Add("via", false, kRoleVia);
  t->Add("v", false, kRoleVia);
  t->Add("from", true, kRoleNameAddr);
  t->Add("f", true, kRoleNameAddr);
  t->Add("to", true, kRoleNameAddr);
  t->Add("t", true, kRoleNameAddr);
  t->Add("call-id", true, kRoleCallId);
  t->Add("i", true, kRoleCallId);
  t->Add("cseq", true, kRoleCSeq);
  t->Add("contact", false, kRoleNameAddrList);
  t->Add("m", false, kRoleNameAddrList);
  t->Add("route", false, kRoleNameAddrList);
  t->Add("record-route", false, kRoleNameAddrList);
  t->Add("content-length", true, kRoleContentLength);
  t->Add("l", true, kRoleContentLength);
  t->Add("max-forwards", true, kRoleOther);
  t->Add("content-type", true, kRoleOther);
  t->Add("expires", true, kRoleOther);
  t->Add("event", false, kRoleOther);
}

}  // namespace sip
}  // namespace switchhook
