#include "node/net/peer_network.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <map>
#include <random>
#include <set>

#include "node/net/tls_context.hpp"
#include "protocol/codec.hpp"

namespace jisr::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using protocol::ErrorCode;
using protocol::Message;
using protocol::MessageKind;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kNever = Steady::time_point::max();
// Upper bound on how late the watchdog notices a deadline that was moved earlier.
constexpr milliseconds kWatchdogTick{100};

// How a session ended, for the dialler's backoff and for status.
enum class EndKind {
  kNetwork,    // connect failed, connection lost, timeout
  kRefused,    // certificate, identity or version refused (by either side)
  kDuplicate,  // closed because another session with the same peer wins
  kStopped,    // the node is stopping
  kProtocol,   // a bad frame or message ended it
};

struct SessionEnd {
  EndKind kind = EndKind::kNetwork;
  std::string reason;
  bool established = false;
};

Errc errc_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kDenied: return Errc::kDenied;
    case ErrorCode::kOverloaded: return Errc::kOverloaded;
    case ErrorCode::kMalformedFrame:
    case ErrorCode::kFrameTooLarge:
    case ErrorCode::kUnexpectedMessage:
    case ErrorCode::kVersionMismatch:
    case ErrorCode::kUnsupported: return Errc::kInvalidInput;
    default: return Errc::kInternal;
  }
}

bool is_response_kind(MessageKind k) {
  return k == MessageKind::kPong || k == MessageKind::kBatchReceipt ||
         k == MessageKind::kWithdrawalReceipt || k == MessageKind::kMatchResponse ||
         k == MessageKind::kRevealResponse;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), ep.port())
                      : fmt::format("{}:{}", addr.to_string(), ep.port());
}

}  // namespace

class Session;

struct PeerSlot {
  PeerConfig config;
  PeerStatus status;
  std::shared_ptr<Session> session;      // the established session, if any
  std::unique_ptr<asio::steady_timer> wake;  // the dialler sleeps on it; cancelled on any change
  std::vector<asio::steady_timer*> waiters;  // wait_connected() callers
};

class PeerNetwork::Impl {
 public:
  Impl(asio::io_context& io, TlsContext& tls, NodeConfig config, MessageHandler& handler,
       const Clock& clock, TransportOptions options)
      : io_(io), tls_(tls), config_(std::move(config)), handler_(handler), clock_(clock),
        options_(std::move(options)), acceptor_(io), drained_(io), rng_(std::random_device{}()) {
    const auto now = clock_.now();
    for (const auto& p : config_.peers) {
      PeerSlot slot;
      slot.config = p;
      slot.status.org = p.org;
      slot.status.address = p.address.to_string();
      slot.status.since = now;
      slot.wake = std::make_unique<asio::steady_timer>(io_);
      peers_.emplace(p.org, std::move(slot));
    }
  }

  Result<std::string> start();
  awaitable<void> shutdown(milliseconds budget);
  // Coroutines take ids by value: a reference could dangle across a suspension.
  awaitable<Result<Message>> request(OrgId org, Message message, milliseconds timeout);
  Result<void> send(const OrgId& org, Message message);
  awaitable<bool> wait_connected(OrgId org, milliseconds timeout);
  NetworkStatus status() const;

  // Called by sessions.
  bool attach(const std::shared_ptr<Session>& session);
  void detach(const std::shared_ptr<Session>& session, const SessionEnd& end);
  void record_refusal(const std::string& remote, const std::string& reason);
  void record_version_mismatch(const OrgId& org, const std::string& text);
  uint64_t next_request_id() { return next_request_id_++; }
  uint64_t random_u64() { return rng_(); }

  asio::io_context& io_;
  TlsContext& tls_;
  NodeConfig config_;
  MessageHandler& handler_;
  const Clock& clock_;
  TransportOptions options_;
  protocol::DecodeLimits limits_() const {
    protocol::DecodeLimits l;
    l.max_frame_bytes = config_.limits.max_frame_bytes;
    return l;
  }
  std::map<OrgId, PeerSlot> peers_;

 private:
  awaitable<void> accept_loop();
  awaitable<void> dial_loop(OrgId org);
  awaitable<void> run_inbound(std::shared_ptr<Session> session);
  void task_started() { ++live_tasks_; }
  void task_finished() {
    if (--live_tasks_ == 0 && stopping_) drained_.cancel();
  }
  void set_state(PeerSlot& slot, PeerState state) {
    if (slot.status.state != state) {
      slot.status.state = state;
      slot.status.since = clock_.now();
    }
  }

  tcp::acceptor acceptor_;
  asio::steady_timer drained_;
  std::set<std::shared_ptr<Session>> sessions_;  // every live session, for shutdown
  bool stopping_ = false;
  int live_tasks_ = 0;
  uint64_t next_request_id_ = 1;
  std::mt19937_64 rng_;
  TimePoint started_;
  std::string listen_text_;
  uint64_t refused_inbound_ = 0;
  std::string last_refusal_;
  uint32_t inbound_sessions_ = 0;
};

// One TLS connection with one peer: the coroutine run() owns its whole life.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(PeerNetwork::Impl& net, tcp::socket socket, Direction direction,
          std::optional<PeerConfig> dial)
      : net_(net), stream_(std::move(socket), net.tls_.context()), direction_(direction),
        dial_(std::move(dial)), watchdog_(net.io_), write_signal_(net.io_),
        writer_done_(net.io_), heartbeat_(net.io_) {}

  awaitable<SessionEnd> run();
  // Queues an error frame for the peer (bypassing the pending-writes cap). It can only fail to
  // encode when its text is absurdly long, which is a bug worth a log line, not a crash.
  void send_error(const Message& error) {
    if (auto r = enqueue(error, true); !r) spdlog::error("session {}: error frame not sent: {}", where(), r.error().what);
  }
  // Queues a frame. control frames (errors, pongs) bypass the pending-writes cap.
  Result<void> enqueue(const Message& message, bool control = false);
  awaitable<Result<Message>> request(Message message, milliseconds timeout);
  // Ends the session as soon as possible, closing TLS properly when the peer cooperates.
  void stop(EndKind why);

  const PeerIdentity& peer() const { return peer_; }
  Direction direction() const { return direction_; }
  const std::string& remote() const { return remote_; }
  uint16_t version() const { return version_; }
  std::optional<int64_t> rtt_us() const { return rtt_us_; }
  bool finished() const { return finished_; }

 private:
  struct Pending {
    explicit Pending(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::optional<Result<Message>> result;
  };

  awaitable<SessionEnd> run_inner();
  awaitable<SessionEnd> hello_exchange();
  awaitable<SessionEnd> read_loop();
  awaitable<std::optional<SessionEnd>> dispatch(Message message);
  // Each spawned coroutine takes `self` so the session outlives it.
  awaitable<void> serve_request(std::shared_ptr<Session> self, Message message);
  awaitable<void> writer(std::shared_ptr<Session> self);
  awaitable<void> heartbeat(std::shared_ptr<Session> self);
  awaitable<void> watchdog(std::shared_ptr<Session> self);
  // Reads one frame; errors already carry the end reason.
  awaitable<Result<Message>> read_frame(Steady::time_point header_deadline, bool* protocol_error);
  awaitable<Result<void>> write_now(Message message);
  awaitable<void> close_tls();
  void complete(uint64_t id, Result<Message> result);
  std::string what_failed(const boost::system::error_code& ec) const;
  std::string where() const { return peer_.org.empty() ? remote_ : peer_.org.str(); }

  PeerNetwork::Impl& net_;
  ssl::stream<tcp::socket> stream_;
  Direction direction_;
  std::optional<PeerConfig> dial_;
  PeerIdentity peer_;
  std::string remote_ = "?";
  uint16_t version_ = 0;
  asio::steady_timer watchdog_;
  asio::steady_timer write_signal_;
  asio::steady_timer writer_done_;
  asio::steady_timer heartbeat_;
  Steady::time_point phase_deadline_ = kNever;  // handshake, hello, shutdown: close on expiry
  Steady::time_point read_deadline_ = kNever;   // one frame read: cancel on expiry
  Steady::time_point write_deadline_ = kNever;  // one frame write: close on expiry
  bool read_timed_out_ = false;
  bool phase_timed_out_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool writer_running_ = false;
  std::optional<EndKind> stop_reason_;
  std::deque<std::string> queue_;
  protocol::FrameEncoder encoder_;  // the queue's frames, encoded in reused memory
  protocol::FrameDecoder decoder_;  // the frames read, decoded from reused memory
  std::map<uint64_t, std::shared_ptr<Pending>> pending_;
  uint32_t handlers_in_flight_ = 0;
  uint64_t ping_nonce_ = 0;
  Steady::time_point ping_sent_;
  std::optional<int64_t> rtt_us_;
};

// ---------------------------------------------------------------- Session

std::string Session::what_failed(const boost::system::error_code& ec) const {
  if (phase_timed_out_) return "timed out";
  if (read_timed_out_) return "read timed out";
  // With TLS, eof means the peer sent close_notify; truncation means the TCP connection just ended.
  if (ec == asio::error::eof) return "connection closed by peer";
  if (ec == ssl::error::stream_truncated) return "connection cut by peer (no TLS close_notify)";
  return ec.message();
}

awaitable<void> Session::watchdog([[maybe_unused]] std::shared_ptr<Session> self) {
  while (!finished_) {
    const auto now = Steady::now();
    if (phase_deadline_ <= now || write_deadline_ <= now) {
      // A stuck handshake or write: nothing more can be said on this connection.
      phase_timed_out_ = true;
      boost::system::error_code ignored;  // closing an already-closed socket is harmless
      stream_.lowest_layer().close(ignored);
      phase_deadline_ = write_deadline_ = kNever;
    } else if (read_deadline_ <= now) {
      // A stuck read: cancel it and let the reader send an error frame and close properly.
      read_timed_out_ = true;
      read_deadline_ = kNever;
      boost::system::error_code ignored;  // cancel on a closed socket is harmless
      stream_.lowest_layer().cancel(ignored);
    }
    const auto earliest = std::min({phase_deadline_, read_deadline_, write_deadline_});
    watchdog_.expires_at(std::min(earliest, Steady::now() + kWatchdogTick));
    co_await watchdog_.async_wait(kTuple);
  }
}

awaitable<SessionEnd> Session::run() {
  auto self = shared_from_this();
  asio::co_spawn(net_.io_, watchdog(self), asio::detached);
  SessionEnd end;
  try {
    end = co_await run_inner();
  } catch (const std::exception& e) {  // boundary (STYLE.md 11): a bug ends this session only
    spdlog::error("session {}: internal error: {}", where(), e.what());
    end = SessionEnd{EndKind::kProtocol, std::string("internal error: ") + e.what(), false};
  }
  if (stop_reason_) end.kind = *stop_reason_;
  finished_ = true;
  closing_ = true;
  watchdog_.cancel();
  heartbeat_.cancel();
  write_signal_.cancel();
  boost::system::error_code ignored;  // the socket may already be closed by the watchdog
  stream_.lowest_layer().close(ignored);
  for (auto& [id, p] : pending_) {
    if (!p->result) {
      p->result = make_error(Errc::kDisconnected, "session ended before the response", where());
    }
    p->timer.cancel();
  }
  pending_.clear();
  net_.detach(self, end);
  co_return end;
}

awaitable<SessionEnd> Session::run_inner() {
  auto& limits = net_.config_.limits;
  phase_deadline_ = Steady::now() + milliseconds(limits.handshake_timeout_ms);
  if (dial_) {
    tcp::resolver resolver(net_.io_);
    const std::string port = std::to_string(dial_->address.port);  // named: see write_now callers
    auto [rec, endpoints] = co_await resolver.async_resolve(dial_->address.host, port, kTuple);
    if (rec) co_return SessionEnd{EndKind::kNetwork, "resolve: " + rec.message()};
    auto [cec, ep] = co_await asio::async_connect(stream_.lowest_layer(), endpoints, kTuple);
    if (cec) co_return SessionEnd{EndKind::kNetwork, "connect: " + what_failed(cec)};
  }
  {
    boost::system::error_code ec;
    const auto ep = stream_.lowest_layer().remote_endpoint(ec);
    if (!ec) remote_ = endpoint_text(ep);
    stream_.lowest_layer().set_option(tcp::no_delay(true), ec);  // best effort: latency only
  }
  const auto hs_type = direction_ == Direction::kInbound ? ssl::stream_base::server : ssl::stream_base::client;
  auto [hec] = co_await stream_.async_handshake(hs_type, kTuple);
  if (hec) {
    const auto reason = TlsContext::handshake_failure_reason(stream_.native_handle(),
                                                             "TLS handshake: " + what_failed(hec));
    co_return SessionEnd{hec.category() == asio::error::get_ssl_category() ? EndKind::kRefused
                                                                           : EndKind::kNetwork,
                         reason};
  }
  const std::optional<OrgId> expected = dial_ ? std::optional<OrgId>(dial_->org) : std::nullopt;
  auto id = net_.tls_.identify(stream_.native_handle(), direction_, expected);
  if (!id) {
    // Tell the other side why in one line, then close properly. Ignoring the write result:
    // the connection is refused either way.
    phase_deadline_ = Steady::now() + milliseconds(limits.io_timeout_ms);
    auto refusal = protocol::error_message(ErrorCode::kDenied, "certificate not accepted: " + id.error().what);
    [[maybe_unused]] auto sent = co_await write_now(std::move(refusal));
    co_await close_tls();
    co_return SessionEnd{EndKind::kRefused, id.error().what};
  }
  peer_ = std::move(id).value();
  peer_.remote = remote_;
  auto hello_end = co_await hello_exchange();
  if (!hello_end.reason.empty()) co_return hello_end;
  phase_deadline_ = kNever;
  auto self = shared_from_this();
  if (!net_.attach(self)) {
    co_await close_tls();
    co_return SessionEnd{EndKind::kDuplicate, "duplicate connection closed", true};
  }
  writer_running_ = true;
  asio::co_spawn(net_.io_, writer(self), asio::detached);
  asio::co_spawn(net_.io_, heartbeat(self), asio::detached);
  SessionEnd end = co_await read_loop();
  end.established = true;
  closing_ = true;
  heartbeat_.cancel();
  write_signal_.cancel();
  if (writer_running_) {
    // The writer drains what is queued (e.g. the error frame), each write under its deadline.
    writer_done_.expires_at(kNever);
    co_await writer_done_.async_wait(kTuple);
  }
  co_await close_tls();
  co_return end;
}

awaitable<SessionEnd> Session::hello_exchange() {
  const auto& opt = net_.options_;
  // Messages handed to co_await are named locals: GCC 12 mishandles temporaries there.
  Message hello_out{0, protocol::Hello{net_.config_.org, opt.min_version, opt.max_version, opt.capabilities}};
  auto sent = co_await write_now(std::move(hello_out));
  if (!sent) co_return SessionEnd{EndKind::kNetwork, sent.error().what};
  bool protocol_error = false;
  auto first = co_await read_frame(phase_deadline_, &protocol_error);
  if (!first) {
    co_await close_tls();
    co_return SessionEnd{protocol_error ? EndKind::kProtocol : EndKind::kNetwork, first.error().what};
  }
  const Message& m = first.value();
  if (const auto* err = m.get<protocol::ErrorMessage>()) {
    if (err->code == ErrorCode::kVersionMismatch) net_.record_version_mismatch(peer_.org, err->text);
    co_await close_tls();
    co_return SessionEnd{EndKind::kRefused, fmt::format("peer refused: {}: {}",
                                                        protocol::error_code_name(err->code), err->text)};
  }
  const auto* hello = m.get<protocol::Hello>();
  if (!hello) {
    auto reply = protocol::error_message(ErrorCode::kUnexpectedMessage, "expected hello");
    [[maybe_unused]] auto sent_reply = co_await write_now(std::move(reply));
    co_await close_tls();
    co_return SessionEnd{EndKind::kProtocol, "peer sent " + std::string(protocol::message_kind_name(m.kind())) + " before hello"};
  }
  if (hello->org != peer_.org) {
    auto reply = protocol::error_message(ErrorCode::kDenied, "hello org differs from certificate org");
    [[maybe_unused]] auto sent_reply = co_await write_now(std::move(reply));
    co_await close_tls();
    co_return SessionEnd{EndKind::kRefused, "hello org differs from certificate org"};
  }
  const uint16_t lo = std::max(opt.min_version, hello->min_version);
  const uint16_t hi = std::min(opt.max_version, hello->max_version);
  if (lo > hi) {
    const auto text = fmt::format("no common protocol version: {} speaks {}..{}, {} speaks {}..{}",
                                  net_.config_.org.str(), opt.min_version, opt.max_version,
                                  peer_.org.str(), hello->min_version, hello->max_version);
    net_.record_version_mismatch(peer_.org, text);
    auto reply = protocol::error_message(ErrorCode::kVersionMismatch, text);
    [[maybe_unused]] auto sent_reply = co_await write_now(std::move(reply));
    co_await close_tls();
    co_return SessionEnd{EndKind::kRefused, text};
  }
  version_ = hi;
  co_return SessionEnd{};
}

awaitable<Result<Message>> Session::read_frame(Steady::time_point header_deadline, bool* protocol_error) {
  const auto& limits = net_.config_.limits;
  std::array<uint8_t, protocol::kFrameHeaderBytes> header{};
  read_deadline_ = header_deadline;
  auto [hec, hn] = co_await asio::async_read(stream_, asio::buffer(header), kTuple);
  read_deadline_ = kNever;
  if (hec) co_return make_error(Errc::kDisconnected, what_failed(hec), where());
  auto len = protocol::parse_frame_header(header, limits.max_frame_bytes);
  if (!len) {
    *protocol_error = true;
    const auto code = len.error().where == "frame-too-large" ? ErrorCode::kFrameTooLarge : ErrorCode::kMalformedFrame;
    send_error(protocol::error_message(code, len.error().what));
    co_return make_error(Errc::kInvalidInput, len.error().what, where());
  }
  const auto payload = decoder_.buffer(len.value());
  read_deadline_ = Steady::now() + milliseconds(limits.io_timeout_ms);
  auto [pec, pn] = co_await asio::async_read(stream_, asio::buffer(payload.data(), payload.size()), kTuple);
  read_deadline_ = kNever;
  if (pec) {
    // A truncated frame: say so if the connection can still carry it.
    *protocol_error = true;
    const auto what = "truncated frame: " + what_failed(pec);
    send_error(protocol::error_message(ErrorCode::kMalformedFrame, what));
    co_return make_error(Errc::kInvalidInput, what, where());
  }
  auto message = decoder_.decode(net_.limits_());
  if (!message) {
    *protocol_error = true;
    send_error(protocol::error_message(ErrorCode::kMalformedFrame, message.error().what));
    co_return make_error(Errc::kInvalidInput, message.error().what, where());
  }
  co_return message;
}

awaitable<SessionEnd> Session::read_loop() {
  const auto idle = milliseconds(net_.config_.limits.idle_timeout_ms);
  for (;;) {
    bool protocol_error = false;
    auto message = co_await read_frame(Steady::now() + idle, &protocol_error);
    if (!message) {
      if (stop_reason_) co_return SessionEnd{*stop_reason_, "stopped"};
      if (read_timed_out_ && !protocol_error) co_return SessionEnd{EndKind::kNetwork, "idle timeout"};
      co_return SessionEnd{protocol_error ? EndKind::kProtocol : EndKind::kNetwork, message.error().what};
    }
    if (auto end = co_await dispatch(std::move(message).value())) co_return *end;
  }
}

awaitable<std::optional<SessionEnd>> Session::dispatch(Message message) {
  switch (message.kind()) {
    case MessageKind::kPing:
      // Control frame: a pong must get through even when the queue is full. Failing only when
      // the session is closing, which the reader notices next.
      if (auto r = enqueue(Message{message.request_id, protocol::Pong{message.get<protocol::Ping>()->nonce}, true}, true);
          !r) {
        co_return std::nullopt;
      }
      co_return std::nullopt;
    case MessageKind::kPong:
      if (pending_.count(message.request_id)) {
        // A ping sent through request(): a round-trip probe of the caller's own.
        const auto id = message.request_id;
        complete(id, std::move(message));
        co_return std::nullopt;
      }
      if (message.get<protocol::Pong>()->nonce == ping_nonce_ && ping_nonce_ != 0) {
        rtt_us_ = std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - ping_sent_).count();
        ping_nonce_ = 0;
      }
      co_return std::nullopt;
    case MessageKind::kHello:
      send_error(protocol::error_message(ErrorCode::kUnexpectedMessage, "hello after the session started"));
      co_return SessionEnd{EndKind::kProtocol, "peer sent a second hello"};
    case MessageKind::kError: {
      const auto* err = message.get<protocol::ErrorMessage>();
      auto error = make_error(errc_of(err->code),
                              fmt::format("peer error: {}: {}", protocol::error_code_name(err->code), err->text),
                              peer_.org.str());
      if (err->answers != 0 && pending_.count(err->answers)) {
        complete(err->answers, std::move(error));
        co_return std::nullopt;
      }
      if (err->answers == 0) co_return SessionEnd{EndKind::kProtocol, error.what};
      spdlog::warn("peer {}: error for unknown request {}: {}", peer_.org.str(), err->answers, error.what);
      co_return std::nullopt;
    }
    default:
      break;
  }
  // An answer completes our pending request, or is dropped when that request is gone (it timed
  // out); it is never served, or two nodes would answer each other's answers forever.
  if (message.answer || is_response_kind(message.kind())) {
    if (pending_.count(message.request_id)) {
      const auto id = message.request_id;
      complete(id, std::move(message));
    } else {
      spdlog::warn("peer {}: unsolicited {} for request {}", peer_.org.str(),
                   protocol::message_kind_name(message.kind()), message.request_id);
    }
    co_return std::nullopt;
  }
  if (handlers_in_flight_ >= net_.options_.max_handlers_in_flight) {
    send_error(protocol::error_message(ErrorCode::kOverloaded, "too many requests in flight", message.request_id));
    co_return std::nullopt;
  }
  asio::co_spawn(net_.io_, serve_request(shared_from_this(), std::move(message)), asio::detached);
  co_return std::nullopt;
}

awaitable<void> Session::serve_request([[maybe_unused]] std::shared_ptr<Session> self, Message message) {
  ++handlers_in_flight_;
  const auto id = message.request_id;
  const auto kind = message.kind();
  std::optional<Message> reply;
  try {
    reply = co_await net_.handler_.handle(peer_, std::move(message));
  } catch (const std::exception& e) {  // boundary: the dispatcher turns a bug into an error reply
    spdlog::error("peer {}: handler for {} failed: {}", peer_.org.str(), protocol::message_kind_name(kind), e.what());
    reply = protocol::error_message(ErrorCode::kInternal, "internal error", id);
  }
  --handlers_in_flight_;
  if (reply && !closing_) {
    reply->request_id = id;
    reply->answer = true;
    if (auto r = enqueue(*reply); !r) {
      spdlog::warn("peer {}: reply to {} dropped: {}", peer_.org.str(), protocol::message_kind_name(kind), r.error().what);
      // The requester must not wait for an answer that will never come: tell it why (a reply
      // over the frame limit is the usual case, e.g. a match job too large for one frame).
      if (r.error().code != Errc::kDisconnected && !closing_) {
        (void)enqueue(protocol::error_message(ErrorCode::kOverloaded,
                                              fmt::format("the answer could not be sent: {}{}", r.error().what,
                                                          r.error().what.find("frame limit") != std::string::npos
                                                              ? " (limits.max_frame_bytes of both nodes)"
                                                              : ""),
                                              id));
      }
    }
  }
}

Result<void> Session::enqueue(const Message& message, bool control) {
  if (closing_ && !control) return make_error(Errc::kDisconnected, "session closing", where());
  if (!control && queue_.size() >= net_.config_.limits.max_pending_writes) {
    return make_error(Errc::kOverloaded, "too many pending writes", where());
  }
  JISR_TRY(auto frame, encoder_.encode(message, net_.limits_()));
  queue_.push_back(std::move(frame));
  write_signal_.cancel();
  return ok();
}

awaitable<void> Session::writer([[maybe_unused]] std::shared_ptr<Session> self) {
  const auto io = milliseconds(net_.config_.limits.io_timeout_ms);
  for (;;) {
    if (queue_.empty()) {
      if (closing_) break;
      write_signal_.expires_at(kNever);
      co_await write_signal_.async_wait(kTuple);
      continue;
    }
    std::string frame = std::move(queue_.front());
    queue_.pop_front();
    write_deadline_ = Steady::now() + io;
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(frame), kTuple);
    write_deadline_ = kNever;
    encoder_.give_back(std::move(frame));
    if (ec) {
      closing_ = true;
      queue_.clear();
      boost::system::error_code ignored;  // wakes the reader; it reports the end
      stream_.lowest_layer().cancel(ignored);
      break;
    }
  }
  writer_running_ = false;
  writer_done_.cancel();
}

awaitable<void> Session::heartbeat([[maybe_unused]] std::shared_ptr<Session> self) {
  const auto period = milliseconds(net_.config_.limits.heartbeat_ms);
  while (!closing_) {
    heartbeat_.expires_after(period);
    co_await heartbeat_.async_wait(kTuple);
    if (closing_) break;
    ping_nonce_ = net_.random_u64() | 1;
    ping_sent_ = Steady::now();
    // A full queue already proves the link is busy; the idle deadline still guards silence.
    [[maybe_unused]] auto r = enqueue(Message{0, protocol::Ping{ping_nonce_}}, true);
  }
}

awaitable<Result<void>> Session::write_now(Message message) {
  auto frame = protocol::encode_frame(message, net_.limits_());
  if (!frame) co_return frame.error();
  write_deadline_ = Steady::now() + milliseconds(net_.config_.limits.io_timeout_ms);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(frame.value()), kTuple);
  write_deadline_ = kNever;
  if (ec) co_return make_error(Errc::kDisconnected, what_failed(ec), where());
  co_return ok();
}

awaitable<void> Session::close_tls() {
  const auto budget = std::min<uint32_t>(net_.config_.limits.io_timeout_ms, 2000);
  phase_deadline_ = Steady::now() + milliseconds(budget);
  // close_notify; the peer's answer (or its absence) does not change anything: errors here
  // (eof, truncated, reset, timeout) are the normal ways a TLS connection ends.
  [[maybe_unused]] auto [ec] = co_await stream_.async_shutdown(kTuple);
  phase_deadline_ = kNever;
  boost::system::error_code ignored;  // may already be closed by the watchdog
  stream_.lowest_layer().close(ignored);
}

void Session::stop(EndKind why) {
  if (finished_) return;
  if (!stop_reason_) stop_reason_ = why;
  closing_ = true;
  heartbeat_.cancel();
  write_signal_.cancel();
  boost::system::error_code ignored;  // cancel on a closed socket is harmless
  stream_.lowest_layer().cancel(ignored);
}

void Session::complete(uint64_t id, Result<Message> result) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  it->second->result = std::move(result);
  it->second->timer.cancel();
  pending_.erase(it);
}

awaitable<Result<Message>> Session::request(Message message, milliseconds timeout) {
  auto self = shared_from_this();
  const auto id = message.request_id;
  auto pending = std::make_shared<Pending>(net_.io_);
  pending_[id] = pending;
  if (auto r = enqueue(message); !r) {
    pending_.erase(id);
    co_return r.error();
  }
  pending->timer.expires_after(timeout);
  co_await pending->timer.async_wait(kTuple);
  pending_.erase(id);
  if (pending->result) co_return std::move(*pending->result);
  co_return make_error(Errc::kOverloaded, "no response in time", peer_.org.str());
}

// ---------------------------------------------------------------- PeerNetwork::Impl

Result<std::string> PeerNetwork::Impl::start() {
  started_ = clock_.now();
  boost::system::error_code ec;
  const auto where = config_.listen.to_string();
  const auto address = asio::ip::make_address(config_.listen.host, ec);
  tcp::endpoint ep;
  if (ec) {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(config_.listen.host, std::to_string(config_.listen.port), ec);
    if (ec || results.empty()) return make_error(Errc::kIo, "cannot resolve listen address", where);
    ep = results.begin()->endpoint();
  } else {
    ep = tcp::endpoint(address, config_.listen.port);
  }
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::kIo, "cannot listen: " + ec.message(), where);
  listen_text_ = endpoint_text(acceptor_.local_endpoint());
  task_started();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  for (auto& [org, slot] : peers_) {
    task_started();
    asio::co_spawn(io_, dial_loop(org), asio::detached);
  }
  return listen_text_;
}

awaitable<void> PeerNetwork::Impl::accept_loop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (stopping_) break;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      if (ec == asio::error::no_descriptors) {
        // Out of file descriptors: give sessions a moment to end instead of spinning.
        asio::steady_timer pause(io_, milliseconds(100));
        co_await pause.async_wait(kTuple);
      }
      continue;
    }
    if (inbound_sessions_ >= config_.limits.max_sessions) {
      boost::system::error_code ep_ec;
      const auto remote = socket.remote_endpoint(ep_ec);
      record_refusal(ep_ec ? "?" : endpoint_text(remote), "too many sessions");
      continue;  // the socket closes as it goes out of scope
    }
    auto session = std::make_shared<Session>(*this, std::move(socket), Direction::kInbound, std::nullopt);
    task_started();
    asio::co_spawn(io_, run_inbound(std::move(session)), asio::detached);
  }
  task_finished();
}

awaitable<void> PeerNetwork::Impl::run_inbound(std::shared_ptr<Session> session) {
  ++inbound_sessions_;
  sessions_.insert(session);
  auto end = co_await session->run();
  sessions_.erase(session);
  --inbound_sessions_;
  if (end.kind == EndKind::kRefused || (!end.established && end.kind == EndKind::kProtocol)) {
    record_refusal(session->remote(), end.reason);
  } else if (!end.established && end.kind == EndKind::kNetwork) {
    // A TCP client that never completed TLS (garbage, scanners, timeouts) is also a refusal.
    record_refusal(session->remote(), end.reason);
  }
  task_finished();
}

awaitable<void> PeerNetwork::Impl::dial_loop(OrgId org) {
  auto& slot = peers_.at(org);
  uint32_t backoff = config_.limits.backoff_initial_ms;
  // Any working connection will do, whoever dialled it. When both ends dial at once, each
  // sees both connections and the duplicate rule (attach()) keeps the same one at both ends.
  // The smaller org used to dial again while only the peer's connection existed, to end on
  // its own: that replaced a working connection under the first sync of every session the
  // peer had dialled, and failed the requests in flight on it.
  while (!stopping_) {
    if (slot.session) {
      slot.wake->expires_at(kNever);
      co_await slot.wake->async_wait(kTuple);
      continue;
    }
    if (!slot.session) set_state(slot, PeerState::kConnecting);
    tcp::socket socket(io_);
    auto session = std::make_shared<Session>(*this, std::move(socket), Direction::kOutbound, slot.config);
    sessions_.insert(session);
    auto end = co_await session->run();
    sessions_.erase(session);
    if (stopping_) break;
    if (end.kind == EndKind::kDuplicate) continue;
    if (end.established) backoff = config_.limits.backoff_initial_ms;
    // Full jitter in the upper half: spreads reconnects of many nodes, keeps the growth.
    const uint32_t delay = backoff / 2 + static_cast<uint32_t>(rng_() % (backoff / 2 + 1));
    backoff = std::min<uint32_t>(backoff * 2, config_.limits.backoff_max_ms);
    if (!slot.session) {
      slot.status.last_error = end.reason;
      slot.status.last_error_at = clock_.now();
      set_state(slot, end.kind == EndKind::kRefused ? PeerState::kRefused : PeerState::kBackingOff);
      spdlog::info("peer {}: {} ({}); next attempt in {} ms", org.str(),
                   peer_state_name(slot.status.state), end.reason, delay);
    }
    slot.wake->expires_after(milliseconds(delay));
    co_await slot.wake->async_wait(kTuple);
  }
  set_state(slot, PeerState::kIdle);
  task_finished();
}

bool PeerNetwork::Impl::attach(const std::shared_ptr<Session>& session) {
  if (stopping_) return false;
  const OrgId& org = session->peer().org;
  auto& slot = peers_.at(org);  // identify() only accepts configured peers
  if (slot.session && !slot.session->finished()) {
    const OrgId preferred_dialler = std::min(config_.org, org);
    const auto dialler = [&](const Session& s) {
      return s.direction() == Direction::kOutbound ? config_.org : org;
    };
    const bool existing_preferred = dialler(*slot.session) == preferred_dialler;
    const bool new_preferred = dialler(*session) == preferred_dialler;
    if (existing_preferred && !new_preferred) {
      spdlog::info("peer {}: duplicate connection from {} closed (keeping the one dialled by {})",
                   org.str(), session->peer().remote, preferred_dialler.str());
      return false;
    }
    spdlog::info("peer {}: replacing connection {} with {}", org.str(), slot.session->peer().remote,
                 session->peer().remote);
    auto old = std::move(slot.session);
    slot.session = nullptr;
    old->stop(EndKind::kDuplicate);
  }
  slot.session = session;
  auto& st = slot.status;
  set_state(slot, PeerState::kConnected);
  st.since = clock_.now();
  st.version_mismatch.clear();
  st.cert_not_after = session->peer().not_after;
  st.cert_fingerprint = session->peer().fingerprint;
  st.direction = session->direction();
  st.protocol_version = session->version();
  ++st.sessions_established;
  spdlog::info("peer {}: connected ({} {}, protocol v{})", org.str(),
               session->direction() == Direction::kOutbound ? "dialled" : "accepted",
               session->peer().remote, session->version());
  slot.wake->cancel();
  for (auto* w : slot.waiters) w->cancel();
  handler_.on_peer_connected(session->peer());
  return true;
}

void PeerNetwork::Impl::detach(const std::shared_ptr<Session>& session, const SessionEnd& end) {
  const auto it = peers_.find(session->peer().org);
  if (it == peers_.end() || it->second.session != session) return;
  auto& slot = it->second;
  slot.session = nullptr;
  slot.status.last_disconnect = end.reason;
  slot.status.rtt_us.reset();
  set_state(slot, stopping_ ? PeerState::kIdle : PeerState::kConnecting);
  spdlog::info("peer {}: disconnected: {}", slot.config.org.str(), end.reason);
  slot.wake->cancel();
  handler_.on_peer_disconnected(slot.config.org);
}

void PeerNetwork::Impl::record_refusal(const std::string& remote, const std::string& reason) {
  ++refused_inbound_;
  last_refusal_ = reason;
  spdlog::warn("refused inbound connection from {}: {}", remote, reason);
  handler_.on_connection_refused(remote, reason);
}

void PeerNetwork::Impl::record_version_mismatch(const OrgId& org, const std::string& text) {
  const auto it = peers_.find(org);
  if (it == peers_.end()) return;
  it->second.status.version_mismatch = text;
  spdlog::warn("peer {}: {}", org.str(), text);
}

awaitable<void> PeerNetwork::Impl::shutdown(milliseconds budget) {
  if (stopping_) co_return;
  stopping_ = true;
  boost::system::error_code ignored;  // closing a closed acceptor is harmless
  acceptor_.close(ignored);
  for (auto& [org, slot] : peers_) slot.wake->cancel();
  for (const auto& s : std::vector<std::shared_ptr<Session>>(sessions_.begin(), sessions_.end())) {
    s->stop(EndKind::kStopped);
  }
  if (live_tasks_ > 0) {
    drained_.expires_after(budget);
    co_await drained_.async_wait(kTuple);
  }
}

awaitable<Result<Message>> PeerNetwork::Impl::request(OrgId org, Message message,
                                                      milliseconds timeout) {
  const auto it = peers_.find(org);
  if (it == peers_.end()) co_return make_error(Errc::kNotFound, "not a configured peer", org.str());
  auto session = it->second.session;
  if (!session) co_return make_error(Errc::kDisconnected, "peer not connected", org.str());
  message.request_id = next_request_id();
  co_return co_await session->request(std::move(message), timeout);
}

Result<void> PeerNetwork::Impl::send(const OrgId& org, Message message) {
  const auto it = peers_.find(org);
  if (it == peers_.end()) return make_error(Errc::kNotFound, "not a configured peer", org.str());
  if (!it->second.session) return make_error(Errc::kDisconnected, "peer not connected", org.str());
  if (message.request_id == 0) message.request_id = next_request_id();
  return it->second.session->enqueue(message);
}

awaitable<bool> PeerNetwork::Impl::wait_connected(OrgId org, milliseconds timeout) {
  const auto it = peers_.find(org);
  if (it == peers_.end()) co_return false;
  if (it->second.session) co_return true;
  asio::steady_timer timer(io_, timeout);
  auto& waiters = it->second.waiters;
  waiters.push_back(&timer);
  co_await timer.async_wait(kTuple);
  waiters.erase(std::find(waiters.begin(), waiters.end(), &timer));
  co_return it->second.session != nullptr;
}

NetworkStatus PeerNetwork::Impl::status() const {
  NetworkStatus s;
  s.org = config_.org;
  s.listen = listen_text_;
  s.started = started_;
  s.refused_inbound = refused_inbound_;
  s.last_refusal = last_refusal_;
  s.inbound_sessions = inbound_sessions_;
  for (const auto& [org, slot] : peers_) {
    PeerStatus p = slot.status;
    if (slot.session) p.rtt_us = slot.session->rtt_us();
    s.peers.push_back(std::move(p));
  }
  return s;
}

// ---------------------------------------------------------------- PeerNetwork

std::string_view peer_state_name(PeerState state) {
  switch (state) {
    case PeerState::kIdle: return "idle";
    case PeerState::kConnecting: return "connecting";
    case PeerState::kConnected: return "connected";
    case PeerState::kBackingOff: return "backing_off";
    case PeerState::kRefused: return "refused";
  }
  return "unknown";
}

PeerNetwork::PeerNetwork(asio::io_context& io, TlsContext& tls, NodeConfig config,
                         MessageHandler& handler, const Clock& clock, TransportOptions options)
    : impl_(std::make_unique<Impl>(io, tls, std::move(config), handler, clock, std::move(options))) {}

PeerNetwork::~PeerNetwork() = default;

void PeerNetwork::set_peer_ca_expiry(const OrgId& org, TimePoint not_after) {
  if (auto it = impl_->peers_.find(org); it != impl_->peers_.end()) it->second.status.ca_not_after = not_after;
}

void PeerNetwork::set_peer_address(const OrgId& org, HostPort address) {
  const auto it = impl_->peers_.find(org);
  if (it == impl_->peers_.end()) return;
  it->second.config.address = address;
  it->second.status.address = address.to_string();
  if (!it->second.session) it->second.wake->cancel();
}

Result<std::string> PeerNetwork::start() { return impl_->start(); }

awaitable<void> PeerNetwork::shutdown(milliseconds budget) { return impl_->shutdown(budget); }

awaitable<Result<Message>> PeerNetwork::request(const OrgId& org, Message message, milliseconds timeout) {
  return impl_->request(org, std::move(message), timeout);
}

Result<void> PeerNetwork::send(const OrgId& org, Message message) {
  return impl_->send(org, std::move(message));
}

awaitable<bool> PeerNetwork::wait_connected(const OrgId& org, milliseconds timeout) {
  return impl_->wait_connected(org, timeout);
}

bool PeerNetwork::is_connected(const OrgId& org) const {
  const auto it = impl_->peers_.find(org);
  return it != impl_->peers_.end() && it->second.session != nullptr;
}

NetworkStatus PeerNetwork::status() const { return impl_->status(); }

}  // namespace jisr::net
