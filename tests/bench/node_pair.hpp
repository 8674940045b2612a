// NodePair: two real `jisr` nodes on loopback for the benchmark and quality programs, driven
// through the `jisr` binary exactly as an administrator would (init, peer add, policy apply,
// import, serve, status), in a fresh temporary folder. Header-only because every program in
// tests/bench/ is one .cpp file.
// A program helper, not a test: failures of set-up steps exit the program with the log's path.
// Thread-safety: none; one NodePair per program thread.
#pragma once

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "tests/child_process.hpp"

namespace jisr::bench {

class NodePair {
 public:
  using Clock = std::chrono::steady_clock;

  // `jisr_bin`: the binary to drive; `label` names the temporary folder.
  NodePair(std::filesystem::path jisr_bin, const std::string& label)
      : bin_(std::move(jisr_bin)),
        tmp_(std::filesystem::temp_directory_path() / fmt::format("jisr-{}-{}", label, ::getpid())) {
    std::filesystem::remove_all(tmp_);
    std::filesystem::create_directories(tmp_);
    log_ = tmp_ / "steps.log";
  }
  ~NodePair() {
    stop();
    if (std::getenv("JISR_BENCH_KEEP") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(tmp_, ec);
    }
  }
  NodePair(const NodePair&) = delete;
  NodePair& operator=(const NodePair&) = delete;

  const std::filesystem::path& dir() const { return tmp_; }
  std::filesystem::path home(const std::string& org) const { return tmp_ / org; }

  // Two node homes that pin each other's CA.
  void init(const std::string& a, const std::string& b) {
    const uint16_t pa = free_port(), pb = free_port();
    must({"init", "--org", a, "--dir", home(a).string(), "--listen", fmt::format("127.0.0.1:{}", pa)});
    must({"init", "--org", b, "--dir", home(b).string(), "--listen", fmt::format("127.0.0.1:{}", pb)});
    must({"peer", "add", "--dir", home(a).string(), "--org", b, "--address", fmt::format("127.0.0.1:{}", pb), "--ca",
          (home(b) / "pki/ca.pem").string()});
    must({"peer", "add", "--dir", home(b).string(), "--org", a, "--address", fmt::format("127.0.0.1:{}", pa), "--ca",
          (home(a) / "pki/ca.pem").string()});
  }

  // Starts `jisr serve` on both homes and waits (with a deadline) until `a` sees `b` connected.
  bool serve(const std::string& a, const std::string& b, std::chrono::seconds deadline = std::chrono::seconds(30)) {
    pids_.push_back(spawn({"serve", "--dir", home(a).string()}, tmp_ / (a + ".log")));
    pids_.push_back(spawn({"serve", "--dir", home(b).string()}, tmp_ / (b + ".log")));
    const auto until = Clock::now() + deadline;
    while (Clock::now() < until) {
      if (output({"status", "--dir", home(a).string(), "--json"}).find("\"connected\"") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval, not a wait for an event
    }
    return false;
  }

  // SIGTERM to both nodes, then waits for them.
  void stop() {
    for (pid_t pid : pids_) ::kill(pid, SIGTERM);
    for (pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
    pids_.clear();
  }

  // Peak RSS (KiB) of the i-th node started by serve() (0 when not running).
  long peak_rss_kib(size_t i) const {
    if (i >= pids_.size()) return 0;
    std::ifstream in(fmt::format("/proc/{}/status", pids_[i]));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return 0;
  }

  // Runs `jisr ARGS`; exit code, with stdout and stderr appended to the steps log.
  int run(const std::vector<std::string>& args) { return wait(spawn(args, log_)); }
  // Runs `jisr ARGS` and exits the program when it fails.
  void must(const std::vector<std::string>& args) {
    if (run(args) != 0) {
      std::fprintf(stderr, "jisr %s failed; see %s\n", args.empty() ? "" : args[0].c_str(), log_.c_str());
      give_up();
    }
  }
  // Runs `jisr ARGS` and returns its stdout; "" on failure, with its stderr in last_error().
  std::string output(const std::vector<std::string>& args) {
    const auto out = tmp_ / "output.txt", err = tmp_ / "error.txt";
    std::error_code ec;
    std::filesystem::remove(out, ec);
    std::filesystem::remove(err, ec);
    const int rc = wait(spawn(args, out, err));
    last_error_ = slurp(err);
    if (rc != 0) return {};
    return slurp(out);
  }
  const std::string& last_error() const { return last_error_; }

 private:
  static int wait(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }

  pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& out) { return spawn(args, out, out); }
  pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& out, const std::filesystem::path& err) {
    std::vector<std::string> argv{bin_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    const pid_t pid = testing::spawn_logged(std::move(argv), out, err);
    if (pid < 0) {
      std::fprintf(stderr, "cannot run %s\n", bin_.c_str());
      give_up();
    }
    return pid;
  }

  // std::exit skips destructors: the nodes already started are stopped here, or they would
  // outlive the program (the folder is kept for the log).
  [[noreturn]] void give_up() {
    stop();
    std::exit(1);
  }

  static std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  static uint16_t free_port() {
    const uint16_t port = testing::free_loopback_port();
    if (port == 0) {
      std::fprintf(stderr, "cannot bind a loopback port\n");
      std::exit(1);
    }
    return port;
  }

  std::filesystem::path bin_;
  std::filesystem::path tmp_;
  std::filesystem::path log_;
  std::vector<pid_t> pids_;
  std::string last_error_;
};

}  // namespace jisr::bench
