// SyncService: runs policy-filtered sharing on the live node (issue 5). For each configured
// peer it pushes the outbox whenever the peer is connected and something is pending (it
// checks after every connection, every poll_interval, and when `jisr sync` asks), one step at
// a time: withdrawals first, then a batch, each awaited for its signed receipt, verified, then
// committed. It also answers the peer's batches and withdrawals through the Inbox, and purges
// received records past retention.
//
// A step interrupted by a disconnect or a crash is simply planned again later from the last
// committed receipt; the receiver is idempotent, so nothing is lost or duplicated.
//
// Threading: like node/net, everything runs on the node's single io_context thread: call every
// method from it. At most one sync runs per peer at a time; a second request waits for it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "node/exchange/inbox.hpp"
#include "node/exchange/outbox.hpp"
#include "node/net/peer_identity.hpp"
#include "node/net/peer_network.hpp"
#include "policies/policy_set.hpp"

namespace boost::asio {
class io_context;
}

namespace jisr::exchange {

struct SyncOptions {
  std::chrono::milliseconds poll_interval{1000};          // how often pending work is looked for
  std::chrono::milliseconds request_timeout{60'000};      // per batch / withdrawal round trip
  std::chrono::milliseconds purge_interval{3'600'000};    // retention purge of received records
};

// What one sync of one peer did.
struct SyncOutcome {
  OrgId peer;
  uint64_t steps = 0;
  uint64_t records_sent = 0;
  uint64_t records_withdrawn = 0;
  uint64_t pending = 0;  // changes still unacknowledged afterwards
};

class SyncService {
 public:
  SyncService(boost::asio::io_context& io, net::PeerNetwork& network,
              const policies::PolicyHolder& policies, Outbox& outbox, Inbox& inbox,
              const Clock& clock, OrgId self, SyncOptions options = {});
  ~SyncService();
  SyncService(const SyncService&) = delete;
  SyncService& operator=(const SyncService&) = delete;

  // The peer's Ed25519 key that its receipts must verify with (from its certificate).
  void set_peer_key(const OrgId& peer, const PeerPublicKey& key);

  // Starts the poll and purge loops.
  void start();
  void stop();

  // Called by the node's message dispatcher.
  void on_peer_connected(const net::PeerIdentity& peer);
  boost::asio::awaitable<std::optional<protocol::Message>> handle(const net::PeerIdentity& peer,
                                                                  const protocol::Message& message);

  // Pushes everything pending for peer now and returns when the peer has acknowledged it all
  // (or fails: not connected, no agreement in force, a refused or unverifiable receipt).
  boost::asio::awaitable<Result<SyncOutcome>> sync_peer(OrgId peer);

  // Per peer: pending changes, last acknowledged change, last receipt, and why sync is paused.
  nlohmann::json status() const;

 private:
  struct PeerSync {
    bool busy = false;
    std::string paused;  // why nothing is sent ("no agreement", ...), empty when sending
    std::string last_error;
    std::optional<TimePoint> last_sync;
  };
  boost::asio::awaitable<Result<SyncOutcome>> run_sync(const OrgId& peer);
  boost::asio::awaitable<void> poll_loop();
  boost::asio::awaitable<void> purge_loop();

  boost::asio::io_context& io_;
  net::PeerNetwork& network_;
  const policies::PolicyHolder& policies_;
  Outbox& outbox_;
  Inbox& inbox_;
  const Clock& clock_;
  OrgId self_;
  SyncOptions options_;
  std::map<OrgId, PeerPublicKey> peer_keys_;
  std::map<OrgId, PeerSync> peers_;
  std::shared_ptr<bool> running_;
};

}  // namespace jisr::exchange
