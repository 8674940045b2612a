// `jisr status`: asks the running node over DIR/run/admin.sock ({"cmd":"status"}) and prints
// the node and each peer. No Asio here: admin_request is plain POSIX.
#include <fmt/format.h>

#include <iostream>

#include "node/app/cli.hpp"
#include "node/core/clock.hpp"
#include "node/net/admin_client.hpp"

namespace jisr::app {
namespace {

struct StatusOptions {
  std::string dir;
  bool json = false;
  int timeout_ms = 5000;
};

std::string str(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string duration_text(int64_t seconds) {
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60);
  return fmt::format("{}d{:02}h", seconds / 86400, (seconds % 86400) / 3600);
}

void print_human(const nlohmann::json& s) {
  std::cout << fmt::format("node {}: up {}, listening on {}\n", str(s, "org"),
                           duration_text(s.value("uptime_s", int64_t{0})), str(s, "listen"));
  if (const auto refused = s.value("refused_inbound", uint64_t{0}); refused > 0) {
    std::cout << fmt::format("  refused inbound connections: {} (last: {})\n", refused, str(s, "last_refusal"));
  }
  const auto peers = s.find("peers");
  if (peers == s.end() || peers->empty()) {
    std::cout << "no peers pinned\n";
    return;
  }
  for (const auto& p : *peers) {
    std::string detail;
    if (str(p, "state") == "connected") {
      detail = fmt::format(" ({}, protocol v{}", str(p, "direction"), p.value("protocol_version", 0));
      if (p.contains("rtt_ms")) detail += fmt::format(", rtt {:.1f} ms", p["rtt_ms"].get<double>());
      detail += ")";
    }
    std::cout << fmt::format("peer {} ({}): {} since {}{}\n", str(p, "org"), str(p, "address"),
                             str(p, "state"), str(p, "since"), detail);
    std::string certs;
    if (!str(p, "cert_not_after").empty()) certs += "peer certificate valid until " + str(p, "cert_not_after");
    if (!str(p, "ca_not_after").empty()) {
      certs += (certs.empty() ? "" : "; ") + std::string("pinned CA valid until ") + str(p, "ca_not_after");
    }
    if (!certs.empty()) std::cout << "  " << certs << "\n";
    if (!str(p, "version_mismatch").empty()) std::cout << "  VERSION MISMATCH: " << str(p, "version_mismatch") << "\n";
    // While connected an older error is history; status shows it only when it explains a state.
    if (!str(p, "last_error").empty() && str(p, "state") != "connected") {
      std::cout << fmt::format("  last error ({}): {}\n", str(p, "last_error_at"), str(p, "last_error"));
    }
    // Sharing with this peer (node/exchange SyncService).
    const auto sync = s.find("sync");
    if (sync != s.end() && sync->contains(str(p, "org"))) {
      const auto& q = (*sync)[str(p, "org")];
      std::string line = fmt::format("  sharing under {} (version {}): {} change(s) pending, acknowledged up to change {}",
                                     str(q, "agreement"), str(q, "policy_version"), q.value("pending", 0),
                                     q.value("acked_seq", 0));
      if (!str(q, "last_receipt").empty()) line += ", last receipt " + str(q, "last_receipt");
      std::cout << line << "\n";
      if (!str(q, "paused").empty()) std::cout << "  sharing paused: " << str(q, "paused") << "\n";
      if (!str(q, "last_error").empty()) std::cout << "  last sync error: " << str(q, "last_error") << "\n";
    } else if (sync != s.end()) {
      std::cout << "  sharing: none (no agreement with this peer in DIR/policies)\n";
    }
    // Match jobs with this peer (node/exchange MatchService).
    const auto match = s.find("match");
    if (match != s.end() && match->contains(str(p, "org"))) {
      const auto& m = (*match)[str(p, "org")];
      std::string line = m.value("every_s", int64_t{0}) > 0
                             ? fmt::format("  match jobs every {} s when our records changed", m.value("every_s", int64_t{0}))
                             : std::string("  match jobs on demand only");
      if (m.contains("last_job_ms")) {
        line += fmt::format("; last {} job {}", str(m, "last_method"),
                            format_utc(from_unix_ms(m.value("last_job_ms", int64_t{0}))));
      }
      std::cout << line << "\n";
      if (!str(m, "last_error").empty()) std::cout << "  last scheduled match error: " << str(m, "last_error") << "\n";
    }
  }
}

int run_status(const StatusOptions& opt) {
  const NodeHome home{opt.dir};
  auto reply = net::admin_request(home.admin_socket(), R"({"cmd":"status"})",
                                  std::chrono::milliseconds(opt.timeout_ms));
  if (!reply) return fail(reply.error());
  auto status = nlohmann::json::parse(reply.value(), nullptr, /*allow_exceptions=*/false);
  if (status.is_discarded() || !status.is_object()) {
    return fail(make_error(Errc::kInternal, "node sent an unreadable status", home.admin_socket().string()));
  }
  if (!status.value("ok", false)) {
    return fail(make_error(Errc::kInternal, "node refused: " + str(status, "error"), home.admin_socket().string()));
  }
  status.erase("ok");
  if (opt.json) {
    print_json(status);
  } else {
    print_human(status);
  }
  return kExitOk;
}

}  // namespace

void add_status_command(CLI::App& app, Action& action) {
  auto opt = std::make_shared<StatusOptions>();
  auto* cmd = app.add_subcommand("status", "show the running node and its peers (via DIR/run/admin.sock)");
  add_dir_option(*cmd, opt->dir);
  cmd->add_flag("--json", opt->json, "print JSON");
  cmd->add_option("--timeout-ms", opt->timeout_ms, "how long to wait for the node")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  cmd->callback([opt, &action] { action = [opt] { return run_status(*opt); }; });
}

}  // namespace jisr::app
