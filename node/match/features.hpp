// RecordFeatures: the normalised identity values of one record, per field of a compiled match
// spec (skeletons of names and places, date ranges, id digits). Computed once per record and
// shared by key generation, Bloom encoding, blocking and the plaintext scorer.
// Personal data: features are derived from names; never log them.
// Thread-safety: value types and pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "node/core/record.hpp"
#include "node/match/dates.hpp"
#include "node/match/match_spec.hpp"

namespace jisr::match {

struct FieldFeatures {
  bool present = false;
  std::string skeleton;             // kName: phonetic skeleton (normalize.hpp)
  std::string first_name;           // kName: first_name_skeleton(), empty for a single name
  std::string vowelled;             // kName: skeleton with written long vowels (Arabic script only)
  std::vector<std::string> parts;   // kPlace: part skeletons; kText: folded words
  std::optional<DateValue> date;    // kDate
  bool derived = false;             // kDate: estimated from an age rule
  std::string value;                // kId: digits; kCategory: folded value
};

struct RecordFeatures {
  std::vector<FieldFeatures> fields;  // parallel to CompiledMatchSpec::fields
};

// Normalises the spec's fields of one record. Invalid values (a date that does not parse, an
// age that is not a number) count as absent: linkage evidence must not fail a whole job.
RecordFeatures extract_features(const CompiledMatchSpec& spec, const FieldMap& fields);

}  // namespace jisr::match
