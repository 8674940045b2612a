// CLK-style Bloom-filter encodings for fuzzy linkage (method `bloom`): each field of the match
// spec gets its own 256-bit segment, into which the field's n-grams (bigrams of the phonetic
// skeleton for names and places, candidate years for dates, digit bigrams for ids) are hashed
// with a keyed hash (SipHash) under a per-agreement secret. Without the secret a filter cannot
// be built or tested for a guessed name; with it the peer still cannot read a filter back
// except by dictionary attack, which is why bloom is weaker than psi and needs explicit opt-in.
// The secret is derived by both nodes from X25519 of their keys, never sent.
// Personal data: filters are derived from personal data; never log them.
// Thread-safety: BloomSecret and BloomEncoder are immutable after construction; encode() may
// run on several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "node/core/result.hpp"
#include "node/match/features.hpp"
#include "node/match/match_spec.hpp"

namespace jisr::match {

inline constexpr size_t kFieldWords = 4;  // 256 bits per field
inline constexpr size_t kFieldBits = kFieldWords * 64;
// Bits per gram. A name's segment holds 8-20 grams in 256 bits: with 8 bits a gram the longer
// names filled a third of their segment, and chance overlaps blurred the Dice of every pair;
// 4 keeps the segments sparse (2-4 measured alike on arabic-dev, 8 was worse).
inline constexpr int kHashesPerGram = 4;

// 32 secret bytes shared by the two nodes of an agreement. Move-only; wiped on destruction.
class BloomSecret {
 public:
  explicit BloomSecret(const std::array<uint8_t, 32>& bytes) : bytes_(bytes) {}
  BloomSecret(BloomSecret&& other) noexcept;
  BloomSecret& operator=(BloomSecret&& other) noexcept;
  BloomSecret(const BloomSecret&) = delete;
  BloomSecret& operator=(const BloomSecret&) = delete;
  ~BloomSecret();
  const std::array<uint8_t, 32>& bytes() const { return bytes_; }
  // The key of the blocking hashes (scorer.hpp blocking_keys) both nodes send beside their
  // filters: derived from the secret, so only the two nodes of the agreement can compute or
  // compare them.
  std::array<uint8_t, 16> block_key() const;

 private:
  std::array<uint8_t, 32> bytes_{};
};

// X25519(own secret, peer public), then BLAKE2b keyed with the shared point over
// "jisr.bloom.secret.v1" || agreement id || the two public keys in sorted order: both nodes
// get the same secret, bound to the agreement. kInvalidInput when the peer key is a low-order
// point (the shared value would be zero).
Result<BloomSecret> derive_bloom_secret_x25519(const std::array<uint8_t, 32>& own_secret,
                                               const std::array<uint8_t, 32>& own_public,
                                               const std::array<uint8_t, 32>& peer_public,
                                               std::string_view agreement_id);
// The same from the nodes' Ed25519 signing keys (converted to X25519 with libsodium).
// own_secret is libsodium's 64-byte Ed25519 secret key (seed || public).
Result<BloomSecret> derive_bloom_secret(const std::array<uint8_t, 64>& own_ed25519_secret,
                                        const std::array<uint8_t, 32>& peer_ed25519_public,
                                        std::string_view agreement_id);

// Segments of a row: one per field of the spec, then one per name field for the name with its
// written long vowels (Arabic script only; empty otherwise), which tells apart names that
// share their consonants (محمد/محمود, حسن/حسين) when both sides wrote the name in Arabic;
// then one per date field for its month and day (empty when either is unknown), so that the
// scorer can tell "born the same day" from "born the same year" (MatchField::day_segment);
// then one per name field for the first of several names (empty for a single name), under the
// name key: a source that wrote only the mother's given name ("Fatima") compares with the
// first name of the other's "Fatima al-Khatib" (MatchField::first_word_segment); then one per
// place field for its regions (FieldFeatures::regions), under the place key, so that a town
// meets its region written alone on the other side (MatchField::region_segment); then one per
// name field for the name it is likely a misspelling of (NameSpellings; empty otherwise), under
// the name key, so that "محدم" meets "محمد" on the other side (MatchField::corrected_segment).
size_t bloom_segments(const CompiledMatchSpec& spec);

// Filters of many records: row i is words() consecutive words; pops[i] its popcount;
// field_pops[i * fields + s] the popcount of segment s (0 when the field was absent); `fields`
// counts segments (bloom_segments).
struct BloomMatrix {
  size_t fields = 0;
  std::vector<uint64_t> bits;
  std::vector<uint32_t> pops;
  std::vector<uint32_t> field_pops;

  size_t words() const { return fields * kFieldWords; }
  size_t size() const { return pops.size(); }
  const uint64_t* row(size_t i) const { return bits.data() + i * words(); }
};

class BloomEncoder {
 public:
  // Derives the hashing keys from the secret, the agreement and each field's role.
  BloomEncoder(const CompiledMatchSpec& spec, const BloomSecret& secret);
  ~BloomEncoder();
  BloomEncoder(const BloomEncoder&) = delete;
  BloomEncoder& operator=(const BloomEncoder&) = delete;

  // Appends one record's filter to m (a matrix from make_matrix()).
  void encode(const RecordFeatures& record, BloomMatrix& m) const;
  BloomMatrix make_matrix() const;

 private:
  const CompiledMatchSpec& spec_;
  std::vector<std::array<uint8_t, 16>> field_keys_;
  std::array<uint8_t, 16> vowel_key_{};
  std::array<uint8_t, 16> day_key_{};
  std::array<uint8_t, 16> name_key_{};
  std::array<uint8_t, 16> place_key_{};
};

// The grams one field contributes (exposed for tests and for explaining a filter).
std::vector<std::string> field_grams(const MatchField& field, const FieldFeatures& f,
                                     int year_tolerance);
// The grams of a name field's vowel segment (empty when the name has no vowelled skeleton).
std::vector<std::string> vowel_grams(const FieldFeatures& f);
// The grams of a date field's day segment: its month and day, unordered (a source that swapped
// them still agrees); empty when either is unknown or the date is 1 January (a placeholder).
std::vector<std::string> day_grams(const FieldFeatures& f);
// The grams of a name field's first-name segment: the grams of its first name (as
// field_grams of that name alone), empty for a single name.
std::vector<std::string> first_word_grams(const FieldFeatures& f);
// The grams of a name field's corrected segment: field_grams of the skeleton it is likely a
// misspelling of (FieldFeatures::corrected), empty when none.
std::vector<std::string> corrected_grams(const FieldFeatures& f);
// The grams of a place field's region segment: each region's whole-word gram (as field_grams
// writes it for a part), empty without regions.
std::vector<std::string> region_grams(const FieldFeatures& f);

}  // namespace jisr::match
