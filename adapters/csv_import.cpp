#include "adapters/csv_import.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <variant>
#include <vector>

namespace jisr::adapters {
namespace {

// Runs on every field of every row: a plain loop, where find_first_not_of searches the set of
// blanks once per character.
std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  size_t b = 0;
  size_t e = s.size();
  while (b < e && blank(s[b])) ++b;
  while (e > b && blank(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// One good row, ready for the store. Kept in a vector reused across batches, so its strings
// keep their capacity and a steady-state row allocates nothing.
struct MappedRow {
  uint64_t line = 0;
  std::string id;
  std::string encoded;  // encode_fields() bytes of the canonical fields
};

// Per-row working storage, reused across rows.
struct RowScratch {
  std::vector<FieldView> entries;  // (field, canonical value) in field-name order
};

// Maps one CSV row into out, or returns why the row is rejected. bound.fields are in
// field-name order (import sorts them once), so the entries come out in FieldMap order with
// no per-row sort.
std::optional<std::string> map_row(const CsvRowView& row, const BoundMapping& bound,
                                   const RecordSchema& schema, RowScratch& scratch,
                                   MappedRow& out) {
  if (row.error) return *row.error;
  if (row.fields.size() != bound.column_count) {
    return fmt::format("{} columns, the header has {}", row.fields.size(), bound.column_count);
  }
  out.line = row.line;
  const auto id = trim(row.fields[bound.id_index]);
  if (id.empty()) return std::string("missing id");
  if (!is_valid_record_id(id)) return std::string("invalid id (1-128 printable characters, no spaces, commas, quotes or slashes)");
  out.id.assign(id);
  auto& entries = scratch.entries;
  entries.clear();
  for (size_t i = 0; i < bound.fields.size(); ++i) {
    const auto& b = bound.fields[i];
    std::string_view value = trim(row.fields[b.index]);
    if (value.empty()) continue;
    if (!b.source->values.empty()) {
      if (auto it = b.source->values.find(fold_value_key(value)); it != b.source->values.end()) {
        value = it->second;
      }
    }
    if (value.empty()) continue;
    if (!b.spec) return schema.canonical_value(b.source->field, value).error().what;
    auto canonical = RecordSchema::canonical_view(*b.spec, b.source->field, value);
    if (!canonical) return canonical.error().what;
    if (canonical.value().empty()) continue;
    // Two columns feeding one field: the later one wins, as FieldMap::assign does.
    if (!entries.empty() && entries.back().first == b.source->field) {
      entries.back().second = canonical.value();
    } else {
      entries.emplace_back(b.source->field, canonical.value());
    }
  }
  out.encoded.clear();
  encode_sorted_fields(entries, out.encoded);
  return std::nullopt;
}

}  // namespace

ImportCounts& ImportCounts::operator+=(const ImportCounts& o) {
  imported += o.imported;
  updated += o.updated;
  unchanged += o.unchanged;
  rejected += o.rejected;
  return *this;
}

Result<ImportCounts> import_csv(CsvReader& reader, const ColumnMapping& mapping,
                                const RecordSchema& schema, store::RecordStore& records,
                                const ImportOptions& options) {
  JISR_TRY(auto header, reader.next());
  if (!header) return make_error(Errc::kInvalidInput, "the file is empty (no header row)");
  if (header->error) {
    return make_error(Errc::kInvalidInput, "the header row is malformed: " + *header->error,
                      fmt::format("line {}", header->line));
  }
  std::optional<CsvRow> hxl_row;
  if (mapping.hxl) {
    JISR_TRY(auto tags, reader.next());
    if (!tags || tags->error || !looks_like_hxl_row(tags->fields)) {
      return make_error(Errc::kInvalidInput,
                        "hxl: true, but the row under the header is not an HXL hashtag row",
                        "line 2");
    }
    hxl_row = std::move(tags);
  }
  JISR_TRY(auto bound, bind_mapping(mapping, header->fields, hxl_row ? &hxl_row->fields : nullptr));
  for (auto& b : bound.fields) b.spec = schema.find(b.source->field);
  // Field-name order once here, so every row maps straight into FieldMap order (stable: for a
  // field fed by two columns the later column still wins).
  std::stable_sort(bound.fields.begin(), bound.fields.end(),
                   [](const auto& a, const auto& b) { return a.source->field < b.source->field; });

  ImportCounts total;
  bool done = false;
  std::vector<MappedRow> batch;  // batch[0, batch_len) are this batch's rows
  size_t batch_len = 0;
  batch.reserve(options.batch_rows);
  CsvRowView row;
  RowScratch scratch;
  const auto reject = [&](uint64_t line, std::string reason) {
    ++total.rejected;
    if (options.on_reject) options.on_reject(RowRejection{line, std::move(reason)});
  };
  // Reads up to batch_rows good rows; rejections are counted as they are met.
  const auto read_batch = [&]() -> Result<void> {
    batch_len = 0;
    while (batch_len < options.batch_rows) {
      JISR_TRY(auto more, reader.next(row));
      if (!more) {
        done = true;
        break;
      }
      // A blank line (one empty field) is not a row.
      if (row.fields.size() == 1 && row.fields[0].empty() && !row.error) continue;
      if (batch_len == batch.size()) batch.emplace_back();
      if (auto reason = map_row(row, bound, schema, scratch, batch[batch_len])) {
        reject(row.line, std::move(*reason));
      } else {
        ++batch_len;
      }
    }
    return ok();
  };
  const auto store_batch = [&](store::WriteTxn& txn) -> Result<ImportCounts> {
    ImportCounts counts;
    store::RecordWriter writer(records, txn);
    for (size_t i = 0; i < batch_len; ++i) {
      JISR_TRY(auto outcome, writer.put_encoded(batch[i].id, batch[i].encoded));
      switch (outcome) {
        case store::PutOutcome::kInserted: ++counts.imported; break;
        case store::PutOutcome::kUpdated: ++counts.updated; break;
        case store::PutOutcome::kUnchanged: ++counts.unchanged; break;
      }
    }
    JISR_TRY(writer.finish());
    return counts;
  };

  if (options.dry_run) {
    // Nothing is written: outcomes are computed against a read snapshot plus the rows already
    // seen in this file (a later row with the same id updates an earlier one).
    ImportCounts seen;
    std::unordered_map<std::string, std::string> in_file;  // id -> encoded fields
    JISR_TRY(auto txn, records.env().read());
    while (!done) {
      JISR_TRY(read_batch());
      for (size_t i = 0; i < batch_len; ++i) {
        const MappedRow& r = batch[i];
        std::optional<std::string> before;
        if (auto it = in_file.find(r.id); it != in_file.end()) {
          before = it->second;
        } else {
          JISR_TRY(auto stored, records.get(txn, RecordId(r.id)));
          if (stored) before = encode_fields(stored->fields);
        }
        if (!before) {
          ++seen.imported;
        } else if (*before == r.encoded) {
          ++seen.unchanged;
        } else {
          ++seen.updated;
        }
        in_file[r.id] = r.encoded;
      }
      seen.rejected = total.rejected;
      if (options.on_progress) options.on_progress(seen, reader.bytes_read());
    }
    seen.rejected = total.rejected;
    return seen;
  }

  while (!done) {
    JISR_TRY(read_batch());
    if (batch_len == 0) continue;
    JISR_TRY(auto counts, records.env().write([&](store::WriteTxn& txn) -> Result<ImportCounts> {
      JISR_TRY(auto c, store_batch(txn));
      if (options.before_commit) {
        JISR_TRY(options.before_commit(txn, c));
      }
      return c;
    }));
    const uint64_t rejected = total.rejected;
    total += counts;
    total.rejected = rejected;
    if (options.on_progress) options.on_progress(total, reader.bytes_read());
  }
  return total;
}

}  // namespace jisr::adapters
