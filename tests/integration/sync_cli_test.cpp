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
#include "node/exchange/sync_records.hpp"
#include "tests/integration/node_process.hpp"
#include "tests/node/exchange/format1_received.hpp"

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

TEST_CASE("`jisr received` prints the same whichever format the records are stored in",
          "[cli][sync]") {
  // The same records in two node homes: one as a format-1 store kept them (the provenance in
  // every record), one as they are stored now (the provenance once, named by id). The expected
  // text is what jisr printed for the format-1 store before the format changed.
  TempDir tmp;
  std::vector<exchange::ReceivedRecord> records;
  const auto add = [&](const char* peer, const char* id, const char* policy, const char* purpose,
                       std::vector<std::pair<std::string, std::string>> fields) {
    exchange::ReceivedRecord r;
    r.peer = OrgId(peer);
    r.id = RecordId(id);
    r.version = records.size() + 2;
    for (const auto& [name, value] : fields) r.fields.set(name, value);
    r.sender_agreement = std::string(peer) + "-iimp-mou";
    r.sender_policy_version = policy;
    r.purpose = purpose;
    r.received_at = from_unix_ms(1'780'000'000'123 + static_cast<int64_t>(records.size()));
    r.retain_until = r.received_at + std::chrono::days(3650);
    r.accept_agreement = "iimp-" + std::string(peer) + "-mou";
    r.accept_policy_version = std::string(64, 'c');
    records.push_back(std::move(r));
  };
  const char* policy = "3f2a9c1e5b7d8f0a1c2e3b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6";
  add("mpfp", "P-1", policy, "locate-missing-person",
      {{"given_name", "أحمد"}, {"family_name", "الحسن"}, {"birth_date", "1990"}});
  add("mpfp", "P-2", policy, "locate-missing-person",
      {{"given_name", "مريم"}, {"circumstances", "taken at the \"checkpoint\", 2013"}});
  add("icrc", "C-1", "v1", "tracing", {{"given_name", "Khaled"}, {"sex", "male"}});
  const auto home = [&](const char* name, bool format1) {
    const std::string dir = (tmp.path() / name).string();
    REQUIRE(run_jisr({"init", "--org", "iimp", "--dir", dir}).exit_code == 0);
    auto env = store::Env::open(std::filesystem::path(dir) / "data").value();
    REQUIRE(env->write([&](store::WriteTxn& t) -> Result<void> {
      if (format1) {
        JISR_TRY(t.put(store::Table::kMeta, "format", "1"));
      }
      for (const auto& r : records) {
        if (!format1) {
          JISR_TRY(exchange::put_received(t, r));
          continue;
        }
        JISR_TRY(t.put(store::Table::kReceived, exchange::peer_key(r.peer, r.id.str()),
                       format1_received_value(r)));
      }
      return ok();
    }));
    return dir;
  };
  const std::string old_home = home("format1", true);
  const std::string new_home = home("current", false);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--format", "csv"}, R"(peer,record_id,version,received_at,retain_until,sender_agreement,sender_policy_version,purpose,accept_agreement,given_name,family_name,sex,birth_date,circumstances
icrc,C-1,4,2026-05-28T20:26:40.125Z,2036-05-25T20:26:40.125Z,icrc-iimp-mou,v1,tracing,iimp-icrc-mou,Khaled,,male,,
mpfp,P-1,2,2026-05-28T20:26:40.123Z,2036-05-25T20:26:40.123Z,mpfp-iimp-mou,3f2a9c1e5b7d8f0a1c2e3b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6,locate-missing-person,iimp-mpfp-mou,أحمد,الحسن,,1990,
mpfp,P-2,3,2026-05-28T20:26:40.124Z,2036-05-25T20:26:40.124Z,mpfp-iimp-mou,3f2a9c1e5b7d8f0a1c2e3b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6,locate-missing-person,iimp-mpfp-mou,مريم,,,,"taken at the ""checkpoint"", 2013"
)"},
      {{"--format", "jsonl"}, R"({"accept_agreement":"iimp-icrc-mou","fields":{"given_name":"Khaled","sex":"male"},"peer":"icrc","purpose":"tracing","received_at":"2026-05-28T20:26:40.125Z","record_id":"C-1","retain_until":"2036-05-25T20:26:40.125Z","sender_agreement":"icrc-iimp-mou","sender_policy_version":"v1","version":4}
{"accept_agreement":"iimp-mpfp-mou","fields":{"birth_date":"1990","family_name":"الحسن","given_name":"أحمد"},"peer":"mpfp","purpose":"locate-missing-person","received_at":"2026-05-28T20:26:40.123Z","record_id":"P-1","retain_until":"2036-05-25T20:26:40.123Z","sender_agreement":"mpfp-iimp-mou","sender_policy_version":"3f2a9c1e5b7d8f0a1c2e3b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6","version":2}
{"accept_agreement":"iimp-mpfp-mou","fields":{"circumstances":"taken at the \"checkpoint\", 2013","given_name":"مريم"},"peer":"mpfp","purpose":"locate-missing-person","received_at":"2026-05-28T20:26:40.124Z","record_id":"P-2","retain_until":"2036-05-25T20:26:40.124Z","sender_agreement":"mpfp-iimp-mou","sender_policy_version":"3f2a9c1e5b7d8f0a1c2e3b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6","version":3}
)"},
      {{"--format", "csv", "--peer", "mpfp"}, R"(peer,record_id,version,received_at,retain_until,sender_agreement,sender_policy_version,purpose,accept_agreement,given_name,family_name,birth_date,circumstances
mpfp,P-1,2,2026-05-28T20:26:40.123Z,2036-05-25T20:26:40.123Z,mpfp-iimp-mou,3f2a9c1e5b7d8f0a1c2e3b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6,locate-missing-person,iimp-mpfp-mou,أحمد,الحسن,1990,
mpfp,P-2,3,2026-05-28T20:26:40.124Z,2036-05-25T20:26:40.124Z,mpfp-iimp-mou,3f2a9c1e5b7d8f0a1c2e3b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6,locate-missing-person,iimp-mpfp-mou,مريم,,,"taken at the ""checkpoint"", 2013"
)"},
      {{"--format", "jsonl", "--peer", "icrc"}, R"({"accept_agreement":"iimp-icrc-mou","fields":{"given_name":"Khaled","sex":"male"},"peer":"icrc","purpose":"tracing","received_at":"2026-05-28T20:26:40.125Z","record_id":"C-1","retain_until":"2036-05-25T20:26:40.125Z","sender_agreement":"icrc-iimp-mou","sender_policy_version":"v1","version":4}
)"}};
  for (const auto& [args, expected] : cases) {
    std::vector<std::string> old_args{"received", "--dir", old_home};
    std::vector<std::string> new_args{"received", "--dir", new_home};
    old_args.insert(old_args.end(), args.begin(), args.end());
    new_args.insert(new_args.end(), args.begin(), args.end());
    const auto before = run_jisr(old_args);
    const auto after = run_jisr(new_args);
    INFO(args[1] << (args.size() > 2 ? " --peer " + args[3] : ""));
    REQUIRE(before.exit_code == 0);
    REQUIRE(after.exit_code == 0);
    CHECK(before.out == expected);
    CHECK(after.out == expected);
  }
}
