// YamlSource: strict reading of the YAML files people edit (agreements, mappings, node.yaml,
// schemas). yaml-cpp 0.7 accepts duplicate keys silently and its conversion errors carry no
// position, so every check here reads Mark() itself and reports `FILE:LINE:COL: message`.
// All problems of a file are collected, not just the first (policy officers fix them at once).
// Files are bounded (kMaxYamlBytes) before yaml-cpp sees them.
// Thread-safety: one YamlSource per thread; YAML::Node is not thread-safe.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/core/result.hpp"

namespace jisr {

inline constexpr size_t kMaxYamlBytes = 1 << 20;

struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;
  // "FILE:LINE:COL: message"
  std::string to_string() const;
};

class YamlSource {
 public:
  // Reads and parses a file; parse errors, oversize and unreadable files become diagnostics
  // and root() is then a null node.
  static YamlSource from_file(const std::filesystem::path& path);
  // Parses text that came from `name` (used in messages).
  static YamlSource from_string(std::string_view text, std::string name);

  const YAML::Node& root() const { return root_; }
  const std::string& name() const { return name_; }
  const std::vector<Diagnostic>& diagnostics() const { return diags_; }
  bool ok() const { return diags_.empty(); }
  // The raw text that was parsed (for hashing a canonical form elsewhere).
  const std::string& text() const { return text_; }

  void error(const YAML::Node& at, std::string message);
  void error(const YAML::Mark& at, std::string message);

  // Reports every key of `map` that is not in `allowed`; returns false if any.
  bool check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed);
  // Reports keys of `map` missing from `required`; returns false if any.
  bool require_keys(const YAML::Node& map, std::initializer_list<std::string_view> required);

  // Typed getters: report a positioned error and return nullopt on a wrong shape.
  std::optional<std::string> scalar(const YAML::Node& node, std::string_view what);
  std::optional<std::vector<std::string>> string_list(const YAML::Node& node,
                                                      std::string_view what);
  std::optional<long long> integer(const YAML::Node& node, std::string_view what);
  std::optional<bool> boolean(const YAML::Node& node, std::string_view what);
  bool expect_map(const YAML::Node& node, std::string_view what);
  bool expect_sequence(const YAML::Node& node, std::string_view what);

  // All diagnostics joined by newlines, as an Error of kind invalid_input.
  Error to_error() const;

 private:
  void check_duplicates(const YAML::Node& node);

  std::string name_;
  std::string text_;
  YAML::Node root_;
  std::vector<Diagnostic> diags_;
};

}  // namespace jisr
