// SHA-256 and hex helpers shared by every layer that names things by hash (policy versions,
// batch hashes, audit chain). Backed by OpenSSL 3's EVP interface, which uses the CPU's SHA
// instructions where there are any (several times faster than a portable implementation;
// sync hashes every projection, every batch and every audit entry).
// Thread-safety: pure functions; a Sha256Builder belongs to one thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace jisr {

using Sha256 = std::array<uint8_t, 32>;

Sha256 sha256(std::string_view data);
std::string to_hex(const uint8_t* data, size_t size);
inline std::string to_hex(const Sha256& h) { return to_hex(h.data(), h.size()); }
// The same lowercase hex in a fixed array: no allocation, for loops over thousands of digests.
using Sha256Hex = std::array<char, 64>;
Sha256Hex to_hex_chars(const Sha256& h);
// Lowercase hex of sha256(data).
std::string sha256_hex(std::string_view data);

// Incremental hashing for data that arrives in pieces. Move-only (it owns an OpenSSL context).
class Sha256Builder {
 public:
  Sha256Builder();
  ~Sha256Builder();
  Sha256Builder(Sha256Builder&&) noexcept;
  Sha256Builder& operator=(Sha256Builder&&) noexcept;
  Sha256Builder(const Sha256Builder&) = delete;
  Sha256Builder& operator=(const Sha256Builder&) = delete;

  Sha256Builder& add(std::string_view data);
  // The digest of everything added. The builder then starts again, empty, so a loop that
  // hashes many short inputs reuses one context (sha256() sets one up and frees it per call).
  Sha256 finish();

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

}  // namespace jisr
