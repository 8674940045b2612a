#include "node/match/psi.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>
#include <string>
#include <unordered_map>

namespace jisr::match {
namespace {

constexpr std::string_view kHashToGroupDomain = "jisr.psi.h2g.v1";

void ensure_sodium() {
  // sodium_init is idempotent and thread-safe; -1 means the library cannot work at all.
  if (sodium_init() < 0) throw std::runtime_error("libsodium initialisation failed");
}

uint64_t prefix64(const GroupElement& e) {
  uint64_t v;
  std::memcpy(&v, e.data(), sizeof v);
  return v;
}

}  // namespace

GroupElement hash_to_group(std::string_view key_bytes) {
  ensure_sodium();
  std::array<uint8_t, crypto_hash_sha512_BYTES> digest{};
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, reinterpret_cast<const unsigned char*>(kHashToGroupDomain.data()),
                            kHashToGroupDomain.size());
  crypto_hash_sha512_update(&st, reinterpret_cast<const unsigned char*>(key_bytes.data()),
                            key_bytes.size());
  crypto_hash_sha512_final(&st, digest.data());
  GroupElement p{};
  crypto_core_ristretto255_from_hash(p.data(), digest.data());
  sodium_memzero(digest.data(), digest.size());
  return p;
}

PsiSecret PsiSecret::generate() {
  ensure_sodium();
  PsiSecret s;
  // crypto_core_ristretto255_scalar_random never returns zero.
  crypto_core_ristretto255_scalar_random(s.scalar_.data());
  return s;
}

PsiSecret::PsiSecret(PsiSecret&& other) noexcept : scalar_(other.scalar_) { other.wipe(); }

PsiSecret& PsiSecret::operator=(PsiSecret&& other) noexcept {
  if (this != &other) {
    scalar_ = other.scalar_;
    other.wipe();
  }
  return *this;
}

PsiSecret::~PsiSecret() { wipe(); }

void PsiSecret::wipe() noexcept { sodium_memzero(scalar_.data(), scalar_.size()); }

Result<GroupElement> PsiSecret::blind(std::string_view key_bytes) const {
  GroupElement h = hash_to_group(key_bytes);
  GroupElement out{};
  if (crypto_scalarmult_ristretto255(out.data(), scalar_.data(), h.data()) != 0) {
    return make_error(Errc::kInternal, "blinded key is the identity element", "psi");
  }
  return out;
}

Result<GroupElement> PsiSecret::reblind(const GroupElement& point) const {
  if (crypto_core_ristretto255_is_valid_point(point.data()) != 1) {
    return make_error(Errc::kInvalidInput, "peer sent an invalid group element", "psi");
  }
  GroupElement out{};
  // -1 when the product is the identity: a hostile peer sending the identity (or a point that
  // collapses to it) is refused rather than allowed to match everything.
  if (crypto_scalarmult_ristretto255(out.data(), scalar_.data(), point.data()) != 0) {
    return make_error(Errc::kInvalidInput, "peer sent the identity element", "psi");
  }
  return out;
}

namespace {

// Runs op(i) for i in [0, n) on up to `threads` threads in contiguous slices; returns the error
// of the lowest failing index, if any (so the result does not depend on scheduling).
template <class Op>
Result<void> parallel_for(size_t n, unsigned threads, Op op) {
  constexpr size_t kMinSlice = 2048;  // below this a thread costs more than it saves
  const size_t slices = std::max<size_t>(1, std::min<size_t>(threads, n / kMinSlice));
  std::vector<std::optional<std::pair<size_t, Error>>> failed(slices);
  auto run = [&](size_t s) {
    const size_t lo = n * s / slices, hi = n * (s + 1) / slices;
    for (size_t i = lo; i < hi; ++i) {
      if (auto r = op(i); !r) {
        failed[s].emplace(i, r.error());
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t s = 1; s < slices; ++s) pool.emplace_back(run, s);
  run(0);
  for (auto& t : pool) t.join();
  for (auto& f : failed) {
    if (f) return f->second;
  }
  return ok();
}

}  // namespace

Result<std::vector<GroupElement>> blind_keys(const PsiSecret& secret, std::span<const MatchKey> keys,
                                             unsigned threads) {
  std::vector<GroupElement> out(keys.size());
  JISR_TRY(parallel_for(keys.size(), threads, [&](size_t i) -> Result<void> {
    auto p = secret.blind(keys[i].bytes);
    if (!p) return p.error();
    out[i] = p.value();
    return ok();
  }));
  return out;
}

Result<std::vector<GroupElement>> reblind_all(const PsiSecret& secret, std::span<const GroupElement> points,
                                              unsigned threads) {
  std::vector<GroupElement> out(points.size());
  JISR_TRY(parallel_for(points.size(), threads, [&](size_t i) -> Result<void> {
    auto p = secret.reblind(points[i]);
    if (!p) return make_error(p.error().code, p.error().what, "psi element " + std::to_string(i));
    out[i] = p.value();
    return ok();
  }));
  return out;
}

std::vector<PsiHit> intersect(std::span<const GroupElement> mine,
                              std::span<const GroupElement> theirs) {
  std::unordered_multimap<uint64_t, size_t> index;
  index.reserve(theirs.size());
  for (size_t j = 0; j < theirs.size(); ++j) index.emplace(prefix64(theirs[j]), j);
  std::vector<PsiHit> hits;
  for (size_t i = 0; i < mine.size(); ++i) {
    auto [lo, hi] = index.equal_range(prefix64(mine[i]));
    for (auto it = lo; it != hi; ++it) {
      if (theirs[it->second] == mine[i]) hits.push_back(PsiHit{i, it->second});
    }
  }
  return hits;
}

}  // namespace jisr::match
