// In-process transport tests: two and three nodes on 127.0.0.1:0, request/response, duplicate
// resolution, reconnect with backoff, version mismatch, shutdown.
#include "node/net/peer_network.hpp"

#include "node/core/record.hpp"
#include "tests/node/net/net_fixture.hpp"

using namespace jisr;
using namespace jisr::net;
using namespace jisr::net::testing;

namespace {
// Both ends connected, each on the other's end of one connection.
bool on_one_connection(TestNode& x, const std::string& x_peer, TestNode& y, const std::string& y_peer) {
  const auto px = x.peer(x_peer);
  const auto py = y.peer(y_peer);
  return px.state == PeerState::kConnected && py.state == PeerState::kConnected && px.direction != py.direction;
}
}  // namespace

TEST_CASE("two nodes connect, exchange a request and report status", "[net][session]") {
  const auto mpfp = make_org("mpfp");
  const auto iimp = make_org("iimp");
  IoThread io;
  TestNode a(io, mpfp, {&iimp});
  TestNode b(io, iimp, {&mpfp});
  a.start();
  b.start();
  a.point_to(b);
  b.point_to(a);
  REQUIRE(eventually([&] { return a.state("iimp") == PeerState::kConnected && b.state("mpfp") == PeerState::kConnected; }));

  // When both dial at once, duplicates resolve to one connection; both ends must agree on it
  // before requests are tested, or a request may ride the connection that loses.
  REQUIRE(eventually([&] { return on_one_connection(a, "iimp", b, "mpfp"); }));
  const auto st = a.peer("iimp");
  CHECK(st.protocol_version == protocol::kProtocolVersion);
  REQUIRE(st.cert_not_after);
  CHECK(*st.cert_not_after > now());
  CHECK_THAT(st.cert_fingerprint, Catch::StartsWith("SHA256:"));
  CHECK(a.status().listen == a.listen);

  SECTION("the kept connection stays: no further replacements") {
    const auto established = a.peer("iimp").sessions_established;
    REQUIRE(eventually([&] { return a.peer("iimp").rtt_us.has_value(); }));
    CHECK(a.peer("iimp").sessions_established == established);
    CHECK(a.on_io<int>([&] { return static_cast<int>(a.network->is_connected(OrgId("iimp"))); }) == 1);
  }

  SECTION("request and response by request id") {
    protocol::RecordBatch batch;
    batch.batch_id = "b-1";
    batch.agreement = AgreementId("mou");
    batch.first_seq = 1;
    batch.last_seq = 2;
    batch.records = {protocol::WireRecord{RecordId("r1"), 1, encode_fields({{"sex", "m"}})},
                     protocol::WireRecord{RecordId("r2"), 1, encode_fields({{"sex", "f"}})}};
    auto reply = io.co_run(a.network->request(OrgId("iimp"), protocol::Message{0, batch}, 2000ms));
    REQUIRE(reply);
    const auto* receipt = reply.value().get<protocol::BatchReceipt>();
    REQUIRE(receipt);
    CHECK(receipt->batch_id == "b-1");
    CHECK(receipt->accepted == 2);
    CHECK(receipt->receiver == OrgId("iimp"));
    CHECK(b.on_io<std::string>([&] { return b.handler.last_sender.str(); }) == "mpfp");
  }

  SECTION("a request without an answer times out") {
    auto reply = io.co_run(a.network->request(
        OrgId("iimp"), protocol::Message{0, protocol::Withdrawal{"w", AgreementId("mou"), {}}}, 300ms));
    REQUIRE_FALSE(reply);
    CHECK(reply.error().code == Errc::kOverloaded);
  }

  SECTION("a handler that throws gets an internal error reply, the session survives") {
    auto reply = io.co_run(a.network->request(
        OrgId("iimp"), protocol::Message{0, protocol::RevealRequest{"j", AgreementId("mou"), {}}}, 2000ms));
    REQUIRE_FALSE(reply);
    CHECK(reply.error().what == "peer error: internal: internal error");
    CHECK(a.state("iimp") == PeerState::kConnected);
  }

  SECTION("requests to an unknown or unconnected peer fail at once") {
    auto r1 = io.co_run(a.network->request(OrgId("nobody"), protocol::Message{0, protocol::Ping{1}}, 100ms));
    REQUIRE_FALSE(r1);
    CHECK(r1.error().code == Errc::kNotFound);
  }

  SECTION("a ping through request() comes back as the pong with the same request id") {
    auto reply = io.co_run(a.network->request(OrgId("iimp"), protocol::Message{0, protocol::Ping{99}}, 2000ms));
    REQUIRE(reply);
    REQUIRE(reply.value().get<protocol::Pong>());
    CHECK(reply.value().get<protocol::Pong>()->nonce == 99);
  }

  SECTION("heartbeat measures the round trip") {
    REQUIRE(eventually([&] { return a.peer("iimp").rtt_us.has_value(); }));
  }

  SECTION("peer stops: backing off, then reconnected when it returns on the same port") {
    const auto port = b.port;
    b.stop();
    REQUIRE(eventually([&] {
      const auto s = a.state("iimp");
      return s == PeerState::kBackingOff || s == PeerState::kConnecting;
    }));
    CHECK_FALSE(a.peer("iimp").last_error.empty());
    REQUIRE(eventually([&] { return a.state("iimp") == PeerState::kBackingOff; }));
    NodeConfig none;
    TestNode b2(io, iimp, {&mpfp});
    b2.config.listen.port = port;
    b2.network = std::make_unique<PeerNetwork>(io.io, *b2.tls, b2.config, b2.handler, b2.clock);
    b2.start();
    b2.point_to(a);
    REQUIRE(eventually([&] { return a.state("iimp") == PeerState::kConnected; }));
    CHECK(a.peer("iimp").sessions_established >= 2);
    b2.stop();
  }
  a.stop();
  b.stop();
}

TEST_CASE("three nodes all connect to each other", "[net][session]") {
  const auto x = make_org("org-a");
  const auto y = make_org("org-b");
  const auto z = make_org("org-c");
  IoThread io;
  TestNode a(io, x, {&y, &z});
  TestNode b(io, y, {&x, &z});
  TestNode c(io, z, {&x, &y});
  a.start();
  b.start();
  c.start();
  a.point_to(b);
  a.point_to(c);
  b.point_to(a);
  b.point_to(c);
  c.point_to(a);
  c.point_to(b);
  const auto all_connected = [](TestNode& n) {
    for (const auto& p : n.status().peers) {
      if (p.state != PeerState::kConnected) return false;
    }
    return true;
  };
  REQUIRE(eventually([&] { return all_connected(a) && all_connected(b) && all_connected(c); }));
  // Each pair ends on one connection, the same at both ends.
  REQUIRE(eventually([&] {
    return on_one_connection(a, "org-b", b, "org-a") && on_one_connection(a, "org-c", c, "org-a") &&
           on_one_connection(b, "org-c", c, "org-b");
  }));
}

TEST_CASE("a connection the peer dialled is kept: the smaller org does not dial again to replace it",
          "[net][session]") {
  const auto mpfp = make_org("mpfp");
  const auto iimp = make_org("iimp");  // the smaller org: it wins when both dial at once
  IoThread io;
  TestNode a(io, mpfp, {&iimp});
  TestNode b(io, iimp, {&mpfp});
  a.start();
  b.start();
  a.point_to(b);  // only mpfp knows where to dial
  REQUIRE(eventually([&] { return a.state("iimp") == PeerState::kConnected && b.state("mpfp") == PeerState::kConnected; }));
  CHECK(a.peer("iimp").direction == Direction::kOutbound);
  b.point_to(a);  // now iimp could dial too
  // Requests for longer than the fixture's longest backoff (400 ms): each rides the session
  // mpfp dialled, which nothing replaces.
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  int answered = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto reply = io.co_run(a.network->request(OrgId("iimp"), protocol::Message{0, protocol::Ping{1}}, 2000ms));
    if (reply) ++answered;
  }
  CHECK(answered > 0);
  CHECK(a.peer("iimp").sessions_established == 1);
  CHECK(b.peer("mpfp").sessions_established == 1);
  CHECK(a.peer("iimp").direction == Direction::kOutbound);
  CHECK(b.peer("mpfp").direction == Direction::kInbound);
}

TEST_CASE("no common protocol version is reported by both nodes", "[net][session]") {
  const auto mpfp = make_org("mpfp");
  const auto iimp = make_org("iimp");
  IoThread io;
  TransportOptions future;
  future.min_version = 2;
  future.max_version = 3;
  TestNode a(io, mpfp, {&iimp});
  TestNode b(io, iimp, {&mpfp}, future);
  a.start();
  b.start();
  a.point_to(b);
  b.point_to(a);
  REQUIRE(eventually([&] {
    return !a.peer("iimp").version_mismatch.empty() && !b.peer("mpfp").version_mismatch.empty();
  }));
  CHECK_THAT(a.peer("iimp").version_mismatch, Catch::Contains("no common protocol version"));
  REQUIRE(eventually([&] { return a.state("iimp") == PeerState::kRefused; }));
  CHECK(a.state("iimp") != PeerState::kConnected);
}

TEST_CASE("shutdown closes sessions and the peer notices", "[net][session]") {
  const auto mpfp = make_org("mpfp");
  const auto iimp = make_org("iimp");
  IoThread io;
  TestNode a(io, mpfp, {&iimp});
  TestNode b(io, iimp, {&mpfp});
  a.start();
  b.start();
  a.point_to(b);
  b.point_to(a);
  REQUIRE(eventually([&] { return a.state("iimp") == PeerState::kConnected; }));
  const auto t0 = std::chrono::steady_clock::now();
  a.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(a.state("iimp") == PeerState::kIdle);
  REQUIRE(eventually([&] { return b.state("mpfp") != PeerState::kConnected; }));
  CHECK(b.on_io<int>([&] { return b.handler.disconnected["mpfp"]; }) >= 1);
  // close_notify: the peer saw an orderly close, not a reset or a truncation.
  CHECK(b.peer("mpfp").last_disconnect == "connection closed by peer");
}
