// The data of policy-filtered record sharing (issue 5), independent of the transport: what a
// sender has sent to each peer, what a receiver holds from each peer, and the canonical bytes
// that batch hashes and receipt signatures are computed over. Both nodes compute the same
// digests from the same messages, so a receipt proves exactly what was received.
//
// Storage (node/store/schema.hpp):
//   kOutboxState  peer                 -> OutboxState
//   kSentState    peer 0x00 record id  -> SentState (what the peer holds of that record)
//   kReceived     peer 0x00 remote id  -> ReceivedRecord (fields, times, provenance id)
//   kProvenance   provenance id        -> Provenance, shared by the records of a batch
//   kReceipts     peer 0x00 be64 seq   -> the peer's signed receipt of the batch ending at seq
//   kInFlight     peer 0x00 step id    -> ids of the records of a step not yet committed
// Thread-safety: pure functions and value types; storage through the caller's transactions.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/core/clock.hpp"
#include "node/core/digest.hpp"
#include "node/core/ids.hpp"
#include "node/core/record.hpp"
#include "node/core/result.hpp"
#include "node/store/env.hpp"
#include "protocol/messages.hpp"

namespace jisr::exchange {

// Per peer: how far the outbox has been acknowledged and under which policy version.
struct OutboxState {
  uint64_t acked_seq = 0;       // every change up to here is acknowledged (or needed no send)
  std::string policy_version;   // hex; when the agreement changes, the outbox re-evaluates all
  int64_t last_receipt_ms = 0;  // receiver time of the last receipt
  uint64_t receipts = 0;        // receipts received so far
  // What is acknowledged under an agreement version: nothing when the version changed since.
  uint64_t acked_under(std::string_view version) const { return policy_version == version ? acked_seq : 0; }
};

// Per (peer, record): what the peer was last given.
struct SentState {
  uint64_t version = 0;  // local record version last sent (or withdrawn)
  std::string digest;    // hex SHA-256 of the projection the peer confirmed; empty: none
  // A send or a withdrawal of this record was in flight and not confirmed (the node may have
  // crashed after the peer acted on it): the peer may or may not hold something, so the next
  // step re-sends the projection or re-sends the withdrawal, whichever now applies.
  bool in_doubt = false;
  bool shared() const { return !digest.empty(); }
  bool maybe_held() const { return shared() || in_doubt; }
};

// A record held from a peer, with provenance.
struct ReceivedRecord {
  OrgId peer;
  RecordId id;                        // the peer's id of the record
  uint64_t version = 0;               // the peer's version
  FieldMap fields;                    // only what our accept rules keep
  std::string sender_agreement;       // the agreement the sender named
  std::string sender_policy_version;  // hex, as the sender stated it
  std::string purpose;
  TimePoint received_at;
  TimePoint retain_until;             // purged after this
  std::string accept_agreement;       // our agreement that accepted it
  std::string accept_policy_version;  // hex
};

// What the records received in a batch share: stored once (kProvenance) and named by each
// record, which cuts a stored record to about its fields (the bytes a receiver commits were
// twice the record's before). Policy versions are hex text in memory, as in ReceivedRecord.
struct Provenance {
  std::string sender_agreement;
  std::string sender_policy_version;
  std::string purpose;
  std::string accept_agreement;
  std::string accept_policy_version;
  bool operator==(const Provenance&) const = default;
};

// The provenance ids a read of received records meets, each resolved once: a scan of thousands
// of records names a handful of provenances. Belongs to one transaction and must not outlive it.
class ProvenanceLookup {
 public:
  explicit ProvenanceLookup(const store::TxnView& txn) : txn_(txn) {}
  // The provenance of an id (8 bytes); an error when it is missing or corrupt (the store lost
  // what a record names). The pointer stays valid as long as this lookup.
  Result<const Provenance*> find(std::string_view id);

 private:
  const store::TxnView& txn_;
  std::vector<std::pair<std::string, std::unique_ptr<Provenance>>> known_;
};

std::string peer_key(const OrgId& peer, std::string_view id);

Result<OutboxState> load_outbox_state(const store::TxnView& txn, const OrgId& peer);
Result<void> save_outbox_state(store::WriteTxn& txn, const OrgId& peer, const OutboxState& state);
Result<std::optional<SentState>> load_sent_state(const store::TxnView& txn, const OrgId& peer,
                                                 const RecordId& id);
// The same through a lookup of the sent-state table (kept across many ids asked in order).
Result<std::optional<SentState>> load_sent_state(store::TableLookup& sent, const OrgId& peer,
                                                 const RecordId& id);
Result<void> save_sent_state(store::WriteTxn& txn, const OrgId& peer, const RecordId& id,
                             const SentState& state);
// save_sent_state() for the many records of one peer that a commit writes, through one key
// and one value buffer instead of three fresh strings per record. Same entries.
class SentStateWriter {
 public:
  SentStateWriter(store::WriteTxn& txn, const OrgId& peer);
  // The peer confirmed it holds this version, whose projection has this digest.
  Result<void> save_held(const RecordId& id, uint64_t version, const Sha256& digest);
  Result<void> save(const RecordId& id, uint64_t version, std::string_view digest_hex, bool in_doubt);

 private:
  store::WriteTxn& txn_;
  std::string key_;    // peer 0x00, then the record id
  size_t prefix_ = 0;  // bytes of key_ before the record id
  std::string value_;
};

// A step in flight: written durably before any of its messages leaves and deleted by the
// commit of its receipts. While it exists the peer may hold (or may have deleted) any of its
// records whatever their SentState says, so a step that dies with the node still counts. One
// put per step instead of an in-doubt flag written on every record of it.
Result<void> save_in_flight(store::WriteTxn& txn, const OrgId& peer, std::string_view step_id,
                            const std::vector<std::string_view>& record_ids);
Result<void> delete_in_flight(store::WriteTxn& txn, const OrgId& peer, std::string_view step_id);
// Calls fn(step id, record ids) for each step of the peer in flight. The views point into the
// transaction's pages: valid until it ends (a write transaction: until its next write).
Result<void> for_each_in_flight(
    const store::TxnView& txn, const OrgId& peer,
    const std::function<void(std::string_view, const std::vector<std::string_view>&)>& fn);

// Stores r's provenance unless it is stored already and returns its id (8 bytes), for
// encode_received() of every record that shares it. Same provenance, same id.
Result<std::string> save_provenance(store::WriteTxn& txn, const ReceivedRecord& r);
// The stored value of r (version, times) naming the provenance id that save_provenance()
// returned in the same transaction, with the fields given already encoded (encode_fields /
// encode_sorted_fields) instead of r.fields, which is ignored: a receiver stores thousands per
// batch.
void encode_received(const ReceivedRecord& r, std::string_view provenance_id,
                     std::string_view encoded_fields, std::string& out);
// Stores r (its provenance, then the record; replaces what is held under its key).
Result<void> put_received(store::WriteTxn& txn, const ReceivedRecord& r);
// The record a stored value holds, with its provenance resolved through `provenance`. Reads
// both value formats (schema.hpp): the same record decodes the same from either.
Result<ReceivedRecord> decode_received(ProvenanceLookup& provenance, std::string_view key,
                                       std::string_view value);
// The peer's version of the record a stored value holds, without decoding the rest.
Result<uint64_t> received_version(std::string_view value);
// Calls fn for each held record (of one peer, or of all when peer is empty) in key order.
Result<void> for_each_received(const store::TxnView& txn, const std::string& peer,
                               const std::function<bool(const ReceivedRecord&)>& fn);

// SHA-256 (raw bytes) over the canonical encoding of a batch / a withdrawal.
std::string batch_digest(const protocol::RecordBatch& batch);
std::string withdrawal_digest(const protocol::Withdrawal& withdrawal);
// The bytes a receipt's signature covers (everything in it but the signature, plus the org of
// the sender it was given to, so a receipt cannot be replayed to another peer).
std::string receipt_signing_bytes(const protocol::BatchReceipt& receipt, const OrgId& sender);
std::string withdrawal_receipt_signing_bytes(const protocol::WithdrawalReceipt& receipt,
                                             const OrgId& sender);

std::string hex(std::string_view bytes);
// Raw bytes of a lowercase or uppercase hex string; empty when it is not hex.
std::string unhex(std::string_view text);

}  // namespace jisr::exchange
