#include "node/audit/bundle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <span>

#include "node/audit/audit_log.hpp"
#include "node/core/ids.hpp"

namespace jisr::audit {
namespace {

using nlohmann::json;

Error bad(std::string_view what, std::string_view where) {
  return make_error(Errc::kInvalidInput, std::string(what), std::string(where));
}

// Exactly these members, no others.
Result<void> check_members(const json& j, std::span<const std::string_view> names, std::string_view where) {
  if (!j.is_object()) return bad("expected a JSON object", where);
  for (const auto& [k, v] : j.items()) {
    if (std::find(names.begin(), names.end(), k) == names.end()) {
      return bad("unknown member '" + k.substr(0, 40) + "'", where);
    }
  }
  for (auto n : names) {
    if (!j.contains(std::string(n))) return bad("missing member '" + std::string(n) + "'", where);
  }
  return ok();
}

Result<void> check_members(const json& j, std::initializer_list<std::string_view> names,
                           std::string_view where) {
  return check_members(j, std::span<const std::string_view>(names.begin(), names.size()), where);
}

Result<std::string> get_string(const json& j, const char* name, std::string_view where) {
  const auto& v = j.at(name);
  if (!v.is_string()) return bad(std::string(name) + " must be a string", where);
  return v.get<std::string>();
}

Result<uint64_t> get_uint(const json& j, const char* name, std::string_view where) {
  const auto& v = j.at(name);
  // A parsed non-negative number is "unsigned"; one built in memory from an int64 is not.
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return bad(std::string(name) + " must be an unsigned integer", where);
}

template <size_t N>
Result<std::array<uint8_t, N>> get_hex(const json& j, const char* name, std::string_view where) {
  JISR_TRY(auto text, get_string(j, name, where));
  auto bytes = parse_hex<N>(text);
  if (!bytes) return bad(std::string(name) + ": " + bytes.error().what, where);
  return bytes.value();
}

// time_ms and the readable time must agree, so the time a reader sees is the one hashed.
Result<TimePoint> get_time(const json& j, std::string_view where) {
  JISR_TRY(auto ms, get_uint(j, "time_ms", where));
  if (ms > static_cast<uint64_t>(INT64_MAX)) return bad("time_ms out of range", where);
  JISR_TRY(auto text, get_string(j, "time", where));
  const TimePoint t = from_unix_ms(static_cast<int64_t>(ms));
  if (text != format_utc(t)) return bad("time does not match time_ms", where);
  return t;
}

}  // namespace

json entry_to_json(const AuditEntry& e) {
  json counts = json::object();
  for (const auto& [name, value] : e.event.counts) counts[name] = value;
  json out{{"seq", e.seq},
              {"time", format_utc(e.time)},
              {"time_ms", to_unix_ms(e.time)},
              {"kind", kind_name(e.event.kind)},
              {"actor", {{"kind", actor_kind_name(e.event.actor.kind)}, {"id", e.event.actor.id}}},
              {"peer", e.event.peer},
              {"record_id", e.event.record_id},
              {"record_version", e.event.record_version},
              {"batch_hash", e.event.batch_hash},
              {"job_id", e.event.job_id},
              {"agreement_id", e.event.agreement_id},
              {"policy_hash", e.event.policy_hash},
              {"purpose", e.event.purpose},
              {"fields", e.event.fields},
              {"counts", counts},
              {"detail", e.event.detail},
              {"prev", to_hex(e.prev)},
              {"hash", to_hex(e.hash)}};
  // Only where there are some, so bundles of logs without batch entries read as before.
  if (!e.event.records.empty()) {
    json records = json::array();
    for (const auto& [id, version] : e.event.records) records.push_back(json::array({id, version}));
    out["records"] = std::move(records);
  }
  return out;
}

Result<AuditEntry> entry_from_json(const json& j) {
  std::string where = "entry";
  if (j.is_object() && j.contains("seq") && j["seq"].is_number_unsigned()) {
    where = fmt::format("entry seq {}", j["seq"].get<uint64_t>());
  }
  // "records" last: present only in entries that name records (batch_disclosed).
  static constexpr std::array<std::string_view, 19> kMembers = {
      "seq", "time", "time_ms", "kind", "actor", "peer", "record_id", "record_version", "batch_hash", "job_id",
      "agreement_id", "policy_hash", "purpose", "fields", "counts", "detail", "prev", "hash", "records"};
  const bool has_records = j.is_object() && j.contains("records");
  JISR_TRY(check_members(j, std::span(kMembers).first(has_records ? kMembers.size() : kMembers.size() - 1), where));
  AuditEntry e;
  JISR_TRY(e.seq, get_uint(j, "seq", where));
  JISR_TRY(e.time, get_time(j, where));
  JISR_TRY(auto kind, get_string(j, "kind", where));
  auto k = parse_kind(kind);
  if (!k) return bad("unknown kind", where);
  e.event.kind = *k;
  const auto& actor = j.at("actor");
  JISR_TRY(check_members(actor, {"kind", "id"}, where + " actor"));
  JISR_TRY(auto actor_kind, get_string(actor, "kind", where));
  auto ak = parse_actor_kind(actor_kind);
  if (!ak) return bad("unknown actor kind", where);
  e.event.actor.kind = *ak;
  JISR_TRY(e.event.actor.id, get_string(actor, "id", where));
  JISR_TRY(e.event.peer, get_string(j, "peer", where));
  JISR_TRY(e.event.record_id, get_string(j, "record_id", where));
  JISR_TRY(e.event.record_version, get_uint(j, "record_version", where));
  JISR_TRY(e.event.batch_hash, get_string(j, "batch_hash", where));
  JISR_TRY(e.event.job_id, get_string(j, "job_id", where));
  JISR_TRY(e.event.agreement_id, get_string(j, "agreement_id", where));
  JISR_TRY(e.event.policy_hash, get_string(j, "policy_hash", where));
  JISR_TRY(e.event.purpose, get_string(j, "purpose", where));
  const auto& fields = j.at("fields");
  if (!fields.is_array() || fields.size() > kMaxFields) return bad("fields must be a list", where);
  for (const auto& f : fields) {
    if (!f.is_string()) return bad("fields must be strings", where);
    e.event.fields.push_back(f.get<std::string>());
  }
  const auto& counts = j.at("counts");
  if (!counts.is_object() || counts.size() > kMaxCounts) return bad("counts must be an object", where);
  for (const auto& [name, value] : counts.items()) {
    JISR_TRY(auto n, get_uint(counts, name.c_str(), where));
    e.event.counts.emplace_back(name, n);
  }
  JISR_TRY(e.event.detail, get_string(j, "detail", where));
  if (has_records) {
    const auto& records = j.at("records");
    if (!records.is_array() || records.empty() || records.size() > kMaxRecords) {
      return bad("records must be a non-empty list", where);
    }
    for (const auto& r : records) {
      if (!r.is_array() || r.size() != 2 || !r[0].is_string() || !r[1].is_number_unsigned()) {
        return bad("records must be [id, version] pairs", where);
      }
      e.event.records.emplace_back(r[0].get<std::string>(), r[1].get<uint64_t>());
    }
  }
  JISR_TRY(e.prev, get_hex<32>(j, "prev", where));
  JISR_TRY(e.hash, get_hex<32>(j, "hash", where));
  if (auto valid = validate(e.event); !valid) return bad(valid.error().what, where);
  return e;
}

json checkpoint_to_json(const CheckpointHead& cp) {
  return json{{"seq", cp.seq},
              {"time", format_utc(cp.time)},
              {"time_ms", to_unix_ms(cp.time)},
              {"org", cp.org},
              {"head", to_hex(cp.head)},
              {"key", to_hex(cp.key.data(), cp.key.size())},
              {"signature", to_hex(cp.signature.data(), cp.signature.size())}};
}

Result<CheckpointHead> checkpoint_from_json(const json& j) {
  std::string where = "checkpoint";
  if (j.is_object() && j.contains("seq") && j["seq"].is_number_unsigned()) {
    where = fmt::format("checkpoint seq {}", j["seq"].get<uint64_t>());
  }
  JISR_TRY(check_members(j, {"seq", "time", "time_ms", "org", "head", "key", "signature"}, where));
  CheckpointHead cp;
  JISR_TRY(cp.seq, get_uint(j, "seq", where));
  JISR_TRY(cp.time, get_time(j, where));
  JISR_TRY(cp.org, get_string(j, "org", where));
  if (!is_valid_org_id(cp.org)) return bad("org is not a valid org id", where);
  JISR_TRY(cp.head, get_hex<32>(j, "head", where));
  JISR_TRY(cp.key, get_hex<32>(j, "key", where));
  JISR_TRY(cp.signature, get_hex<64>(j, "signature", where));
  return cp;
}

Result<json> export_bundle(const store::TxnView& txn, const std::string& org,
                           const PublicKey& key, TimePoint now) {
  json entries = json::array();
  JISR_TRY(AuditLog::for_each(txn, 0, [&](const AuditEntry& e) {
    entries.push_back(entry_to_json(e));
    return true;
  }));
  json checkpoints = json::array();
  std::optional<Error> failure;
  JISR_TRY(AuditLog::for_each_checkpoint(txn, [&](uint64_t seq, const Result<CheckpointHead>& cp) {
    if (!cp) {
      if (!failure) failure = make_error(Errc::kInternal, cp.error().what, fmt::format("checkpoint seq {}", seq));
      return;
    }
    checkpoints.push_back(checkpoint_to_json(cp.value()));
  }));
  if (failure) return *failure;
  return json{{"format", kBundleFormat},
              {"org", org},
              {"public_key", to_hex(key.data(), key.size())},
              {"exported_at", format_utc(now)},
              {"entries", std::move(entries)},
              {"checkpoints", std::move(checkpoints)}};
}

Result<VerifyReport> verify_bundle(std::string_view text, const std::optional<PublicKey>& expected_key) {
  constexpr std::string_view where = "bundle";
  if (text.size() > kMaxBundleBytes) return bad("bundle larger than 512 MiB", where);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("not valid JSON", where);
  JISR_TRY(check_members(j, {"format", "org", "public_key", "exported_at", "entries", "checkpoints"},
                         where));
  JISR_TRY(auto format, get_string(j, "format", where));
  if (format != kBundleFormat) return bad("unknown bundle format", where);
  JISR_TRY(auto org, get_string(j, "org", where));
  if (!is_valid_org_id(org)) return bad("org is not a valid org id", where);
  JISR_TRY(auto key, get_hex<32>(j, "public_key", where));
  JISR_TRY(auto exported_at, get_string(j, "exported_at", where));
  if (!j["entries"].is_array() || !j["checkpoints"].is_array()) {
    return bad("entries and checkpoints must be lists", where);
  }
  ChainVerifier v(org, key);
  v.require_signed_tail();
  if (expected_key && *expected_key != key) {
    v.add_finding(FindingKind::kWrongKey, 0,
                  fmt::format("the bundle is signed by key {}, not the expected key {}",
                              key_fingerprint(key), key_fingerprint(*expected_key)));
  }
  uint64_t last_cp = 0;
  for (const auto& c : j["checkpoints"]) {
    auto cp = checkpoint_from_json(c);
    const uint64_t seq = cp ? cp.value().seq : last_cp + 1;
    if (cp && seq <= last_cp && last_cp != 0) {
      v.add_finding(FindingKind::kBadCheckpoint, seq,
                    fmt::format("checkpoint at seq {}: out of order or repeated", seq));
      continue;
    }
    last_cp = seq;
    v.add_checkpoint(seq, cp);
  }
  // Entries: those that parse are verified in seq order; an entry that appears out of order
  // or twice in the list is reported, then the chain is checked on the sorted entries so one
  // swap is not reported as a removal as well.
  struct Item {
    uint64_t seq;
    Result<AuditEntry> entry;
  };
  std::vector<Item> items;
  uint64_t max_seen = 0;
  for (const auto& e : j["entries"]) {
    auto entry = entry_from_json(e);
    const uint64_t seq = entry ? entry.value().seq : max_seen + 1;
    if (entry && seq <= max_seen) {
      v.add_finding(FindingKind::kReordered, seq,
                    fmt::format("seq {}: listed after seq {} (reordered)", seq, max_seen));
    }
    max_seen = std::max(max_seen, seq);
    items.push_back(Item{seq, std::move(entry)});
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.seq < b.seq; });
  uint64_t prev_seq = 0;
  for (const auto& item : items) {
    if (item.seq == prev_seq && prev_seq != 0) {
      v.add_finding(FindingKind::kInserted, item.seq,
                    fmt::format("seq {}: appears twice (inserted)", item.seq));
      continue;
    }
    prev_seq = item.seq;
    v.add_entry(item.seq, item.entry);
  }
  return v.finish();
}

}  // namespace jisr::audit
