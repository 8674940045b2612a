// admin_request against a missing socket, a stale socket file and a tiny one-shot server.
#include "node/net/admin_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <thread>

#include "tests/test_support.hpp"

using namespace std::chrono_literals;

namespace {

int listen_unix(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  return fd;
}

}  // namespace

TEST_CASE("admin_request reports a node that is not running", "[net][admin]") {
  jisr::testing::TempDir dir;
  const auto sock = dir / "admin.sock";
  SECTION("no socket file") {
    auto r = jisr::net::admin_request(sock, R"({"cmd":"status"})", 1000ms);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == jisr::Errc::kDisconnected);
    CHECK(r.error().message() == "node not running (" + sock.string() + ")");
  }
  SECTION("stale socket file nobody listens on") {
    const int fd = listen_unix(sock);
    ::close(fd);
    auto r = jisr::net::admin_request(sock, R"({"cmd":"status"})", 1000ms);
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "node not running");
  }
  SECTION("a request with a newline is refused before connecting") {
    auto r = jisr::net::admin_request(sock, "{}\n{}", 1000ms);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == jisr::Errc::kInvalidInput);
  }
}

TEST_CASE("admin_request sends one line and reads one line", "[net][admin]") {
  jisr::testing::TempDir dir;
  const auto sock = dir / "admin.sock";
  const int lfd = listen_unix(sock);
  std::string received;
  std::thread server([&] {
    const int c = ::accept(lfd, nullptr, nullptr);
    char buf[256];
    while (received.find('\n') == std::string::npos) {
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      received.append(buf, static_cast<size_t>(n));
    }
    const std::string reply = "{\"ok\":true}\n{\"extra\":1}\n";
    // Catch2 assertions are not thread-safe: the client side checks what arrived.
    [[maybe_unused]] const ssize_t n = ::write(c, reply.data(), reply.size());
    ::close(c);
  });
  auto r = jisr::net::admin_request(sock, R"({"cmd":"status"})", 2000ms);
  server.join();
  ::close(lfd);
  REQUIRE(r);
  CHECK(r.value() == R"({"ok":true})");
  CHECK(received == "{\"cmd\":\"status\"}\n");
}

TEST_CASE("admin_request times out on a node that never answers", "[net][admin]") {
  jisr::testing::TempDir dir;
  const auto sock = dir / "admin.sock";
  const int lfd = listen_unix(sock);  // accepted by the kernel backlog, never answered
  auto r = jisr::net::admin_request(sock, R"({"cmd":"status"})", 200ms);
  ::close(lfd);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == jisr::Errc::kOverloaded);
}
