// sync_bench: records/s of policy-filtered sharing end to end, through the real `jisr` binary
// as an administrator runs it: import -> policy at send time -> TLS 1.3 -> receiver's accept
// rules and store -> signed receipt -> sender's commit and audit. Printed beside the raw LMDB
// write rate of the same records measured in the same run, with the peak RSS of each node.
// A program, not a test: it asserts nothing.
//   sync_bench [RECORDS] [JISR_BINARY]   (defaults: 100000, $JISR_BIN or ./node/app/jisr)
#include <fcntl.h>
#include <fmt/format.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "node/core/record.hpp"
#include "tests/bench/bench_data.hpp"

extern char** environ;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string jisr_bin;
fs::path source_dir = fs::path(__FILE__).parent_path().parent_path().parent_path();

pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> all{jisr_bin};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "cannot run %s\n", jisr_bin.c_str());
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int run(const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = spawn(args, log);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void must(const std::vector<std::string>& args, const fs::path& log) {
  if (run(args, log) != 0) {
    std::fprintf(stderr, "jisr %s failed; see %s\n", args[0].c_str(), log.c_str());
    std::exit(1);
  }
}

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

long peak_rss_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

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

}  // namespace

int main(int argc, char** argv) {
  const size_t rows = argc > 1 ? std::stoul(argv[1]) : 100000;
  jisr_bin = argc > 2 ? argv[2] : (std::getenv("JISR_BIN") ? std::getenv("JISR_BIN") : "./node/app/jisr");
  if (!fs::exists(jisr_bin)) {
    std::fprintf(stderr, "usage: sync_bench [RECORDS] [JISR_BINARY] (no jisr at %s)\n", jisr_bin.c_str());
    return 2;
  }
  const auto tmp = fs::temp_directory_path() / fmt::format("jisr-sync-bench-{}", ::getpid());
  fs::create_directories(tmp);
  const auto log = tmp / "bench.log";
  const auto p = tmp / "mpfp";
  const auto i = tmp / "iimp";
  const uint16_t pp = free_port();
  const uint16_t ip = free_port();
  must({"init", "--org", "mpfp", "--dir", p.string(), "--listen", fmt::format("127.0.0.1:{}", pp)}, log);
  must({"init", "--org", "iimp", "--dir", i.string(), "--listen", fmt::format("127.0.0.1:{}", ip)}, log);
  must({"peer", "add", "--dir", p.string(), "--org", "iimp", "--address", fmt::format("127.0.0.1:{}", ip),
        "--ca", (i / "pki/ca.pem").string()}, log);
  must({"peer", "add", "--dir", i.string(), "--org", "mpfp", "--address", fmt::format("127.0.0.1:{}", pp),
        "--ca", (p / "pki/ca.pem").string()}, log);
  must({"policy", "apply", "--dir", p.string(), (source_dir / "policies/examples/mpfp-to-iimp.yaml").string()}, log);
  must({"policy", "apply", "--dir", i.string(), (source_dir / "policies/examples/iimp-to-mpfp.yaml").string()}, log);
  const auto csv = jisr::bench::generate_reports_csv(rows, tmp / "reports.csv");

  const auto t_import = Clock::now();
  must({"import", "--dir", p.string(), "--mapping", (source_dir / "deploy/demo/platform-reports.mapping.yaml").string(), csv}, log);
  const double import_secs = seconds_since(t_import);

  const pid_t sp = spawn({"serve", "--dir", p.string()}, tmp / "p.log");
  const pid_t si = spawn({"serve", "--dir", i.string()}, tmp / "i.log");
  // Wait for the connection (polling status with a deadline), then time the sync alone.
  const auto ready_deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < ready_deadline) {
    const auto out = tmp / "status.json";
    std::error_code ec;
    fs::remove(out, ec);
    run({"status", "--dir", p.string(), "--json"}, out);
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("\"connected\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval
  }
  const auto t_sync = Clock::now();
  const int sync_rc = run({"sync", "--dir", p.string(), "--wait", "--timeout", "3600"}, tmp / "sync.out");
  const double sync_secs = seconds_since(t_sync);
  const long rss_p = peak_rss_kib(sp);
  const long rss_i = peak_rss_kib(si);
  kill(sp, SIGTERM);
  kill(si, SIGTERM);
  waitpid(sp, nullptr, 0);
  waitpid(si, nullptr, 0);
  if (sync_rc != 0) {
    std::fprintf(stderr, "sync failed; see %s\n", (tmp / "sync.out").c_str());
    return 1;
  }
  // How many were shared (consented): count the lines of the receiver's export.
  run({"received", "--dir", i.string(), "--format", "jsonl", "--out", (tmp / "received.jsonl").string()}, log);
  size_t shared = 0;
  {
    std::ifstream in(tmp / "received.jsonl");
    std::string line;
    while (std::getline(in, line)) ++shared;
  }
  const double raw = raw_lmdb_rate(tmp / "raw", shared, 2000);
  const double sync_rate = static_cast<double>(shared) / sync_secs;
  const double e2e_rate = static_cast<double>(rows) / (import_secs + sync_secs);
  std::printf("sync_bench: %zu reports imported, %zu consented and shared (batches of the default size)\n", rows, shared);
  std::printf("  import                          %9.0f rows/s     (%.2f s)\n", rows / import_secs, import_secs);
  std::printf("  sync (policy, TLS, store, receipt) %7.0f records/s  (%.2f s)\n", sync_rate, sync_secs);
  std::printf("  end to end (import + sync)      %9.0f records/s  (%.2f s)\n", e2e_rate, import_secs + sync_secs);
  std::printf("  raw LMDB write, same records    %9.0f records/s  [baseline, same batches, same fsync]\n", raw);
  std::printf("  sync / raw                      %9.1f %%\n", 100.0 * sync_rate / raw);
  std::printf("  peak RSS: platform node %.1f MiB, institution node %.1f MiB\n", rss_p / 1024.0, rss_i / 1024.0);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
