#include "node/net/admin_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "node/net/admin_client.hpp"

namespace jisr::net {

namespace asio = boost::asio;
using asio::awaitable;
using local = asio::local::stream_protocol;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// A client that connects and says nothing must not hold a connection forever.
constexpr std::chrono::seconds kRequestReadTimeout{5};
}  // namespace

class AdminServer::Impl {
 public:
  Impl(asio::io_context& io, std::filesystem::path path) : io_(io), path_(std::move(path)), acceptor_(io) {}

  Result<void> start();
  void stop();
  awaitable<void> accept_loop();
  awaitable<void> serve(local::socket socket);
  awaitable<nlohmann::json> answer(const std::string& line);

  asio::io_context& io_;
  std::filesystem::path path_;
  local::acceptor acceptor_;
  std::map<std::string, AdminHandler> handlers_;
  bool stopped_ = false;
};

Result<void> AdminServer::Impl::start() {
  const auto where = path_.string();
  std::error_code fec;
  std::filesystem::create_directories(path_.parent_path(), fec);
  if (fec) return make_error(Errc::kIo, fec.message(), path_.parent_path().string());
  std::filesystem::permissions(path_.parent_path(), std::filesystem::perms::owner_all, fec);
  if (std::filesystem::exists(std::filesystem::symlink_status(path_, fec))) {
    auto answer = admin_request(path_, R"({"cmd":"status"})", std::chrono::milliseconds(1000));
    if (answer) return make_error(Errc::kConflict, "another node is running", where);
    spdlog::info("removing stale admin socket {}", where);
    std::filesystem::remove(path_, fec);
    if (fec) return make_error(Errc::kIo, "cannot remove stale admin socket: " + fec.message(), where);
  }
  boost::system::error_code ec;
  acceptor_.open(local(), ec);
  // The socket file is created by bind with the process umask; make it 0600 from the start so
  // there is no window in which another local user could connect.
  const mode_t old_mask = ::umask(0177);
  if (!ec) acceptor_.bind(local::endpoint(where), ec);
  ::umask(old_mask);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::kIo, "cannot create admin socket: " + ec.message(), where);
  std::filesystem::permissions(path_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, fec);
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return ok();
}

void AdminServer::Impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;  // closing a closed acceptor is harmless
  acceptor_.close(ignored);
  std::error_code fec;  // the file may already be gone; nothing else to do about it
  std::filesystem::remove(path_, fec);
}

awaitable<void> AdminServer::Impl::accept_loop() {
  while (!stopped_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (stopped_) break;
    if (ec) {
      spdlog::warn("admin socket accept failed: {}", ec.message());
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

awaitable<void> AdminServer::Impl::serve(local::socket plain) {
  // Shared with the deadline handler, which may run after this coroutine has finished.
  auto socket = std::make_shared<local::socket>(std::move(plain));
  auto timed_out = std::make_shared<bool>(false);
  std::string buffer;
  asio::steady_timer deadline(io_, kRequestReadTimeout);
  // The deadline closes the socket, which ends the read below.
  deadline.async_wait([socket, timed_out](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the request arrived in time
    *timed_out = true;
    boost::system::error_code ignored;  // closing twice is harmless
    socket->close(ignored);
  });
  auto [ec, n] = co_await asio::async_read_until(
      *socket, asio::dynamic_buffer(buffer, kMaxAdminLineBytes), '\n', kTuple);
  deadline.cancel();
  nlohmann::json response;
  if (ec == asio::error::not_found) {
    response = {{"ok", false}, {"error", "request line too long"}};
  } else if (ec || *timed_out) {
    co_return;  // the client went away or said nothing: nobody to answer
  } else {
    // A named line, not a temporary inside co_await: GCC 12 may destroy such temporaries twice.
    const std::string line = buffer.substr(0, n - 1);
    response = co_await answer(line);
  }
  const auto out = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // Ignoring the result: there is nothing to tell a client that left before the answer.
  [[maybe_unused]] auto [wec, wn] = co_await asio::async_write(*socket, asio::buffer(out), kTuple);
  boost::system::error_code ignored;  // closing after the answer; errors do not matter now
  socket->close(ignored);
}

awaitable<nlohmann::json> AdminServer::Impl::answer(const std::string& line) {
  auto request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) {
    co_return nlohmann::json{{"ok", false}, {"error", "request is not a JSON object"}};
  }
  const auto cmd = request.find("cmd");
  if (cmd == request.end() || !cmd->is_string()) {
    co_return nlohmann::json{{"ok", false}, {"error", "request has no \"cmd\" string"}};
  }
  const auto handler = handlers_.find(cmd->get<std::string>());
  if (handler == handlers_.end()) {
    co_return nlohmann::json{{"ok", false}, {"error", "unknown command"}};
  }
  try {
    co_return co_await handler->second(request);
  } catch (const std::exception& e) {  // boundary: a bug in one command must not stop the node
    spdlog::error("admin command {} failed: {}", cmd->get<std::string>(), e.what());
  }
  co_return nlohmann::json{{"ok", false}, {"error", "internal error"}};
}

AdminServer::AdminServer(asio::io_context& io, std::filesystem::path socket_path)
    : impl_(std::make_unique<Impl>(io, std::move(socket_path))) {}
AdminServer::~AdminServer() { impl_->stop(); }
void AdminServer::add(std::string cmd, AdminHandler handler) { impl_->handlers_[std::move(cmd)] = std::move(handler); }
Result<void> AdminServer::start() { return impl_->start(); }
void AdminServer::stop() { impl_->stop(); }

}  // namespace jisr::net
