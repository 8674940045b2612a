// Helpers for tests that run real `jisr serve` processes: node homes on free loopback ports
// with short deadlines, peers pinned both ways, a serve process that is SIGKILLed on
// destruction, `jisr status --json`, and waiting for a condition with a deadline.
// Thread-safety: test thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/test_support.hpp"

namespace jisr::testing {

// A port that was free a moment ago (bind port 0, read it, close). Racy in theory; the node
// binds it milliseconds later.
uint16_t free_port();

struct NodeHomeDir {
  std::filesystem::path dir;
  std::string org;
  uint16_t port = 0;
};

// `jisr init` on a free port, with short deadlines in node.yaml so tests stay quick.
NodeHomeDir init_test_node(const TempDir& tmp, const std::string& org);
// `jisr peer add` of peer on self.
void pin_peer(const NodeHomeDir& self, const NodeHomeDir& peer);

// A `jisr serve` process, SIGKILLed and reaped on destruction if still running.
class ServeProcess {
 public:
  // json_logs: run with --log-json.
  ServeProcess(const std::filesystem::path& dir, const std::filesystem::path& log,
               bool json_logs = false);
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;
  // Sends sig and waits up to deadline for the exit; returns the exit status or -1.
  int stop(int sig, std::chrono::milliseconds deadline);
  void kill9();

 private:
  pid_t pid_ = -1;
};

std::optional<nlohmann::json> node_status(const std::filesystem::path& dir);
// The state of peer org in dir's status ("down" when the node does not answer).
std::string node_peer_state(const std::filesystem::path& dir, const std::string& org);
// Polls cond every 20 ms until it holds or deadline passes; returns the last answer.
bool eventually(const std::function<bool()>& cond,
                std::chrono::milliseconds deadline = std::chrono::seconds(10));

}  // namespace jisr::testing
