// Test support shared by every test binary: temporary directories that clean up, running the
// real `jisr` binary and capturing its exit code and output, and paths from the environment.
// Thread-safety: none needed; tests are single-threaded unless they say so.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace jisr::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the jisr binary (JISR_BIN) with args, no shell involved; stdin is /dev/null.
RunResult run_jisr(const std::vector<std::string>& args);
// Runs any program with args.
RunResult run_program(const std::string& program, const std::vector<std::string>& args);

std::filesystem::path jisr_bin();
std::filesystem::path source_dir();
std::filesystem::path shared_data_dir();

// Writes text to a file (creating parent directories).
void write_text(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);

}  // namespace jisr::testing
