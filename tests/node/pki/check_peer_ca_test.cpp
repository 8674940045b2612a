// check_peer_ca: what `jisr peer add` accepts as a peer organisation's CA.
#include <catch2/catch.hpp>

#include "node/pki/pki.hpp"

using namespace jisr;
using namespace std::chrono_literals;

namespace {

pki::IssuedCertificate make(const std::string& org, bool is_ca, TimePoint from, TimePoint to,
                            const pki::IssuedCertificate* issuer = nullptr) {
  std::optional<pki::Issuer> iss;
  if (issuer) iss = pki::Issuer{issuer->cert_pem, issuer->key_pem};
  auto r = pki::issue_certificate({OrgId(org), "test", is_ca, from, to}, iss);
  REQUIRE(r);
  return r.value();
}

}  // namespace

TEST_CASE("check_peer_ca accepts a valid org CA and refuses everything else", "[pki]") {
  const auto now = SystemClock().now();
  const auto ca = make("iimp", true, now - 1h, now + 24h);
  SECTION("a valid CA of the expected org") {
    auto r = pki::check_peer_ca(ca.cert_pem, OrgId("iimp"), now);
    REQUIRE(r);
    CHECK(r.value().is_ca);
    CHECK_THAT(r.value().fingerprint, Catch::StartsWith("SHA256:"));
  }
  SECTION("a node certificate is not a CA") {
    const auto leaf = make("iimp", false, now - 1h, now + 24h, &ca);
    auto r = pki::check_peer_ca(leaf.cert_pem, OrgId("iimp"), now);
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "not a CA certificate (an org CA is needed)");
  }
  SECTION("an expired CA") {
    const auto old = make("iimp", true, now - 48h, now - 24h);
    auto r = pki::check_peer_ca(old.cert_pem, OrgId("iimp"), now);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().what, Catch::StartsWith("CA certificate expired on "));
  }
  SECTION("a CA not valid yet") {
    const auto future = make("iimp", true, now + 24h, now + 48h);
    auto r = pki::check_peer_ca(future.cert_pem, OrgId("iimp"), now);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().what, Catch::StartsWith("CA certificate not valid before "));
  }
  SECTION("the CA of another org") {
    auto r = pki::check_peer_ca(ca.cert_pem, OrgId("mpfp"), now);
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "CA certificate is for org 'iimp', not 'mpfp'");
  }
  SECTION("not a certificate at all") {
    auto r = pki::check_peer_ca("-----BEGIN NONSENSE-----\nabc\n", OrgId("iimp"), now);
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "not a PEM certificate");
  }
}
