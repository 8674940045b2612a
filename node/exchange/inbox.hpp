// Inbox: the receiving half of policy-filtered sharing (issue 5). A batch from a peer is kept
// only under this node's own agreement with that peer: with no agreement in force (or one that
// accepts nothing) the whole batch is refused; otherwise each record keeps only the fields our
// `accept` list names (the rest are dropped and the drop is logged: the sender misbehaved),
// values are checked against our schema, and the record is stored apart from local records
// with its provenance and retention deadline. Idempotent by (peer, record id, version): a
// re-sent batch changes nothing. The receipt is signed with this node's Ed25519 key after the
// batch is durable, so a receipt always means "stored".
//
// Thread-safety: used from one thread (the node's io thread); short transactions of its own.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "node/audit/audit_log.hpp"
#include "node/core/clock.hpp"
#include "node/core/record_schema.hpp"
#include "node/exchange/sync_records.hpp"
#include "node/pki/pki.hpp"
#include "policies/agreement.hpp"
#include "protocol/messages.hpp"

namespace jisr::exchange {

inline constexpr size_t kMaxRecordsPerBatch = 100'000;

class Inbox {
 public:
  Inbox(store::Env& env, const audit::AuditLog& audit, const Clock& clock, const RecordSchema& schema,
        OrgId self, pki::SigningKey key);

  // Stores what our agreement accepts of a batch from peer and returns the signed receipt.
  // Errors (sent back as an `error` frame): kDenied when no agreement in force accepts records
  // from peer; kInvalidInput for a batch over the limits.
  Result<protocol::BatchReceipt> receive_batch(const OrgId& peer, const protocol::RecordBatch& batch,
                                               const policies::CompiledAgreement* agreement);
  // A batch as it arrived: from whom, and the agreement in force with them then.
  struct BatchDelivery {
    OrgId peer;
    const protocol::RecordBatch* batch = nullptr;
    const policies::CompiledAgreement* agreement = nullptr;
  };
  // receive_batch() for batches that arrived one after another, in order, with one durable
  // commit for all of them (a refused batch is refused alone): a receiver that falls behind
  // catches up, the commit's fsyncs being most of what storing a batch costs. One result each.
  std::vector<Result<protocol::BatchReceipt>> receive_batches(std::span<const BatchDelivery> batches);
  // Deletes the withdrawn records held from peer and returns the signed confirmation.
  Result<protocol::WithdrawalReceipt> receive_withdrawal(const OrgId& peer,
                                                         const protocol::Withdrawal& withdrawal);
  // Deletes held records past their retention deadline; returns how many.
  Result<uint64_t> purge_expired();

 private:
  struct BatchCounts {
    uint32_t accepted = 0;
    uint32_t rejected = 0;
    uint32_t already = 0;
  };
  // The refusal of a whole batch, logged in a transaction of its own.
  Error refuse_batch(const OrgId& peer, const protocol::RecordBatch& batch,
                     const policies::CompiledAgreement* agreement, std::string_view digest, TimePoint now,
                     Errc code, std::string why);
  // The checks of a batch as a whole before any record: its refusal, or nullopt.
  std::optional<Error> check_batch(const OrgId& peer, const protocol::RecordBatch& batch,
                                   const policies::CompiledAgreement* agreement, std::string_view digest,
                                   TimePoint now);
  // Stores what the agreement accepts of a checked batch, with its audit entries, in txn.
  Result<BatchCounts> store_batch(store::WriteTxn& txn, const BatchDelivery& in, std::string_view digest,
                                  TimePoint now);

  store::Env& env_;
  const audit::AuditLog& audit_;
  const Clock& clock_;
  const RecordSchema& schema_;
  OrgId self_;
  pki::SigningKey key_;
};

}  // namespace jisr::exchange
