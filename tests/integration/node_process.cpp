#include "tests/integration/node_process.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <stdexcept>
#include <thread>

#include "node/core/node_config.hpp"
#include "tests/child_process.hpp"

namespace jisr::testing {

uint16_t free_port() {
  const uint16_t port = free_loopback_port();
  if (port == 0) throw std::runtime_error("cannot bind a loopback port");
  return port;
}

NodeHomeDir init_test_node(const TempDir& tmp, const std::string& org) {
  NodeHomeDir h{tmp / org, org, free_port()};
  auto r = run_jisr({"init", "--dir", h.dir.string(), "--org", org, "--listen",
                     "127.0.0.1:" + std::to_string(h.port)});
  if (r.exit_code != 0) throw std::runtime_error("jisr init failed: " + r.err);
  auto cfg = NodeConfig::load(h.dir / "node.yaml");
  if (!cfg) throw std::runtime_error("node.yaml: " + cfg.error().what);
  auto& l = cfg.value().limits;
  l.handshake_timeout_ms = 3000;
  l.io_timeout_ms = 3000;
  l.idle_timeout_ms = 3000;
  l.heartbeat_ms = 300;
  l.backoff_initial_ms = 50;
  l.backoff_max_ms = 400;
  if (!cfg.value().save(h.dir / "node.yaml")) throw std::runtime_error("cannot save node.yaml");
  return h;
}

void pin_peer(const NodeHomeDir& self, const NodeHomeDir& peer) {
  auto r = run_jisr({"peer", "add", "--dir", self.dir.string(), "--org", peer.org, "--address",
                     "127.0.0.1:" + std::to_string(peer.port), "--ca",
                     (peer.dir / "pki" / "ca.pem").string()});
  if (r.exit_code != 0) throw std::runtime_error("jisr peer add failed: " + r.err);
}

ServeProcess::ServeProcess(const std::filesystem::path& dir, const std::filesystem::path& log,
                           bool json_logs) {
  std::vector<std::string> args{jisr_bin().string(), "serve", "--dir", dir.string()};
  if (json_logs) args.push_back("--log-json");
  pid_ = spawn_logged(std::move(args), log, log);
  if (pid_ < 0) throw std::runtime_error("cannot start jisr serve");
}

ServeProcess::~ServeProcess() { kill9(); }

void ServeProcess::kill9() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

int ServeProcess::stop(int sig, std::chrono::milliseconds deadline) {
  ::kill(pid_, sig);
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling for the exit
  }
  return -1;
}

std::optional<nlohmann::json> node_status(const std::filesystem::path& dir) {
  auto r = run_jisr({"status", "--dir", dir.string(), "--json"});
  if (r.exit_code != 0) return std::nullopt;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::string node_peer_state(const std::filesystem::path& dir, const std::string& org) {
  auto s = node_status(dir);
  if (!s) return "down";
  for (const auto& p : (*s)["peers"]) {
    if (p["org"] == org) return p["state"].get<std::string>();
  }
  return "absent";
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling interval
  }
  return cond();
}

}  // namespace jisr::testing
