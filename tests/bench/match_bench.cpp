// match_bench [rows] [psi_elements]
//
// Speed of the two match kernels, each beside a bare baseline measured in the same run on the
// same data, one core:
//   Dice: jisr::match::dice_matrix (tiled, SIMD kernel chosen at run time) against a bare
//         loop of popcnt(a & b) over the same filters (no tiling, no Dice division);
//   PSI:  jisr::match::blind_keys / reblind_all against bare libsodium calls (SHA-512 +
//         crypto_core_ristretto255_from_hash + crypto_scalarmult_ristretto255) on the same
//         keys.
// Prints rates and our/baseline ratios; asserts nothing (the machine is shared and noisy).
// Build with optimisation for meaningful figures (CMAKE_BUILD_TYPE=Release or RelWithDebInfo).
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "node/match/bloom.hpp"
#include "node/match/dice.hpp"
#include "node/match/keys.hpp"
#include "node/match/psi.hpp"

using namespace jisr::match;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The baseline: the plainest loop a programmer would write, with the popcnt instruction.
__attribute__((target("popcnt"), noinline)) uint64_t bare_popcount_all_pairs(
    const uint64_t* a, size_t na, const uint64_t* b, size_t nb, size_t words, uint32_t* out) {
  uint64_t checksum = 0;
  for (size_t i = 0; i < na; ++i) {
    for (size_t j = 0; j < nb; ++j) {
      uint32_t c = 0;
      for (size_t w = 0; w < words; ++w) {
        c += static_cast<uint32_t>(__builtin_popcountll(a[i * words + w] & b[j * words + w]));
      }
      out[i * nb + j] = c;
      checksum += c;
    }
  }
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t rows = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2000;
  const size_t psi_n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 20000;
  if (sodium_init() < 0) return 1;

  // ---- Dice ----
  // Filters shaped like real encodings: 10 fields of 256 bits, about a quarter of bits set.
  const size_t words = 10 * kFieldWords;
  std::mt19937_64 rng(1);
  std::vector<uint64_t> a(rows * words), b(rows * words);
  for (auto& w : a) w = rng() & rng();
  for (auto& w : b) w = rng() & rng();
  std::vector<uint32_t> pa(rows), pb(rows);
  for (size_t i = 0; i < rows; ++i) {
    pa[i] = popcount_words(&a[i * words], words);
    pb[i] = popcount_words(&b[i * words], words);
  }
  const double pairs = double(rows) * double(rows);
  std::vector<uint32_t> counts(rows * rows);
  std::vector<float> dice_out(rows * rows);

  // Warm up both once, then time each.
  bare_popcount_all_pairs(a.data(), rows, b.data(), rows, words, counts.data());
  dice_matrix(a.data(), pa.data(), rows, b.data(), pb.data(), rows, words, dice_out.data());
  auto t0 = Clock::now();
  uint64_t checksum = bare_popcount_all_pairs(a.data(), rows, b.data(), rows, words, counts.data());
  double bare_s = seconds(t0);
  t0 = Clock::now();
  dice_matrix(a.data(), pa.data(), rows, b.data(), pb.data(), rows, words, dice_out.data());
  double ours_s = seconds(t0);
  // Consistency: our Dice agrees with the baseline's counts on a sample.
  size_t mismatches = 0;
  for (size_t k = 0; k < rows * rows; k += 997) {
    float want = float(dice(counts[k], pa[k / rows], pb[k % rows]));
    if (std::abs(want - dice_out[k]) > 1e-6f) ++mismatches;
  }
  std::printf("dice: %zu x %zu filters of %zu bits, kernel %s\n", rows, rows, words * 64,
              std::string(popcount_kernel_name(best_popcount_kernel())).c_str());
  std::printf("  bare popcnt loop     %12.0f comparisons/s  (checksum %llu)\n", pairs / bare_s,
              static_cast<unsigned long long>(checksum));
  std::printf("  jisr dice_matrix     %12.0f comparisons/s  = %.0f%% of bare  (mismatches %zu)\n",
              pairs / ours_s, 100.0 * bare_s / ours_s, mismatches);

  // ---- PSI ----
  std::vector<MatchKey> keys;
  for (size_t i = 0; i < psi_n; ++i) {
    keys.push_back(MatchKey{0, "jisr.match.key.v1|agreement|kind|value-" + std::to_string(i)});
  }
  PsiSecret secret = PsiSecret::generate();
  std::array<uint8_t, 32> scalar{};
  crypto_core_ristretto255_scalar_random(scalar.data());

  t0 = Clock::now();
  std::vector<GroupElement> bare(psi_n);
  for (size_t i = 0; i < psi_n; ++i) {
    std::array<uint8_t, 64> h{};
    crypto_hash_sha512(h.data(), reinterpret_cast<const unsigned char*>(keys[i].bytes.data()),
                       keys[i].bytes.size());
    GroupElement p{};
    crypto_core_ristretto255_from_hash(p.data(), h.data());
    if (crypto_scalarmult_ristretto255(bare[i].data(), scalar.data(), p.data()) != 0) return 1;
  }
  double bare_blind_s = seconds(t0);
  t0 = Clock::now();
  auto blinded = blind_keys(secret, keys);
  double ours_blind_s = seconds(t0);
  if (!blinded) return 1;

  t0 = Clock::now();
  std::vector<GroupElement> bare_re(psi_n);
  for (size_t i = 0; i < psi_n; ++i) {
    if (crypto_scalarmult_ristretto255(bare_re[i].data(), scalar.data(), bare[i].data()) != 0) {
      return 1;
    }
  }
  double bare_re_s = seconds(t0);
  t0 = Clock::now();
  auto reblinded = reblind_all(secret, blinded.value());
  double ours_re_s = seconds(t0);
  if (!reblinded) return 1;
  sodium_memzero(scalar.data(), scalar.size());

  std::printf("psi: %zu elements\n", psi_n);
  std::printf("  bare hash-to-group + scalarmult  %10.0f elements/s\n", psi_n / bare_blind_s);
  std::printf("  jisr blind_keys                  %10.0f elements/s  = %.0f%% of bare\n",
              psi_n / ours_blind_s, 100.0 * bare_blind_s / ours_blind_s);
  std::printf("  bare scalarmult                  %10.0f elements/s\n", psi_n / bare_re_s);
  std::printf("  jisr reblind_all (validating)    %10.0f elements/s  = %.0f%% of bare\n",
              psi_n / ours_re_s, 100.0 * bare_re_s / ours_re_s);
  return 0;
}
