#include "node/audit/audit_log.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "node/core/bytes.hpp"
#include "node/core/ids.hpp"

namespace jisr::audit {
namespace {

using store::Table;

std::string encode_head(const ChainHead& h) {
  std::string out = be64_key(h.seq);
  out.append(reinterpret_cast<const char*>(h.hash.data()), h.hash.size());
  return out;
}

Error seq_error(Errc code, std::string what, uint64_t seq) {
  return make_error(code, std::move(what), "audit seq " + std::to_string(seq));
}

}  // namespace

std::optional<AuditOptions> AuditOptions::parse(YamlSource& src, const YAML::Node& node) {
  AuditOptions out;
  if (!node || node.IsNull()) return out;
  if (!src.expect_map(node, "audit")) return std::nullopt;
  bool good = src.check_keys(node, {"checkpoint_every_entries", "checkpoint_every_minutes"});
  if (const auto& n = node["checkpoint_every_entries"]) {
    auto v = src.integer(n, "checkpoint_every_entries");
    if (!v) {
      good = false;
    } else if (*v < 1 || *v > 1'000'000) {
      src.error(n, "checkpoint_every_entries must be between 1 and 1000000");
      good = false;
    } else {
      out.checkpoint_every_entries = static_cast<uint64_t>(*v);
    }
  }
  if (const auto& n = node["checkpoint_every_minutes"]) {
    auto v = src.integer(n, "checkpoint_every_minutes");
    if (!v) {
      good = false;
    } else if (*v < 1 || *v > 1440) {
      src.error(n, "checkpoint_every_minutes must be between 1 and 1440");
      good = false;
    } else {
      out.checkpoint_every = std::chrono::minutes(*v);
    }
  }
  if (!good) return std::nullopt;
  return out;
}

AuditLog::AuditLog(store::Env& env, std::string org, AuditOptions options)
    : env_(env), org_(std::move(org)), options_(options) {}

Result<ChainHead> AuditLog::head(const store::TxnView& txn) {
  auto stored = txn.get(Table::kMeta, kHeadMetaKey);
  if (!stored) {
    if (txn.count(Table::kAuditLog) != 0) {
      return make_error(Errc::kInternal, "audit counter missing but the log has entries",
                        "audit");
    }
    return ChainHead{};
  }
  if (stored->size() != 8 + 32) {
    return make_error(Errc::kInternal, "audit counter unreadable", "audit");
  }
  ChainHead h;
  h.seq = *parse_be64_key(stored->substr(0, 8));
  std::memcpy(h.hash.data(), stored->data() + 8, 32);
  return h;
}

Result<uint64_t> AuditLog::append(store::WriteTxn& txn, const AuditEvent& event,
                                  TimePoint now) const {
  return append_all(txn, std::span<const AuditEvent>(&event, 1), now);
}

Result<uint64_t> AuditLog::append_all(store::WriteTxn& txn, std::span<const AuditEvent> events,
                                      TimePoint now) const {
  if (to_unix_ms(now) < 0) {
    return make_error(Errc::kInvalidInput, "audit event: time before 1970", "audit");
  }
  // Counts go in name order; only events that are not in order yet are copied to sort them.
  std::vector<AuditEvent> sorted;
  std::vector<const AuditEvent*> normalised;
  normalised.reserve(events.size());
  for (const auto& event : events) {
    if (std::is_sorted(event.counts.begin(), event.counts.end())) {
      normalised.push_back(&event);
    } else {
      normalised.push_back(nullptr);  // filled below, once `sorted` no longer grows
      sorted.push_back(event);
      std::sort(sorted.back().counts.begin(), sorted.back().counts.end());
    }
  }
  for (size_t i = 0, s = 0; i < normalised.size(); ++i) {
    if (!normalised[i]) normalised[i] = &sorted[s++];
    JISR_TRY(validate(*normalised[i]));
  }
  JISR_TRY(auto h, head(txn));
  // The counter must name the last entry of the table; if not, someone removed or added
  // entries behind our back and chaining onto it would hide that.
  const auto last = txn.last(Table::kAuditLog);
  const uint64_t last_key = last ? parse_be64_key(last->first).value_or(UINT64_MAX) : 0;
  if (last_key != h.seq) {
    return make_error(Errc::kInternal,
                      "audit log and its counter disagree (run `jisr audit verify`)", "audit");
  }
  if (normalised.empty()) return h.seq;
  for (const AuditEvent* event : normalised) {
    // The stored entry is body || prev || hash (encode_entry), encoded once.
    std::string entry = encode_body(h.seq + 1, now, *event);
    const Sha256 hash = entry_hash(entry, h.hash);
    entry.append(reinterpret_cast<const char*>(h.hash.data()), h.hash.size());
    entry.append(reinterpret_cast<const char*>(hash.data()), hash.size());
    JISR_TRY(txn.append(Table::kAuditLog, be64_key(h.seq + 1), entry));
    h = ChainHead{h.seq + 1, hash};
  }
  JISR_TRY(txn.put(Table::kMeta, kHeadMetaKey, encode_head(h)));
  return h.seq;
}

Result<uint64_t> AuditLog::append(const AuditEvent& event, TimePoint now) const {
  return env_.write([&](store::WriteTxn& txn) { return append(txn, event, now); });
}

Result<std::optional<AuditEntry>> AuditLog::get(const store::TxnView& txn, uint64_t seq) {
  auto bytes = txn.get(Table::kAuditLog, be64_key(seq));
  if (!bytes) return std::optional<AuditEntry>{};
  auto entry = decode_entry(*bytes);
  if (!entry) return seq_error(Errc::kInternal, entry.error().what, seq);
  return std::optional<AuditEntry>{std::move(entry).value()};
}

Result<void> AuditLog::for_each(const store::TxnView& txn, uint64_t from,
                                const std::function<bool(const AuditEntry&)>& fn) {
  std::optional<Error> failure;
  JISR_TRY(txn.scan(Table::kAuditLog, be64_key(from), [&](std::string_view k, std::string_view v) {
    auto entry = decode_entry(v);
    if (!entry) {
      failure = seq_error(Errc::kInternal, entry.error().what + " (run `jisr audit verify`)",
                          parse_be64_key(k).value_or(0));
      return false;
    }
    return fn(entry.value());
  }));
  if (failure) return *failure;
  return ok();
}

Result<std::optional<CheckpointHead>> AuditLog::latest_checkpoint(const store::TxnView& txn) {
  auto last = txn.last(Table::kAuditCheckpoints);
  if (!last) return std::optional<CheckpointHead>{};
  auto cp = decode_checkpoint(last->second);
  if (!cp) {
    return seq_error(Errc::kInternal, cp.error().what, parse_be64_key(last->first).value_or(0));
  }
  return std::optional<CheckpointHead>{std::move(cp).value()};
}

Result<std::optional<CheckpointHead>> AuditLog::maybe_checkpoint(
    store::WriteTxn& txn, TimePoint now, const CheckpointSigner& signer) const {
  JISR_TRY(auto h, head(txn));
  if (h.seq == 0) return std::optional<CheckpointHead>{};
  JISR_TRY(auto latest, latest_checkpoint(txn));
  const uint64_t signed_up_to = latest ? latest->seq : 0;
  if (signed_up_to >= h.seq) return std::optional<CheckpointHead>{};
  bool due = h.seq - signed_up_to >= options_.checkpoint_every_entries;
  if (!due) {
    // Time rule: the oldest entry not yet covered by a signature has waited long enough.
    JISR_TRY(auto oldest, get(txn, signed_up_to + 1));
    due = !oldest || now - oldest->time >= options_.checkpoint_every;
  }
  if (!due) return std::optional<CheckpointHead>{};
  JISR_TRY(auto cp, checkpoint_now(txn, now, signer));
  return std::optional<CheckpointHead>{std::move(cp)};
}

Result<CheckpointHead> AuditLog::checkpoint_now(store::WriteTxn& txn, TimePoint now,
                                                const CheckpointSigner& signer) const {
  JISR_TRY(auto h, head(txn));
  if (h.seq == 0) return make_error(Errc::kNotFound, "the audit log is empty", "audit");
  JISR_TRY(auto latest, latest_checkpoint(txn));
  if (latest && latest->seq == h.seq && latest->head == h.hash &&
      latest->key == signer.public_key()) {
    return *latest;
  }
  if (latest && latest->seq > h.seq) {
    return make_error(Errc::kInternal,
                      "a checkpoint covers entries the log no longer has (run `jisr audit verify`)",
                      "audit");
  }
  CheckpointHead cp = sign_checkpoint(org_, h.seq, h.hash, now, signer);
  JISR_TRY(txn.put(Table::kAuditCheckpoints, be64_key(cp.seq), encode_checkpoint(cp)));
  return cp;
}

Result<CheckpointHead> AuditLog::make_checkpoint_head(store::WriteTxn& txn, TimePoint now,
                                                      const CheckpointSigner& signer) const {
  return checkpoint_now(txn, now, signer);
}

Result<void> AuditLog::for_each_checkpoint(
    const store::TxnView& txn,
    const std::function<void(uint64_t, const Result<CheckpointHead>&)>& fn) {
  return txn.scan(Table::kAuditCheckpoints, {}, [&](std::string_view k, std::string_view v) {
    fn(parse_be64_key(k).value_or(0), decode_checkpoint(v));
    return true;
  });
}

std::string AuditLog::peer_checkpoint_key(const std::string& peer, uint64_t seq) {
  std::string key = peer;
  key.push_back('\0');  // org ids never contain 0x00, so "iimp" never prefixes "iimp2"'s keys
  key += be64_key(seq);
  return key;
}

Result<PeerCheckpointOutcome> AuditLog::store_peer_checkpoint(store::WriteTxn& txn,
                                                              const std::string& peer,
                                                              const CheckpointHead& head,
                                                              const PublicKey& peer_key) {
  if (!is_valid_org_id(peer)) {
    return make_error(Errc::kInvalidInput, "peer checkpoint: invalid peer org id", "audit");
  }
  if (head.org != peer) {
    return make_error(Errc::kDenied, "peer checkpoint names another organisation", peer);
  }
  if (head.key != peer_key) {
    return make_error(Errc::kDenied, "peer checkpoint is signed by a key that is not the peer's",
                      peer);
  }
  if (!signature_valid(head)) {
    return make_error(Errc::kDenied, "peer checkpoint signature is invalid", peer);
  }
  if (head.seq == 0) {
    return make_error(Errc::kInvalidInput, "peer checkpoint for an empty log", peer);
  }
  const std::string key = peer_checkpoint_key(peer, head.seq);
  if (auto existing = txn.get(Table::kPeerCheckpoints, key)) {
    auto stored = decode_checkpoint(*existing);
    if (stored && stored.value().head == head.head) return PeerCheckpointOutcome::kAlreadyStored;
    return make_error(Errc::kConflict,
                      "peer checkpoint conflicts with the head stored for the same seq (the "
                      "peer's log changed; the first head is kept as evidence)",
                      peer + " seq " + std::to_string(head.seq));
  }
  JISR_TRY(txn.put(Table::kPeerCheckpoints, key, encode_checkpoint(head)));
  return PeerCheckpointOutcome::kStored;
}

Result<void> AuditLog::for_each_peer_checkpoint(
    const store::TxnView& txn, const std::string& peer,
    const std::function<void(const std::string&, uint64_t, const Result<CheckpointHead>&)>& fn) {
  const std::string prefix = peer.empty() ? std::string() : peer + std::string(1, '\0');
  return txn.scan(Table::kPeerCheckpoints, prefix, [&](std::string_view k, std::string_view v) {
    if (!k.starts_with(prefix)) return false;
    const auto sep = k.find('\0');
    const std::string org(k.substr(0, sep == std::string_view::npos ? k.size() : sep));
    const uint64_t seq =
        sep == std::string_view::npos ? 0 : parse_be64_key(k.substr(sep + 1)).value_or(0);
    fn(org, seq, decode_checkpoint(v));
    return true;
  });
}

}  // namespace jisr::audit
