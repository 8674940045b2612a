// AuditLog: the node's append-only, SHA-256 hash-chained audit log in LMDB, its signed
// checkpoints and the checkpoint heads its peers sent (DESIGN.md "Audit", issue 7).
//
// Every layer that discloses, receives, refuses or changes something calls append() INSIDE the
// write transaction that does it, so the act and its entry commit together or not at all:
// every disclosure is logged, and nothing is logged that did not happen.
//
// Storage (node/store/schema.hpp):
//   kAuditLog          be64 seq -> entry (encoding in audit_event.hpp); seq starts at 1
//   kAuditCheckpoints  be64 seq -> our signed checkpoint of entry seq (checkpoint.hpp)
//   kPeerCheckpoints   peer org 0x00 be64 seq -> a head signed by that peer, as received
//   kMeta "audit_head" -> be64 last seq || 32-byte hash of that entry: the counter append()
//                         advances; verify compares the chain with it, so deleting the newest
//                         entries is caught even after the last checkpoint.
//
// What an insider with write access to LMDB can still do, and what catches it:
//   - change, delete, insert or reorder entries: the chain, the per-entry hash and the counter;
//   - rewrite the whole chain consistently and re-sign: needs the node's signing key;
//   - delete the newest entries, their checkpoints and lower the counter: undetectable from
//     this node alone. The heads our peers stored (store_peer_checkpoint on their side) are the
//     proof; comparing them with our chain is how it is caught. Send heads often.
//
// Thread-safety: AuditLog holds only references and options; it is as thread-safe as the
// transactions passed to it (one per thread; LMDB serialises writers).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "node/audit/audit_event.hpp"
#include "node/audit/checkpoint.hpp"
#include "node/core/result.hpp"
#include "node/core/yaml_source.hpp"
#include "node/store/env.hpp"

namespace jisr::audit {

struct AuditOptions {
  // Sign the head once this many entries were appended since the last checkpoint.
  uint64_t checkpoint_every_entries = 1000;
  // ... or once the oldest unsigned entry is this old (checked when the node calls
  // maybe_checkpoint, e.g. each minute and after each sync).
  std::chrono::minutes checkpoint_every{15};

  // Reads an `audit:` mapping (keys checkpoint_every_entries: 1..1000000,
  // checkpoint_every_minutes: 1..1440); unknown or duplicate keys and bad values are
  // positioned diagnostics in src. An absent (null) node gives the defaults.
  static std::optional<AuditOptions> parse(YamlSource& src, const YAML::Node& node);
};

// The last entry: what append() chains onto.
struct ChainHead {
  uint64_t seq = 0;  // 0 for an empty log
  Sha256 hash{};     // zeros for an empty log
};

// What store_peer_checkpoint did.
enum class PeerCheckpointOutcome { kStored, kAlreadyStored };

class AuditLog {
 public:
  // org: this node's organisation (named in every checkpoint).
  AuditLog(store::Env& env, std::string org, AuditOptions options = {});

  const std::string& org() const { return org_; }
  const AuditOptions& options() const { return options_; }

  // Appends an event inside the caller's transaction and returns its seq. Counts are put in
  // name order first. Fails with kInvalidInput for an invalid event (nothing written), and
  // with kInternal when the stored counter disagrees with the table (a tampered or damaged
  // log: refuse to chain onto it; `jisr audit verify` says what is wrong).
  Result<uint64_t> append(store::WriteTxn& txn, const AuditEvent& event, TimePoint now) const;
  // Appends several events, in order, exactly as that many append() calls would (the same
  // entries, the same chain), but reads and writes the counter once: a sync commit logs
  // thousands of disclosures in one transaction. Returns the seq of the last entry (the
  // current head when events is empty). Fails like append(); an invalid event fails the call
  // before anything is written.
  Result<uint64_t> append_all(store::WriteTxn& txn, std::span<const AuditEvent> events,
                              TimePoint now) const;
  // The same in a transaction of its own (for events that go with no other write).
  Result<uint64_t> append(const AuditEvent& event, TimePoint now) const;

  // The stored counter (seq 0 and zeros when nothing was appended).
  static Result<ChainHead> head(const store::TxnView& txn);

  // The entry at seq, or nullopt. Fails when the stored bytes do not decode.
  static Result<std::optional<AuditEntry>> get(const store::TxnView& txn, uint64_t seq);
  // Calls fn for each entry with seq >= from, in order, until fn returns false. Fails at the
  // first entry that does not decode (naming its seq).
  static Result<void> for_each(const store::TxnView& txn, uint64_t from,
                               const std::function<bool(const AuditEntry&)>& fn);

  // Signs the current head when a checkpoint is due (options), storing it. Returns the new
  // checkpoint, or nullopt when none was due.
  Result<std::optional<CheckpointHead>> maybe_checkpoint(store::WriteTxn& txn, TimePoint now,
                                                         const CheckpointSigner& signer) const;
  // Signs the current head now unless it is already the latest checkpoint; returns the latest
  // checkpoint. Fails (kNotFound) on an empty log: there is no head to sign.
  Result<CheckpointHead> checkpoint_now(store::WriteTxn& txn, TimePoint now,
                                        const CheckpointSigner& signer) const;
  // The head to send to a peer: our latest checkpoint, signing the current head first if it is
  // not yet (so peers always get the freshest proof). Same failures as checkpoint_now.
  Result<CheckpointHead> make_checkpoint_head(store::WriteTxn& txn, TimePoint now,
                                              const CheckpointSigner& signer) const;
  // Our latest checkpoint, or nullopt.
  static Result<std::optional<CheckpointHead>> latest_checkpoint(const store::TxnView& txn);
  // Calls fn(key seq, decoded checkpoint or its decode error) for each of our checkpoints.
  static Result<void> for_each_checkpoint(
      const store::TxnView& txn,
      const std::function<void(uint64_t, const Result<CheckpointHead>&)>& fn);

  // Stores a head that peer `peer` sent, after checking that it names that peer and carries a
  // valid signature by peer_key (the peer's Ed25519 key, known out of band or from its
  // certificate-authenticated hello). Refuses (kDenied) a head for another org, signed by
  // another key or with a bad signature; refuses (kConflict) a head whose seq we already hold
  // with a different hash (the peer's log forked: keep the first as evidence). Storing the
  // same head again is kAlreadyStored.
  static Result<PeerCheckpointOutcome> store_peer_checkpoint(store::WriteTxn& txn,
                                                             const std::string& peer,
                                                             const CheckpointHead& head,
                                                             const PublicKey& peer_key);
  // Calls fn(peer, key seq, decoded head or its error) for each stored peer head, by peer then
  // seq. An empty peer means every peer.
  static Result<void> for_each_peer_checkpoint(
      const store::TxnView& txn, const std::string& peer,
      const std::function<void(const std::string&, uint64_t, const Result<CheckpointHead>&)>& fn);
  // Key of a stored peer head.
  static std::string peer_checkpoint_key(const std::string& peer, uint64_t seq);

 private:
  store::Env& env_;
  std::string org_;
  AuditOptions options_;
};

// The kMeta key of the counter.
inline constexpr std::string_view kHeadMetaKey = "audit_head";

}  // namespace jisr::audit
