// Strong types for identifiers (STYLE.md 8): an OrgId is never confused with a RecordId.
// Validation of the textual form lives in the named constructors. Thread-safety: values.
#pragma once

#include <compare>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace jisr {

template <class Tag>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(std::string value) : value_(std::move(value)) {}
  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  auto operator<=>(const StrongId&) const = default;

 private:
  std::string value_;
};

struct OrgIdTag {};
struct RecordIdTag {};
struct AgreementIdTag {};

// An organisation: [a-z0-9-]{2,32}. Named in certificates, node.yaml and agreements.
using OrgId = StrongId<OrgIdTag>;
// A record's local id, taken from the source's id column.
using RecordId = StrongId<RecordIdTag>;
// An agreement: [a-z0-9-]{1,64}.
using AgreementId = StrongId<AgreementIdTag>;

// True when s is a valid organisation id: 2..32 of [a-z0-9-].
bool is_valid_org_id(std::string_view s);
// True when s is a valid agreement or rule id: 1..64 of [a-z0-9-].
bool is_valid_agreement_id(std::string_view s);
// True when s is a usable record id: 1..128 bytes, printable ASCII without spaces, commas or
// quotes (ids travel in file names, logs and CSV).
bool is_valid_record_id(std::string_view s);

}  // namespace jisr

template <class Tag>
struct std::hash<jisr::StrongId<Tag>> {
  size_t operator()(const jisr::StrongId<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
