// NodeDispatcher: the running node's net::MessageHandler. Routes what peers send to the use
// case that answers it (record batches and withdrawals to SyncService; audit checkpoint heads
// to the audit log, answered with our own head, so each side holds the other's signed log
// state), learns each peer's certified signing key when it connects, and logs refused
// connections to the audit log as rate-limited summaries. Anything no use case handles gets an
// `unsupported` error, never silence.
// Threading: the node's io thread only (like node/net).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <array>
#include <functional>
#include <optional>

#include "node/audit/audit_log.hpp"
#include "node/audit/checkpoint.hpp"
#include "node/exchange/sync_service.hpp"
#include "node/net/message_handler.hpp"
#include "node/net/peer_network.hpp"

namespace jisr::exchange {

class MatchService;

class NodeDispatcher final : public net::MessageHandler {
 public:
  NodeDispatcher(store::Env& env, const audit::AuditLog& audit, const audit::CheckpointSigner& signer,
                 const Clock& clock);

  // Wiring after construction (PeerNetwork needs the dispatcher first).
  void attach(SyncService* sync, net::PeerNetwork* network, boost::asio::io_context* io);
  // Match queries and reveal requests go to `match` (nullptr: answered as unsupported).
  void attach_match(MatchService* match) { match_ = match; }

  boost::asio::awaitable<std::optional<protocol::Message>> handle(const net::PeerIdentity& peer,
                                                                  protocol::Message message) override;
  void on_peer_connected(const net::PeerIdentity& peer) override;
  void on_connection_refused(const std::string& remote, const std::string& reason) override;

  // Called with each peer's certified signing key when it connects (node/app records it as
  // DIR/peers/ORG.sign.pub, which `jisr audit verify` checks stored peer heads against).
  void on_peer_key(std::function<void(const OrgId&, const std::array<uint8_t, 32>&)> fn) {
    on_peer_key_ = std::move(fn);
  }

  // Signs the head when due and flushes the refusal summary; call periodically.
  void tick();

 private:
  Result<protocol::Checkpoint> our_head();
  Result<void> store_head(const net::PeerIdentity& peer, const protocol::Checkpoint& head);
  boost::asio::awaitable<void> exchange_heads(net::PeerIdentity peer);

  store::Env& env_;
  const audit::AuditLog& audit_;
  const audit::CheckpointSigner& signer_;
  const Clock& clock_;
  SyncService* sync_ = nullptr;
  MatchService* match_ = nullptr;
  net::PeerNetwork* network_ = nullptr;
  boost::asio::io_context* io_ = nullptr;
  std::function<void(const OrgId&, const std::array<uint8_t, 32>&)> on_peer_key_;
  std::map<std::string, uint64_t> refusals_;  // reason -> count since the last summary
  TimePoint last_summary_{};
};

}  // namespace jisr::exchange
