#include "node/match/dice.hpp"

#include <immintrin.h>

#include <algorithm>

namespace jisr::match {
namespace {

uint32_t and_popcount_scalar(const uint64_t* a, const uint64_t* b, size_t words) {
  // Four accumulators so the popcounts of consecutive words can issue in parallel.
  uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
  size_t i = 0;
  for (; i + 4 <= words; i += 4) {
    c0 += static_cast<uint64_t>(__builtin_popcountll(a[i] & b[i]));
    c1 += static_cast<uint64_t>(__builtin_popcountll(a[i + 1] & b[i + 1]));
    c2 += static_cast<uint64_t>(__builtin_popcountll(a[i + 2] & b[i + 2]));
    c3 += static_cast<uint64_t>(__builtin_popcountll(a[i + 3] & b[i + 3]));
  }
  for (; i < words; ++i) c0 += static_cast<uint64_t>(__builtin_popcountll(a[i] & b[i]));
  return static_cast<uint32_t>(c0 + c1 + c2 + c3);
}

#if defined(__x86_64__)
// AVX2 popcount by nibble lookup (Mula's method): pshufb maps each nibble to its bit count.
__attribute__((target("avx2"))) uint32_t and_popcount_avx2(const uint64_t* a, const uint64_t* b,
                                                           size_t words) {
  const __m256i lookup = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1,
                                          1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low_mask = _mm256_set1_epi8(0x0f);
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 4 <= words; i += 4) {
    __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    __m256i v = _mm256_and_si256(va, vb);
    __m256i lo = _mm256_and_si256(v, low_mask);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_mask);
    __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lookup, lo), _mm256_shuffle_epi8(lookup, hi));
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(cnt, _mm256_setzero_si256()));
  }
  uint64_t total = static_cast<uint64_t>(_mm256_extract_epi64(acc, 0)) +
                   static_cast<uint64_t>(_mm256_extract_epi64(acc, 1)) +
                   static_cast<uint64_t>(_mm256_extract_epi64(acc, 2)) +
                   static_cast<uint64_t>(_mm256_extract_epi64(acc, 3));
  for (; i < words; ++i) total += static_cast<uint64_t>(__builtin_popcountll(a[i] & b[i]));
  return static_cast<uint32_t>(total);
}

__attribute__((target("avx512f,avx512vpopcntdq"))) uint32_t and_popcount_avx512(
    const uint64_t* a, const uint64_t* b, size_t words) {
  __m512i acc = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 8 <= words; i += 8) {
    __m512i v = _mm512_and_si512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(v));
  }
  if (i < words) {
    __mmask8 m = static_cast<__mmask8>((1u << (words - i)) - 1);
    __m512i v = _mm512_and_si512(_mm512_maskz_loadu_epi64(m, a + i), _mm512_maskz_loadu_epi64(m, b + i));
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(v));
  }
  // Summed through memory: GCC 12's _mm512_reduce_add_epi64 trips -Wuninitialized at -O2.
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, acc);
  uint64_t total = 0;
  for (uint64_t v : lanes) total += v;
  return static_cast<uint32_t>(total);
}
#endif

PopcountKernel detect() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq")) {
    return PopcountKernel::kAvx512;
  }
  if (__builtin_cpu_supports("avx2")) return PopcountKernel::kAvx2;
#endif
  return PopcountKernel::kScalar;
}

using AndPopcountFn = uint32_t (*)(const uint64_t*, const uint64_t*, size_t);

AndPopcountFn kernel_fn(PopcountKernel k) {
#if defined(__x86_64__)
  if (k == PopcountKernel::kAvx512) return &and_popcount_avx512;
  if (k == PopcountKernel::kAvx2) return &and_popcount_avx2;
#endif
  (void)k;
  return &and_popcount_scalar;
}

AndPopcountFn best_fn() {
  static const AndPopcountFn fn = kernel_fn(best_popcount_kernel());
  return fn;
}

// Rows per tile: 64 rows of 40 words (a 2560-bit filter) are 20 KiB, so a tile of b rows
// stays in L1/L2 while each row of the a tile streams over it.
constexpr size_t kTileRows = 64;

}  // namespace

PopcountKernel best_popcount_kernel() {
  static const PopcountKernel k = detect();
  return k;
}

std::string_view popcount_kernel_name(PopcountKernel k) {
  switch (k) {
    case PopcountKernel::kScalar: return "scalar";
    case PopcountKernel::kAvx2: return "avx2";
    case PopcountKernel::kAvx512: return "avx512-vpopcntdq";
  }
  return "?";
}

uint32_t popcount_words(const uint64_t* a, size_t words) {
  uint64_t c = 0;
  for (size_t i = 0; i < words; ++i) c += static_cast<uint64_t>(__builtin_popcountll(a[i]));
  return static_cast<uint32_t>(c);
}

uint32_t and_popcount(const uint64_t* a, const uint64_t* b, size_t words) {
  return best_fn()(a, b, words);
}

uint32_t and_popcount_with(PopcountKernel k, const uint64_t* a, const uint64_t* b, size_t words) {
  // A kernel the CPU lacks would fault; fall back to the best available one instead.
  if (static_cast<int>(k) > static_cast<int>(best_popcount_kernel())) k = best_popcount_kernel();
  return kernel_fn(k)(a, b, words);
}

void dice_matrix(const uint64_t* a, const uint32_t* pop_a, size_t na, const uint64_t* b,
                 const uint32_t* pop_b, size_t nb, size_t words, float* out) {
  AndPopcountFn fn = best_fn();
  for (size_t i0 = 0; i0 < na; i0 += kTileRows) {
    size_t i1 = std::min(na, i0 + kTileRows);
    for (size_t j0 = 0; j0 < nb; j0 += kTileRows) {
      size_t j1 = std::min(nb, j0 + kTileRows);
      for (size_t i = i0; i < i1; ++i) {
        const uint64_t* ra = a + i * words;
        float* row = out + i * nb;
        for (size_t j = j0; j < j1; ++j) {
          uint32_t common = fn(ra, b + j * words, words);
          uint32_t total = pop_a[i] + pop_b[j];
          row[j] = total == 0 ? 0.0f : 2.0f * static_cast<float>(common) / static_cast<float>(total);
        }
      }
    }
  }
}

void dice_matrix_naive(const uint64_t* a, const uint32_t* pop_a, size_t na, const uint64_t* b,
                       const uint32_t* pop_b, size_t nb, size_t words, float* out) {
  for (size_t i = 0; i < na; ++i) {
    for (size_t j = 0; j < nb; ++j) {
      uint32_t common = 0;
      for (size_t w = 0; w < words; ++w) {
        uint64_t x = a[i * words + w] & b[j * words + w];
        while (x) {
          x &= x - 1;
          ++common;
        }
      }
      uint32_t total = pop_a[i] + pop_b[j];
      out[i * nb + j] =
          total == 0 ? 0.0f : 2.0f * static_cast<float>(common) / static_cast<float>(total);
    }
  }
}

void field_and_popcounts(const uint64_t* a, const uint64_t* b, size_t fields,
                         size_t field_words, uint32_t* out) {
  for (size_t f = 0; f < fields; ++f) {
    out[f] = and_popcount_scalar(a + f * field_words, b + f * field_words, field_words);
  }
}

}  // namespace jisr::match
