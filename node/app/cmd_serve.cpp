// `jisr serve`: runs the node in the foreground. The composition of the running node: TLS
// context, peer transport, admin socket and signal handling; one io_context on this thread
// (the threading model of node/net). SIGTERM/SIGINT stop it within 5 s: stop accepting,
// close sessions with TLS close_notify under deadlines, then stop the loop regardless.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>

#include "node/app/cli.hpp"
#include "node/core/logging.hpp"
#include "node/net/admin_server.hpp"
#include "node/net/peer_network.hpp"
#include "node/net/tls_context.hpp"
#include "node/pki/pki.hpp"

namespace jisr::app {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

struct ServeOptions {
  std::string dir;
  bool log_json = false;
  std::string log_level = "info";
};

// Answers what no use case handles yet with an `unsupported` error, so a peer gets one clear
// reply instead of a timeout. The exchange layer replaces this when it is wired in.
class UnsupportedMessages final : public net::MessageHandler {
 public:
  asio::awaitable<std::optional<protocol::Message>> handle(const net::PeerIdentity& peer,
                                                          protocol::Message message) override {
    spdlog::info("peer {}: no handler for {}", peer.org.str(), protocol::message_kind_name(message.kind()));
    co_return protocol::error_message(protocol::ErrorCode::kUnsupported,
                                      fmt::format("this node does not handle {} yet",
                                                  protocol::message_kind_name(message.kind())),
                                      message.request_id);
  }
};

std::string direction_name(net::Direction d) { return d == net::Direction::kOutbound ? "outbound" : "inbound"; }

nlohmann::json status_json(const net::NetworkStatus& s, TimePoint now) {
  nlohmann::json j{{"ok", true},
                   {"org", s.org.str()},
                   {"started", format_utc(s.started)},
                   {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(now - s.started).count()},
                   {"listen", s.listen},
                   {"refused_inbound", s.refused_inbound},
                   {"last_refusal", s.last_refusal},
                   {"inbound_sessions", s.inbound_sessions}};
  auto peers = nlohmann::json::array();
  for (const auto& p : s.peers) {
    nlohmann::json e{{"org", p.org.str()},
                     {"address", p.address},
                     {"state", std::string(net::peer_state_name(p.state))},
                     {"since", format_utc(p.since)},
                     {"last_error", p.last_error},
                     {"last_disconnect", p.last_disconnect},
                     {"version_mismatch", p.version_mismatch},
                     {"sessions_established", p.sessions_established}};
    if (p.last_error_at) e["last_error_at"] = format_utc(*p.last_error_at);
    if (p.cert_not_after) e["cert_not_after"] = format_utc(*p.cert_not_after);
    if (!p.cert_fingerprint.empty()) e["cert_fingerprint"] = p.cert_fingerprint;
    if (p.ca_not_after) e["ca_not_after"] = format_utc(*p.ca_not_after);
    if (p.state == net::PeerState::kConnected) {
      if (p.direction) e["direction"] = direction_name(*p.direction);
      e["protocol_version"] = p.protocol_version;
      if (p.rtt_us) e["rtt_ms"] = static_cast<double>(*p.rtt_us) / 1000.0;
    }
    peers.push_back(std::move(e));
  }
  j["peers"] = std::move(peers);
  return j;
}

asio::awaitable<void> stop_node(net::AdminServer& admin, net::PeerNetwork& network, asio::io_context& io) {
  admin.stop();
  co_await network.shutdown(milliseconds(3500));
  io.stop();
}

int run_serve(const ServeOptions& opt) {
  setup_logging(opt.log_json ? LogFormat::kJson : LogFormat::kText, opt.log_level);
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto& config = node.value().config;
  const auto& home = node.value().home;
  auto material = net::load_tls_material(home, config);
  if (!material) return fail(material.error());
  auto tls = net::TlsContext::create(material.value());
  if (!tls) return fail(tls.error());

  asio::io_context io(1);
  SystemClock clock;
  UnsupportedMessages handler;
  net::PeerNetwork network(io, *tls.value(), config, handler, clock);
  for (const auto& peer : config.peers) {
    if (auto ca = pki::inspect_certificate_file(home.peer_ca(peer.org.str()))) {
      network.set_peer_ca_expiry(peer.org, ca.value().not_after);
    }
  }
  net::AdminServer admin(io, home.admin_socket());
  admin.add("status", [&network, &clock](const nlohmann::json&) -> asio::awaitable<nlohmann::json> {
    co_return status_json(network.status(), clock.now());
  });
  // The admin socket first: it refuses to start when another node runs in this home.
  if (auto r = admin.start(); !r) return fail(r.error());
  auto bound = network.start();
  if (!bound) {
    admin.stop();
    return fail(bound.error());
  }
  spdlog::info("node {} listening on {} with {} peer(s); admin socket {}", config.org.str(),
               bound.value(), config.peers.size(), home.admin_socket().string());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer backstop(io);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;  // cancelled: the loop is ending anyway
    spdlog::info("signal {}: stopping", signal);
    // Whatever the sessions do, the loop ends within 5 s of the signal.
    backstop.expires_after(milliseconds(4500));
    backstop.async_wait([&io](const boost::system::error_code& bec) {
      if (!bec) io.stop();
    });
    asio::co_spawn(io, stop_node(admin, network, io), asio::detached);
  });
  io.run();
  admin.stop();
  spdlog::info("node {} stopped", config.org.str());
  return kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, Action& action) {
  auto opt = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "run the node in the foreground (SIGTERM or SIGINT stops it)");
  add_dir_option(*cmd, opt->dir);
  cmd->add_flag("--log-json", opt->log_json, "log one JSON object per line to stderr");
  cmd->add_option("--log-level", opt->log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd->callback([opt, &action] { action = [opt] { return run_serve(*opt); }; });
}

}  // namespace jisr::app
