// CSV import: reads rows with CsvReader, maps them with a BoundMapping, checks each value
// against the record schema and stores the records, one write transaction per batch (so an
// interrupted import leaves the store consistent: every batch is in or out as a whole).
// A bad row (wrong column count, invalid value, invalid UTF-8, missing id) is reported through
// on_reject with its line and a reason that never contains the value itself, and skipped.
// Thread-safety: runs on the caller's thread; uses its own transactions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "adapters/column_mapping.hpp"
#include "adapters/csv_reader.hpp"
#include "node/core/record_schema.hpp"
#include "node/core/result.hpp"
#include "node/store/record_store.hpp"

namespace jisr::adapters {

struct ImportCounts {
  uint64_t imported = 0;   // new records
  uint64_t updated = 0;    // existing records whose content changed
  uint64_t unchanged = 0;  // rows identical to what is stored
  uint64_t rejected = 0;   // bad rows, skipped
  uint64_t rows() const { return imported + updated + unchanged + rejected; }
  ImportCounts& operator+=(const ImportCounts& o);
};

struct RowRejection {
  uint64_t line = 0;
  std::string reason;
};

struct ImportOptions {
  bool dry_run = false;      // validate and count against the store, write nothing
  size_t batch_rows = 5000;  // rows per write transaction
  std::function<void(const RowRejection&)> on_reject;
  // Called after each batch with the rows so far and the bytes read (progress display).
  std::function<void(const ImportCounts&, uint64_t bytes_read)> on_progress;
  // Called inside each batch's write transaction, before commit (e.g. an audit entry), so the
  // batch and what describes it commit together.
  std::function<Result<void>(store::WriteTxn&, const ImportCounts& batch)> before_commit;
};

// Imports every row of reader. The first row is the header; with mapping.hxl the second row
// must be the HXL hashtag row.
Result<ImportCounts> import_csv(CsvReader& reader, const ColumnMapping& mapping,
                                const RecordSchema& schema, store::RecordStore& records,
                                const ImportOptions& options);

}  // namespace jisr::adapters
