#include "node/exchange/sync_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "node/store/record_store.hpp"

namespace jisr::exchange {

namespace asio = boost::asio;

namespace {
// How long a second sync request for the same peer waits for the running one.
constexpr auto kBusyWait = std::chrono::minutes(10);
constexpr auto kBusyPoll = std::chrono::milliseconds(20);
// Steps per sync call before yielding to the poll loop again (bounds one call's duration).
constexpr uint64_t kMaxStepsPerSync = 100'000;
}  // namespace

SyncService::SyncService(asio::io_context& io, net::PeerNetwork& network,
                         const policies::PolicyHolder& policies, Outbox& outbox, Inbox& inbox,
                         const Clock& clock, OrgId self, SyncOptions options)
    : io_(io),
      network_(network),
      policies_(policies),
      outbox_(outbox),
      inbox_(inbox),
      clock_(clock),
      self_(std::move(self)),
      options_(options),
      running_(std::make_shared<bool>(false)) {}

SyncService::~SyncService() { *running_ = false; }

void SyncService::set_peer_key(const OrgId& peer, const PeerPublicKey& key) { peer_keys_[peer] = key; }

void SyncService::start() {
  *running_ = true;
  asio::co_spawn(io_, poll_loop(), asio::detached);
  asio::co_spawn(io_, purge_loop(), asio::detached);
}

void SyncService::stop() { *running_ = false; }

void SyncService::on_peer_connected(const net::PeerIdentity& peer) {
  if (!*running_) return;
  // Start at once rather than at the next poll: the peer may have waited for days.
  asio::co_spawn(
      io_,
      [this, org = peer.org, alive = running_]() -> asio::awaitable<void> {
        if (!*alive) co_return;
        auto r = co_await sync_peer(org);
        if (!r && r.error().code != Errc::kDenied) {
          spdlog::info("sync with {}: {}", org.str(), r.error().message());
        }
      },
      asio::detached);
}

asio::awaitable<std::optional<protocol::Message>> SyncService::handle(const net::PeerIdentity& peer,
                                                                      const protocol::Message& message) {
  const auto set = policies_.current();
  const auto agreement = set->for_peer(peer.org);
  const auto as_error = [&](const Error& e) {
    const auto code = e.code == Errc::kDenied        ? protocol::ErrorCode::kDenied
                      : e.code == Errc::kInvalidInput ? protocol::ErrorCode::kMalformedFrame
                                                      : protocol::ErrorCode::kInternal;
    return protocol::error_message(code, e.what, message.request_id);
  };
  if (const auto* batch = message.get<protocol::RecordBatch>()) {
    auto receipt = inbox_.receive_batch(peer.org, *batch, agreement.get());
    if (!receipt) {
      spdlog::warn("batch from {} refused: {}", peer.org.str(), receipt.error().what);
      co_return as_error(receipt.error());
    }
    spdlog::info("batch from {}: {} record(s) accepted, {} rejected", peer.org.str(),
                 receipt.value().accepted, receipt.value().rejected);
    co_return protocol::Message{message.request_id, std::move(receipt).value()};
  }
  if (const auto* withdrawal = message.get<protocol::Withdrawal>()) {
    auto receipt = inbox_.receive_withdrawal(peer.org, *withdrawal);
    if (!receipt) co_return as_error(receipt.error());
    spdlog::info("withdrawal from {}: {} record(s) deleted", peer.org.str(), receipt.value().deleted);
    co_return protocol::Message{message.request_id, std::move(receipt).value()};
  }
  co_return std::nullopt;
}

asio::awaitable<Result<SyncOutcome>> SyncService::sync_peer(OrgId peer) {
  auto& state = peers_[peer];
  const auto deadline = std::chrono::steady_clock::now() + kBusyWait;
  asio::steady_timer timer(io_);
  while (state.busy) {
    if (std::chrono::steady_clock::now() > deadline) {
      co_return make_error(Errc::kOverloaded, "another sync with this peer is still running", peer.str());
    }
    timer.expires_after(kBusyPoll);
    co_await timer.async_wait(asio::use_awaitable);
  }
  state.busy = true;
  auto result = co_await run_sync(peer);
  auto& after = peers_[peer];
  after.busy = false;
  after.last_sync = clock_.now();
  after.last_error = result ? std::string() : result.error().what;
  co_return result;
}

asio::awaitable<Result<SyncOutcome>> SyncService::run_sync(const OrgId& peer) {
  SyncOutcome outcome;
  outcome.peer = peer;
  auto& state = peers_[peer];
  const auto set = policies_.current();
  const auto agreement = set->for_peer(peer);
  if (!agreement) {
    state.paused = "no agreement with this peer";
    co_return make_error(Errc::kDenied, state.paused, peer.str());
  }
  if (!agreement->in_force(clock_.now())) {
    state.paused = "the agreement is not in force (" + agreement->id().str() + ")";
    co_return make_error(Errc::kDenied, state.paused, peer.str());
  }
  state.paused.clear();
  if (!network_.is_connected(peer)) {
    co_return make_error(Errc::kDisconnected, "peer not connected", peer.str());
  }
  const auto key = peer_keys_.find(peer);
  if (key == peer_keys_.end()) {
    co_return make_error(Errc::kDenied, "the peer's certificate carries no receipt signing key", peer.str());
  }
  while (outcome.steps < kMaxStepsPerSync) {
    JISR_CO_TRY(auto plan, outbox_.plan(*agreement));
    if (!plan.advances()) break;
    JISR_CO_TRY(outbox_.prepare(plan));
    std::optional<protocol::WithdrawalReceipt> withdrawal_receipt;
    std::optional<protocol::BatchReceipt> batch_receipt;
    if (plan.withdrawal) {
      // A named message, not a temporary: GCC 12 may destroy a temporary argument of a
      // coroutine call inside co_await twice.
      protocol::Message request{0, *plan.withdrawal};
      auto reply = co_await network_.request(peer, std::move(request), options_.request_timeout);
      if (!reply) co_return reply.error();
      const auto* r = reply.value().get<protocol::WithdrawalReceipt>();
      if (!r) co_return make_error(Errc::kDenied, "the peer answered a withdrawal with something else", peer.str());
      JISR_CO_TRY(Outbox::verify_withdrawal_receipt(plan, *r, self_, key->second));
      withdrawal_receipt = *r;
    }
    if (plan.batch) {
      protocol::Message request{0, *plan.batch};  // named: see the withdrawal above
      auto reply = co_await network_.request(peer, std::move(request), options_.request_timeout);
      if (!reply) co_return reply.error();
      const auto* r = reply.value().get<protocol::BatchReceipt>();
      if (!r) co_return make_error(Errc::kDenied, "the peer answered a batch with something else", peer.str());
      JISR_CO_TRY(Outbox::verify_batch_receipt(plan, *r, self_, key->second));
      batch_receipt = *r;
    }
    JISR_CO_TRY(outbox_.commit(plan, batch_receipt, withdrawal_receipt));
    ++outcome.steps;
    outcome.records_sent += plan.batch ? plan.batch->records.size() : 0;
    outcome.records_withdrawn += plan.withdrawal ? plan.withdrawal->records.size() : 0;
    if (plan.batch || plan.withdrawal) {
      spdlog::info("sync with {}: changes {}..{}: {} record(s) sent, {} withdrawn", peer.str(),
                   plan.from_seq + 1, plan.to_seq, plan.batch ? plan.batch->records.size() : 0,
                   plan.withdrawal ? plan.withdrawal->records.size() : 0);
    }
  }
  JISR_CO_TRY(auto pending, outbox_.pending(peer, agreement->version()));
  outcome.pending = pending;
  co_return outcome;
}

asio::awaitable<void> SyncService::poll_loop() {
  auto alive = running_;
  asio::steady_timer timer(io_);
  while (*alive) {
    timer.expires_after(options_.poll_interval);
    co_await timer.async_wait(asio::use_awaitable);
    if (!*alive) break;
    const auto set = policies_.current();
    for (const auto& [org, entry] : set->entries()) {
      auto& state = peers_[org];
      if (state.busy || !network_.is_connected(org)) continue;
      auto pending = outbox_.pending(org, entry.agreement->version());
      if (!pending || pending.value() == 0) continue;
      asio::co_spawn(
          io_,
          [this, org = org]() -> asio::awaitable<void> {
            auto r = co_await sync_peer(org);
            if (!r && r.error().code != Errc::kDenied) {
              spdlog::info("sync with {}: {}", org.str(), r.error().message());
            }
          },
          asio::detached);
    }
  }
}

asio::awaitable<void> SyncService::purge_loop() {
  auto alive = running_;
  asio::steady_timer timer(io_);
  while (*alive) {
    auto purged = inbox_.purge_expired();
    if (!purged) {
      spdlog::warn("retention purge failed: {}", purged.error().message());
    } else if (purged.value() > 0) {
      spdlog::info("retention purge: {} received record(s) deleted", purged.value());
    }
    timer.expires_after(options_.purge_interval);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

nlohmann::json SyncService::status() const {
  nlohmann::json out = nlohmann::json::object();
  const auto set = policies_.current();
  for (const auto& [org, entry] : set->entries()) {
    nlohmann::json p{{"agreement", entry.agreement->id().str()},
                     {"policy_version", entry.agreement->short_version()}};
    if (auto pending = outbox_.pending(org, entry.agreement->version())) p["pending"] = pending.value();
    if (auto st = outbox_.state(org)) {
      p["acked_seq"] = st.value().policy_version == entry.agreement->version() ? st.value().acked_seq : 0;
      p["receipts"] = st.value().receipts;
      if (st.value().last_receipt_ms > 0) p["last_receipt"] = format_utc(from_unix_ms(st.value().last_receipt_ms));
    }
    if (auto it = peers_.find(org); it != peers_.end()) {
      if (!it->second.paused.empty()) p["paused"] = it->second.paused;
      if (!it->second.last_error.empty()) p["last_error"] = it->second.last_error;
      if (it->second.last_sync) p["last_sync"] = format_utc(*it->second.last_sync);
    }
    if (!entry.agreement->in_force(clock_.now())) p["paused"] = "the agreement is not in force";
    out[org.str()] = std::move(p);
  }
  return out;
}

}  // namespace jisr::exchange
