#include "adapters/csv_import.hpp"

#include <fmt/format.h>

#include <unordered_map>
#include <variant>
#include <vector>

namespace jisr::adapters {
namespace {

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

struct MappedRow {
  uint64_t line = 0;
  RecordId id;
  FieldMap fields;
};

// Turns one CSV row into a record, or a rejection reason.
std::variant<MappedRow, std::string> map_row(const CsvRow& row, const BoundMapping& bound,
                                             const RecordSchema& schema) {
  if (row.error) return *row.error;
  if (row.fields.size() != bound.column_count) {
    return fmt::format("{} columns, the header has {}", row.fields.size(), bound.column_count);
  }
  MappedRow out;
  out.line = row.line;
  const auto id = trim(row.fields[bound.id_index]);
  if (id.empty()) return std::string("missing id");
  if (!is_valid_record_id(id)) return std::string("invalid id (1-128 printable characters, no spaces, commas, quotes or slashes)");
  out.id = RecordId(std::string(id));
  std::vector<FieldMap::Entry> entries;
  entries.reserve(bound.fields.size());
  for (const auto& b : bound.fields) {
    std::string_view raw = trim(row.fields[b.index]);
    if (raw.empty()) continue;
    std::string value(raw);
    if (!b.source->values.empty()) {
      if (auto it = b.source->values.find(fold_value_key(value)); it != b.source->values.end()) {
        value = it->second;
      }
    }
    if (value.empty()) continue;
    auto canonical = b.spec ? RecordSchema::canonical_value(*b.spec, b.source->field, value)
                            : schema.canonical_value(b.source->field, value);
    if (!canonical) return canonical.error().what;
    entries.emplace_back(b.source->field, std::move(canonical).value());
  }
  out.fields.assign(std::move(entries));
  return out;
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

  ImportCounts total;
  bool done = false;
  std::vector<MappedRow> batch;
  batch.reserve(options.batch_rows);
  const auto reject = [&](uint64_t line, std::string reason) {
    ++total.rejected;
    if (options.on_reject) options.on_reject(RowRejection{line, std::move(reason)});
  };
  // Reads up to batch_rows good rows; rejections are counted as they are met.
  const auto read_batch = [&]() -> Result<void> {
    batch.clear();
    while (batch.size() < options.batch_rows) {
      JISR_TRY(auto row, reader.next());
      if (!row) {
        done = true;
        break;
      }
      // A blank line (one empty field) is not a row.
      if (row->fields.size() == 1 && row->fields[0].empty() && !row->error) continue;
      auto mapped = map_row(*row, bound, schema);
      if (auto* reason = std::get_if<std::string>(&mapped)) {
        reject(row->line, std::move(*reason));
      } else {
        batch.push_back(std::move(std::get<MappedRow>(mapped)));
      }
    }
    return ok();
  };
  const auto store_batch = [&](store::WriteTxn& txn) -> Result<ImportCounts> {
    ImportCounts counts;
    store::RecordWriter writer(records, txn);
    for (const auto& r : batch) {
      JISR_TRY(auto outcome, writer.put(r.id, r.fields));
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
      for (const auto& r : batch) {
        std::string encoded = encode_fields(r.fields);
        std::optional<std::string> before;
        if (auto it = in_file.find(r.id.str()); it != in_file.end()) {
          before = it->second;
        } else {
          JISR_TRY(auto stored, records.get(txn, r.id));
          if (stored) before = encode_fields(stored->fields);
        }
        if (!before) {
          ++seen.imported;
        } else if (*before == encoded) {
          ++seen.unchanged;
        } else {
          ++seen.updated;
        }
        in_file[r.id.str()] = std::move(encoded);
      }
      seen.rejected = total.rejected;
      if (options.on_progress) options.on_progress(seen, reader.bytes_read());
    }
    seen.rejected = total.rejected;
    return seen;
  }

  while (!done) {
    JISR_TRY(read_batch());
    if (batch.empty()) continue;
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
