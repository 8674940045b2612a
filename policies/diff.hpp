// Disclosure impact of replacing one agreement with another (`jisr policy diff`): fed every
// stored record, it counts how many records would newly be shared or stop being shared and,
// per field, for how many records the field newly leaves, stops leaving or leaves in another
// form; and it lists the rule changes in plain words. Counts and field names only.
// Thread-safety: a DisclosureDiff belongs to one thread; the describe/render functions are pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policies/agreement.hpp"

namespace jisr::policies {

struct FieldImpact {
  std::string field;
  uint64_t newly_leaves = 0;   // records for which the field leaves under NEW but not OLD
  uint64_t stops_leaving = 0;  // records for which it leaves under OLD but not NEW
  uint64_t changes_form = 0;   // leaves under both, with a different value (transform changed)
};

struct DiffReport {
  std::string peer;
  std::string old_agreement, new_agreement;
  std::string old_version, new_version;
  std::string at;  // the day both were evaluated on (YYYY-MM-DD)
  uint64_t records = 0;
  uint64_t shared_before = 0;
  uint64_t shared_after = 0;
  uint64_t newly_shared = 0;
  uint64_t no_longer_shared = 0;
  std::vector<FieldImpact> fields;        // by field name; only fields with a non-zero count
  std::vector<std::string> rule_changes;  // plain English, one change per line
};

class DisclosureDiff {
 public:
  // Both agreements are evaluated at `at` for `purpose` (empty: each agreement's first purpose).
  // The agreements must outlive this object.
  DisclosureDiff(const CompiledAgreement& old_agreement, const CompiledAgreement& new_agreement,
                 std::string purpose, TimePoint at);
  void add(const FieldMap& record);
  DiffReport report() const;

 private:
  const CompiledAgreement& old_;
  const CompiledAgreement& new_;
  std::string purpose_;
  TimePoint at_;
  DiffReport counts_;
  std::map<std::string, FieldImpact> fields_;
};

// What changed between two agreements, in plain English (empty when nothing but the text did).
std::vector<std::string> describe_changes(const CompiledAgreement& old_agreement,
                                          const CompiledAgreement& new_agreement);

// The report as text for people, ending in a newline.
std::string render_diff(const DiffReport& report);

}  // namespace jisr::policies
