// The generic driver of the policy case files (STYLE.md 23, OPA-style tests as data): every
// tests/policies/cases/*.yaml holds `cases:`, each with
//   note:           what the case shows
//   policy:         agreement YAML text (or the file's `policy:`, with `{{when}}` replaced by the
//                   case's `when:` text and `{{transform}}` by its `transform:` text)
//   request:        { record: {field: value}, purpose: P, now: YYYY-MM-DD }  (now: noon UTC)
//   want_decision:  { effect: allow|deny, why: ..., rule: ID, fields: {f: v}, withheld: {f: reason} }
//   want_error:     [ "substring", ... ]   every one must appear in the compile error
// Field maps in want_decision are exact: every field that leaves must be listed.
#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

#include "node/core/record_schema.hpp"
#include "policies/compiler.hpp"
#include "tests/test_support.hpp"

namespace pol = jisr::policies;
using jisr::FieldMap;

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}


// Renders a map as "k=v;k=v" so a mismatch shows the whole picture in one comparison.
std::string render(const FieldMap& m) {
  std::string out;
  for (const auto& [k, v] : m) out += k + "=" + v + ";";
  return out;
}

void run_case(const std::string& file, const YAML::Node& c, const YAML::Node& defaults) {
  const std::string note = c["note"].as<std::string>();
  INFO(file << ": " << note);
  std::string policy = c["policy"] ? c["policy"].as<std::string>() : defaults["policy"].as<std::string>();
  policy = replace_all(policy, "{{when}}", c["when"] ? c["when"].as<std::string>() : "{ field: status, exists: true }");
  policy = replace_all(policy, "{{transform}}", c["transform"] ? c["transform"].as<std::string>() : "{}");
  auto src = jisr::YamlSource::from_string(policy, "case.yaml");
  auto compiled = pol::compile_agreement(src, jisr::RecordSchema::missing_person());
  if (c["want_error"]) {
    REQUIRE_FALSE(compiled);
    const std::string text = compiled.error().what;
    INFO("errors:\n" << text);
    for (const auto& want : c["want_error"]) CHECK(text.find(want.as<std::string>()) != std::string::npos);
    if (c["error_count"]) {
      CHECK(src.diagnostics().size() == c["error_count"].as<size_t>());
    }
    return;
  }
  if (!compiled) FAIL("unexpected compile error:\n" << compiled.error().what);
  const auto& a = compiled.value();
  FieldMap record;
  std::string purpose;
  jisr::TimePoint now = pol::start_of_day(a.valid_from()) + std::chrono::hours(12);
  if (const auto req = c["request"]) {
    for (const auto& kv : req["record"]) record.set(kv.first.as<std::string>(), kv.second.as<std::string>());
    if (req["purpose"]) purpose = req["purpose"].as<std::string>();
    if (req["now"]) {
      now = pol::start_of_day(*jisr::PartialDate::parse(req["now"].as<std::string>())) + std::chrono::hours(12);
    }
  }
  const auto d = pol::decide(a, pol::ShareRequest{record, purpose}, now);
  const auto want = c["want_decision"];
  REQUIRE(want);
  CHECK((d.allowed() ? "allow" : "deny") == want["effect"].as<std::string>());
  if (want["why"]) CHECK(std::string(pol::decision_reason_name(d.why)) == want["why"].as<std::string>());
  if (want["rule"]) CHECK(d.rule_id == want["rule"].as<std::string>());
  if (want["purpose"]) CHECK(d.purpose == want["purpose"].as<std::string>());
  if (want["fields"]) {
    FieldMap expected;
    for (const auto& kv : want["fields"]) expected.set(kv.first.as<std::string>(), kv.second.as<std::string>());
    CHECK(render(d.fields) == render(expected));
  }
  if (!d.allowed()) CHECK(d.fields.empty());
  if (want["withheld"]) {
    std::string got;
    for (const auto& w : d.withheld) got += w.field + "=" + std::string(pol::withheld_reason_name(w.reason)) + ";";
    FieldMap expected;
    for (const auto& kv : want["withheld"]) expected.set(kv.first.as<std::string>(), kv.second.as<std::string>());
    CHECK(got == render(expected));
  }
}

}  // namespace

TEST_CASE("policy case files", "[policy][cases]") {
  const auto dir = jisr::testing::source_dir() / "tests" / "policies" / "cases";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 4);
  size_t cases = 0;
  for (const auto& file : files) {
    const YAML::Node doc = YAML::LoadFile(file.string());
    for (const auto& c : doc["cases"]) {
      ++cases;
      DYNAMIC_SECTION(file.filename().string() << " #" << cases) {
        run_case(file.filename().string(), c, doc);
      }
    }
  }
  CHECK(cases >= 40);
}
