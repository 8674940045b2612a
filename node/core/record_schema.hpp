// RecordSchema: the fields a record may have, their types and which identify a person
// (DESIGN.md "Records"). Loaded once from YAML (the `missing-person` schema is built in and
// written to DIR/schema.yaml by `jisr init`; a deployment may edit it or provide its own).
// A field name ending in `*` is a pattern (e.g. `consent_share_*` for one consent field per
// peer). Thread-safety: immutable after load; share freely.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/core/result.hpp"
#include "node/core/yaml_source.hpp"

namespace jisr {

enum class FieldType { kString, kDate, kEnum, kBool, kInteger };

// How record linkage treats a field (node/match normalises and compares by role, so a schema
// with other fields, e.g. street or postcode, works through config alone).
enum class MatchRole {
  kNone,      // not used for matching
  kName,      // a personal or family name: script folding, phonetic skeleton
  kDate,      // a (partial) date: year/month/day with tolerance
  kPlace,     // a place name: folding plus alternative names
  kId,        // an identifier such as a national id: digits only
  kCategory,  // a small closed value such as sex: exact
  kText,      // other free text compared by normalised tokens (e.g. street address, postcode)
};

std::string_view field_type_name(FieldType t);
std::string_view match_role_name(MatchRole r);

struct FieldSpec {
  std::string name;        // exact name, or a prefix when is_pattern
  bool is_pattern = false; // name was written with a trailing '*'
  FieldType type = FieldType::kString;
  std::vector<std::string> values;  // allowed values of an enum
  bool identity = false;   // used to identify a person (match keys, minimisation reports)
  size_t max_bytes = 4096; // longest value accepted
  MatchRole match = MatchRole::kNone;  // role in record linkage
  // An integer field may be an age at an event: the person was that old on the date of
  // `age_at`, which record linkage turns into a birth-year estimate for the date field
  // `age_of` when that is empty. Both empty: not an age.
  std::string age_of;
  std::string age_at;
};

class RecordSchema {
 public:
  const std::string& name() const { return name_; }
  const std::vector<FieldSpec>& fields() const { return fields_; }
  // The spec governing `field` (exact names before patterns); nullptr when unknown.
  const FieldSpec* find(std::string_view field) const;
  bool knows(std::string_view field) const { return find(field) != nullptr; }
  // Names of the identity fields, in schema order.
  std::vector<std::string> identity_fields() const;

  // Checks and canonicalises a value for a field: dates must be YYYY, YYYY-MM or YYYY-MM-DD,
  // enums one of their values, bools true/false/yes/no/1/0 (stored as true/false), integers
  // decimal. Returns the canonical value, or a one-line reason (no value echoed back, since
  // values may be personal data).
  Result<std::string> canonical_value(std::string_view field, std::string_view value) const;
  // Same, when the caller already holds the field's spec (hot loops such as import).
  static Result<std::string> canonical_value(const FieldSpec& spec, std::string_view field,
                                             std::string_view value);
  // Same, without copying (import's per-field hot path): every canonical form is either the
  // value itself (string, enum, integer, date: parse() accepts only canonical dates) or a
  // constant (bool), so the result views `value` or static storage.
  static Result<std::string_view> canonical_view(const FieldSpec& spec, std::string_view field,
                                                 std::string_view value);

  // Loads a schema document; all problems are reported with positions.
  static Result<RecordSchema> load(YamlSource& source);
  // The built-in `missing-person` schema.
  static const RecordSchema& missing_person();
  static std::string_view missing_person_yaml();

 private:
  std::string name_;
  std::vector<FieldSpec> fields_;
};

}  // namespace jisr
