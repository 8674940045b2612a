// Admin socket client: one JSON request line to DIR/run/admin.sock, one JSON response line back.
// Used by the CLI commands that talk to a running node (`jisr status`, `jisr sync`, `jisr policy
// apply`, ...). Plain POSIX sockets, no Asio, so it is cheap to include anywhere in node/app.
// Thread-safety: stateless; each call opens and closes its own connection.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "node/core/result.hpp"

namespace jisr::net {

// Largest response line accepted from the node (a status with many peers fits easily).
inline constexpr size_t kMaxAdminLineBytes = 1 << 20;

// Sends request_json (one line, without the trailing newline) and returns the node's response
// line without its newline. The whole exchange must finish within timeout.
// Errors: kDisconnected "node not running" (where = socket path) when nothing listens on the
// socket or it does not exist; kDisconnected when the node closes early; kOverloaded on timeout;
// kInvalidInput when the request contains a newline or the response is too long.
Result<std::string> admin_request(const std::filesystem::path& socket,
                                  std::string_view request_json,
                                  std::chrono::milliseconds timeout);

}  // namespace jisr::net
