// The Bloom comparison kernel: popcounts and Dice coefficients over bit filters stored as rows
// of 64-bit words. This is the hot loop of a bloom match job, so it has SIMD variants chosen
// at run time (AVX-512 VPOPCNTDQ, AVX2 nibble lookup) beside the portable scalar one, and the
// all-pairs form is tiled so that a block of rows stays in cache while it is compared.
// Dice(a, b) = 2·|a ∧ b| / (|a| + |b|), 0 when both are empty.
// Thread-safety: pure functions; the chosen variant is fixed at first use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace jisr::match {

enum class PopcountKernel { kScalar, kAvx2, kAvx512 };

// The fastest variant this CPU supports (detected once).
PopcountKernel best_popcount_kernel();
std::string_view popcount_kernel_name(PopcountKernel k);

// |a| over `words` words.
uint32_t popcount_words(const uint64_t* a, size_t words);
// |a ∧ b| with the best kernel, or with a given one (tests compare them).
uint32_t and_popcount(const uint64_t* a, const uint64_t* b, size_t words);
uint32_t and_popcount_with(PopcountKernel k, const uint64_t* a, const uint64_t* b, size_t words);

inline double dice(uint32_t common, uint32_t pop_a, uint32_t pop_b) {
  uint32_t total = pop_a + pop_b;
  return total == 0 ? 0.0 : 2.0 * common / total;
}

// out[i * nb + j] = Dice(a_i, b_j) for rows a_0..a_{na-1} and b_0..b_{nb-1}, each `words` words
// long (row i of a starts at a + i * words). pop_a / pop_b hold each row's popcount.
// Tiled: blocks of rows of a and b are compared while both stay in cache.
void dice_matrix(const uint64_t* a, const uint32_t* pop_a, size_t na, const uint64_t* b,
                 const uint32_t* pop_b, size_t nb, size_t words, float* out);
// The same without tiling or SIMD: the reference the tiled kernel is tested against.
void dice_matrix_naive(const uint64_t* a, const uint32_t* pop_a, size_t na, const uint64_t* b,
                       const uint32_t* pop_b, size_t nb, size_t words, float* out);

// Per-field |a ∧ b| for rows made of `fields` consecutive segments of `field_words` words.
void field_and_popcounts(const uint64_t* a, const uint64_t* b, size_t fields,
                         size_t field_words, uint32_t* out);

}  // namespace jisr::match
