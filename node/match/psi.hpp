// PSI primitives: ECDH private set intersection over ristretto255 (libsodium).
// Each key is hashed to the group (SHA-512 of a domain tag and the key bytes, then
// crypto_core_ristretto255_from_hash) and blinded with a per-job secret scalar. The responder
// re-blinds the querier's points with its own scalar and sends its own blinded keys under
// opaque per-job handles; the querier re-blinds those, and equal doubly-blinded points mean
// equal keys (a·b·H(k) = b·a·H(k)). Neither side can invert a blinding, so keys that do not
// match stay hidden. The identity element is refused everywhere (a zero or low-order "point"
// from a hostile peer would otherwise match everything). Secrets are wiped on destruction.
// Thread-safety: PsiSecret is immutable after creation; its const methods may run on several
// threads at once. Free functions are pure.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "node/core/result.hpp"
#include "node/match/keys.hpp"

namespace jisr::match {

using GroupElement = std::array<uint8_t, 32>;

// The key's point: ristretto255 from SHA-512("jisr.psi.h2g.v1" || key_bytes).
GroupElement hash_to_group(std::string_view key_bytes);

// A per-job secret scalar. Move-only; the scalar is wiped with sodium_memzero when destroyed.
class PsiSecret {
 public:
  // A fresh uniformly random non-zero scalar.
  static PsiSecret generate();
  PsiSecret(PsiSecret&& other) noexcept;
  PsiSecret& operator=(PsiSecret&& other) noexcept;
  PsiSecret(const PsiSecret&) = delete;
  PsiSecret& operator=(const PsiSecret&) = delete;
  ~PsiSecret();

  // secret · H(key). Error kInternal only if the scalar product is the identity (probability
  // ~2^-252; never expected).
  Result<GroupElement> blind(std::string_view key_bytes) const;
  // secret · P for a point received from the peer. kInvalidInput when P is not a canonical
  // ristretto255 encoding or the product is the identity.
  Result<GroupElement> reblind(const GroupElement& point) const;

 private:
  PsiSecret() = default;
  void wipe() noexcept;
  std::array<uint8_t, 32> scalar_{};
};

// Blinds every key; the result is parallel to `keys`. With threads > 1 the work is split
// into contiguous slices on that many threads (the group operations are independent; a job's
// tens of thousands of scalar multiplications are the cost of PSI).
Result<std::vector<GroupElement>> blind_keys(const PsiSecret& secret, std::span<const MatchKey> keys,
                                             unsigned threads = 1);
// Re-blinds a peer's points; fails on the first invalid one (where = its index), whatever
// the number of threads.
Result<std::vector<GroupElement>> reblind_all(const PsiSecret& secret, std::span<const GroupElement> points,
                                              unsigned threads = 1);

// Equal elements of two lists of doubly-blinded points: pairs (index in mine, index in theirs).
struct PsiHit {
  size_t mine = 0;
  size_t theirs = 0;
  bool operator==(const PsiHit&) const = default;
};
std::vector<PsiHit> intersect(std::span<const GroupElement> mine,
                              std::span<const GroupElement> theirs);

}  // namespace jisr::match
