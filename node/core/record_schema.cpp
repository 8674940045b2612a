#include "node/core/record_schema.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "node/core/partial_date.hpp"

namespace jisr {
namespace {

constexpr std::string_view kMissingPersonYaml = R"(# Jisr record schema: missing-person (built in).
# Each field: type (string, date, enum, bool, integer), optional values (enum),
# identity (true when the field helps identify the person), max_bytes, and match: the field's
# role in record linkage (name, date, place, id, category, text; absent: not matched).
# A name ending in * is a pattern: consent_share_* covers consent_share_iimp, consent_share_mpfp...
schema: missing-person
fields:
  given_name:           { type: string, identity: true, match: name, max_bytes: 256 }
  father_name:          { type: string, identity: true, match: name, max_bytes: 256 }
  grandfather_name:     { type: string, identity: true, match: name, max_bytes: 256 }
  family_name:          { type: string, identity: true, match: name, max_bytes: 256 }
  mother_name:          { type: string, identity: true, match: name, max_bytes: 256 }
  sex:                  { type: enum, values: [male, female, unknown], match: category }
  birth_date:           { type: date, identity: true, match: date }
  age_at_disappearance: { type: integer, age_of: birth_date, age_at: missing_date }
  birth_place:          { type: string, identity: true, match: place, max_bytes: 256 }
  missing_date:         { type: date, match: date }
  missing_place:        { type: string, match: place, max_bytes: 256 }
  national_id:          { type: string, identity: true, match: id, max_bytes: 64 }
  circumstances:        { type: string, max_bytes: 8192 }
  reporter_phone:       { type: string, max_bytes: 64 }
  source:               { type: string, max_bytes: 128 }
  status:               { type: enum, values: [open, located, closed] }
  "consent_share_*":    { type: enum, values: ["yes", "no"] }
)";

std::optional<FieldType> parse_type(std::string_view s) {
  if (s == "string") return FieldType::kString;
  if (s == "date") return FieldType::kDate;
  if (s == "enum") return FieldType::kEnum;
  if (s == "bool") return FieldType::kBool;
  if (s == "integer") return FieldType::kInteger;
  return std::nullopt;
}

bool valid_field_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::optional<MatchRole> parse_role(std::string_view s) {
  if (s == "none") return MatchRole::kNone;
  if (s == "name") return MatchRole::kName;
  if (s == "date") return MatchRole::kDate;
  if (s == "place") return MatchRole::kPlace;
  if (s == "id") return MatchRole::kId;
  if (s == "category") return MatchRole::kCategory;
  if (s == "text") return MatchRole::kText;
  return std::nullopt;
}

}  // namespace

std::string_view match_role_name(MatchRole r) {
  switch (r) {
    case MatchRole::kNone: return "none";
    case MatchRole::kName: return "name";
    case MatchRole::kDate: return "date";
    case MatchRole::kPlace: return "place";
    case MatchRole::kId: return "id";
    case MatchRole::kCategory: return "category";
    case MatchRole::kText: return "text";
  }
  return "none";
}

std::string_view field_type_name(FieldType t) {
  switch (t) {
    case FieldType::kString: return "string";
    case FieldType::kDate: return "date";
    case FieldType::kEnum: return "enum";
    case FieldType::kBool: return "bool";
    case FieldType::kInteger: return "integer";
  }
  return "string";
}

const FieldSpec* RecordSchema::find(std::string_view field) const {
  for (const auto& f : fields_) {
    if (!f.is_pattern && f.name == field) return &f;
  }
  for (const auto& f : fields_) {
    if (f.is_pattern && field.size() > f.name.size() && field.starts_with(f.name) &&
        valid_field_name(field)) {
      return &f;
    }
  }
  return nullptr;
}

std::vector<std::string> RecordSchema::identity_fields() const {
  std::vector<std::string> out;
  for (const auto& f : fields_) {
    if (f.identity && !f.is_pattern) out.push_back(f.name);
  }
  return out;
}

Result<std::string> RecordSchema::canonical_value(std::string_view field,
                                                  std::string_view value) const {
  const FieldSpec* spec = find(field);
  if (!spec) return make_error(Errc::kInvalidInput, fmt::format("unknown field '{}'", field));
  return canonical_value(*spec, field, value);
}

Result<std::string> RecordSchema::canonical_value(const FieldSpec& spec, std::string_view field,
                                                  std::string_view value) {
  JISR_TRY(auto view, canonical_view(spec, field, value));
  return std::string(view);
}

Result<std::string_view> RecordSchema::canonical_view(const FieldSpec& spec, std::string_view field,
                                                      std::string_view value) {
  if (value.size() > spec.max_bytes) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("field '{}' longer than {} bytes", field, spec.max_bytes));
  }
  switch (spec.type) {
    case FieldType::kString:
      return value;
    case FieldType::kDate: {
      auto d = PartialDate::parse(value);
      if (!d) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("field '{}' is not a date (YYYY, YYYY-MM or YYYY-MM-DD)", field));
      }
      // parse() accepts exactly the canonical forms (4, 7 or 10 characters, zero-padded), so
      // a date that parses is already canonical: no reformatting, no allocation.
      return value;
    }
    case FieldType::kEnum:
      for (const auto& v : spec.values) {
        if (v == value) return value;
      }
      return make_error(Errc::kInvalidInput,
                        fmt::format("field '{}' has a value outside its list", field));
    case FieldType::kBool:
      if (value == "true" || value == "yes" || value == "1") return std::string_view("true");
      if (value == "false" || value == "no" || value == "0") return std::string_view("false");
      return make_error(Errc::kInvalidInput, fmt::format("field '{}' is not true/false", field));
    case FieldType::kInteger: {
      if (value.empty() || value.size() > 12) {
        return make_error(Errc::kInvalidInput, fmt::format("field '{}' is not a number", field));
      }
      for (char c : value) {
        if (c < '0' || c > '9') {
          return make_error(Errc::kInvalidInput, fmt::format("field '{}' is not a number", field));
        }
      }
      return value;
    }
  }
  return make_error(Errc::kInternal, "unhandled field type");
}

Result<RecordSchema> RecordSchema::load(YamlSource& src) {
  RecordSchema schema;
  const auto& root = src.root();
  if (!src.ok()) return src.to_error();
  if (!src.expect_map(root, "schema document")) return src.to_error();
  src.check_keys(root, {"schema", "fields"});
  if (auto name = src.scalar(root["schema"], "schema")) schema.name_ = *name;
  const auto fields = root["fields"];
  std::vector<std::pair<std::string, YAML::Mark>> age_marks;  // age fields, checked at the end
  if (src.expect_map(fields, "fields")) {
    for (const auto& kv : fields) {
      FieldSpec spec;
      std::string name = kv.first.Scalar();
      if (name.ends_with('*')) {
        spec.is_pattern = true;
        name.pop_back();
      }
      if (!valid_field_name(name)) {
        src.error(kv.first, fmt::format("field name '{}' must be [a-z0-9_]{{1,64}}", name));
        continue;
      }
      spec.name = name;
      const auto& body = kv.second;
      if (!src.expect_map(body, "field")) continue;
      src.check_keys(body, {"type", "values", "identity", "max_bytes", "match", "age_of", "age_at"});
      if (auto t = src.scalar(body["type"], "type")) {
        if (auto type = parse_type(*t)) {
          spec.type = *type;
        } else {
          src.error(body["type"], fmt::format("unknown type '{}' (string, date, enum, bool, integer)", *t));
        }
      }
      if (body["values"]) {
        if (auto values = src.string_list(body["values"], "values")) spec.values = *values;
      }
      if (spec.type == FieldType::kEnum && spec.values.empty()) {
        src.error(body, "an enum field needs a non-empty 'values' list");
      }
      if (body["identity"]) {
        if (auto b = src.boolean(body["identity"], "identity")) spec.identity = *b;
      }
      if (body["match"]) {
        if (auto r = src.scalar(body["match"], "match")) {
          if (auto role = parse_role(*r)) {
            spec.match = *role;
          } else {
            src.error(body["match"],
                      fmt::format("unknown match role '{}' (name, date, place, id, category, text, none)", *r));
          }
        }
      }
      if (body["age_of"] || body["age_at"]) {
        auto of = src.scalar(body["age_of"], "age_of");
        auto at = src.scalar(body["age_at"], "age_at");
        if (!of || !at) {
          src.error(body, "an age field needs both 'age_of' (the birth date field) and 'age_at' (the event date field)");
        } else {
          spec.age_of = *of;
          spec.age_at = *at;
          age_marks.emplace_back(spec.name, body.Mark());
          if (spec.type != FieldType::kInteger) src.error(body, "an age field ('age_of') must be of type integer");
        }
      }
      if (body["max_bytes"]) {
        if (auto n = src.integer(body["max_bytes"], "max_bytes")) {
          if (*n < 1 || *n > (1 << 20)) {
            src.error(body["max_bytes"], "max_bytes must be between 1 and 1048576");
          } else {
            spec.max_bytes = static_cast<size_t>(*n);
          }
        }
      }
      schema.fields_.push_back(std::move(spec));
    }
  }
  // Age fields name date fields of this schema (checked once all fields are known).
  for (const auto& [name, mark] : age_marks) {
    const FieldSpec* f = schema.find(name);
    for (const auto& target : {f->age_of, f->age_at}) {
      const FieldSpec* t = schema.find(target);
      if (t == nullptr || t->is_pattern || t->type != FieldType::kDate) {
        src.error(mark, fmt::format("field '{}': '{}' is not a date field of the schema", name, target));
      }
    }
  }
  if (!src.ok()) return src.to_error();
  return schema;
}

std::string_view RecordSchema::missing_person_yaml() { return kMissingPersonYaml; }

const RecordSchema& RecordSchema::missing_person() {
  // Parsed once on first use; the text is a compile-time constant, so a failure is a bug.
  static const RecordSchema schema = [] {
    auto src = YamlSource::from_string(kMissingPersonYaml, "<built-in missing-person schema>");
    auto loaded = load(src);
    if (!loaded) throw std::logic_error("built-in schema: " + loaded.error().message());
    return std::move(loaded).value();
  }();
  return schema;
}

}  // namespace jisr
