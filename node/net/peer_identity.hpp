// PeerIdentity: who is on the other end of a session, taken only from the certificate that
// verified against the pinned CA of the organisation it names (STYLE.md 15). Never built from
// anything a peer says inside a message. No Asio or OpenSSL types here.
// Thread-safety: value type.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "node/core/clock.hpp"
#include "node/core/ids.hpp"

namespace jisr::net {

enum class Direction { kInbound, kOutbound };

struct PeerIdentity {
  OrgId org;                 // from the SAN URI jisr://org/<org> of the verified certificate
  std::string fingerprint;   // "SHA256:..." of the peer's end-entity certificate
  TimePoint not_after;       // expiry of the peer's end-entity certificate
  std::string remote;        // "ADDRESS:PORT" of the TCP peer, for logs
  Direction direction = Direction::kInbound;  // who dialled
  // The peer node's Ed25519 key (SAN URI jisr://ed25519/... of the verified certificate): what
  // its receipts and audit checkpoints must verify with. Absent in certificates of other tools.
  std::optional<std::array<uint8_t, 32>> sign_key;
};

}  // namespace jisr::net
