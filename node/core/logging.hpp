// Logging setup for the node: spdlog to stderr, human lines or one JSON object per line
// (`--log-json`). Called once by main; components take a spdlog::logger& or use the default
// logger. Never log personal data: ids of records and hashes only.
// Thread-safety: spdlog loggers are thread-safe (the _mt sinks are used).
#pragma once

#include <string>
#include <string_view>

namespace jisr {

enum class LogFormat { kText, kJson };

// Installs the default logger. level: trace, debug, info, warn, error.
void setup_logging(LogFormat format, std::string_view level);

// Escapes a string for inclusion inside a JSON string literal (used by JSON log lines).
std::string json_escape(std::string_view s);

}  // namespace jisr
