// SyncService: runs policy-filtered sharing on the live node (issue 5). For each configured
// peer it pushes the outbox whenever the peer is connected and something is pending (it
// checks after every connection, every poll_interval, and when `jisr sync` asks), in steps:
// each step's withdrawals, then its batch. Up to kStepsInFlight steps are on the wire at once
// (so the peer stores one batch while this node plans the next), but they are committed one
// at a time in plan order, each only once its signed receipts arrived and verified; the first
// step that fails stops the sync, and nothing after it is committed. Every message goes over
// the one session in plan order, and the peer handles them in arrival order, so a withdrawal
// never overtakes a batch planned before it. It also answers the peer's batches and
// withdrawals through the Inbox, and purges received records past retention.
//
// A step interrupted by a disconnect or a crash is simply planned again later from the last
// committed receipt; the receiver is idempotent, so nothing is lost or duplicated.
//
// Threading: like node/net, everything runs on the node's single io_context thread: call every
// method from it. Two exceptions are internal, each a thread the service owns whose results
// are handed back to the io thread: the next steps of a sync are planned (Outbox::plan, reads
// only) on the planner thread, and what peers send is stored (Inbox) on the storer thread, in
// arrival order, batches that queued up while a commit ran sharing the next one. At most one
// sync runs per peer at a time; a second request waits.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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
class thread_pool;
}

namespace jisr::exchange {

// Steps sent before the receipt of the oldest one is awaited. Each holds one batch in memory
// (at most NodeLimits::batch_bytes) and up to two requests at the peer, under its
// TransportOptions::max_handlers_in_flight (16).
inline constexpr size_t kStepsInFlight = 4;
// Steps planned ahead of the one sent next: planning (policy, projection, digests) runs on its
// own thread while this one commits, and a commit never waits for a plan it could have had.
inline constexpr size_t kStepsPlannedAhead = 2;

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
  struct StepReplies;
  struct InFlightStep;
  struct PlannedStep;
  // Plans the chain's next step on the planner thread; the result comes back on the io thread
  // (PlannedStep::done). Steps of one chain are planned in the order asked.
  struct PlanChain;
  std::shared_ptr<PlannedStep> plan_on_planner(std::shared_ptr<const policies::CompiledAgreement> agreement,
                                               std::shared_ptr<PlanChain> chain);
  boost::asio::awaitable<Result<SyncOutcome>> run_sync(const OrgId& peer);
  // Queues the step's withdrawal, then its batch, on the peer's session now (in that order)
  // and returns what completes when both answers are in. The batch's records move to the wire:
  // afterwards plan.batch keeps its header only.
  std::shared_ptr<StepReplies> send_step(const OrgId& peer, SyncPlan& plan);
  boost::asio::awaitable<void> await_reply(OrgId peer, protocol::Message request,
                                           std::shared_ptr<StepReplies> replies, bool is_batch);
  // Waits for both answers of a step and checks its receipts; the verified receipts.
  boost::asio::awaitable<Result<void>> finish_step(const OrgId& peer, InFlightStep& step,
                                                   const PeerPublicKey& key);
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
  // One thread that plans the next step of a sync (reads only) while the io thread commits
  // and sends the ones before it. Joined by the destructor before the Outbox can go away.
  std::unique_ptr<boost::asio::thread_pool> planner_;
  // One thread that stores what peers send (Inbox: checks, writes, the durable commit) while
  // the io thread reads and decodes the next batch. One thread, so batches and withdrawals
  // are applied in the order they arrived. Joined by the destructor, like the planner.
  std::unique_ptr<boost::asio::thread_pool> storer_;
  // Batches and withdrawals waiting for the storer, oldest first, and whether it is at them.
  struct Delivery;
  std::mutex deliveries_mutex_;
  std::deque<std::shared_ptr<Delivery>> deliveries_;  // guarded by deliveries_mutex_
  bool storing_ = false;                              // guarded by deliveries_mutex_
  // Queues a delivery for the storer and resumes on the io thread when its result is in.
  boost::asio::awaitable<void> deliver(std::shared_ptr<Delivery> delivery);
  // On the storer thread: stores what is queued, in order, until nothing is.
  void store_deliveries();
};

}  // namespace jisr::exchange
