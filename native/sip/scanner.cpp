// SIP message scanner: see scanner.h. The canonical forms accepted here are exactly those of the fast paths
// the TypeScript grammar used before (src/sip/message/via.ts VIA_RE, name-addr.ts NAME_ADDR_RE and
// ADDR_SPEC_RE, message.ts CSeq), so a value either scans here or goes to the grammar with the same result.
#include "sip/scanner.h"

#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#define SWITCHHOOK_SIP_AVX2 1
#endif

namespace switchhook {
namespace sip {
namespace {

// RFC 3261 25.1 token characters.
struct Tables {
  bool token[256];
  bool host[256];       // Via sent-by host of the canonical form: ALPHA DIGIT . - _
  bool gen_value[256];  // token plus ':' '[' ']' (unquoted generic-param value)
  bool scheme[256];     // ALPHA DIGIT + - .
  constexpr Tables() : token(), host(), gen_value(), scheme() {
    for (int c = '0'; c <= '9'; ++c) token[c] = host[c] = scheme[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) token[c] = host[c] = scheme[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) token[c] = host[c] = scheme[c] = true;
    const char* marks = "-.!%*_+`'~";
    for (const char* m = marks; *m != 0; ++m) token[static_cast<unsigned char>(*m)] = true;
    host['.'] = host['-'] = host['_'] = true;
    scheme['+'] = scheme['-'] = scheme['.'] = true;
    for (int c = 0; c < 256; ++c) gen_value[c] = token[c];
    gen_value[':'] = gen_value['['] = gen_value[']'] = true;
  }
};
constexpr Tables kT;

inline uint8_t Lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c | 0x20) : c; }
inline bool IsWs(uint8_t c) { return c == ' ' || c == '\t'; }
inline bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }
inline bool IsHex(uint8_t c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

constexpr size_t kFail = static_cast<size_t>(-1);

// Bytes allowed where the canonical forms take "anything but" a few delimiters: visible ASCII and space
// (tabs, controls and non-ASCII go to the grammar, which knows LWS and UTF-8).
inline bool Visible(uint8_t c) { return c >= 0x20 && c < 0x7f; }

// The end of the run of bytes of class `cls` from `i`: four bytes per step while they all belong, then one
// at a time (fewer branches on the runs of names, tokens and hosts that make up most of a head).
inline size_t Span(const bool* cls, const uint8_t* p, size_t i, size_t end) {
  while (i + 4 <= end && (cls[p[i]] & cls[p[i + 1]] & cls[p[i + 2]] & cls[p[i + 3]])) i += 4;
  while (i < end && cls[p[i]]) ++i;
  return i;
}

inline size_t SpanToken(const uint8_t* p, size_t i, size_t end) { return Span(kT.token, p, i, end); }

// Index of the first '\n' in `p[i, end)`, or `end`.
inline size_t FindLf(const uint8_t* p, size_t i, size_t end) {
#if defined(__SSE2__)
  const __m128i lf = _mm_set1_epi8('\n');
  while (i + 16 <= end) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)));
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
    i += 16;
  }
#endif
  while (i < end && p[i] != '\n') ++i;
  return i;
}

// The first byte of `p[i, end)` that cannot be in a URI between `<` and `>` in the canonical form: `>`
// (where the URI ends), `<`, `"`, a control, space or non-ASCII byte; `end` when none.
inline size_t UriEnd(const uint8_t* p, size_t i, size_t end) {
#if defined(__SSE2__)
  const __m128i gt = _mm_set1_epi8('>');
  const __m128i lt = _mm_set1_epi8('<');
  const __m128i dq = _mm_set1_epi8('"');
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i sp = _mm_set1_epi8(0x21);
  while (i + 16 <= end) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // Signed: bytes 0x80-0xff are negative, so `v < 0x21` also catches non-ASCII.
    __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, gt), _mm_cmpeq_epi8(v, lt)),
                               _mm_or_si128(_mm_cmpeq_epi8(v, dq), _mm_cmpeq_epi8(v, del)));
    bad = _mm_or_si128(bad, _mm_cmplt_epi8(v, sp));
    auto m = static_cast<unsigned>(_mm_movemask_epi8(bad));
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
    i += 16;
  }
#endif
  while (i < end) {
    uint8_t c = p[i];
    if (c == '>' || c == '<' || c == '"' || c <= 0x20 || c >= 0x7f) return i;
    ++i;
  }
  return end;
}

// The first byte of `p[i, end)` that is not visible ASCII (a space, tab, control, DEL or non-ASCII byte), or
// `end`: where a Call-ID value must end.
inline size_t VisibleEnd(const uint8_t* p, size_t i, size_t end) {
#if defined(__SSE2__)
  const __m128i sp = _mm_set1_epi8(0x21);
  const __m128i del = _mm_set1_epi8(0x7f);
  while (i + 16 <= end) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // Signed: bytes 0x80-0xff are negative, so `v < 0x21` also catches non-ASCII.
    auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, sp), _mm_cmpeq_epi8(v, del))));
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
    i += 16;
  }
#endif
  while (i < end && p[i] > 0x20 && p[i] < 0x7f) ++i;
  return i;
}

// True when `p[i, end)` holds a space or a tab.
inline bool HasWs(const uint8_t* p, size_t i, size_t end) {
#if defined(__SSE2__)
  const __m128i sp = _mm_set1_epi8(' ');
  const __m128i tab = _mm_set1_epi8('\t');
  while (i + 16 <= end) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    if (_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, tab))) != 0) return true;
    i += 16;
  }
#endif
  for (; i < end; ++i) {
    if (IsWs(p[i])) return true;
  }
  return false;
}

inline size_t SkipSpaces(const uint8_t* p, size_t i, size_t end) {
  while (i < end && p[i] == ' ') ++i;
  return i;
}

// `*( ";" token [ "=" ( 1*(token / ":" / "[" / "]") / quoted ) ] )` from `i`; quoted values only when
// `quoted_ok`, visible and without backslash, ';' or '='. With `via`, the first `rport` value must be
// 1-5 digits and there must be no `ttl` parameter. The value of the first parameter named exactly `want` (as written, lower case) goes to
// found[0..1] (start, end), left untouched when there is none. Returns where the parameters end, or kFail
// on a malformed parameter.
size_t Params(const uint8_t* p, size_t i, size_t end, bool quoted_ok, bool via, const char* want, size_t want_len,
              size_t* found) {
  bool rport_seen = false;
  bool want_seen = false;
  while (i < end && p[i] == ';') {
    size_t ns = i + 1;
    i = SpanToken(p, ns, end);
    if (i == ns) return kFail;
    bool wanted = !want_seen && i - ns == want_len;
    for (size_t k = 0; wanted && k < want_len; ++k) wanted = p[ns + k] == static_cast<uint8_t>(want[k]);
    if (wanted) {
      want_seen = true;
      found[0] = found[1] = i;
    }
    bool rport = via && !rport_seen && i - ns == 5 && p[ns] == 'r' && std::memcmp(p + ns, "rport", 5) == 0;
    rport_seen = rport_seen || rport;
    // `ttl` in any case: its range is checked by the grammar path.
    if (via && i - ns == 3 && (p[ns] | 0x20) == 't' && (p[ns + 1] | 0x20) == 't' && (p[ns + 2] | 0x20) == 'l') {
      return kFail;
    }
    if (i < end && p[i] == '=') {
      ++i;
      if (quoted_ok && i < end && p[i] == '"') {
        ++i;
        while (i < end && p[i] != '"') {
          uint8_t c = p[i];
          if (c == '\\' || c == ';' || c == '=' || !Visible(c)) return kFail;
          ++i;
        }
        if (i >= end) return kFail;
        ++i;
        if (wanted) {
          found[0] = ns + want_len + 1;
          found[1] = i;
        }
      } else {
        size_t s = i;
        i = Span(kT.gen_value, p, i, end);
        if (i == s) return kFail;
        if (wanted) {
          found[0] = s;
          found[1] = i;
        }
        if (rport) {
          if (i - s > 5) return kFail;
          for (size_t k = s; k < i; ++k) {
            if (!IsDigit(p[k])) return kFail;
          }
        }
      }
    }
  }
  return i;
}

// Zeroes kMaxSlot words at `p` with plain stores (a zeroing loop would become `rep stos`, whose start-up costs
// more than these few words).
inline void ZeroSlots(int32_t* p) {
  static_assert(kMaxSlot % 4 == 0, "slot words are zeroed four at a time");
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  for (int s = 0; s < kMaxSlot; s += 4) _mm_storeu_si128(reinterpret_cast<__m128i*>(p + s), zero);
#else
  for (int s = 0; s < kMaxSlot; s += 4) {
    std::memset(p + s, 0, 4 * sizeof(int32_t));
  }
#endif
}

// The record while scanning: the header count is known before the first header is scanned (LineEnds), so the
// item records are written in place right after the header records, each linked to the previous item of its
// slot as it is made.
struct Out {
  int32_t* w;
  size_t cap;
  const NameTable* names;
  size_t item_base;  // word index of the first item record
  size_t items = 0;
  int32_t last[kMaxSlot] = {};  // word index of the latest item of each slot so far, 0 for none
  // A new item record (words 3.. zeroed) linked into its slot, or nullptr when the record is full.
  int32_t* Item(int header, int id, ItemKind kind) {
    const size_t at = item_base + items * kItemWords;
    if (at + kItemWords > cap) return nullptr;
    ++items;
    int32_t* r = w + at;
    r[0] = header;
    r[1] = id;
    r[2] = kind;
    for (int k = 3; k < kItemWords; ++k) r[k] = 0;
    const uint8_t slot = names->SlotOf(id);
    if (slot != 0) {
      int32_t& prev = last[slot - 1];
      w[prev == 0 ? kSlotBase + slot - 1 : prev + kItemNext] = static_cast<int32_t>(at);
      prev = static_cast<int32_t>(at);
    }
    return r;
  }
};

// The LF and CR masks of the 64 bytes at `p`, all readable: bit k for byte k. SSE2 (x86-64 baseline) or a
// byte loop.
struct LineMasksBase {
  static inline void Get(const uint8_t* p, uint64_t* lf, uint64_t* cr) {
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n');
    const __m128i ret = _mm_set1_epi8('\r');
    uint64_t l = 0;
    uint64_t c = 0;
    for (int k = 0; k < 4; ++k) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
      l |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)))) << (16 * k);
      c |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, ret)))) << (16 * k);
    }
    *lf = l;
    *cr = c;
#else
    uint64_t l = 0;
    uint64_t c = 0;
    for (int k = 0; k < 64; ++k) {
      l |= static_cast<uint64_t>(p[k] == '\n') << k;
      c |= static_cast<uint64_t>(p[k] == '\r') << k;
    }
    *lf = l;
    *cr = c;
#endif
  }
};

#if defined(SWITCHHOOK_SIP_AVX2)
// The same with AVX2 (two 32-byte compares per mask), used when the CPU has it (Simd::kAvx2).
struct LineMasksAvx2 {
  __attribute__((target("avx2"))) static inline void Get(const uint8_t* p, uint64_t* lf, uint64_t* cr) {
    const __m256i nl = _mm256_set1_epi8('\n');
    const __m256i ret = _mm256_set1_epi8('\r');
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    *lf = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, nl))) |
          static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, nl)))) << 32;
    *cr = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, ret))) |
          static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, ret)))) << 32;
  }
};
#endif

// The line ends of the header lines, found in one pass over the head from `from` (just after the start line's
// LF) before any header is scanned: the LF of header line k goes to word 4 of header record k, until the first
// empty line ("\n\n" or "\n\r\n", RFC 3261 7), whose LF goes to `*blank`. Returns the number of header lines,
// or -1 when no empty line ends before `stop` (bytes up to `len` may be read) or the header records would not
// fit `cap` words. Sixty-four bytes per step, with no branch per line.
template <class Masks>
__attribute__((always_inline)) inline int64_t LineEndsWith(const uint8_t* data, size_t from, size_t stop, size_t len,
                                                           int32_t* out, size_t cap, size_t* blank) {
  // Header records (and the positions stored four at a time) must fit: k + 4 below `max_k`.
  if (cap < kFirstHeader + 5 * kHeaderWords) return -1;
  const size_t max_k = (cap - kFirstHeader) / kHeaderWords - 4;
  int32_t* ends = out + kFirstHeader + 4;
  uint64_t prev_lf = 1ULL << 63;  // the start line's LF, just before `from`
  uint64_t prev_cr = 0;
  size_t k = 0;
  for (size_t q = from; q < stop; q += 64) {
    uint64_t lf;
    uint64_t cr;
    if (len - q >= 64) {
      Masks::Get(data + q, &lf, &cr);
    } else {
      uint8_t tail[64] = {};
      std::memcpy(tail, data + q, len - q);
      Masks::Get(tail, &lf, &cr);
    }
    if (stop - q < 64) {
      const uint64_t in = (1ULL << (stop - q)) - 1;
      lf &= in;
      cr &= in;
    }
    // An LF ends an empty line when the byte before it is an LF, or a CR preceded by an LF.
    const uint64_t empty = lf & ((lf << 1 | prev_lf >> 63) | ((cr << 1 | prev_cr >> 63) & (lf << 2 | prev_lf >> 62)));
    prev_lf = lf;
    prev_cr = cr;
    uint64_t ends_here = empty != 0 ? lf & ((empty & (0 - empty)) - 1) : lf;
    const auto n = static_cast<size_t>(__builtin_popcountll(ends_here));
    if (k + n >= max_k) return -1;
    const auto at = static_cast<int32_t>(q);
    // Four positions per step (most 64-byte runs of a head hold one or two line ends); the words written past
    // the last one belong to records not yet written.
    size_t i = k;
    do {
      ends[i * kHeaderWords] = at + __builtin_ctzll(ends_here | (1ULL << 63));
      ends_here &= ends_here - 1;
      ends[(i + 1) * kHeaderWords] = at + __builtin_ctzll(ends_here | (1ULL << 63));
      ends_here &= ends_here - 1;
      ends[(i + 2) * kHeaderWords] = at + __builtin_ctzll(ends_here | (1ULL << 63));
      ends_here &= ends_here - 1;
      ends[(i + 3) * kHeaderWords] = at + __builtin_ctzll(ends_here | (1ULL << 63));
      ends_here &= ends_here - 1;
      i += 4;
    } while (ends_here != 0 && i + 4 < max_k);
    if (ends_here != 0) return -1;
    k += n;
    if (empty != 0) {
      *blank = q + static_cast<size_t>(__builtin_ctzll(empty));
      return static_cast<int64_t>(k);
    }
  }
  return -1;
}

int64_t LineEndsBase(const uint8_t* data, size_t from, size_t stop, size_t len, int32_t* out, size_t cap,
                     size_t* blank) {
  return LineEndsWith<LineMasksBase>(data, from, stop, len, out, cap, blank);
}

#if defined(SWITCHHOOK_SIP_AVX2)
__attribute__((target("avx2"))) int64_t LineEndsAvx2(const uint8_t* data, size_t from, size_t stop, size_t len,
                                                      int32_t* out, size_t cap, size_t* blank) {
  return LineEndsWith<LineMasksAvx2>(data, from, stop, len, out, cap, blank);
}
#endif

// The line-end pass for `simd`: AVX2 when asked for and the CPU has it, else the baseline.
int64_t LineEnds(Simd simd, const uint8_t* data, size_t from, size_t stop, size_t len, int32_t* out, size_t cap,
                 size_t* blank) {
#if defined(SWITCHHOOK_SIP_AVX2)
  if (simd == Simd::kAvx2) return LineEndsAvx2(data, from, stop, len, out, cap, blank);
#else
  (void)simd;
#endif
  return LineEndsBase(data, from, stop, len, out, cap, blank);
}

inline int32_t Rel(size_t at, size_t base) { return static_cast<int32_t>(at - base); }

// Canonical Via value at `a`: `SIP/2.0/transport SP host[:port]params` (the former VIA_RE, plus IPv6
// references `[...]` of hex digits, colons and dots), rport digits,
// no `ttl` parameter (the grammar range-checks it). `len`: bytes of `p` that may be read (the message), so
// the transport lookup loads whole words. Returns the end of the value or kFail.
size_t ScanVia(const uint8_t* p, size_t a, size_t b, size_t len, size_t base, const NameTable& names, int32_t* r) {
  if (b - a < 8 || std::memcmp(p + a, "SIP/2.0/", 8) != 0) return kFail;
  size_t ts = a + 8;
  size_t te = SpanToken(p, ts, b);
  if (te == ts || te >= b || p[te] != ' ') return kFail;
  size_t hs = te + 1;
  size_t he = hs;
  if (he < b && p[he] == '[') {
    // IPv6 reference (RFC 3261 25.1): the host keeps its brackets, as the grammar path gives it.
    ++he;
    while (he < b && (IsHex(p[he]) || p[he] == ':' || p[he] == '.')) ++he;
    if (he >= b || p[he] != ']' || he == hs + 1) return kFail;
    ++he;
  } else {
    he = Span(kT.host, p, he, b);
    if (he == hs) return kFail;
  }
  size_t i = he;
  int32_t port = -1;
  if (i < b && p[i] == ':') {
    size_t ds = ++i;
    int32_t v = 0;
    while (i < b && IsDigit(p[i]) && i - ds < 5) v = v * 10 + (p[i++] - '0');
    if (i == ds || (i < b && IsDigit(p[i])) || v > 65535) return kFail;
    port = v;
  }
  size_t branch[2] = {kFail, kFail};
  size_t pe = Params(p, i, b, false, true, "branch", 6, branch);
  if (pe == kFail) return kFail;
  r[3] = 1;
  r[4] = Rel(ts, base);
  r[5] = Rel(te, base);
  r[6] = Rel(hs, base);
  r[7] = Rel(he, base);
  r[8] = port;
  r[9] = Rel(i, base);
  r[10] = Rel(pe, base);
  r[11] = branch[0] == kFail ? -1 : Rel(branch[0], base);
  r[12] = branch[0] == kFail ? -1 : Rel(branch[1], base);
  r[13] = names.Token(p + ts, te - ts, len - ts);
  return pe;
}

// Canonical name-addr / addr-spec with parameters at `a` (the former NAME_ADDR_RE, then ADDR_SPEC_RE).
// Returns the end of the value or kFail.
size_t ScanNameAddr(const uint8_t* p, size_t a, size_t b, size_t base, int32_t* r) {
  if (a >= b) return kFail;
  int kind = 0;
  size_t ds = a;
  size_t de = a;
  size_t i = a;
  bool bracket = false;
  if (p[i] == '"') {
    ds = ++i;
    while (i < b && p[i] != '"') {
      if (p[i] == '\\' || !Visible(p[i])) return kFail;
      ++i;
    }
    if (i >= b) return kFail;
    de = i++;
    if (i < b && p[i] == ' ') ++i;
    if (i >= b || p[i] != '<') return kFail;
    kind = 2;
    bracket = true;
  } else if (p[i] == '<') {
    bracket = true;
  } else {
    // 1*token *(SP 1*token) [SP] "<"
    size_t k = SpanToken(p, i, b);
    if (k > i) {
      while (k + 1 < b && p[k] == ' ' && kT.token[p[k + 1]]) k = SpanToken(p, k + 1, b);
      size_t end_tokens = k;
      if (k < b && p[k] == ' ') ++k;
      if (k < b && p[k] == '<') {
        kind = 1;
        ds = i;
        de = end_tokens;
        i = k;
        bracket = true;
      }
    }
  }
  size_t us;
  size_t ue;
  size_t ps;
  if (bracket) {
    us = i + 1;
    ue = us;
    ue = UriEnd(p, us, b);
    if (ue >= b || p[ue] != '>' || ue == us) return kFail;
    ps = ue + 1;
  } else {
    // addr-spec: scheme ":" 1*[^\s;,?<>"]
    us = a;
    size_t k = a;
    if (!((p[k] >= 'A' && p[k] <= 'Z') || (p[k] >= 'a' && p[k] <= 'z'))) return kFail;
    ++k;
    while (k < b && kT.scheme[p[k]]) ++k;
    if (k >= b || p[k] != ':') return kFail;
    ++k;
    size_t rs = k;
    while (k < b) {
      uint8_t c = p[k];
      if (c == ';' || c == ',' || c == '?' || c == '<' || c == '>' || c == '"' || c <= 0x20 || c >= 0x7f) break;
      ++k;
    }
    if (k == rs) return kFail;
    ue = k;
    ps = k;
  }
  size_t tag[2] = {kFail, kFail};
  size_t pe = Params(p, ps, b, true, false, "tag", 3, tag);
  if (pe == kFail) return kFail;
  r[3] = 1;
  r[4] = kind;
  r[5] = Rel(ds, base);
  r[6] = Rel(de, base);
  r[7] = Rel(us, base);
  r[8] = Rel(ue, base);
  r[9] = Rel(ps, base);
  r[10] = Rel(pe, base);
  r[11] = tag[0] == kFail ? -1 : Rel(tag[0], base);
  r[12] = tag[0] == kFail ? -1 : Rel(tag[1], base);
  return pe;
}

// `1*10DIGIT SP token` with a value up to 2^32-1 (the former CSeq fast path), exactly `[a, b)`; `len` as for
// ScanVia.
void ScanCSeq(const uint8_t* p, size_t a, size_t b, size_t len, size_t base, const NameTable& names, int32_t* r) {
  size_t i = a;
  uint64_t v = 0;
  while (i < b && IsDigit(p[i]) && i - a < 10) v = v * 10 + (p[i++] - '0');
  if (i == a || i >= b || p[i] != ' ' || v > 0xffffffffULL) return;
  size_t ms = i + 1;
  size_t me = SpanToken(p, ms, b);
  if (me == ms || me != b) return;
  r[3] = 1;
  r[4] = static_cast<int32_t>(static_cast<uint32_t>(v));
  r[5] = Rel(ms, base);
  r[6] = Rel(me, base);
  r[7] = names.Token(p + ms, me - ms, len - ms);
}

// The values of a comma-separated Via or name-addr list `[a, b)` (b already trimmed), one item each, as
// src/sip/message/scanner.ts splitList would cut them. At the first value that is not canonical one item
// with canonical = 0 ends the list (the grammar then parses the whole header). `len` as for ScanVia. False
// when out of room.
bool ScanList(const uint8_t* p, size_t a, size_t b, size_t len, size_t base, int hi, int id, bool via,
              const NameTable& names, Out* o) {
  size_t i = a;
  for (;;) {
    int32_t* r = o->Item(hi, id, via ? kItemVia : kItemNameAddr);
    if (r == nullptr) return false;
    size_t e = (i < b) ? (via ? ScanVia(p, i, b, len, base, names, r) : ScanNameAddr(p, i, b, base, r)) : kFail;
    if (e != kFail) {
      e = SkipSpaces(p, e, b);
      if (e == b) return true;
      if (p[e] == ',') {
        i = SkipSpaces(p, e + 1, b);
        continue;
      }
    }
    r[3] = 0;
    return true;
  }
}

}  // namespace

namespace {

// Case fold of token characters, 8 at a time: `c | 0x20` maps A-Z to a-z and no two other token characters
// together (`_` becomes 0x7f, which is no token character).
constexpr uint64_t kFold = 0x2020202020202020ULL;

// `p[0, n)` (n <= 8) as a little-endian word, zero-padded, case-folded; `readable` bytes from `p` may be
// read (one load when there are 8).
inline uint64_t Word(const uint8_t* p, size_t n, size_t readable) {
  uint64_t w = 0;
  if (n == 8) {
    std::memcpy(&w, p, 8);
  } else if (readable >= 8) {
    std::memcpy(&w, p, 8);
    w &= (1ULL << (8 * n)) - 1;
  } else {
    for (size_t i = 0; i < n; ++i) w |= static_cast<uint64_t>(p[i]) << (8 * i);
  }
  return w | (kFold & (n == 8 ? ~0ULL : (1ULL << (8 * n)) - 1));
}

struct NameKey {
  uint64_t head;
  uint64_t tail;
};

inline NameKey KeyOf(const uint8_t* p, size_t n, size_t readable) {
  if (n <= 8) {
    uint64_t w = Word(p, n, readable);
    return {w, w};
  }
  return {Word(p, 8, 8), Word(p + n - 8, 8, 8)};
}

inline size_t SlotOfKey(const NameKey& k, size_t n, size_t slots) {
  uint64_t h = (k.head ^ (k.tail << 7 | k.tail >> 57) ^ n) * 0x9E3779B97F4A7C15ULL;
  return static_cast<size_t>(h >> 40) & (slots - 1);
}

}  // namespace

Simd BestSimd() {
#if defined(SWITCHHOOK_SIP_AVX2)
  static const Simd best = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? Simd::kAvx2 : Simd::kBase;
  }();
  return best;
#else
  return Simd::kBase;
#endif
}

void NameTable::AddToken(const std::string& token) {
  // Ids follow the call order; a token that cannot be matched keeps its id with an empty word.
  if (tokens_.size() >= 64) return;
  TokenWord t{{0, 0}, 0};
  if (!token.empty() && token.size() <= 16) {
    std::memcpy(t.word, token.data(), token.size());
    t.len = token.size();
    tokens_of_len_[t.len].push_back(static_cast<uint8_t>(tokens_.size()));
  }
  tokens_.push_back(t);
}

int NameTable::Token(const uint8_t* p, size_t n, size_t readable) const {
  if (n == 0 || n > 16) return -1;
  uint64_t w[2] = {0, 0};
  if (readable >= 16) {
    std::memcpy(w, p, 16);
    if (n <= 8) {
      w[1] = 0;
      if (n < 8) w[0] &= (1ULL << (8 * n)) - 1;
    } else if (n < 16) {
      w[1] &= (1ULL << (8 * (n - 8))) - 1;
    }
  } else {
    std::memcpy(w, p, n);
  }
  for (const uint8_t i : tokens_of_len_[n]) {
    if (tokens_[i].word[0] == w[0] && tokens_[i].word[1] == w[1]) return i;
  }
  return -1;
}

void NameTable::Add(const std::string& lower, uint8_t single, Role role, uint8_t slot) {
  if (names_.size() >= 1024) return;
  // Ids follow the caller's order, so every name takes one even when it cannot be found (empty, too long
  // or a repeat: the first spelling wins).
  std::string folded(lower);
  for (char& c : folded) c = static_cast<char>(static_cast<uint8_t>(c) | 0x20);
  names_.push_back(lower);
  folded_.push_back(folded);
  single_.push_back(single);
  roles_.push_back(role);
  slots_of_.push_back(slot <= kMaxSlot ? slot : 0);
  const auto* s = reinterpret_cast<const uint8_t*>(lower.data());
  if (lower.empty() || lower.size() > 255 || Find(s, lower.size()) >= 0) return;
  NameKey k = KeyOf(s, lower.size(), lower.size());
  size_t at = SlotOfKey(k, lower.size(), kSlots);
  while (slots_[at].id != 0) at = (at + 1) & (kSlots - 1);
  slots_[at] = {k.head, k.tail, static_cast<uint16_t>(lower.size()), static_cast<int16_t>(names_.size())};
}

int NameTable::Find(const uint8_t* p, size_t n, size_t readable) const {
  if (n == 0 || n > 255) return -1;
  const NameKey k = KeyOf(p, n, readable < n ? n : readable);
  for (size_t at = SlotOfKey(k, n, kSlots); slots_[at].id != 0; at = (at + 1) & (kSlots - 1)) {
    const Slot& e = slots_[at];
    if (e.len != n || e.head != k.head || e.tail != k.tail) continue;
    const size_t id = static_cast<size_t>(e.id - 1);
    // Up to 16 bytes the two words are the whole name; longer names compare their middle too.
    if (n > 16) {
      const std::string& name = folded_[id];
      size_t i = 8;
      while (i < n - 8 && (p[i] | 0x20) == static_cast<uint8_t>(name[i])) ++i;
      if (i < n - 8) continue;
    }
    return static_cast<int>(id);
  }
  return -1;
}

int32_t ScanMessage(const uint8_t* data, size_t len, const NameTable& names, const Limits& limits, int32_t* out,
                    size_t cap) {
  if (cap == 0) return 0;
  out[kStatus] = 0;
  if (cap < kFirstHeader + kHeaderWords + kItemWords) return 0;
  if (len > 0x7fffffffu) return 0;
  const size_t max_head = limits.max_header_bytes > 0 ? static_cast<size_t>(limits.max_header_bytes) : 0;
  size_t pos = 0;
  while (pos < len && (data[pos] == '\r' || data[pos] == '\n')) ++pos;
  if (pos >= len) return 0;
  const size_t base = pos;
  size_t lf = FindLf(data, base, len);
  if (lf >= len) return 0;
  if (lf - base > max_head) return 0;
  size_t le = (lf > base && data[lf - 1] == '\r') ? lf - 1 : lf;
  size_t ll = le - base;
  const uint8_t* line = data + base;
  if (ll >= 4 && std::memcmp(line, "SIP/", 4) == 0) {
    // Status-Line: "SIP/2.0 " 3DIGIT [SP reason]
    if (ll < 11 || std::memcmp(line, "SIP/2.0 ", 8) != 0 || (ll > 11 && line[11] != ' ')) return 0;
    if (!IsDigit(line[8]) || !IsDigit(line[9]) || !IsDigit(line[10])) return 0;
    int status = (line[8] - '0') * 100 + (line[9] - '0') * 10 + (line[10] - '0');
    if (status < 100 || status > 699) return 0;
    out[kKind] = 2;
    out[kMethodToken] = -1;
    out[kLine0] = status;
    out[kLine1] = static_cast<int32_t>(ll < 12 ? ll : 12);
    out[kLine2] = static_cast<int32_t>(ll);
  } else {
    // Request-Line: method SP URI SP "SIP/2.0", no other whitespace, URI not in <>.
    size_t sp1 = SpanToken(line, 0, ll);
    if (sp1 == 0 || sp1 >= ll || line[sp1] != ' ') return 0;
    if (ll < 8 || std::memcmp(line + ll - 8, " SIP/2.0", 8) != 0) return 0;
    size_t us = sp1 + 1;
    size_t ue = ll - 8;
    if (ue <= us || line[us] == '<') return 0;
    if (HasWs(line, us, ue)) return 0;
    out[kKind] = 1;
    out[kMethodToken] = names.Token(line, sp1, len - base);
    out[kLine0] = static_cast<int32_t>(sp1);
    out[kLine1] = static_cast<int32_t>(us);
    out[kLine2] = static_cast<int32_t>(ue);
  }
  size_t blank = 0;
  const int64_t lines = LineEnds(names.simd(), data, lf + 1, max_head < len - base ? base + max_head : len, len, out, cap, &blank);
  if (lines < 0 || lines > limits.max_headers) return 0;
  const auto count = static_cast<size_t>(lines);
  Out o{out, cap, &names, kFirstHeader + count * kHeaderWords};
  if (o.item_base > cap) return 0;
  ZeroSlots(out + kSlotBase);
  uint64_t seen_single = 0;
  // Value of the first line of each single-valued header group, for its repeats.
  size_t single_value[64][2];
  int64_t content_length = -1;
  size_t p = lf + 1;
  for (size_t hi = 0; hi < count; ++hi, p = lf + 1) {
    int32_t* h = out + kFirstHeader + hi * kHeaderWords;
    lf = static_cast<size_t>(h[4]);
    // name = token, then optional whitespace and the colon; a line that starts otherwise (folding, junk) goes
    // to the grammar path.
    size_t ne = SpanToken(data, p, lf);
    if (ne == p) return 0;
    size_t colon = ne;
    while (IsWs(data[colon])) ++colon;
    if (data[colon] != ':') return 0;
    size_t vs = colon + 1;
    while (IsWs(data[vs])) ++vs;
    le = (lf > vs && data[lf - 1] == '\r') ? lf - 1 : lf;
    int id = names.Find(data + p, ne - p, len - p);
    size_t ve = le;
    while (ve > vs && IsWs(data[ve - 1])) --ve;
    h[0] = id;
    h[1] = static_cast<int32_t>(p - base);
    h[2] = static_cast<int32_t>(ne - base);
    h[3] = static_cast<int32_t>(vs - base);
    h[4] = static_cast<int32_t>(le - base);
    if (id >= 0) {
      if (uint8_t group = names.Single(id); group != 0) {
        // A repeat is allowed when it repeats the same value (RFC 4475 3.3.8): byte for byte and visible
        // ASCII here (the grammar path compares decoded strings); any other repeat is judged there.
        const unsigned g = (group - 1u) & 63u;
        const uint64_t bit = 1ULL << g;
        if ((seen_single & bit) != 0) {
          const size_t fs = single_value[g][0];
          const size_t n = single_value[g][1] - fs;
          if (ve - vs != n || std::memcmp(data + vs, data + fs, n) != 0) return 0;
          for (size_t i = vs; i < ve; ++i) {
            if (!Visible(data[i])) return 0;
          }
        } else {
          single_value[g][0] = vs;
          single_value[g][1] = ve;
        }
        seen_single |= bit;
      }
      switch (names.RoleOf(id)) {
        case kRoleOther:
          break;
        case kRoleContentLength: {
          if (ve == vs || ve - vs > 10) return 0;
          int64_t v = 0;
          for (size_t i = vs; i < ve; ++i) {
            if (!IsDigit(data[i])) return 0;
            v = v * 10 + (data[i] - '0');
          }
          content_length = v;
          break;
        }
        case kRoleCallId: {
          int32_t* r = o.Item(static_cast<int>(hi), id, kItemCallId);
          if (r == nullptr) return 0;
          if (VisibleEnd(data, vs, ve) == ve && ve > vs) {
            r[3] = 1;
            r[4] = Rel(vs, base);
            r[5] = Rel(ve, base);
          }
          break;
        }
        case kRoleCSeq: {
          int32_t* r = o.Item(static_cast<int>(hi), id, kItemCSeq);
          if (r == nullptr) return 0;
          ScanCSeq(data, vs, ve, len, base, names, r);
          break;
        }
        case kRoleNameAddr: {
          int32_t* r = o.Item(static_cast<int>(hi), id, kItemNameAddr);
          if (r == nullptr) return 0;
          size_t e = ScanNameAddr(data, vs, ve, base, r);
          if (e != kFail && SkipSpaces(data, e, ve) != ve) r[3] = 0;
          break;
        }
        case kRoleVia:
        case kRoleNameAddrList:
          if (!ScanList(data, vs, ve, len, base, static_cast<int>(hi), id, names.RoleOf(id) == kRoleVia, names, &o)) return 0;
          break;
      }
    }
  }
  const size_t body_start = blank + 1;
  size_t body_end = len;
  if (content_length >= 0) {
    if (content_length > limits.max_body_bytes || body_start + static_cast<size_t>(content_length) > len) return 0;
    body_end = body_start + static_cast<size_t>(content_length);
  } else if (len - body_start > static_cast<size_t>(limits.max_body_bytes)) {
    return 0;
  }
  out[kBase] = static_cast<int32_t>(base);
  out[kBodyStart] = static_cast<int32_t>(body_start);
  out[kBodyEnd] = static_cast<int32_t>(body_end);
  out[kHeaderCount] = static_cast<int32_t>(count);
  out[kItemCount] = static_cast<int32_t>(o.items);
  out[kItemBase] = static_cast<int32_t>(o.item_base);
  out[kStatus] = 1;
  return 1;
}

}  // namespace sip
}  // namespace switchhook
