#include "node/audit/verify.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "node/core/bytes.hpp"

namespace jisr::audit {
namespace {

std::string range(uint64_t a, uint64_t b) {
  return a == b ? fmt::format("seq {}", a) : fmt::format("seq {}..{}", a, b);
}

}  // namespace

std::string_view finding_kind_name(FindingKind kind) {
  switch (kind) {
    case FindingKind::kAltered: return "altered";
    case FindingKind::kRemoved: return "removed";
    case FindingKind::kInserted: return "inserted";
    case FindingKind::kReordered: return "reordered";
    case FindingKind::kTruncated: return "truncated";
    case FindingKind::kBadCheckpoint: return "bad_checkpoint";
    case FindingKind::kWrongKey: return "wrong_key";
    case FindingKind::kCounter: return "counter";
    case FindingKind::kUnsigned: return "unsigned";
    case FindingKind::kPeerCheckpoint: return "peer_checkpoint";
  }
  return "unknown";
}

std::string key_fingerprint(const PublicKey& key) { return to_hex(key.data(), 8); }

ChainVerifier::ChainVerifier(std::string org, const PublicKey& key) {
  report_.org = std::move(org);
  report_.key = key;
}

void ChainVerifier::add_finding(FindingKind kind, uint64_t seq, std::string message) {
  report_.findings.push_back(Finding{kind, seq, std::move(message)});
}

void ChainVerifier::add_checkpoint(uint64_t key_seq, const Result<CheckpointHead>& checkpoint) {
  ++report_.checkpoints;
  const std::string at = fmt::format("checkpoint at seq {}", key_seq);
  if (!checkpoint) {
    add_finding(FindingKind::kBadCheckpoint, key_seq,
                at + ": unreadable (" + checkpoint.error().what + ")");
    return;
  }
  const CheckpointHead& cp = checkpoint.value();
  if (cp.seq != key_seq) {
    add_finding(FindingKind::kBadCheckpoint, key_seq,
                fmt::format("{}: signs seq {} (moved)", at, cp.seq));
    return;
  }
  if (cp.org != report_.org) {
    add_finding(FindingKind::kBadCheckpoint, key_seq,
                fmt::format("{}: names org '{}', not '{}'", at, cp.org, report_.org));
    return;
  }
  if (cp.key != report_.key) {
    add_finding(FindingKind::kWrongKey, key_seq,
                fmt::format("{}: signed by key {}, not this node's key {}", at,
                            key_fingerprint(cp.key), key_fingerprint(report_.key)));
    return;
  }
  if (!signature_valid(cp)) {
    add_finding(FindingKind::kBadCheckpoint, key_seq, at + ": signature invalid");
    return;
  }
  ++report_.valid_checkpoints;
  checkpoints_[key_seq] = cp;
}

void ChainVerifier::add_entry(uint64_t key_seq, const Result<AuditEntry>& entry,
                              const std::optional<Sha256>& computed_hash) {
  ++report_.entries;
  if (report_.first_seq == 0) report_.first_seq = key_seq;
  report_.last_seq = key_seq;
  if (key_seq == 0) {
    add_finding(FindingKind::kInserted, 0, "seq 0: no entry may have seq 0 (inserted)");
    prev_known_ = false;
    return;
  }
  if (key_seq > expected_next_) {
    add_finding(FindingKind::kRemoved, expected_next_,
                range(expected_next_, key_seq - 1) + ": missing (removed)");
    prev_known_ = false;
  }
  expected_next_ = key_seq + 1;
  last_key_ = key_seq;
  last_hash_.reset();
  if (!entry) {
    add_finding(FindingKind::kAltered, key_seq,
                fmt::format("seq {}: unreadable (altered): {}", key_seq, entry.error().what));
    prev_known_ = false;
    return;
  }
  const AuditEntry& e = entry.value();
  if (e.seq != key_seq) {
    add_finding(FindingKind::kReordered, key_seq,
                fmt::format("seq {}: holds the entry written as seq {} (reordered or moved)",
                            key_seq, e.seq));
    prev_known_ = false;
    return;
  }
  bool self_ok = true;
  if ((computed_hash ? *computed_hash : compute_hash(e)) != e.hash) {
    add_finding(FindingKind::kAltered, key_seq,
                fmt::format("seq {}: content does not match its hash (altered)", key_seq));
    self_ok = false;
  }
  if (prev_known_ && e.prev != prev_hash_) {
    if (key_seq == 1) {
      add_finding(FindingKind::kInserted, 1, "seq 1: does not start the chain (replaced)");
    } else if (self_ok) {
      // The successor recorded another hash for seq-1: seq-1 was rewritten (hash recomputed)
      // or this entry was put in its place.
      add_finding(FindingKind::kAltered, key_seq - 1,
                  fmt::format("seq {}: altered: its hash is not the one seq {} links to",
                              key_seq - 1, key_seq));
    }
  }
  // Chain on the stored hash, so one altered entry is reported once, not at every successor.
  prev_hash_ = e.hash;
  prev_known_ = true;
  last_hash_ = e.hash;
  if (auto it = checkpoints_.find(key_seq); it != checkpoints_.end() && it->second.head != e.hash) {
    add_finding(FindingKind::kAltered, key_seq,
                fmt::format("checkpoint at seq {}: signed head does not match the chain (entries "
                            "up to seq {} were rewritten)",
                            key_seq, key_seq));
  }
}

void ChainVerifier::check_counter(const std::optional<ChainHead>& counter) {
  const uint64_t last = last_key_.value_or(0);
  if (!counter) {
    if (last != 0) add_finding(FindingKind::kCounter, last, "the audit counter is missing");
    return;
  }
  if (counter->seq > last) {
    add_finding(FindingKind::kTruncated, last + 1,
                fmt::format("{}: missing: the counter says {} entries were written (tail "
                            "truncated)",
                            range(last + 1, counter->seq), counter->seq));
  } else if (counter->seq < last) {
    add_finding(FindingKind::kInserted, counter->seq + 1,
                fmt::format("{}: beyond the counter ({}) (inserted)",
                            range(counter->seq + 1, last), counter->seq));
  } else if (last_hash_ && counter->hash != *last_hash_) {
    add_finding(FindingKind::kCounter, last,
                fmt::format("seq {}: the counter records another hash for the last entry", last));
  }
}

VerifyReport ChainVerifier::finish() {
  if (finished_) return report_;
  finished_ = true;
  const uint64_t last = last_key_.value_or(0);
  for (const auto& [seq, cp] : checkpoints_) {
    if (seq > last) {
      add_finding(FindingKind::kTruncated, last + 1,
                  fmt::format("{}: missing: a signed checkpoint covers seq {} (tail truncated)",
                              range(last + 1, seq), seq));
      break;  // the highest such checkpoint says it all; lower ones repeat it
    }
  }
  if (!checkpoints_.empty()) report_.latest_valid_checkpoint = checkpoints_.rbegin()->second;
  const uint64_t signed_to =
      report_.latest_valid_checkpoint ? report_.latest_valid_checkpoint->seq : 0;
  report_.unsigned_entries = last > signed_to ? last - signed_to : 0;
  if (require_signed_tail_ && report_.unsigned_entries > 0) {
    add_finding(FindingKind::kUnsigned, signed_to + 1,
                range(signed_to + 1, last) + ": not covered by a signed checkpoint");
  }
  // Highest findings order by seq so the report reads top to bottom.
  std::stable_sort(report_.findings.begin(), report_.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.seq < b.seq; });
  return report_;
}

Result<VerifyReport> verify_store(const store::TxnView& txn, const std::string& org,
                                  const PublicKey& key,
                                  const std::map<std::string, PublicKey>& known_peer_keys) {
  ChainVerifier v(org, key);
  JISR_TRY(AuditLog::for_each_checkpoint(
      txn, [&](uint64_t seq, const Result<CheckpointHead>& cp) { v.add_checkpoint(seq, cp); }));
  JISR_TRY(txn.scan(store::Table::kAuditLog, {}, [&](std::string_view k, std::string_view val) {
    const auto seq = parse_be64_key(k);
    if (!seq) {
      v.add_finding(FindingKind::kInserted, 0, "an entry with a malformed key (inserted)");
      return true;
    }
    // decode_entry checked the bytes are canonical, so the hash of the stored body || prev is
    // the hash of the decoded entry.
    auto entry = decode_entry(val);
    std::optional<Sha256> computed;
    if (entry) computed = sha256(val.substr(0, val.size() - 32));
    v.add_entry(*seq, entry, computed);
    return true;
  }));
  auto counter = AuditLog::head(txn);
  const bool has_counter = txn.get(store::Table::kMeta, kHeadMetaKey).has_value();
  if (has_counter && !counter) {
    v.add_finding(FindingKind::kCounter, 0, "the audit counter is unreadable");
  } else {
    v.check_counter(has_counter ? std::optional<ChainHead>(counter.value()) : std::nullopt);
  }
  JISR_TRY(AuditLog::for_each_peer_checkpoint(
      txn, {}, [&](const std::string& peer, uint64_t seq, const Result<CheckpointHead>& cp) {
        ++v.report().peer_checkpoints;
        const std::string at = fmt::format("peer {} checkpoint at seq {}", peer, seq);
        if (!cp) {
          v.add_finding(FindingKind::kPeerCheckpoint, seq, at + ": unreadable");
          return;
        }
        if (cp.value().org != peer || cp.value().seq != seq) {
          v.add_finding(FindingKind::kPeerCheckpoint, seq, at + ": stored under the wrong key");
          return;
        }
        if (!signature_valid(cp.value())) {
          v.add_finding(FindingKind::kPeerCheckpoint, seq, at + ": signature invalid");
          return;
        }
        if (auto it = known_peer_keys.find(peer);
            it != known_peer_keys.end() && it->second != cp.value().key) {
          v.add_finding(FindingKind::kPeerCheckpoint, seq,
                        fmt::format("{}: signed by key {}, not the peer's key {}", at,
                                    key_fingerprint(cp.value().key),
                                    key_fingerprint(it->second)));
        }
      }));
  return v.finish();
}

}  // namespace jisr::audit
