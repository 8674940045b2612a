// Audit events and entries: what the tamper-evident log holds, its validation and its canonical
// binary encoding (the bytes that are hashed into the chain).
//
// An AuditEvent is what a caller reports ("record R-17 v2 left for iimp under agreement A, for
// purpose P, with these field NAMES"). The log turns it into an AuditEntry by adding the
// sequence number, the time, the previous entry's hash and its own hash. Events carry ids,
// hashes, field names and counts only, never field values or names of persons; validate()
// enforces what can be enforced mechanically (closed character sets, bounded sizes, ASCII-only
// detail text, so an Arabic or Latin name cannot be pasted into free text by accident).
//
// Encoding of an entry (value of store::Table::kAuditLog, key be64 seq), all integers LEB128
// varints, all strings varint-length-prefixed (node/core/bytes.hpp):
//   [u8 format=1] [seq] [time: unix ms] [u8 kind] [u8 actor kind] [actor id] [peer]
//   [record id] [record version] [batch hash] [job id] [agreement id] [policy hash] [purpose]
//   [n fields] n*[field name] [n counts] n*([count name] [value]) [detail]
//   (format 2 only:) [n records] n*([record id] [version])
//   [32 bytes: previous entry hash] [32 bytes: this entry's hash]
// An entry without records is format 1, byte for byte as before records existed; one with
// records is format 2 (n >= 1), so the older entries of a log keep their hashes.
// The entry hash is SHA-256 of everything before it, i.e. SHA-256(body || prev hash) where the
// body starts with the format byte. Seq 1 links to 32 zero bytes. Storing the entry's own hash
// lets verify name the exact entry whose bytes changed; the chain (next entry's prev hash) and
// the signed checkpoints catch an insider who recomputes that hash too. The encoding is
// canonical: decode() rejects anything that encode() would not produce byte for byte.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/core/clock.hpp"
#include "node/core/digest.hpp"
#include "node/core/result.hpp"

namespace jisr::audit {

// The kinds of audit entry. The numbers are stored: never renumber, only append.
// The names are stable too: they are what `--kind` takes and JSON shows.
enum class AuditKind : uint8_t {
  kRecordDisclosed = 1,     // one record version left for a peer (fields, agreement, purpose)
  kReceiptReceived = 2,     // a peer's signed receipt for a batch we sent
  kWithdrawalSent = 3,      // we told a peer to delete a record (consent withdrawn, deleted)
  kWithdrawalConfirmed = 4, // the peer confirmed it deleted the record
  kBatchReceived = 5,       // a batch from a peer was accepted (counts)
  kBatchRefused = 6,        // a batch from a peer was refused (reason in detail)
  kFieldsDropped = 7,       // fields of a received batch dropped by our accept rules (names)
  kMatchJob = 8,            // a match job ran (method in detail, counts)
  kQuotaRefused = 9,        // a peer's match query was refused by its quota
  kReveal = 10,             // identity fields revealed after a confirmed match
  kPolicyApplied = 11,      // an agreement version became active (policy hash)
  kPeerPinned = 12,         // a peer organisation's CA was pinned
  kPeerRemoved = 13,        // a peer organisation was removed
  kConnectionRefused = 14,  // refused connections, one summary per interval (counts by reason)
  kAdminCommand = 15,       // a local administrator ran a command that changes the node
  kRecordImported = 16,     // an import batch (counts only)
  kWithdrawalReceived = 17, // a peer withdrew a record it had sent us; we deleted our copy
  kRecordDeleted = 18,      // a local record was deleted (so its withdrawals are explained)
  kBatchDisclosed = 19,     // record versions that left for a peer in one batch, all with the
                            // same fields (records lists them; agreement, purpose, batch hash)
};

inline constexpr AuditKind kAllKinds[] = {
    AuditKind::kRecordDisclosed,    AuditKind::kReceiptReceived, AuditKind::kWithdrawalSent,
    AuditKind::kWithdrawalConfirmed, AuditKind::kBatchReceived,  AuditKind::kBatchRefused,
    AuditKind::kFieldsDropped,      AuditKind::kMatchJob,        AuditKind::kQuotaRefused,
    AuditKind::kReveal,             AuditKind::kPolicyApplied,   AuditKind::kPeerPinned,
    AuditKind::kPeerRemoved,        AuditKind::kConnectionRefused, AuditKind::kAdminCommand,
    AuditKind::kRecordImported,     AuditKind::kWithdrawalReceived, AuditKind::kRecordDeleted,
    AuditKind::kBatchDisclosed,
};

// "record_disclosed", "receipt_received", ...
std::string_view kind_name(AuditKind kind);
// The kind of a stable name, or nullopt.
std::optional<AuditKind> parse_kind(std::string_view name);
// The kind of a stored number, or nullopt for a number no kind has.
std::optional<AuditKind> kind_from_number(uint8_t number);

// Who caused the event. Stored numbers; never renumber.
enum class ActorKind : uint8_t {
  kNode = 1,        // the node itself (sync, scheduled jobs); id empty
  kLocalAdmin = 2,  // a local administrator at the command line; id = OS user name or empty
  kPeer = 3,        // a peer organisation; id = its org id (from its verified certificate)
};
std::string_view actor_kind_name(ActorKind kind);  // "node", "admin", "peer"
std::optional<ActorKind> parse_actor_kind(std::string_view name);

struct Actor {
  ActorKind kind = ActorKind::kNode;
  std::string id;
  auto operator<=>(const Actor&) const = default;
};

// A named count ("records", "dropped", "refused_handshake"...).
using Count = std::pair<std::string, uint64_t>;
// A record version: local record id and version (ids only, like record_id).
using RecordRef = std::pair<std::string, uint64_t>;

// What a caller reports. Empty strings and 0 mean "not applicable".
struct AuditEvent {
  AuditKind kind = AuditKind::kAdminCommand;
  Actor actor;
  std::string peer;            // the counterpart organisation (recipient or sender), org id
  std::string record_id;       // subject record (local id for ours, remote id for received)
  uint64_t record_version = 0; // its version; 0 when no record
  std::string batch_hash;      // sha256 hex of a batch
  std::string job_id;          // match job id
  std::string agreement_id;    // agreement under which it happened
  std::string policy_hash;     // sha256 hex of the active policy version
  std::string purpose;         // purpose named by the agreement
  std::vector<std::string> fields;  // field NAMES, never values
  std::vector<Count> counts;
  std::string detail;          // short, ASCII, non-personal (a reason, a command name)
  // Several subject records at once (batch_disclosed: every record version of the entry, in the
  // order sent). Empty for the other kinds, which name one record in record_id.
  std::vector<RecordRef> records;

  auto operator<=>(const AuditEvent&) const = default;
};

// Bounds (hostile input and accidental misuse both stop here).
inline constexpr size_t kMaxFields = 256;
inline constexpr size_t kMaxCounts = 32;
inline constexpr size_t kMaxDetailBytes = 200;
inline constexpr size_t kMaxEntryBytes = 64 * 1024;
inline constexpr size_t kMaxRecords = 4096;
// What a writer keeps the encoded records of one entry under (ids are at most 256 bytes, so a
// count bound alone would not keep an entry under kMaxEntryBytes): split larger lists.
inline constexpr size_t kMaxRecordBytes = 48 * 1024;

// Checks every field of an event against its character set and bound. Errors are
// Errc::kInvalidInput naming the offending member (never echoing its value).
Result<void> validate(const AuditEvent& event);

// Makes any text (an error message, a reason a peer sent) fit AuditEvent::detail: every byte
// that is not printable ASCII becomes '?', and it is cut to kMaxDetailBytes. For texts whose
// origin is not under our control, so a hostile peer cannot make the entry fail validation.
std::string safe_detail(std::string_view text);

// One entry of the log.
struct AuditEntry {
  uint64_t seq = 0;
  TimePoint time;
  AuditEvent event;
  Sha256 prev{};  // hash of entry seq-1 (zeros for seq 1)
  Sha256 hash{};  // SHA-256 of the encoding up to and including prev

  auto operator<=>(const AuditEntry&) const = default;
};

inline constexpr uint8_t kEntryFormat = 1;
inline constexpr uint8_t kEntryFormatWithRecords = 2;

// The body of an entry (everything before the hashes), canonical.
std::string encode_body(uint64_t seq, TimePoint time, const AuditEvent& event);
// SHA-256(body || prev).
Sha256 entry_hash(std::string_view body, const Sha256& prev);
// Builds the entry for seq/time/event after an entry whose hash is prev (computes its hash).
AuditEntry make_entry(uint64_t seq, TimePoint time, const AuditEvent& event, const Sha256& prev);
// The full stored encoding: body || prev || hash.
std::string encode_entry(const AuditEntry& entry);
// Decodes and validates a stored entry. Fails (kInvalidInput) for truncated, oversized,
// non-canonical or invalid bytes. Does NOT check the hash (verify does, to say which entry).
Result<AuditEntry> decode_entry(std::string_view bytes);
// The hash an entry should have, recomputed from its content.
Sha256 compute_hash(const AuditEntry& entry);

}  // namespace jisr::audit
