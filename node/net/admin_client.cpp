#include "node/net/admin_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace jisr::net {
namespace {

// Closes the descriptor when the call ends, whichever way it ends.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

using Steady = std::chrono::steady_clock;

int remaining_ms(Steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits until fd is ready for events or the deadline passes.
Result<void> wait_ready(int fd, short events, Steady::time_point deadline, const std::string& where) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return ok();
    if (n == 0) return make_error(Errc::kOverloaded, "node did not answer in time", where);
    if (errno != EINTR) return make_error(Errc::kIo, std::strerror(errno), where);
  }
}

}  // namespace

Result<std::string> admin_request(const std::filesystem::path& socket,
                                  std::string_view request_json,
                                  std::chrono::milliseconds timeout) {
  const std::string where = socket.string();
  if (request_json.find('\n') != std::string_view::npos) {
    return make_error(Errc::kInvalidInput, "admin request must be one line", where);
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (where.size() >= sizeof addr.sun_path) {
    return make_error(Errc::kInvalidInput, "admin socket path too long", where);
  }
  std::memcpy(addr.sun_path, where.c_str(), where.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return make_error(Errc::kIo, std::strerror(errno), where);
  const auto deadline = Steady::now() + timeout;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    // A Unix socket connect either succeeds at once or fails; EAGAIN means the backlog is full.
    if (errno == ENOENT || errno == ECONNREFUSED || errno == ENOTSOCK) {
      return make_error(Errc::kDisconnected, "node not running", where);
    }
    if (errno == EAGAIN) return make_error(Errc::kOverloaded, "node is busy", where);
    return make_error(Errc::kIo, std::strerror(errno), where);
  }
  std::string out(request_json);
  out += '\n';
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      JISR_TRY(wait_ready(fd.get(), POLLOUT, deadline, where));
      continue;
    }
    return make_error(Errc::kDisconnected, "node closed the admin connection", where);
  }
  std::string response;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      response.append(buf, static_cast<size_t>(n));
      const auto nl = response.find('\n');
      if (nl != std::string::npos) {
        response.resize(nl);
        return response;
      }
      if (response.size() > kMaxAdminLineBytes) {
        return make_error(Errc::kInvalidInput, "admin response too long", where);
      }
      continue;
    }
    if (n == 0) return make_error(Errc::kDisconnected, "node closed the admin connection", where);
    if (errno == EAGAIN || errno == EINTR) {
      JISR_TRY(wait_ready(fd.get(), POLLIN, deadline, where));
      continue;
    }
    return make_error(Errc::kIo, std::strerror(errno), where);
  }
}

}  // namespace jisr::net
