#include "node/core/node_config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>

#include "node/core/file_io.hpp"
#include "node/core/yaml_source.hpp"

namespace jisr {

Result<HostPort> HostPort::parse(std::string_view text) {
  const auto bad = [&] {
    return make_error(Errc::kInvalidInput, fmt::format("'{}' is not HOST:PORT", text));
  };
  HostPort hp;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad();
    }
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return bad();
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return bad();
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535 ||
      hp.host.empty() || hp.host.size() > 253) {
    return bad();
  }
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

const PeerConfig* NodeConfig::find_peer(const OrgId& org) const {
  for (const auto& p : peers) {
    if (p.org == org) return &p;
  }
  return nullptr;
}

Result<NodeConfig> NodeConfig::load(const std::filesystem::path& file) {
  auto src = YamlSource::from_file(file);
  if (!src.ok()) return src.to_error();
  NodeConfig cfg;
  const auto& root = src.root();
  if (!src.expect_map(root, "node.yaml")) return src.to_error();
  src.check_keys(root, {"org", "listen", "schema", "peers", "limits"});
  src.require_keys(root, {"org"});
  if (root["org"]) {
    if (auto org = src.scalar(root["org"], "org")) {
      if (!is_valid_org_id(*org)) src.error(root["org"], "org must be [a-z0-9-]{2,32}");
      cfg.org = OrgId(*org);
    }
  }
  if (root["listen"]) {
    if (auto text = src.scalar(root["listen"], "listen")) {
      auto hp = HostPort::parse(*text);
      if (hp) {
        cfg.listen = hp.value();
      } else {
        src.error(root["listen"], hp.error().what);
      }
    }
  }
  if (root["schema"]) {
    if (auto s = src.scalar(root["schema"], "schema")) cfg.schema = *s;
  }
  if (root["peers"] && !root["peers"].IsNull() && src.expect_sequence(root["peers"], "peers")) {
    for (const auto& p : root["peers"]) {
      if (!src.expect_map(p, "peer")) continue;
      src.check_keys(p, {"org", "address"});
      if (!src.require_keys(p, {"org", "address"})) continue;
      PeerConfig peer;
      if (auto org = src.scalar(p["org"], "peer org")) {
        if (!is_valid_org_id(*org)) src.error(p["org"], "peer org must be [a-z0-9-]{2,32}");
        peer.org = OrgId(*org);
      }
      if (auto addr = src.scalar(p["address"], "peer address")) {
        auto hp = HostPort::parse(*addr);
        if (hp) {
          peer.address = hp.value();
        } else {
          src.error(p["address"], hp.error().what);
        }
      }
      if (cfg.find_peer(peer.org)) src.error(p["org"], "peer listed twice");
      cfg.peers.push_back(std::move(peer));
    }
  }
  if (root["limits"]) {
    const auto& l = root["limits"];
    if (src.expect_map(l, "limits")) {
      src.check_keys(l, {"max_frame_bytes", "handshake_timeout_ms", "io_timeout_ms",
                         "idle_timeout_ms", "heartbeat_ms", "max_pending_writes", "batch_records",
                         "batch_bytes", "backoff_initial_ms", "backoff_max_ms", "max_sessions"});
      const auto read = [&](const char* key, uint32_t& into, long long lo, long long hi) {
        if (!l[key]) return;
        if (auto v = src.integer(l[key], key)) {
          if (*v < lo || *v > hi) {
            src.error(l[key], fmt::format("{} must be between {} and {}", key, lo, hi));
          } else {
            into = static_cast<uint32_t>(*v);
          }
        }
      };
      auto& lim = cfg.limits;
      read("max_frame_bytes", lim.max_frame_bytes, 4096, 256LL << 20);
      read("handshake_timeout_ms", lim.handshake_timeout_ms, 100, 600'000);
      read("io_timeout_ms", lim.io_timeout_ms, 100, 600'000);
      read("idle_timeout_ms", lim.idle_timeout_ms, 100, 3'600'000);
      read("heartbeat_ms", lim.heartbeat_ms, 50, 600'000);
      read("max_pending_writes", lim.max_pending_writes, 1, 100'000);
      read("batch_records", lim.batch_records, 1, 100'000);
      read("batch_bytes", lim.batch_bytes, 1024, 256LL << 20);
      read("backoff_initial_ms", lim.backoff_initial_ms, 10, 600'000);
      read("backoff_max_ms", lim.backoff_max_ms, 10, 3'600'000);
      read("max_sessions", lim.max_sessions, 1, 10'000);
    }
  }
  if (!src.ok()) return src.to_error();
  return cfg;
}

std::string NodeConfig::to_yaml() const {
  YAML::Emitter out;
  out << YAML::Comment("Jisr node configuration. Edited by `jisr init` and `jisr peer add/remove`.");
  out << YAML::BeginMap;
  out << YAML::Key << "org" << YAML::Value << org.str();
  out << YAML::Key << "listen" << YAML::Value << listen.to_string();
  out << YAML::Key << "schema" << YAML::Value << schema.string();
  out << YAML::Key << "peers" << YAML::Value << YAML::BeginSeq;
  for (const auto& p : peers) {
    out << YAML::BeginMap << YAML::Key << "org" << YAML::Value << p.org.str() << YAML::Key
        << "address" << YAML::Value << p.address.to_string() << YAML::EndMap;
  }
  out << YAML::EndSeq;
  const auto& l = limits;
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  const auto put = [&](const char* key, uint32_t v) { out << YAML::Key << key << YAML::Value << v; };
  put("max_frame_bytes", l.max_frame_bytes);
  put("handshake_timeout_ms", l.handshake_timeout_ms);
  put("io_timeout_ms", l.io_timeout_ms);
  put("idle_timeout_ms", l.idle_timeout_ms);
  put("heartbeat_ms", l.heartbeat_ms);
  put("max_pending_writes", l.max_pending_writes);
  put("batch_records", l.batch_records);
  put("batch_bytes", l.batch_bytes);
  put("backoff_initial_ms", l.backoff_initial_ms);
  put("backoff_max_ms", l.backoff_max_ms);
  put("max_sessions", l.max_sessions);
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Result<void> NodeConfig::save(const std::filesystem::path& file) const {
  return write_file_atomic(file, to_yaml(), 0644);
}

}  // namespace jisr
