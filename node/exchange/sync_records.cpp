#include "node/exchange/sync_records.hpp"

#include "node/core/bytes.hpp"
#include "node/core/digest.hpp"

namespace jisr::exchange {
namespace {
constexpr uint8_t kFormat = 1;

Error corrupt(std::string_view what) {
  return make_error(Errc::kInternal, "corrupt " + std::string(what) + " entry", "store");
}

// A record in the batch encoding: id, version, field count, then each name and value. The
// record encoding of the fields (format byte, count, names and values) already holds the rest
// after its format byte, so that tail is copied as it is. An empty string (a record built by
// hand with no encoding) counts as no fields.
void put_record(ByteWriter& w, const protocol::WireRecord& r) {
  w.bytes(r.id.str());
  w.varint(r.version);
  if (r.fields.empty()) {
    w.varint(0);
  } else {
    w.raw(std::string_view(r.fields).substr(1));
  }
}
}  // namespace

std::string hex(std::string_view bytes) {
  return to_hex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::string unhex(std::string_view text) {
  if (text.size() % 2) return {};
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return {};
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string peer_key(const OrgId& peer, std::string_view id) {
  std::string k = peer.str();
  k.push_back('\0');
  k.append(id);
  return k;
}

Result<OutboxState> load_outbox_state(const store::TxnView& txn, const OrgId& peer) {
  OutboxState s;
  auto v = txn.get(store::Table::kOutboxState, peer.str());
  if (!v) return s;
  ByteReader r(*v);
  auto fmt = r.u8();
  auto acked = r.varint();
  auto version = r.bytes(256);
  auto last = r.varint();
  auto receipts = r.varint();
  if (!fmt || *fmt != kFormat || !acked || !version || !last || !receipts) return corrupt("outbox");
  s.acked_seq = *acked;
  s.policy_version = std::string(*version);
  s.last_receipt_ms = static_cast<int64_t>(*last);
  s.receipts = *receipts;
  return s;
}

Result<void> save_outbox_state(store::WriteTxn& txn, const OrgId& peer, const OutboxState& s) {
  ByteWriter w;
  w.u8(kFormat);
  w.varint(s.acked_seq);
  w.bytes(s.policy_version);
  w.varint(static_cast<uint64_t>(s.last_receipt_ms));
  w.varint(s.receipts);
  return txn.put(store::Table::kOutboxState, peer.str(), w.str());
}

namespace {
// The sent state a sent-state value holds (nullopt: none).
Result<std::optional<SentState>> sent_state_of(std::optional<std::string_view> v) {
  if (!v) return std::optional<SentState>();
  ByteReader r(*v);
  auto fmt = r.u8();
  auto version = r.varint();
  auto digest = r.bytes(128);
  auto in_doubt = r.u8();
  if (!fmt || *fmt != kFormat || !version || !digest || !in_doubt) return corrupt("sent state");
  return std::optional<SentState>(SentState{*version, std::string(*digest), *in_doubt != 0});
}
}  // namespace

Result<std::optional<SentState>> load_sent_state(const store::TxnView& txn, const OrgId& peer,
                                                 const RecordId& id) {
  return sent_state_of(txn.get(store::Table::kSentState, peer_key(peer, id.str())));
}

Result<std::optional<SentState>> load_sent_state(store::TableLookup& sent, const OrgId& peer,
                                                 const RecordId& id) {
  return sent_state_of(sent.get(peer_key(peer, id.str())));
}

Result<void> save_sent_state(store::WriteTxn& txn, const OrgId& peer, const RecordId& id,
                             const SentState& s) {
  return SentStateWriter(txn, peer).save(id, s.version, s.digest, s.in_doubt);
}

SentStateWriter::SentStateWriter(store::WriteTxn& txn, const OrgId& peer)
    : txn_(txn), key_(peer_key(peer, {})), prefix_(key_.size()) {}

Result<void> SentStateWriter::save(const RecordId& id, uint64_t version, std::string_view digest_hex,
                                   bool in_doubt) {
  key_.resize(prefix_);
  key_.append(id.str());
  ByteWriter w;
  w.str().swap(value_);
  w.str().clear();
  w.u8(kFormat);
  w.varint(version);
  w.bytes(digest_hex);
  w.u8(in_doubt ? 1 : 0);
  w.str().swap(value_);
  return txn_.put(store::Table::kSentState, key_, value_);
}

Result<void> SentStateWriter::save_held(const RecordId& id, uint64_t version, const Sha256& digest) {
  const Sha256Hex hex_digest = to_hex_chars(digest);
  return save(id, version, std::string_view(hex_digest.data(), hex_digest.size()), false);
}

Result<void> save_in_flight(store::WriteTxn& txn, const OrgId& peer, std::string_view step_id,
                            const std::vector<std::string_view>& record_ids) {
  ByteWriter w;
  w.u8(kFormat);
  w.varint(record_ids.size());
  for (const auto id : record_ids) w.bytes(id);
  return txn.put(store::Table::kInFlight, peer_key(peer, step_id), w.str());
}

Result<void> delete_in_flight(store::WriteTxn& txn, const OrgId& peer, std::string_view step_id) {
  JISR_TRY(txn.del(store::Table::kInFlight, peer_key(peer, step_id)));
  return ok();
}

namespace {
// The record ids a marker names (save_in_flight's value), as views into it.
Result<void> decode_in_flight(std::string_view v, std::vector<std::string_view>& ids) {
  ByteReader r(v);
  auto fmt = r.u8();
  auto n = r.varint();
  if (!fmt || *fmt != kFormat || !n || *n > v.size()) return corrupt("in-flight");
  ids.clear();
  ids.reserve(static_cast<size_t>(*n));
  for (uint64_t i = 0; i < *n; ++i) {
    auto id = r.bytes(256);
    if (!id) return corrupt("in-flight");
    ids.push_back(*id);
  }
  if (!r.at_end()) return corrupt("in-flight");
  return ok();
}
}  // namespace

Result<void> for_each_in_flight(
    const store::TxnView& txn, const OrgId& peer,
    const std::function<void(std::string_view, const std::vector<std::string_view>&)>& fn) {
  Result<void> inner = ok();
  const std::string prefix = peer_key(peer, {});
  std::vector<std::string_view> ids;
  JISR_TRY(txn.scan_prefix(store::Table::kInFlight, prefix, [&](std::string_view k, std::string_view v) {
    inner = decode_in_flight(v, ids);
    if (!inner) return false;
    fn(k.substr(prefix.size()), ids);
    return true;
  }));
  return inner;
}

namespace {
// Received record values (schema.hpp kReceived): format 1 held the provenance in every record;
// format 2 names it by id.
constexpr uint8_t kReceivedWithProvenance = 1;
constexpr uint8_t kReceivedNamingProvenance = 2;
constexpr size_t kProvenanceIdSize = 8;
// A policy version is the hex of a SHA-256 except when a sender stated something else, which
// is kept as it came (ReceivedRecord::sender_policy_version is "as the sender stated it").
constexpr uint8_t kPolicyVersionText = 0;
constexpr uint8_t kPolicyVersionSha256 = 1;

void put_policy_version(ByteWriter& w, std::string_view version) {
  // Raw only when the hex of the raw bytes gives the text back (lowercase, 32 bytes): the
  // reader prints it as hex again. Once per batch, not per record.
  if (const std::string raw = unhex(version); raw.size() == 32 && hex(raw) == version) {
    w.u8(kPolicyVersionSha256);
    w.raw(raw);
  } else {
    w.u8(kPolicyVersionText);
    w.bytes(version);
  }
}

std::optional<std::string> read_policy_version(ByteReader& r) {
  const auto kind = r.u8();
  if (!kind) return std::nullopt;
  if (*kind == kPolicyVersionSha256) {
    const auto raw = r.raw(32);
    if (!raw) return std::nullopt;
    return hex(*raw);
  }
  if (*kind != kPolicyVersionText) return std::nullopt;
  const auto text = r.bytes(256);
  if (!text) return std::nullopt;
  return std::string(*text);
}

// The canonical tuple, which is also the stored value and what the id is a hash of.
std::string encode_provenance(const ReceivedRecord& r) {
  ByteWriter w;
  w.u8(kFormat);
  w.bytes(r.sender_agreement);
  put_policy_version(w, r.sender_policy_version);
  w.bytes(r.purpose);
  w.bytes(r.accept_agreement);
  put_policy_version(w, r.accept_policy_version);
  return w.take();
}

Result<Provenance> decode_provenance(std::string_view value) {
  ByteReader r(value);
  auto fmt = r.u8();
  auto agreement = r.bytes(256);
  auto policy = read_policy_version(r);
  auto purpose = r.bytes(256);
  auto accept_agreement = r.bytes(256);
  auto accept_policy = read_policy_version(r);
  if (!fmt || *fmt != kFormat || !agreement || !policy || !purpose || !accept_agreement ||
      !accept_policy || !r.at_end()) {
    return corrupt("provenance");
  }
  return Provenance{std::string(*agreement), std::move(*policy), std::string(*purpose),
                    std::string(*accept_agreement), std::move(*accept_policy)};
}
}  // namespace

Result<const Provenance*> ProvenanceLookup::find(std::string_view id) {
  for (const auto& [known_id, provenance] : known_) {
    if (known_id == id) return provenance.get();
  }
  const auto value = txn_.get(store::Table::kProvenance, id);
  if (!value) {
    return make_error(Errc::kInternal, "a received record names a missing provenance", "store");
  }
  JISR_TRY(auto provenance, decode_provenance(*value));
  known_.emplace_back(std::string(id), std::make_unique<Provenance>(std::move(provenance)));
  return known_.back().second.get();
}

Result<std::string> save_provenance(store::WriteTxn& txn, const ReceivedRecord& r) {
  const std::string value = encode_provenance(r);
  Sha256Builder hash;
  hash.add("jisr-provenance-v1");
  hash.add(value);
  const Sha256 digest = hash.finish();
  uint64_t id = 0;
  for (size_t i = 0; i < kProvenanceIdSize; ++i) id = (id << 8) | digest[i];
  // Another provenance with the same 64-bit prefix takes the next free id; readers only ever go
  // from id to provenance, so where the probe ends does not matter to them.
  for (int probe = 0; probe < 64; ++probe, ++id) {
    std::string key = be64_key(id);
    JISR_TRY(auto existing, txn.insert(store::Table::kProvenance, key, value));
    if (!existing || *existing == value) return key;
  }
  return make_error(Errc::kInternal, "no free provenance id", "store");
}

void encode_received(const ReceivedRecord& r, std::string_view provenance_id,
                     std::string_view encoded_fields, std::string& out) {
  ByteWriter w;
  w.str().swap(out);
  w.str().clear();
  w.u8(kReceivedNamingProvenance);
  w.varint(r.version);
  w.raw(provenance_id);
  w.varint(static_cast<uint64_t>(to_unix_ms(r.received_at)));
  w.varint(static_cast<uint64_t>(to_unix_ms(r.retain_until)));
  w.raw(encoded_fields);
  w.str().swap(out);
}

Result<void> put_received(store::WriteTxn& txn, const ReceivedRecord& r) {
  JISR_TRY(const std::string provenance_id, save_provenance(txn, r));
  std::string value;
  encode_received(r, provenance_id, encode_fields(r.fields), value);
  return txn.put(store::Table::kReceived, peer_key(r.peer, r.id.str()), value);
}

Result<uint64_t> received_version(std::string_view value) {
  ByteReader r(value);
  auto fmt = r.u8();
  auto version = r.varint();
  if (!fmt || (*fmt != kReceivedWithProvenance && *fmt != kReceivedNamingProvenance) || !version) {
    return corrupt("received");
  }
  return *version;
}

Result<ReceivedRecord> decode_received(ProvenanceLookup& provenance, std::string_view key,
                                       std::string_view value) {
  const auto zero = key.find('\0');
  if (zero == std::string_view::npos) return corrupt("received");
  ReceivedRecord out;
  out.peer = OrgId(std::string(key.substr(0, zero)));
  out.id = RecordId(std::string(key.substr(zero + 1)));
  ByteReader r(value);
  auto fmt = r.u8();
  auto version = r.varint();
  if (!fmt || !version) return corrupt("received");
  if (*fmt == kReceivedNamingProvenance) {
    auto id = r.raw(kProvenanceIdSize);
    auto received = r.varint();
    auto retain = r.varint();
    if (!id || !received || !retain) return corrupt("received");
    JISR_TRY(const Provenance* p, provenance.find(*id));
    JISR_TRY(auto fields, decode_fields(r.rest()));
    out.version = *version;
    out.fields = std::move(fields);
    out.sender_agreement = p->sender_agreement;
    out.sender_policy_version = p->sender_policy_version;
    out.purpose = p->purpose;
    out.received_at = from_unix_ms(static_cast<int64_t>(*received));
    out.retain_until = from_unix_ms(static_cast<int64_t>(*retain));
    out.accept_agreement = p->accept_agreement;
    out.accept_policy_version = p->accept_policy_version;
    return out;
  }
  auto agreement = r.bytes(256);
  auto policy = r.bytes(256);
  auto purpose = r.bytes(256);
  auto received = r.varint();
  auto retain = r.varint();
  auto accept_agreement = r.bytes(256);
  auto accept_policy = r.bytes(256);
  if (*fmt != kReceivedWithProvenance || !agreement || !policy || !purpose || !received ||
      !retain || !accept_agreement || !accept_policy) {
    return corrupt("received");
  }
  JISR_TRY(auto fields, decode_fields(r.rest()));
  out.version = *version;
  out.fields = std::move(fields);
  out.sender_agreement = std::string(*agreement);
  out.sender_policy_version = std::string(*policy);
  out.purpose = std::string(*purpose);
  out.received_at = from_unix_ms(static_cast<int64_t>(*received));
  out.retain_until = from_unix_ms(static_cast<int64_t>(*retain));
  out.accept_agreement = std::string(*accept_agreement);
  out.accept_policy_version = std::string(*accept_policy);
  return out;
}

Result<void> for_each_received(const store::TxnView& txn, const std::string& peer,
                               const std::function<bool(const ReceivedRecord&)>& fn) {
  Result<void> inner = ok();
  std::string prefix = peer;
  if (!prefix.empty()) prefix.push_back('\0');
  ProvenanceLookup provenance(txn);
  JISR_TRY(txn.scan_prefix(store::Table::kReceived, prefix,
                           [&](std::string_view k, std::string_view v) {
                             auto rec = decode_received(provenance, k, v);
                             if (!rec) {
                               inner = rec.error();
                               return false;
                             }
                             return fn(rec.value());
                           }));
  return inner;
}

std::string batch_digest(const protocol::RecordBatch& b) {
  // The canonical encoding goes to the hash in pieces of about kChunk bytes, through one
  // reused buffer: a whole batch is megabytes, and building it in one string cost a fresh
  // allocation (and its page faults) per batch on both nodes. Same bytes, same digest. The
  // buffer stays well under 64 KiB: freeing a chunk that large makes glibc consolidate its
  // free lists, which showed as a fifth of the sender's time.
  constexpr size_t kChunk = 16 * 1024;
  Sha256Builder hash;
  ByteWriter w;
  w.str().reserve(2 * kChunk);
  w.raw("jisr-batch-v1");
  w.bytes(b.batch_id);
  w.bytes(b.agreement.str());
  w.bytes(b.policy_version);
  w.bytes(b.purpose);
  w.varint(b.first_seq);
  w.varint(b.last_seq);
  w.varint(b.records.size());
  for (const auto& r : b.records) {
    put_record(w, r);
    if (w.str().size() >= kChunk) {
      hash.add(w.str());
      w.str().clear();
    }
  }
  hash.add(w.str());
  const auto h = hash.finish();
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

std::string withdrawal_digest(const protocol::Withdrawal& wd) {
  ByteWriter w;
  w.raw("jisr-withdrawal-v1");
  w.bytes(wd.withdrawal_id);
  w.bytes(wd.agreement.str());
  w.varint(wd.records.size());
  for (const auto& r : wd.records) {
    w.bytes(r.id.str());
    w.varint(r.version);
    w.u8(static_cast<uint8_t>(r.reason));
  }
  const auto h = sha256(w.str());
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

std::string receipt_signing_bytes(const protocol::BatchReceipt& r, const OrgId& sender) {
  ByteWriter w;
  w.raw("jisr-receipt-v1");
  w.bytes(r.batch_hash);
  w.bytes(r.batch_id);
  w.varint(r.first_seq);
  w.varint(r.last_seq);
  w.varint(static_cast<uint64_t>(r.receiver_time_ms));
  w.bytes(r.receiver.str());
  w.bytes(sender.str());
  w.varint(r.accepted);
  w.varint(r.rejected);
  return w.take();
}

std::string withdrawal_receipt_signing_bytes(const protocol::WithdrawalReceipt& r,
                                             const OrgId& sender) {
  ByteWriter w;
  w.raw("jisr-withdrawal-receipt-v1");
  w.bytes(r.withdrawal_id);
  w.bytes(r.withdrawal_hash);
  w.varint(static_cast<uint64_t>(r.receiver_time_ms));
  w.bytes(r.receiver.str());
  w.bytes(sender.str());
  w.varint(r.deleted);
  return w.take();
}

}  // namespace jisr::exchange
