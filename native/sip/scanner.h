// SIP message scanner (RFC 3261 7, 25.1): one pass over a datagram or framed stream message that checks
// the framing of the common well-formed case and writes offsets into an int32 record. No allocation, no
// copies: every offset points into the caller's buffer. Anything it does not accept (folding, a single
// header repeated with another value, faults of any kind) is reported as "not scanned" and the TypeScript grammar takes over,
// so verdicts and error reasons stay those of src/sip/message/.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace switchhook {
namespace sip {

// Layout of the output record (int32 words). Offsets marked "rel" are from `base` (start of the start line).
enum Word : int {
  kStatus = 0,      // 1 scanned, 0 not scanned (use the grammar path)
  kBase = 1,        // absolute offset of the start line (leading CRLFs skipped)
  kBodyStart = 2,   // absolute offset of the body
  kBodyEnd = 3,     // absolute end of the message (Content-Length applied)
  kKind = 4,        // 1 request, 2 response
  kLine0 = 5,       // request: method end (rel); response: status code
  kLine1 = 6,       // request: URI start; response: reason start (rel)
  kLine2 = 7,       // request: URI end; response: reason end (rel)
  kHeaderCount = 8,
  kItemCount = 9,
  kItemBase = 10,   // word index of the first item record (right after the header records)
  kSlotBase = 11,   // kSlotBase + s - 1: word index of the first item of a header of slot s (1-12), 0 when none
                    // (the item's kItemNext word leads to the next one)
  kMethodToken = 23,  // request: index of the method in the token table (NameTable::AddToken), -1 when not in it
  kFirstHeader = 24,
};

// Slots are numbered 1 to kMaxSlot; the caller gives each header name one (or 0 for none).
constexpr int kMaxSlot = kMethodToken - kSlotBase;

// Header record: id (index in the name table, -1 unknown), name start/end, value start, line end (rel).
constexpr int kHeaderWords = 5;

// Item record: one value of a hot header. Word 0 header index, 1 header id, 2 item kind, 3 1 when the value
// is in the canonical form (words 4-13 valid), 0 when the grammar path must parse it; 4-13 below; 14 (kItemNext)
// the word index of the next item whose header name has the same slot, 0 when none or when the name has no
// slot: with the slot words, a reader walks the values of one header without a search.
constexpr int kItemWords = 15;
constexpr int kItemNext = 14;
enum ItemKind : int {
  kItemVia = 1,       // 4,5 transport; 6,7 host; 8 port or -1; 9,10 params (";a=b;c", may be empty);
                      // 11,12 value of the first `branch` parameter (-1 when none; equal for a flag);
                      // 13 index of the transport in the token table, -1 when not in it
  kItemNameAddr = 2,  // 4 display kind (0 none, 1 tokens, 2 quoted: offsets exclude the quotes); 5,6 display;
                      // 7,8 URI; 9,10 params; 11,12 value of the first `tag` parameter (as for Via)
  kItemCSeq = 3,      // 4 sequence number (uint32 bits); 5,6 method; 7 index of the method in the token table or -1
  kItemCallId = 4,    // 4,5 value
};

// Roles of the named headers, given by the caller with the name table.
enum Role : uint8_t {
  kRoleOther = 0,
  kRoleVia = 1,
  kRoleNameAddr = 2,      // From, To: one name-addr per line
  kRoleNameAddrList = 3,  // Contact, Route, Record-Route: comma-separated
  kRoleCSeq = 4,
  kRoleCallId = 5,
  kRoleContentLength = 6,
};

// Instruction sets of the scanner's wider passes: the x86-64 baseline (SSE2, or bytewise elsewhere) and AVX2,
// used only where the CPU has it (checked at run time).
enum class Simd : uint8_t {
  kBase = 0,
  kAvx2 = 1,
};

// The widest of them this CPU runs.
Simd BestSimd();

struct Limits {
  int32_t max_header_bytes;
  int32_t max_body_bytes;
  int32_t max_headers;
};

// Header name table: names in lower case; a non-zero `single` group marks headers that may appear once
// (RFC 3261 7.3.1), the same group for every spelling of one header (`to` and `t`). A name is looked up by
// a hash of its length and of its first and last 8 bytes case-folded (one multiplication, no per-byte
// work), then compared word by word.
class NameTable {
 public:
  // Name ids are given in call order. Names longer than 255 bytes are never found. Up to 1024 names.
  // `slot` (0 or 1 to kMaxSlot) is recorded with the first item of the name's values.
  void Add(const std::string& lower, uint8_t single, Role role, uint8_t slot = 0);
  // Index of the token `p[0, n)` compared case-insensitively, or -1. `readable` bytes from `p` may be read
  // (at least `n`; more lets the lookup load whole words).
  int Find(const uint8_t* p, size_t n, size_t readable = 0) const;
  // The table also holds common tokens matched case-sensitively (methods, Via transports), so the record can
  // name them by index and the caller reuses its strings. Tokens of 1 to 16 bytes, up to 64, in call order.
  void AddToken(const std::string& token);
  // Index of the token equal to `p[0, n)`, or -1; `readable` as for Find.
  int Token(const uint8_t* p, size_t n, size_t readable = 0) const;
  uint8_t Single(int id) const { return single_[static_cast<size_t>(id)]; }
  Role RoleOf(int id) const { return roles_[static_cast<size_t>(id)]; }
  uint8_t SlotOf(int id) const { return slots_of_[static_cast<size_t>(id)]; }
  size_t Size() const { return names_.size(); }
  // Instruction set of the scans made with this table: BestSimd() unless limited to the baseline (tests compare
  // the two). Asking for more than the CPU has gives the best it has.
  Simd simd() const { return simd_; }
  void SetSimd(Simd simd) { simd_ = simd > BestSimd() ? BestSimd() : simd; }

 private:
  static constexpr size_t kSlots = 4096;
  struct Slot {
    uint64_t head;  // first 8 bytes folded (zero-padded)
    uint64_t tail;  // last 8 bytes folded (zero-padded; the name when shorter)
    uint16_t len;
    int16_t id;     // name id + 1; 0 for an empty slot
  };
  std::vector<std::string> names_;   // as given (lower case)
  std::vector<std::string> folded_;  // case-folded, for names longer than 16 bytes
  std::vector<uint8_t> single_;
  std::vector<Role> roles_;
  std::vector<uint8_t> slots_of_;
  Slot slots_[kSlots] = {};
  struct TokenWord {
    uint64_t word[2];  // the token's bytes, zero-padded
    size_t len;
  };
  std::vector<TokenWord> tokens_;
  std::vector<uint8_t> tokens_of_len_[17];  // indexes in tokens_ by length
  Simd simd_ = BestSimd();
};

// Scans `data[0, len)` into `out` (capacity `cap` words). Returns out[kStatus]; when 1, the record uses
// kItemBase + items * kItemWords words. Never reads outside `data`, never writes outside `out[0, cap)`.
int32_t ScanMessage(const uint8_t* data, size_t len, const NameTable& names, const Limits& limits, int32_t* out,
                    size_t cap);

}  // namespace sip
}  // namespace switchhook
