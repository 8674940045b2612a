#include "node/app/policy_store.hpp"

#include "node/app/cli.hpp"

#include "node/core/bytes.hpp"

namespace jisr::app {
namespace {

constexpr uint8_t kFormat = 1;

Error corrupt(std::string_view table) {
  return make_error(Errc::kInternal, "corrupt policy entry", std::string(table));
}

Result<PolicyHistoryEntry> decode_history(std::string_view key, std::string_view value) {
  auto seq = parse_be64_key(key);
  ByteReader r(value);
  auto format = r.u8();
  auto at = r.varint();
  auto agreement = r.bytes(256);
  auto peer = r.bytes(256);
  auto hash = r.bytes(256);
  auto previous = r.bytes(256);
  if (!seq || !format || *format != kFormat || !at || !agreement || !peer || !hash || !previous ||
      !r.at_end()) {
    return corrupt("policy_history");
  }
  return PolicyHistoryEntry{*seq,
                            from_unix_ms(static_cast<int64_t>(*at)),
                            std::string(*agreement),
                            std::string(*peer),
                            std::string(*hash),
                            std::string(*previous)};
}

}  // namespace

Result<std::optional<PolicyHistoryEntry>> PolicyStore::record_apply(
    const policies::CompiledAgreement& agreement, std::string_view yaml, TimePoint now,
    const audit::AuditLog* audit) {
  return env_.write([&](store::WriteTxn& txn) -> Result<std::optional<PolicyHistoryEntry>> {
    const std::string& hash = agreement.version();
    const std::string& peer = agreement.peer().str();
    std::string previous;
    if (auto current = txn.get(store::Table::kPolicyActive, peer)) previous = std::string(*current);
    if (previous == hash) return std::optional<PolicyHistoryEntry>();
    if (!txn.get(store::Table::kPolicyVersions, hash)) {
      ByteWriter v;
      v.u8(kFormat);
      v.bytes(agreement.id().str());
      v.bytes(peer);
      v.varint(static_cast<uint64_t>(to_unix_ms(now)));
      v.bytes(yaml);
      JISR_TRY(txn.put(store::Table::kPolicyVersions, hash, v.str()));
    }
    uint64_t seq = 1;
    if (auto last = txn.last(store::Table::kPolicyHistory)) {
      auto n = parse_be64_key(last->first);
      if (!n) return corrupt("policy_history");
      seq = *n + 1;
    }
    ByteWriter h;
    h.u8(kFormat);
    h.varint(static_cast<uint64_t>(to_unix_ms(now)));
    h.bytes(agreement.id().str());
    h.bytes(peer);
    h.bytes(hash);
    h.bytes(previous);
    JISR_TRY(txn.append(store::Table::kPolicyHistory, be64_key(seq), h.str()));
    JISR_TRY(txn.put(store::Table::kPolicyActive, peer, hash));
    if (audit) {
      audit::AuditEvent e;
      e.kind = audit::AuditKind::kPolicyApplied;
      e.actor = local_admin();
      e.peer = peer;
      e.agreement_id = agreement.id().str();
      e.policy_hash = hash;
      e.detail = previous.empty() ? "first version" : "replaces " + previous.substr(0, 12);
      JISR_TRY(audit->append(txn, e, now));
    }
    return std::optional<PolicyHistoryEntry>(
        PolicyHistoryEntry{seq, now, agreement.id().str(), peer, hash, previous});
  });
}

Result<std::optional<std::string>> PolicyStore::active(const OrgId& peer) {
  JISR_TRY(auto txn, env_.read());
  auto v = txn.get(store::Table::kPolicyActive, peer.str());
  if (!v) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*v));
}

Result<std::vector<PolicyHistoryEntry>> PolicyStore::history() {
  JISR_TRY(auto txn, env_.read());
  std::vector<PolicyHistoryEntry> out;
  std::optional<Error> failure;
  JISR_TRY(txn.scan(store::Table::kPolicyHistory, "", [&](std::string_view k, std::string_view v) {
    auto e = decode_history(k, v);
    if (!e) {
      failure = e.error();
      return false;
    }
    out.push_back(std::move(e).value());
    return true;
  }));
  if (failure) return *failure;
  return out;
}

Result<std::optional<StoredPolicyVersion>> PolicyStore::version(std::string_view hash) {
  JISR_TRY(auto txn, env_.read());
  auto v = txn.get(store::Table::kPolicyVersions, hash);
  if (!v) return std::optional<StoredPolicyVersion>();
  ByteReader r(*v);
  auto format = r.u8();
  auto agreement = r.bytes(256);
  auto peer = r.bytes(256);
  auto first = r.varint();
  auto yaml = r.bytes();
  if (!format || *format != kFormat || !agreement || !peer || !first || !yaml || !r.at_end()) {
    return corrupt("policy_versions");
  }
  return std::optional<StoredPolicyVersion>(StoredPolicyVersion{
      std::string(hash), std::string(*agreement), std::string(*peer),
      from_unix_ms(static_cast<int64_t>(*first)), std::string(*yaml)});
}

}  // namespace jisr::app
