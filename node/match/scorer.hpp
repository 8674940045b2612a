// From comparisons to decisions: the scorer that turns per-field similarities into one score
// with per-field evidence ("same father_name, birth_date years 1988/1989"), the PSI-side
// decision from which key kinds matched, and blocking (which pairs are worth comparing, so a
// bloom job never compares all pairs).
// Fields absent on either side are neutral: they neither raise nor lower a score.
// Personal data: evidence from score_features() may contain years (it is meant for the review
// screen of one's own node); evidence from bloom and psi holds only field names and grades.
// Thread-safety: pure functions; a ValueRarity is filled on one thread, then only read.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "node/match/bloom.hpp"
#include "node/match/features.hpp"
#include "node/match/match_spec.hpp"

namespace jisr::match {

struct FieldComparison {
  uint32_t field = 0;       // index into spec.fields
  double similarity = 0.0;  // 0..1
  std::string detail;       // e.g. "1988/1989" for dates (score_features only)
  // kDate: +1 when both dates have a month and day and they agree (also swapped), -1 when
  // they differ, 0 when either lacks them.
  int day = 0;
};

struct Score {
  double value = 0.0;                   // 0..1
  std::vector<FieldComparison> fields;  // fields present on both sides
  bool swapped = false;                 // the first two names compared crosswise
};

// Fellegi-Sunter style: each compared field's similarity becomes an agreement level in 0..1
// (0 at or below kDisagreeBelow, 1 at or above kAgreeAbove, linear between), which mixes the
// field's agree and disagree weights (MatchField); a date whose month and day are known on
// both sides adds its day_agree or day_disagree bits times the same level (a day matters only
// within a year that agrees); the sum is the evidence in bits, and the score is
// logistic(evidence / kEvidenceScale), so 0.5 means "no evidence either way".
inline constexpr double kDisagreeBelow = 0.3;
inline constexpr double kAgreeAbove = 0.9;
inline constexpr double kEvidenceScale = 4.0;
double agreement_level(double similarity);
double logistic_score(double evidence_bits);
double evidence(const CompiledMatchSpec& spec, std::span<const FieldComparison> fields);
double combine(const CompiledMatchSpec& spec, std::span<const FieldComparison> fields);

// Both scorers also try the first two name fields crosswise (given and father name swapped in
// one source) and keep that reading when its evidence, less kSwapPenaltyBits, is higher
// (Score::swapped). A side that lacks one of the two names is read crosswise too: the name it
// has may stand in the other's place. The penalty is the prior odds against a swap: sources swap the two names
// in a few percent of records, while a son's given name is very often his father's or
// grandfather's, so a crosswise agreement without a price turns relatives into candidates.
inline constexpr double kSwapPenaltyBits = 2.0;
// A town on one side and, on the other, the region it lies in (PlaceHierarchy): the place is
// not known to differ, it is known more coarsely. Such a place's similarity is raised to half
// (a little below no evidence at all: two towns of one region stay different, and a place
// that merely lies in the same region as the other is weak evidence).
inline constexpr double kRegionSimilarity = 0.5;
// A name that NameSpellings takes for a misspelling compares also as the name it is likely a
// misspelling of, and agreement that way counts this much of a similarity: "similar", not the
// same (a guess about a typo is weaker than the written name).
inline constexpr double kMisspeltSimilarity = 0.8;
// One of the commonest names (ValueRarity: at least kCommonNameBits less information than the
// field's mean, i.e. four times as frequent) on b's side, and a's name only similar to it
// (below kSameNameSimilarity): محمد and محمود, حسن and حسين are different names that brothers
// and twins carry, and the typo of a common name is caught by NameSpellings instead. Such a
// similarity counts half above kDisagreeBelow.
inline constexpr double kCommonNameBits = 2.0;
inline constexpr double kSameNameSimilarity = 0.95;
// Value-specific weights (Fellegi-Sunter with frequency-based u-probabilities): two records
// that agree on a name few people carry, or on a village, are stronger evidence than two that
// agree on the commonest name or on the capital. ValueRarity counts, over one node's own
// records, how often each name field holds each skeleton and each place field each list of
// parts, and gives per record and field the bits of information of its value above the
// field's mean (log2(n / count) - mean; 0 for absent values and other roles). Centred, so a
// small or uniform set changes nothing. A scorer adds kRarityWeight times that for every name
// or place field that agrees (similarity >= kAgreeAbove), from the side that counted: only its
// own records, so nothing about the other side's data is needed.
inline constexpr double kRarityWeight = 0.15;
class ValueRarity {
 public:
  explicit ValueRarity(const CompiledMatchSpec& spec);
  // Counts one record (rows in the order of the records to be scored).
  void add(const RecordFeatures& record);
  // After the last add(): the bits of every row (empty span before).
  void finish();
  std::span<const float> row(size_t j) const;

 private:
  size_t fields_ = 0;
  std::vector<bool> counted_;
  std::vector<uint64_t> hashes_;  // per row and field; 0 when absent or not a name
  std::vector<float> bits_;
};

// Non-private scorer on both records' features (Dice of the same grams the Bloom filters hold,
// without hashing): the baseline and the explanation shown after a reveal. b_rarity: b's row
// of a ValueRarity over b's side, or empty.
Score score_features(const CompiledMatchSpec& spec, const RecordFeatures& a,
                     const RecordFeatures& b, std::span<const float> b_rarity = {});
// Scorer on two Bloom filters (row i of a, row j of b): per-field Dice by popcount.
Score score_bloom(const CompiledMatchSpec& spec, const BloomMatrix& a, size_t i,
                  const BloomMatrix& b, size_t j, std::span<const float> b_rarity = {});

// "same given_name, father_name; similar family_name; birth_date 1988/1988, same day;
// different mother_name" (grades: same >= 0.95, similar >= 0.6, else different; without the
// years, as from Bloom filters: "same birth_date; birth_date another day").
std::string describe(const CompiledMatchSpec& spec, const Score& score);

// Claims: a peer's record describes one person, and relatives are common, so when two of our
// records are candidates for the same peer record, the weaker is a sibling or a namesake of
// the person the stronger describes, unless our two records describe one person (a person
// reported twice), which the querier can tell in the clear from its own records. Pairs are
// taken by falling score; a pair is set aside when a stronger pair of another of our records
// has claimed its peer record and that record is not the same person (same_person); each of
// our records claims with its strongest pair kept (its weaker pairs stay as alternatives but
// claim nothing). Returns, per pair, whether it is set aside. Ties keep both.
struct Claim {
  uint32_t record = 0;  // ours
  uint32_t peer = 0;    // the peer's record (an index of its handles)
  double score = 0.0;
};
std::vector<bool> resolve_claims(std::span<const Claim> claims,
                                 const std::function<bool(uint32_t, uint32_t)>& same_person);
// Whether two records of one side describe the same person: their score reaches
// kSamePersonScore and the person's own name (the first name field) is at least similar. One
// side writes its records alike, so a different own name is a sibling, not a typo.
inline constexpr double kSamePersonScore = 0.85;
bool same_person(const CompiledMatchSpec& spec, const RecordFeatures& x, const RecordFeatures& y);

// PSI: the querier learns, per peer handle, which key kinds matched. The evidence is the sum
// of the agreement weights of the fields those kinds cover, plus the disagreement weight of
// each field whose presence key matched while no kind with its value did (both sides have it,
// it differs); a candidate when the sum reaches spec.psi_threshold.
struct PsiDecision {
  bool candidate = false;
  double weight = 0.0;
  std::vector<uint32_t> fields;  // covered fields, ascending
  std::string evidence;          // "same given_name, father_name, family_name, birth_date"
};
PsiDecision psi_decide(const CompiledMatchSpec& spec, std::span<const uint32_t> matched_kinds);

// Blocking keys: 64-bit keyed hashes of every unordered pair of name skeletons (swap- and
// typo-tolerant: a typo in one name leaves the other pairs), of the first name with each
// candidate birth year, of each id, of each full date (month and day unordered), and of each
// name with the year and month of each date (for a typo in one name with another missing).
// `key` is a per-job or per-agreement hashing key.
std::vector<uint64_t> blocking_keys(const CompiledMatchSpec& spec, const RecordFeatures& record,
                                    const std::array<uint8_t, 16>& key);

// Pairs (i in a, j in b) that share at least one blocking key, without duplicates, sorted.
// A block with more than max_block_pairs pairs is skipped (it would be all-pairs on a common
// name; the record's other blocks still find it).
std::vector<std::pair<uint32_t, uint32_t>> candidate_pairs(
    std::span<const std::vector<uint64_t>> a, std::span<const std::vector<uint64_t>> b,
    size_t max_block_pairs = 20000);

}  // namespace jisr::match
