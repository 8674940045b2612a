#include "node/audit/audit_event.hpp"

#include <algorithm>
#include <cstring>

#include "node/core/bytes.hpp"
#include "node/core/ids.hpp"

namespace jisr::audit {
namespace {

struct KindName {
  AuditKind kind;
  std::string_view name;
};

constexpr KindName kKindNames[] = {
    {AuditKind::kRecordDisclosed, "record_disclosed"},
    {AuditKind::kReceiptReceived, "receipt_received"},
    {AuditKind::kWithdrawalSent, "withdrawal_sent"},
    {AuditKind::kWithdrawalConfirmed, "withdrawal_confirmed"},
    {AuditKind::kBatchReceived, "batch_received"},
    {AuditKind::kBatchRefused, "batch_refused"},
    {AuditKind::kFieldsDropped, "fields_dropped"},
    {AuditKind::kMatchJob, "match_job"},
    {AuditKind::kQuotaRefused, "quota_refused"},
    {AuditKind::kReveal, "reveal"},
    {AuditKind::kPolicyApplied, "policy_applied"},
    {AuditKind::kPeerPinned, "peer_pinned"},
    {AuditKind::kPeerRemoved, "peer_removed"},
    {AuditKind::kConnectionRefused, "connection_refused"},
    {AuditKind::kAdminCommand, "admin_command"},
    {AuditKind::kRecordImported, "record_imported"},
    {AuditKind::kWithdrawalReceived, "withdrawal_received"},
    {AuditKind::kRecordDeleted, "record_deleted"},
    {AuditKind::kBatchDisclosed, "batch_disclosed"},
};
static_assert(std::size(kKindNames) == std::size(kAllKinds));

bool all_of_chars(std::string_view s, bool (*ok)(char)) {
  return std::all_of(s.begin(), s.end(), ok);
}
bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool name_char(char c) { return lower_alnum(c) || c == '_'; }
bool token_char(char c) { return lower_alnum(c) || c == '_' || c == '-'; }
bool job_char(char c) {
  return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '-' || c == '.' || c == ':';
}
bool user_char(char c) { return lower_alnum(c) || c == '_' || c == '-' || c == '.'; }
bool hex_char(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool printable_ascii(char c) { return c >= 0x20 && c <= 0x7e; }

bool is_sha256_hex(std::string_view s) { return s.size() == 64 && all_of_chars(s, hex_char); }

Error bad(std::string_view member, std::string_view rule) {
  return make_error(Errc::kInvalidInput, "audit event: " + std::string(member) + " " + std::string(rule),
                    "audit");
}

}  // namespace

std::string_view kind_name(AuditKind kind) {
  for (const auto& k : kKindNames) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

std::optional<AuditKind> parse_kind(std::string_view name) {
  for (const auto& k : kKindNames) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

std::optional<AuditKind> kind_from_number(uint8_t number) {
  for (const auto& k : kKindNames) {
    if (static_cast<uint8_t>(k.kind) == number) return k.kind;
  }
  return std::nullopt;
}

std::string_view actor_kind_name(ActorKind kind) {
  switch (kind) {
    case ActorKind::kNode: return "node";
    case ActorKind::kLocalAdmin: return "admin";
    case ActorKind::kPeer: return "peer";
  }
  return "unknown";
}

std::optional<ActorKind> parse_actor_kind(std::string_view name) {
  if (name == "node") return ActorKind::kNode;
  if (name == "admin") return ActorKind::kLocalAdmin;
  if (name == "peer") return ActorKind::kPeer;
  return std::nullopt;
}

Result<void> validate(const AuditEvent& e) {
  if (e.kind != kind_from_number(static_cast<uint8_t>(e.kind))) return bad("kind", "is not a known kind");
  switch (e.actor.kind) {
    case ActorKind::kNode:
      if (!e.actor.id.empty()) return bad("actor id", "must be empty for the node");
      break;
    case ActorKind::kLocalAdmin:
      if (e.actor.id.size() > 32 || !all_of_chars(e.actor.id, user_char)) {
        return bad("actor id", "must be a user name of at most 32 of a-z 0-9 . _ -");
      }
      break;
    case ActorKind::kPeer:
      if (!is_valid_org_id(e.actor.id)) return bad("actor id", "must be an org id for a peer");
      break;
    default:
      return bad("actor kind", "is not a known actor kind");
  }
  if (!e.peer.empty() && !is_valid_org_id(e.peer)) return bad("peer", "must be an org id");
  if (!e.record_id.empty() && !is_valid_record_id(e.record_id)) {
    return bad("record id", "is not a valid record id");
  }
  if (e.record_id.empty() && e.record_version != 0) {
    return bad("record version", "must be 0 without a record id");
  }
  if (!e.batch_hash.empty() && !is_sha256_hex(e.batch_hash)) {
    return bad("batch hash", "must be 64 lowercase hex digits");
  }
  if (e.job_id.size() > 64 || !all_of_chars(e.job_id, job_char)) {
    return bad("job id", "must be at most 64 of A-Z a-z 0-9 . _ : -");
  }
  if (!e.agreement_id.empty() && !is_valid_agreement_id(e.agreement_id)) {
    return bad("agreement id", "is not a valid agreement id");
  }
  if (!e.policy_hash.empty() && !is_sha256_hex(e.policy_hash)) {
    return bad("policy hash", "must be 64 lowercase hex digits");
  }
  if (e.purpose.size() > 64 || !all_of_chars(e.purpose, token_char)) {
    return bad("purpose", "must be at most 64 of a-z 0-9 _ -");
  }
  if (e.fields.size() > kMaxFields) return bad("fields", "has more than 256 names");
  for (const auto& f : e.fields) {
    if (f.empty() || f.size() > 64 || !all_of_chars(f, name_char)) {
      return bad("field name", "must be 1 to 64 of a-z 0-9 _");
    }
  }
  if (e.counts.size() > kMaxCounts) return bad("counts", "has more than 32 entries");
  for (size_t i = 0; i < e.counts.size(); ++i) {
    const auto& name = e.counts[i].first;
    if (name.empty() || name.size() > 32 || !all_of_chars(name, name_char)) {
      return bad("count name", "must be 1 to 32 of a-z 0-9 _");
    }
    // One canonical order (by name) so the same counts always hash the same, also after a
    // round trip through a JSON object.
    if (i > 0 && !(e.counts[i - 1].first < name)) {
      return bad("counts", "must have unique names in ascending order");
    }
  }
  if (e.detail.size() > kMaxDetailBytes || !all_of_chars(e.detail, printable_ascii)) {
    return bad("detail", "must be at most 200 printable ASCII characters");
  }
  if (e.records.size() > kMaxRecords) return bad("records", "has more than 4096 entries");
  for (const auto& [id, version] : e.records) {
    if (!is_valid_record_id(id) || version == 0) {
      return bad("records", "must be valid record ids with versions from 1");
    }
  }
  return ok();
}

std::string safe_detail(std::string_view text) {
  std::string out(text.substr(0, kMaxDetailBytes));
  for (char& c : out) {
    if (!printable_ascii(c)) c = '?';
  }
  return out;
}

std::string encode_body(uint64_t seq, TimePoint time, const AuditEvent& e) {
  ByteWriter w;
  w.u8(e.records.empty() ? kEntryFormat : kEntryFormatWithRecords);
  w.varint(seq);
  w.varint(static_cast<uint64_t>(to_unix_ms(time)));
  w.u8(static_cast<uint8_t>(e.kind));
  w.u8(static_cast<uint8_t>(e.actor.kind));
  w.bytes(e.actor.id);
  w.bytes(e.peer);
  w.bytes(e.record_id);
  w.varint(e.record_version);
  w.bytes(e.batch_hash);
  w.bytes(e.job_id);
  w.bytes(e.agreement_id);
  w.bytes(e.policy_hash);
  w.bytes(e.purpose);
  w.varint(e.fields.size());
  for (const auto& f : e.fields) w.bytes(f);
  w.varint(e.counts.size());
  for (const auto& [name, value] : e.counts) {
    w.bytes(name);
    w.varint(value);
  }
  w.bytes(e.detail);
  if (!e.records.empty()) {
    w.varint(e.records.size());
    for (const auto& [id, version] : e.records) {
      w.bytes(id);
      w.varint(version);
    }
  }
  return w.take();
}

Sha256 entry_hash(std::string_view body, const Sha256& prev) {
  Sha256Builder b;
  b.add(body);
  b.add(std::string_view(reinterpret_cast<const char*>(prev.data()), prev.size()));
  return b.finish();
}

AuditEntry make_entry(uint64_t seq, TimePoint time, const AuditEvent& event, const Sha256& prev) {
  AuditEntry entry{seq, time, event, prev, {}};
  entry.hash = entry_hash(encode_body(seq, time, event), prev);
  return entry;
}

Sha256 compute_hash(const AuditEntry& entry) {
  return entry_hash(encode_body(entry.seq, entry.time, entry.event), entry.prev);
}

std::string encode_entry(const AuditEntry& entry) {
  std::string out = encode_body(entry.seq, entry.time, entry.event);
  out.append(reinterpret_cast<const char*>(entry.prev.data()), entry.prev.size());
  out.append(reinterpret_cast<const char*>(entry.hash.data()), entry.hash.size());
  return out;
}

Result<AuditEntry> decode_entry(std::string_view bytes) {
  const auto corrupt = [](std::string_view what) {
    return make_error(Errc::kInvalidInput, "audit entry: " + std::string(what), "audit");
  };
  if (bytes.size() > kMaxEntryBytes) return corrupt("too large");
  if (bytes.size() < 64 + 1) return corrupt("truncated");
  const std::string_view body = bytes.substr(0, bytes.size() - 64);
  ByteReader r(body);
  auto str = [&r](std::string& out, size_t max) -> bool {
    auto v = r.bytes(max);
    if (!v) return false;
    out.assign(*v);
    return true;
  };
  AuditEntry entry;
  auto format = r.u8();
  if (!format || (*format != kEntryFormat && *format != kEntryFormatWithRecords)) {
    return corrupt("unknown format");
  }
  auto seq = r.varint();
  auto time = r.varint();
  auto kind = r.u8();
  auto actor = r.u8();
  if (!seq || !time || !kind || !actor) return corrupt("truncated header");
  if (*time > static_cast<uint64_t>(INT64_MAX)) return corrupt("time out of range");
  auto k = kind_from_number(*kind);
  if (!k) return corrupt("unknown kind");
  entry.seq = *seq;
  entry.time = from_unix_ms(static_cast<int64_t>(*time));
  AuditEvent& e = entry.event;
  e.kind = *k;
  e.actor.kind = static_cast<ActorKind>(*actor);
  if (!str(e.actor.id, 64) || !str(e.peer, 64) || !str(e.record_id, 256)) return corrupt("truncated");
  auto version = r.varint();
  if (!version) return corrupt("truncated");
  e.record_version = *version;
  if (!str(e.batch_hash, 64) || !str(e.job_id, 64) || !str(e.agreement_id, 64) ||
      !str(e.policy_hash, 64) || !str(e.purpose, 64)) {
    return corrupt("truncated");
  }
  auto n_fields = r.varint();
  if (!n_fields || *n_fields > kMaxFields) return corrupt("bad field list");
  e.fields.resize(*n_fields);
  for (auto& f : e.fields) {
    if (!str(f, 64)) return corrupt("truncated field list");
  }
  // A list of (text, number) pairs: the counts, and the records of format 2. Empty when bad.
  const auto pairs = [&](auto& list, size_t max_items, size_t max_text) -> std::optional<const char*> {
    auto n = r.varint();
    if (!n || *n > max_items) return "bad";
    list.resize(*n);
    for (auto& [text, number] : list) {
      auto v = str(text, max_text) ? r.varint() : std::nullopt;
      if (!v) return "truncated";
      number = *v;
    }
    return std::nullopt;
  };
  if (auto bad = pairs(e.counts, kMaxCounts, 32)) return corrupt(std::string(*bad) + " count list");
  if (!str(e.detail, kMaxDetailBytes)) return corrupt("truncated detail");
  if (*format == kEntryFormatWithRecords) {
    // n = 0 decodes, but re-encodes as format 1: refused below as not canonical.
    if (auto bad = pairs(e.records, kMaxRecords, 256)) return corrupt(std::string(*bad) + " record list");
  }
  if (!r.at_end()) return corrupt("trailing bytes");
  if (auto valid = validate(e); !valid) return corrupt("invalid content: " + valid.error().what);
  std::memcpy(entry.prev.data(), bytes.data() + body.size(), 32);
  std::memcpy(entry.hash.data(), bytes.data() + body.size() + 32, 32);
  // Canonical: a varint with redundant continuation bytes decodes to the same value but would
  // hash differently, so only the one encoding encode() produces is accepted.
  if (encode_body(entry.seq, entry.time, entry.event) != body) return corrupt("not canonical");
  return entry;
}

}  // namespace jisr::audit
