// `jisr peer`, `jisr serve` and `jisr status` driven as a user would: real processes on
// 127.0.0.1 ports picked by the OS, readiness and state changes awaited by polling
// `jisr status --json` with a deadline.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "node/core/node_config.hpp"
#include "tests/integration/node_process.hpp"
#include "tests/test_support.hpp"

extern char** environ;

using namespace jisr;
using namespace jisr::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct Home {
  std::filesystem::path dir;
  std::string org;
  uint16_t port;
};

Home init_node(const TempDir& tmp, const std::string& org) {
  Home h{tmp / org, org, free_port()};
  auto r = run_jisr({"init", "--dir", h.dir.string(), "--org", org, "--listen",
                     "127.0.0.1:" + std::to_string(h.port)});
  REQUIRE(r.exit_code == 0);
  return h;
}

// Short deadlines so the tests stay quick.
void use_fast_limits(const Home& h) {
  auto cfg = NodeConfig::load(h.dir / "node.yaml");
  REQUIRE(cfg);
  auto& l = cfg.value().limits;
  l.handshake_timeout_ms = 2000;
  l.io_timeout_ms = 1000;
  l.idle_timeout_ms = 1500;
  l.heartbeat_ms = 200;
  l.backoff_initial_ms = 50;
  l.backoff_max_ms = 400;
  REQUIRE(cfg.value().save(h.dir / "node.yaml"));
}

void pin(const Home& self, const Home& peer) {
  auto r = run_jisr({"peer", "add", "--dir", self.dir.string(), "--org", peer.org, "--address",
                     "127.0.0.1:" + std::to_string(peer.port), "--ca", (peer.dir / "pki" / "ca.pem").string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("jisr peer add, list and remove pin peer CAs and refuse bad ones", "[cli][net]") {
  TempDir tmp;
  const auto a = init_node(tmp, "mpfp");
  const auto b = init_node(tmp, "iimp");
  const auto ca_b = (b.dir / "pki" / "ca.pem").string();

  auto added = run_jisr({"peer", "add", "--dir", a.dir.string(), "--org", "iimp", "--address", "127.0.0.1:7402", "--ca", ca_b});
  REQUIRE(added.exit_code == 0);
  CHECK_THAT(added.out, Catch::Contains("CA fingerprint:  SHA256:"));
  CHECK(std::filesystem::exists(a.dir / "peers" / "iimp.pem"));

  auto list = run_jisr({"peer", "list", "--dir", a.dir.string(), "--json"});
  REQUIRE(list.exit_code == 0);
  auto peers = json::parse(list.out);
  REQUIRE(peers.size() == 1);
  CHECK(peers[0]["org"] == "iimp");
  CHECK(peers[0]["address"] == "127.0.0.1:7402");

  SECTION("refusals") {
    const auto refuse = [&](std::vector<std::string> args, int code, const std::string& message) {
      auto r = run_jisr(args);
      INFO(r.err);
      CHECK(r.exit_code == code);
      CHECK_THAT(r.err, Catch::StartsWith("jisr: error: ") && Catch::Contains(message));
    };
    refuse({"peer", "add", "--dir", a.dir.string(), "--org", "iimp", "--address", "127.0.0.1:7402", "--ca", ca_b}, 1,
           "peer already pinned");
    refuse({"peer", "add", "--dir", a.dir.string(), "--org", "mpfp", "--address", "127.0.0.1:7402",
            "--ca", (a.dir / "pki" / "ca.pem").string()}, 1, "cannot pin the node's own organisation");
    refuse({"peer", "add", "--dir", a.dir.string(), "--org", "Not Valid", "--address", "127.0.0.1:7402", "--ca", ca_b}, 2,
           "--org must be");
    refuse({"peer", "add", "--dir", a.dir.string(), "--org", "third", "--address", "nowhere", "--ca", ca_b}, 2,
           "is not HOST:PORT");
    // The node certificate file starts with a non-CA certificate.
    refuse({"peer", "add", "--dir", a.dir.string(), "--org", "iimp2", "--address", "127.0.0.1:7403",
            "--ca", (b.dir / "pki" / "node.pem").string()}, 1, "not a CA certificate");
    write_text(tmp / "garbage.pem", "this is not a certificate\n");
    refuse({"peer", "add", "--dir", a.dir.string(), "--org", "iimp2", "--address", "127.0.0.1:7403",
            "--ca", (tmp / "garbage.pem").string()}, 1, "not a PEM certificate (" + (tmp / "garbage.pem").string() + ")");
    refuse({"peer", "add", "--dir", a.dir.string(), "--org", "other", "--address", "127.0.0.1:7403", "--ca", ca_b}, 1,
           "CA certificate is for org 'iimp', not 'other'");
    refuse({"peer", "remove", "--dir", a.dir.string(), "--org", "nobody"}, 1, "no such peer (nobody)");
    // Nothing of the refused attempts was written.
    CHECK(json::parse(run_jisr({"peer", "list", "--dir", a.dir.string(), "--json"}).out).size() == 1);
    CHECK_FALSE(std::filesystem::exists(a.dir / "peers" / "iimp2.pem"));
  }
  SECTION("remove") {
    auto r = run_jisr({"peer", "remove", "--dir", a.dir.string(), "--org", "iimp"});
    CHECK(r.exit_code == 0);
    CHECK_FALSE(std::filesystem::exists(a.dir / "peers" / "iimp.pem"));
    CHECK(json::parse(run_jisr({"peer", "list", "--dir", a.dir.string(), "--json"}).out).empty());
  }
}

TEST_CASE("jisr status without a running node", "[cli][net]") {
  TempDir tmp;
  const auto a = init_node(tmp, "mpfp");
  auto r = run_jisr({"status", "--dir", a.dir.string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "jisr: error: node not running (" + (a.dir / "run" / "admin.sock").string() + ")\n");
}

TEST_CASE("two jisr serve processes connect, survive a peer crash and stop on SIGTERM", "[cli][net]") {
  TempDir tmp;
  const auto a = init_node(tmp, "mpfp");
  const auto b = init_node(tmp, "iimp");
  pin(a, b);
  pin(b, a);
  use_fast_limits(a);
  use_fast_limits(b);
  ServeProcess serve_a(a.dir, tmp / "a.log", /*json_logs=*/true);
  auto serve_b = std::make_unique<ServeProcess>(b.dir, tmp / "b.log");
  REQUIRE(eventually([&] { return node_peer_state(a.dir, "iimp") == "connected" && node_peer_state(b.dir, "mpfp") == "connected"; }));

  auto s = node_status(a.dir).value();
  CHECK(s["org"] == "mpfp");
  CHECK(s["listen"] == "127.0.0.1:" + std::to_string(a.port));
  const auto& p = s["peers"][0];
  CHECK(p["protocol_version"] == 1);
  CHECK(p.contains("cert_not_after"));
  CHECK(p.contains("ca_not_after"));
  CHECK(((std::filesystem::status(a.dir / "run" / "admin.sock").permissions() & std::filesystem::perms::all) ==
         (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)));

  SECTION("a second serve in the same home refuses to start") {
    auto r = run_jisr({"serve", "--dir", a.dir.string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("jisr: error: another node is running"));
  }

  SECTION("peer killed: backing off, then connected again when it returns") {
    serve_b.reset();  // SIGKILL: no close_notify, a stale admin socket stays behind
    REQUIRE(eventually([&] {
      const auto st = node_peer_state(a.dir, "iimp");
      return st == "backing_off" || st == "connecting";
    }));
    REQUIRE(std::filesystem::exists(b.dir / "run" / "admin.sock"));
    serve_b = std::make_unique<ServeProcess>(b.dir, tmp / "b.log");  // removes the stale socket
    REQUIRE(eventually([&] { return node_peer_state(a.dir, "iimp") == "connected"; }));
    CHECK(node_status(a.dir).value()["peers"][0]["sessions_established"].get<int>() >= 2);
  }

  // SIGTERM: clean stop within 5 s, admin socket removed, the peer sees a proper close.
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(serve_b->stop(SIGTERM, 5s) == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK_FALSE(std::filesystem::exists(b.dir / "run" / "admin.sock"));
  CHECK(serve_a.stop(SIGINT, 5s) == 0);
  // --log-json: every line of the log is one JSON object.
  const auto log = read_text(tmp / "a.log");
  size_t lines = 0;
  for (size_t pos = 0; pos < log.size();) {
    const auto nl = log.find('\n', pos);
    const auto line = log.substr(pos, nl - pos);
    pos = nl == std::string::npos ? log.size() : nl + 1;
    if (line.empty()) continue;
    INFO(line);
    auto j = json::parse(line, nullptr, false);
    CHECK(j.is_object());
    ++lines;
  }
  CHECK(lines >= 2);
}

TEST_CASE("three jisr serve processes all connect", "[cli][net]") {
  TempDir tmp;
  std::vector<Home> homes{init_node(tmp, "org-a"), init_node(tmp, "org-b"), init_node(tmp, "org-c")};
  for (auto& h : homes) {
    for (auto& other : homes) {
      if (&h != &other) pin(h, other);
    }
    use_fast_limits(h);
  }
  std::vector<std::unique_ptr<ServeProcess>> procs;
  for (auto& h : homes) procs.push_back(std::make_unique<ServeProcess>(h.dir, tmp / (h.org + ".log")));
  const auto all_connected = [&] {
    for (auto& h : homes) {
      auto s = node_status(h.dir);
      if (!s) return false;
      for (const auto& p : (*s)["peers"]) {
        if (p["state"] != "connected") return false;
      }
    }
    return true;
  };
  REQUIRE(eventually(all_connected));
  for (auto& p : procs) CHECK(p->stop(SIGTERM, 5s) == 0);
}
