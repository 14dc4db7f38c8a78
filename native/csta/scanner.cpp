// CSTA XML frame splitter and event scanner; see scanner.h for the batch layout.
#include "csta/scanner.h"

#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace switchhook {
namespace csta {
namespace {

constexpr int kMaxDepth = 64;

// How a value's bytes become its string.
enum : uint8_t {
  kPlain = 0,    // the slice as it is
  kMarkup = 1,   // holds CDATA or a comment (or an entity the scanner leaves to TypeScript): decode in TS
  kScratch = 2,  // the decoded bytes, in the scratch area
  kEntities = 3, // holds entity references only: the writer decodes it into the scratch area
};

struct Value {
  int32_t s;
  int32_t l;
  uint8_t how;
};
constexpr Value kAbsent = {-1, 0, kPlain};

struct Elem {
  uint32_t qs, ql;   // qualified name (prefix:local) for end-tag matching
  uint32_t ls, ll;   // local name
  uint32_t content;  // first byte after the start tag
  bool has_child;
  bool markup;       // a comment or CDATA section appeared directly inside
  bool have_conn;
  Value call, dev;
};

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Hash of a short byte string, 8 bytes per multiply (the last word overlaps when the length is not a
// multiple of 8). Only the cache slot depends on it; equality is always checked byte for byte.
inline uint32_t HashBytes(const uint8_t* p, uint32_t l) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = l;
  if (l >= 8) {
    for (uint32_t i = 0; i + 8 < l; i += 8) h = (h ^ Load64(p + i)) * kMul;
    h = (h ^ Load64(p + l - 8)) * kMul;
  } else {
    uint64_t v = 0;
    for (uint32_t i = 0; i < l; ++i) v = (v << 8) | p[i];
    h = (h ^ v) * kMul;
  }
  // fmix64 (MurmurHash3): every input bit reaches the low bits the slot index is taken from.
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  return static_cast<uint32_t>(h);
}

// a[0, l) == b[0, l) for short strings, by 8-byte words.
inline bool SameBytes(const uint8_t* a, const uint8_t* b, uint32_t l) {
  if (l >= 8) {
    for (uint32_t i = 0; i + 8 < l; i += 8)
      if (Load64(a + i) != Load64(b + i)) return false;
    return Load64(a + l - 8) == Load64(b + l - 8);
  }
  for (uint32_t i = 0; i < l; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// Bounded writer over the batch array: records grow from the front, cache definitions from the back. An
// overflow is remembered; the caller rolls the frame back (records, definitions and the slots they filled).
class Writer {
 public:
  Writer(const uint8_t* data, const StringCache& cache, int32_t* out, size_t capacity)
      : data_(data), cache_(cache), out_(out), cap_(capacity), used_(kHdrWords), scratch_(cache.scratch),
        scratch_cap_(cache.scratch_bytes) {}
  size_t used() const { return used_; }
  uint32_t defs() const { return defs_; }
  bool overflow() const { return overflow_; }
  void Rollback(size_t to, uint32_t defs_to) {
    used_ = to;
    overflow_ = false;
    for (uint32_t i = defs_to; i < defs_; ++i) {
      const uint32_t slot = static_cast<uint32_t>(out_[cap_ - 4 * (i + 1)]);
      std::memset(cache_.mem + static_cast<size_t>(slot) * kCacheSlotBytes + 4, 0, 4);  // slot empty again
    }
    defs_ = defs_to;
  }
  int32_t* Reserve(size_t words) {
    if (overflow_ || used_ + words + 4 * static_cast<size_t>(defs_) > cap_) {
      overflow_ = true;
      return nullptr;
    }
    int32_t* p = out_ + used_;
    used_ += words;
    return p;
  }
  int32_t* At(size_t index) { return out_ + index; }

  // Decodes the entity references of value v into the scratch area (XML 1.0 §4.1, §4.6: the five
  // predefined entities and character references). Returns the decoded slice, or v marked kMarkup when the
  // scratch area is full or a reference is one TypeScript must judge (a surrogate code point).
  Value Decode(const Value& v) {
    const uint8_t* p = data_ + v.s;
    const uint8_t* end = p + v.l;
    if (scratch_used_ + static_cast<size_t>(v.l) > scratch_cap_) return Value{v.s, v.l, kMarkup};
    uint8_t* const start = scratch_ + scratch_used_;
    uint8_t* o = start;
    while (p < end) {
      const uint8_t* amp = static_cast<const uint8_t*>(std::memchr(p, '&', end - p));
      const uint8_t* stop = amp != nullptr ? amp : end;
      std::memcpy(o, p, stop - p);
      o += stop - p;
      if (amp == nullptr) break;
      const uint8_t* semi = static_cast<const uint8_t*>(std::memchr(amp, ';', end - amp));
      const size_t n = semi != nullptr ? static_cast<size_t>(semi - amp - 1) : 0;
      const uint8_t* name = amp + 1;
      uint32_t cp = 0xFFFFFFFFu;
      if (n == 2 && name[0] == 'l' && name[1] == 't') cp = '<';
      else if (n == 2 && name[0] == 'g' && name[1] == 't') cp = '>';
      else if (n == 3 && std::memcmp(name, "amp", 3) == 0) cp = '&';
      else if (n == 4 && std::memcmp(name, "quot", 4) == 0) cp = '"';
      else if (n == 4 && std::memcmp(name, "apos", 4) == 0) cp = '\'';
      else if (n >= 2 && name[0] == '#') {
        const bool hex = name[1] == 'x';
        size_t i = hex ? 2 : 1;
        uint64_t c = 0;
        bool ok = i < n;
        for (; ok && i < n; ++i) {
          const uint8_t d = name[i];
          uint32_t digit;
          if (d >= '0' && d <= '9') digit = d - '0';
          else if (hex && d >= 'a' && d <= 'f') digit = d - 'a' + 10;
          else if (hex && d >= 'A' && d <= 'F') digit = d - 'A' + 10;
          else ok = false;
          if (ok) c = c * (hex ? 16 : 10) + digit;
          if (c > 0x10FFFF) ok = false;
        }
        if (ok) {
          if (c >= 0xD800 && c <= 0xDFFF) return Value{v.s, v.l, kMarkup};
          cp = static_cast<uint32_t>(c);
        }
      }
      if (cp == 0xFFFFFFFFu) {
        // Not a reference this scanner knows: kept as written, like the TypeScript decoder does.
        *o++ = '&';
        p = amp + 1;
        continue;
      }
      if (cp < 0x80) {
        *o++ = static_cast<uint8_t>(cp);
      } else if (cp < 0x800) {
        *o++ = static_cast<uint8_t>(0xC0 | (cp >> 6));
        *o++ = static_cast<uint8_t>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        *o++ = static_cast<uint8_t>(0xE0 | (cp >> 12));
        *o++ = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
        *o++ = static_cast<uint8_t>(0x80 | (cp & 0x3F));
      } else {
        *o++ = static_cast<uint8_t>(0xF0 | (cp >> 18));
        *o++ = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
        *o++ = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
        *o++ = static_cast<uint8_t>(0x80 | (cp & 0x3F));
      }
      p = semi + 1;
    }
    // A reference never decodes to more bytes than it is written with (&#x10FFFF; is 10 for 4).
    const Value d{static_cast<int32_t>(start - scratch_), static_cast<int32_t>(o - start), kScratch};
    scratch_used_ += static_cast<size_t>(o - start);
    return d;
  }

  // Writes value v as (s, l) and returns how TypeScript turns it into a string: a cache slot when it is (or
  // can become) cached, else a slice of the data or, decoded, of the scratch area.
  uint8_t Put(int32_t* r, const Value& v) {
    r[0] = v.s;
    r[1] = v.l;
    if (cache_.slots == 0 || v.l <= 0 || static_cast<uint32_t>(v.l) > kCacheMaxValue) return Slice(r, v);
    const uint8_t* bytes = data_ + v.s;
    const uint32_t len = static_cast<uint32_t>(v.l);
    const uint32_t slot = HashBytes(bytes, len) & (cache_.slots - 1);
    uint8_t* m = cache_.mem + static_cast<size_t>(slot) * kCacheSlotBytes;
    uint32_t gen, len1;
    std::memcpy(&gen, m, 4);
    std::memcpy(&len1, m + 4, 4);
    if (len1 == len + 1 && SameBytes(m + 8, bytes, len)) {
      std::memcpy(m, &cache_.gen, 4);
    } else {
      // A slot used in this batch keeps its string for the whole batch; the value then goes as a slice.
      if (gen == cache_.gen && len1 != 0) return Slice(r, v);
      if (used_ + 4 * (static_cast<size_t>(defs_) + 1) > cap_) return Slice(r, v);
      const Value d = v.how == kEntities ? Decode(v) : v;
      int32_t* def = out_ + cap_ - 4 * (++defs_);
      def[0] = static_cast<int32_t>(slot), def[1] = d.s, def[2] = d.l, def[3] = d.how;
      std::memcpy(m, &cache_.gen, 4);
      len1 = len + 1;
      std::memcpy(m + 4, &len1, 4);
      std::memcpy(m + 8, bytes, len);
    }
    r[0] = static_cast<int32_t>(slot);
    r[1] = kCached;
    return kPlain;
  }

  uint8_t Slice(int32_t* r, const Value& v) {
    if (v.how != kEntities) return v.how;
    const Value d = Decode(v);
    r[0] = d.s;
    r[1] = d.l;
    return d.how;
  }

  void Record(int32_t kind, const Value& v0, const Value& v1 = kAbsent, const Value& v2 = kAbsent,
              const Value& v3 = kAbsent) {
    int32_t* r = Reserve(kRecordWords);
    if (r == nullptr) return;
    if (kind == kRecField) {
      // Other leaves stay slices of the data: TypeScript reads them lazily, possibly after later batches.
      const int32_t flags = (v0.how == kPlain ? 0 : kMarkup) | (v1.how == kPlain ? 0 : kMarkup << 2);
      r[0] = kind | (flags << 8);
      r[1] = v0.s, r[2] = v0.l, r[3] = v1.s, r[4] = v1.l, r[5] = -1, r[6] = 0, r[7] = -1, r[8] = 0;
      return;
    }
    const int32_t flags = Put(r + 1, v0) | (Put(r + 3, v1) << 2) | (Put(r + 5, v2) << 4) | (Put(r + 7, v3) << 6);
    r[0] = kind | (flags << 8);
  }
  void Error(int32_t code, int32_t offset, int32_t invoke_id, int32_t detail, bool fatal) {
    int32_t* r = Reserve(kErrorWords);
    if (r == nullptr) return;
    r[0] = kTagError, r[1] = kErrorWords, r[2] = code, r[3] = offset, r[4] = invoke_id, r[5] = detail;
    r[6] = fatal ? 1 : 0;
  }

 private:
  const uint8_t* data_;
  const StringCache& cache_;
  int32_t* out_;
  size_t cap_;
  size_t used_;
  uint32_t defs_ = 0;
  bool overflow_ = false;
  uint8_t* scratch_;
  size_t scratch_cap_;
  size_t scratch_used_ = 0;
};

inline bool IsSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Bytes that end an element name: XML white space (and any other control byte, which no name holds), '/', '>'.
struct NameEndTable {
  bool end[256] = {};
  constexpr NameEndTable() {
    for (int c = 0; c <= ' '; ++c) end[c] = true;
    end[static_cast<uint8_t>('/')] = end[static_cast<uint8_t>('>')] = true;
  }
};
constexpr NameEndTable kNameEnd;
inline bool IsNameEnd(uint8_t c) { return kNameEnd.end[c]; }

// Scans a name from n: returns the first offset in [n, end) holding a name-ending byte (or a control
// byte, which no name holds), or end; *local gets the offset after the name's last ':' (n when none).
inline uint32_t NameEnd(const uint8_t* b, uint32_t n, uint32_t end, uint32_t* local) {
  *local = n;
#if defined(__SSE2__)
  const __m128i gt = _mm_set1_epi8('>');
  const __m128i slash = _mm_set1_epi8('/');
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i colon = _mm_set1_epi8(':');
  while (n + 16 <= end) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + n));
    const __m128i le_space = _mm_cmpeq_epi8(_mm_min_epu8(v, space), v);
    const __m128i hit = _mm_or_si128(le_space, _mm_or_si128(_mm_cmpeq_epi8(v, gt), _mm_cmpeq_epi8(v, slash)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    unsigned colons = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, colon)));
    if (mask != 0) {
      const unsigned at = static_cast<unsigned>(__builtin_ctz(mask));
      colons &= (1u << at) - 1;
      if (colons != 0) *local = n + 32 - static_cast<uint32_t>(__builtin_clz(colons));
      return n + at;
    }
    if (colons != 0) *local = n + 32 - static_cast<uint32_t>(__builtin_clz(colons));
    n += 16;
  }
#endif
  for (; n < end && !IsNameEnd(b[n]); ++n)
    if (b[n] == ':') *local = n + 1;
  return n;
}

template <size_t N>
inline bool Eq(const uint8_t* b, uint32_t s, uint32_t l, const char (&lit)[N]) {
  return l == N - 1 && std::memcmp(b + s, lit, N - 1) == 0;
}

// Local names that hold a device identifier themselves (ECMA-323 DeviceID-typed elements not ending in
// "Device").
bool IsDeviceRole(const uint8_t* b, uint32_t s, uint32_t l) {
  if (l >= 6 && std::memcmp(b + s + l - 6, "Device", 6) == 0) return true;
  return Eq(b, s, l, "device") || Eq(b, s, l, "newDestination") || Eq(b, s, l, "calledDirectoryNumber") ||
         Eq(b, s, l, "deviceObject") || Eq(b, s, l, "forwardDN") || Eq(b, s, l, "forwardTo") ||
         Eq(b, s, l, "transferredTo") || Eq(b, s, l, "deviceToBeForwarded");
}

enum class Leaf { kOther, kCallId, kDeviceId, kCrossRef, kLocalConnInfo, kCause, kDeviceIdentifier, kDevice };

// What a leaf element's local name means to the scanner; dispatches on length first.
Leaf ClassifyLeaf(const uint8_t* b, uint32_t s, uint32_t l) {
  switch (l) {
    case 5:
      return Eq(b, s, l, "cause") ? Leaf::kCause : Leaf::kOther;
    case 6:
      if (Eq(b, s, l, "callID")) return Leaf::kCallId;
      return Eq(b, s, l, "device") ? Leaf::kDevice : Leaf::kOther;
    case 8:
      return Eq(b, s, l, "deviceID") ? Leaf::kDeviceId : Leaf::kOther;
    case 12:
      return Eq(b, s, l, "numberDialed") ? Leaf::kDeviceIdentifier : Leaf::kOther;
    case 16:
      return Eq(b, s, l, "deviceIdentifier") ? Leaf::kDeviceIdentifier : Leaf::kOther;
    case 17:
      return Eq(b, s, l, "monitorCrossRefID") ? Leaf::kCrossRef : Leaf::kOther;
    case 19:
      return Eq(b, s, l, "localConnectionInfo") ? Leaf::kLocalConnInfo : Leaf::kOther;
    default:
      return Leaf::kOther;
  }
}

const uint8_t* Find(const uint8_t* p, const uint8_t* end, const char* needle, size_t n) {
  while (p + n <= end) {
    const void* q = std::memchr(p, needle[0], static_cast<size_t>(end - p) - n + 1);
    if (q == nullptr) return nullptr;
    p = static_cast<const uint8_t*>(q);
    if (std::memcmp(p, needle, n) == 0) return p;
    ++p;
  }
  return nullptr;
}

enum class DocStatus { kOk, kError, kTrailing };

struct DocResult {
  DocStatus status = DocStatus::kOk;
  int32_t problem = 0;
  uint32_t root_s = 0, root_l = 0;
  uint32_t root_end = 0;  // first byte after the root's end tag
};

// Scans one XML document b[start, end) and writes its records. Offsets are relative to b.
class DocScanner {
 public:
  DocScanner(const uint8_t* b, Writer& w) : b_(b), w_(w) {}

  DocResult Scan(uint32_t start, uint32_t end) {
    DocResult r;
    uint32_t p = start;
    if (end - p >= 3 && b_[p] == 0xEF && b_[p + 1] == 0xBB && b_[p + 2] == 0xBF) p += 3;
    bool root_seen = false;
    bool root_done = false;
    while (true) {
      if (depth_ == 0) {
        while (p < end && IsSpace(b_[p])) ++p;
        if (p == end) break;
        if (b_[p] != '<') {
          if (root_done) return Trailing(r);
          return Fail(r, kXmlTextOutsideRoot);
        }
      } else if (p >= end) {
        return Fail(r, kXmlUnclosed);
      } else if (b_[p] != '<') {
        const void* q = std::memchr(b_ + p, '<', end - p);
        if (q == nullptr) return Fail(r, kXmlUnclosed);
        p = static_cast<uint32_t>(static_cast<const uint8_t*>(q) - b_);
      }
      if (p + 1 >= end) return Fail(r, kXmlUnclosed);
      const uint8_t c = b_[p + 1];
      if (c == '/') {
        if (depth_ == 0) return root_done ? Trailing(r) : Fail(r, kXmlMismatch);
        const uint32_t tag = p;
        // The end tag must repeat the open element's qualified name, then optional white space and '>'.
        const Elem& top = stack_[depth_ - 1];
        uint32_t n = p + 2 + top.ql;
        if (n >= end) return Fail(r, kXmlUnclosed);
        if (!SameBytes(b_ + p + 2, b_ + top.qs, top.ql) || !IsNameEnd(b_[n]) || b_[n] == '/')
          return Fail(r, kXmlMismatch);
        while (n < end && IsSpace(b_[n])) ++n;
        if (n >= end) return Fail(r, kXmlUnclosed);
        if (b_[n] != '>') return Fail(r, kXmlBadMarkup);
        Close(tag);
        p = n + 1;
        if (depth_ == 0) {
          root_done = true;
          r.root_end = p;
        }
      } else if (c == '?') {
        const uint8_t* q = Find(b_ + p + 2, b_ + end, "?>", 2);
        if (q == nullptr) return Fail(r, kXmlUnclosed);
        p = static_cast<uint32_t>(q - b_) + 2;
      } else if (c == '!') {
        if (end - p >= 4 && std::memcmp(b_ + p, "<!--", 4) == 0) {
          const uint8_t* q = Find(b_ + p + 4, b_ + end, "-->", 3);
          if (q == nullptr) return Fail(r, kXmlUnclosed);
          if (depth_ > 0) stack_[depth_ - 1].markup = true;
          p = static_cast<uint32_t>(q - b_) + 3;
        } else if (depth_ > 0 && end - p >= 9 && std::memcmp(b_ + p, "<![CDATA[", 9) == 0) {
          const uint8_t* q = Find(b_ + p + 9, b_ + end, "]]>", 3);
          if (q == nullptr) return Fail(r, kXmlUnclosed);
          stack_[depth_ - 1].markup = true;
          p = static_cast<uint32_t>(q - b_) + 3;
        } else if (!root_seen && end - p >= 9 && std::memcmp(b_ + p, "<!DOCTYPE", 9) == 0) {
          int brackets = 0;
          uint32_t n = p + 9;
          for (; n < end; ++n) {
            if (b_[n] == '[') ++brackets;
            else if (b_[n] == ']') --brackets;
            else if (b_[n] == '>' && brackets <= 0) break;
          }
          if (n >= end) return Fail(r, kXmlUnclosed);
          p = n + 1;
        } else {
          return Fail(r, kXmlBadMarkup);
        }
      } else {
        if (root_done) return Trailing(r);
        const uint32_t qs = p + 1;
        uint32_t colon;
        uint32_t n = NameEnd(b_, qs, end, &colon);
        if (n == qs || colon == n) return Fail(r, kXmlBadMarkup);
        if (n >= end) return Fail(r, kXmlUnclosed);
        const uint32_t ql = n - qs;
        bool self_closing = false;
        // Attributes: name = "value" | 'value'; values are skipped, not extracted.
        if (b_[n] == '>') {
          ++n;
        } else {
          while (true) {
            while (n < end && IsSpace(b_[n])) ++n;
            if (n >= end) return Fail(r, kXmlUnclosed);
            if (b_[n] == '>') {
              ++n;
              break;
            }
            if (b_[n] == '/') {
              if (n + 1 >= end) return Fail(r, kXmlUnclosed);
              if (b_[n + 1] != '>') return Fail(r, kXmlBadAttribute);
              n += 2;
              self_closing = true;
              break;
            }
            const uint32_t an = n;
            while (n < end && b_[n] != '=' && !IsNameEnd(b_[n])) ++n;
            if (n == an) return Fail(r, kXmlBadAttribute);
            while (n < end && IsSpace(b_[n])) ++n;
            if (n >= end) return Fail(r, kXmlUnclosed);
            if (b_[n] != '=') return Fail(r, kXmlBadAttribute);
            ++n;
            while (n < end && IsSpace(b_[n])) ++n;
            if (n >= end) return Fail(r, kXmlUnclosed);
            const uint8_t quote = b_[n];
            if (quote != '"' && quote != '\'') return Fail(r, kXmlBadAttribute);
            const void* q = std::memchr(b_ + n + 1, quote, end - n - 1);
            if (q == nullptr) return Fail(r, kXmlUnclosed);
            n = static_cast<uint32_t>(static_cast<const uint8_t*>(q) - b_) + 1;
          }
        }
        if (depth_ == kMaxDepth) return Fail(r, kXmlTooDeep);
        if (depth_ > 0) stack_[depth_ - 1].has_child = true;
        if (!root_seen) {
          root_seen = true;
          r.root_s = colon;
          r.root_l = qs + ql - colon;
        }
        Elem& e = stack_[depth_++];
        e.qs = qs, e.ql = ql, e.ls = colon, e.ll = qs + ql - colon, e.content = n;
        e.has_child = false, e.markup = false, e.have_conn = false;
        e.call = kAbsent, e.dev = kAbsent;
        if (in_transferred_ == 0 && Eq(b_, e.ls, e.ll, "transferredConnections")) in_transferred_ = depth_;
        p = n;
        if (self_closing) {
          Close(n);
          if (depth_ == 0) {
            root_done = true;
            r.root_end = p;
          }
        }
      }
    }
    if (!root_seen) return Fail(r, kXmlNoRoot);
    if (!root_done) return Fail(r, kXmlUnclosed);
    return r;
  }

 private:
  DocResult& Fail(DocResult& r, int32_t problem) {
    r.status = DocStatus::kError;
    r.problem = problem;
    return r;
  }
  DocResult& Trailing(DocResult& r) {
    r.status = DocStatus::kTrailing;
    return r;
  }

  // The trimmed text of a leaf; entity references are looked for only when `entities` is set (other leaves
  // are decoded lazily by TypeScript, which looks for them itself).
  Value Text(const Elem& e, uint32_t text_end, bool entities = true) {
    uint32_t s = e.content;
    uint32_t t = text_end;
    while (s < t && IsSpace(b_[s])) ++s;
    while (t > s && IsSpace(b_[t - 1])) --t;
    Value v;
    v.s = static_cast<int32_t>(s);
    v.l = static_cast<int32_t>(t - s);
    if (e.markup) v.how = kMarkup;
    else if (entities && t > s && std::memchr(b_ + s, '&', t - s) != nullptr) v.how = kEntities;
    else v.how = kPlain;
    return v;
  }

  static Value Name(uint32_t s, uint32_t l) { return Value{static_cast<int32_t>(s), static_cast<int32_t>(l), kPlain}; }

  // Closes the innermost element; text_end is the offset of its end tag (or of the byte after "/>").
  void Close(uint32_t text_end) {
    Elem& e = stack_[--depth_];
    Elem* parent = depth_ > 0 ? &stack_[depth_ - 1] : nullptr;
    const uint32_t ls = e.ls, ll = e.ll;
    if (parent == nullptr) return;  // the root: its name travels in the message head
    if (in_transferred_ == depth_ + 1) {
      in_transferred_ = 0;
      return;
    }
    if (!e.has_child) {
      const Leaf leaf = ClassifyLeaf(b_, ls, ll);
      const bool field = leaf == Leaf::kOther && !IsDeviceRole(b_, ls, ll);
      const Value v = Text(e, text_end, !field);
      switch (leaf) {
        case Leaf::kCallId:
          parent->call = v;
          parent->have_conn = true;
          break;
        case Leaf::kDeviceId:
          parent->dev = v;
          parent->have_conn = true;
          break;
        case Leaf::kCrossRef:
          if (!seen_crossref_) w_.Record(kRecCrossRef, v);
          seen_crossref_ = true;
          break;
        case Leaf::kLocalConnInfo:
          if (!seen_lci_) w_.Record(kRecLocalConnInfo, v);
          seen_lci_ = true;
          break;
        case Leaf::kCause:
          if (!seen_cause_) w_.Record(kRecCause, v);
          seen_cause_ = true;
          break;
        case Leaf::kDeviceIdentifier:
          // <role><deviceIdentifier>X</deviceIdentifier></role>: the device plays its parent's role.
          if (depth_ > 1) w_.Record(kRecDevice, Name(parent->ls, parent->ll), v);
          else w_.Record(kRecField, Name(ls, ll), v);
          break;
        case Leaf::kDevice:
          if (depth_ > 1 && IsDeviceRole(b_, parent->ls, parent->ll)) w_.Record(kRecDevice, Name(parent->ls, parent->ll), v);
          else w_.Record(kRecDevice, Name(ls, ll), v);
          break;
        case Leaf::kOther:
          if (field) w_.Record(kRecField, Name(ls, ll), v);
          else w_.Record(kRecDevice, Name(ls, ll), v);
          break;
      }
      return;
    }
    if (in_transferred_ > 0 && depth_ >= in_transferred_) {
      if (e.have_conn) {
        if (Eq(b_, ls, ll, "newConnection")) {
          tc_[0] = e.call, tc_[1] = e.dev;
        } else if (Eq(b_, ls, ll, "oldConnection")) {
          tc_[2] = e.call, tc_[3] = e.dev;
        }
      } else if (Eq(b_, ls, ll, "connectionListItem")) {
        if (tc_[0].s >= 0 || tc_[1].s >= 0 || tc_[2].s >= 0 || tc_[3].s >= 0)
          w_.Record(kRecTransferred, tc_[0], tc_[1], tc_[2], tc_[3]);
        for (Value& v : tc_) v = kAbsent;
      }
      return;
    }
    if (e.have_conn) w_.Record(kRecConnection, Name(ls, ll), e.call, e.dev);
  }

 private:
  const uint8_t* b_;
  Writer& w_;
  Elem stack_[kMaxDepth];
  int depth_ = 0;
  int in_transferred_ = 0;  // depth of the open transferredConnections element, 0 when outside
  Value tc_[4] = {kAbsent, kAbsent, kAbsent, kAbsent};
  bool seen_crossref_ = false, seen_lci_ = false, seen_cause_ = false;
};

inline bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }

// A plausible frame start at p (needs 9 bytes): 00 00, a length within (8, cap], 4 digits, then markup.
bool PlausibleHeader(const uint8_t* d, size_t p, uint32_t cap) {
  if (d[p] != 0 || d[p + 1] != 0) return false;
  const uint32_t len = (static_cast<uint32_t>(d[p + 2]) << 8) | d[p + 3];
  if (len <= 8 || len > cap) return false;
  if (!IsDigit(d[p + 4]) || !IsDigit(d[p + 5]) || !IsDigit(d[p + 6]) || !IsDigit(d[p + 7])) return false;
  const uint8_t c = d[p + 8];
  return c == '<' || c == 0xEF || IsSpace(c);
}

}  // namespace

void ScanFrames(const uint8_t* data, size_t size, const ScanLimits& limits, StreamState& state,
                const StringCache& cache, int32_t* out, size_t capacity) {
  Writer w(data, cache, out, capacity);
  size_t pos = 0;
  uint32_t skipped = 0;
  int32_t messages = 0, errors = 0;
  bool fatal = false, full = false;
  const uint32_t cap = limits.max_frame_bytes;

  while (!fatal) {
    if (state.resyncing) {
      size_t p = pos;
      bool found = false;
      while (p < size) {
        const void* q = std::memchr(data + p, 0, size - p);
        if (q == nullptr) {
          p = size;
          break;
        }
        p = static_cast<size_t>(static_cast<const uint8_t*>(q) - data);
        if (size - p < 9) break;
        if (PlausibleHeader(data, p, cap)) {
          found = true;
          break;
        }
        ++p;
      }
      const uint32_t n = static_cast<uint32_t>(p - pos);
      skipped += n;
      state.resync_skipped += n;
      pos = p;
      if (state.resync_skipped > limits.max_resync_bytes) {
        const size_t mark = w.used();
        const uint32_t defs_mark = w.defs();
        w.Error(kErrResync, static_cast<int32_t>(pos), -1, static_cast<int32_t>(state.resync_skipped), true);
        if (w.overflow()) {
          w.Rollback(mark, defs_mark);
          full = true;
          break;
        }
        ++errors;
        fatal = true;
        skipped += static_cast<uint32_t>(size - pos);
        pos = size;
        break;
      }
      if (!found) break;
      state.resyncing = false;
      state.resync_skipped = 0;
    }
    if (size - pos < 8) break;
    const uint8_t* h = data + pos;
    const uint32_t len = (static_cast<uint32_t>(h[2]) << 8) | h[3];
    int32_t code = 0, detail = 0;
    if (h[0] != 0 || h[1] != 0) {
      code = kErrFrameMagic;
      detail = (h[0] << 8) | h[1];
    } else if (len <= 8) {
      code = kErrFrameLength;
      detail = static_cast<int32_t>(len);
    } else if (len > cap) {
      code = kErrFrameTooLarge;
      detail = static_cast<int32_t>(len);
    } else if (!IsDigit(h[4]) || !IsDigit(h[5]) || !IsDigit(h[6]) || !IsDigit(h[7])) {
      code = kErrInvokeId;
    }
    const size_t mark = w.used();
    const uint32_t defs_mark = w.defs();
    if (code != 0) {
      w.Error(code, static_cast<int32_t>(pos), -1, detail, false);
      if (w.overflow()) {
        w.Rollback(mark, defs_mark);
        full = true;
        break;
      }
      ++errors;
      state.resyncing = true;
      state.resync_skipped = 1;
      ++skipped;
      ++pos;
      continue;
    }
    if (size - pos < len) break;  // wait for the rest of the frame
    const int32_t invoke_id = (h[4] - '0') * 1000 + (h[5] - '0') * 100 + (h[6] - '0') * 10 + (h[7] - '0');
    const uint32_t body = static_cast<uint32_t>(pos + 8);
    const uint32_t frame_end = static_cast<uint32_t>(pos + len);
    int32_t* head = w.Reserve(kMessageHead);
    DocResult r;
    if (head != nullptr) {
      DocScanner doc(data, w);
      r = doc.Scan(body, frame_end);
    }
    if (w.overflow()) {
      w.Rollback(mark, defs_mark);
      full = true;
      break;
    }
    if (r.status == DocStatus::kOk) {
      head = w.At(mark);
      head[0] = kTagMessage;
      head[1] = static_cast<int32_t>(w.used() - mark);
      head[2] = invoke_id;
      head[3] = static_cast<int32_t>(body);
      head[4] = static_cast<int32_t>(frame_end);
      w.Put(head + 5, Value{static_cast<int32_t>(r.root_s), static_cast<int32_t>(r.root_l), false});
      ++messages;
      pos = frame_end;
      continue;
    }
    w.Rollback(mark, defs_mark);
    if (r.status == DocStatus::kError) {
      w.Error(kErrXml, static_cast<int32_t>(pos), invoke_id, r.problem, false);
      pos = frame_end;
    } else {
      // The document ended before the frame did: a stale length field. Hunt for the next header from the
      // end of the document, so a frame swallowed by the bad length is recovered.
      w.Error(kErrFrameLength, static_cast<int32_t>(pos), invoke_id, static_cast<int32_t>(len), false);
      pos = r.root_end;
      state.resyncing = true;
      state.resync_skipped = 0;
    }
    if (w.overflow()) {
      w.Rollback(mark, defs_mark);
      full = true;
      break;
    }
    ++errors;
  }

  out[kHdrConsumed] = static_cast<int32_t>(pos);
  out[kHdrResyncing] = state.resyncing ? 1 : 0;
  out[kHdrSkipped] = static_cast<int32_t>(skipped);
  out[kHdrMessages] = messages;
  out[kHdrErrors] = errors;
  out[kHdrFatal] = fatal ? 1 : 0;
  out[kHdrUsed] = static_cast<int32_t>(w.used());
  out[kHdrFull] = full ? 1 : 0;
  out[kHdrDefs] = static_cast<int32_t>(w.defs());
}

}  // namespace csta
}  // namespace switchhook
