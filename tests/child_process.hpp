// Starting `jisr` as a child process and finding a free loopback port, for the integration
// tests (tests/integration/node_process.cpp) and the benchmark programs (tests/bench/
// node_pair.hpp), and running a program to completion (tests/test_support.cpp). Header-only because each bench is one .cpp file with no test library.
// Failures are values (-1, 0): the callers either throw (tests) or exit (programs).
// Thread-safety: the functions are reentrant.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

extern char** environ;

namespace jisr::testing {

// A port on 127.0.0.1 that was free a moment ago (bound, read, released); 0 when none.
inline uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  return ok ? ntohs(addr.sin_port) : 0;
}

// Starts `argv` (argv[0] the program, looked up in PATH when it has no slash) with stdin from /dev/null and stdout and stderr appended
// to `out` and `err` (which may be the same file); its pid, or -1 when it could not start.
inline pid_t spawn_logged(std::vector<std::string> argv, const std::filesystem::path& out,
                          const std::filesystem::path& err) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

}  // namespace jisr::testing
