// `jisr serve`: runs the node in the foreground. The composition of the running node: TLS
// context, peer transport, admin socket and signal handling; one io_context on this thread
// (the threading model of node/net). SIGTERM/SIGINT stop it within 5 s: stop accepting,
// close sessions with TLS close_notify under deadlines, then stop the loop regardless.
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>

#include "node/app/cli.hpp"
#include "node/core/file_io.hpp"
#include "node/core/logging.hpp"
#include "node/net/admin_server.hpp"
#include "node/net/peer_network.hpp"
#include "node/net/tls_context.hpp"
#include "node/pki/pki.hpp"
#include "node/audit/audit_log.hpp"
#include "node/audit/checkpoint.hpp"
#include "node/exchange/inbox.hpp"
#include "node/exchange/match_service.hpp"
#include "node/exchange/node_dispatcher.hpp"
#include "node/exchange/outbox.hpp"
#include "node/exchange/sync_service.hpp"
#include "policies/policy_set.hpp"

namespace jisr::app {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

struct ServeOptions {
  std::string dir;
  bool log_json = false;
  std::string log_level = "info";
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

// {"cmd":"sync","peer":P?,"wait":bool}: with wait, answers when each peer acknowledged
// everything (or why not); without, starts the sync and answers at once.
asio::awaitable<nlohmann::json> sync_command(exchange::SyncService& sync,
                                             const policies::PolicyHolder& policies,
                                             const nlohmann::json& request) {
  std::vector<OrgId> peers;
  if (request.contains("peer") && request["peer"].is_string()) {
    const std::string peer = request["peer"].get<std::string>();
    if (!is_valid_org_id(peer)) co_return nlohmann::json{{"ok", false}, {"error", "invalid peer id"}};
    if (!policies.current()->for_peer(OrgId(peer))) {
      co_return nlohmann::json{{"ok", false}, {"error", "no agreement with " + peer + " in force on this node"}};
    }
    peers.emplace_back(peer);
  } else {
    for (const auto& [org, entry] : policies.current()->entries()) peers.push_back(org);
  }
  const bool wait = request.value("wait", false);
  nlohmann::json out{{"ok", true}, {"peers", nlohmann::json::array()}};
  bool complete = true;
  for (const auto& peer : peers) {
    if (!wait) {
      asio::co_spawn(co_await asio::this_coro::executor,
                     [&sync, peer]() -> asio::awaitable<void> { (void)co_await sync.sync_peer(peer); },
                     asio::detached);
      continue;
    }
    auto r = co_await sync.sync_peer(peer);
    if (r) {
      out["peers"].push_back({{"peer", peer.str()},
                              {"sent", r.value().records_sent},
                              {"withdrawn", r.value().records_withdrawn},
                              {"pending", r.value().pending}});
      if (r.value().pending != 0) complete = false;
    } else {
      out["peers"].push_back({{"peer", peer.str()}, {"error", r.error().what}});
      complete = false;
    }
  }
  out["complete"] = complete;
  co_return out;
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

  auto loaded = policies::load_policy_dir(home.policies_dir(), node.value().schema);
  if (!loaded) return fail(loaded.error());
  policies::PolicyHolder policies(std::make_shared<const policies::PolicySet>(std::move(loaded).value()));
  auto signing = pki::load_signing_key(home.sign_key());
  if (!signing) return fail(signing.error());
  store::Env& env = *node.value().env;

  asio::io_context io(1);
  SystemClock clock;
  audit::AuditLog audit_log(env, config.org.str());
  audit::CheckpointSigner signer(signing.value().secret);
  exchange::Outbox outbox(env, audit_log, clock, config.limits);
  exchange::Inbox inbox(env, audit_log, clock, node.value().schema, config.org, signing.value());
  exchange::NodeDispatcher handler(env, audit_log, signer, clock);
  net::PeerNetwork network(io, *tls.value(), config, handler, clock);
  exchange::SyncService sync(io, network, policies, outbox, inbox, clock, config.org);
  handler.attach(&sync, &network, &io);
  handler.on_peer_key([&home](const OrgId& org, const std::array<uint8_t, 32>& key) {
    // Keep the peer's certified key where `jisr audit verify` looks for it.
    std::string hex(65, '\0');
    sodium_bin2hex(hex.data(), hex.size(), key.data(), key.size());
    hex.pop_back();
    const auto path = home.peers_dir() / (org.str() + ".sign.pub");
    auto current = read_file(path, 4096);
    if (current && current.value() == hex + "\n") return;
    if (auto w = write_file_atomic(path, hex + "\n", 0644); !w) {
      spdlog::warn("cannot record the signing key of {}: {}", org.str(), w.error().message());
    }
  });
  exchange::MatchEngine match_engine(env, audit_log, clock, node.value().schema, config.org,
                                     &signing.value().secret);
  exchange::MatchOptions match_options;
  match_options.frame_budget = config.limits.max_frame_bytes / 2;
  exchange::MatchService match(io, network, policies, match_engine, clock, match_options);
  handler.attach_match(&match);
  for (const auto& peer : config.peers) {
    if (auto ca = pki::inspect_certificate_file(home.peer_ca(peer.org.str()))) {
      network.set_peer_ca_expiry(peer.org, ca.value().not_after);
    }
  }
  net::AdminServer admin(io, home.admin_socket());
  admin.add("status", [&network, &clock, &sync, &match](const nlohmann::json&) -> asio::awaitable<nlohmann::json> {
    auto j = status_json(network.status(), clock.now());
    j["sync"] = sync.status();
    j["match"] = match.status();
    co_return j;
  });
  admin.add("sync", [&sync, &policies](const nlohmann::json& request) -> asio::awaitable<nlohmann::json> {
    co_return co_await sync_command(sync, policies, request);
  });
  admin.add("match", [&match](const nlohmann::json& request) -> asio::awaitable<nlohmann::json> {
    co_return co_await match.admin_match(request);
  });
  admin.add("match_confirm", [&match](const nlohmann::json& request) -> asio::awaitable<nlohmann::json> {
    co_return co_await match.admin_confirm(request);
  });
  admin.add("reload", [&](const nlohmann::json&) -> asio::awaitable<nlohmann::json> {
    auto reloaded = policies.reload(home.policies_dir(), node.value().schema);
    if (!reloaded) co_return nlohmann::json{{"ok", false}, {"error", reloaded.error().what}};
    spdlog::info("agreements reloaded: {} in force", reloaded.value()->size());
    // A changed agreement may withdraw or re-send records: look now, not at the next poll.
    for (const auto& [org, entry] : reloaded.value()->entries()) {
      if (network.is_connected(org)) {
        asio::co_spawn(io, [&sync, org = org]() -> asio::awaitable<void> { (void)co_await sync.sync_peer(org); },
                       asio::detached);
      }
    }
    co_return nlohmann::json{{"ok", true}, {"agreements", reloaded.value()->size()}};
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
  sync.start();
  match.start();
  // Audit housekeeping: signed checkpoints when due, refused-connection summaries.
  asio::steady_timer ticker(io);
  std::function<void()> tick = [&] {
    handler.tick();
    ticker.expires_after(std::chrono::seconds(10));
    ticker.async_wait([&tick](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  };
  tick();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer backstop(io);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;  // cancelled: the loop is ending anyway
    spdlog::info("signal {}: stopping", signal);
    sync.stop();
    match.stop();
    ticker.cancel();
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
