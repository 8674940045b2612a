// MatchSpec: what an agreement's `match` section says about linkage, as a plain config struct
// (the policy engine parses YAML into it; node/exchange hands it here), and its compiled form
// resolved against a RecordSchema. Everything in node/match is driven by the fields' MatchRole
// and this spec, never by field names, so a schema with other fields (street address,
// postcode) works through config alone.
// Thread-safety: value types; a CompiledMatchSpec is immutable and may be shared.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/core/record_schema.hpp"
#include "node/core/result.hpp"

namespace jisr::match {

// One composite key kind: the values of all its fields together (`match.keys: [{id, fields}]`).
struct KeySpec {
  std::string id;
  std::vector<std::string> fields;
  // A name field of `fields` that may differ by about one letter: its values are the skeleton
  // and the skeleton less each one letter, so a dropped, added, changed or swapped letter
  // still meets. Its agreement then counts kSimilarNameBits, not the field's weight. Empty:
  // every field exact.
  std::string fuzzy;
};

// Evidence of a name met only up to one letter: none either way. It may be a typo of the same
// name or a different name one letter away (محمد/احمد); what the twin kind adds is that the
// kind's other fields now count although the own name has a typo.
inline constexpr double kSimilarNameBits = 0.0;

// A birth year derived from an age at an event: age_field (integer) years old at event_field's
// date, counted as evidence for birth_field (a date field of the spec) when that is empty.
struct AgeRule {
  std::string age_field;
  std::string event_field;
  std::string birth_field;
  int tolerance_years = 1;  // estimates of age are rough
};

struct MatchSpec {
  std::string agreement_id;          // domain-separates every key and Bloom encoding
  std::vector<std::string> fields;   // match.fields; roles come from the schema
  std::vector<KeySpec> keys;         // match.keys; empty: default keys (see default_keys)
  std::vector<AgeRule> ages;         // optional derived birth years
  int year_tolerance = 1;            // years a date may be off and still agree
  // The first two name fields may be swapped in a source (given and father name). When true
  // the querier also tries them the other way round.
  bool swap_first_names = true;
  // Bloom: score (0..1) from which a pair is a candidate (the agreement's threshold).
  double bloom_threshold = 0.85;
  // PSI: evidence (sum of the agreement weights of the fields covered by matched key kinds,
  // see field_weights) from which a record pair is a candidate.
  double psi_threshold = 10.5;
};

struct MatchField {
  std::string name;
  MatchRole role = MatchRole::kNone;
  // Log-likelihood weights (Fellegi-Sunter, in bits): added when the field agrees, added
  // (negative) when it disagrees; a field absent on either side adds nothing.
  double agree = 0.0;
  double disagree = 0.0;
  // kName: the Bloom segment of the name with its long vowels (bloom.hpp), after one segment
  // per field; -1 for other roles. Set by compile_match_spec: scoring reads it for every pair.
  int vowel_segment = -1;
  // kDate: the Bloom segment of the month and day (after the vowel segments), -1 for other
  // roles; and the bits added, in proportion to the date's agreement, when both dates have a
  // month and day and they agree (day_agree) or differ (day_disagree).
  int day_segment = -1;
  double day_agree = 0.0;
  double day_disagree = 0.0;
  // kName: the Bloom segment of the first of several names (after the day segments), -1 for
  // other roles.
  int first_word_segment = -1;
  // kPlace: the Bloom segment of the place's regions (PlaceHierarchy; after the first-name
  // segments), -1 for other roles.
  int region_segment = -1;
  // kName: the Bloom segment of the name this one is likely a misspelling of (NameSpellings;
  // after the region segments), -1 for other roles.
  int corrected_segment = -1;
};

struct CompiledKey {
  std::string id;
  std::vector<uint32_t> fields;  // indexes into CompiledMatchSpec::fields
  int fuzzy = -1;                // index into fields of KeySpec::fuzzy, or -1
  // Positions (into `fields`) that get a presence key (keys.hpp): every position of an exact
  // kind of two or more fields, except fields that every such kind holds (the own name in the
  // default keys): when one of those differs no kind with values matches at all, so its
  // presence could never be weighed.
  std::vector<uint32_t> presence;
};

struct CompiledAgeRule {
  std::string age_field;
  std::string event_field;
  uint32_t birth_field = 0;  // index into fields
  int tolerance_years = 1;
};

struct CompiledMatchSpec {
  std::string agreement_id;
  std::vector<MatchField> fields;
  std::vector<CompiledKey> keys;
  std::vector<CompiledAgeRule> ages;
  int year_tolerance = 1;
  bool swap_first_names = true;
  double bloom_threshold = 0.85;
  double psi_threshold = 10.5;

  // Index of the first field with `role`, or -1.
  int first_of(MatchRole role) const;
};

// Agreement and disagreement weights of field `index` among `fields` (match.fields order),
// generic m/u estimates by role and position:
//   first name field (the person's own name; relatives differ here)  +4 / -4
//   other names (father, family, mother...; relatives share them)    +2.5 / -2
//   first date (birth date)                                           +3 / -3
//     and when both dates are full, month and day: the same              +2 / -2
//     (u about 1/365 among people born the same year; siblings, cousins
//     and namesakes differ here, twins aside)
//   other dates (events: disappearance; relatives often disappear      +2 / -1.5
//   together, but they differ in the first name; sources jitter dates)
//     month and day: the same (few people vanish on one day); a        +1 / 0
//     different day says little, sources jitter event dates
//   places (compared by containment: a coarse place lies in a fine one) +2 / -1.5
//   ids (agreement is conclusive on its own; digit errors and missing  +12 / -2
//   ids are common, so disagreement is weak)
//   categories (sex: agreement says little, disagreement a lot)       +0.5 / -3
//   text                                                              +1.5 / -1
struct FieldWeights {
  double agree = 0.0;
  double disagree = 0.0;
  double day_agree = 0.0;     // kDate only
  double day_disagree = 0.0;  // kDate only
};
FieldWeights field_weights(const std::vector<MatchField>& fields, size_t index);

// Default key kinds when an agreement lists none, derived from roles in match.fields order.
// The first name field is the person's own name (N0); D0 is the first date field (birth date);
// events are the other date and place fields:
//   N0+Ni+D0 for every other name Ni (birth year, +-year_tolerance);
//   N0+Ni+Nj for every pair of other names (tolerates a missing or misspelt third name);
//   N0+Ni+E for every other name and event field (disappearance date and place);
//   each id field alone;
//   and a twin of each N0+N1+X kind (X a name, date or event) with N0 fuzzy, so that a typo in
//   the person's own name still meets through the father's name and one more field.
std::vector<KeySpec> default_keys(const std::vector<MatchField>& fields);

// Checks the spec against the schema: every field known, not a pattern, with a match role;
// keys non-empty, unique ids, known fields; age rules name known fields. All problems are
// reported in one error (kInvalidInput, where = "match").
Result<CompiledMatchSpec> compile_match_spec(const MatchSpec& spec, const RecordSchema& schema);

}  // namespace jisr::match
