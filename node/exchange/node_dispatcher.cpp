#include "node/exchange/node_dispatcher.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "node/exchange/match_service.hpp"

namespace jisr::exchange {

namespace asio = boost::asio;

namespace {
constexpr auto kRefusalSummaryEvery = std::chrono::minutes(1);
constexpr auto kHeadTimeout = std::chrono::seconds(30);
}  // namespace

NodeDispatcher::NodeDispatcher(store::Env& env, const audit::AuditLog& audit,
                               const audit::CheckpointSigner& signer, const Clock& clock)
    : env_(env), audit_(audit), signer_(signer), clock_(clock) {}

void NodeDispatcher::attach(SyncService* sync, net::PeerNetwork* network, asio::io_context* io) {
  sync_ = sync;
  network_ = network;
  io_ = io;
}

Result<protocol::Checkpoint> NodeDispatcher::our_head() {
  JISR_TRY(auto head, env_.write([&](store::WriteTxn& txn) {
    return audit_.make_checkpoint_head(txn, clock_.now(), signer_);
  }));
  protocol::Checkpoint c;
  c.seq = head.seq;
  c.hash.assign(reinterpret_cast<const char*>(head.head.data()), head.head.size());
  c.time_ms = to_unix_ms(head.time);
  c.signature.assign(reinterpret_cast<const char*>(head.signature.data()), head.signature.size());
  c.org = OrgId(head.org);
  return c;
}

Result<void> NodeDispatcher::store_head(const net::PeerIdentity& peer, const protocol::Checkpoint& c) {
  if (!peer.sign_key) return make_error(Errc::kDenied, "peer certificate carries no signing key", peer.org.str());
  if (c.hash.size() != 32 || c.signature.size() != 64) {
    return make_error(Errc::kInvalidInput, "malformed checkpoint head", peer.org.str());
  }
  audit::CheckpointHead head;
  head.org = c.org.str();
  head.seq = c.seq;
  std::copy(c.hash.begin(), c.hash.end(), head.head.begin());
  head.time = from_unix_ms(c.time_ms);
  head.key = *peer.sign_key;
  std::copy(c.signature.begin(), c.signature.end(), head.signature.begin());
  JISR_TRY(env_.write([&](store::WriteTxn& txn) -> Result<void> {
    JISR_TRY(audit::AuditLog::store_peer_checkpoint(txn, peer.org.str(), head, *peer.sign_key));
    return ok();
  }));
  return ok();
}

asio::awaitable<std::optional<protocol::Message>> NodeDispatcher::handle(const net::PeerIdentity& peer,
                                                                         protocol::Message message) {
  if (message.get<protocol::RecordBatch>() || message.get<protocol::Withdrawal>()) {
    if (sync_) co_return co_await sync_->handle(peer, message);
  }
  if (match_ && (message.get<protocol::MatchRequest>() || message.get<protocol::RevealRequest>())) {
    if (auto reply = co_await match_->handle(peer, message)) co_return reply;
  }
  if (const auto* head = message.get<protocol::Checkpoint>()) {
    if (auto stored = store_head(peer, *head); !stored) {
      spdlog::warn("checkpoint head from {} refused: {}", peer.org.str(), stored.error().what);
      co_return protocol::error_message(protocol::ErrorCode::kDenied, stored.error().what, message.request_id);
    }
    auto ours = our_head();
    if (!ours) {
      // An empty log has no head to sign yet; say so rather than time the peer out.
      co_return protocol::error_message(protocol::ErrorCode::kUnsupported, ours.error().what, message.request_id);
    }
    co_return protocol::Message{message.request_id, std::move(ours).value()};
  }
  co_return protocol::error_message(
      protocol::ErrorCode::kUnsupported,
      fmt::format("this node does not handle {} yet", protocol::message_kind_name(message.kind())),
      message.request_id);
}

asio::awaitable<void> NodeDispatcher::exchange_heads(net::PeerIdentity peer) {
  auto ours = our_head();
  if (!ours) co_return;  // nothing logged yet: nothing to anchor
  // A named message, not a temporary: GCC 12 may destroy a temporary argument of a coroutine
  // call inside co_await twice.
  protocol::Message request{0, std::move(ours).value()};
  auto reply = co_await network_->request(peer.org, std::move(request),
                                          std::chrono::duration_cast<std::chrono::milliseconds>(kHeadTimeout));
  if (!reply) {
    spdlog::info("checkpoint exchange with {}: {}", peer.org.str(), reply.error().what);
    co_return;
  }
  if (const auto* theirs = reply.value().get<protocol::Checkpoint>()) {
    if (auto stored = store_head(peer, *theirs); !stored) {
      spdlog::warn("checkpoint head from {} refused: {}", peer.org.str(), stored.error().what);
    }
  }
}

void NodeDispatcher::on_peer_connected(const net::PeerIdentity& peer) {
  if (peer.sign_key && on_peer_key_) on_peer_key_(peer.org, *peer.sign_key);
  if (match_ && peer.sign_key) match_->set_peer_key(peer.org, *peer.sign_key);
  if (sync_) {
    if (peer.sign_key) sync_->set_peer_key(peer.org, PeerPublicKey{*peer.sign_key});
    sync_->on_peer_connected(peer);
  }
  // The dialling side starts the head exchange; the other answers it (one round trip each way).
  if (network_ && io_ && peer.direction == net::Direction::kOutbound) {
    asio::co_spawn(*io_, exchange_heads(peer), asio::detached);
  }
}

void NodeDispatcher::on_connection_refused(const std::string& /*remote*/, const std::string& reason) {
  // Reasons are fixed texts from the transport (no personal data); bound the map anyway.
  if (refusals_.size() < 64 || refusals_.count(reason)) ++refusals_[reason.substr(0, 120)];
}

void NodeDispatcher::tick() {
  const TimePoint now = clock_.now();
  if (!refusals_.empty() && now - last_summary_ >= kRefusalSummaryEvery) {
    audit::AuditEvent e;
    e.kind = audit::AuditKind::kConnectionRefused;
    e.actor = {audit::ActorKind::kNode, {}};
    uint64_t total = 0;
    for (const auto& [reason, n] : refusals_) total += n;
    e.counts.push_back({"refused", total});
    std::string detail;
    for (const auto& [reason, n] : refusals_) {
      std::string part = fmt::format("{}{} x{}", detail.empty() ? "" : "; ", reason, n);
      if (detail.size() + part.size() > audit::kMaxDetailBytes) break;
      detail += part;
    }
    // ASCII only in details: keep printable ASCII characters of the reasons.
    std::erase_if(detail, [](char c) { return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e; });
    e.detail = detail;
    if (auto r = audit_.append(e, now); !r) spdlog::warn("audit: {}", r.error().what);
    refusals_.clear();
    last_summary_ = now;
  }
  auto checkpoint = env_.write([&](store::WriteTxn& txn) -> Result<void> {
    JISR_TRY(audit_.maybe_checkpoint(txn, now, signer_));
    return ok();
  });
  if (!checkpoint) spdlog::warn("audit checkpoint: {}", checkpoint.error().what);
}

}  // namespace jisr::exchange
