// MatchService: match jobs and reveals on the live node (issue 6). It runs a job against a
// connected peer (MatchEngine::begin_job -> MatchRequest -> MatchResponse -> finish_job), asks
// the peer to reveal a confirmed candidate (RevealRequest -> RevealResponse), answers the
// peer's MatchRequest / RevealRequest under our agreement with it, and serves the admin socket
// commands behind `jisr match` and `jisr matches confirm`:
//   {"cmd":"match","peer":P,"method":"psi"}  -> {"ok":true,"job":...,"candidates":N,...}
//   {"cmd":"match_confirm","id":N}             -> {"ok":true,"id":N,"fields":K,"refused":R}
// A refusal by the peer (method not allowed, quota) comes back as {"ok":false,"error":...}.
// Threading: the node's io thread only (like node/net and SyncService).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <array>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "node/exchange/match_engine.hpp"
#include "node/net/peer_identity.hpp"
#include "node/net/peer_network.hpp"
#include "policies/policy_set.hpp"

namespace jisr::exchange {

struct MatchOptions {
  std::chrono::milliseconds request_timeout{120'000};  // one match or reveal round trip
};

class MatchService {
 public:
  MatchService(net::PeerNetwork& network, const policies::PolicyHolder& policies, MatchEngine& engine,
               MatchOptions options = {});
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
  net::PeerNetwork& network_;
  const policies::PolicyHolder& policies_;
  MatchEngine& engine_;
  MatchOptions options_;
  std::map<OrgId, std::array<uint8_t, 32>> peer_keys_;
};

}  // namespace jisr::exchange
