// libFuzzer target: the CSV reader that `jisr import` feeds untrusted exports through. Every
// input must end in rows or row errors, never a crash, a hang or an unbounded row. Rows are
// views into the reader's buffer, so the same input is also read in small pieces (as a pipe
// delivers it) and must give the same rows.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "adapters/csv_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  jisr::adapters::CsvOptions options;
  options.max_field_bytes = 4096;  // small limits so the limit paths are reached too
  options.max_columns = 64;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto reader = jisr::adapters::CsvReader::from_string(text, options);
  // Read sizes of 1 to 13 bytes, chosen by the input so every size meets every input shape.
  const size_t step = 1 + size % 13;
  size_t offset = 0;
  jisr::adapters::CsvReader pieces(
      [&](char* buf, size_t max) -> jisr::Result<size_t> {
        const size_t n = std::min({max, step, text.size() - offset});
        std::memcpy(buf, text.data() + offset, n);
        offset += n;
        return n;
      },
      options);
  jisr::adapters::CsvRowView view;
  for (size_t rows = 0; rows <= size + 1; ++rows) {
    auto row = reader.next();
    auto other = pieces.next(view);
    if (!row || !other) __builtin_trap();  // the sources never fail
    if (row.value().has_value() != other.value()) __builtin_trap();
    if (!row.value()) break;
    const auto& r = *row.value();
    if (r.fields.size() > options.max_columns) __builtin_trap();
    for (const auto& f : r.fields) {
      if (f.size() > options.max_field_bytes) __builtin_trap();
    }
    if (r.line != view.line || r.error != view.error ||
        !std::equal(r.fields.begin(), r.fields.end(), view.fields.begin(), view.fields.end())) {
      __builtin_trap();
    }
  }
  return 0;
}
