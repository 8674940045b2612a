// Policy-filtered sharing between two real `jisr serve` processes (issue 5): the platform
// imports the arabic-dev reports under the example MoU agreement; after `jisr sync --wait` the
// institution holds exactly the consented records with only allowed fields; a consent flipped
// to "no" is withdrawn at the peer; and a loop of kill -9 at random moments during syncs ends
// with exactly the expected set.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "adapters/csv_reader.hpp"
#include "node/core/node_config.hpp"
#include "tests/integration/node_process.hpp"

using namespace jisr;
using namespace jisr::testing;
using nlohmann::json;

namespace {

struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  size_t column(const std::string& name) const {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  }
};

Csv read_csv(const std::filesystem::path& path) {
  auto reader = adapters::CsvReader::from_string(read_text(path));
  Csv csv;
  bool first = true;
  for (;;) {
    auto row = reader.next();
    REQUIRE(row);
    if (!row.value()) break;
    if (first) {
      csv.header = row.value()->fields;
      first = false;
    } else {
      csv.rows.push_back(row.value()->fields);
    }
  }
  return csv;
}

std::string cell(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void write_csv(const std::filesystem::path& path, const Csv& csv) {
  std::ofstream out(path, std::ios::binary);
  const auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) out << (i ? "," : "") << cell(r[i]);
    out << "\n";
  };
  line(csv.header);
  for (const auto& r : csv.rows) line(r);
}

std::set<std::string> consented_ids(const Csv& csv) {
  std::set<std::string> ids;
  for (const auto& r : csv.rows) {
    if (r[csv.column("consent_share_iimp")] == "yes") ids.insert(r[csv.column("report_id")]);
  }
  return ids;
}

struct Received {
  std::set<std::string> ids;
  std::set<std::string> field_names;
  size_t lines = 0;
};

Received received_at(const NodeHomeDir& node) {
  auto r = run_jisr({"received", "--dir", node.dir.string(), "--format", "jsonl"});
  REQUIRE(r.exit_code == 0);
  Received out;
  size_t start = 0;
  while (start < r.out.size()) {
    const size_t end = r.out.find('\n', start);
    auto j = json::parse(r.out.substr(start, end - start));
    out.ids.insert(j["record_id"].get<std::string>());
    for (auto& [k, v] : j["fields"].items()) out.field_names.insert(k);
    ++out.lines;
    start = end + 1;
  }
  CHECK(r.out.find("reporter_phone") == std::string::npos);
  return out;
}

void import(const NodeHomeDir& node, const std::filesystem::path& csv) {
  auto r = run_jisr({"import", "--dir", node.dir.string(), "--mapping",
                     (source_dir() / "deploy/demo/platform-reports.mapping.yaml").string(), csv.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

void apply(const NodeHomeDir& node, const char* example) {
  auto r = run_jisr({"policy", "apply", "--dir", node.dir.string(),
                     (source_dir() / "policies/examples" / example).string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

bool connected(const NodeHomeDir& a, const NodeHomeDir& b) {
  return node_peer_state(a.dir, b.org) == "connected";
}

void sync_wait(const NodeHomeDir& node) {
  auto r = run_jisr({"sync", "--dir", node.dir.string(), "--peer", "iimp", "--wait", "--timeout", "120"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("0 change(s) pending") != std::string::npos);
}

}  // namespace

TEST_CASE("sync: consented arabic-dev reports reach the institution; withdrawals; kill -9",
          "[cli][sync][data]") {
  const auto data = shared_data_dir() / "arabic-dev" / "a.csv";
  if (!std::filesystem::exists(data)) {
    WARN("shared data not found at " << data << "; skipped");
    return;
  }
  TempDir tmp;
  auto platform = init_test_node(tmp, "mpfp");
  auto institution = init_test_node(tmp, "iimp");
  pin_peer(platform, institution);
  pin_peer(institution, platform);
  apply(platform, "mpfp-to-iimp.yaml");
  apply(institution, "iimp-to-mpfp.yaml");
  // Small batches: the reports travel in some thirty steps, so a sync keeps its window of
  // steps full, plans ahead on the planner thread, and a kill lands between steps as often
  // as inside one.
  {
    auto cfg = NodeConfig::load(platform.dir / "node.yaml");
    REQUIRE(cfg);
    cfg.value().limits.batch_records = 150;
    REQUIRE(cfg.value().save(platform.dir / "node.yaml"));
  }

  Csv csv = read_csv(data);
  import(platform, data);
  auto expected = consented_ids(csv);
  REQUIRE(expected.size() > 1000);

  {
    ServeProcess p(platform.dir, tmp / "p.log");
    ServeProcess i(institution.dir, tmp / "i.log");
    REQUIRE(eventually([&] { return connected(platform, institution); }, std::chrono::seconds(20)));
    sync_wait(platform);
    auto got = received_at(institution);
    CHECK(got.lines == expected.size());
    CHECK(got.ids == expected);
    // Only fields both the platform's rule shares and the institution's accept list keeps.
    const std::set<std::string> allowed{"given_name", "father_name", "grandfather_name", "family_name",
                                        "mother_name", "sex", "birth_date", "birth_place",
                                        "missing_date", "missing_place", "circumstances"};
    for (const auto& f : got.field_names) {
      INFO(f);
      CHECK(allowed.count(f) == 1);
    }
    CHECK(got.field_names.count("national_id") == 0);

    // The sender's audit log names each record sent once (in its batches' entries), and verifies.
    auto log = run_jisr({"audit", "log", "--dir", platform.dir.string(), "--kind", "batch_disclosed", "--json", "--limit", "100000"});
    REQUIRE(log.exit_code == 0);
    auto entries = json::parse(log.out);
    std::multiset<std::string> disclosed;
    for (const auto& e : entries) {
      for (const auto& r : e.at("records")) disclosed.insert(r.at(0).get<std::string>());
    }
    CHECK(disclosed.size() == expected.size());
    CHECK(std::set<std::string>(disclosed.begin(), disclosed.end()) == expected);
    // `audit record` finds the disclosure of one record inside its batch entry.
    auto one = run_jisr({"audit", "record", "--dir", platform.dir.string(), *expected.begin(), "--json"});
    REQUIRE(one.exit_code == 0);
    const auto found = json::parse(one.out);
    REQUIRE(found.at("disclosures").size() == 1);
    CHECK(found["disclosures"][0]["kind"] == "batch_disclosed");
    CHECK(found["disclosures"][0]["peer"] == "iimp");
    CHECK(found["disclosures"][0]["record_version"] == 1);
    CHECK(run_jisr({"audit", "verify", "--dir", platform.dir.string()}).exit_code == 0);
    CHECK(run_jisr({"audit", "verify", "--dir", institution.dir.string()}).exit_code == 0);

    // Flip one consented report to "no" and re-import: withdrawn at the peer.
    const std::string flipped = *expected.begin();
    for (auto& r : csv.rows) {
      if (r[csv.column("report_id")] == flipped) r[csv.column("consent_share_iimp")] = "no";
    }
    write_csv(tmp / "flipped.csv", csv);
    import(platform, tmp / "flipped.csv");
    sync_wait(platform);
    expected.erase(flipped);
    CHECK(received_at(institution).ids == expected);
  }

  // kill -9 of either node at random moments while changes are being synced.
  std::mt19937 rng(20261129);
  std::set<std::string> consent_ids;
  for (const auto& r : csv.rows) consent_ids.insert(r[csv.column("report_id")]);
  std::vector<std::string> all(consent_ids.begin(), consent_ids.end());
  const int rounds = 10;
  for (int round = 0; round < rounds; ++round) {
    // Change some consents both ways, so each round has disclosures and withdrawals.
    for (int k = 0; k < 150; ++k) {
      const auto& id = all[rng() % all.size()];
      for (auto& r : csv.rows) {
        if (r[csv.column("report_id")] == id) {
          auto& c = r[csv.column("consent_share_iimp")];
          c = c == "yes" ? "no" : "yes";
        }
      }
    }
    write_csv(tmp / "round.csv", csv);
    import(platform, tmp / "round.csv");
    ServeProcess p(platform.dir, tmp / "p.log");
    ServeProcess i(institution.dir, tmp / "i.log");
    // The nodes start syncing as soon as they connect; kill one at a random moment.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));  // the random moment
    if (rng() % 2) {
      p.kill9();
    } else {
      i.kill9();
    }
  }
  ServeProcess p(platform.dir, tmp / "p.log");
  ServeProcess i(institution.dir, tmp / "i.log");
  REQUIRE(eventually([&] { return connected(platform, institution); }, std::chrono::seconds(20)));
  sync_wait(platform);
  const auto final_expected = consented_ids(csv);
  const auto got = received_at(institution);
  CHECK(got.lines == final_expected.size());  // no duplicates
  CHECK(got.ids == final_expected);           // no loss, nothing withdrawn left behind
  CHECK(run_jisr({"audit", "verify", "--dir", platform.dir.string()}).exit_code == 0);
  CHECK(run_jisr({"audit", "verify", "--dir", institution.dir.string()}).exit_code == 0);
}
