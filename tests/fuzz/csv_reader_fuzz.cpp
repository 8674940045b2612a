// libFuzzer target: the CSV reader that `jisr import` feeds untrusted exports through. Every
// input must end in rows or row errors, never a crash, a hang or an unbounded row.
#include <cstddef>
#include <cstdint>
#include <string>

#include "adapters/csv_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  jisr::adapters::CsvOptions options;
  options.max_field_bytes = 4096;  // small limits so the limit paths are reached too
  options.max_columns = 64;
  auto reader = jisr::adapters::CsvReader::from_string(
      std::string(reinterpret_cast<const char*>(data), size), options);
  for (size_t rows = 0; rows <= size + 1; ++rows) {
    auto row = reader.next();
    if (!row || !row.value()) break;
    if (row.value()->fields.size() > options.max_columns) __builtin_trap();
    for (const auto& f : row.value()->fields) {
      if (f.size() > options.max_field_bytes) __builtin_trap();
    }
  }
  return 0;
}
