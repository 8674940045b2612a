#include "node/exchange/match_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace jisr::exchange {

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

MatchService::MatchService(net::PeerNetwork& network, const policies::PolicyHolder& policies, MatchEngine& engine,
                           MatchOptions options)
    : network_(network), policies_(policies), engine_(engine), options_(options) {}

boost::asio::awaitable<Result<MatchJobOutcome>> MatchService::run_job(OrgId peer, protocol::MatchMethod method) {
  auto agreement = policies_.current()->for_peer(peer);
  if (!agreement) co_return make_error(Errc::kDenied, "no agreement with " + peer.str() + " in force on this node", peer.str());
  std::optional<std::array<uint8_t, 32>> key;
  if (auto it = peer_keys_.find(peer); it != peer_keys_.end()) key = it->second;
  JISR_CO_TRY(auto query, engine_.begin_job(*agreement, method, key));
  protocol::Message request{0, query.request};  // named: GCC 12 and co_await temporaries
  auto reply = co_await network_.request(peer, std::move(request), options_.request_timeout);
  if (!reply) co_return reply.error();
  const auto* response = reply.value().get<protocol::MatchResponse>();
  if (!response) co_return make_error(Errc::kInvalidInput, "the peer answered a match query with something else", peer.str());
  auto outcome = engine_.finish_job(query, *response);
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
    auto r = engine_.answer(peer.org, agreement.get(), *req, peer.sign_key);
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
