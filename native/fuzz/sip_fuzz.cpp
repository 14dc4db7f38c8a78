// libFuzzer target for the SIP scanner (docs/fuzzing.md). Properties: every offset it reports lies inside
// the input and ranges are ordered; slot words point at the first item of their slot; a token index names
// a token equal to the bytes it stands for; scanning a fresh copy of the input (at another address) gives the same
// record; small output capacities and limits never write past the record.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz/sip_common.h"
#include "sip/scanner.h"

using namespace switchhook::sip;

namespace {

constexpr size_t kCap = 4096;

void Check(bool ok) {
  if (!ok) abort();
}

void CheckRange(int32_t s, int32_t e, size_t base, size_t len) {
  Check(s >= 0 && e >= s && base + static_cast<size_t>(e) <= len);
}

// The branch/tag value, when found, lies inside the parameters.
void CheckFound(const int32_t* r) {
  if (r[11] == -1) {
    Check(r[12] == -1);
    return;
  }
  Check(r[11] > r[9] && r[12] >= r[11] && r[12] <= r[10]);
}

// Token index `id` (-1: none) stands for `data[s, e)`.
void CheckToken(const uint8_t* data, int32_t id, size_t s, size_t e) {
  constexpr int32_t kCount = sizeof(kFuzzTokens) / sizeof(kFuzzTokens[0]);
  Check(id >= -1 && id < kCount);
  if (id < 0) return;
  const size_t n = std::strlen(kFuzzTokens[id]);
  Check(e - s == n && std::memcmp(data + s, kFuzzTokens[id], n) == 0);
}

void Verify(const NameTable* names, const uint8_t* data, const int32_t* w, size_t len, size_t cap) {
  if (w[kStatus] == 0) return;
  Check(w[kStatus] == 1);
  size_t base = static_cast<size_t>(w[kBase]);
  Check(w[kBase] >= 0 && base < len);
  Check(w[kBodyStart] >= w[kBase] && w[kBodyEnd] >= w[kBodyStart] && static_cast<size_t>(w[kBodyEnd]) <= len);
  Check(w[kKind] == 1 || w[kKind] == 2);
  if (w[kKind] == 1) {
    CheckRange(0, w[kLine0], base, len);
    CheckRange(w[kLine1], w[kLine2], base, len);
    CheckToken(data, w[kMethodToken], base, base + w[kLine0]);
  } else {
    Check(w[kLine0] >= 100 && w[kLine0] <= 699);
    Check(w[kMethodToken] == -1);
    CheckRange(w[kLine1], w[kLine2], base, len);
  }
  int32_t n = w[kHeaderCount];
  Check(n >= 0 && kFirstHeader + static_cast<size_t>(n) * kHeaderWords <= static_cast<size_t>(w[kItemBase]));
  for (int32_t i = 0; i < n; ++i) {
    const int32_t* h = w + kFirstHeader + i * kHeaderWords;
    Check(h[0] >= -1);
    CheckRange(h[1], h[2], base, len);
    Check(h[2] > h[1] && h[3] > h[2]);
    CheckRange(h[3], h[4], base, len);
  }
  int32_t m = w[kItemCount];
  Check(m >= 0 && static_cast<size_t>(w[kItemBase]) + static_cast<size_t>(m) * kItemWords <= cap);
  // Each slot word is 0 or the first item whose header name has that slot.
  for (int s = 1; s <= kMaxSlot; ++s) {
    const int32_t at = w[kSlotBase + s - 1];
    if (at == 0) continue;
    Check(at >= w[kItemBase] && (at - w[kItemBase]) % kItemWords == 0 && at < w[kItemBase] + m * kItemWords);
    Check(names->SlotOf(w[at + 1]) == s);
    for (int32_t k = w[kItemBase]; k < at; k += kItemWords) Check(names->SlotOf(w[k + 1]) != s);
  }
  // Each item's next word is 0 or the following item of its slot, with no item of that slot in between.
  for (int32_t i = 0; i < m; ++i) {
    const int32_t at = w[kItemBase] + i * kItemWords;
    const uint8_t s = names->SlotOf(w[at + 1]);
    int32_t k = at + kItemWords;
    while (k < w[kItemBase] + m * kItemWords && (s == 0 || names->SlotOf(w[k + 1]) != s)) k += kItemWords;
    Check(w[at + kItemNext] == (s != 0 && k < w[kItemBase] + m * kItemWords ? k : 0));
  }
  for (int32_t i = 0; i < m; ++i) {
    const int32_t* r = w + w[kItemBase] + i * kItemWords;
    Check(r[0] >= 0 && r[0] < n);
    const int32_t* h = w + kFirstHeader + r[0] * kHeaderWords;
    Check(r[1] == h[0]);
    if (r[3] == 0) continue;
    Check(r[3] == 1);
    switch (r[2]) {
      case kItemVia:
        CheckRange(r[4], r[5], base, len);
        CheckRange(r[6], r[7], base, len);
        Check(r[8] >= -1 && r[8] <= 65535);
        CheckRange(r[9], r[10], base, len);
        Check(r[4] >= h[3] && r[10] <= h[4]);
        CheckFound(r);
        CheckToken(data, r[13], base + r[4], base + r[5]);
        break;
      case kItemNameAddr:
        Check(r[4] >= 0 && r[4] <= 2);
        CheckRange(r[5], r[6], base, len);
        CheckRange(r[7], r[8], base, len);
        Check(r[8] > r[7]);
        CheckRange(r[9], r[10], base, len);
        Check(r[7] >= h[3] && r[10] <= h[4]);
        CheckFound(r);
        break;
      case kItemCSeq:
        CheckRange(r[5], r[6], base, len);
        Check(r[6] > r[5] && r[6] <= h[4]);
        CheckToken(data, r[7], base + r[5], base + r[6]);
        break;
      case kItemCallId:
        CheckRange(r[4], r[5], base, len);
        break;
      default:
        abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static NameTable* names = [] {
    auto* t = new NameTable();
    FuzzNameTable(t);
    return t;
  }();
  // The same table limited to the baseline instruction set (no AVX2 pass).
  static NameTable* base_names = [] {
    auto* t = new NameTable();
    FuzzNameTable(t);
    t->SetSimd(Simd::kBase);
    return t;
  }();
  Limits limits{32 * 1024, 64 * 1024, 256};
  std::vector<int32_t> a(kCap, 0x5a5a5a5a);
  ScanMessage(data, size, *names, limits, a.data(), a.size());
  Verify(names, data, a.data(), size, a.size());
  // The same bytes at another address, after other garbage in the record: the same result.
  std::vector<uint8_t> copy(data, data + size);
  std::vector<int32_t> b(kCap, -7);
  ScanMessage(copy.data(), copy.size(), *names, limits, b.data(), b.size());
  Check(a[kStatus] == b[kStatus]);
  if (a[kStatus] == 1) {
    size_t used = static_cast<size_t>(a[kItemBase]) + static_cast<size_t>(a[kItemCount]) * kItemWords;
    for (size_t i = 0; i <= kItemBase; ++i) Check(a[i] == b[i]);
    Check(a[kMethodToken] == b[kMethodToken]);
    for (size_t i = kFirstHeader; i < kFirstHeader + static_cast<size_t>(a[kHeaderCount]) * kHeaderWords; ++i) {
      Check(a[i] == b[i]);
    }
    for (size_t i = static_cast<size_t>(a[kItemBase]); i < used; ++i) Check(a[i] == b[i]);
  }
  // The baseline instruction set gives the same record, word for word.
  std::vector<int32_t> d(kCap, 0x3c3c3c3c);
  ScanMessage(data, size, *base_names, limits, d.data(), d.size());
  Check(a[kStatus] == d[kStatus]);
  if (a[kStatus] == 1) {
    const size_t used = static_cast<size_t>(a[kItemBase]) + static_cast<size_t>(a[kItemCount]) * kItemWords;
    for (size_t i = 0; i < used; ++i) Check(a[i] == d[i]);
  }
  // A small record and tight limits (chosen from the input length): never past the end of the record.
  size_t small = 40 + size % 64;
  std::vector<int32_t> c(small + 8, 0x11111111);
  Limits tight{static_cast<int32_t>(size % 300), static_cast<int32_t>(size % 50), static_cast<int32_t>(size % 7)};
  ScanMessage(data, size, *names, tight, c.data(), small);
  for (size_t i = small; i < c.size(); ++i) Check(c[i] == 0x11111111);
  Verify(names, data, c.data(), size, small);
  return 0;
}
