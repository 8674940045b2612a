#include "node/exchange/match_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "node/exchange/match_paging.hpp"

namespace jisr::exchange {

namespace asio = boost::asio;

namespace {

protocol::ErrorCode wire_code(Errc code) {
  switch (code) {
    case Errc::kOverloaded:
      return protocol::ErrorCode::kOverloaded;
    case Errc::kInvalidInput:
      return protocol::ErrorCode::kUnsupported;
    case Errc::kInternal:
    case Errc::kIo:
      return protocol::ErrorCode::kInternal;
    default:
      return protocol::ErrorCode::kDenied;
  }
}

nlohmann::json error_json(const Error& e) { return nlohmann::json{{"ok", false}, {"error", e.what}}; }

}  // namespace

MatchService::MatchService(boost::asio::io_context& io, net::PeerNetwork& network,
                           const policies::PolicyHolder& policies, MatchEngine& engine, const Clock& clock,
                           MatchOptions options)
    : io_(io), network_(network), policies_(policies), engine_(engine), clock_(clock), options_(options) {}

template <class F>
asio::awaitable<std::invoke_result_t<F&>> MatchService::off_io(F fn) {
  using R = std::invoke_result_t<F&>;
  // std::optional: co_spawn's result must be default-constructible, Result<T> is not.
  auto out = co_await asio::co_spawn(
      workers_.get_executor(), [&fn]() -> asio::awaitable<std::optional<R>> { co_return std::optional<R>(fn()); },
      asio::use_awaitable);
  co_return std::move(*out);
}

void MatchService::start() {
  *running_ = true;
  started_ = clock_.now();
  asio::co_spawn(io_, schedule_loop(), asio::detached);
}

asio::awaitable<void> MatchService::schedule_loop() {
  auto alive = running_;
  asio::steady_timer timer(io_);
  while (*alive) {
    // The shortest schedule in force sets the pace (a 10 s schedule is looked at every 10 s).
    auto wait = options_.schedule_poll;
    const auto set = policies_.current();
    for (const auto& [org, entry] : set->entries()) {
      if (const auto& every = entry.agreement->match().every) {
        wait = std::min<std::chrono::milliseconds>(wait, *every);
      }
    }
    timer.expires_after(std::max<std::chrono::milliseconds>(wait, std::chrono::seconds(1)));
    co_await timer.async_wait(asio::use_awaitable);
    if (!*alive) break;
    for (const auto& [org, entry] : policies_.current()->entries()) {
      if (!entry.agreement->match().every || entry.agreement->match().methods.empty()) continue;
      auto& state = schedule_[org];
      if (state.busy || !network_.is_connected(org)) continue;
      if (state.retry_after && std::chrono::steady_clock::now() < *state.retry_after) continue;
      state.busy = true;
      asio::co_spawn(io_, run_if_due(org), asio::detached);
    }
  }
}

asio::awaitable<void> MatchService::run_if_due(OrgId peer) {
  auto alive = running_;
  auto finish = [this, &peer, alive](const std::optional<Error>& error, std::chrono::seconds every) {
    if (!*alive) return;
    auto& state = schedule_[peer];
    state.busy = false;
    if (error) {
      state.last_error = error->what;
      state.retry_after = std::chrono::steady_clock::now() + std::min<std::chrono::seconds>(every, std::chrono::hours(1));
    } else {
      state.last_error.clear();
      state.retry_after.reset();
    }
  };
  auto agreement = policies_.current()->for_peer(peer);
  if (!agreement || !agreement->match().every) {
    finish(std::nullopt, std::chrono::seconds(0));
    co_return;
  }
  const auto every = *agreement->match().every;
  auto due = engine_.scheduled_job_due(peer, every, started_);
  if (!due || !due.value()) {
    finish(due ? std::nullopt : std::optional<Error>(due.error()), every);
    co_return;
  }
  const auto method = agreement->match().allows(policies::MatchMethod::kPsi) ? protocol::MatchMethod::kPsi
                                                                           : protocol::MatchMethod::kBloom;
  auto r = co_await run_job(peer, method);
  if (!r) {
    spdlog::info("scheduled match job with {}: {}", peer.str(), r.error().what);
    finish(r.error(), every);
    co_return;
  }
  spdlog::info("scheduled match job {} with {}: {} new candidate(s), {} found again", r.value().job_id, peer.str(),
               r.value().candidates, r.value().known);
  finish(std::nullopt, every);
}

nlohmann::json MatchService::status() {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [org, entry] : policies_.current()->entries()) {
    const auto& every = entry.agreement->match().every;
    nlohmann::json j{{"every_s", every ? every->count() : 0}};
    if (auto last = engine_.last_job(org); last && last.value()) {
      j["last_job_ms"] = to_unix_ms(last.value()->at);
      j["last_method"] = last.value()->method;
    }
    if (auto it = schedule_.find(org); it != schedule_.end() && !it->second.last_error.empty()) {
      j["last_error"] = it->second.last_error;
    }
    out[org.str()] = std::move(j);
  }
  return out;
}

boost::asio::awaitable<Result<MatchJobOutcome>> MatchService::run_job(OrgId peer, protocol::MatchMethod method) {
  auto agreement = policies_.current()->for_peer(peer);
  if (!agreement) co_return make_error(Errc::kDenied, "no agreement with " + peer.str() + " in force on this node", peer.str());
  std::optional<std::array<uint8_t, 32>> key;
  if (auto it = peer_keys_.find(peer); it != peer_keys_.end()) key = it->second;
  auto begin = [&] { return engine_.begin_job(*agreement, method, key); };  // named: GCC 12 and co_await temporaries
  JISR_CO_TRY(auto query, co_await off_io(begin));
  // Uploaded in parts and answered in pages when larger than a frame; each step is one
  // request/answer with its own deadline.
  auto parts = split_request(query.request, options_.frame_budget);
  std::optional<protocol::MatchResponse> whole;
  for (auto& part : parts) {
    const bool last = part.part + 1 == part.parts;
    protocol::Message request{0, std::move(part)};  // named: GCC 12 and co_await temporaries
    auto reply = co_await network_.request(peer, std::move(request), options_.request_timeout);
    if (!reply) co_return reply.error();
    auto* response = reply.value().get<protocol::MatchResponse>();
    if (!response || response->job_id != query.job_id || (response->pages == 0) == last) {
      co_return make_error(Errc::kInvalidInput, "the peer answered a match query with something else", peer.str());
    }
    if (last) whole = std::move(*response);
  }
  for (uint32_t page = 1; page < whole->pages; ++page) {
    protocol::MatchRequest next;
    next.method = query.request.method;
    next.job_id = query.job_id;
    next.agreement = query.request.agreement;
    next.page = page;
    protocol::Message request{0, std::move(next)};
    auto reply = co_await network_.request(peer, std::move(request), options_.request_timeout);
    if (!reply) co_return reply.error();
    auto* response = reply.value().get<protocol::MatchResponse>();
    if (!response) co_return make_error(Errc::kInvalidInput, "the peer answered a match query with something else", peer.str());
    auto appended = append_page(*whole, std::move(*response));
    if (!appended) co_return Error{appended.error().code, appended.error().what, peer.str()};
  }
  const protocol::MatchResponse* response = &*whole;
  auto finish = [&] { return engine_.finish_job(query, *response); };
  auto outcome = co_await off_io(finish);
  if (outcome) {
    spdlog::info("match job {} with {}: {} record(s) queried, {} candidate(s)", outcome.value().job_id, peer.str(),
                 outcome.value().query_records, outcome.value().candidates);
  }
  co_return outcome;
}

boost::asio::awaitable<Result<RevealOutcome>> MatchService::confirm(uint64_t candidate_id) {
  JISR_CO_TRY(auto c, engine_.candidate(candidate_id));
  auto agreement = policies_.current()->for_peer(c.peer);
  if (!agreement) co_return make_error(Errc::kDenied, "no agreement with " + c.peer.str() + " in force on this node", c.peer.str());
  JISR_CO_TRY(auto reveal, engine_.begin_reveal(candidate_id, *agreement));
  protocol::Message request{0, std::move(reveal)};
  auto reply = co_await network_.request(c.peer, std::move(request), options_.request_timeout);
  if (!reply) co_return reply.error();
  const auto* response = reply.value().get<protocol::RevealResponse>();
  if (!response) co_return make_error(Errc::kInvalidInput, "the peer answered a reveal with something else", c.peer.str());
  co_return engine_.finish_reveal(candidate_id, *response);
}

boost::asio::awaitable<std::optional<protocol::Message>> MatchService::handle(const net::PeerIdentity& peer,
                                                                               const protocol::Message& message) {
  auto agreement = policies_.current()->for_peer(peer.org);
  if (const auto* req = message.get<protocol::MatchRequest>()) {
    auto answer = [&] { return engine_.answer_step(peer.org, agreement.get(), *req, peer.sign_key, options_.frame_budget); };
    auto r = co_await off_io(answer);
    if (!r) {
      spdlog::info("match query from {} refused: {}", peer.org.str(), r.error().what);
      co_return protocol::error_message(wire_code(r.error().code), r.error().what, message.request_id);
    }
    co_return protocol::Message{message.request_id, std::move(r).value()};
  }
  if (const auto* req = message.get<protocol::RevealRequest>()) {
    auto r = engine_.answer_reveal(peer.org, agreement.get(), *req);
    if (!r) {
      spdlog::info("reveal request from {} refused: {}", peer.org.str(), r.error().what);
      co_return protocol::error_message(wire_code(r.error().code), r.error().what, message.request_id);
    }
    co_return protocol::Message{message.request_id, std::move(r).value()};
  }
  co_return std::nullopt;
}

boost::asio::awaitable<nlohmann::json> MatchService::admin_match(const nlohmann::json& request) {
  const std::string peer = request.value("peer", std::string());
  if (!is_valid_org_id(peer)) co_return nlohmann::json{{"ok", false}, {"error", "invalid peer id"}};
  auto method = parse_method(request.value("method", std::string("psi")));
  if (!method) co_return nlohmann::json{{"ok", false}, {"error", "method must be psi or bloom"}};
  auto r = co_await run_job(OrgId(peer), *method);
  if (!r) co_return error_json(r.error());
  const auto& o = r.value();
  co_return nlohmann::json{{"ok", true},
                           {"job", o.job_id},
                           {"peer", o.peer.str()},
                           {"method", o.method},
                           {"query_records", o.query_records},
                           {"query_points", o.query_points},
                           {"peer_points", o.peer_points},
                           {"candidates", o.candidates},
                           {"known_candidates", o.known},
                           {"set_aside", o.set_aside},
                           {"candidate_ids", o.candidate_ids},
                           {"quota_left", o.quota_left}};
}

boost::asio::awaitable<nlohmann::json> MatchService::admin_confirm(const nlohmann::json& request) {
  if (!request.contains("id") || !request["id"].is_number_unsigned()) {
    co_return nlohmann::json{{"ok", false}, {"error", "id must be a candidate number"}};
  }
  const auto id = request["id"].get<uint64_t>();
  auto r = co_await confirm(id);
  if (!r) co_return error_json(r.error());
  co_return nlohmann::json{{"ok", true}, {"id", id}, {"fields", r.value().fields}, {"refused", r.value().refused}};
}

}  // namespace jisr::exchange
