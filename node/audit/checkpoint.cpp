#include "node/audit/checkpoint.hpp"

#include <sodium.h>

#include <cstring>

#include "node/core/bytes.hpp"
#include "node/core/ids.hpp"

namespace jisr::audit {

CheckpointSigner::CheckpointSigner(const std::array<uint8_t, 64>& secret) : secret_(secret) {
  crypto_sign_ed25519_sk_to_pk(public_key_.data(), secret_.data());
}

CheckpointSigner::~CheckpointSigner() { sodium_memzero(secret_.data(), secret_.size()); }

CheckpointSigner::CheckpointSigner(CheckpointSigner&& other) noexcept
    : secret_(other.secret_), public_key_(other.public_key_) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

SignatureBytes CheckpointSigner::sign(std::string_view message) const {
  SignatureBytes sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), secret_.data());
  return sig;
}

bool verify_signature(const PublicKey& key, std::string_view message, const SignatureBytes& sig) {
  return crypto_sign_verify_detached(sig.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.data()) == 0;
}

std::string checkpoint_message(std::string_view org, uint64_t seq, TimePoint time,
                               const Sha256& head) {
  ByteWriter w;
  w.raw(std::string_view("jisr-audit-checkpoint-v1\0", 25));
  w.bytes(org);
  w.varint(seq);
  w.varint(static_cast<uint64_t>(to_unix_ms(time)));
  w.raw(std::string_view(reinterpret_cast<const char*>(head.data()), head.size()));
  return w.take();
}

CheckpointHead sign_checkpoint(std::string org, uint64_t seq, const Sha256& head, TimePoint time,
                               const CheckpointSigner& signer) {
  CheckpointHead cp{std::move(org), seq, head, time, signer.public_key(), {}};
  cp.signature = signer.sign(checkpoint_message(cp.org, cp.seq, cp.time, cp.head));
  return cp;
}

bool signature_valid(const CheckpointHead& head) {
  return verify_signature(head.key, checkpoint_message(head.org, head.seq, head.time, head.head),
                          head.signature);
}

std::string encode_checkpoint(const CheckpointHead& head) {
  ByteWriter w;
  w.u8(kCheckpointFormat);
  w.bytes(head.org);
  w.varint(head.seq);
  w.varint(static_cast<uint64_t>(to_unix_ms(head.time)));
  w.raw(std::string_view(reinterpret_cast<const char*>(head.head.data()), head.head.size()));
  w.raw(std::string_view(reinterpret_cast<const char*>(head.key.data()), head.key.size()));
  w.raw(std::string_view(reinterpret_cast<const char*>(head.signature.data()),
                         head.signature.size()));
  return w.take();
}

Result<CheckpointHead> decode_checkpoint(std::string_view bytes) {
  const auto corrupt = [](std::string_view what) {
    return make_error(Errc::kInvalidInput, "audit checkpoint: " + std::string(what), "audit");
  };
  if (bytes.size() > 512) return corrupt("too large");
  ByteReader r(bytes);
  auto format = r.u8();
  if (!format || *format != kCheckpointFormat) return corrupt("unknown format");
  auto org = r.bytes(32);
  auto seq = r.varint();
  auto time = r.varint();
  if (!org || !seq || !time) return corrupt("truncated");
  if (!is_valid_org_id(*org)) return corrupt("invalid org");
  if (*time > static_cast<uint64_t>(INT64_MAX)) return corrupt("time out of range");
  const std::string_view rest = r.rest();
  if (rest.size() != 32 + 32 + 64) return corrupt("wrong size");
  CheckpointHead cp;
  cp.org.assign(*org);
  cp.seq = *seq;
  cp.time = from_unix_ms(static_cast<int64_t>(*time));
  std::memcpy(cp.head.data(), rest.data(), 32);
  std::memcpy(cp.key.data(), rest.data() + 32, 32);
  std::memcpy(cp.signature.data(), rest.data() + 64, 64);
  if (encode_checkpoint(cp) != bytes) return corrupt("not canonical");
  return cp;
}

template <size_t N>
Result<std::array<uint8_t, N>> parse_hex(std::string_view text) {
  std::array<uint8_t, N> out{};
  size_t len = 0;
  const char* end = nullptr;
  if (text.size() != 2 * N ||
      sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end) != 0 ||
      len != N || end != text.data() + text.size()) {
    return make_error(Errc::kInvalidInput, "expected " + std::to_string(2 * N) + " hex digits");
  }
  return out;
}
template Result<std::array<uint8_t, 32>> parse_hex<32>(std::string_view);
template Result<std::array<uint8_t, 64>> parse_hex<64>(std::string_view);

}  // namespace jisr::audit
