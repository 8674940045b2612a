// PSI group operations split over threads give the same points, in the same order, as on one
// thread, and the same first error (the lowest failing index) whatever the scheduling.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "node/match/keys.hpp"
#include "node/match/psi.hpp"

using namespace jisr;
using namespace jisr::match;

TEST_CASE("psi blinding on several threads equals one thread", "[match][psi]") {
  const auto secret = PsiSecret::generate();
  std::vector<MatchKey> keys;
  for (int i = 0; i < 5000; ++i) keys.push_back(MatchKey{0, "key-" + std::to_string(i)});
  auto one = blind_keys(secret, keys, 1);
  auto four = blind_keys(secret, keys, 4);
  REQUIRE(one);
  REQUIRE(four);
  CHECK(one.value() == four.value());
  auto re_one = reblind_all(secret, one.value(), 1);
  auto re_four = reblind_all(secret, one.value(), 4);
  REQUIRE(re_one);
  REQUIRE(re_four);
  CHECK(re_one.value() == re_four.value());

  SECTION("the first invalid point is reported, not whichever thread failed first") {
    auto points = one.value();
    points[4500].fill(0xff);  // not a canonical ristretto255 encoding
    points[1200].fill(0);     // the identity
    auto bad = reblind_all(secret, points, 4);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::kInvalidInput);
    CHECK(bad.error().where == "psi element 1200");
  }
}
