// Verification of an audit chain: recomputes every entry hash and link, checks every
// checkpoint signature and head, compares the chain with the stored counter, and names each
// bad sequence number with what happened to it (altered, removed, inserted, reordered,
// truncated, checkpoint by a wrong key...). The same ChainVerifier checks the node's own store
// (verify_store) and an exported bundle (bundle.hpp), so a third party runs the same code.
//
// ChainVerifier streams: it keeps the checkpoints (few) and the previous entry only, so a log
// of millions of entries is verified in constant memory.
//
// Thread-safety: a ChainVerifier belongs to one thread; verify_store takes the caller's
// read transaction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/audit/audit_event.hpp"
#include "node/audit/audit_log.hpp"
#include "node/audit/checkpoint.hpp"
#include "node/core/result.hpp"
#include "node/store/env.hpp"

namespace jisr::audit {

enum class FindingKind {
  kAltered,         // an entry's content no longer matches its hash or its successor's link
  kRemoved,         // entries missing inside the chain
  kInserted,        // an entry that was never chained here (beyond the counter, wrong start)
  kReordered,       // an entry stored under another entry's seq
  kTruncated,       // the newest entries are gone (a checkpoint or the counter covers them)
  kBadCheckpoint,   // a checkpoint unreadable, for another org, badly signed, or not matching
  kWrongKey,        // a checkpoint signed by a key that is not the node's
  kCounter,         // the stored counter is missing or does not match the last entry
  kUnsigned,        // (bundles) entries not covered by a signed checkpoint
  kPeerCheckpoint,  // a stored peer head whose signature or key does not check
};
std::string_view finding_kind_name(FindingKind kind);  // "altered", "removed", ...

struct Finding {
  FindingKind kind;
  uint64_t seq = 0;     // the first sequence number concerned
  std::string message;  // one line: "seq 5: altered: ..."; ids and hashes only
};

struct VerifyReport {
  std::string org;
  PublicKey key{};             // the key checkpoints were checked against
  uint64_t entries = 0;        // entries read
  uint64_t first_seq = 0;      // seq of the first entry read (0 when none)
  uint64_t last_seq = 0;       // seq of the last entry read (0 when none)
  uint64_t checkpoints = 0;    // checkpoints read
  uint64_t valid_checkpoints = 0;
  std::optional<CheckpointHead> latest_valid_checkpoint;
  uint64_t unsigned_entries = 0;  // entries after the latest valid checkpoint
  uint64_t peer_checkpoints = 0;  // stored peer heads checked
  std::vector<Finding> findings;

  bool ok() const { return findings.empty(); }
};

class ChainVerifier {
 public:
  // org and key: whose chain it must be, and the only key its checkpoints may be signed with.
  ChainVerifier(std::string org, const PublicKey& key);

  // Call for every checkpoint before the first add_entry. key_seq is the seq it is stored
  // under; checkpoint is the decoded value or its decode error.
  void add_checkpoint(uint64_t key_seq, const Result<CheckpointHead>& checkpoint);
  // Call for every entry in ascending key_seq order. computed_hash: the hash recomputed from
  // the stored bytes when the caller has them (saves re-encoding); else it is recomputed here.
  void add_entry(uint64_t key_seq, const Result<AuditEntry>& entry,
                 const std::optional<Sha256>& computed_hash = std::nullopt);
  // Compare with the stored counter (store only; bundles have none). nullopt: counter absent.
  void check_counter(const std::optional<ChainHead>& counter);
  // Require every entry to be covered by the latest valid checkpoint (bundles: what is not
  // signed could have been appended by anyone).
  void require_signed_tail() { require_signed_tail_ = true; }
  // Findings about the end of the chain are added here.
  VerifyReport finish();

  // For peer heads (verify_store).
  void add_finding(FindingKind kind, uint64_t seq, std::string message);
  VerifyReport& report() { return report_; }

 private:
  std::map<uint64_t, CheckpointHead> checkpoints_;  // valid ones, by seq
  VerifyReport report_;
  uint64_t expected_next_ = 1;
  bool prev_known_ = true;
  Sha256 prev_hash_{};  // zeros: what seq 1 links to
  std::optional<uint64_t> last_key_;
  std::optional<Sha256> last_hash_;
  bool require_signed_tail_ = false;
  bool finished_ = false;
};

// Verifies the log of an open store: entries, our checkpoints (against `key`, the node's
// public key), the counter, and every stored peer head (its signature, and its key against
// known_peer_keys when the peer's key is known there).
Result<VerifyReport> verify_store(const store::TxnView& txn, const std::string& org,
                                  const PublicKey& key,
                                  const std::map<std::string, PublicKey>& known_peer_keys = {});

// "sha256 fingerprint" of a public key for messages: first 16 hex digits of the key.
std::string key_fingerprint(const PublicKey& key);

}  // namespace jisr::audit
