// Privacy-preserving matching between two real `jisr serve` processes (issue 6): the families'
// platform (mpfp) imports the demo reports, the institution (iimp) the demo cases, each under
// its example agreement; `jisr match --method psi` on the platform finds the persons both hold
// (Arabic script on one side, Latin on the other); `jisr matches list|show|confirm|reject`
// review them, a confirm reveals only the institution's `reveal` fields, logged on both sides;
// the institution refuses bloom (its agreement lists psi only) and queries over its quota.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "tests/integration/node_process.hpp"

using namespace jisr;
using namespace jisr::testing;
using nlohmann::json;

namespace {

void import(const NodeHomeDir& node, const char* csv, const char* mapping) {
  auto r = run_jisr({"import", "--dir", node.dir.string(), "--mapping", (source_dir() / "deploy/demo" / mapping).string(),
                     (source_dir() / "deploy/demo" / csv).string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

void apply(const NodeHomeDir& node, const std::filesystem::path& file) {
  auto r = run_jisr({"policy", "apply", "--dir", node.dir.string(), file.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// Writes tmp/NAME: the example agreement NAME with `from` replaced by `to`.
void write_example_variant(const std::string& name, const std::string& from, const std::string& to,
                           const std::filesystem::path& tmp) {
  std::ifstream in(source_dir() / "policies/examples" / name, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(text.find(from) != std::string::npos);
  text.replace(text.find(from), from.size(), to);
  std::ofstream(tmp / name, std::ios::binary) << text;
}

json audit_entries(const NodeHomeDir& node, const char* kind) {
  auto r = run_jisr({"audit", "log", "--dir", node.dir.string(), "--kind", kind, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("match: psi between two nodes, review, reveal, refusals", "[cli][match]") {
  TempDir tmp;
  auto platform = init_test_node(tmp, "mpfp");
  auto institution = init_test_node(tmp, "iimp");
  pin_peer(platform, institution);
  pin_peer(institution, platform);
  apply(platform, source_dir() / "policies/examples/mpfp-to-iimp.yaml");
  // The institution's example agreement with a small daily quota, so that the second job of
  // the day is refused (8 demo reports per job).
  write_example_variant("iimp-to-mpfp.yaml", "max_records_per_day: 5000", "max_records_per_day: 12", tmp.path());
  apply(institution, tmp / "iimp-to-mpfp.yaml");
  import(platform, "platform-reports.csv", "platform-reports.mapping.yaml");
  import(institution, "institution-cases.csv", "institution-cases.mapping.yaml");

  // Without a running node a job cannot run: one clear line.
  {
    auto r = run_jisr({"match", "--dir", platform.dir.string(), "--peer", "iimp"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("node not running") != std::string::npos);
  }
  CHECK(run_jisr({"match", "--dir", platform.dir.string(), "--peer", "iimp", "--method", "fuzzy"}).exit_code == 2);
  CHECK(run_jisr({"match", "--dir", platform.dir.string()}).exit_code == 2);

  ServeProcess p(platform.dir, tmp / "p.log");
  ServeProcess i(institution.dir, tmp / "i.log");
  REQUIRE(eventually([&] { return node_peer_state(platform.dir, "iimp") == "connected"; }, std::chrono::seconds(20)));

  auto job = run_jisr({"match", "--dir", platform.dir.string(), "--peer", "iimp", "--method", "psi", "--json"});
  INFO(job.out << job.err);
  REQUIRE(job.exit_code == 0);
  auto outcome = json::parse(job.out);
  CHECK(outcome["ok"] == true);
  CHECK(outcome["method"] == "psi");
  CHECK(outcome["quota_left"].get<int>() == 12 - outcome["query_records"].get<int>());

  auto list = run_jisr({"matches", "list", "--dir", platform.dir.string(), "--json"});
  REQUIRE(list.exit_code == 0);
  auto candidates = json::parse(list.out);
  std::map<std::string, uint64_t> by_record;
  for (const auto& c : candidates) {
    CHECK(c["peer"] == "iimp");
    CHECK(c["status"] == "candidate");
    CHECK_FALSE(c["evidence"].get<std::string>().empty());
    by_record[c["record"].get<std::string>()] = c["id"].get<uint64_t>();
  }
  // The same persons in Arabic script (platform) and Latin script (institution).
  for (const char* id : {"D-P001", "D-P002", "D-P005", "D-P006"}) {
    INFO(id << " in " << list.out);
    CHECK(by_record.count(id) == 1);
  }
  // D-P007 (Husain, the twin brother of D-P006 Hassan) meets Hassan's case too: the phonetic
  // skeleton folds both names alike, so psi finds the same key kinds for both. Our own records
  // say the twins are two persons, but neither claim is weaker than the other, so both stay for
  // a reviewer (scorer.hpp resolve_claims); nothing was set aside.
  CHECK(outcome["set_aside"] == 0);
  CHECK(by_record.count("D-P006") == 1);
  CHECK(by_record.count("D-P007") == 1);
  CHECK(by_record.count("D-P003") == 0);  // nobody like him at the institution
  // The text listing shows ids and evidence, never names.
  auto text = run_jisr({"matches", "list", "--dir", platform.dir.string()});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("D-P001") != std::string::npos);
  CHECK(text.out.find("Ahmad") == std::string::npos);
  CHECK(text.out.find("\u0623\u062D\u0645\u062F") == std::string::npos);  // أحمد

  // Both sides logged the job with counts.
  CHECK(audit_entries(platform, "match_job").size() == 1);
  CHECK(audit_entries(institution, "match_job").size() == 1);

  REQUIRE(by_record.count("D-P001") == 1);
  const std::string confirmed = std::to_string(by_record["D-P001"]);
  auto confirm = run_jisr({"matches", "confirm", confirmed, "--dir", platform.dir.string()});
  INFO(confirm.out << confirm.err);
  REQUIRE(confirm.exit_code == 0);
  auto show = run_jisr({"matches", "show", confirmed, "--dir", platform.dir.string(), "--json"});
  REQUIRE(show.exit_code == 0);
  auto shown = json::parse(show.out);
  CHECK(shown["status"] == "confirmed");
  CHECK(shown["revealed"]["given_name"] == "Ahmad");
  CHECK(shown["revealed"]["family_name"] == "Al-Ali");
  CHECK_FALSE(shown["revealed"].contains("father_name"));  // not in the institution's reveal list
  auto show_text = run_jisr({"matches", "show", confirmed, "--dir", platform.dir.string()});
  CHECK(show_text.out.find("given_name: Ahmad") != std::string::npos);
  CHECK(audit_entries(platform, "reveal").size() == 1);
  auto revealed_there = audit_entries(institution, "reveal");
  REQUIRE(revealed_there.size() == 1);
  CHECK(revealed_there[0].value("record_id", std::string()) == "D-C101");

  REQUIRE(by_record.count("D-P002") == 1);
  const std::string rejected = std::to_string(by_record["D-P002"]);
  CHECK(run_jisr({"matches", "reject", rejected, "--dir", platform.dir.string()}).exit_code == 0);
  auto after = json::parse(run_jisr({"matches", "list", "--dir", platform.dir.string(), "--json", "--status", "rejected"}).out);
  REQUIRE(after.size() == 1);
  CHECK(after[0]["record"] == "D-P002");
  {
    auto r = run_jisr({"matches", "confirm", rejected, "--dir", platform.dir.string()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("rejected") != std::string::npos);
    auto missing = run_jisr({"matches", "show", "9999", "--dir", platform.dir.string()});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err == "jisr: error: no such match candidate (9999)\n");
  }

  // The institution's agreement lists psi only.
  {
    auto r = run_jisr({"match", "--dir", platform.dir.string(), "--peer", "iimp", "--method", "bloom"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("method bloom is not allowed by agreement iimp-mpfp-mou") != std::string::npos);
  }
  // A second psi job the same UTC day goes over the quota of 12 records.
  {
    auto r = run_jisr({"match", "--dir", platform.dir.string(), "--peer", "iimp"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("match quota exceeded") != std::string::npos);
    auto refused = audit_entries(institution, "quota_refused");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].value("peer", std::string()) == "mpfp");
  }
  CHECK(run_jisr({"audit", "verify", "--dir", platform.dir.string()}).exit_code == 0);
  CHECK(run_jisr({"audit", "verify", "--dir", institution.dir.string()}).exit_code == 0);
}

TEST_CASE("match: scheduled jobs run on their own when our records changed", "[cli][match]") {
  TempDir tmp;
  auto platform = init_test_node(tmp, "mpfp");
  auto institution = init_test_node(tmp, "iimp");
  pin_peer(platform, institution);
  pin_peer(institution, platform);
  // The platform's example agreement with a two-second schedule instead of six hours.
  write_example_variant("mpfp-to-iimp.yaml", "every: 6h", "every: 2s", tmp.path());
  apply(platform, tmp / "mpfp-to-iimp.yaml");
  apply(institution, source_dir() / "policies/examples/iimp-to-mpfp.yaml");
  import(platform, "platform-reports.csv", "platform-reports.mapping.yaml");
  import(institution, "institution-cases.csv", "institution-cases.mapping.yaml");

  ServeProcess p(platform.dir, tmp / "p.log");
  ServeProcess i(institution.dir, tmp / "i.log");
  // Nobody runs `jisr match`: the node does, one period after it started.
  REQUIRE(eventually([&] { return audit_entries(platform, "match_job").size() == 1; }, std::chrono::seconds(30)));
  auto first = json::parse(run_jisr({"matches", "list", "--dir", platform.dir.string(), "--json"}).out);
  std::set<std::string> records;
  for (const auto& c : first) records.insert(c["record"].get<std::string>());
  CHECK(records.count("D-P001") == 1);
  auto status = run_jisr({"status", "--dir", platform.dir.string()});
  CHECK(status.out.find("match jobs every 2 s when our records changed; last psi job") != std::string::npos);

  // A new report: the next scheduled job queries again; pairs found before are not new
  // candidates, so each (record, peer handle) appears once.
  {
    std::ifstream in(source_dir() / "deploy/demo/platform-reports.csv", std::ios::binary);
    std::string header, row;
    std::getline(in, header);
    std::getline(in, row);  // D-P001
    row.replace(row.find("D-P001"), 6, "D-P101");
    std::ofstream(tmp / "new.csv", std::ios::binary) << header << "\n" << row << "\n";
    auto r = run_jisr({"import", "--dir", platform.dir.string(), "--mapping",
                       (source_dir() / "deploy/demo/platform-reports.mapping.yaml").string(), (tmp / "new.csv").string()});
    REQUIRE(r.exit_code == 0);
  }
  REQUIRE(eventually([&] { return audit_entries(platform, "match_job").size() == 2; }, std::chrono::seconds(30)));
  auto second = json::parse(run_jisr({"matches", "list", "--dir", platform.dir.string(), "--json"}).out);
  std::set<std::pair<std::string, std::string>> pairs;
  std::set<std::string> second_records;
  for (const auto& c : second) {
    CHECK(pairs.insert({c["record"].get<std::string>(), c["handle"].get<std::string>()}).second);
    second_records.insert(c["record"].get<std::string>());
  }
  CHECK(second_records.count("D-P101") == 1);
  CHECK(second.size() > first.size());
  CHECK(run_jisr({"audit", "verify", "--dir", platform.dir.string()}).exit_code == 0);
}
