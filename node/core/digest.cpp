#include "node/core/digest.hpp"

#include <openssl/evp.h>

#include "node/core/assert.hpp"

namespace jisr {
namespace {

// The SHA-256 implementation, fetched from OpenSSL's default provider once per process:
// EVP_sha256() would repeat that fetch (a locked lookup) on every call, which costs more than
// hashing a short record. Immutable once fetched; never freed (lives as long as the process).
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  JISR_ASSERT(md != nullptr, "OpenSSL has no SHA256 implementation");
  return md;
}

}  // namespace

Sha256 sha256(std::string_view data) {
  Sha256 out;
  unsigned int size = 0;
  const int ok = EVP_Digest(data.data(), data.size(), out.data(), &size, sha256_md(), nullptr);
  JISR_ASSERT(ok == 1 && size == out.size(), "SHA-256 failed");
  return out;
}

namespace {
constexpr char kDigits[] = "0123456789abcdef";
}  // namespace

Sha256Hex to_hex_chars(const Sha256& h) {
  Sha256Hex out;
  for (size_t i = 0; i < h.size(); ++i) {
    out[2 * i] = kDigits[h[i] >> 4];
    out[2 * i + 1] = kDigits[h[i] & 15];
  }
  return out;
}

std::string to_hex(const uint8_t* data, size_t size) {
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

struct Sha256Builder::Context {
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx{EVP_MD_CTX_new()};
};

Sha256Builder::Sha256Builder() : ctx_(std::make_unique<Context>()) {
  JISR_ASSERT(ctx_->ctx && EVP_DigestInit_ex2(ctx_->ctx.get(), sha256_md(), nullptr) == 1,
              "SHA-256 init failed");
}

Sha256Builder::~Sha256Builder() = default;
Sha256Builder::Sha256Builder(Sha256Builder&&) noexcept = default;
Sha256Builder& Sha256Builder::operator=(Sha256Builder&&) noexcept = default;

Sha256Builder& Sha256Builder::add(std::string_view data) {
  JISR_ASSERT(EVP_DigestUpdate(ctx_->ctx.get(), data.data(), data.size()) == 1, "SHA-256 update failed");
  return *this;
}

Sha256 Sha256Builder::finish() {
  Sha256 out;
  unsigned int size = 0;
  JISR_ASSERT(EVP_DigestFinal_ex(ctx_->ctx.get(), out.data(), &size) == 1 && size == out.size(),
              "SHA-256 final failed");
  JISR_ASSERT(EVP_DigestInit_ex2(ctx_->ctx.get(), nullptr, nullptr) == 1, "SHA-256 init failed");
  return out;
}

}  // namespace jisr
