// `jisr policy ...` as a policy officer runs it: check and test (with exit codes and every
// FILE:LINE:COL error at once), explain and diff against records imported into a real node
// home, apply with its LMDB history, and the shipped example agreements.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>

#include "tests/integration/node_process.hpp"
#include "tests/test_support.hpp"

using namespace jisr::testing;

namespace {

std::string example(const std::string& name) {
  return (source_dir() / "policies" / "examples" / name).string();
}

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A node home for mpfp with four records imported through `jisr import`.
struct Node {
  TempDir tmp;
  std::string home = (tmp / "node").string();
  Node() {
    REQUIRE(run_jisr({"init", "--org", "mpfp", "--dir", home, "--listen", "127.0.0.1:0"}).exit_code == 0);
    write_text(tmp / "records.csv",
               "id,given_name,family_name,birth_date,status,consent,phone,nid\n"
               "R1,Ahmad,Hassan,1990-05-17,open,yes,0999,123\n"
               "R2,Khalid,Omar,1985,located,yes,,\n"
               "R3,Sara,Ali,,open,no,0988,\n"
               "R4,Mona,Saleh,1970-01-01,closed,yes,,\n");
    write_text(tmp / "map.yaml",
               "id: id\nfields:\n  given_name: given_name\n  family_name: family_name\n"
               "  birth_date: birth_date\n  status: status\n  consent_share_iimp: consent\n"
               "  reporter_phone: phone\n  national_id: nid\n");
    auto r = run_jisr({"import", "--dir", home, "--mapping", (tmp / "map.yaml").string(),
                       (tmp / "records.csv").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
};

const char* kBroken = R"(agreement: broken
peer: iimp
peer: mpfp
valid_from: 2026-13-01
purposes: [p]
colour: blue
share:
  rules:
    - id: r1
      when: { field: consent_share_iimp, equals: "yes" }
    - id: r2
      fields: [given_name, nickname]
      transform: { given_name: blur }
)";

}  // namespace

TEST_CASE("the shipped example agreements pass their tests", "[cli][policy]") {
  auto r = run_jisr({"policy", "test", example("mpfp-to-iimp.yaml"), example("iimp-to-mpfp.yaml")});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK_FALSE(contains(r.out, "FAIL"));
  CHECK(contains(r.out, "12 passed, 0 failed; rule coverage: 1 of 1 rules exercised"));
  CHECK(contains(r.out, "6 passed, 0 failed; rule coverage: 1 of 1 rules exercised"));
  CHECK(contains(r.out, "  PASS  the reporter's phone never leaves\n"));
  auto check = run_jisr({"policy", "check", example("mpfp-to-iimp.yaml"), example("iimp-to-mpfp.yaml")});
  CHECK(check.exit_code == 0);
  CHECK(count_lines(check.out) == 2);
  CHECK(contains(check.out, "ok (agreement mpfp-iimp-mou, peer iimp, 1 rules, version "));
}

TEST_CASE("policy check reports every error at once with FILE:LINE:COL", "[cli][policy]") {
  TempDir tmp;
  const auto file = (tmp / "broken.yaml").string();
  write_text(file, kBroken);
  auto r = run_jisr({"policy", "check", file});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(contains(r.err, file + ":3:1: duplicate key 'peer'\n"));
  CHECK(contains(r.err, file + ":6:1: unknown key 'colour'"));
  CHECK(contains(r.err, file + ":4:13: valid_from '2026-13-01' is not a valid date (YYYY-MM-DD)\n"));
  CHECK(contains(r.err, file + ":9:7: rule 'r1' has no 'fields': a rule must say what leaves\n"));
  CHECK(contains(r.err, file + ":12:28: unknown field 'nickname' (not in record schema 'missing-person')\n"));
  CHECK(contains(r.err, file + ":13:32: unknown transform 'blur' (expected one of: year_only, year_month, drop)\n"));
  CHECK(contains(r.err, "jisr: error: 1 of 1 agreement files have errors (policy check)\n"));
  CHECK(count_lines(r.err) == 7);

  SECTION("test refuses a broken file too, and a file without tests") {
    auto t = run_jisr({"policy", "test", file});
    CHECK(t.exit_code == 1);
    CHECK(contains(t.err, ":3:1: duplicate key 'peer'"));
    write_text(tmp / "untested.yaml",
               "agreement: a\npeer: iimp\nvalid_from: 2026-01-01\npurposes: [p]\nshare:\n  rules:\n"
               "    - { id: r, fields: [given_name] }\n");
    auto u = run_jisr({"policy", "test", (tmp / "untested.yaml").string()});
    CHECK(u.exit_code == 1);
    CHECK(contains(u.out, "no tests: an agreement must carry tests"));
    CHECK(contains(u.out, "rule r is not exercised by any test"));
    CHECK(contains(u.err, "jisr: error: 1 of 1 agreement files failed their tests (policy test)"));
  }
  SECTION("a failing test prints FAIL with the reason and exits 1") {
    write_text(tmp / "failing.yaml",
               "agreement: a\npeer: iimp\nvalid_from: 2026-01-01\npurposes: [p]\nshare:\n  rules:\n"
               "    - { id: r, fields: [given_name], when: { field: status, equals: open } }\n"
               "tests:\n  - name: closed is shared\n    record: { status: closed }\n    expect: { shared: true }\n");
    auto f = run_jisr({"policy", "test", (tmp / "failing.yaml").string()});
    CHECK(f.exit_code == 1);
    CHECK(contains(f.out, "  FAIL  closed is shared (line 9)\n          expected shared: true, got not shared (no rule matched)\n"));
    auto j = run_jisr({"policy", "test", "--json", (tmp / "failing.yaml").string()});
    CHECK(j.exit_code == 1);
    CHECK(contains(j.out, "\"passed\": false"));
  }
  SECTION("a file that does not exist") {
    auto m = run_jisr({"policy", "check", (tmp / "nope.yaml").string()});
    CHECK(m.exit_code == 1);
    CHECK(contains(m.err, "nope.yaml: cannot read file"));
  }
  SECTION("usage errors exit 2") {
    CHECK(run_jisr({"policy"}).exit_code == 2);
    CHECK(run_jisr({"policy", "check"}).exit_code == 2);
    CHECK(run_jisr({"policy", "explain", "--peer", "iimp", "--record", "R1"}).exit_code == 2);
  }
}

TEST_CASE("policy check and test use the node's schema with --dir", "[cli][policy]") {
  Node node;
  // A node whose schema lacks a field the agreement uses refuses the agreement.
  auto schema = read_text(std::filesystem::path(node.home) / "schema.yaml");
  const auto pos = schema.find("  circumstances:");
  REQUIRE(pos != std::string::npos);
  schema.erase(pos, schema.find('\n', pos) - pos + 1);
  write_text(std::filesystem::path(node.home) / "schema.yaml", schema);
  auto r = run_jisr({"policy", "check", "--dir", node.home, example("mpfp-to-iimp.yaml")});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "unknown field 'circumstances'"));
  CHECK(run_jisr({"policy", "check", example("mpfp-to-iimp.yaml")}).exit_code == 0);
}

TEST_CASE("apply, history, explain and diff on a node", "[cli][policy]") {
  Node node;
  auto none = run_jisr({"policy", "explain", "--dir", node.home, "--peer", "iimp", "--record", "R1"});
  CHECK(none.exit_code == 1);
  CHECK(contains(none.err, "no agreement with peer iimp is in force"));

  auto applied = run_jisr({"policy", "apply", "--dir", node.home, example("mpfp-to-iimp.yaml")});
  INFO(applied.err);
  REQUIRE(applied.exit_code == 0);
  CHECK(contains(applied.out, "applied agreement mpfp-iimp-mou for peer iimp (12 tests passed)\n"));
  CHECK(contains(applied.out, "  previous: none\n"));
  CHECK(contains(applied.out, "  node:     not running"));
  CHECK(read_text(std::filesystem::path(node.home) / "policies" / "mpfp-iimp-mou.yaml") ==
        read_text(example("mpfp-to-iimp.yaml")));
  auto check = run_jisr({"policy", "check", example("mpfp-to-iimp.yaml")});
  const auto version = check.out.substr(check.out.find("version ") + 8, 64);
  CHECK(contains(applied.out, "  version:  " + version + "\n"));

  SECTION("explain, English") {
    auto e = run_jisr({"policy", "explain", "--dir", node.home, "--peer", "iimp", "--record", "R1", "--at", "2026-11-29"});
    CHECK(e.exit_code == 0);
    CHECK(e.out ==
          "Record R1 WOULD be shared with iimp under agreement mpfp-iimp-mou (version " + version.substr(0, 12) +
              "…), rule consented-cases, for purpose locate-missing-person.\n"
              "  leaves: birth_date (as year only), family_name, given_name\n"
              "  withheld: consent_share_iimp (not in the rule's fields), national_id (on the never list), "
              "reporter_phone (on the never list), status (not in the rule's fields)\n");
    for (const char* value : {"Ahmad", "Hassan", "0999", "123", "1990"}) CHECK_FALSE(contains(e.out, value));
  }
  SECTION("explain, Arabic, not shared") {
    auto e = run_jisr({"policy", "explain", "--dir", node.home, "--peer", "iimp", "--record", "R3", "--lang", "ar", "--at", "2026-11-29"});
    CHECK(e.exit_code == 0);
    CHECK(e.out ==
          "السجل R3 لن يُشارَك مع iimp بموجب الاتفاقية mpfp-iimp-mou (الإصدار " + version.substr(0, 12) +
              "…)، لغرض locate-missing-person: لا توجد قاعدة تسمح بمشاركته.\n"
              "  القاعدة consented-cases: شرط غير مستوفى: consent_share_iimp يساوي \"yes\"\n"
              "  لن يُرسَل أي حقل من حقول السجل (عددها 5).\n");
  }
  SECTION("explain --json, refusals") {
    auto j = run_jisr({"policy", "explain", "--dir", node.home, "--peer", "iimp", "--record", "R4", "--json", "--at", "2026-11-29"});
    CHECK(j.exit_code == 0);
    CHECK(contains(j.out, "\"shared\": false"));
    CHECK(contains(j.out, "\"why\": \"no_rule_matched\""));
    auto missing = run_jisr({"policy", "explain", "--dir", node.home, "--peer", "iimp", "--record", "R99"});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err == "jisr: error: no such record (R99)\n");
    CHECK(run_jisr({"policy", "explain", "--dir", node.home, "--peer", "iimp", "--record", "R1", "--lang", "fr"}).exit_code == 2);
    auto late = run_jisr({"policy", "explain", "--dir", node.home, "--peer", "iimp", "--record", "R1", "--at", "2031-01-01"});
    CHECK(contains(late.out, "the agreement is not in force on 2031-01-01 (valid 2026-03-17 to 2029-03-16)."));
  }
  SECTION("diff: counts and rule changes, changes nothing") {
    TempDir tmp;
    auto text = read_text(example("mpfp-to-iimp.yaml"));
    const std::string from = "          - { field: status, not_in: [closed] }\n";
    const auto pos = text.find(from);
    REQUIRE(pos != std::string::npos);
    text.replace(pos, from.size(), "          - { field: status, not_in: [closed, located] }\n");
    const auto b = text.find("transform: { birth_date: year_only }");
    REQUIRE(b != std::string::npos);
    text.replace(b, std::string("transform: { birth_date: year_only }").size(),
                 "transform: { birth_date: year_month }");
    const auto new_file = (tmp / "new.yaml").string();
    write_text(new_file, text);
    auto d = run_jisr({"policy", "diff", "--dir", node.home, example("mpfp-to-iimp.yaml"), new_file, "--at", "2026-11-29"});
    INFO(d.err);
    CHECK(d.exit_code == 0);
    CHECK(contains(d.out, "  records in the store:  4\n  shared before:         2\n  shared after:          1\n"
                          "  newly shared:          0\n  no longer shared:      1\n"));
    CHECK(contains(d.out, "  birth_date: stops leaving for 1, leaves in another form for 1\n"));
    CHECK(contains(d.out, "  family_name: stops leaving for 1\n"));
    CHECK(contains(d.out, "  - rule consented-cases transforms: birth_date: year_only -> birth_date: year_month\n"));
    auto j = run_jisr({"policy", "diff", "--dir", node.home, example("mpfp-to-iimp.yaml"), new_file, "--json", "--at", "2026-11-29"});
    CHECK(contains(j.out, "\"no_longer_shared\": 1"));
    auto other_peer = run_jisr({"policy", "diff", "--dir", node.home, example("mpfp-to-iimp.yaml"), example("iimp-to-mpfp.yaml")});
    CHECK(other_peer.exit_code == 1);
    CHECK(contains(other_peer.err, "the agreements govern different peers (iimp and mpfp)"));
    CHECK(run_jisr({"policy", "history", "--dir", node.home, "--json"}).out.find("\"seq\": 2") == std::string::npos);
  }
  SECTION("re-apply is a no-op; a new version is recorded with its previous; history") {
    auto again = run_jisr({"policy", "apply", "--dir", node.home, example("mpfp-to-iimp.yaml")});
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "is already active at this version"));
    TempDir tmp;
    auto text = read_text(example("mpfp-to-iimp.yaml"));
    text.replace(text.find("retain_days: 730"), 16, "retain_days: 365");
    write_text(tmp / "v2.yaml", text);
    auto v2 = run_jisr({"policy", "apply", "--dir", node.home, (tmp / "v2.yaml").string(), "--json"});
    CHECK(v2.exit_code == 0);
    CHECK(contains(v2.out, "\"previous\": \"" + version + "\""));
    auto h = run_jisr({"policy", "history", "--dir", node.home});
    CHECK(h.exit_code == 0);
    CHECK(count_lines(h.out) == 3);
    CHECK(contains(h.out, "mpfp-iimp-mou            iimp     " + version.substr(0, 12) + " -"));
    const auto first_entry = h.out.substr(0, h.out.find('\n', h.out.find('\n') + 1));
    CHECK_FALSE(contains(first_entry, "(active)"));
    CHECK(contains(h.out, " " + version.substr(0, 12) + "  (active)\n"));
    CHECK(count_lines(run_jisr({"policy", "history", "--dir", node.home, "--peer", "mpfp"}).out) == 1);
    auto hj = run_jisr({"policy", "history", "--dir", node.home, "--json"});
    CHECK(contains(hj.out, "\"seq\": 2"));
    CHECK(contains(hj.out, "\"previous\": \"" + version + "\""));
  }
  SECTION("apply refuses a file that fails check or its tests, and changes nothing") {
    TempDir tmp;
    write_text(tmp / "broken.yaml", kBroken);
    auto b = run_jisr({"policy", "apply", "--dir", node.home, (tmp / "broken.yaml").string()});
    CHECK(b.exit_code == 1);
    CHECK(contains(b.err, "does not pass check; nothing applied"));
    auto text = read_text(example("mpfp-to-iimp.yaml"));
    const std::string closed_guard = "          - { field: status, not_in: [closed] }\n";
    text.erase(text.find(closed_guard), closed_guard.size());
    write_text(tmp / "leaky.yaml", text);
    auto l = run_jisr({"policy", "apply", "--dir", node.home, (tmp / "leaky.yaml").string()});
    CHECK(l.exit_code == 1);
    CHECK(contains(l.err, "FAIL  a closed case does not leave even with consent"));
    CHECK(contains(l.err, "1 of 12 embedded tests failed; nothing applied"));
    auto h = run_jisr({"policy", "history", "--dir", node.home, "--json"});
    CHECK_FALSE(contains(h.out, "\"seq\": 2"));
    CHECK(read_text(std::filesystem::path(node.home) / "policies" / "mpfp-iimp-mou.yaml") ==
          read_text(example("mpfp-to-iimp.yaml")));
  }
}

TEST_CASE("apply tells a running node to reload its agreements", "[cli][policy][serve]") {
  TempDir tmp;
  const auto node = init_test_node(tmp, "mpfp");
  const auto log = tmp / "serve.log";
  ServeProcess serve(node.dir, log);
  REQUIRE(eventually([&] { return node_status(node.dir).has_value(); }));
  auto r = run_jisr({"policy", "apply", "--dir", node.dir.string(), example("mpfp-to-iimp.yaml"), "--json"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "\"node\": \"reloaded\""));
  CHECK(eventually([&] { return contains(read_text(log), "agreements reloaded: 1 in force"); }));
  CHECK(serve.stop(SIGTERM, std::chrono::seconds(10)) == 0);
  // With the node stopped, apply still records and writes the file, and says the node is down.
  auto text = read_text(example("mpfp-to-iimp.yaml"));
  text.replace(text.find("retain_days: 730"), 16, "retain_days: 700");
  write_text(tmp / "v2.yaml", text);
  auto down = run_jisr({"policy", "apply", "--dir", node.dir.string(), (tmp / "v2.yaml").string()});
  CHECK(down.exit_code == 0);
  CHECK(contains(down.out, "  node:     not running"));
}
