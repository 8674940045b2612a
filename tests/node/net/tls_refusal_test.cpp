// Every refusal of the transport, with certificates minted in the test: no client certificate,
// self-signed, unpinned CA, expired, not yet valid, an org that is not a configured peer, a
// chain from another pinned org's CA, TLS 1.2; raw TCP garbage; and an authenticated client
// sending oversized, truncated and malformed frames. After each, the node keeps serving.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "protocol/codec.hpp"
#include "tests/node/net/net_fixture.hpp"

using namespace jisr;
using namespace jisr::net;
using namespace jisr::net::testing;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct RawResult {
  bool handshake_ok = false;
  std::string handshake_error;
  std::vector<protocol::Message> messages;
  std::string end;  // why reading stopped
};

struct RawPlan {
  std::optional<OrgId> hello_as;  // send a hello first
  std::string raw_after;          // bytes written after the hello
  bool half_close = false;        // shut down the TCP send side after writing
};

// Test-only client context: verify_none is allowed here and nowhere else (STYLE.md 9).
std::unique_ptr<ssl::context> client_context(const std::string& chain, const std::string& key,
                                             int max_version = TLS1_3_VERSION) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls);
  SSL_CTX_set_max_proto_version(ctx->native_handle(), max_version);
  if (!chain.empty()) {
    ctx->use_certificate_chain(asio::buffer(chain));
    ctx->use_private_key(asio::buffer(key), ssl::context::pem);
  }
  ctx->set_verify_mode(ssl::verify_none);
  return ctx;
}

std::string frame_of(const protocol::Message& m) { return protocol::encode_frame(m).value(); }

std::string header(uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
}

asio::awaitable<RawResult> raw_tls_client(ssl::context& ctx, uint16_t port, RawPlan plan) {
  auto ex = co_await asio::this_coro::executor;
  RawResult out;
  auto stream = std::make_shared<ssl::stream<tcp::socket>>(ex, ctx);
  asio::steady_timer guard(ex, 5s);
  guard.async_wait([stream](const boost::system::error_code& ec) {
    if (ec) return;
    boost::system::error_code ignored;
    stream->lowest_layer().close(ignored);
  });
  auto [cec] = co_await stream->lowest_layer().async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kTuple);
  if (cec) {
    out.handshake_error = "connect: " + cec.message();
    co_return out;
  }
  auto [hec] = co_await stream->async_handshake(ssl::stream_base::client, kTuple);
  if (hec) {
    out.handshake_error = hec.message();
    guard.cancel();
    co_return out;
  }
  out.handshake_ok = true;
  std::string to_send;
  if (plan.hello_as) to_send += frame_of(protocol::Message{0, protocol::Hello{*plan.hello_as, 1, 1, {}}});
  to_send += plan.raw_after;
  if (!to_send.empty()) {
    auto [wec, wn] = co_await asio::async_write(*stream, asio::buffer(to_send), kTuple);
    if (wec) out.end = "write: " + wec.message();
  }
  if (plan.half_close) {
    boost::system::error_code ignored;
    stream->lowest_layer().shutdown(tcp::socket::shutdown_send, ignored);
  }
  for (;;) {
    std::array<uint8_t, 4> h{};
    auto [rec, rn] = co_await asio::async_read(*stream, asio::buffer(h), kTuple);
    if (rec) {
      out.end = rec.message();
      break;
    }
    auto len = protocol::parse_frame_header(h, 1 << 20);
    if (!len) {
      out.end = "bad header from node";
      break;
    }
    std::string payload(len.value(), '\0');
    auto [pec, pn] = co_await asio::async_read(*stream, asio::buffer(payload), kTuple);
    if (pec) {
      out.end = pec.message();
      break;
    }
    auto m = protocol::decode_payload(payload);
    if (!m) {
      out.end = "undecodable frame from node";
      break;
    }
    out.messages.push_back(std::move(m).value());
  }
  guard.cancel();
  co_return out;
}

asio::awaitable<std::string> raw_tcp_garbage(uint16_t port, std::string bytes) {
  auto ex = co_await asio::this_coro::executor;
  auto socket = std::make_shared<tcp::socket>(ex);
  asio::steady_timer guard(ex, 5s);
  guard.async_wait([socket](const boost::system::error_code& ec) {
    if (ec) return;
    boost::system::error_code ignored;
    socket->close(ignored);
  });
  auto [cec] = co_await socket->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kTuple);
  if (cec) co_return "connect: " + cec.message();
  co_await asio::async_write(*socket, asio::buffer(bytes), kTuple);
  std::string reply(4096, '\0');
  std::string end;
  for (;;) {
    auto [ec, n] = co_await socket->async_read_some(asio::buffer(reply), kTuple);
    if (ec) {
      end = ec.message();
      break;
    }
  }
  guard.cancel();
  co_return end;
}

const protocol::ErrorMessage* first_error(const RawResult& r) {
  for (const auto& m : r.messages) {
    if (const auto* e = m.get<protocol::ErrorMessage>()) return e;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the transport refuses every unacceptable peer and keeps serving", "[net][tls]") {
  const auto mpfp = make_org("mpfp");
  const auto iimp = make_org("iimp");
  const auto third = make_org("third");
  IoThread io;
  TestNode node(io, mpfp, {&iimp, &third});
  node.start();
  const auto port = node.port;
  uint64_t refused_before = node.status().refused_inbound;
  // Waits for the node to count one more refusal and returns its reason.
  const auto next_refusal = [&] {
    const bool counted = eventually([&] { return node.status().refused_inbound > refused_before; });
    refused_before = node.status().refused_inbound;
    REQUIRE(counted);
    return node.status().last_refusal;
  };
  const auto with_cert = [&](const pki::IssuedCertificate& leaf, const std::string& extra_chain = "") {
    return client_context(leaf.cert_pem + extra_chain, leaf.key_pem);
  };

  SECTION("no client certificate: the handshake completes, the first read sees the refusal") {
    auto ctx = client_context("", "");
    auto r = io.co_run(raw_tls_client(*ctx, port, {}));
    CHECK(r.handshake_ok);  // TLS 1.3: the client finishes before the server checks
    CHECK(r.messages.empty());
    CHECK_FALSE(r.end.empty());
    CHECK_THAT(next_refusal(), Catch::Contains("did not return a certificate"));
  }
  SECTION("self-signed certificate naming a configured org") {
    const auto self_signed = mint(OrgId("iimp"), false, nullptr, now() - 1h, now() + 24h);
    auto ctx = with_cert(self_signed);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("iimp"), "", false}));
    CHECK(r.messages.empty());
    CHECK_THAT(next_refusal(), Catch::Contains("self-signed"));
  }
  SECTION("certificate from an unpinned CA") {
    const auto rogue = make_org("iimp");  // same org name, different CA
    auto ctx = with_cert(rogue.node, rogue.ca.cert_pem);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("iimp"), "", false}));
    CHECK(r.messages.empty());
    CHECK_THAT(next_refusal(), Catch::Contains("certificate refused"));
  }
  SECTION("expired certificate from the pinned CA") {
    const auto expired = mint(OrgId("iimp"), false, &iimp.ca, now() - 48h, now() - 24h);
    auto ctx = with_cert(expired, iimp.ca.cert_pem);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("iimp"), "", false}));
    CHECK(r.messages.empty());
    CHECK_THAT(next_refusal(), Catch::Contains("certificate has expired"));
  }
  SECTION("not-yet-valid certificate from the pinned CA") {
    const auto future = mint(OrgId("iimp"), false, &iimp.ca, now() + 24h, now() + 48h);
    auto ctx = with_cert(future, iimp.ca.cert_pem);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("iimp"), "", false}));
    CHECK(r.messages.empty());
    CHECK_THAT(next_refusal(), Catch::Contains("not yet valid"));
  }
  SECTION("valid certificate of an org that is not a configured peer") {
    const auto other = mint(OrgId("other"), false, &iimp.ca, now() - 1h, now() + 24h);
    auto ctx = with_cert(other, iimp.ca.cert_pem);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("other"), "", false}));
    CHECK(r.handshake_ok);
    const auto* err = first_error(r);
    REQUIRE(err);
    CHECK(err->code == protocol::ErrorCode::kDenied);
    CHECK_THAT(err->text, Catch::Contains("not a configured peer"));
    CHECK_THAT(next_refusal(), Catch::Contains("'other', which is not a configured peer"));
  }
  SECTION("a pinned CA vouching for another pinned org is not enough") {
    const auto forged = mint(OrgId("iimp"), false, &third.ca, now() - 1h, now() + 24h);
    auto ctx = with_cert(forged, third.ca.cert_pem);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("iimp"), "", false}));
    const auto* err = first_error(r);
    REQUIRE(err);
    CHECK(err->code == protocol::ErrorCode::kDenied);
    CHECK_THAT(next_refusal(), Catch::Contains("is not issued by that org's pinned CA"));
  }
  SECTION("TLS 1.2 client with a valid certificate") {
    auto ctx = client_context(iimp.chain(), iimp.node.key_pem, TLS1_2_VERSION);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("iimp"), "", false}));
    CHECK_FALSE(r.handshake_ok);
    CHECK_THAT(next_refusal(), Catch::Contains("TLS handshake"));
  }
  SECTION("raw TCP garbage") {
    auto end = io.co_run(raw_tcp_garbage(port, "GET / HTTP/1.0\r\n\r\n"));
    CHECK_FALSE(end.empty());
    CHECK_THAT(next_refusal(), Catch::Contains("TLS handshake"));
  }
  SECTION("authenticated client sending an oversized frame") {
    auto ctx = client_context(iimp.chain(), iimp.node.key_pem);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("iimp"), header(0x7fffffff), false}));
    REQUIRE(r.messages.size() == 2);
    CHECK(r.messages[0].get<protocol::Hello>());
    const auto* err = first_error(r);
    REQUIRE(err);
    CHECK(err->code == protocol::ErrorCode::kFrameTooLarge);
    CHECK(r.end == "End of file");  // closed with close_notify after the error frame
  }
  SECTION("authenticated client sending a truncated frame") {
    auto ctx = client_context(iimp.chain(), iimp.node.key_pem);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("iimp"), header(64) + std::string(8, '\0'), true}));
    const auto* err = first_error(r);
    REQUIRE(err);
    CHECK(err->code == protocol::ErrorCode::kMalformedFrame);
    CHECK_THAT(err->text, Catch::StartsWith("truncated frame"));
  }
  SECTION("authenticated client sending a malformed frame") {
    auto ctx = client_context(iimp.chain(), iimp.node.key_pem);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("iimp"), header(16) + std::string(16, '\xff'), false}));
    const auto* err = first_error(r);
    REQUIRE(err);
    CHECK(err->code == protocol::ErrorCode::kMalformedFrame);
    CHECK_THAT(err->text, Catch::StartsWith("malformed message"));
  }
  SECTION("authenticated client whose hello names another org") {
    auto ctx = client_context(iimp.chain(), iimp.node.key_pem);
    auto r = io.co_run(raw_tls_client(*ctx, port, {OrgId("third"), "", false}));
    const auto* err = first_error(r);
    REQUIRE(err);
    CHECK(err->code == protocol::ErrorCode::kDenied);
  }

  // Whatever happened above, a real peer still gets in.
  TestNode peer(io, iimp, {&mpfp});
  peer.start();
  peer.point_to(node);
  CHECK(eventually([&] { return peer.state("mpfp") == PeerState::kConnected; }));
  peer.stop();
  node.stop();
}
