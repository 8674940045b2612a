// AdminServer: the node's admin socket, DIR/run/admin.sock (mode 0600, directory 0700). One
// JSON request line in, one JSON response line out, then the connection closes. node/app fills
// a registry of commands ({"cmd":"status"}, later "reload", "sync", ...); an unknown command,
// a line that is not a JSON object or a line longer than kMaxAdminLineBytes gets
// {"ok":false,"error":"..."}. A command's handler returns its JSON response (it should carry
// "ok"); a handler that throws is a bug and answers {"ok":false,"error":"internal error"}.
// Threading: runs on the node's single io_context thread, like PeerNetwork.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "node/core/result.hpp"

namespace boost::asio {
class io_context;
}

namespace jisr::net {

using AdminHandler = std::function<boost::asio::awaitable<nlohmann::json>(const nlohmann::json& request)>;

class AdminServer {
 public:
  AdminServer(boost::asio::io_context& io, std::filesystem::path socket_path);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Registers cmd (replacing an earlier handler of the same name). Call before or after start.
  void add(std::string cmd, AdminHandler handler);

  // Creates the socket. A stale socket file is removed; if a node answers on it, errors with
  // kConflict "another node is running". Errors: kIo when the socket cannot be created.
  Result<void> start();
  // Stops accepting and removes the socket file. Requests being answered finish on their own.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jisr::net
