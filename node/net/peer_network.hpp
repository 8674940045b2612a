// PeerNetwork: the node's peer transport. Listens, dials every configured peer (exponential
// backoff with jitter), runs one coroutine per session (TLS 1.3 handshake, identity from the
// certificate, hello with version negotiation, framed Cap'n Proto messages, heartbeat),
// resolves duplicate connections to one per peer, and offers request/response to the layers
// above.
//
// Duplicate rule: when two sessions exist between the same pair (both dialled at once), both
// nodes keep the one dialled by the lexicographically smaller org (a newer one replaces an
// older one dialled by the same side), so both ends converge without talking about it. A node
// with a working session does not dial: the first connection up stays, whoever dialled it.
//
// Threading model: everything runs on ONE io_context thread; PeerNetwork and its sessions are
// not synchronised. Call every method from that thread (from coroutines spawned on it, or
// before io_context::run). Deadlines: connect+handshake+hello (handshake_timeout_ms), each frame
// read or write (io_timeout_ms), silence (idle_timeout_ms), TLS shutdown (min(io, 2 s)).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "node/core/clock.hpp"
#include "node/core/node_config.hpp"
#include "node/core/result.hpp"
#include "node/net/message_handler.hpp"
#include "node/net/network_status.hpp"
#include "protocol/messages.hpp"

namespace boost::asio {
class io_context;
}

namespace jisr::net {

class TlsContext;

struct TransportOptions {
  uint16_t min_version = protocol::kMinProtocolVersion;  // tests narrow these to force a mismatch
  uint16_t max_version = protocol::kProtocolVersion;
  std::vector<std::string> capabilities;                 // announced in hello
  uint32_t max_handlers_in_flight = 16;                  // per session; beyond: `overloaded` error
};

class PeerNetwork {
 public:
  // References must outlive the PeerNetwork. ca_not_after (per peer) is shown by status.
  PeerNetwork(boost::asio::io_context& io, TlsContext& tls, NodeConfig config,
              MessageHandler& handler, const Clock& clock, TransportOptions options = {});
  ~PeerNetwork();
  PeerNetwork(const PeerNetwork&) = delete;
  PeerNetwork& operator=(const PeerNetwork&) = delete;

  // Records the expiry of a peer's pinned CA for status (optional).
  void set_peer_ca_expiry(const OrgId& org, TimePoint not_after);

  // Changes where org is dialled (e.g. after a config reload, or in tests that learn a port
  // late). Used from the next attempt; a dialler waiting to retry tries again at once.
  void set_peer_address(const OrgId& org, HostPort address);

  // Binds the listen address and spawns the accept loop and one dialler per peer. Returns the
  // bound address ("127.0.0.1:40123"; port 0 in the config picks a free port).
  // Errors: kIo when the address cannot be bound.
  Result<std::string> start();

  // Stops accepting and dialling, closes every session (TLS close_notify, each under a
  // deadline) and returns when all are gone or budget has passed.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds budget);

  // GCC 12: pass a named Message (std::move(m)), never a temporary built inside the co_await
  // expression; GCC 12 destroys such temporaries twice (a crash, not a compile error).
  //
  // Sends message to the connected peer org and waits for the response with the same request
  // id (the request id is assigned here). Errors: kDisconnected (not connected, or the session
  // ended first), kOverloaded (timeout or too many pending writes), the peer's `error` reply
  // mapped to an Errc (what = "peer error: <text>", where = org). The frame is queued before
  // the coroutine first suspends, and a session writes frames in queue order and its peer starts
  // their handlers in arrival order: requests started one after another reach the peer's
  // handler in that order (sync relies on it to keep several steps in flight).
  boost::asio::awaitable<Result<protocol::Message>> request(const OrgId& org,
                                                            protocol::Message message,
                                                            std::chrono::milliseconds timeout);
  // Queues message for org without waiting for an answer. Errors as for request().
  Result<void> send(const OrgId& org, protocol::Message message);

  // Completes when org is connected (true) or timeout passes (false).
  boost::asio::awaitable<bool> wait_connected(const OrgId& org, std::chrono::milliseconds timeout);

  bool is_connected(const OrgId& org) const;
  NetworkStatus status() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace jisr::net
