// Signed checkpoints of an audit chain: (org, seq, head hash, time) signed with the node's
// Ed25519 key. A node signs its own head periodically (AuditLog::maybe_checkpoint) and sends
// heads to its peers (AuditLog::make_checkpoint_head); each peer stores the heads it receives
// (AuditLog::store_peer_checkpoint), so each side holds proof of the other's log state. An
// insider who deletes the newest entries AND the local checkpoints cannot recall the copies the
// peers hold: that cross-anchoring is the defence against silent truncation.
//
// Signed message (domain-separated so a checkpoint signature can never be replayed as a
// receipt or anything else signed by the same key):
//   "jisr-audit-checkpoint-v1" 0x00 [org] [seq] [time unix ms] [32 bytes head]
// (strings varint-length-prefixed, integers varints, node/core/bytes.hpp).
// Stored encoding (store::Table::kAuditCheckpoints key be64 seq, and kPeerCheckpoints key
// org 0x00 be64 seq):
//   [u8 format=1] [org] [seq] [time unix ms] [32 head] [32 signer public key] [64 signature]
//
// Thread-safety: values and pure functions. CheckpointSigner holds a secret key; it is
// movable, not copyable, and wipes the key on destruction.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "node/core/clock.hpp"
#include "node/core/digest.hpp"
#include "node/core/result.hpp"

namespace jisr::audit {

using PublicKey = std::array<uint8_t, 32>;
using SignatureBytes = std::array<uint8_t, 64>;

// The node's Ed25519 key as bytes. node/app fills it from pki::load_signing_key (node/audit does
// not depend on node/pki).
class CheckpointSigner {
 public:
  // secret: libsodium's 64-byte Ed25519 secret key (seed || public key).
  explicit CheckpointSigner(const std::array<uint8_t, 64>& secret);
  ~CheckpointSigner();
  CheckpointSigner(CheckpointSigner&& other) noexcept;
  CheckpointSigner& operator=(CheckpointSigner&&) = delete;
  CheckpointSigner(const CheckpointSigner&) = delete;
  CheckpointSigner& operator=(const CheckpointSigner&) = delete;

  const PublicKey& public_key() const { return public_key_; }
  SignatureBytes sign(std::string_view message) const;

 private:
  std::array<uint8_t, 64> secret_{};
  PublicKey public_key_{};
};

// Ed25519 verification of a detached signature.
bool verify_signature(const PublicKey& key, std::string_view message, const SignatureBytes& sig);

struct CheckpointHead {
  std::string org;  // whose chain this is
  uint64_t seq = 0; // the last entry covered
  Sha256 head{};    // that entry's hash
  TimePoint time;   // when it was signed
  PublicKey key{};  // the key that signed it
  SignatureBytes signature{};

  auto operator<=>(const CheckpointHead&) const = default;
};

inline constexpr uint8_t kCheckpointFormat = 1;

// The bytes that are signed.
std::string checkpoint_message(std::string_view org, uint64_t seq, TimePoint time,
                               const Sha256& head);
// Builds and signs a checkpoint.
CheckpointHead sign_checkpoint(std::string org, uint64_t seq, const Sha256& head, TimePoint time,
                               const CheckpointSigner& signer);
// True when the signature is valid for the head's own key (does not say whose key it is).
bool signature_valid(const CheckpointHead& head);

std::string encode_checkpoint(const CheckpointHead& head);
// Bounded, canonical decode; kInvalidInput on anything else.
Result<CheckpointHead> decode_checkpoint(std::string_view bytes);

// Hex helpers for keys and hashes in JSON and files. parse_hex fails unless the text is exactly
// 2*N lowercase or uppercase hex digits.
template <size_t N>
Result<std::array<uint8_t, N>> parse_hex(std::string_view text);
extern template Result<std::array<uint8_t, 32>> parse_hex<32>(std::string_view);
extern template Result<std::array<uint8_t, 64>> parse_hex<64>(std::string_view);

}  // namespace jisr::audit
