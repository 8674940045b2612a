// Property test: thousands of random records against random agreements (seeded, so every run
// checks the same cases). Whatever the agreement says, decide() must never let out a field that
// the deciding rule does not list or that is on the never list, must deny when no rule holds,
// and must deny outside the validity window or for a purpose the agreement does not name.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "node/core/record_schema.hpp"
#include "policies/compiler.hpp"

namespace pol = jisr::policies;

namespace {

const std::vector<std::string> kFields = {
    "given_name", "father_name", "family_name", "mother_name", "sex", "birth_date", "birth_place",
    "missing_date", "missing_place", "national_id", "circumstances", "reporter_phone", "status",
    "consent_share_iimp"};

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(uint64_t seed) : rng(seed) {}
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }
  bool coin(int percent = 50) { return below(100) < static_cast<size_t>(percent); }
  const std::string& pick(const std::vector<std::string>& v) { return v[below(v.size())]; }

  std::string date() {
    const int y = 1950 + static_cast<int>(below(80));
    switch (below(3)) {
      case 0: return std::to_string(y);
      case 1: return std::to_string(y) + "-" + (below(9) < 5 ? "0" : "1") + std::to_string(below(2) + 1);
      default: return std::to_string(y) + "-0" + std::to_string(below(9) + 1) + "-1" + std::to_string(below(9));
    }
  }
  std::string value(const std::string& field) {
    if (field == "sex") return pick({"male", "female", "unknown"});
    if (field == "status") return pick({"open", "located", "closed"});
    if (field == "consent_share_iimp") return pick({"yes", "no"});
    if (field.ends_with("_date")) return date();
    return pick({"a", "b", "c"});
  }
  std::string condition(int depth) {
    if (depth < 3 && coin(30)) {
      const char* op = coin() ? "all" : (coin() ? "any" : "not");
      if (std::string(op) == "not") return "{ not: " + condition(depth + 1) + " }";
      std::string out = std::string("{ ") + op + ": [";
      const size_t n = 1 + below(3);
      for (size_t i = 0; i < n; ++i) out += (i ? ", " : "") + condition(depth + 1);
      return out + "] }";
    }
    const std::string field = pick({"sex", "status", "consent_share_iimp", "missing_date", "given_name"});
    if (field == "missing_date" && coin()) return "{ field: missing_date, " + pick({"before", "after"}) + ": " + date() + " }";
    switch (below(5)) {
      case 0: return "{ field: " + field + ", equals: \"" + value(field) + "\" }";
      case 1: return "{ field: " + field + ", not_equals: \"" + value(field) + "\" }";
      case 2: return "{ field: " + field + ", in: [\"" + value(field) + "\", \"" + value(field) + "\"] }";
      case 3: return "{ field: " + field + ", not_in: [\"" + value(field) + "\"] }";
      default: return "{ field: " + field + (coin() ? ", exists: true }" : ", missing: true }");
    }
  }
  std::vector<std::string> subset(size_t min) {
    std::vector<std::string> out;
    for (const auto& f : kFields) {
      if (coin(40)) out.push_back(f);
    }
    while (out.size() < min) out.push_back(pick(kFields));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  std::string list(const std::vector<std::string>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
    return out + "]";
  }
  std::string agreement() {
    std::string out = "agreement: random\npeer: iimp\nvalid_from: 2026-03-17\nvalid_until: 2029-03-16\n"
                      "purposes: [p1, p2]\nshare:\n  never: " + list(subset(0)) + "\n  rules:\n";
    const size_t rules = below(4);
    if (rules == 0) out += "    []\n";
    for (size_t i = 0; i < rules; ++i) {
      const auto fields = subset(1);
      out += "    - id: r" + std::to_string(i) + "\n";
      if (coin(80)) out += "      when: " + condition(0) + "\n";
      if (coin(20)) out += "      purposes: [" + pick({"p1", "p2"}) + "]\n";
      out += "      fields: " + list(fields) + "\n";
      std::string transforms;
      for (const auto& f : fields) {
        if (f.ends_with("_date") && coin()) transforms += (transforms.empty() ? "" : ", ") + f + ": " + pick({"year_only", "year_month", "drop"});
        else if (coin(10)) transforms += (transforms.empty() ? "" : ", ") + f + ": drop";
      }
      if (!transforms.empty()) out += "      transform: { " + transforms + " }\n";
    }
    return out;
  }
  jisr::FieldMap record() {
    jisr::FieldMap r;
    for (const auto& f : kFields) {
      if (coin(60)) r.set(f, value(f));
    }
    return r;
  }
};

}  // namespace

TEST_CASE("decide never discloses more than a rule allows", "[policy][property]") {
  Gen gen(20260317);
  const auto& schema = jisr::RecordSchema::missing_person();
  size_t decisions = 0, allowed = 0;
  const auto inside = pol::start_of_day(*jisr::PartialDate::parse("2027-06-01"));
  const auto before = pol::start_of_day(*jisr::PartialDate::parse("2026-03-17")) - std::chrono::milliseconds(1);
  const auto after = pol::start_of_day(*jisr::PartialDate::parse("2029-03-17"));
  pol::Projection projection;  // reused, as the outbox reuses it
  for (int agreement_no = 0; agreement_no < 60; ++agreement_no) {
    const std::string text = gen.agreement();
    auto src = jisr::YamlSource::from_string(text, "random.yaml");
    auto compiled = pol::compile_agreement(src, schema);
    INFO(text);
    REQUIRE(compiled);
    const auto& a = compiled.value();
    for (int i = 0; i < 100; ++i) {
      const auto record = gen.record();
      const std::string purpose = gen.pick({"", "p1", "p2", "p3"});
      const auto d = pol::decide(a, {record, purpose}, inside);
      ++decisions;
      // Which rule should decide, computed independently of decide().
      const std::string effective = purpose.empty() ? "p1" : purpose;
      const pol::ShareRule* expected = nullptr;
      if (effective != "p3") {
        for (const auto& r : a.rules()) {
          const bool serves = r.purposes.empty() ||
                              std::find(r.purposes.begin(), r.purposes.end(), effective) != r.purposes.end();
          if (serves && pol::holds(r.when, record)) {
            expected = &r;
            break;
          }
        }
      }
      if (!expected) {
        REQUIRE_FALSE(d.allowed());
        REQUIRE(d.fields.empty());
      } else {
        REQUIRE(d.allowed());
        REQUIRE(d.rule_id == expected->id);
        ++allowed;
      }
      for (const auto& [name, value] : d.fields) {
        REQUIRE(std::binary_search(expected->fields.begin(), expected->fields.end(), name));
        REQUIRE_FALSE(a.is_never(name));
        REQUIRE(expected->transform_of(name) != pol::Transform::kDrop);
        REQUIRE(record.has(name));
        // A value either leaves as stored or generalised from it, never anything else.
        const auto original = *record.get(name);
        REQUIRE(original.starts_with(value));
      }
      // Every record field is accounted for: it leaves or is withheld, never both.
      REQUIRE(d.fields.size() + d.withheld.size() == record.size());
      // project(), the sender's fast path, lets out exactly what decide() lets out.
      std::vector<jisr::FieldView> views(record.begin(), record.end());
      const bool projected = pol::project(a, jisr::FieldsView(views), purpose, inside, projection);
      REQUIRE(projected == d.allowed());
      REQUIRE((projection.rule ? projection.rule->id : std::string()) == d.rule_id);
      REQUIRE(std::vector<jisr::FieldView>(d.fields.begin(), d.fields.end()) == projection.fields);
      REQUIRE_FALSE(pol::project(a, jisr::FieldsView(views), purpose, before, projection));
      REQUIRE(projection.fields.empty());
      REQUIRE_FALSE(pol::decide(a, {record, purpose}, before).allowed());
      REQUIRE_FALSE(pol::decide(a, {record, purpose}, after).allowed());
      REQUIRE_FALSE(pol::decide(a, {record, "not-a-purpose"}, inside).allowed());
    }
  }
  CHECK(decisions == 6000);
  // The generator must exercise both outcomes, or the properties above prove little.
  CHECK(allowed > 300);
  CHECK(decisions - allowed > 300);
}
