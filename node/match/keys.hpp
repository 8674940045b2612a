// Match keys: several composite keys per record, one per key kind of the spec, each
// domain-separated by agreement id and key kind so that keys of one agreement or kind never
// meet another's. Where the data is uncertain a kind yields several variants: the years a date
// may stand for, each part of a place, and (querier side) the first two names swapped, for
// kinds that include the birth (first) date.
// The key bytes contain personal data in clear: they exist only inside the node and are
// hashed to the group (psi.hpp) before anything leaves. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/match/features.hpp"
#include "node/match/match_spec.hpp"

namespace jisr::match {

// The querier sends exact values (and tries swapped names); the responder widens dates by
// the spec's year tolerance. Together a birth year 1988 meets 1987..1989 once, not twice.
enum class KeySide { kQuerier, kResponder };

struct MatchKey {
  // Index k into CompiledMatchSpec::keys for a value key; for a presence key (the kind with
  // its field at position p reduced to "present"; see psi_decide), kinds * (1 + p) + k.
  uint32_t kind = 0;
  std::string bytes;   // domain || agreement || kind id || values (length-prefixed)
  bool operator==(const MatchKey&) const = default;
  auto operator<=>(const MatchKey&) const = default;
};

// At most this many variants of one key kind per record (a bound on hostile or odd data).
inline constexpr size_t kMaxVariantsPerKind = 64;

// Presence kind number of kind k with position p reduced to "present", and back.
inline uint32_t presence_kind(size_t kinds, uint32_t k, size_t p) {
  return static_cast<uint32_t>(kinds * (1 + p) + k);
}

// Keys of one record, sorted and without duplicates. A kind is skipped when one of its fields
// is absent.
std::vector<MatchKey> match_keys(const CompiledMatchSpec& spec, const RecordFeatures& record,
                                 KeySide side);

}  // namespace jisr::match
