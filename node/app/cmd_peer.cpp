// `jisr peer add|list|remove`: pin a peer organisation's CA and dial address (DESIGN.md "Node
// home": DIR/peers/ORG.pem and the peers list of node.yaml). A running node picks changes up
// when it restarts.
#include <fmt/format.h>

#include <iostream>

#include "node/app/cli.hpp"
#include "node/core/file_io.hpp"
#include "node/pki/pki.hpp"

namespace jisr::app {
namespace {

struct PeerOptions {
  std::string dir;
  std::string org;
  std::string address;
  std::string ca;
  bool json = false;
};

Result<NodeConfig> load_config(const NodeHome& home) {
  if (!std::filesystem::exists(home.node_yaml())) {
    return make_error(Errc::kNotFound, "not a node home (run `jisr init` first)", home.node_yaml().string());
  }
  return NodeConfig::load(home.node_yaml());
}

int run_add(const PeerOptions& opt) {
  if (!is_valid_org_id(opt.org)) {
    return usage_error(fmt::format("--org must be 2 to 32 of a-z, 0-9 and '-' (got '{}')", opt.org));
  }
  auto address = HostPort::parse(opt.address);
  if (!address) return usage_error("--address: " + address.error().what);
  if (address.value().port == 0) return usage_error("--address: a peer needs a real port, not 0");
  const NodeHome home{opt.dir};
  auto config = load_config(home);
  if (!config) return fail(config.error());
  const OrgId org(opt.org);
  if (org == config.value().org) {
    return fail(make_error(Errc::kInvalidInput, "cannot pin the node's own organisation as a peer", opt.org));
  }
  if (config.value().find_peer(org)) {
    return fail(make_error(Errc::kConflict, "peer already pinned (run `jisr peer remove` first)", opt.org));
  }
  auto pem = read_file(opt.ca, 64 * 1024);
  if (!pem) return fail(pem.error());
  auto info = pki::check_peer_ca(pem.value(), org, SystemClock().now());
  if (!info) return fail(make_error(info.error().code, info.error().what, opt.ca));
  std::error_code ec;
  std::filesystem::create_directories(home.peers_dir(), ec);
  if (ec) return fail(make_error(Errc::kIo, ec.message(), home.peers_dir().string()));
  // The CA first, then the config that refers to it: a crash in between leaves an unused file.
  if (auto r = write_file_atomic(home.peer_ca(opt.org), pem.value(), 0644); !r) return fail(r.error());
  config.value().peers.push_back(PeerConfig{org, address.value()});
  if (auto r = config.value().save(home.node_yaml()); !r) return fail(r.error());
  {
    audit::AuditEvent e;
    e.kind = audit::AuditKind::kPeerPinned;
    e.peer = opt.org;
    e.detail = "CA " + info.value().fingerprint.substr(0, 40) + " at " + address.value().to_string();
    if (auto r = audit_admin_action(home, config.value().org, e); !r) return fail(r.error());
  }
  if (opt.json) {
    print_json({{"org", opt.org},
                {"address", address.value().to_string()},
                {"ca_fingerprint", info.value().fingerprint},
                {"ca_not_after", format_utc(info.value().not_after)},
                {"ca_file", home.peer_ca(opt.org).string()}});
  } else {
    std::cout << fmt::format("pinned peer '{}' at {}\n", opt.org, address.value().to_string())
              << fmt::format("  CA fingerprint:  {}\n", info.value().fingerprint)
              << fmt::format("  CA valid until:  {}\n", format_utc(info.value().not_after))
              << "Compare the fingerprint with the one the peer organisation gave you out of band.\n";
  }
  return kExitOk;
}

int run_list(const PeerOptions& opt) {
  const NodeHome home{opt.dir};
  auto config = load_config(home);
  if (!config) return fail(config.error());
  auto list = nlohmann::json::array();
  for (const auto& p : config.value().peers) {
    nlohmann::json entry{{"org", p.org.str()}, {"address", p.address.to_string()}};
    auto info = pki::inspect_certificate_file(home.peer_ca(p.org.str()));
    if (info) {
      entry["ca_fingerprint"] = info.value().fingerprint;
      entry["ca_not_after"] = format_utc(info.value().not_after);
    } else {
      entry["ca_error"] = info.error().what;
    }
    list.push_back(std::move(entry));
  }
  if (opt.json) {
    print_json(list);
    return kExitOk;
  }
  if (list.empty()) {
    std::cout << "no peers pinned (add one with `jisr peer add`)\n";
    return kExitOk;
  }
  std::cout << fmt::format("{:<12} {:<24} {:<26} {}\n", "ORG", "ADDRESS", "CA VALID UNTIL", "CA FINGERPRINT");
  for (const auto& e : list) {
    std::cout << fmt::format("{:<12} {:<24} {:<26} {}\n", e["org"].get<std::string>(),
                             e["address"].get<std::string>(),
                             e.value("ca_not_after", std::string("-")),
                             e.contains("ca_error") ? "error: " + e["ca_error"].get<std::string>()
                                                    : e["ca_fingerprint"].get<std::string>());
  }
  return kExitOk;
}

int run_remove(const PeerOptions& opt) {
  if (!is_valid_org_id(opt.org)) {
    return usage_error(fmt::format("--org must be 2 to 32 of a-z, 0-9 and '-' (got '{}')", opt.org));
  }
  const NodeHome home{opt.dir};
  auto config = load_config(home);
  if (!config) return fail(config.error());
  auto& peers = config.value().peers;
  const auto it = std::find_if(peers.begin(), peers.end(), [&](const PeerConfig& p) { return p.org.str() == opt.org; });
  if (it == peers.end()) return fail(make_error(Errc::kNotFound, "no such peer", opt.org));
  peers.erase(it);
  // Config first: once the peer is gone from node.yaml the CA file is no longer trusted.
  if (auto r = config.value().save(home.node_yaml()); !r) return fail(r.error());
  std::error_code ec;
  std::filesystem::remove(home.peer_ca(opt.org), ec);
  if (ec) return fail(make_error(Errc::kIo, ec.message(), home.peer_ca(opt.org).string()));
  {
    audit::AuditEvent e;
    e.kind = audit::AuditKind::kPeerRemoved;
    e.peer = opt.org;
    if (auto r = audit_admin_action(home, config.value().org, e); !r) return fail(r.error());
  }
  if (opt.json) {
    print_json({{"removed", opt.org}});
  } else {
    std::cout << fmt::format("removed peer '{}'\n", opt.org);
  }
  return kExitOk;
}

}  // namespace

void add_peer_command(CLI::App& app, Action& action) {
  auto* peer = app.add_subcommand("peer", "pin peer organisations (their CA and address)");
  peer->require_subcommand(1);

  auto add = std::make_shared<PeerOptions>();
  auto* add_cmd = peer->add_subcommand("add", "pin a peer organisation's CA and dial address");
  add_dir_option(*add_cmd, add->dir);
  add_cmd->add_option("--org", add->org, "the peer's organisation id")->required();
  add_cmd->add_option("--address", add->address, "HOST:PORT where the peer's node listens")->required();
  add_cmd->add_option("--ca", add->ca, "the peer's org CA certificate (PEM), received out of band")->required();
  add_cmd->add_flag("--json", add->json, "print the result as JSON");
  add_cmd->callback([add, &action] { action = [add] { return run_add(*add); }; });

  auto list = std::make_shared<PeerOptions>();
  auto* list_cmd = peer->add_subcommand("list", "list pinned peers");
  add_dir_option(*list_cmd, list->dir);
  list_cmd->add_flag("--json", list->json, "print JSON");
  list_cmd->callback([list, &action] { action = [list] { return run_list(*list); }; });

  auto remove = std::make_shared<PeerOptions>();
  auto* remove_cmd = peer->add_subcommand("remove", "unpin a peer organisation");
  add_dir_option(*remove_cmd, remove->dir);
  remove_cmd->add_option("--org", remove->org, "the peer's organisation id")->required();
  remove_cmd->add_flag("--json", remove->json, "print the result as JSON");
  remove_cmd->callback([remove, &action] { action = [remove] { return run_remove(*remove); }; });
}

}  // namespace jisr::app
