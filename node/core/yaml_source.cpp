#include "node/core/yaml_source.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace jisr {

std::string Diagnostic::to_string() const {
  if (line == 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

YamlSource YamlSource::from_file(const std::filesystem::path& path) {
  YamlSource src;
  src.name_ = path.string();
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    src.diags_.push_back({src.name_, 0, 0, "cannot read file: " + ec.message()});
    return src;
  }
  if (size > kMaxYamlBytes) {
    src.diags_.push_back(
        {src.name_, 0, 0, fmt::format("file too large ({} bytes, limit {})", size, kMaxYamlBytes)});
    return src;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in && !in.eof()) {
    src.diags_.push_back({src.name_, 0, 0, "cannot read file"});
    return src;
  }
  auto parsed = from_string(buf.str(), src.name_);
  return parsed;
}

YamlSource YamlSource::from_string(std::string_view text, std::string name) {
  YamlSource src;
  src.name_ = std::move(name);
  if (text.size() > kMaxYamlBytes) {
    src.diags_.push_back({src.name_, 0, 0, "document too large"});
    return src;
  }
  src.text_ = std::string(text);
  try {
    src.root_ = YAML::Load(src.text_);
  } catch (const YAML::Exception& e) {  // the parser's way of reporting bad syntax
    src.error(e.mark, "YAML syntax: " + e.msg);
    src.root_ = YAML::Node();
    return src;
  }
  src.check_duplicates(src.root_);
  return src;
}

void YamlSource::error(const YAML::Mark& at, std::string message) {
  if (at.is_null()) {
    diags_.push_back({name_, 0, 0, std::move(message)});
  } else {
    diags_.push_back({name_, at.line + 1, at.column + 1, std::move(message)});
  }
}

void YamlSource::error(const YAML::Node& at, std::string message) {
  error(at.IsDefined() ? at.Mark() : YAML::Mark::null_mark(), std::move(message));
}

void YamlSource::check_duplicates(const YAML::Node& node) {
  if (node.IsMap()) {
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (kv.first.IsScalar()) {
        const auto& key = kv.first.Scalar();
        if (!seen.insert(key).second) error(kv.first, fmt::format("duplicate key '{}'", key));
      }
      check_duplicates(kv.second);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) check_duplicates(item);
  }
}

bool YamlSource::check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed) {
  if (!map.IsMap()) return true;
  bool good = true;
  for (const auto& kv : map) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      error(kv.first, fmt::format("unknown key '{}' (expected one of: {})", key, list));
      good = false;
    }
  }
  return good;
}

bool YamlSource::require_keys(const YAML::Node& map,
                              std::initializer_list<std::string_view> required) {
  if (!map.IsMap()) return false;
  bool good = true;
  for (auto key : required) {
    if (!map[std::string(key)]) {
      error(map, fmt::format("missing required key '{}'", key));
      good = false;
    }
  }
  return good;
}

std::optional<std::string> YamlSource::scalar(const YAML::Node& node, std::string_view what) {
  if (!node || !node.IsScalar()) {
    error(node, fmt::format("{} must be a single value", what));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::vector<std::string>> YamlSource::string_list(const YAML::Node& node,
                                                                std::string_view what) {
  if (!node || !node.IsSequence()) {
    error(node, fmt::format("{} must be a list", what));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool good = true;
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      error(item, fmt::format("{} must be a list of single values", what));
      good = false;
      continue;
    }
    out.push_back(item.Scalar());
  }
  if (!good) return std::nullopt;
  return out;
}

std::optional<long long> YamlSource::integer(const YAML::Node& node, std::string_view what) {
  auto text = scalar(node, what);
  if (!text) return std::nullopt;
  long long v = 0;
  const char* b = text->data();
  const char* e = b + text->size();
  bool neg = false;
  if (b != e && *b == '-') {
    neg = true;
    ++b;
  }
  if (b == e || e - b > 18) {
    error(node, fmt::format("{} must be a whole number", what));
    return std::nullopt;
  }
  for (; b != e; ++b) {
    if (*b < '0' || *b > '9') {
      error(node, fmt::format("{} must be a whole number", what));
      return std::nullopt;
    }
    v = v * 10 + (*b - '0');
  }
  return neg ? -v : v;
}

std::optional<bool> YamlSource::boolean(const YAML::Node& node, std::string_view what) {
  auto text = scalar(node, what);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  error(node, fmt::format("{} must be true or false", what));
  return std::nullopt;
}

bool YamlSource::expect_map(const YAML::Node& node, std::string_view what) {
  if (node && node.IsMap()) return true;
  error(node, fmt::format("{} must be a mapping (key: value)", what));
  return false;
}

bool YamlSource::expect_sequence(const YAML::Node& node, std::string_view what) {
  if (node && node.IsSequence()) return true;
  error(node, fmt::format("{} must be a list", what));
  return false;
}

Error YamlSource::to_error() const {
  std::string text;
  for (const auto& d : diags_) {
    if (!text.empty()) text += '\n';
    text += d.to_string();
  }
  return make_error(Errc::kInvalidInput, text);
}

}  // namespace jisr
