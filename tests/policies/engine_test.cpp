// The engine around decide(): versions (canonical form), accept, match section, embedded tests,
// PolicySet loading and atomic reload, and golden output of explain and diff.
#include <catch2/catch.hpp>

#include <thread>

#include "node/core/digest.hpp"
#include "node/core/record_schema.hpp"
#include "policies/compiler.hpp"
#include "policies/diff.hpp"
#include "policies/embedded_tests.hpp"
#include "policies/explain.hpp"
#include "policies/policy_set.hpp"
#include "tests/test_support.hpp"

namespace pol = jisr::policies;
using jisr::FieldMap;
using jisr::testing::TempDir;
using jisr::testing::write_text;

namespace {

const char* kAgreement = R"(agreement: mpfp-iimp-mou
title: "MoU"
peer: iimp
valid_from: 2026-03-17
valid_until: 2029-03-16
purposes: [locate-missing-person, support-families]
share:
  never: [reporter_phone]
  rules:
    - id: consented-cases
      description: "Consented"
      when:
        all:
          - { field: consent_share_iimp, equals: "yes" }
          - { field: status, not_in: [closed] }
      fields: [given_name, family_name, birth_date, reporter_phone]
      transform: { birth_date: year_only }
accept:
  fields: [given_name, family_name, birth_date]
  retain_days: 730
match:
  methods: [psi, bloom]
  fields: [given_name, family_name, birth_date]
  max_records_per_day: 20000
  reveal: [given_name, missing_date]
  every: 6h
  bloom_threshold: 0.85
  keys:
    - { id: names-year, fields: [given_name, family_name, birth_date] }
tests:
  - name: consent shares
    record: { consent_share_iimp: "yes", status: open, given_name: "A" }
    expect: { shared: true, rule: consented-cases }
)";

pol::AgreementFile compile_file(const std::string& text, const std::string& name = "a.yaml") {
  auto src = jisr::YamlSource::from_string(text, name);
  auto r = pol::compile_agreement_file(src, jisr::RecordSchema::missing_person());
  if (!r) FAIL(r.error().what);
  return std::move(r).value();
}

pol::CompiledAgreement compile(const std::string& text) { return compile_file(text).agreement; }

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

jisr::TimePoint day(const char* d) {
  return pol::start_of_day(*jisr::PartialDate::parse(d)) + std::chrono::hours(12);
}

FieldMap record(std::initializer_list<std::pair<const char*, const char*>> fields) {
  FieldMap m;
  for (const auto& [k, v] : fields) m.set(k, v);
  return m;
}

}  // namespace

TEST_CASE("the version is the hash of the canonical form", "[policy][version]") {
  const auto a = compile(kAgreement);
  REQUIRE(a.version().size() == 64);
  CHECK(a.version() == jisr::sha256_hex(a.canonical_form()));
  CHECK(a.short_version() == a.version().substr(0, 12));

  SECTION("comments, whitespace, quoting, key order and list order do not change it") {
    std::string edited = "# a comment\n" + std::string(kAgreement);
    edited = replace(edited, "fields: [given_name, family_name, birth_date, reporter_phone]",
                     "fields:   [reporter_phone, birth_date,  family_name, given_name]  # reordered");
    edited = replace(edited, "peer: iimp\n", "");
    edited = replace(edited, "title: \"MoU\"\n", "title: 'MoU'\npeer: \"iimp\"\n");
    edited = replace(edited, "methods: [psi, bloom]", "methods: [bloom, psi]");
    CHECK(compile(edited).version() == a.version());
  }
  SECTION("tests do not change it") {
    CHECK(compile(replace(kAgreement, "name: consent shares", "name: renamed")).version() == a.version());
  }
  SECTION("anything that changes a decision, accept or match does") {
    for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"equals: \"yes\"", "equals: \"no\""},
             {"not_in: [closed]", "not_in: [closed, located]"},
             {"birth_date: year_only", "birth_date: year_month"},
             {"never: [reporter_phone]", "never: [reporter_phone, sex]"},
             {"valid_until: 2029-03-16", "valid_until: 2029-03-17"},
             {"purposes: [locate-missing-person, support-families]", "purposes: [support-families, locate-missing-person]"},
             {"retain_days: 730", "retain_days: 731"},
             {"max_records_per_day: 20000", "max_records_per_day: 20001"},
             {"every: 6h", "every: 7h"},
             {"bloom_threshold: 0.85", "bloom_threshold: 0.9"},
             {"description: \"Consented\"", "description: \"Consent given\""},
         }) {
      INFO(from << " -> " << to);
      CHECK(compile(replace(kAgreement, from, to)).version() != a.version());
    }
  }
}

TEST_CASE("accessors expose accept and match for the sharing and matching work", "[policy]") {
  const auto a = compile(kAgreement);
  CHECK(a.id().str() == "mpfp-iimp-mou");
  CHECK(a.peer().str() == "iimp");
  CHECK(a.retain_days() == 730);
  CHECK(a.match().allows(pol::MatchMethod::kPsi));
  CHECK(a.match().allows(pol::MatchMethod::kBloom));
  CHECK(a.match().max_records_per_day == 20000);
  CHECK(a.match().every == std::chrono::seconds(6 * 3600));
  REQUIRE(a.match().bloom_threshold);
  CHECK(*a.match().bloom_threshold == Approx(0.85));
  REQUIRE(a.match().keys.size() == 1);
  CHECK(a.match().keys[0].fields == std::vector<std::string>{"given_name", "family_name", "birth_date"});
  CHECK(a.match().reveal == std::vector<std::string>{"given_name", "missing_date"});

  SECTION("accept keeps only accept.fields") {
    const auto r = pol::accept(a, record({{"given_name", "A"}, {"national_id", "1"}, {"status", "open"}}));
    CHECK(r.kept == record({{"given_name", "A"}}));
    CHECK(r.dropped == std::vector<std::string>{"national_id", "status"});
  }
  SECTION("AcceptedFields answers as accepts() for names asked in order") {
    pol::AcceptedFields in_order(a);
    for (const char* name : {"a", "birth_date", "given_name", "given_name2", "national_id", "status", "zz"}) {
      CHECK(in_order.accepts(name) == pol::accepts(a, name));
    }
  }
  SECTION("no accept section accepts nothing; no match section allows no method") {
    auto bare = compile("agreement: b\npeer: iimp\nvalid_from: 2026-01-01\npurposes: [p]\nshare: {rules: []}\n");
    CHECK(pol::accept(bare, record({{"given_name", "A"}})).kept.empty());
    CHECK_FALSE(bare.match().allows(pol::MatchMethod::kPsi));
    CHECK_FALSE(bare.valid_until());
    CHECK(bare.in_force(day("2400-01-01")));
    CHECK_FALSE(pol::decide(bare, {record({{"given_name", "A"}}), ""}, day("2026-06-01")).allowed());
  }
}

TEST_CASE("embedded tests report PASS/FAIL with reasons and coverage", "[policy][tests]") {
  std::string text = std::string(kAgreement) + R"(  - name: wrong expectation
    record: { consent_share_iimp: "no", given_name: "A", birth_date: "1990-01-01" }
    expect: { shared: true, fields_equal: { birth_date: "1990-01-01" } }
  - name: expired
    now: 2030-01-01
    record: { consent_share_iimp: "yes", status: open }
    expect: { shared: false }
  - name: transform checked
    record: { consent_share_iimp: "yes", status: open, birth_date: "1990-01-01", reporter_phone: "1" }
    expect: { fields_equal: { birth_date: "1990-01-01" }, fields_present: [reporter_phone], purpose: support-families }
)";
  text = replace(text, "    - id: consented-cases",
                 "    - id: unused\n      when: { field: status, equals: located }\n      fields: [status]\n    - id: consented-cases");
  const auto file = compile_file(text);
  const auto report = pol::run_embedded_tests(file);
  REQUIRE(report.outcomes.size() == 4);
  CHECK(report.passed == 2);
  CHECK(report.failed == 2);
  CHECK_FALSE(report.ok());
  CHECK(report.outcomes[0].passed);
  CHECK(report.outcomes[1].failures ==
        std::vector<std::string>{"expected shared: true, got not shared (no rule matched)",
                                 "expected birth_date to leave as \"1990-01-01\", it does not leave (the record is not shared)"});
  CHECK(report.outcomes[2].passed);
  CHECK(report.outcomes[3].failures ==
        std::vector<std::string>{"expected purpose support-families, got locate-missing-person",
                                 "expected reporter_phone to leave, it does not (on the never list)",
                                 "expected birth_date to leave as \"1990-01-01\", it leaves as \"1990\""});
  CHECK(report.uncovered_rules == std::vector<std::string>{"unused"});

  SECTION("a file without tests is not ok") {
    auto bare = compile_file("agreement: b\npeer: iimp\nvalid_from: 2026-01-01\npurposes: [p]\nshare: {rules: []}\n");
    CHECK_FALSE(pol::run_embedded_tests(bare).ok());
  }
}

TEST_CASE("a policy directory loads one agreement per peer", "[policy][set]") {
  TempDir tmp;
  const auto& schema = jisr::RecordSchema::missing_person();
  SECTION("a missing directory is an empty set") {
    auto set = pol::load_policy_dir(tmp / "none", schema);
    REQUIRE(set);
    CHECK(set.value().size() == 0);
    CHECK(set.value().for_peer(jisr::OrgId("iimp")) == nullptr);
  }
  write_text(tmp / "p" / "a.yaml", kAgreement);
  write_text(tmp / "p" / "notes.txt", "not an agreement");
  SECTION("the agreement is found by peer") {
    auto set = pol::load_policy_dir(tmp / "p", schema);
    REQUIRE(set);
    CHECK(set.value().size() == 1);
    REQUIRE(set.value().for_peer(jisr::OrgId("iimp")));
    CHECK(set.value().for_peer(jisr::OrgId("iimp"))->id().str() == "mpfp-iimp-mou");
    CHECK(set.value().for_peer(jisr::OrgId("mpfp")) == nullptr);
  }
  SECTION("two agreements for one peer are refused") {
    write_text(tmp / "p" / "b.yaml", replace(kAgreement, "agreement: mpfp-iimp-mou", "agreement: other"));
    auto set = pol::load_policy_dir(tmp / "p", schema);
    REQUIRE_FALSE(set);
    CHECK(set.error().what.find("two agreements for peer iimp") != std::string::npos);
  }
  SECTION("every error of every file is reported") {
    write_text(tmp / "p" / "b.yaml", "agreement: x\nbogus: 1\n");
    write_text(tmp / "p" / "c.yaml", "agreement: y\nagreement: z\n");
    auto set = pol::load_policy_dir(tmp / "p", schema);
    REQUIRE_FALSE(set);
    const auto& what = set.error().what;
    CHECK(what.find("b.yaml:2:1: unknown key 'bogus'") != std::string::npos);
    CHECK(what.find("c.yaml:2:1: duplicate key 'agreement'") != std::string::npos);
  }
  SECTION("reload swaps atomically and a failed reload keeps the old set") {
    pol::PolicyHolder holder;
    CHECK(holder.current()->size() == 0);
    auto loaded = holder.reload(tmp / "p", schema);
    REQUIRE(loaded);
    const auto before = holder.current();
    CHECK(before->size() == 1);
    write_text(tmp / "p" / "a.yaml", "agreement: [broken\n");
    CHECK_FALSE(holder.reload(tmp / "p", schema));
    CHECK(holder.current() == before);
    // Readers on other threads always see a whole snapshot.
    std::atomic<bool> stop{false};
    std::atomic<int> seen_bad{0};
    std::thread reader([&] {
      while (!stop) {
        auto s = holder.current();
        if (!s || (s->size() != 0 && s->size() != 1)) ++seen_bad;
      }
    });
    for (int i = 0; i < 2000; ++i) {
      holder.replace(i % 2 ? before : std::make_shared<const pol::PolicySet>());
    }
    stop = true;
    reader.join();
    CHECK(seen_bad == 0);
  }
}

TEST_CASE("explain says what leaves in plain words, English and Arabic", "[policy][explain]") {
  const auto a = compile(kAgreement);
  const auto v = a.short_version();
  const auto shared = record({{"consent_share_iimp", "yes"}, {"status", "open"}, {"given_name", "Ahmad"},
                              {"birth_date", "1990-05-17"}, {"reporter_phone", "0999"}, {"national_id", "123"}});
  const auto now = day("2026-11-29");
  const auto d = pol::decide(a, {shared, ""}, now);
  SECTION("en, shared") {
    CHECK(pol::explain_decision(a, "R123", shared, d, now, pol::Language::kEnglish) ==
          "Record R123 WOULD be shared with iimp under agreement mpfp-iimp-mou (version " + v +
              "…), rule consented-cases, for purpose locate-missing-person.\n"
              "  leaves: birth_date (as year only), given_name\n"
              "  withheld: consent_share_iimp (not in the rule's fields), national_id (not in the "
              "rule's fields), reporter_phone (on the never list), status (not in the rule's fields)\n");
  }
  SECTION("ar, shared") {
    CHECK(pol::explain_decision(a, "R123", shared, d, now, pol::Language::kArabic) ==
          "السجل R123 سيُشارَك مع iimp بموجب الاتفاقية mpfp-iimp-mou (الإصدار " + v +
              "…)، وفق القاعدة consented-cases، لغرض locate-missing-person.\n"
              "  الحقول التي ستُرسَل: birth_date (السنة فقط)، given_name\n"
              "  الحقول المحجوبة: consent_share_iimp (ليس من حقول القاعدة)، national_id (ليس من حقول "
              "القاعدة)، reporter_phone (مدرج في قائمة الحظر الدائم)، status (ليس من حقول القاعدة)\n");
  }
  const auto refused = record({{"consent_share_iimp", "no"}, {"status", "open"}, {"given_name", "Ahmad"}});
  const auto dn = pol::decide(a, {refused, ""}, now);
  SECTION("en, not shared: the unmet condition, never a value of the record") {
    const auto text = pol::explain_decision(a, "R9", refused, dn, now, pol::Language::kEnglish);
    CHECK(text == "Record R9 would NOT be shared with iimp under agreement mpfp-iimp-mou (version " + v +
                      "…), for purpose locate-missing-person: no rule allows it.\n"
                      "  rule consented-cases: not met: consent_share_iimp is \"yes\"\n"
                      "  nothing leaves (3 fields withheld).\n");
    CHECK(text.find("Ahmad") == std::string::npos);
  }
  SECTION("ar, not shared") {
    CHECK(pol::explain_decision(a, "R9", refused, dn, now, pol::Language::kArabic) ==
          "السجل R9 لن يُشارَك مع iimp بموجب الاتفاقية mpfp-iimp-mou (الإصدار " + v +
              "…)، لغرض locate-missing-person: لا توجد قاعدة تسمح بمشاركته.\n"
              "  القاعدة consented-cases: شرط غير مستوفى: consent_share_iimp يساوي \"yes\"\n"
              "  لن يُرسَل أي حقل من حقول السجل (عددها 3).\n");
  }
  SECTION("outside the validity window, both languages") {
    const auto late = day("2030-01-01");
    const auto dl = pol::decide(a, {shared, ""}, late);
    CHECK(pol::explain_decision(a, "R1", shared, dl, late, pol::Language::kEnglish).find(
              "the agreement is not in force on 2030-01-01 (valid 2026-03-17 to 2029-03-16).") != std::string::npos);
    CHECK(pol::explain_decision(a, "R1", shared, dl, late, pol::Language::kArabic).find(
              "الاتفاقية غير سارية بتاريخ 2030-01-01 (مدة سريانها من 2026-03-17 إلى 2029-03-16).") != std::string::npos);
  }
  SECTION("unknown purpose") {
    const auto dp = pol::decide(a, {shared, "prosecution"}, now);
    CHECK(pol::explain_decision(a, "R1", shared, dp, now, pol::Language::kEnglish).find(
              "purpose prosecution is not one of the agreement's purposes (locate-missing-person, support-families).") !=
          std::string::npos);
  }
}

TEST_CASE("diff counts the disclosure impact and lists rule changes", "[policy][diff]") {
  const auto old_a = compile(kAgreement);
  auto new_text = replace(kAgreement, "not_in: [closed]", "not_in: [closed, located]");
  new_text = replace(new_text, "fields: [given_name, family_name, birth_date, reporter_phone]",
                     "fields: [given_name, family_name, birth_date, sex]");
  new_text = replace(new_text, "birth_date: year_only", "birth_date: year_month");
  new_text = replace(new_text, "never: [reporter_phone]", "never: [reporter_phone, family_name]");
  const auto new_a = compile(new_text);
  pol::DisclosureDiff diff(old_a, new_a, "", day("2026-11-29"));
  diff.add(record({{"consent_share_iimp", "yes"}, {"status", "open"}, {"given_name", "A"},
                   {"birth_date", "1990-05-17"}, {"sex", "male"}, {"family_name", "F"}}));
  diff.add(record({{"consent_share_iimp", "yes"}, {"status", "located"}, {"given_name", "B"}}));
  diff.add(record({{"consent_share_iimp", "no"}, {"status", "open"}, {"given_name", "C"}}));
  const auto report = diff.report();
  CHECK(report.records == 3);
  CHECK(report.shared_before == 2);
  CHECK(report.shared_after == 1);
  CHECK(report.newly_shared == 0);
  CHECK(report.no_longer_shared == 1);
  const std::string text = pol::render_diff(report);
  CHECK(text ==
        "Disclosure impact for peer iimp: mpfp-iimp-mou (version " + old_a.short_version() +
            "…) -> mpfp-iimp-mou (version " + new_a.short_version() + "…), evaluated on 2026-11-29\n"
            "  records in the store:  3\n"
            "  shared before:         2\n"
            "  shared after:          1\n"
            "  newly shared:          0\n"
            "  no longer shared:      1\n"
            "Fields (records affected):\n"
            "  birth_date: leaves in another form for 1\n"
            "  family_name: stops leaving for 1\n"
            "  given_name: stops leaving for 1\n"
            "  sex: newly leaves for 1\n"
            "Rule changes:\n"
            "  - never list: added family_name\n"
            "  - rule consented-cases fields: added sex\n"
            "  - rule consented-cases fields: removed reporter_phone\n"
            "  - rule consented-cases condition: all of (consent_share_iimp is \"yes\"; status is not "
            "one of \"closed\") -> all of (consent_share_iimp is \"yes\"; status is not one of "
            "\"closed\", \"located\")\n"
            "  - rule consented-cases transforms: birth_date: year_only -> birth_date: year_month\n");
  CHECK(text.find("\"A\"") == std::string::npos);

  SECTION("identical agreements: nothing changes") {
    pol::DisclosureDiff same(old_a, old_a, "", day("2026-11-29"));
    same.add(record({{"consent_share_iimp", "yes"}, {"status", "open"}}));
    const auto r = same.report();
    CHECK(r.fields.empty());
    CHECK(r.rule_changes.empty());
    CHECK(pol::render_diff(r).find("Fields: no change in what leaves.\nRule changes: none.\n") != std::string::npos);
  }
  SECTION("added and removed rules are named") {
    auto other = compile(replace(replace(kAgreement, "id: consented-cases", "id: consented"),
                                  "rule: consented-cases", "rule: consented"));
    const auto changes = pol::describe_changes(old_a, other);
    CHECK(std::find(changes.begin(), changes.end(),
                    "rule consented-cases removed (it shared birth_date, family_name, given_name, reporter_phone)") != changes.end());
    CHECK(changes.back().rfind("rule consented added: when all of", 0) == 0);
  }
}
