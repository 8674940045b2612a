#include "node/exchange/outbox.hpp"

#include <boost/unordered/unordered_flat_set.hpp>

#include <fmt/format.h>

#include <algorithm>

#include "node/core/bytes.hpp"
#include "node/core/digest.hpp"

namespace jisr::exchange {
namespace {

// Records examined per plan before it is sent even if small (bounds the time a plan holds a
// read transaction when most changes need no sending).
constexpr size_t kExamineFactor = 20;

// The projection digest is SHA-256 of bytes(agreement id) || bytes(purpose) || the canonical
// encoding of what leaves (encode_fields); SentState keeps it in hex. Compared without
// building the hex string: this runs for every change of the outbox.
bool hex_equals(std::string_view hex_digest, const Sha256& digest) {
  const Sha256Hex hex = to_hex_chars(digest);
  return hex_digest == std::string_view(hex.data(), hex.size());
}

// The index of the plan's field-name set equal to these names, added when new. A plan has a
// handful of distinct sets (one per rule and pattern of empty fields), not one per record.
uint32_t field_set_of(SyncPlan& plan, const std::vector<FieldView>& fields) {
  const auto same = [&](const std::vector<std::string>& set) {
    return set.size() == fields.size() &&
           std::equal(set.begin(), set.end(), fields.begin(),
                      [](const std::string& a, const FieldView& b) { return a == b.first; });
  };
  for (size_t i = plan.field_sets.size(); i-- > 0;) {
    if (same(plan.field_sets[i])) return static_cast<uint32_t>(i);
  }
  auto& set = plan.field_sets.emplace_back();
  for (const auto& f : fields) set.emplace_back(f.first);
  return static_cast<uint32_t>(plan.field_sets.size() - 1);
}

Result<void> check_signature(std::string_view message, const std::string& signature,
                             const PeerPublicKey& key, std::string_view what) {
  if (signature.size() != 64) {
    return make_error(Errc::kDenied, fmt::format("{} signature has the wrong size", what));
  }
  pki::Signature sig;
  std::copy(signature.begin(), signature.end(), sig.begin());
  if (!pki::verify(key.bytes, message, sig)) {
    return make_error(Errc::kDenied, fmt::format("{} signature does not verify", what));
  }
  return ok();
}

}  // namespace

Outbox::Outbox(store::Env& env, const audit::AuditLog& audit, const Clock& clock, NodeLimits limits)
    : env_(env), records_(env), audit_(audit), clock_(clock), limits_(limits) {}

Result<SyncPlan> Outbox::plan(const policies::CompiledAgreement& agreement,
                              std::optional<uint64_t> after, UncommittedSteps* uncommitted) {
  const OrgId& peer = agreement.peer();
  const TimePoint now = clock_.now();
  JISR_TRY(auto txn, env_.read());
  JISR_TRY(auto state, load_outbox_state(txn, peer));
  SyncPlan plan;
  plan.peer = peer;
  plan.agreement_id = agreement.id().str();
  plan.policy_version = agreement.version();
  plan.purpose = agreement.purposes().empty() ? std::string() : agreement.purposes().front();
  plan.from_seq = after ? *after : state.acked_under(agreement.version());
  plan.to_seq = plan.from_seq;

  protocol::RecordBatch batch;
  protocol::Withdrawal withdrawal;
  size_t bytes = 0;
  size_t examined = 0;
  // The records of steps in flight (planned or sent, not committed): the peer may hold any of
  // them. Without the sync's own account, the markers of the steps prepared say which (views
  // into this read transaction, which lives as long as the plan).
  boost::unordered_flat_set<std::string_view> marked;
  if (uncommitted) {
    uncommitted->forget_committed(state.acked_under(agreement.version()));
  } else {
    JISR_TRY(for_each_in_flight(txn, peer, [&](std::string_view, const std::vector<std::string_view>& ids) {
      marked.insert(ids.begin(), ids.end());
    }));
  }
  const auto in_flight = [&](std::string_view id) {
    return uncommitted ? uncommitted->contains(id) : !marked.empty() && marked.contains(id);
  };
  // Both looked up for every change, in change order: often the order of their keys.
  store::TableLookup sent_lookup(txn, store::Table::kSentState);
  store::TableLookup record_lookup(txn, store::Table::kRecords);
  // Reused for every change: the plan allocates per record only what it sends.
  std::vector<FieldView> stored;          // the record's fields, views into the transaction
  policies::Projection projection;        // what of them leaves
  const std::string digest_prefix = [&] {
    ByteWriter w;
    w.bytes(agreement.id().str());
    w.bytes(plan.purpose);
    return w.take();
  }();
  std::string digest_input = digest_prefix;  // prefix || canonical projection
  Sha256Builder projection_hash;             // one context for every record's digest
  Result<void> inner = ok();
  JISR_TRY(records_.changes_since(txn, plan.from_seq, [&](const store::Change& c) {
    if (batch.records.size() >= limits_.batch_records || withdrawal.records.size() >= limits_.batch_records ||
        bytes >= limits_.batch_bytes || examined >= kExamineFactor * limits_.batch_records) {
      return false;
    }
    ++examined;
    auto sent = load_sent_state(sent_lookup, peer, c.id);
    if (!sent) {
      inner = sent.error();
      return false;
    }
    const bool flying = in_flight(c.id.str());
    const bool held = flying || (sent.value() && sent.value()->maybe_held());
    if (c.deleted) {
      if (held) withdrawal.records.push_back({c.id, c.version, protocol::WithdrawalReason::kDeleted});
      plan.to_seq = c.seq;
      return true;
    }
    auto rec = records_.get_encoded(record_lookup, c.id.str());
    if (!rec || !rec.value()) {
      inner = rec ? make_error(Errc::kInternal, "change names a missing record", c.id.str()) : rec.error();
      return false;
    }
    const uint64_t version = rec.value()->version;
    if (auto decoded = decode_fields_view(rec.value()->fields, stored); !decoded) {
      inner = decoded.error();
      return false;
    }
    if (!policies::project(agreement, FieldsView(stored), plan.purpose, now, projection)) {
      if (held) {
        withdrawal.records.push_back({c.id, version, protocol::WithdrawalReason::kConsentWithdrawn});
      }
      plan.to_seq = c.seq;
      return true;
    }
    digest_input.resize(digest_prefix.size());
    encode_sorted_fields(projection.fields, digest_input);
    const Sha256 digest = projection_hash.add(digest_input).finish();
    if (!flying && sent.value() && !sent.value()->in_doubt && hex_equals(sent.value()->digest, digest)) {
      // The peer confirmed it holds exactly this.
      plan.to_seq = c.seq;
      return true;
    }
    // The wire carries the canonical encoding just hashed: one copy, no per-field strings.
    protocol::WireRecord wire{c.id, version, digest_input.substr(digest_prefix.size())};
    Disclosure disclosure{c.id, version, digest, field_set_of(plan, projection.fields)};
    bytes += wire.fields.size() + c.id.str().size() + 16;
    batch.records.push_back(std::move(wire));
    plan.disclosures.push_back(std::move(disclosure));
    plan.to_seq = c.seq;
    return true;
  }));
  JISR_TRY(inner);

  const std::string id_seed = fmt::format("{}|{}|{}|{}", peer.str(), plan.from_seq, plan.to_seq, plan.policy_version);
  const std::string step_id = sha256_hex(id_seed).substr(0, 32);
  plan.step_id = step_id;
  if (!withdrawal.records.empty()) {
    withdrawal.withdrawal_id = step_id;
    withdrawal.agreement = agreement.id();
    plan.withdrawal = std::move(withdrawal);
  }
  if (!batch.records.empty()) {
    batch.batch_id = step_id;
    batch.agreement = agreement.id();
    batch.policy_version = unhex(plan.policy_version);  // the wire carries the raw SHA-256
    batch.purpose = plan.purpose;
    batch.first_seq = plan.from_seq + 1;
    batch.last_seq = plan.to_seq;
    plan.batch_hash = batch_digest(batch);
    plan.batch = std::move(batch);
  }
  if (uncommitted && plan.advances()) uncommitted->add(plan);
  return plan;
}

void UncommittedSteps::forget_committed(uint64_t acked_seq) {
  while (!steps_.empty() && steps_.begin()->first <= acked_seq) {
    for (const uint64_t h : steps_.begin()->second.hashes) {
      const auto c = count_.find(h);
      if (c != count_.end() && --c->second == 0) count_.erase(c);
    }
    steps_.erase(steps_.begin());
  }
}

void UncommittedSteps::add(const SyncPlan& plan) {
  Step& step = steps_[plan.to_seq];
  const auto note = [&](const RecordId& id) {
    step.ids.append(id.str()).push_back('\0');
    const uint64_t h = hash(id.str());
    step.hashes.push_back(h);
    ++count_[h];
  };
  step.ids.push_back('\0');
  step.hashes.reserve((plan.withdrawal ? plan.withdrawal->records.size() : 0) + plan.disclosures.size());
  if (plan.withdrawal) {
    for (const auto& w : plan.withdrawal->records) note(w.id);
  }
  for (const auto& d : plan.disclosures) note(d.id);
}

bool UncommittedSteps::contains(std::string_view record_id) const {
  if (count_.empty() || !count_.contains(hash(record_id))) return false;
  // Record ids hold no NUL (is_valid_record_id), so "\0id\0" matches only the whole id.
  std::string needle;
  needle.reserve(record_id.size() + 2);
  needle.push_back('\0');
  needle.append(record_id).push_back('\0');
  for (const auto& [to_seq, step] : steps_) {
    if (step.ids.find(needle) != std::string::npos) return true;
  }
  return false;
}

Result<void> Outbox::verify_batch_receipt(const SyncPlan& plan, const protocol::BatchReceipt& r,
                                          const OrgId& self, const PeerPublicKey& key) {
  if (!plan.batch) return make_error(Errc::kInternal, "receipt for a plan without a batch");
  if (r.receiver != plan.peer) return make_error(Errc::kDenied, "receipt names another receiver", plan.peer.str());
  if (r.batch_hash != plan.batch_hash || r.batch_id != plan.batch->batch_id ||
      r.first_seq != plan.batch->first_seq || r.last_seq != plan.batch->last_seq) {
    return make_error(Errc::kDenied, "receipt does not match the batch sent", plan.peer.str());
  }
  return check_signature(receipt_signing_bytes(r, self), r.signature, key, "receipt");
}

Result<void> Outbox::verify_withdrawal_receipt(const SyncPlan& plan,
                                               const protocol::WithdrawalReceipt& r,
                                               const OrgId& self, const PeerPublicKey& key) {
  if (!plan.withdrawal) return make_error(Errc::kInternal, "receipt for a plan without a withdrawal");
  if (r.receiver != plan.peer || r.withdrawal_id != plan.withdrawal->withdrawal_id ||
      r.withdrawal_hash != withdrawal_digest(*plan.withdrawal)) {
    return make_error(Errc::kDenied, "withdrawal receipt does not match what was sent", plan.peer.str());
  }
  return check_signature(withdrawal_receipt_signing_bytes(r, self), r.signature, key,
                         "withdrawal receipt");
}

Result<void> Outbox::commit(const SyncPlan& plan,
                            const std::optional<protocol::BatchReceipt>& batch_receipt,
                            const std::optional<protocol::WithdrawalReceipt>& withdrawal_receipt,
                            const SyncPlan* then_prepare) {
  if ((plan.batch && !batch_receipt) || (plan.withdrawal && !withdrawal_receipt)) {
    return make_error(Errc::kInternal, "commit without the receipts of what was sent");
  }
  const TimePoint now = clock_.now();
  return env_.write([&](store::WriteTxn& txn) -> Result<void> {
    JISR_TRY(auto state, load_outbox_state(txn, plan.peer));
    const uint64_t base = state.acked_under(plan.policy_version);
    if (base != plan.from_seq) {
      return make_error(Errc::kConflict, "the outbox moved while this step was in flight", plan.peer.str());
    }
    const audit::Actor node{audit::ActorKind::kNode, {}};
    // Every confirmed withdrawal gets its own entry, every disclosure is named in a batch
    // entry; all appended together. Reserved: the batch loop keeps a pointer into it.
    std::vector<audit::AuditEvent> events;
    events.reserve((plan.withdrawal ? plan.withdrawal->records.size() : 0) + plan.disclosures.size() + 1);
    if (plan.withdrawal) {
      const std::string withdrawal_hash = hex(withdrawal_receipt->withdrawal_hash);
      for (const auto& w : plan.withdrawal->records) {
        JISR_TRY(save_sent_state(txn, plan.peer, w.id, SentState{w.version, {}, false}));
        audit::AuditEvent& e = events.emplace_back();
        e.kind = audit::AuditKind::kWithdrawalConfirmed;
        e.actor = node;
        e.peer = plan.peer.str();
        e.record_id = w.id.str();
        e.record_version = w.version;
        e.agreement_id = plan.agreement_id;
        e.policy_hash = plan.policy_version;
        e.detail = w.reason == protocol::WithdrawalReason::kDeleted ? "record deleted"
                                                                     : "no longer allowed by the agreement";
        e.batch_hash = withdrawal_hash;
      }
    }
    if (plan.batch) {
      const std::string batch_hash = hex(batch_receipt->batch_hash);
      SentStateWriter sent(txn, plan.peer);
      for (const auto& d : plan.disclosures) {
        JISR_TRY(sent.save_held(d.id, d.version, d.digest));
      }
      // Every disclosed record version is named in the log, by batch: one batch_disclosed
      // entry per set of fields sent (split to stay within an entry's bounds) instead of one
      // hashed entry per record.
      for (uint32_t set = 0; set < plan.field_sets.size(); ++set) {
        audit::AuditEvent* e = nullptr;
        size_t record_bytes = 0;
        for (const auto& d : plan.disclosures) {
          if (d.field_set != set) continue;
          if (!e || e->records.size() >= audit::kMaxRecords ||
              record_bytes + d.id.str().size() + 12 > audit::kMaxRecordBytes) {
            e = &events.emplace_back();
            e->kind = audit::AuditKind::kBatchDisclosed;
            e->actor = node;
            e->peer = plan.peer.str();
            e->batch_hash = batch_hash;
            e->agreement_id = plan.agreement_id;
            e->policy_hash = plan.policy_version;
            e->purpose = plan.purpose;
            e->fields = plan.field_sets[set];
            record_bytes = 0;
          }
          e->records.emplace_back(d.id.str(), d.version);
          record_bytes += d.id.str().size() + 12;
        }
      }
      audit::AuditEvent& e = events.emplace_back();
      e.kind = audit::AuditKind::kReceiptReceived;
      e.actor = {audit::ActorKind::kPeer, plan.peer.str()};
      e.peer = plan.peer.str();
      e.batch_hash = batch_hash;
      e.agreement_id = plan.agreement_id;
      e.policy_hash = plan.policy_version;
      e.counts = {{"accepted", batch_receipt->accepted}, {"rejected", batch_receipt->rejected}};
      ByteWriter w;
      w.bytes(batch_receipt->batch_hash);
      w.varint(batch_receipt->first_seq);
      w.varint(batch_receipt->last_seq);
      w.varint(static_cast<uint64_t>(batch_receipt->receiver_time_ms));
      w.bytes(batch_receipt->signature);
      JISR_TRY(txn.put(store::Table::kReceipts, peer_key(plan.peer, be64_key(batch_receipt->last_seq)), w.str()));
      state.last_receipt_ms = batch_receipt->receiver_time_ms;
      ++state.receipts;
    }
    JISR_TRY(audit_.append_all(txn, events, now));
    state.acked_seq = plan.to_seq;
    state.policy_version = plan.policy_version;
    JISR_TRY(save_outbox_state(txn, plan.peer, state));
    if (plan.withdrawal || plan.batch) {
      JISR_TRY(delete_in_flight(txn, plan.peer, plan.step_id));
    }
    if (then_prepare) {
      JISR_TRY(mark_in_flight(txn, *then_prepare));
    }
    return ok();
  });
}

Result<void> Outbox::prepare(const SyncPlan& plan) {
  if (!plan.withdrawal && !plan.batch) return ok();
  return env_.write([&](store::WriteTxn& txn) { return mark_in_flight(txn, plan); });
}

Result<void> Outbox::mark_in_flight(store::WriteTxn& txn, const SyncPlan& plan) {
  if (!plan.withdrawal && !plan.batch) return ok();
  std::vector<std::string_view> ids;
  ids.reserve((plan.withdrawal ? plan.withdrawal->records.size() : 0) + plan.disclosures.size());
  if (plan.withdrawal) {
    for (const auto& w : plan.withdrawal->records) ids.push_back(w.id.str());
  }
  for (const auto& d : plan.disclosures) ids.push_back(d.id.str());
  return save_in_flight(txn, plan.peer, plan.step_id, ids);
}

Result<void> Outbox::recover_interrupted(const OrgId& peer) {
  {
    JISR_TRY(auto txn, env_.read());
    bool any = false;
    JISR_TRY(for_each_in_flight(txn, peer, [&](std::string_view, const std::vector<std::string_view>&) { any = true; }));
    if (!any) return ok();
  }
  return env_.write([&](store::WriteTxn& txn) -> Result<void> {
    // Copied out first: the views die with the first write below.
    std::vector<std::string> steps;
    std::vector<std::string> ids;
    JISR_TRY(for_each_in_flight(txn, peer, [&](std::string_view step, const std::vector<std::string_view>& in) {
      steps.emplace_back(step);
      ids.insert(ids.end(), in.begin(), in.end());
    }));
    for (const auto& id : ids) {
      const RecordId rid(id);
      JISR_TRY(auto sent, load_sent_state(txn, peer, rid));
      SentState s = sent ? *sent : SentState{};
      if (s.in_doubt) continue;
      s.in_doubt = true;
      JISR_TRY(save_sent_state(txn, peer, rid, s));
    }
    for (const auto& step : steps) {
      JISR_TRY(delete_in_flight(txn, peer, step));
    }
    return ok();
  });
}

Result<OutboxState> Outbox::state(const OrgId& peer) {
  JISR_TRY(auto txn, env_.read());
  return load_outbox_state(txn, peer);
}

Result<uint64_t> Outbox::pending(const OrgId& peer, const std::string& policy_version) {
  JISR_TRY(auto txn, env_.read());
  JISR_TRY(auto state, load_outbox_state(txn, peer));
  return records_.count_changes_since(txn, state.acked_under(policy_version));
}

}  // namespace jisr::exchange
