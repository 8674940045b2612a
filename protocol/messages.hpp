// Domain form of every message of the wire protocol (protocol/jisr.capnp). Node code builds and
// reads these plain values; only protocol/codec.cpp ever touches a Cap'n Proto reader or
// builder, so no capnp type leaks past this layer (STYLE.md 21). Bytes fields (hashes,
// signatures, points, handles) are std::string holding raw bytes.
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "node/core/ids.hpp"

namespace jisr::protocol {

// The protocol version this build speaks; a session uses the highest version both sides speak.
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr uint16_t kMinProtocolVersion = 1;

struct Hello {
  OrgId org;
  uint16_t min_version = kMinProtocolVersion;
  uint16_t max_version = kProtocolVersion;
  std::vector<std::string> capabilities;
  bool operator==(const Hello&) const = default;
};

struct Ping {
  uint64_t nonce = 0;
  bool operator==(const Ping&) const = default;
};

struct Pong {
  uint64_t nonce = 0;
  bool operator==(const Pong&) const = default;
};

enum class ErrorCode : uint16_t {
  kUnknown = 0,
  kMalformedFrame,
  kFrameTooLarge,
  kVersionMismatch,
  kUnexpectedMessage,
  kDenied,
  kOverloaded,
  kInternal,
  kUnsupported,
};
std::string_view error_code_name(ErrorCode code);

struct ErrorMessage {
  ErrorCode code = ErrorCode::kUnknown;
  std::string text;      // one line, no personal data
  uint64_t answers = 0;  // request id this error answers; 0 = the session itself
  bool operator==(const ErrorMessage&) const = default;
};

struct WireRecord {
  RecordId id;
  uint64_t version = 0;
  // The fields in their canonical encoding (encode_fields, node/core/record.hpp: sorted, unique
  // names, non-empty values), as they travel: one string per record instead of two per field,
  // which a batch of thousands of records paid in allocations on both nodes. Read them in place
  // with decode_fields_view; a decoded message holds only encodings that passed its checks.
  std::string fields;
  bool operator==(const WireRecord&) const = default;
};

struct RecordBatch {
  std::string batch_id;
  AgreementId agreement;
  std::string policy_version;  // bytes: SHA-256 of the canonical policy
  std::string purpose;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::vector<WireRecord> records;
  bool operator==(const RecordBatch&) const = default;
};

struct BatchReceipt {
  std::string batch_hash;  // bytes
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  int64_t receiver_time_ms = 0;
  OrgId receiver;
  std::string signature;  // bytes: Ed25519
  std::string batch_id;
  uint32_t accepted = 0;
  uint32_t rejected = 0;
  bool operator==(const BatchReceipt&) const = default;
};

enum class WithdrawalReason : uint8_t { kDeleted = 0, kConsentWithdrawn, kAgreementEnded, kCorrected };

struct WithdrawnRecord {
  RecordId id;
  uint64_t version = 0;
  WithdrawalReason reason = WithdrawalReason::kDeleted;
  bool operator==(const WithdrawnRecord&) const = default;
};

struct Withdrawal {
  std::string withdrawal_id;
  AgreementId agreement;
  std::vector<WithdrawnRecord> records;
  bool operator==(const Withdrawal&) const = default;
};

struct WithdrawalReceipt {
  std::string withdrawal_id;
  std::string withdrawal_hash;  // bytes
  int64_t receiver_time_ms = 0;
  OrgId receiver;
  std::string signature;  // bytes
  uint32_t deleted = 0;
  bool operator==(const WithdrawalReceipt&) const = default;
};

enum class MatchMethod : uint8_t { kPsi = 0, kBloom };

struct MatchRequest {
  MatchMethod method = MatchMethod::kPsi;
  std::string job_id;
  AgreementId agreement;
  std::string key_kind;
  std::vector<std::string> points;  // bytes each
  std::vector<std::string> blooms;  // bytes each
  uint32_t count = 0;
  float threshold = 0;
  std::vector<std::string> block_keys;  // bloom: per filter, little-endian uint64 keys concatenated
  // Large jobs: upload part `part` of `parts` (0 means 1), or a request for answer page `page`.
  uint32_t part = 0;
  uint32_t parts = 0;
  uint32_t page = 0;
  bool operator==(const MatchRequest&) const = default;
};

struct MatchCandidate {
  uint32_t query_index = 0;
  std::string handle;  // bytes
  float score = 0;
  std::string evidence;  // bloom: field names and grades only
  bool operator==(const MatchCandidate&) const = default;
};

struct MatchResponse {
  MatchMethod method = MatchMethod::kPsi;
  std::string job_id;
  std::vector<std::string> points;
  std::vector<std::string> responder_points;
  std::vector<std::string> handles;
  std::vector<MatchCandidate> candidates;
  uint32_t count = 0;
  uint32_t quota_left = 0;
  uint32_t page = 0;   // this page of the answer
  uint32_t pages = 0;  // pages in the answer; 0 acknowledges an upload part
  bool operator==(const MatchResponse&) const = default;
};

struct RevealRequest {
  std::string job_id;
  AgreementId agreement;
  std::vector<std::string> handles;
  bool operator==(const RevealRequest&) const = default;
};

struct RevealResponse {
  std::string job_id;
  std::vector<WireRecord> records;
  uint32_t refused = 0;
  bool operator==(const RevealResponse&) const = default;
};

struct Checkpoint {
  uint64_t seq = 0;
  std::string hash;  // bytes
  int64_t time_ms = 0;
  std::string signature;  // bytes
  OrgId org;
  bool operator==(const Checkpoint&) const = default;
};

// The order matches MessageKind.
using Body = std::variant<Hello, Ping, Pong, ErrorMessage, RecordBatch, BatchReceipt, Withdrawal,
                          WithdrawalReceipt, MatchRequest, MatchResponse, RevealRequest,
                          RevealResponse, Checkpoint>;

enum class MessageKind : uint8_t {
  kHello = 0,
  kPing,
  kPong,
  kError,
  kRecordBatch,
  kBatchReceipt,
  kWithdrawal,
  kWithdrawalReceipt,
  kMatchRequest,
  kMatchResponse,
  kRevealRequest,
  kRevealResponse,
  kCheckpoint,
};
std::string_view message_kind_name(MessageKind kind);

struct Message {
  uint64_t request_id = 0;  // 0 = unsolicited; a response carries its request's id
  Body body;
  // Set on every answer (the session sets it): a checkpoint, say, is both a request and an
  // answer, so only this tells a receiver not to serve it.
  bool answer = false;

  MessageKind kind() const { return static_cast<MessageKind>(body.index()); }
  template <class T>
  const T* get() const { return std::get_if<T>(&body); }
  template <class T>
  T* get() { return std::get_if<T>(&body); }
  bool operator==(const Message&) const = default;
};

// The error frame a node sends before closing a session it refuses.
inline Message error_message(ErrorCode code, std::string text, uint64_t answers = 0) {
  return Message{0, ErrorMessage{code, std::move(text), answers}};
}

}  // namespace jisr::protocol
