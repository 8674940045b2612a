// Outbox: the sending half of policy-filtered sharing (issue 5). For one peer it walks the
// record change sequence after the last acknowledged change, evaluates each record version
// against the agreement in force AT SEND TIME, and plans what to send: a withdrawal for every
// record the peer holds that it may no longer hold (deleted, consent withdrawn, rule no longer
// matches), then a batch of projections (allowed fields only, transforms applied) of records
// the peer does not yet hold in exactly that form. Nothing is recorded as sent until the peer's
// signed receipt is verified; commit() then advances the outbox, remembers what the peer holds
// and logs every disclosed record version (batch_disclosed entries, one per set of fields
// sent, each listing its record ids and versions), all in one transaction. A crash anywhere before
// commit re-sends the same versions, which the receiver ignores (idempotent by peer, id,
// version), so nothing is lost and nothing is duplicated.
//
// Before a step's messages leave, prepare() stores one durable in-flight marker naming its
// records (sync_records.hpp); commit() deletes it. While a marker exists its records count as
// possibly held by the peer, so a later change of one of them is withdrawn or re-sent even if
// the step never commits. Markers left by a step that died (crash, lost connection) are folded
// into the records' own in-doubt flags by recover_interrupted() before the next sync plans.
//
// When the agreement's version changes, the outbox re-evaluates every record from the start:
// records it no longer allows are withdrawn, records whose projection changed are re-sent,
// the rest (same projection) are skipped.
//
// Thread-safety: one Outbox per node. plan() only reads, in a read transaction of its own, and
// may run on another thread beside any member (SyncService plans on its planner thread while
// the io thread commits); every other member is called from one thread (the io thread). Each
// call opens short transactions of its own.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include "node/audit/audit_log.hpp"
#include "node/core/clock.hpp"
#include "node/core/node_config.hpp"
#include "node/exchange/sync_records.hpp"
#include "node/pki/pki.hpp"
#include "node/store/record_store.hpp"
#include "policies/agreement.hpp"
#include "protocol/messages.hpp"

namespace jisr::exchange {

struct Disclosure {
  RecordId id;
  uint64_t version = 0;
  Sha256 digest{};         // of the projection (SentState keeps it in hex)
  uint32_t field_set = 0;  // SyncPlan::field_sets: the names of the fields that leave
};

struct SyncPlan {
  OrgId peer;
  uint64_t from_seq = 0;  // changes after this...
  uint64_t to_seq = 0;    // ...up to and including this are covered
  std::string agreement_id;
  std::string policy_version;  // hex
  std::string purpose;
  std::string step_id;  // names the step's messages and its in-flight marker
  std::optional<protocol::Withdrawal> withdrawal;  // goes first
  std::optional<protocol::RecordBatch> batch;
  std::string batch_hash;  // raw SHA-256 of the batch (batch_digest), what its receipt must name
  std::vector<Disclosure> disclosures;
  // The distinct sets of field names the disclosures send, each sorted (shared, not repeated
  // per record).
  std::vector<std::vector<std::string>> field_sets;
  bool advances() const { return to_seq > from_seq; }
};

// The records of the steps one sync has planned and not yet committed, which the peer may
// hold whatever their SentState says. The plans of a sync pass it along (Outbox::plan adds
// each step it plans, and forgets the steps the outbox state shows committed): the next step
// can be planned as soon as the last one is, with no need to wait until the commit that
// stores the last one's marker, as a plan that reads the markers must. A plan given one reads
// no markers: start it when none is left (after recover_interrupted(), as a sync does).
// Thread-safety: none; the plans of one sync use it one after another.
class UncommittedSteps {
 public:
  // Forgets the steps up to acked_seq (committed: their SentState now says what the peer holds).
  void forget_committed(uint64_t acked_seq);
  void add(const SyncPlan& plan);
  bool contains(std::string_view record_id) const;

 private:
  // Looked up for every change a plan examines and filled with thousands of ids per step: a
  // step keeps its ids in one string and their hashes; a record is looked for by its hash and
  // confirmed in the ids only when the hash is there.
  struct Step {
    std::string ids;                // "\0id\0id\0...\0": each id between two NULs
    std::vector<uint64_t> hashes;   // of each id
  };
  static uint64_t hash(std::string_view id) { return boost::hash<std::string_view>()(id); }
  std::map<uint64_t, Step> steps_;  // by to_seq
  // How many ids of uncommitted steps have each hash.
  boost::unordered_flat_map<uint64_t, uint32_t> count_;
};

struct PeerPublicKey {
  std::array<uint8_t, 32> bytes{};
};

class Outbox {
 public:
  Outbox(store::Env& env, const audit::AuditLog& audit, const Clock& clock, NodeLimits limits);

  // Plans the next step for the agreement's peer (empty plan: nothing pending). It starts
  // after the last acknowledged change, or after `after` (the last change of a step already
  // planned but not yet committed: a sender keeps several steps in flight). The plans of one
  // sync pass the same `uncommitted`, to which each adds itself; a plan without it counts the
  // records of the in-flight markers instead (every step prepared and not committed).
  Result<SyncPlan> plan(const policies::CompiledAgreement& agreement,
                        std::optional<uint64_t> after = std::nullopt,
                        UncommittedSteps* uncommitted = nullptr);

  // Stores the plan's in-flight marker, durably, BEFORE anything is sent: if the node dies
  // after the peer acted but before commit(), the next plan re-sends the projection or the
  // withdrawal instead of trusting a stale idea of what the peer holds.
  Result<void> prepare(const SyncPlan& plan);

  // Turns the in-flight markers of the peer's steps that never committed into in-doubt flags
  // on their records (SentState::in_doubt, cleared when the record is next confirmed) and
  // deletes the markers. Call only while none of the peer's steps is in flight, i.e. before
  // the first plan of a sync. Cheap when there is nothing to fold (one read).
  Result<void> recover_interrupted(const OrgId& peer);

  // Checks a receipt against the plan: the digest and sequence range match what was sent, the
  // receiver is the peer, and the signature verifies with the peer's key.
  static Result<void> verify_batch_receipt(const SyncPlan& plan, const protocol::BatchReceipt& r,
                                           const OrgId& self, const PeerPublicKey& peer_key);
  static Result<void> verify_withdrawal_receipt(const SyncPlan& plan,
                                                const protocol::WithdrawalReceipt& r,
                                                const OrgId& self, const PeerPublicKey& peer_key);

  // Records a planned step as done (receipts already verified; a plan with messages needs its
  // receipts). Advances the outbox, remembers what the peer holds, writes the audit entries.
  // Steps commit in plan order (kConflict otherwise). Deletes the plan's in-flight marker. With
  // then_prepare, the same transaction also does prepare(*then_prepare): one durable write per
  // step instead of two.
  Result<void> commit(const SyncPlan& plan, const std::optional<protocol::BatchReceipt>& batch_receipt,
                      const std::optional<protocol::WithdrawalReceipt>& withdrawal_receipt,
                      const SyncPlan* then_prepare = nullptr);

  // The outbox state of a peer (what status shows).
  Result<OutboxState> state(const OrgId& peer);

  // Changes not yet acknowledged by the peer under the current agreement version (all of them
  // when the version changed since the last send).
  Result<uint64_t> pending(const OrgId& peer, const std::string& policy_version);

 private:
  static Result<void> mark_in_flight(store::WriteTxn& txn, const SyncPlan& plan);

  store::Env& env_;
  store::RecordStore records_;
  const audit::AuditLog& audit_;
  const Clock& clock_;
  NodeLimits limits_;
};

}  // namespace jisr::exchange
