#include "node/exchange/sync_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
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

// A result made on another thread (the planner's, the storer's) for the io thread:
// hand_over() posts it there and wakes wait(), which resumes on the io thread once it is in.
template <class T>
struct Handoff {
  explicit Handoff(asio::io_context& io) : done(io, std::chrono::steady_clock::time_point::max()) {}
  // Nothing else runs on the io thread between the test and the wait: no wake-up is missed.
  asio::awaitable<void> wait() {
    if (!result) {
      [[maybe_unused]] auto [ec] = co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  std::optional<T> result;  // set on the io thread
  asio::steady_timer done;  // cancelled when the result is in
};

template <class H, class T>
void hand_over(asio::io_context& io, std::shared_ptr<H> to, T value) {
  asio::post(io, [to = std::move(to), value = std::move(value)]() mutable {
    to->result = std::move(value);
    to->done.cancel();
  });
}

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
      running_(std::make_shared<bool>(false)),
      planner_(std::make_unique<asio::thread_pool>(1)),
      storer_(std::make_unique<asio::thread_pool>(1)) {}

SyncService::~SyncService() {
  *running_ = false;
  planner_->join();
  storer_->join();
}

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

// What the storer made of a batch or a withdrawal: its receipt, or why not.
using StoreResult = std::variant<Result<protocol::BatchReceipt>, Result<protocol::WithdrawalReceipt>>;

// A batch or a withdrawal from a peer, handed to the storer in arrival order; its result comes
// back on the io thread.
struct SyncService::Delivery : Handoff<StoreResult> {
  using Handoff::Handoff;
  Inbox::BatchDelivery batch;                        // .batch set for a batch; .peer always
  const protocol::Withdrawal* withdrawal = nullptr;  // set for a withdrawal
};

asio::awaitable<void> SyncService::deliver(std::shared_ptr<Delivery> delivery) {
  bool start = false;
  {
    std::lock_guard lock(deliveries_mutex_);
    deliveries_.push_back(delivery);
    start = !storing_;
    storing_ = true;
  }
  if (start) asio::post(*storer_, [this] { store_deliveries(); });
  co_await delivery->wait();
}

void SyncService::store_deliveries() {
  const auto finish = [this](const std::shared_ptr<Delivery>& d, auto result) {
    hand_over(io_, d, StoreResult(std::move(result)));
  };
  for (;;) {
    std::vector<std::shared_ptr<Delivery>> taken;
    {
      std::lock_guard lock(deliveries_mutex_);
      if (deliveries_.empty()) {
        storing_ = false;
        return;
      }
      taken.assign(deliveries_.begin(), deliveries_.end());
      deliveries_.clear();
    }
    // In arrival order. The batches that arrived one after another while the last commit ran
    // share the next one (group commit); a withdrawal commits on its own, between them.
    for (size_t i = 0; i < taken.size();) {
      if (taken[i]->withdrawal) {
        Result<protocol::WithdrawalReceipt> r = make_error(Errc::kInternal, "storing failed");
        try {
          r = inbox_.receive_withdrawal(taken[i]->batch.peer, *taken[i]->withdrawal);
        } catch (const std::exception& e) {  // a bug; the peer gets an error, the thread lives
          r = make_error(Errc::kInternal, fmt::format("storing failed: {}", e.what()));
        }
        finish(taken[i], std::move(r));
        ++i;
        continue;
      }
      std::vector<Inbox::BatchDelivery> run;
      for (size_t j = i; j < taken.size() && !taken[j]->withdrawal; ++j) run.push_back(taken[j]->batch);
      std::vector<Result<protocol::BatchReceipt>> results;
      try {
        results = inbox_.receive_batches(run);
      } catch (const std::exception& e) {
        results.assign(run.size(), make_error(Errc::kInternal, fmt::format("storing failed: {}", e.what())));
      }
      for (size_t k = 0; k < run.size(); ++k) finish(taken[i + k], std::move(results[k]));
      i += run.size();
    }
  }
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
    // The message and the agreement outlive the wait: this coroutine holds them.
    auto delivery = std::make_shared<Delivery>(io_);
    delivery->batch = Inbox::BatchDelivery{peer.org, batch, agreement.get()};
    co_await deliver(delivery);
    auto& receipt = std::get<Result<protocol::BatchReceipt>>(*delivery->result);
    if (!receipt) {
      spdlog::warn("batch from {} refused: {}", peer.org.str(), receipt.error().what);
      co_return as_error(receipt.error());
    }
    spdlog::info("batch from {}: {} record(s) accepted, {} rejected", peer.org.str(),
                 receipt.value().accepted, receipt.value().rejected);
    co_return protocol::Message{message.request_id, std::move(receipt).value()};
  }
  if (const auto* withdrawal = message.get<protocol::Withdrawal>()) {
    auto delivery = std::make_shared<Delivery>(io_);
    delivery->batch.peer = peer.org;
    delivery->withdrawal = withdrawal;
    co_await deliver(delivery);
    auto& receipt = std::get<Result<protocol::WithdrawalReceipt>>(*delivery->result);
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

struct SyncService::StepReplies {
  explicit StepReplies(asio::io_context& io) : done(io, std::chrono::steady_clock::time_point::max()) {}
  asio::steady_timer done;  // cancelled when the last awaited answer is in
  int outstanding = 0;      // answers still awaited
  std::optional<Result<protocol::Message>> withdrawal;
  std::optional<Result<protocol::Message>> batch;
};

struct SyncService::PlannedStep : Handoff<Result<SyncPlan>> {
  using Handoff::Handoff;
};

// What the planner thread carries from one plan of a sync to the next; touched only there.
struct SyncService::PlanChain {
  std::optional<uint64_t> after;  // to_seq of the last step planned
  UncommittedSteps uncommitted;   // the records of every step planned and not committed
  bool finished = false;          // a plan found nothing more, or failed: plan no further
};

std::shared_ptr<SyncService::PlannedStep> SyncService::plan_on_planner(
    std::shared_ptr<const policies::CompiledAgreement> agreement, std::shared_ptr<PlanChain> chain) {
  auto step = std::make_shared<PlannedStep>(io_);
  // Outbox::plan only reads (its own read transaction; LMDB lets it run beside the io thread's
  // writes). The chain's plans run one after another on the one planner thread, each after
  // the one before and counting its records as in flight, so the planner can work ahead of
  // the commits.
  asio::post(*planner_, [this, step, agreement = std::move(agreement), chain = std::move(chain)] {
    Result<SyncPlan> plan = SyncPlan{};  // nothing more to do
    if (!chain->finished) {
      try {
        plan = outbox_.plan(*agreement, chain->after, &chain->uncommitted);
      } catch (const std::exception& e) {  // a bug; the sync reports it instead of the thread dying
        plan = make_error(Errc::kInternal, fmt::format("planning failed: {}", e.what()));
      }
      if (plan && plan.value().advances()) {
        chain->after = plan.value().to_seq;
      } else {
        chain->finished = true;
      }
    }
    hand_over(io_, step, std::move(plan));
  });
  return step;
}

struct SyncService::InFlightStep {
  SyncPlan plan;
  std::shared_ptr<StepReplies> replies;
  std::optional<protocol::WithdrawalReceipt> withdrawal_receipt;
  std::optional<protocol::BatchReceipt> batch_receipt;
};

std::shared_ptr<SyncService::StepReplies> SyncService::send_step(const OrgId& peer, SyncPlan& plan) {
  auto replies = std::make_shared<StepReplies>(io_);
  // co_spawn runs each coroutine at once on this (the io) thread, and request() queues its frame
  // before it first suspends: the withdrawal leaves before the batch, and both after every
  // step sent earlier.
  if (plan.withdrawal) {
    ++replies->outstanding;
    protocol::Message request{0, *plan.withdrawal};  // named: see GCC 12 in peer_network.hpp
    asio::co_spawn(io_, await_reply(peer, std::move(request), replies, false), asio::detached);
  }
  if (plan.batch) {
    ++replies->outstanding;
    // The records leave by move, not by copy (a batch is thousands of small strings); the plan
    // keeps what checking and committing the receipt needs: ids, range, hash, disclosures.
    auto records = std::move(plan.batch->records);
    plan.batch->records.clear();
    protocol::RecordBatch sent = *plan.batch;  // the header, copied while it has no records
    sent.records = std::move(records);
    protocol::Message request{0, std::move(sent)};
    asio::co_spawn(io_, await_reply(peer, std::move(request), replies, true), asio::detached);
  }
  return replies;
}

asio::awaitable<void> SyncService::await_reply(OrgId peer, protocol::Message request,
                                               std::shared_ptr<StepReplies> replies, bool is_batch) {
  auto reply = co_await network_.request(peer, std::move(request), options_.request_timeout);
  (is_batch ? replies->batch : replies->withdrawal) = std::move(reply);
  if (--replies->outstanding == 0) replies->done.cancel();
}

asio::awaitable<Result<void>> SyncService::finish_step(const OrgId& peer, InFlightStep& step,
                                                       const PeerPublicKey& key) {
  // Nothing else runs between this test and the wait (one thread), so the wake-up cannot be
  // missed; request() always completes (answer, error or its timeout).
  if (step.replies->outstanding > 0) {
    [[maybe_unused]] auto [ec] = co_await step.replies->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  const auto& plan = step.plan;
  if (plan.withdrawal) {
    auto& reply = *step.replies->withdrawal;
    if (!reply) co_return reply.error();
    const auto* r = reply.value().get<protocol::WithdrawalReceipt>();
    if (!r) co_return make_error(Errc::kDenied, "the peer answered a withdrawal with something else", peer.str());
    JISR_CO_TRY(Outbox::verify_withdrawal_receipt(plan, *r, self_, key));
    step.withdrawal_receipt = *r;
  }
  if (plan.batch) {
    auto& reply = *step.replies->batch;
    if (!reply) co_return reply.error();
    const auto* r = reply.value().get<protocol::BatchReceipt>();
    if (!r) co_return make_error(Errc::kDenied, "the peer answered a batch with something else", peer.str());
    JISR_CO_TRY(Outbox::verify_batch_receipt(plan, *r, self_, key));
    step.batch_receipt = *r;
  }
  co_return ok();
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
  const auto key_it = peer_keys_.find(peer);
  if (key_it == peer_keys_.end()) {
    co_return make_error(Errc::kDenied, "the peer's certificate carries no receipt signing key", peer.str());
  }
  const PeerPublicKey key = key_it->second;
  // No step of this peer is in flight (one sync per peer, and the last one drained): markers
  // left now are of steps that died, and become in-doubt flags before anything is planned.
  JISR_CO_TRY(outbox_.recover_interrupted(peer));

  // Steps planned and sent, oldest first; the front is the next to commit.
  std::deque<InFlightStep> window;
  uint64_t planned = 0;        // plans asked of the planner (bounded by kMaxStepsPerSync)
  bool all_planned = false;    // a plan found nothing more to do
  // The next steps, being planned on the planner thread, oldest first, while this thread
  // commits and sends.
  std::deque<std::shared_ptr<PlannedStep>> ahead;
  const auto chain = std::make_shared<PlanChain>();
  const auto plan_ahead = [&] {
    while (!all_planned && ahead.size() < kStepsPlannedAhead && planned < kMaxStepsPerSync) {
      ahead.push_back(plan_on_planner(agreement, chain));
      ++planned;
    }
  };
  const auto next_planned = [&]() -> asio::awaitable<Result<std::optional<SyncPlan>>> {
    if (ahead.empty()) co_return std::optional<SyncPlan>();
    co_await ahead.front()->wait();
    auto plan = std::move(*ahead.front()->result);
    ahead.pop_front();
    if (!plan) co_return plan.error();
    if (!plan.value().advances()) {
      all_planned = true;
      co_return std::optional<SyncPlan>();
    }
    plan_ahead();
    co_return std::optional<SyncPlan>(std::move(plan).value());
  };
  const auto launch = [&](SyncPlan plan) {
    auto replies = send_step(peer, plan);
    window.push_back(InFlightStep{std::move(plan), std::move(replies), {}, {}});
  };
  // Before returning early, wait until no step of this sync is still on the wire or being
  // planned, so a later sync never runs beside its leftovers (each ends by answer, error or
  // timeout).
  const auto drain = [&]() -> asio::awaitable<void> {
    for (auto& step : ahead) co_await step->wait();
    for (auto& step : window) {
      if (step.replies->outstanding > 0) {
        [[maybe_unused]] auto [ec] = co_await step.replies->done.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
  };

  // The first kStepsInFlight steps are prepared in transactions of their own; every later one
  // in the transaction that commits the oldest step of the window.
  plan_ahead();
  while (window.size() < kStepsInFlight) {
    auto next = co_await next_planned();
    Result<void> prepared = next ? ok() : Result<void>(next.error());
    if (next && next.value()) prepared = outbox_.prepare(*next.value());
    if (!prepared) {
      co_await drain();
      co_return prepared.error();
    }
    if (!next.value()) break;
    launch(std::move(*next.value()));
  }
  while (!window.empty()) {
    auto finished = co_await finish_step(peer, window.front(), key);
    if (!finished) {
      co_await drain();
      co_return finished.error();
    }
    auto next = co_await next_planned();
    if (!next) {
      co_await drain();
      co_return next.error();
    }
    InFlightStep& done = window.front();
    auto committed = outbox_.commit(done.plan, done.batch_receipt, done.withdrawal_receipt,
                                    next.value() ? &*next.value() : nullptr);
    if (!committed) {
      co_await drain();
      co_return committed.error();
    }
    const SyncPlan& plan = done.plan;
    ++outcome.steps;
    outcome.records_sent += plan.disclosures.size();
    outcome.records_withdrawn += plan.withdrawal ? plan.withdrawal->records.size() : 0;
    if (plan.batch || plan.withdrawal) {
      spdlog::info("sync with {}: changes {}..{}: {} record(s) sent, {} withdrawn", peer.str(),
                   plan.from_seq + 1, plan.to_seq, plan.disclosures.size(),
                   plan.withdrawal ? plan.withdrawal->records.size() : 0);
    }
    window.pop_front();
    if (next.value()) launch(std::move(*next.value()));
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
      p["acked_seq"] = st.value().acked_under(entry.agreement->version());
      p["receipts"] = st.value().receipts;
      if (st.value().last_receipt_ms > 0) {
        p["last_receipt"] = format_utc(from_unix_ms(st.value().last_receipt_ms));
        p["last_receipt_ms"] = st.value().last_receipt_ms;  // for monitoring scripts
      }
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
