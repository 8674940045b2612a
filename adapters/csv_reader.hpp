// CsvReader: a streaming RFC 4180 reader for the files case workers export (quoted fields,
// embedded commas, quotes and newlines, CRLF or LF, a UTF-8 byte-order mark). Every input is
// bounded: a field longer than max_field_bytes or a row with more than max_columns is reported as
// a bad row and skipped, and reading goes on with the next row. Invalid UTF-8 makes the row bad.
// A row stays in the reader's buffer until it is complete (its fields are views into it), so the
// buffer holds at most one row (bounded by those limits) and drops a bad row as soon as it is.
// A row's number is the physical line where it starts (what an editor shows).
// Thread-safety: one reader per thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/core/result.hpp"

namespace jisr::adapters {

struct CsvOptions {
  char delimiter = ',';
  size_t max_field_bytes = 1 << 20;  // 1 MiB
  size_t max_columns = 1024;
};

struct CsvRow {
  uint64_t line = 0;                 // physical line where the row starts (1-based)
  std::vector<std::string> fields;   // decoded values
  std::optional<std::string> error;  // set when the row is malformed (fields then empty)
};

// The same row as views into the reader's buffer (import's hot loop: no copy of any field).
// The views are valid until the next call on the reader; a bad row has no fields.
struct CsvRowView {
  uint64_t line = 0;
  std::vector<std::string_view> fields;
  std::optional<std::string> error;
};

// Reads from a byte source; the source is a function so tests can feed strings and import can
// feed a file in large chunks.
class CsvReader {
 public:
  // Reads up to `max` bytes into `buf`; returns the count, 0 at the end, or an Error.
  using Source = std::function<Result<size_t>(char* buf, size_t max)>;

  CsvReader(Source source, CsvOptions options = {});
  static CsvReader from_string(std::string text, CsvOptions options = {});

  // The next row, or nullopt at the end of input. An Error only for I/O failure; a malformed
  // row is returned with row.error set.
  Result<std::optional<CsvRow>> next();
  // Same as views into the reader's buffer, into a row the caller keeps across calls (false at
  // the end of input). Fields are not copied: only a quoted field with doubled quotes is
  // rewritten, in place. Steady-state reading allocates nothing per row.
  Result<bool> next(CsvRowView& row);
  // Bytes consumed so far (for progress reporting).
  uint64_t bytes_read() const { return dropped_ + pos_; }

 private:
  // Reads another chunk (false at end of input). Bytes before `keep` are no longer needed and
  // may be dropped to make room; returns through `dropped` how far the rest moved.
  Result<bool> fill(size_t keep, size_t& dropped);

  // A field of the current row: content bytes relative to the row's start; `unescape` when
  // it holds doubled quotes.
  struct FieldSpan {
    size_t begin = 0;
    size_t end = 0;
    bool unescape = false;
  };

  Source source_;
  CsvOptions options_;
  std::string buf_;  // buf_[0, filled_) is data, the rest room for the next read
  size_t filled_ = 0;
  size_t pos_ = 0;
  bool eof_ = false;
  bool started_ = false;
  uint64_t line_ = 1;
  uint64_t dropped_ = 0;          // bytes dropped from the front of buf_ so far
  std::vector<FieldSpan> spans_;  // reused across rows
};

// True when s is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace jisr::adapters
