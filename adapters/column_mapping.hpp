// ColumnMapping: how the columns of a CSV file feed the fields of the record schema. Loaded
// from a mapping YAML file that an administrator writes once per source:
//
//   id: report_id                     # the column holding the record id (required)
//   hxl: false                        # true: columns are found by an HXL hashtag row
//   fields:                           # schema field: column name (or HXL tag)
//     given_name: given_name
//     sex: { column: sex, values: { "ذكر": male, "أنثى": female } }
//     consent_share_iimp: { column: consent, values: { "1": "yes", "0": "no" } }
//
// Unknown schema fields, unknown keys and duplicate keys are errors naming the mapping's line;
// bind_mapping() then checks the mapping against a file's header (a missing column is an error naming
// the mapping line that asked for it).
// Thread-safety: immutable after load/bind; share freely.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/core/record_schema.hpp"
#include "node/core/result.hpp"
#include "node/core/yaml_source.hpp"

namespace jisr::adapters {

struct FieldSource {
  std::string field;                          // schema field
  std::string column;                         // column header, or HXL tag when hxl
  // Value translation (before schema checks), keyed by fold_value_key() of the source value,
  // so "أنثى", "انثى" and "انثي" (or "F" and "f") need one entry.
  std::map<std::string, std::string> values;
  int line = 0;                               // mapping line, for messages
};

struct ColumnMapping {
  std::string id_column;
  int id_line = 0;
  bool hxl = false;
  std::vector<FieldSource> fields;
  std::string file;  // mapping file, for messages

  static Result<ColumnMapping> load(YamlSource& source, const RecordSchema& schema);
};

// A mapping bound to one file's columns: column indexes resolved.
struct BoundMapping {
  size_t id_index = 0;
  struct Bound {
    const FieldSource* source;
    size_t index;
    const FieldSpec* spec = nullptr;  // the schema's spec of source->field (set by import)
  };
  std::vector<Bound> fields;
  size_t column_count = 0;
};

// Resolves the mapping against the header row (and, with hxl, the hashtag row under it).
// HXL tags match when the hashtag is the same and the column has every attribute the mapping
// names (`#person+name` matches `#person+name+given`? no: attributes must all be present, order
// and case free).
Result<BoundMapping> bind_mapping(const ColumnMapping& mapping, const std::vector<std::string>& header,
                          const std::vector<std::string>* hxl_row);

// The light folding that value translations match under: surrounding space trimmed, ASCII
// lowercased, Arabic diacritics and tatweel removed, alef variants to ا, ى to ي, ة to ه.
// (Full linguistic normalisation for matching lives in node/match; this is only for the small
// closed vocabularies of value translations.)
std::string fold_value_key(std::string_view value);

// True when an HXL tag row looks like one (every non-empty cell starts with '#').
bool looks_like_hxl_row(const std::vector<std::string>& row);

}  // namespace jisr::adapters
