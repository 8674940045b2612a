#include "node/core/record.hpp"

#include <algorithm>
#include <cstring>

#include "node/core/bytes.hpp"

namespace jisr {
namespace {
constexpr uint8_t kFieldsFormat = 1;
constexpr uint64_t kMaxFields = 1024;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxValueBytes = 1 << 20;
}  // namespace

void FieldMap::set(std::string_view name, std::string value) {
  if (value.empty()) {
    erase(name);
    return;
  }
  // Fields mostly arrive in name order (decoding, projecting, copying another map): append
  // without a search or a shift.
  if (entries_.empty() || entries_.back().first < name) {
    entries_.emplace_back(std::string(name), std::move(value));
    return;
  }
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const Entry& e, std::string_view n) { return e.first < n; });
  if (it != entries_.end() && it->first == name) {
    it->second = std::move(value);
  } else {
    entries_.insert(it, Entry{std::string(name), std::move(value)});
  }
}

void FieldMap::assign(std::vector<Entry> entries) {
  std::erase_if(entries, [](const Entry& e) { return e.second.empty(); });
  // Insertion sort: stable, allocation-free and fastest for the dozen or so fields of a record.
  for (size_t i = 1; i < entries.size(); ++i) {
    for (size_t j = i; j > 0 && entries[j].first < entries[j - 1].first; --j) {
      std::swap(entries[j], entries[j - 1]);
    }
  }
  // Keep the last of equal names: reverse-unique on the stable order.
  std::vector<Entry> out;
  out.reserve(entries.size());
  for (auto& e : entries) {
    if (!out.empty() && out.back().first == e.first) {
      out.back().second = std::move(e.second);
    } else {
      out.push_back(std::move(e));
    }
  }
  entries_ = std::move(out);
}

void FieldMap::erase(std::string_view name) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const Entry& e, std::string_view n) { return e.first < n; });
  if (it != entries_.end() && it->first == name) entries_.erase(it);
}

std::optional<std::string_view> FieldMap::get(std::string_view name) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const Entry& e, std::string_view n) { return e.first < n; });
  if (it != entries_.end() && it->first == name) return std::string_view(it->second);
  return std::nullopt;
}

namespace {
// One encoding for both entry kinds: format byte, count, then (name, value) length-prefixed.
// Sized once, then written through a pointer: import encodes every row here, and appending
// byte by byte (a capacity check each) cost more than the copying.
template <class Entries>
void encode_entries(const Entries& entries, std::string& out) {
  size_t size = 1 + varint_size(entries.size());
  for (const auto& [name, value] : entries) {
    size += varint_size(name.size()) + name.size() + varint_size(value.size()) + value.size();
  }
  const size_t old = out.size();
  out.resize(old + size);
  char* p = out.data() + old;
  *p++ = static_cast<char>(kFieldsFormat);
  p = write_varint(p, entries.size());
  const auto put = [&p](std::string_view s) {
    p = write_varint(p, s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());  // an empty view's data may be null
    p += s.size();
  };
  for (const auto& [name, value] : entries) {
    put(name);
    put(value);
  }
}
}  // namespace

std::string encode_fields(const FieldMap& fields) {
  std::string out;
  encode_entries(fields, out);
  return out;
}

std::string encode_fields(std::vector<FieldMap::Entry> entries) {
  FieldMap fields;
  fields.reserve(entries.size());
  for (auto& [name, value] : entries) fields.set(name, std::move(value));
  return encode_fields(fields);
}

void encode_sorted_fields(std::span<const FieldView> entries, std::string& out) { encode_entries(entries, out); }

namespace {
// a sorts strictly after b, bytewise: the order check of every decoded field, on names of a
// dozen bytes that mostly differ early, where a memcmp call was a tenth of decoding.
bool sorts_after(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) > static_cast<unsigned char>(b[i]);
  }
  return a.size() > b.size();
}

// The one decoder of encode_fields() bytes; add(name, value) receives each checked field.
template <class Add>
Result<void> decode_entries(std::string_view bytes, size_t& count_out, Add&& add) {
  ByteReader r(bytes);
  const auto bad = [](const char* what) { return make_error(Errc::kInternal, what, "record"); };
  auto format = r.u8();
  if (!format || *format != kFieldsFormat) return bad("unknown record encoding");
  auto count = r.varint();
  if (!count || *count > kMaxFields) return bad("corrupt record: field count");
  count_out = static_cast<size_t>(*count);
  std::string_view previous;
  for (uint64_t i = 0; i < *count; ++i) {
    auto name = r.bytes(kMaxNameBytes);
    auto value = r.bytes(kMaxValueBytes);
    if (!name || !value || name->empty() || value->empty()) return bad("corrupt record: field");
    if (i > 0 && !sorts_after(*name, previous)) return bad("corrupt record: field order");
    previous = *name;
    add(*name, *value);
  }
  if (!r.at_end()) return bad("corrupt record: trailing bytes");
  return ok();
}
}  // namespace

Result<FieldMap> decode_fields(std::string_view bytes) {
  FieldMap out;
  size_t count = 0;
  JISR_TRY(decode_entries(bytes, count, [&](std::string_view name, std::string_view value) {
    if (out.empty()) out.reserve(count);
    out.set(name, std::string(value));
  }));
  return out;
}

Result<void> decode_fields_view(std::string_view bytes, std::vector<FieldView>& out) {
  out.clear();
  size_t count = 0;
  return decode_entries(bytes, count, [&](std::string_view name, std::string_view value) {
    if (out.empty()) out.reserve(count);
    out.emplace_back(name, value);
  });
}

std::optional<std::string_view> FieldsView::get(std::string_view name) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const FieldView& e, std::string_view n) { return e.first < n; });
  if (it != entries_.end() && it->first == name) return it->second;
  return std::nullopt;
}

}  // namespace jisr
