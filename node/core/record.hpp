// Record: one case as a flat map of named fields (DESIGN.md "Records"), plus the local id,
// version and change sequence that the store assigns. Fields are kept sorted by name so that
// two records with the same content encode to the same bytes (content hashing, idempotence).
// An absent field and an empty field are the same thing: empty values are never stored.
// Thread-safety: value type.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/core/ids.hpp"
#include "node/core/result.hpp"

namespace jisr {

class FieldMap {
 public:
  using Entry = std::pair<std::string, std::string>;

  // Replaces the whole map with entries in any order (one sort instead of sorted inserts);
  // empty values are dropped and, for a repeated name, the last entry wins.
  void assign(std::vector<Entry> entries);
  // Sets or replaces a field; an empty value erases it.
  void set(std::string_view name, std::string value);
  void erase(std::string_view name);
  // Room for n fields without reallocating (a hint; changes no content).
  void reserve(size_t n) { entries_.reserve(n); }
  // nullopt when the field is absent. The view lives as long as this map is unchanged.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }
  bool operator==(const FieldMap&) const = default;

 private:
  std::vector<Entry> entries_;  // sorted by name, unique names, non-empty values
};

struct Record {
  RecordId id;
  uint64_t version = 0;  // 1 for the first stored content, +1 on each change
  uint64_t seq = 0;      // position in the store's global change sequence
  FieldMap fields;
};

// Canonical bytes of a field map (sorted, length-prefixed): the content that versions and
// hashes are computed over.
std::string encode_fields(const FieldMap& fields);
// The same for entries in any order, read as set() one by one would read them: the last of a
// repeated name decides, and when it is empty the field is absent.
std::string encode_fields(std::vector<FieldMap::Entry> entries);
// Appends to out the same bytes as encode_fields() for entries already in FieldMap form: sorted
// by name, unique names, non-empty values (the caller guarantees it). Lets a hot loop such as
// import encode straight from its input, with no FieldMap and no per-field allocation.
using FieldView = std::pair<std::string_view, std::string_view>;
void encode_sorted_fields(std::span<const FieldView> entries, std::string& out);
// Bounded decode: at most 1024 fields, each name <= 256 bytes and value <= 1 MiB.
Result<FieldMap> decode_fields(std::string_view bytes);

// Read-only fields in FieldMap order (sorted by name, unique names, non-empty values) that
// point into bytes owned elsewhere, e.g. a stored record decoded in place by
// decode_fields_view(): what a loop over every record of the store reads without copying each
// value. The views live as long as those bytes.
class FieldsView {
 public:
  FieldsView() = default;
  explicit FieldsView(std::span<const FieldView> entries) : entries_(entries) {}
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  size_t size() const { return entries_.size(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::span<const FieldView> entries_;
};
// decode_fields() into views of `bytes` (out is replaced), with the same bounds and checks.
Result<void> decode_fields_view(std::string_view bytes, std::vector<FieldView>& out);

}  // namespace jisr
