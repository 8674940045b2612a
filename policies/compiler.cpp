#include "policies/compiler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "node/core/digest.hpp"

namespace jisr::policies {

// Fills a CompiledAgreement from a YAML document (the only writer of its private members).
class AgreementBuilder {
 public:
  AgreementBuilder(YamlSource& src, const RecordSchema& schema) : src_(src), schema_(schema) {}

  void build();
  CompiledAgreement take() { return std::move(a_); }
  std::vector<AgreementTest> take_tests() { return std::move(tests_); }

 private:
  using Node = YAML::Node;

  bool known_field(const Node& at, const std::string& field);
  std::optional<std::vector<std::string>> field_list(const Node& node, std::string_view what,
                                                     bool sort_unique);
  std::optional<std::string> id_value(const Node& node, std::string_view what);
  std::optional<PartialDate> full_date(const Node& node, std::string_view what);
  std::optional<Condition> condition(const Node& node, int depth);
  std::optional<Condition> leaf(const Node& node);
  void share(const Node& node);
  std::optional<ShareRule> rule(const Node& node, std::set<std::string>& ids);
  void accept_section(const Node& node);
  void match_section(const Node& node);
  void tests(const Node& node);
  std::optional<AgreementTest> test(const Node& node);
  std::optional<FieldMap> test_record(const Node& node);
  void emit_canonical();

  YamlSource& src_;
  const RecordSchema& schema_;
  CompiledAgreement a_;
  std::vector<AgreementTest> tests_;
  std::set<std::string> rule_ids_;  // every rule id written, even of rules with errors
};

namespace {

constexpr std::string_view kTransformList = "year_only, year_month, drop";

std::optional<Transform> parse_transform(std::string_view s) {
  if (s == "year_only") return Transform::kYearOnly;
  if (s == "year_month") return Transform::kYearMonth;
  if (s == "drop") return Transform::kDrop;
  return std::nullopt;
}

std::optional<MatchMethod> parse_method(std::string_view s) {
  if (s == "psi") return MatchMethod::kPsi;
  if (s == "bloom") return MatchMethod::kBloom;
  return std::nullopt;
}

void sort_unique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// "30s", "15m", "6h", "1d" -> seconds.
std::optional<std::chrono::seconds> parse_duration(std::string_view s) {
  if (s.size() < 2 || s.size() > 8) return std::nullopt;
  long long n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, n);
  if (ec != std::errc() || end != s.data() + s.size() - 1 || n <= 0) return std::nullopt;
  switch (s.back()) {
    case 's': return std::chrono::seconds(n);
    case 'm': return std::chrono::seconds(n * 60);
    case 'h': return std::chrono::seconds(n * 3600);
    case 'd': return std::chrono::seconds(n * 86400);
    default: return std::nullopt;
  }
}

// Strict decimal number in 0..1 ("0.85", "1", "0"); no exponents, no signs.
std::optional<double> parse_fraction(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  if (dots > 1 || s.front() == '.' || s.back() == '.') return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  if (v < 0.0 || v > 1.0) return std::nullopt;
  return v;
}

// JSON-style quoting for the canonical form: unambiguous for any bytes.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string quote_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + quote(v[i]);
  return out + "]";
}

void emit_condition(const Condition& c, std::string& out) {
  out += condition_op_name(c.op);
  out += '(';
  switch (c.op) {
    case Condition::Op::kAll:
    case Condition::Op::kAny:
    case Condition::Op::kNot:
      for (size_t i = 0; i < c.children.size(); ++i) {
        if (i) out += ',';
        emit_condition(c.children[i], out);
      }
      break;
    case Condition::Op::kBefore:
    case Condition::Op::kAfter:
      out += quote(c.field) + "," + quote(c.date.to_string());
      break;
    default:
      out += quote(c.field) + "," + quote_list(c.values);
      break;
  }
  out += ')';
}

}  // namespace

bool AgreementBuilder::known_field(const Node& at, const std::string& field) {
  if (schema_.knows(field)) return true;
  src_.error(at, fmt::format("unknown field '{}' (not in record schema '{}')", field,
                             schema_.name()));
  return false;
}

std::optional<std::vector<std::string>> AgreementBuilder::field_list(const Node& node,
                                                                     std::string_view what,
                                                                     bool sorted) {
  auto list = src_.string_list(node, what);
  if (!list) return std::nullopt;
  bool good = true;
  size_t i = 0;
  for (const auto& item : node) {
    good = known_field(item, (*list)[i]) && good;
    ++i;
  }
  if (!good) return std::nullopt;
  if (sorted) sort_unique(*list);
  return list;
}

std::optional<std::string> AgreementBuilder::id_value(const Node& node, std::string_view what) {
  auto s = src_.scalar(node, what);
  if (!s) return std::nullopt;
  if (!is_valid_agreement_id(*s)) {
    src_.error(node, fmt::format("{} '{}' must be 1 to 64 of a-z, 0-9 and '-'", what, *s));
    return std::nullopt;
  }
  return s;
}

std::optional<PartialDate> AgreementBuilder::full_date(const Node& node, std::string_view what) {
  auto s = src_.scalar(node, what);
  if (!s) return std::nullopt;
  auto d = PartialDate::parse(*s);
  if (!d || d->day == 0) {
    src_.error(node, fmt::format("{} '{}' is not a valid date (YYYY-MM-DD)", what, *s));
    return std::nullopt;
  }
  return d;
}

void AgreementBuilder::build() {
  const Node root = src_.root();
  // Unreadable or bad YAML syntax leaves no document (already reported); duplicate keys are
  // reported too but the document is still checked, so every problem comes out at once.
  if (!src_.ok() && (!root.IsDefined() || root.IsNull())) return;
  if (!src_.expect_map(root, "agreement document")) return;
  src_.check_keys(root, {"agreement", "title", "peer", "valid_from", "valid_until", "purposes",
                         "share", "accept", "match", "tests"});
  src_.require_keys(root, {"agreement", "peer", "valid_from", "purposes", "share"});
  if (root["agreement"]) {
    if (auto id = id_value(root["agreement"], "agreement id")) a_.id_ = AgreementId(*id);
  }
  if (root["title"]) {
    if (auto t = src_.scalar(root["title"], "title")) a_.title_ = *t;
  }
  if (root["peer"]) {
    if (auto p = src_.scalar(root["peer"], "peer")) {
      if (is_valid_org_id(*p)) {
        a_.peer_ = OrgId(*p);
      } else {
        src_.error(root["peer"],
                   fmt::format("peer '{}' must be an organisation id: 2 to 32 of a-z, 0-9 and '-'", *p));
      }
    }
  }
  if (root["valid_from"]) {
    if (auto d = full_date(root["valid_from"], "valid_from")) a_.valid_from_ = *d;
  }
  if (root["valid_until"]) {
    if (auto d = full_date(root["valid_until"], "valid_until")) {
      a_.valid_until_ = *d;
      if (a_.valid_from_.year != 0 && *d < a_.valid_from_) {
        src_.error(root["valid_until"], "valid_until is before valid_from");
      }
    }
  }
  if (root["purposes"]) {
    const Node purposes = root["purposes"];
    if (auto list = src_.string_list(purposes, "purposes")) {
      if (list->empty()) src_.error(purposes, "purposes must name at least one purpose");
      std::set<std::string> seen;
      size_t i = 0;
      for (const auto& item : purposes) {
        const auto& p = (*list)[i++];
        if (!is_valid_agreement_id(p)) {
          src_.error(item, fmt::format("purpose '{}' must be 1 to 64 of a-z, 0-9 and '-'", p));
        } else if (!seen.insert(p).second) {
          src_.error(item, fmt::format("purpose '{}' is listed twice", p));
        } else {
          a_.purposes_.push_back(p);
        }
      }
    }
  }
  if (root["share"]) share(root["share"]);
  if (root["accept"]) accept_section(root["accept"]);
  if (root["match"]) match_section(root["match"]);
  if (root["tests"]) tests(root["tests"]);
  if (src_.ok()) emit_canonical();
}

std::optional<Condition> AgreementBuilder::condition(const Node& node, int depth) {
  if (depth > kMaxConditionDepth) {
    src_.error(node, fmt::format("conditions nested deeper than {} levels", kMaxConditionDepth));
    return std::nullopt;
  }
  if (!src_.expect_map(node, "condition")) return std::nullopt;
  if (!src_.check_keys(node, {"all", "any", "not", "field", "equals", "not_equals", "in",
                              "not_in", "exists", "missing", "before", "after"})) {
    return std::nullopt;
  }
  const bool has_field = static_cast<bool>(node["field"]);
  int combinators = 0;
  for (const char* k : {"all", "any", "not"}) combinators += node[k] ? 1 : 0;
  if (combinators > 0) {
    if (combinators > 1 || node.size() != 1) {
      src_.error(node, "a condition with all, any or not must have that one key only");
      return std::nullopt;
    }
    Condition c;
    if (node["not"]) {
      c.op = Condition::Op::kNot;
      auto child = condition(node["not"], depth + 1);
      if (!child) return std::nullopt;
      c.children.push_back(std::move(*child));
      return c;
    }
    const Node list = node["all"] ? node["all"] : node["any"];
    c.op = node["all"] ? Condition::Op::kAll : Condition::Op::kAny;
    if (!src_.expect_sequence(list, node["all"] ? "all" : "any")) return std::nullopt;
    if (list.size() == 0) {
      src_.error(list, "an all/any list needs at least one condition");
      return std::nullopt;
    }
    bool good = true;
    for (const auto& item : list) {
      auto child = condition(item, depth + 1);
      if (child) {
        c.children.push_back(std::move(*child));
      } else {
        good = false;
      }
    }
    if (!good) return std::nullopt;
    return c;
  }
  if (!has_field) {
    src_.error(node, "a condition needs 'field' and one operator (equals, not_equals, in, "
                     "not_in, exists, missing, before, after), or all/any/not");
    return std::nullopt;
  }
  return leaf(node);
}

std::optional<Condition> AgreementBuilder::leaf(const Node& node) {
  auto field = src_.scalar(node["field"], "field");
  if (!field) return std::nullopt;
  if (node.size() != 2) {
    src_.error(node, "a field condition needs exactly one operator (equals, not_equals, in, "
                     "not_in, exists, missing, before, after)");
    return std::nullopt;
  }
  if (!known_field(node["field"], *field)) return std::nullopt;
  const FieldSpec* spec = schema_.find(*field);
  Condition c;
  c.field = *field;
  std::string op_name;
  Node value;
  for (const auto& kv : node) {
    if (kv.first.Scalar() != "field") {
      op_name = kv.first.Scalar();
      value = kv.second;
    }
  }
  // A value compared with a field must be a value the field can hold (catches "Yes" for "yes").
  const auto canonical = [&](const Node& at, const std::string& v) -> std::optional<std::string> {
    auto r = schema_.canonical_value(c.field, v);
    if (!r) {
      src_.error(at, fmt::format("'{}' is not a possible value: {}", v, r.error().what));
      return std::nullopt;
    }
    return r.value();
  };
  if (op_name == "equals" || op_name == "not_equals") {
    c.op = op_name == "equals" ? Condition::Op::kEquals : Condition::Op::kNotEquals;
    auto v = src_.scalar(value, op_name);
    if (!v) return std::nullopt;
    auto cv = canonical(value, *v);
    if (!cv) return std::nullopt;
    c.values.push_back(*cv);
    return c;
  }
  if (op_name == "in" || op_name == "not_in") {
    c.op = op_name == "in" ? Condition::Op::kIn : Condition::Op::kNotIn;
    auto list = src_.string_list(value, op_name);
    if (!list) return std::nullopt;
    if (list->empty()) {
      src_.error(value, fmt::format("'{}' needs at least one value", op_name));
      return std::nullopt;
    }
    bool good = true;
    size_t i = 0;
    for (const auto& item : value) {
      auto cv = canonical(item, (*list)[i++]);
      if (cv) {
        c.values.push_back(*cv);
      } else {
        good = false;
      }
    }
    if (!good) return std::nullopt;
    sort_unique(c.values);
    return c;
  }
  if (op_name == "exists" || op_name == "missing") {
    auto b = src_.boolean(value, op_name);
    if (!b) return std::nullopt;
    const bool want_present = (op_name == "exists") == *b;
    c.op = want_present ? Condition::Op::kExists : Condition::Op::kMissing;
    return c;
  }
  // before / after
  c.op = op_name == "before" ? Condition::Op::kBefore : Condition::Op::kAfter;
  if (spec && spec->type != FieldType::kDate) {
    src_.error(node["field"], fmt::format("'{}' needs a date field; '{}' is of type {}", op_name,
                                          c.field, field_type_name(spec->type)));
    return std::nullopt;
  }
  auto v = src_.scalar(value, op_name);
  if (!v) return std::nullopt;
  auto d = PartialDate::parse(*v);
  if (!d) {
    src_.error(value, fmt::format("'{}' is not a valid date (YYYY, YYYY-MM or YYYY-MM-DD)", *v));
    return std::nullopt;
  }
  c.date = *d;
  return c;
}

void AgreementBuilder::share(const Node& node) {
  if (!src_.expect_map(node, "share")) return;
  src_.check_keys(node, {"never", "rules"});
  src_.require_keys(node, {"rules"});
  if (node["never"]) {
    if (auto list = field_list(node["never"], "never", true)) a_.never_ = *list;
  }
  const Node rules = node["rules"];
  if (!rules || !src_.expect_sequence(rules, "rules")) return;
  if (rules.size() > kMaxRules) {
    src_.error(rules, fmt::format("more than {} rules", kMaxRules));
    return;
  }
  for (const auto& item : rules) {
    if (auto r = rule(item, rule_ids_)) a_.rules_.push_back(std::move(*r));
  }
  // Once here rather than three lookups (never list, rule fields, transforms) per field of
  // every record a sender projects.
  for (auto& r : a_.rules_) {
    r.leaving.clear();
    for (const auto& f : r.fields) {
      if (!a_.is_never(f)) r.leaving.push_back({f, r.transform_of(f)});
    }
  }
}

std::optional<ShareRule> AgreementBuilder::rule(const Node& node, std::set<std::string>& ids) {
  if (!src_.expect_map(node, "rule")) return std::nullopt;
  src_.check_keys(node, {"id", "description", "when", "purposes", "fields", "transform"});
  ShareRule r;
  bool good = true;
  if (!node["id"]) {
    src_.error(node, "a rule needs an 'id'");
    good = false;
  } else if (auto id = id_value(node["id"], "rule id")) {
    r.id = *id;
    if (!ids.insert(r.id).second) {
      src_.error(node["id"], fmt::format("rule id '{}' is used twice", r.id));
      good = false;
    }
  } else {
    good = false;
  }
  if (node["description"]) {
    if (auto d = src_.scalar(node["description"], "description")) r.description = *d;
  }
  if (node["when"]) {
    if (auto c = condition(node["when"], 1)) {
      r.when = std::move(*c);
    } else {
      good = false;
    }
  }
  if (node["purposes"]) {
    if (auto list = src_.string_list(node["purposes"], "rule purposes")) {
      size_t i = 0;
      for (const auto& item : node["purposes"]) {
        const auto& p = (*list)[i++];
        if (std::find(a_.purposes_.begin(), a_.purposes_.end(), p) == a_.purposes_.end()) {
          src_.error(item, fmt::format("purpose '{}' is not one of the agreement's purposes", p));
          good = false;
        }
      }
      r.purposes = *list;
      sort_unique(r.purposes);
    } else {
      good = false;
    }
  }
  bool fields_ok = false;  // only then can transforms be checked against the fields
  if (!node["fields"]) {
    src_.error(node, fmt::format("rule '{}' has no 'fields': a rule must say what leaves", r.id));
    good = false;
  } else if (auto list = field_list(node["fields"], "fields", true)) {
    if (list->empty()) {
      src_.error(node["fields"], fmt::format("rule '{}' has an empty 'fields' list", r.id));
      good = false;
    }
    r.fields = *list;
    fields_ok = true;
  } else {
    good = false;
  }
  if (node["transform"]) {
    const Node t = node["transform"];
    if (src_.expect_map(t, "transform")) {
      for (const auto& kv : t) {
        const std::string field = kv.first.Scalar();
        if (!known_field(kv.first, field)) {
          good = false;
          continue;
        }
        if (fields_ok && !std::binary_search(r.fields.begin(), r.fields.end(), field)) {
          src_.error(kv.first,
                     fmt::format("transform of '{}', which is not in the rule's fields", field));
          good = false;
        }
        auto name = src_.scalar(kv.second, "transform");
        if (!name) {
          good = false;
          continue;
        }
        auto tr = parse_transform(*name);
        if (!tr) {
          src_.error(kv.second,
                     fmt::format("unknown transform '{}' (expected one of: {})", *name, kTransformList));
          good = false;
          continue;
        }
        const FieldSpec* spec = schema_.find(field);
        if ((*tr == Transform::kYearOnly || *tr == Transform::kYearMonth) && spec &&
            spec->type != FieldType::kDate) {
          src_.error(kv.second, fmt::format("transform '{}' needs a date field; '{}' is of type {}",
                                            *name, field, field_type_name(spec->type)));
          good = false;
          continue;
        }
        r.transforms.push_back({field, *tr});
      }
      std::sort(r.transforms.begin(), r.transforms.end(),
                [](const FieldTransform& x, const FieldTransform& y) { return x.field < y.field; });
    } else {
      good = false;
    }
  }
  if (!good) return std::nullopt;
  return r;
}

void AgreementBuilder::accept_section(const Node& node) {
  if (!src_.expect_map(node, "accept")) return;
  src_.check_keys(node, {"fields", "retain_days"});
  src_.require_keys(node, {"fields", "retain_days"});
  if (node["fields"]) {
    if (auto list = field_list(node["fields"], "accept fields", true)) a_.accept_.fields = *list;
  }
  if (node["retain_days"]) {
    if (auto n = src_.integer(node["retain_days"], "retain_days")) {
      if (*n < 1 || *n > 36500) {
        src_.error(node["retain_days"], "retain_days must be between 1 and 36500");
      } else {
        a_.accept_.retain_days = static_cast<uint32_t>(*n);
      }
    }
  }
}

void AgreementBuilder::match_section(const Node& node) {
  if (!src_.expect_map(node, "match")) return;
  src_.check_keys(node, {"methods", "fields", "max_records_per_day", "reveal", "every",
                         "bloom_threshold", "keys"});
  src_.require_keys(node, {"methods", "fields"});
  auto& m = a_.match_;
  if (node["methods"]) {
    if (auto list = src_.string_list(node["methods"], "methods")) {
      size_t i = 0;
      for (const auto& item : node["methods"]) {
        const auto& name = (*list)[i++];
        if (auto method = parse_method(name)) {
          if (!m.allows(*method)) m.methods.push_back(*method);
        } else {
          src_.error(item, fmt::format("unknown match method '{}' (expected one of: psi, bloom)", name));
        }
      }
      std::sort(m.methods.begin(), m.methods.end());
    }
  }
  if (node["fields"]) {
    if (auto list = field_list(node["fields"], "match fields", true)) m.fields = *list;
  }
  if (node["max_records_per_day"]) {
    if (auto n = src_.integer(node["max_records_per_day"], "max_records_per_day")) {
      if (*n < 0 || *n > 100'000'000) {
        src_.error(node["max_records_per_day"], "max_records_per_day must be between 0 and 100000000");
      } else {
        m.max_records_per_day = static_cast<uint32_t>(*n);
      }
    }
  }
  if (node["reveal"]) {
    if (auto list = field_list(node["reveal"], "reveal", true)) {
      m.reveal = *list;
      for (const auto& f : m.reveal) {
        if (a_.is_never(f)) {
          src_.error(node["reveal"], fmt::format("reveal lists '{}', which is on the never list", f));
        }
      }
    }
  }
  if (node["every"]) {
    if (auto s = src_.scalar(node["every"], "every")) {
      if (auto d = parse_duration(*s)) {
        m.every = *d;
      } else {
        src_.error(node["every"], fmt::format("every '{}' must be a duration such as 30m, 6h or 1d", *s));
      }
    }
  }
  if (node["bloom_threshold"]) {
    if (auto s = src_.scalar(node["bloom_threshold"], "bloom_threshold")) {
      if (auto v = parse_fraction(*s)) {
        m.bloom_threshold = *v;
      } else {
        src_.error(node["bloom_threshold"],
                   fmt::format("bloom_threshold '{}' must be a number from 0 to 1", *s));
      }
    }
  }
  if (node["keys"]) {
    const Node keys = node["keys"];
    if (src_.expect_sequence(keys, "keys")) {
      std::set<std::string> ids;
      for (const auto& item : keys) {
        if (!src_.expect_map(item, "match key")) continue;
        src_.check_keys(item, {"id", "fields"});
        if (!src_.require_keys(item, {"id", "fields"})) continue;
        MatchKeySpec key;
        auto id = id_value(item["id"], "match key id");
        if (id && !ids.insert(*id).second) {
          src_.error(item["id"], fmt::format("match key id '{}' is used twice", *id));
        }
        auto fields = field_list(item["fields"], "match key fields", false);
        if (fields && fields->empty()) {
          src_.error(item["fields"], "a match key needs at least one field");
        }
        if (id && fields) m.keys.push_back({*id, *fields});
      }
    }
  }
}

void AgreementBuilder::tests(const Node& node) {
  if (!src_.expect_sequence(node, "tests")) return;
  if (node.size() > kMaxTests) {
    src_.error(node, fmt::format("more than {} tests", kMaxTests));
    return;
  }
  for (const auto& item : node) {
    if (auto t = test(item)) tests_.push_back(std::move(*t));
  }
}

std::optional<FieldMap> AgreementBuilder::test_record(const Node& node) {
  if (!src_.expect_map(node, "test record")) return std::nullopt;
  FieldMap record;
  bool good = true;
  for (const auto& kv : node) {
    const std::string field = kv.first.Scalar();
    if (!known_field(kv.first, field)) {
      good = false;
      continue;
    }
    auto v = src_.scalar(kv.second, field);
    if (!v) {
      good = false;
      continue;
    }
    auto cv = schema_.canonical_value(field, *v);
    if (!cv) {
      src_.error(kv.second, cv.error().what);
      good = false;
      continue;
    }
    record.set(field, cv.value());
  }
  if (!good) return std::nullopt;
  return record;
}

std::optional<AgreementTest> AgreementBuilder::test(const Node& node) {
  if (!src_.expect_map(node, "test")) return std::nullopt;
  src_.check_keys(node, {"name", "record", "purpose", "now", "expect"});
  if (!src_.require_keys(node, {"name", "record", "expect"})) return std::nullopt;
  AgreementTest t;
  t.line = node.Mark().line + 1;
  bool good = true;
  if (auto n = src_.scalar(node["name"], "test name")) {
    t.name = *n;
  } else {
    good = false;
  }
  if (auto r = test_record(node["record"])) {
    t.record = std::move(*r);
  } else {
    good = false;
  }
  if (node["purpose"]) {
    if (auto p = src_.scalar(node["purpose"], "purpose")) {
      t.purpose = *p;  // an unknown purpose is allowed: tests may check that it is denied
    } else {
      good = false;
    }
  }
  if (node["now"]) {
    if (auto d = full_date(node["now"], "now")) {
      t.now = *d;
    } else {
      good = false;
    }
  }
  const Node e = node["expect"];
  if (!src_.expect_map(e, "expect")) return std::nullopt;
  if (!src_.check_keys(e, {"shared", "rule", "fields_present", "fields_absent", "fields_equal",
                           "purpose"})) {
    good = false;
  }
  if (e.size() == 0) {
    src_.error(e, "expect must say something (shared, rule, fields_present, ...)");
    good = false;
  }
  auto& x = t.expect;
  if (e["shared"]) {
    if (auto b = src_.boolean(e["shared"], "shared")) {
      x.shared = *b;
    } else {
      good = false;
    }
  }
  if (e["rule"]) {
    if (auto r = src_.scalar(e["rule"], "rule")) {
      x.rule = *r;
      // Checked after all rules are read: a test naming a rule that does not exist is a typo.
      if (!rule_ids_.count(*r)) {
        src_.error(e["rule"], fmt::format("no rule '{}' in this agreement", *r));
        good = false;
      }
    } else {
      good = false;
    }
  }
  if (e["fields_present"]) {
    if (auto l = field_list(e["fields_present"], "fields_present", false)) {
      x.fields_present = *l;
    } else {
      good = false;
    }
  }
  if (e["fields_absent"]) {
    if (auto l = field_list(e["fields_absent"], "fields_absent", false)) {
      x.fields_absent = *l;
    } else {
      good = false;
    }
  }
  if (e["fields_equal"]) {
    const Node fe = e["fields_equal"];
    if (src_.expect_map(fe, "fields_equal")) {
      for (const auto& kv : fe) {
        const std::string field = kv.first.Scalar();
        auto v = src_.scalar(kv.second, field);
        if (known_field(kv.first, field) && v) {
          x.fields_equal.emplace_back(field, *v);
        } else {
          good = false;
        }
      }
    } else {
      good = false;
    }
  }
  if (e["purpose"]) {
    if (auto p = src_.scalar(e["purpose"], "purpose")) {
      x.purpose = *p;
    } else {
      good = false;
    }
  }
  if (!good) return std::nullopt;
  return t;
}

void AgreementBuilder::emit_canonical() {
  // Format version first, so a future change of this form can never collide with this one.
  std::string out = "jisr-agreement-canonical/1\n";
  out += "agreement " + quote(a_.id_.str()) + "\n";
  out += "title " + quote(a_.title_) + "\n";
  out += "peer " + quote(a_.peer_.str()) + "\n";
  out += "valid_from " + quote(a_.valid_from_.to_string()) + "\n";
  out += "valid_until " + (a_.valid_until_ ? quote(a_.valid_until_->to_string()) : "-") + "\n";
  out += "purposes " + quote_list(a_.purposes_) + "\n";  // order kept: the first is the default
  out += "never " + quote_list(a_.never_) + "\n";
  for (const auto& r : a_.rules_) {  // order kept: the first matching rule decides
    out += "rule " + quote(r.id) + " description " + quote(r.description) + " purposes " +
           quote_list(r.purposes) + " fields " + quote_list(r.fields) + " transform [";
    for (size_t i = 0; i < r.transforms.size(); ++i) {
      out += (i ? "," : "") + quote(r.transforms[i].field) + ":" +
             std::string(transform_name(r.transforms[i].transform));
    }
    out += "] when ";
    emit_condition(r.when, out);
    out += "\n";
  }
  out += "accept fields " + quote_list(a_.accept_.fields) +
         fmt::format(" retain_days {}\n", a_.accept_.retain_days);
  const auto& m = a_.match_;
  out += "match methods [";
  for (size_t i = 0; i < m.methods.size(); ++i) {
    out += (i ? "," : "") + std::string(match_method_name(m.methods[i]));
  }
  out += "] fields " + quote_list(m.fields) +
         fmt::format(" max_records_per_day {} reveal ", m.max_records_per_day) +
         quote_list(m.reveal) + " every " +
         (m.every ? fmt::format("{}s", m.every->count()) : std::string("-")) + " bloom_threshold " +
         (m.bloom_threshold ? fmt::format("{}", *m.bloom_threshold) : std::string("-")) + " keys [";
  for (size_t i = 0; i < m.keys.size(); ++i) {
    out += (i ? "," : "") + quote(m.keys[i].id) + ":" + quote_list(m.keys[i].fields);
  }
  out += "]\n";
  a_.canonical_ = std::move(out);
  a_.version_ = sha256_hex(a_.canonical_);
}

Result<AgreementFile> compile_agreement_file(YamlSource& source, const RecordSchema& schema) {
  AgreementBuilder builder(source, schema);
  builder.build();
  if (!source.ok()) return source.to_error();
  return AgreementFile{builder.take(), builder.take_tests()};
}

Result<CompiledAgreement> compile_agreement(YamlSource& source, const RecordSchema& schema) {
  JISR_TRY(auto file, compile_agreement_file(source, schema));
  return std::move(file.agreement);
}

}  // namespace jisr::policies
