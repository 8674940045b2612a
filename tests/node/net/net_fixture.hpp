// Shared by the in-process transport tests: certificates minted in the test, a node (TLS
// context + PeerNetwork + recording handler) on 127.0.0.1:0, an io_context running on a
// background thread, and helpers to run code on that thread and wait for conditions with a
// deadline (no fixed sleeps).
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <thread>

#include "node/net/peer_network.hpp"
#include "node/net/tls_context.hpp"
#include "node/pki/pki.hpp"

namespace jisr::net::testing {

using namespace std::chrono_literals;

struct OrgPki {
  OrgId org;
  pki::IssuedCertificate ca;
  pki::IssuedCertificate node;
  std::string chain() const { return node.cert_pem + ca.cert_pem; }
};

inline TimePoint now() { return SystemClock().now(); }

inline pki::IssuedCertificate mint(const OrgId& org, bool is_ca, const pki::IssuedCertificate* issuer,
                                   TimePoint not_before, TimePoint not_after) {
  std::optional<pki::Issuer> iss;
  if (issuer) iss = pki::Issuer{issuer->cert_pem, issuer->key_pem};
  auto r = pki::issue_certificate({org, "test " + org.str(), is_ca, not_before, not_after}, iss);
  REQUIRE(r);
  return r.value();
}

inline OrgPki make_org(const std::string& org) {
  OrgPki p;
  p.org = OrgId(org);
  p.ca = mint(p.org, true, nullptr, now() - 1h, now() + 24h * 365);
  p.node = mint(p.org, false, &p.ca, now() - 1h, now() + 24h * 30);
  return p;
}

inline NodeLimits fast_limits() {
  NodeLimits l;
  l.handshake_timeout_ms = 2000;
  l.io_timeout_ms = 1000;
  l.idle_timeout_ms = 1500;
  l.heartbeat_ms = 200;
  l.backoff_initial_ms = 50;
  l.backoff_max_ms = 400;
  l.max_frame_bytes = 64 * 1024;
  return l;
}

// Records what the transport reports and answers record batches with a receipt.
class RecordingHandler final : public MessageHandler {
 public:
  boost::asio::awaitable<std::optional<protocol::Message>> handle(const PeerIdentity& peer,
                                                                  protocol::Message m) override {
    ++requests;
    if (const auto* batch = m.get<protocol::RecordBatch>()) {
      protocol::BatchReceipt r;
      r.batch_id = batch->batch_id;
      r.first_seq = batch->first_seq;
      r.last_seq = batch->last_seq;
      r.receiver = self;
      r.accepted = static_cast<uint32_t>(batch->records.size());
      last_sender = peer.org;
      co_return protocol::Message{0, r};
    }
    if (m.get<protocol::RevealRequest>()) throw std::runtime_error("handler bug");
    co_return std::nullopt;  // e.g. a withdrawal: no answer, the requester times out
  }
  void on_peer_connected(const PeerIdentity& p) override { ++connected[p.org.str()]; }
  void on_peer_disconnected(const OrgId& org) override { ++disconnected[org.str()]; }
  void on_connection_refused(const std::string&, const std::string& reason) override {
    refusals.push_back(reason);
  }

  OrgId self;
  int requests = 0;
  OrgId last_sender;
  std::map<std::string, int> connected;
  std::map<std::string, int> disconnected;
  std::vector<std::string> refusals;
};

// Result<T> has no default constructor, so use_future cannot carry it: hand it over here.
template <class T>
boost::asio::awaitable<void> deliver(boost::asio::awaitable<T> coro, std::promise<T>* promise) {
  promise->set_value(co_await std::move(coro));
}

// An io_context running on its own thread until destruction.
class IoThread {
 public:
  IoThread() : guard_(io.get_executor()), thread_([this] { io.run(); }) {}
  ~IoThread() {
    guard_.reset();
    io.stop();
    thread_.join();
  }
  // Runs fn on the io thread and returns its result.
  template <class F>
  auto on_io(F&& fn) {
    std::packaged_task<decltype(fn())()> task(std::forward<F>(fn));
    auto future = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return future.get();
  }
  // Runs a coroutine on the io thread and waits for its result.
  template <class T>
  T co_run(boost::asio::awaitable<T> coro) {
    std::promise<T> promise;
    auto future = promise.get_future();
    boost::asio::co_spawn(io, deliver(std::move(coro), &promise), boost::asio::detached);
    return future.get();
  }
  void co_run(boost::asio::awaitable<void> coro) {
    boost::asio::co_spawn(io, std::move(coro), boost::asio::use_future).get();
  }

  boost::asio::io_context io;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Polls cond every 10 ms until it holds or the deadline passes; returns whether it held.
template <class F>
bool eventually(F&& cond, std::chrono::milliseconds deadline = 8000ms) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);  // polling interval, not a wait for an event
  }
  return cond();
}

// One in-process node.
class TestNode {
 public:
  TestNode(IoThread& io, const OrgPki& self, const std::vector<const OrgPki*>& peers,
           TransportOptions options = {}, NodeLimits limits = fast_limits())
      : io_(io) {
    handler.self = self.org;
    TlsMaterial m;
    m.chain_pem = self.chain();
    m.key_pem = self.node.key_pem;
    config.org = self.org;
    config.listen = HostPort{"127.0.0.1", 0};
    config.limits = limits;
    for (const auto* p : peers) {
      m.peer_cas[p->org] = p->ca.cert_pem;
      // Port 1 refuses connections until the test sets the real address.
      config.peers.push_back(PeerConfig{p->org, HostPort{"127.0.0.1", 1}});
    }
    auto tls_ctx = TlsContext::create(m);
    REQUIRE(tls_ctx);
    tls = std::move(tls_ctx).value();
    network = std::make_unique<PeerNetwork>(io.io, *tls, config, handler, clock, options);
  }
  ~TestNode() { stop(); }

  std::string start() {
    auto r = io_.on_io([this] { return network->start(); });
    REQUIRE(r);
    listen = r.value();
    port = static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
    return listen;
  }
  void stop() {
    if (!network || stopped_) return;
    stopped_ = true;
    io_.co_run(network->shutdown(3000ms));
  }
  void point_to(const TestNode& other) {
    io_.on_io([this, &other] { network->set_peer_address(other.config.org, HostPort{"127.0.0.1", other.port}); });
  }
  NetworkStatus status() { return io_.on_io([this] { return network->status(); }); }
  PeerStatus peer(const std::string& org) {
    for (auto& p : status().peers) {
      if (p.org.str() == org) return p;
    }
    FAIL("no such peer " << org);
    return {};
  }
  PeerState state(const std::string& org) { return peer(org).state; }
  template <class T>
  T on_io(std::function<T()> fn) { return io_.on_io(std::move(fn)); }

  SystemClock clock;
  RecordingHandler handler;
  NodeConfig config;
  std::unique_ptr<TlsContext> tls;
  std::unique_ptr<PeerNetwork> network;
  std::string listen;
  uint16_t port = 0;

 private:
  IoThread& io_;
  bool stopped_ = false;
};

}  // namespace jisr::net::testing
