// transport_bench: mutual TLS 1.3 handshakes per second, ping round trip p50/p99 and 1 KiB
// request/response frames per second between two in-process nodes on loopback, beside raw
// AES-256-GCM throughput (OpenSSL EVP) measured in the same run as the ceiling. Both nodes share
// one io_context thread, so every figure includes both ends' CPU. Prints figures; asserts
// nothing (STYLE.md: benchmarks never assert timing).
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <vector>

#include "node/core/record.hpp"
#include "node/net/peer_network.hpp"
#include "node/net/tls_context.hpp"
#include "node/pki/pki.hpp"

using namespace jisr;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Steady = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Org {
  OrgId org;
  pki::IssuedCertificate ca, node;
};

Org make_org(const std::string& name) {
  const auto now = SystemClock().now();
  Org o{OrgId(name), {}, {}};
  o.ca = pki::issue_certificate({o.org, "bench CA", true, now - 1h, now + 24h}, std::nullopt).value();
  o.node = pki::issue_certificate({o.org, "bench node", false, now - 1h, now + 24h},
                                  pki::Issuer{o.ca.cert_pem, o.ca.key_pem}).value();
  return o;
}

std::unique_ptr<net::TlsContext> tls_for(const Org& self, const Org& peer) {
  net::TlsMaterial m{self.node.cert_pem + self.ca.cert_pem, self.node.key_pem, {{peer.org, peer.ca.cert_pem}}};
  return net::TlsContext::create(m).value();
}

double seconds_since(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

// Raw AES-256-GCM over 16 KiB buffers for about a second: the ceiling for bulk TLS records.
double aes_gcm_mb_per_s() {
  std::vector<unsigned char> key(32), iv(12), in(16 * 1024), out(16 * 1024 + 16), tag(16);
  RAND_bytes(key.data(), 32);
  RAND_bytes(in.data(), static_cast<int>(in.size()));
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  size_t bytes = 0;
  const auto t0 = Steady::now();
  while (seconds_since(t0) < 1.0) {
    for (int i = 0; i < 64; ++i) {
      int len = 0;
      EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), iv.data());
      EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size()));
      EVP_EncryptFinal_ex(ctx, out.data() + len, &len);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag.data());
      bytes += in.size();
      ++iv[0];
    }
  }
  EVP_CIPHER_CTX_free(ctx);
  return static_cast<double>(bytes) / seconds_since(t0) / 1e6;
}

// Full mutual handshakes (TCP connect + TLS 1.3 both ways), both ends on this thread.
asio::awaitable<double> handshakes_per_s(net::TlsContext& server, net::TlsContext& client, int n) {
  auto ex = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto ep = acceptor.local_endpoint();
  const auto t0 = Steady::now();
  for (int i = 0; i < n; ++i) {
    ssl::stream<tcp::socket> c(ex, client.context());
    bool server_done = false;
    asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      auto [aec, sock] = co_await acceptor.async_accept(kTuple);
      ssl::stream<tcp::socket> s(std::move(sock), server.context());
      co_await s.async_handshake(ssl::stream_base::server, kTuple);
      server_done = true;
    }, asio::detached);
    co_await c.lowest_layer().async_connect(ep, kTuple);
    auto [hec] = co_await c.async_handshake(ssl::stream_base::client, kTuple);
    if (hec) std::fprintf(stderr, "handshake failed: %s\n", hec.message().c_str());
    // With TLS 1.3 the server finishes after the client: wait for it.
    asio::steady_timer spin(ex);
    while (!server_done) {
      spin.expires_after(0ms);
      co_await spin.async_wait(kTuple);
    }
  }
  co_return n / seconds_since(t0);
}

class NullHandler final : public net::MessageHandler {
 public:
  asio::awaitable<std::optional<protocol::Message>> handle(const net::PeerIdentity&, protocol::Message m) override {
    protocol::BatchReceipt r;
    r.receiver = OrgId("iimp");  // receipts must name a valid receiver org
    if (const auto* b = m.get<protocol::RecordBatch>()) r.batch_id = b->batch_id;
    co_return protocol::Message{0, r};
  }
};

struct Figures {
  double p50_us = 0, p99_us = 0, frames_per_s = 0, frames_per_cpu_s = 0;
};

// Process CPU seconds: on a shared, loaded machine wall-clock rates mostly measure the
// scheduler; rates per CPU second show what the code costs.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

asio::awaitable<Figures> session_figures(net::PeerNetwork& a, const OrgId& peer, int pings, int frames) {
  auto ex = co_await asio::this_coro::executor;
  Figures f;
  if (!co_await a.wait_connected(peer, 10s)) {
    std::fprintf(stderr, "nodes did not connect\n");
    co_return f;
  }
  // Let duplicate resolution settle so the figures ride one stable session.
  asio::steady_timer settle(ex, 300ms);
  co_await settle.async_wait(kTuple);
  std::vector<double> rtts;
  for (int i = 0; i < pings; ++i) {
    const auto t0 = Steady::now();
    // Named, not a temporary inside co_await: GCC 12 destroys such temporaries twice.
    protocol::Message ping{0, protocol::Ping{static_cast<uint64_t>(i + 1)}};
    auto r = co_await a.request(peer, std::move(ping), 5s);
    if (r) rtts.push_back(seconds_since(t0) * 1e6);
  }
  std::sort(rtts.begin(), rtts.end());
  if (!rtts.empty()) {
    f.p50_us = rtts[rtts.size() / 2];
    f.p99_us = rtts[std::min(rtts.size() - 1, rtts.size() * 99 / 100)];
  }
  // 1 KiB record batches, 32 in flight, each answered by a receipt.
  protocol::RecordBatch batch;
  batch.batch_id = "bench";
  batch.agreement = AgreementId("bench");
  batch.records = {protocol::WireRecord{RecordId("r1"), 1, encode_fields({{"circumstances", std::string(900, 'x')}})}};
  int done = 0, started = 0;
  const int window = std::getenv("WINDOW") ? std::atoi(std::getenv("WINDOW")) : 32;
  const auto t0 = Steady::now();
  const double cpu0 = cpu_seconds();
  asio::steady_timer finished(ex, Steady::time_point::max());
  for (int w = 0; w < window; ++w) {
    asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      while (started < frames) {
        ++started;
        protocol::Message m{0, batch};
        auto r = co_await a.request(peer, std::move(m), 10s);
        if (!r) std::fprintf(stderr, "request failed: %s\n", r.error().what.c_str());
        if (++done == frames) finished.cancel();
      }
    }, asio::detached);
  }
  co_await finished.async_wait(kTuple);
  f.frames_per_s = frames / seconds_since(t0);
  f.frames_per_cpu_s = frames / std::max(1e-9, cpu_seconds() - cpu0);
  co_return f;
}

}  // namespace

int main() {
  const auto mpfp = make_org("mpfp");
  const auto iimp = make_org("iimp");
  auto tls_a = tls_for(mpfp, iimp);
  auto tls_b = tls_for(iimp, mpfp);
  asio::io_context io(1);

  const double aes = aes_gcm_mb_per_s();
  double hs = 0;
  asio::co_spawn(io, handshakes_per_s(*tls_b, *tls_a, 200), [&](std::exception_ptr, double v) { hs = v; });
  io.run();
  io.restart();

  NodeConfig ca, cb;
  ca.org = mpfp.org;
  cb.org = iimp.org;
  ca.listen = cb.listen = HostPort{"127.0.0.1", 0};
  for (auto* c : {&ca, &cb}) {
    c->limits.heartbeat_ms = 60'000;
    c->limits.idle_timeout_ms = 120'000;
    c->limits.max_pending_writes = 1024;
  }
  ca.peers = {PeerConfig{iimp.org, HostPort{"127.0.0.1", 1}}};
  cb.peers = {PeerConfig{mpfp.org, HostPort{"127.0.0.1", 1}}};
  SystemClock clock;
  NullHandler ha, hb;
  net::TransportOptions opts;
  opts.max_handlers_in_flight = 64;
  net::PeerNetwork a(io, *tls_a, ca, ha, clock, opts);
  net::PeerNetwork b(io, *tls_b, cb, hb, clock, opts);
  const auto la = a.start().value();
  const auto lb = b.start().value();
  a.set_peer_address(iimp.org, HostPort::parse(lb).value());
  b.set_peer_address(mpfp.org, HostPort::parse(la).value());
  Figures f;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    f = co_await session_figures(a, iimp.org, 2000, 20000);
    co_await a.shutdown(2s);
    co_await b.shutdown(2s);
    io.stop();
  }, asio::detached);
  io.run();

  std::printf("transport_bench (loopback, both ends on one thread, TLS 1.3 + P-256 mutual auth)\n");
  std::printf("  handshakes/s (TCP + mutual TLS 1.3):   %10.0f\n", hs);
  std::printf("  ping round trip p50 / p99:             %10.1f us / %.1f us\n", f.p50_us, f.p99_us);
  std::printf("  1 KiB request+receipt frames/s:        %10.0f  (%.1f MB/s of requests)\n", f.frames_per_s,
              f.frames_per_s * 1024 / 1e6);
  std::printf("  1 KiB request+receipt frames/CPU-s:    %10.0f  (both ends' CPU)\n", f.frames_per_cpu_s);
  std::printf("  ceiling: raw AES-256-GCM (EVP, 16 KiB): %10.0f MB/s\n", aes);
  return 0;
}
