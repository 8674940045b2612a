#include "node/exchange/inbox.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace jisr::exchange {

Inbox::Inbox(store::Env& env, const audit::AuditLog& audit, const Clock& clock,
             const RecordSchema& schema, OrgId self, pki::SigningKey key)
    : env_(env), audit_(audit), clock_(clock), schema_(schema), self_(std::move(self)), key_(key) {}

Error Inbox::refuse_batch(const OrgId& peer, const protocol::RecordBatch& batch,
                          const policies::CompiledAgreement* agreement, std::string_view digest, TimePoint now,
                          Errc code, std::string why) {
  audit::AuditEvent e;
  e.kind = audit::AuditKind::kBatchRefused;
  e.actor = {audit::ActorKind::kPeer, peer.str()};
  e.peer = peer.str();
  e.batch_hash = hex(digest);
  e.agreement_id = agreement ? agreement->id().str() : std::string();
  e.counts = {{"records", batch.records.size()}};
  e.detail = why;
  // The refusal stands even if logging it fails; the failure is reported with it.
  auto logged = audit_.append(e, now);
  if (!logged) why += " (and the audit entry failed: " + logged.error().what + ")";
  return make_error(code, why, peer.str());
}

std::optional<Error> Inbox::check_batch(const OrgId& peer, const protocol::RecordBatch& batch,
                                        const policies::CompiledAgreement* agreement, std::string_view digest,
                                        TimePoint now) {
  if (!agreement || !agreement->in_force(now)) {
    return refuse_batch(peer, batch, agreement, digest, now, Errc::kDenied, "no agreement in force with this peer");
  }
  if (agreement->accept_section().fields.empty() || agreement->retain_days() == 0) {
    return refuse_batch(peer, batch, agreement, digest, now, Errc::kDenied,
                        "our agreement accepts no records from this peer");
  }
  if (batch.records.size() > kMaxRecordsPerBatch) {
    return refuse_batch(peer, batch, agreement, digest, now, Errc::kInvalidInput, "batch larger than the limit");
  }
  // Purpose binding: we keep records only for a purpose both sides agreed to.
  if (!agreement->has_purpose(batch.purpose)) {
    return refuse_batch(peer, batch, agreement, digest, now, Errc::kDenied,
                        "the batch's purpose is not one of our agreement's purposes");
  }
  return std::nullopt;
}

Result<Inbox::BatchCounts> Inbox::store_batch(store::WriteTxn& txn, const BatchDelivery& in, std::string_view digest,
                                              TimePoint now) {
  const OrgId& peer = in.peer;
  const protocol::RecordBatch& batch = *in.batch;
  const policies::CompiledAgreement& agreement = *in.agreement;
  BatchCounts counts;
  std::set<std::string> dropped;
  // Per batch, not per record: the provenance every record of the batch shares.
  ReceivedRecord provenance;
  provenance.peer = peer;
  provenance.sender_agreement = batch.agreement.str();
  provenance.sender_policy_version =
      batch.policy_version.size() == 32 ? hex(batch.policy_version) : batch.policy_version;
  provenance.purpose = batch.purpose;
  provenance.received_at = now;
  provenance.retain_until = now + std::chrono::days(agreement.retain_days());
  provenance.accept_agreement = agreement.id().str();
  provenance.accept_policy_version = agreement.version();
  // Reused for every record: the fields are checked and stored as views into the batch, not
  // copied into a FieldMap per step (incoming, accepted, canonical) as before.
  std::vector<FieldView> incoming;
  std::vector<FieldView> checked;
  std::string encoded;
  std::string value;
  // In the records' transaction: a record never names a provenance that is not durable.
  JISR_TRY(const std::string provenance_id, save_provenance(txn, provenance));
  for (const auto& wire : batch.records) {
    if (!is_valid_record_id(wire.id.str()) || wire.version == 0) {
      ++counts.rejected;
      continue;
    }
    // Read in place: sorted, unique names, non-empty values (a decoded message was checked;
    // anything else is rejected like an invalid value).
    if (!decode_fields_view(wire.fields, incoming)) {
      ++counts.rejected;
      continue;
    }
    checked.clear();
    bool valid = true;
    bool as_sent = true;  // every field kept, each value already canonical
    policies::AcceptedFields accepted_fields(agreement);
    // An invalid value rejects the record, but the scan goes on so that every field our
    // accept rules drop is still named in the log.
    for (const auto& [name, raw] : incoming) {
      if (!accepted_fields.accepts(name)) {
        dropped.emplace(name);
        as_sent = false;
        continue;
      }
      const FieldSpec* spec = schema_.find(name);
      auto canonical = spec ? RecordSchema::canonical_view(*spec, name, raw)
                            : Result<std::string_view>(make_error(Errc::kInvalidInput, "unknown field"));
      if (!canonical) {
        valid = false;
        continue;
      }
      if (canonical.value().data() != raw.data() || canonical.value().size() != raw.size()) as_sent = false;
      checked.emplace_back(name, canonical.value());
    }
    if (!valid) {
      ++counts.rejected;
      continue;
    }
    const std::string key = peer_key(peer, wire.id.str());
    // Kept exactly as sent: the sent encoding is already the canonical one of what is kept.
    if (!as_sent) {
      encoded.clear();
      encode_sorted_fields(checked, encoded);
    }
    provenance.id = wire.id;
    provenance.version = wire.version;
    encode_received(provenance, provenance_id,
                    as_sent ? std::string_view(wire.fields) : std::string_view(encoded), value);
    // Insert unless held: one descent for a record new to us (the usual case; an append when
    // ids arrive in order) instead of a get and then a put.
    JISR_TRY(auto existing, txn.insert(store::Table::kReceived, key, value));
    if (existing) {
      JISR_TRY(const uint64_t held_version, received_version(*existing));
      if (held_version >= wire.version) {
        ++counts.already;
        ++counts.accepted;
        continue;
      }
      JISR_TRY(txn.put(store::Table::kReceived, key, value));
    }
    ++counts.accepted;
  }
  audit::AuditEvent e;
  e.kind = audit::AuditKind::kBatchReceived;
  e.actor = {audit::ActorKind::kPeer, peer.str()};
  e.peer = peer.str();
  e.batch_hash = hex(digest);
  e.agreement_id = agreement.id().str();
  e.policy_hash = agreement.version();
  e.purpose = batch.purpose;  // one of our agreement's purposes (checked before)
  e.counts = {{"accepted", counts.accepted}, {"rejected", counts.rejected}, {"already_held", counts.already}};
  JISR_TRY(audit_.append(txn, e, now));
  if (!dropped.empty()) {
    audit::AuditEvent d;
    d.kind = audit::AuditKind::kFieldsDropped;
    d.actor = {audit::ActorKind::kPeer, peer.str()};
    d.peer = peer.str();
    d.batch_hash = hex(digest);
    d.agreement_id = agreement.id().str();
    d.policy_hash = agreement.version();
    for (const auto& name : dropped) {
      if (d.fields.size() < audit::kMaxFields && name.size() <= 64) d.fields.push_back(name);
    }
    d.detail = "fields sent that our accept rules do not allow";
    JISR_TRY(audit_.append(txn, d, now));
  }
  return counts;
}

Result<protocol::BatchReceipt> Inbox::receive_batch(const OrgId& peer, const protocol::RecordBatch& batch,
                                                    const policies::CompiledAgreement* agreement) {
  const BatchDelivery one{peer, &batch, agreement};
  return std::move(receive_batches(std::span<const BatchDelivery>(&one, 1)).front());
}

std::vector<Result<protocol::BatchReceipt>> Inbox::receive_batches(std::span<const BatchDelivery> batches) {
  const TimePoint now = clock_.now();
  std::vector<Result<protocol::BatchReceipt>> out;
  out.reserve(batches.size());
  std::vector<std::string> digests;
  digests.reserve(batches.size());
  std::vector<size_t> admitted;
  for (size_t i = 0; i < batches.size(); ++i) {
    const auto& in = batches[i];
    digests.push_back(batch_digest(*in.batch));
    if (auto refused = check_batch(in.peer, *in.batch, in.agreement, digests.back(), now)) {
      out.emplace_back(std::move(*refused));
    } else {
      out.emplace_back(make_error(Errc::kInternal, "not stored"));  // replaced below
      admitted.push_back(i);
    }
  }
  if (admitted.empty()) return out;
  std::vector<BatchCounts> counts(batches.size());
  // One durable commit for every admitted batch: each receipt promises only what it commits.
  auto stored = env_.write([&](store::WriteTxn& txn) -> Result<void> {
    for (const size_t i : admitted) {
      JISR_TRY(counts[i], store_batch(txn, batches[i], digests[i], now));
    }
    return ok();
  });
  for (const size_t i : admitted) {
    if (!stored) {
      out[i] = stored.error();
      continue;
    }
    const auto& batch = *batches[i].batch;
    protocol::BatchReceipt receipt;
    receipt.batch_hash = digests[i];
    receipt.batch_id = batch.batch_id;
    receipt.first_seq = batch.first_seq;
    receipt.last_seq = batch.last_seq;
    receipt.receiver_time_ms = to_unix_ms(now);
    receipt.receiver = self_;
    receipt.accepted = counts[i].accepted;
    receipt.rejected = counts[i].rejected;
    const auto sig = pki::sign(key_, receipt_signing_bytes(receipt, batches[i].peer));
    receipt.signature.assign(reinterpret_cast<const char*>(sig.data()), sig.size());
    out[i] = std::move(receipt);
  }
  return out;
}

Result<protocol::WithdrawalReceipt> Inbox::receive_withdrawal(const OrgId& peer,
                                                              const protocol::Withdrawal& withdrawal) {
  const TimePoint now = clock_.now();
  if (withdrawal.records.size() > kMaxRecordsPerBatch) {
    return make_error(Errc::kInvalidInput, "withdrawal larger than the limit", peer.str());
  }
  const std::string digest = withdrawal_digest(withdrawal);
  uint32_t deleted = 0;
  // Withdrawals are honoured whatever our agreement says: deleting is always allowed.
  JISR_TRY(env_.write([&](store::WriteTxn& txn) -> Result<void> {
    deleted = 0;
    for (const auto& w : withdrawal.records) {
      const std::string key = peer_key(peer, w.id.str());
      auto existing = txn.get(store::Table::kReceived, key);
      if (!existing) continue;
      JISR_TRY(const uint64_t held_version, received_version(*existing));
      if (held_version > w.version) continue;  // a newer version arrived after this withdrawal
      JISR_TRY(txn.del(store::Table::kReceived, key));
      ++deleted;
      audit::AuditEvent e;
      e.kind = audit::AuditKind::kWithdrawalReceived;
      e.actor = {audit::ActorKind::kPeer, peer.str()};
      e.peer = peer.str();
      e.record_id = w.id.str();
      e.record_version = w.version;
      e.agreement_id = withdrawal.agreement.str().size() <= 64 ? withdrawal.agreement.str() : "";
      e.batch_hash = hex(digest);
      e.detail = w.reason == protocol::WithdrawalReason::kDeleted ? "deleted by the sender"
                                                                   : "no longer shared by the sender";
      JISR_TRY(audit_.append(txn, e, now));
    }
    return ok();
  }));
  protocol::WithdrawalReceipt receipt;
  receipt.withdrawal_id = withdrawal.withdrawal_id;
  receipt.withdrawal_hash = digest;
  receipt.receiver_time_ms = to_unix_ms(now);
  receipt.receiver = self_;
  receipt.deleted = deleted;
  const auto sig = pki::sign(key_, withdrawal_receipt_signing_bytes(receipt, peer));
  receipt.signature.assign(reinterpret_cast<const char*>(sig.data()), sig.size());
  return receipt;
}

Result<uint64_t> Inbox::purge_expired() {
  const TimePoint now = clock_.now();
  std::vector<std::string> expired;
  {
    JISR_TRY(auto txn, env_.read());
    JISR_TRY(for_each_received(txn, {}, [&](const ReceivedRecord& r) {
      if (r.retain_until < now) expired.push_back(peer_key(r.peer, r.id.str()));
      return true;
    }));
  }
  if (expired.empty()) return uint64_t{0};
  JISR_TRY(env_.write([&](store::WriteTxn& txn) -> Result<void> {
    for (const auto& k : expired) {
      JISR_TRY(txn.del(store::Table::kReceived, k));
    }
    audit::AuditEvent e;
    e.kind = audit::AuditKind::kAdminCommand;
    e.actor = {audit::ActorKind::kNode, {}};
    e.counts = {{"records", expired.size()}};
    e.detail = "retention purge of received records";
    JISR_TRY(audit_.append(txn, e, now));
    return ok();
  }));
  return uint64_t{expired.size()};
}

}  // namespace jisr::exchange
