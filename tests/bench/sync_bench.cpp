// sync_bench: records/s of policy-filtered sharing end to end, through the real `jisr` binary
// as an administrator runs it: import -> policy at send time -> TLS 1.3 -> receiver's accept
// rules and store -> signed receipt -> sender's commit and audit. Printed beside the raw LMDB
// write rate of the same records measured in the same run, with the peak RSS of each node.
// A program, not a test: it asserts nothing.
//   sync_bench [RECORDS] [JISR_BINARY] [RUNS]   (defaults: 100000, $JISR_BIN or ./node/app/jisr, 3)
#include <fmt/format.h>
#include <lmdb.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "node/core/record.hpp"
#include "tests/bench/bench_data.hpp"
#include "tests/bench/node_pair.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

fs::path source_dir = fs::path(JISR_BENCH_SOURCE_DIR);

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The baseline: raw LMDB puts of the same number of records of the same encoded size, in the
// same batch size, with the same durability (one fsync per transaction).
double raw_lmdb_rate(const fs::path& dir, size_t rows, size_t batch) {
  fs::create_directories(dir);
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_mapsize(env, size_t{4} << 30);
  mdb_env_set_maxdbs(env, 4);
  mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600);
  MDB_dbi dbi;
  MDB_txn* txn;
  mdb_txn_begin(env, nullptr, 0, &txn);
  mdb_dbi_open(txn, "received", MDB_CREATE, &dbi);
  mdb_txn_commit(txn);
  jisr::FieldMap f;
  for (const char* name : {"given_name", "father_name", "grandfather_name", "family_name", "mother_name"}) {
    f.set(name, "عبد الرحمن");
  }
  f.set("sex", "male");
  f.set("birth_date", "1980");
  f.set("birth_place", "حلب");
  f.set("missing_date", "2013-05");
  f.set("missing_place", "دير الزور");
  f.set("circumstances", "فقد الاتصال به، بعد خروجه");
  const std::string value = jisr::encode_fields(f);
  const auto t0 = Clock::now();
  for (size_t i = 0; i < rows;) {
    mdb_txn_begin(env, nullptr, 0, &txn);
    for (size_t n = 0; n < batch && i < rows; ++n, ++i) {
      const std::string key = fmt::format("mpfp:R{:08}", i);
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      MDB_val v{value.size(), const_cast<char*>(value.data())};
      mdb_put(txn, dbi, &k, &v, 0);
    }
    mdb_txn_commit(txn);
  }
  const double secs = seconds_since(t0);
  mdb_env_close(env);
  return static_cast<double>(rows) / secs;
}

// One sync on fresh nodes: import, start both nodes, sync, and the rates seen.
struct SyncRun {
  size_t shared = 0;       // records consented and shared
  double import_secs = 0;
  double sync_secs = 0;    // from starting the nodes to the last receipt
  double waited_secs = 0;  // until `sync --wait` returned
  double connect_secs = 0;
  long rss_platform_kib = 0;
  long rss_institution_kib = 0;
};

std::optional<SyncRun> run_once(const std::string& jisr_bin, size_t rows) {
  jisr::bench::NodePair nodes(jisr_bin, "sync-bench");
  const auto& tmp = nodes.dir();
  const auto p = nodes.home("mpfp").string(), i = nodes.home("iimp").string();
  nodes.init("mpfp", "iimp");
  nodes.must({"policy", "apply", "--dir", p, (source_dir / "policies/examples/mpfp-to-iimp.yaml").string()});
  nodes.must({"policy", "apply", "--dir", i, (source_dir / "policies/examples/iimp-to-mpfp.yaml").string()});
  const auto csv = jisr::bench::generate_reports_csv(rows, tmp / "reports.csv");
  SyncRun run;
  const auto t_import = Clock::now();
  nodes.must({"import", "--dir", p, "--mapping", (source_dir / "deploy/demo/platform-reports.mapping.yaml").string(), csv});
  run.import_secs = seconds_since(t_import);

  // The clock starts with the nodes: a node sends as soon as its peer is connected, before
  // anyone could ask it to, so timing from `sync --wait` would miss the first batches. The
  // figure includes starting both nodes and the TLS handshake (printed beside it).
  const auto t_sync = Clock::now();
  const int64_t start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
  if (!nodes.serve("mpfp", "iimp")) {
    std::fprintf(stderr, "the nodes did not connect; see %s\n", tmp.c_str());
    return std::nullopt;
  }
  run.connect_secs = seconds_since(t_sync);
  const int sync_rc = nodes.run({"sync", "--dir", p, "--wait", "--timeout", "3600"});
  run.waited_secs = seconds_since(t_sync);
  // The sync ends when the receiver signs its last receipt (everything durable there); the
  // sender's status holds that receipt's time. `sync --wait` returns later by the harness's
  // own costs: polling for the connection every 50 ms and starting the jisr processes.
  run.sync_secs = run.waited_secs;
  {
    const auto status = nlohmann::json::parse(nodes.output({"status", "--dir", p, "--json"}), nullptr, false);
    int64_t last_ms = 0;
    if (status.is_object() && status.contains("sync") && status.at("sync").is_object()) {
      for (const auto& sharing : status.at("sync")) {
        if (sharing.is_object() && sharing.contains("last_receipt_ms") && sharing.at("last_receipt_ms").is_number_integer()) {
          last_ms = std::max(last_ms, sharing.at("last_receipt_ms").get<int64_t>());
        }
      }
    }
    if (last_ms > start_ms) run.sync_secs = static_cast<double>(last_ms - start_ms) / 1000.0;
  }
  run.rss_platform_kib = nodes.peak_rss_kib(0);
  run.rss_institution_kib = nodes.peak_rss_kib(1);
  nodes.stop();
  if (sync_rc != 0) {
    std::fprintf(stderr, "sync failed; see %s\n", (tmp / "steps.log").c_str());
    return std::nullopt;
  }
  // How many were shared (consented): count the lines of the receiver's export.
  nodes.run({"received", "--dir", i, "--format", "jsonl", "--out", (tmp / "received.jsonl").string()});
  std::ifstream in(tmp / "received.jsonl");
  std::string line;
  while (std::getline(in, line)) ++run.shared;
  return run;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const size_t rows = argc > 1 ? std::stoul(argv[1]) : 100000;
  const std::string jisr_bin =
      argc > 2 ? argv[2] : (std::getenv("JISR_BIN") ? std::getenv("JISR_BIN") : "./node/app/jisr");
  const int runs = argc > 3 ? std::max(1, std::stoi(argv[3])) : 3;
  if (!fs::exists(jisr_bin)) {
    std::fprintf(stderr, "usage: sync_bench [RECORDS] [JISR_BINARY] [RUNS] (no jisr at %s)\n", jisr_bin.c_str());
    return 2;
  }
  // This machine is shared and its disk's speed swings from minute to minute: each run syncs
  // on fresh nodes and is followed by raw writes of the same records, and the figures are the
  // medians, so a sync and its baseline see the same conditions.
  std::vector<SyncRun> done;
  std::vector<double> sync_rates, import_rates, raws;
  const auto raw_dir = fs::temp_directory_path() / fmt::format("jisr-sync-bench-raw-{}", ::getpid());
  for (int r = 0; r < runs; ++r) {
    auto run = run_once(jisr_bin, rows);
    if (!run) return 1;
    // The raw loop takes a few tens of milliseconds: several fresh runs per sync.
    std::vector<double> run_raws;
    for (int k = 0; k < 3; ++k) {
      fs::remove_all(raw_dir);
      run_raws.push_back(raw_lmdb_rate(raw_dir, run->shared, 2000));
    }
    fs::remove_all(raw_dir);
    const double rate = static_cast<double>(run->shared) / run->sync_secs;
    std::printf("  run %d: sync %7.0f records/s (%.3f s from starting the nodes to the last receipt), raw %8.0f records/s: %.1f %%\n",
                r + 1, rate, run->sync_secs, median(run_raws), 100.0 * rate / median(run_raws));
    sync_rates.push_back(rate);
    import_rates.push_back(static_cast<double>(rows) / run->import_secs);
    raws.insert(raws.end(), run_raws.begin(), run_raws.end());
    done.push_back(*run);
  }
  const SyncRun& first = done.front();
  const double sync_rate = median(sync_rates);
  const double raw = median(raws);
  long rss_p = 0, rss_i = 0;
  double waited = 0, connect = 0;
  for (const auto& r : done) {
    rss_p = std::max(rss_p, r.rss_platform_kib);
    rss_i = std::max(rss_i, r.rss_institution_kib);
    waited += r.waited_secs / static_cast<double>(done.size());
    connect += r.connect_secs / static_cast<double>(done.size());
  }
  const double import_rate = median(import_rates);
  const double e2e_rate = 1.0 / (1.0 / import_rate + static_cast<double>(first.shared) / static_cast<double>(rows) / sync_rate);
  std::printf("sync_bench: %zu reports imported, %zu consented and shared (batches of the default size); medians of %d runs on fresh nodes\n",
              rows, first.shared, runs);
  std::printf("  import                          %9.0f rows/s\n", import_rate);
  std::printf("  sync (policy, TLS, store, receipt) %7.0f records/s  (from starting the nodes to the last receipt; %.0f-%.0f)\n",
              sync_rate, *std::min_element(sync_rates.begin(), sync_rates.end()),
              *std::max_element(sync_rates.begin(), sync_rates.end()));
  std::printf("  as the harness saw it             %7.0f records/s  (mean %.2f s until `sync --wait` returned; nodes seen connected after %.2f s)\n",
              static_cast<double>(first.shared) / waited, waited, connect);
  std::printf("  end to end (import + sync)      %9.0f reports/s\n", e2e_rate);
  std::printf("  raw LMDB write, same records    %9.0f records/s  [baseline, same batches, same fsync; median of %zu runs, %.0f-%.0f]\n",
              raw, raws.size(), *std::min_element(raws.begin(), raws.end()), *std::max_element(raws.begin(), raws.end()));
  std::printf("  sync / raw                      %9.1f %%\n", 100.0 * sync_rate / raw);
  std::printf("  peak RSS: platform node %.1f MiB, institution node %.1f MiB\n", rss_p / 1024.0, rss_i / 1024.0);
  return 0;
}
