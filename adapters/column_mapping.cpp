#include "adapters/column_mapping.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace jisr::adapters {
namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::string lower_ascii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct HxlTag {
  std::string hashtag;
  std::set<std::string> attributes;
};

std::optional<HxlTag> parse_hxl(std::string_view text) {
  const std::string t = lower_ascii(trim(text));
  if (t.size() < 2 || t[0] != '#') return std::nullopt;
  HxlTag tag;
  size_t start = 1;
  size_t plus = t.find('+', start);
  tag.hashtag = trim(t.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
  while (plus != std::string::npos) {
    start = plus + 1;
    plus = t.find('+', start);
    auto attr = trim(t.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
    if (!attr.empty()) tag.attributes.insert(attr);
  }
  if (tag.hashtag.empty()) return std::nullopt;
  return tag;
}

bool hxl_matches(const HxlTag& wanted, const HxlTag& column) {
  if (wanted.hashtag != column.hashtag) return false;
  return std::includes(column.attributes.begin(), column.attributes.end(),
                       wanted.attributes.begin(), wanted.attributes.end());
}

// Decodes one UTF-8 code point at s[i] (input already validated); advances i.
uint32_t next_code_point(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int extra = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
  uint32_t cp = extra == 0 ? c : extra == 1 ? (c & 0x1f) : extra == 2 ? (c & 0x0f) : (c & 0x07);
  ++i;
  for (; extra > 0 && i < s.size(); --extra, ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3f);
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace

std::string fold_value_key(std::string_view value) {
  const std::string t = trim(value);
  std::string out;
  out.reserve(t.size());
  for (size_t i = 0; i < t.size();) {
    uint32_t cp = next_code_point(t, i);
    if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    if ((cp >= 0x064b && cp <= 0x065f) || cp == 0x0670 || cp == 0x0640) continue;  // harakat, tatweel
    if (cp == 0x0623 || cp == 0x0625 || cp == 0x0622 || cp == 0x0671) cp = 0x0627;  // alef forms
    if (cp == 0x0649 || cp == 0x06cc) cp = 0x064a;                                  // ى ی -> ي
    if (cp == 0x0629) cp = 0x0647;                                                  // ة -> ه
    append_utf8(out, cp);
  }
  return out;
}

bool looks_like_hxl_row(const std::vector<std::string>& row) {
  bool any = false;
  for (const auto& cell : row) {
    const auto t = trim(cell);
    if (t.empty()) continue;
    if (t[0] != '#') return false;
    any = true;
  }
  return any;
}

Result<ColumnMapping> ColumnMapping::load(YamlSource& src, const RecordSchema& schema) {
  ColumnMapping m;
  m.file = src.name();
  if (!src.ok()) return src.to_error();
  const auto& root = src.root();
  if (!src.expect_map(root, "mapping")) return src.to_error();
  src.check_keys(root, {"id", "hxl", "fields"});
  src.require_keys(root, {"id", "fields"});
  if (root["id"]) {
    if (auto id = src.scalar(root["id"], "id")) {
      m.id_column = *id;
      m.id_line = root["id"].Mark().line + 1;
    }
  }
  if (root["hxl"]) {
    if (auto b = src.boolean(root["hxl"], "hxl")) m.hxl = *b;
  }
  if (root["fields"] && src.expect_map(root["fields"], "fields")) {
    for (const auto& kv : root["fields"]) {
      FieldSource fs;
      fs.field = kv.first.Scalar();
      fs.line = kv.first.Mark().line + 1;
      if (!schema.knows(fs.field)) {
        src.error(kv.first, fmt::format("'{}' is not a field of schema '{}'", fs.field, schema.name()));
        continue;
      }
      const auto& body = kv.second;
      if (body.IsScalar()) {
        fs.column = body.Scalar();
      } else if (src.expect_map(body, "field mapping")) {
        src.check_keys(body, {"column", "values"});
        if (auto c = src.scalar(body["column"], "column")) fs.column = *c;
        if (body["values"] && src.expect_map(body["values"], "values")) {
          for (const auto& v : body["values"]) {
            if (!v.second.IsScalar()) {
              src.error(v.second, "a value translation must map one value to one value");
              continue;
            }
            const auto key = fold_value_key(v.first.Scalar());
            if (fs.values.count(key) && fs.values[key] != v.second.Scalar()) {
              src.error(v.first, "two translations of the same value (after folding case and "
                                 "Arabic letter variants) disagree");
            }
            fs.values[key] = v.second.Scalar();
          }
        }
      }
      if (fs.column.empty()) {
        src.error(kv.first, fmt::format("field '{}' names no column", fs.field));
        continue;
      }
      if (m.hxl && !parse_hxl(fs.column)) {
        src.error(kv.first, fmt::format("'{}' is not an HXL hashtag (hxl: true)", fs.column));
      }
      m.fields.push_back(std::move(fs));
    }
  }
  if (m.hxl && !m.id_column.empty() && !parse_hxl(m.id_column)) {
    src.error(root["id"], fmt::format("'{}' is not an HXL hashtag (hxl: true)", m.id_column));
  }
  if (!src.ok()) return src.to_error();
  return m;
}

Result<BoundMapping> bind_mapping(const ColumnMapping& mapping, const std::vector<std::string>& header,
                          const std::vector<std::string>* hxl_row) {
  BoundMapping b;
  b.column_count = header.size();
  std::vector<std::string> missing;
  const auto find = [&](const std::string& column, int line) -> std::optional<size_t> {
    if (mapping.hxl) {
      const auto wanted = parse_hxl(column);
      for (size_t i = 0; hxl_row && wanted && i < hxl_row->size(); ++i) {
        if (auto tag = parse_hxl((*hxl_row)[i]); tag && hxl_matches(*wanted, *tag)) return i;
      }
    } else {
      for (size_t i = 0; i < header.size(); ++i) {
        if (trim(header[i]) == column) return i;
      }
    }
    missing.push_back(fmt::format("{}:{}: the file has no column '{}'", mapping.file, line, column));
    return std::nullopt;
  };
  if (mapping.hxl && !hxl_row) {
    return make_error(Errc::kInvalidInput,
                      "hxl: true, but the row under the header is not an HXL hashtag row",
                      mapping.file);
  }
  if (auto i = find(mapping.id_column, mapping.id_line)) b.id_index = *i;
  for (const auto& f : mapping.fields) {
    if (auto i = find(f.column, f.line)) b.fields.push_back({&f, *i});
  }
  if (!missing.empty()) {
    std::string text;
    for (const auto& m : missing) text += (text.empty() ? "" : "\n") + m;
    return make_error(Errc::kInvalidInput, text);
  }
  return b;
}

}  // namespace jisr::adapters
