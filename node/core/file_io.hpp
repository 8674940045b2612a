// Small file-system operations every layer needs, returning Result instead of throwing:
// bounded whole-file reads and atomic writes (write to a temporary, fsync, rename), so a crash
// never leaves a half-written key or config. Thread-safety: no shared state.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "node/core/result.hpp"

namespace jisr {

// Reads a whole file of at most max_bytes.
Result<std::string> read_file(const std::filesystem::path& path, size_t max_bytes = 16 << 20);
// Writes data to path atomically with the given mode (e.g. 0600 for keys).
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view data,
                               unsigned mode);

}  // namespace jisr
