// Upload parts and answer pages of a match job larger than one frame: round trips give back
// the whole, sizes stay near the budget, and slices of another job or out of order are refused.
#include <catch2/catch.hpp>

#include "node/exchange/match_paging.hpp"

using namespace jisr;
using namespace jisr::exchange;

namespace {

protocol::MatchRequest psi_request(size_t points) {
  protocol::MatchRequest r;
  r.method = protocol::MatchMethod::kPsi;
  r.job_id = "0123456789abcdef0123456789abcdef";
  r.agreement = AgreementId("mpfp-iimp-2026");
  r.key_kind = "spec";
  r.count = static_cast<uint32_t>(points / 3 + 1);
  for (size_t i = 0; i < points; ++i)
    r.points.push_back(std::string(32, static_cast<char>(i % 251)));
  return r;
}

protocol::MatchResponse psi_answer(size_t points, size_t own) {
  protocol::MatchResponse r;
  r.job_id = "0123456789abcdef0123456789abcdef";
  r.count = 7;
  r.quota_left = 99;
  for (size_t i = 0; i < points; ++i)
    r.points.push_back(std::string(32, static_cast<char>(i % 13)));
  for (size_t i = 0; i < own; ++i) {
    r.responder_points.push_back(std::string(32, static_cast<char>(i % 17)));
    r.handles.push_back(std::string(16, static_cast<char>(i % 19)));
  }
  return r;
}

}  // namespace

TEST_CASE("match requests split into parts and join back", "[exchange][match][paging]") {
  const auto whole = psi_request(1000);
  SECTION("one part when it fits") {
    auto parts = split_request(whole, 1 << 20);
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].parts == 1);
    CHECK(parts[0].points == whole.points);
  }
  SECTION("several parts near the budget, joined in order") {
    auto parts = split_request(whole, 4000);  // 40 bytes per point: 100 per part
    REQUIRE(parts.size() == 10);
    for (const auto& p : parts) {
      CHECK(estimated_bytes(p) <= 4000);
      CHECK(p.parts == 10);
      CHECK(p.count == whole.count);
    }
    auto joined = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) REQUIRE(append_part(joined, std::move(parts[i])));
    CHECK(joined.points == whole.points);
  }
  SECTION("bloom filters stay with their blocking keys") {
    protocol::MatchRequest b = whole;
    b.points.clear();
    for (int i = 0; i < 10; ++i) {
      b.blooms.push_back(std::string(352, static_cast<char>(i)));
      b.block_keys.push_back(std::string(8 * (i + 1), static_cast<char>(i)));
    }
    auto parts = split_request(b, 800);
    REQUIRE(parts.size() > 1);
    for (const auto& p : parts) CHECK(p.blooms.size() == p.block_keys.size());
    auto joined = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) REQUIRE(append_part(joined, std::move(parts[i])));
    CHECK(joined.blooms == b.blooms);
    CHECK(joined.block_keys == b.block_keys);
  }
  SECTION("parts of another job, out of order or changed on the way are refused") {
    auto parts = split_request(whole, 4000);
    auto joined = parts[0];
    auto skipped = parts[2];
    CHECK(append_part(joined, std::move(skipped)).error().code == Errc::kInvalidInput);
    auto other = parts[1];
    other.job_id = "ffffffffffffffffffffffffffffffff";
    CHECK_FALSE(append_part(joined, std::move(other)));
    auto recounted = parts[1];
    recounted.count += 1;
    CHECK_FALSE(append_part(joined, std::move(recounted)));
    auto reparted = parts[1];
    reparted.parts = 11;
    CHECK_FALSE(append_part(joined, std::move(reparted)));
    auto again = parts[0];
    CHECK_FALSE(append_part(joined, std::move(again)));
    CHECK(joined.points.size() == parts[0].points.size());  // nothing refused was taken in
  }
}

TEST_CASE("match answers split into pages and join back", "[exchange][match][paging]") {
  const auto whole = psi_answer(300, 500);
  auto pages = split_response(protocol::MatchResponse(whole), 5000);
  REQUIRE(pages.size() > 2);
  for (const auto& p : pages) {
    CHECK(estimated_bytes(p) <= 5000);
    CHECK(p.pages == pages.size());
    CHECK(p.responder_points.size() == p.handles.size());
    CHECK(p.count == 7);
    CHECK(p.quota_left == 99);
  }
  SECTION("joined in order they are the whole answer") {
    auto joined = pages[0];
    for (size_t i = 1; i < pages.size(); ++i) REQUIRE(append_page(joined, std::move(pages[i])));
    CHECK(joined.points == whole.points);
    CHECK(joined.responder_points == whole.responder_points);
    CHECK(joined.handles == whole.handles);
  }
  SECTION("a page out of order, of another job or another count is refused") {
    auto joined = pages[0];
    auto skipped = pages[2];
    CHECK_FALSE(append_page(joined, std::move(skipped)));
    auto other = pages[1];
    other.job_id = "x";
    CHECK_FALSE(append_page(joined, std::move(other)));
    auto more = pages[1];
    more.pages += 1;
    CHECK_FALSE(append_page(joined, std::move(more)));
  }
  SECTION("an empty answer is one page") {
    protocol::MatchResponse empty;
    auto one = split_response(std::move(empty), 100);
    REQUIRE(one.size() == 1);
    CHECK(one[0].pages == 1);
  }
}
