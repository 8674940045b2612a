// SHA-256 and hex helpers shared by every layer that names things by hash (policy versions,
// batch hashes, audit chain). Backed by libsodium. Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace jisr {

using Sha256 = std::array<uint8_t, 32>;

Sha256 sha256(std::string_view data);
std::string to_hex(const uint8_t* data, size_t size);
inline std::string to_hex(const Sha256& h) { return to_hex(h.data(), h.size()); }
// Lowercase hex of sha256(data).
std::string sha256_hex(std::string_view data);

// Incremental hashing for data that arrives in pieces.
class Sha256Builder {
 public:
  Sha256Builder();
  Sha256Builder& add(std::string_view data);
  Sha256 finish();

 private:
  alignas(64) unsigned char state_[128];
};

}  // namespace jisr
