// MatchService: match jobs and reveals on the live node (issue 6). It runs a job against a
// connected peer (MatchEngine::begin_job -> MatchRequest -> MatchResponse -> finish_job), asks
// the peer to reveal a confirmed candidate (RevealRequest -> RevealResponse), answers the
// peer's MatchRequest / RevealRequest under our agreement with it, and serves the admin socket
// commands behind `jisr match` and `jisr matches confirm`:
//   {"cmd":"match","peer":P,"method":"psi"}  -> {"ok":true,"job":...,"candidates":N,...}
//   {"cmd":"match_confirm","id":N}             -> {"ok":true,"id":N,"fields":K,"refused":R}
// A refusal by the peer (method not allowed, quota) comes back as {"ok":false,"error":...}.
// Scheduled jobs: for each agreement in force whose match section sets `every`, the node runs a
// job with that peer (psi when our agreement allows it, else bloom) once `every` has passed
// since the last job with it (the first one period after the node started) AND our records
// changed since (MatchEngine::scheduled_job_due);
// a pair found again is not a new candidate (stable handles). A failed scheduled job is
// retried after min(every, 1h), not at once, so a refusing peer is not hammered.
// Threading: called on the node's io thread only (like node/net and SyncService). The heavy
// steps of a job (keys, blinding, the responder's answer, the intersection: minutes of CPU for
// tens of thousands of records) run on one worker thread of this service, so the io thread
// keeps serving sync, pings and the admin socket meanwhile; one job computes at a time.
// Shutdown waits for a computation in progress to end.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

#include "node/exchange/match_engine.hpp"
#include "node/net/peer_identity.hpp"
#include "node/net/peer_network.hpp"
#include "policies/policy_set.hpp"

namespace jisr::exchange {

struct MatchOptions {
  // One match or reveal round trip: a responder answers a job of tens of thousands of records
  // in minutes (PSI group operations), so this is generous; a dead peer is found sooner by the
  // session's keepalive.
  std::chrono::milliseconds request_timeout{30 * 60'000};
  std::chrono::milliseconds schedule_poll{30'000};     // how often due jobs are looked for (at most)
  // Bytes of points, filters or candidates per frame of a match job (upload parts and answer
  // pages, match_paging.hpp): half the frame limit leaves room for the envelope.
  size_t frame_budget = 8u << 20;
};

class MatchService {
 public:
  MatchService(boost::asio::io_context& io, net::PeerNetwork& network, const policies::PolicyHolder& policies,
               MatchEngine& engine, const Clock& clock, MatchOptions options = {});

  // Starts and stops the loop that runs scheduled jobs.
  void start();
  void stop() { *running_ = false; }
  // Per peer with a schedule: {"every_s", "last_job_ms", "last_method", "last_error"}.
  nlohmann::json status();
  MatchService(const MatchService&) = delete;
  MatchService& operator=(const MatchService&) = delete;

  // The peer's certified Ed25519 key (learned when it connects): bloom jobs derive their
  // shared secret from it.
  void set_peer_key(const OrgId& peer, const std::array<uint8_t, 32>& key) { peer_keys_[peer] = key; }

  // Runs one job now. Errors: kDenied (no agreement, or the peer refused), kOverloaded (the
  // peer's quota), kDisconnected (peer not connected), kInvalidInput.
  boost::asio::awaitable<Result<MatchJobOutcome>> run_job(OrgId peer, protocol::MatchMethod method);
  // Asks the peer to reveal a candidate and stores the answer (the candidate becomes confirmed).
  boost::asio::awaitable<Result<RevealOutcome>> confirm(uint64_t candidate_id);
  // Answers MatchRequest and RevealRequest; nullopt for anything else.
  boost::asio::awaitable<std::optional<protocol::Message>> handle(const net::PeerIdentity& peer,
                                                                  const protocol::Message& message);
  // Admin socket commands (see the file comment).
  boost::asio::awaitable<nlohmann::json> admin_match(const nlohmann::json& request);
  boost::asio::awaitable<nlohmann::json> admin_confirm(const nlohmann::json& request);

 private:
  // Runs fn() on the worker thread and resumes on the io thread with its result.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&>> off_io(F fn);
  boost::asio::awaitable<void> schedule_loop();
  // Runs one scheduled job with the peer if it is due (called by schedule_loop).
  boost::asio::awaitable<void> run_if_due(OrgId peer);

  struct Schedule {
    bool busy = false;
    std::optional<std::chrono::steady_clock::time_point> retry_after;
    std::string last_error;
  };

  boost::asio::io_context& io_;
  net::PeerNetwork& network_;
  const policies::PolicyHolder& policies_;
  MatchEngine& engine_;
  const Clock& clock_;
  TimePoint started_{};
  MatchOptions options_;
  std::map<OrgId, std::array<uint8_t, 32>> peer_keys_;
  std::map<OrgId, Schedule> schedule_;
  std::shared_ptr<bool> running_ = std::make_shared<bool>(false);
  boost::asio::thread_pool workers_{1};  // last member: joined first on destruction
};

}  // namespace jisr::exchange
