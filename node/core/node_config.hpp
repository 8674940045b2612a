// NodeConfig: node.yaml parsed once into typed structs (STYLE.md 8). Every field documents its
// default; unknown and duplicate keys are errors with positions. `jisr peer add/remove` edit
// the peers list and write the file back with save().
// Thread-safety: value type; load/save touch the file system and are not synchronised.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "node/core/ids.hpp"
#include "node/core/result.hpp"

namespace jisr {

struct HostPort {
  std::string host;  // name or literal address; IPv6 literals without brackets
  uint16_t port = 0;
  // Parses "HOST:PORT" or "[V6]:PORT"; port 0 is allowed (the OS picks one) only for listening.
  static Result<HostPort> parse(std::string_view text);
  std::string to_string() const;
};

struct PeerConfig {
  OrgId org;
  HostPort address;  // where this node dials the peer
};

struct NodeLimits {
  uint32_t max_frame_bytes = 16 * 1024 * 1024;  // largest wire frame accepted or sent
  uint32_t handshake_timeout_ms = 10'000;        // TLS handshake deadline
  uint32_t io_timeout_ms = 30'000;               // deadline of each frame read or write
  uint32_t idle_timeout_ms = 60'000;             // a session with no frame for this long closes
  uint32_t heartbeat_ms = 10'000;                // ping period
  uint32_t max_pending_writes = 64;              // frames queued per session before backpressure
  uint32_t batch_records = 2000;                 // records per sync batch (one receipt, three fsyncs)
  uint32_t batch_bytes = 8 * 1024 * 1024;        // bytes per sync batch (under max_frame_bytes)
  uint32_t backoff_initial_ms = 500;             // first reconnect delay
  uint32_t backoff_max_ms = 30'000;              // reconnect delay cap
  uint32_t max_sessions = 64;                    // concurrent inbound sessions
};

struct NodeConfig {
  OrgId org;
  HostPort listen{"127.0.0.1", 7400};
  std::filesystem::path schema = "schema.yaml";  // relative to the node home
  std::vector<PeerConfig> peers;
  NodeLimits limits;

  const PeerConfig* find_peer(const OrgId& org) const;

  static Result<NodeConfig> load(const std::filesystem::path& file);
  Result<void> save(const std::filesystem::path& file) const;
  std::string to_yaml() const;
};

}  // namespace jisr
