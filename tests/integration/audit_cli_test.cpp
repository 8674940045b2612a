// `jisr audit` as a user meets it on a fresh node home: empty log, usage errors, one-line
// errors for what is not a node home or not a bundle, export and offline verify.
// (Populated logs and the tamper cases run in tests/node/audit/audit_commands_test.cpp, which
// can write entries through the audit API; this binary links node/core only.)
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/test_support.hpp"

using namespace jisr::testing;
using nlohmann::json;

namespace {
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
// Exactly one line on stderr, in the house format.
bool one_error_line(const RunResult& r) {
  return r.err.rfind("jisr: error: ", 0) == 0 && r.err.find('\n') == r.err.size() - 1;
}
}  // namespace

TEST_CASE("jisr audit on a fresh node home", "[cli][audit]") {
  TempDir tmp;
  const std::string dir = (tmp / "mpfp").string();
  REQUIRE(run_jisr({"init", "--org", "mpfp", "--dir", dir}).exit_code == 0);

  SECTION("an empty log is listed, verifies, and has no head to sign") {
    auto log = run_jisr({"audit", "log", "--dir", dir});
    CHECK(log.exit_code == 0);
    CHECK(contains(log.out, "no audit entries match"));
    auto log_json = run_jisr({"audit", "log", "--dir", dir, "--json"});
    CHECK(json::parse(log_json.out) == json::array());
    auto verify = run_jisr({"audit", "verify", "--dir", dir, "--json"});
    CHECK(verify.exit_code == 0);
    auto report = json::parse(verify.out);
    CHECK(report["ok"] == true);
    CHECK(report["org"] == "mpfp");
    CHECK(report["entries"] == 0);
    auto cp = run_jisr({"audit", "checkpoint", "--dir", dir});
    CHECK(cp.exit_code == 1);
    CHECK(cp.err == "jisr: error: the audit log is empty (audit)\n");
    auto rec = run_jisr({"audit", "record", "--dir", dir, "R-1", "--json"});
    CHECK(rec.exit_code == 0);
    CHECK(json::parse(rec.out)["disclosures"] == json::array());
  }
  SECTION("usage errors exit 2 with one line") {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"audit"},
             {"audit", "verify"},
             {"audit", "verify", "--dir", dir, "--bundle", "x.json"},
             {"audit", "verify", "--dir", dir, "--pubkey", "k"},
             {"audit", "log", "--dir", dir, "--kind", "nope"},
             {"audit", "log", "--dir", dir, "--since", "2026-13-01"},
             {"audit", "log", "--dir", dir, "--limit", "many"},
             {"audit", "record", "--dir", dir, "R 1"},
             {"audit", "export", "--dir", dir}}) {
      auto r = run_jisr(args);
      INFO(args.size() << " " << r.err);
      CHECK(r.exit_code == 2);
      CHECK(one_error_line(r));
    }
  }
  SECTION("not a node home") {
    auto r = run_jisr({"audit", "verify", "--dir", (tmp / "nowhere").string()});
    CHECK(r.exit_code == 1);
    CHECK(one_error_line(r));
    CHECK(contains(r.err, "not a node home"));
  }
  SECTION("export and verify offline; what is not a bundle is one clear error") {
    const std::string bundle = (tmp / "audit.json").string();
    auto e = run_jisr({"audit", "export", "--dir", dir, "--out", bundle, "--json"});
    REQUIRE(e.exit_code == 0);
    CHECK(json::parse(e.out)["entries"] == 0);
    auto v = run_jisr({"audit", "verify", "--bundle", bundle, "--pubkey", dir + "/pki/sign.pub"});
    CHECK(v.exit_code == 0);
    CHECK(contains(v.out, "ok: the chain"));

    // Verified against another organisation's published key: refused.
    const std::string other = (tmp / "iimp").string();
    REQUIRE(run_jisr({"init", "--org", "iimp", "--dir", other}).exit_code == 0);
    auto wrong = run_jisr({"audit", "verify", "--bundle", bundle, "--pubkey", other + "/pki/sign.pub"});
    CHECK(wrong.exit_code == 1);
    CHECK(contains(wrong.out, "FAIL the bundle is signed by key"));
    CHECK(one_error_line(wrong));

    write_text(tmp / "junk.json", "this is not json");
    auto junk = run_jisr({"audit", "verify", "--bundle", (tmp / "junk.json").string()});
    CHECK(junk.exit_code == 1);
    CHECK(junk.err == "jisr: error: not valid JSON (" + (tmp / "junk.json").string() + ")\n");

    auto j = json::parse(read_text(bundle));
    j["signed_by"] = "someone";
    write_text(tmp / "extra.json", j.dump());
    auto extra = run_jisr({"audit", "verify", "--bundle", (tmp / "extra.json").string()});
    CHECK(extra.exit_code == 1);
    CHECK(contains(extra.err, "unknown member 'signed_by'"));

    auto missing = run_jisr({"audit", "verify", "--bundle", (tmp / "absent.json").string()});
    CHECK(missing.exit_code == 1);
    CHECK(one_error_line(missing));
  }
}
