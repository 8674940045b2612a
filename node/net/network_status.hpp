// NetworkStatus: a snapshot of the transport for `jisr status` (node org, uptime, listen
// address, one entry per configured peer). Plain values, no Asio, so the admin command and the
// CLI can use them cheaply. Thread-safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/core/clock.hpp"
#include "node/core/ids.hpp"
#include "node/net/peer_identity.hpp"

namespace jisr::net {

enum class PeerState {
  kIdle,        // not dialling (the node is stopping, or has not started yet)
  kConnecting,  // TCP connect, TLS handshake or hello in progress
  kConnected,   // an established session exists (dialled by either side)
  kBackingOff,  // the last attempt failed on the network; waiting before the next one
  kRefused,     // the last attempt was refused (certificate, identity or version); waiting
};
std::string_view peer_state_name(PeerState state);

struct PeerStatus {
  OrgId org;
  std::string address;                       // where this node dials the peer
  PeerState state = PeerState::kIdle;
  TimePoint since;                           // when the peer entered this state
  std::string last_error;                    // one line, empty when none yet
  std::optional<TimePoint> last_error_at;
  std::string last_disconnect;               // why the last established session ended
  std::string version_mismatch;              // non-empty while the last hello found no common version
  std::optional<TimePoint> cert_not_after;   // peer's node certificate (known once connected)
  std::string cert_fingerprint;
  std::optional<TimePoint> ca_not_after;     // the pinned CA of the peer
  std::optional<Direction> direction;        // of the established session
  uint16_t protocol_version = 0;             // negotiated, when connected
  std::optional<int64_t> rtt_us;             // last heartbeat round trip
  uint64_t sessions_established = 0;         // since the node started
};

struct NetworkStatus {
  OrgId org;
  std::string listen;                        // the bound address, e.g. "127.0.0.1:40123"
  TimePoint started;
  std::vector<PeerStatus> peers;
  uint64_t refused_inbound = 0;              // inbound connections refused since start
  std::string last_refusal;                  // reason of the latest one
  uint32_t inbound_sessions = 0;             // live inbound TCP connections
};

}  // namespace jisr::net
