#include "node/store/record_store.hpp"

#include <charconv>

#include "node/core/bytes.hpp"

namespace jisr::store {
namespace {

constexpr uint8_t kRecordFormat = 1;
constexpr std::string_view kLastSeqKey = "last_seq";
constexpr std::string_view kLiveKey = "live_records";

struct StoredRecord {
  uint64_t version = 0;
  uint64_t seq = 0;
  bool deleted = false;
  std::string_view fields;  // encoded, view into the transaction
};

Result<StoredRecord> decode_stored(std::string_view value) {
  ByteReader r(value);
  auto format = r.u8();
  auto version = r.varint();
  auto seq = r.varint();
  auto deleted = r.u8();
  if (!format || *format != kRecordFormat || !version || !seq || !deleted) {
    return make_error(Errc::kInternal, "corrupt stored record", "records");
  }
  return StoredRecord{*version, *seq, *deleted != 0, r.rest()};
}

// Encodes into out (cleared first): writers reuse one buffer for every record of a batch.
void encode_stored(std::string& out, uint64_t version, uint64_t seq, bool deleted,
                   std::string_view fields) {
  out.clear();
  out.push_back(static_cast<char>(kRecordFormat));
  append_varint(out, version);
  append_varint(out, seq);
  out.push_back(deleted ? 1 : 0);
  out.append(fields);
}

void encode_change(std::string& out, std::string_view id, uint64_t version, bool deleted) {
  out.clear();
  append_bytes(out, id);
  append_varint(out, version);
  out.push_back(deleted ? 1 : 0);
}

uint64_t read_counter(const TxnView& txn, std::string_view key) {
  auto v = txn.get(Table::kMeta, key);
  if (!v) return 0;
  uint64_t n = 0;
  std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

Result<void> write_counter(WriteTxn& txn, std::string_view key, uint64_t n) {
  return txn.put(Table::kMeta, key, std::to_string(n));
}

}  // namespace

RecordWriter::RecordWriter(RecordStore& /*store*/, WriteTxn& txn)
    : txn_(txn), last_seq_(read_counter(txn, kLastSeqKey)), live_(read_counter(txn, kLiveKey)) {}

// Takes the next sequence number and records the change, dropping the record's previous
// change entry so that `changes` holds only the latest change of each record.
Result<uint64_t> RecordWriter::record_change(std::string_view id, uint64_t version, bool deleted,
                                             uint64_t previous_seq) {
  const uint64_t seq = ++last_seq_;
  dirty_ = true;
  if (previous_seq != 0) {
    JISR_TRY(txn_.del(Table::kChanges, be64_key(previous_seq)));
  }
  encode_change(change_buf_, id, version, deleted);
  JISR_TRY(txn_.append(Table::kChanges, be64_key(seq), change_buf_));
  return seq;
}

Result<PutOutcome> RecordWriter::put(const RecordId& id, const FieldMap& fields) {
  return put_encoded(id.str(), encode_fields(fields));
}

Result<PutOutcome> RecordWriter::put_encoded(std::string_view id, std::string_view encoded) {
  // Optimistic insert as version 1 with the next seq: a new record (most rows of an import)
  // then costs one descent of the records tree instead of a get and a put.
  encode_stored(value_buf_, 1, last_seq_ + 1, false, encoded);
  JISR_TRY(auto existing, txn_.insert(Table::kRecords, id, value_buf_));
  if (!existing) {
    JISR_TRY(record_change(id, 1, false, 0));
    ++live_;
    return PutOutcome::kInserted;
  }
  // existing views the transaction's page: read all of it before the next write.
  JISR_TRY(auto stored, decode_stored(*existing));
  if (!stored.deleted && stored.fields == encoded) return PutOutcome::kUnchanged;
  const uint64_t version = stored.version + 1;
  const bool existed_live = !stored.deleted;
  JISR_TRY(auto seq, record_change(id, version, false, stored.seq));
  encode_stored(value_buf_, version, seq, false, encoded);
  JISR_TRY(txn_.put(Table::kRecords, id, value_buf_));
  if (existed_live) return PutOutcome::kUpdated;
  ++live_;
  return PutOutcome::kInserted;
}

Result<bool> RecordWriter::remove(const RecordId& id) {
  auto existing = txn_.get(Table::kRecords, id.str());
  if (!existing) return false;
  JISR_TRY(auto stored, decode_stored(*existing));
  if (stored.deleted) return false;
  const uint64_t version = stored.version + 1;
  JISR_TRY(auto seq, record_change(id.str(), version, true, stored.seq));
  encode_stored(value_buf_, version, seq, true, encode_fields(FieldMap{}));
  JISR_TRY(txn_.put(Table::kRecords, id.str(), value_buf_));
  --live_;
  return true;
}

Result<void> RecordWriter::finish() {
  if (!dirty_) return ok();
  JISR_TRY(write_counter(txn_, kLastSeqKey, last_seq_));
  JISR_TRY(write_counter(txn_, kLiveKey, live_));
  dirty_ = false;
  return ok();
}

Result<PutOutcome> RecordStore::put(WriteTxn& txn, const RecordId& id, const FieldMap& fields) {
  RecordWriter writer(*this, txn);
  JISR_TRY(auto outcome, writer.put(id, fields));
  JISR_TRY(writer.finish());
  return outcome;
}

Result<bool> RecordStore::remove(WriteTxn& txn, const RecordId& id) {
  RecordWriter writer(*this, txn);
  JISR_TRY(auto removed, writer.remove(id));
  JISR_TRY(writer.finish());
  return removed;
}

Result<std::optional<Record>> RecordStore::get(const TxnView& txn, const RecordId& id) const {
  JISR_TRY(auto encoded, get_encoded(txn, id.str()));
  if (!encoded) return std::optional<Record>();
  JISR_TRY(auto fields, decode_fields(encoded->fields));
  return std::optional<Record>(Record{id, encoded->version, encoded->seq, std::move(fields)});
}

namespace {
// The live record a records-table value holds (nullopt: absent or deleted).
Result<std::optional<EncodedRecord>> encoded_of(std::optional<std::string_view> value) {
  if (!value) return std::optional<EncodedRecord>();
  JISR_TRY(auto stored, decode_stored(*value));
  if (stored.deleted) return std::optional<EncodedRecord>();
  return std::optional<EncodedRecord>(EncodedRecord{stored.version, stored.seq, stored.fields});
}
}  // namespace

Result<std::optional<EncodedRecord>> RecordStore::get_encoded(const TxnView& txn,
                                                              std::string_view id) const {
  return encoded_of(txn.get(Table::kRecords, id));
}

Result<std::optional<EncodedRecord>> RecordStore::get_encoded(TableLookup& records,
                                                              std::string_view id) const {
  return encoded_of(records.get(id));
}

Result<void> RecordStore::for_each(const TxnView& txn,
                                   const std::function<bool(const Record&)>& fn) const {
  Result<void> inner = ok();
  JISR_TRY(txn.scan(Table::kRecords, {}, [&](std::string_view key, std::string_view value) {
    auto stored = decode_stored(value);
    if (!stored) {
      inner = stored.error();
      return false;
    }
    if (stored.value().deleted) return true;
    auto fields = decode_fields(stored.value().fields);
    if (!fields) {
      inner = fields.error();
      return false;
    }
    return fn(Record{RecordId(std::string(key)), stored.value().version, stored.value().seq,
                     std::move(fields).value()});
  }));
  return inner;
}

uint64_t RecordStore::count(const TxnView& txn) const { return read_counter(txn, kLiveKey); }

uint64_t RecordStore::last_seq(const TxnView& txn) const { return read_counter(txn, kLastSeqKey); }

Result<void> RecordStore::changes_since(const TxnView& txn, uint64_t after,
                                        const std::function<bool(const Change&)>& fn) const {
  Result<void> inner = ok();
  JISR_TRY(txn.scan(Table::kChanges, be64_key(after + 1),
                    [&](std::string_view key, std::string_view value) {
                      ByteReader r(value);
                      auto seq = parse_be64_key(key);
                      auto id = r.bytes(256);
                      auto version = r.varint();
                      auto deleted = r.u8();
                      if (!seq || !id || !version || !deleted) {
                        inner = make_error(Errc::kInternal, "corrupt change entry", "changes");
                        return false;
                      }
                      return fn(Change{*seq, RecordId(std::string(*id)), *version, *deleted != 0});
                    }));
  return inner;
}

Result<uint64_t> RecordStore::count_changes_since(const TxnView& txn, uint64_t after) const {
  const uint64_t total = txn.count(Table::kChanges);
  const auto last = txn.last(Table::kChanges);
  if (total == 0 || !last) return uint64_t{0};
  const auto last_seq = parse_be64_key(last->first);
  std::optional<uint64_t> first_seq;
  JISR_TRY(txn.scan(Table::kChanges, {}, [&](std::string_view key, std::string_view) {
    first_seq = parse_be64_key(key);
    return false;
  }));
  if (!first_seq || !last_seq) return make_error(Errc::kInternal, "corrupt change key", "changes");
  if (after < *first_seq) return total;
  if (after >= *last_seq) return uint64_t{0};
  const std::string from = be64_key(after + 1);
  // Sequence numbers spread over the log: the side with fewer of them is likely the shorter walk.
  if (after - *first_seq < *last_seq - after) {
    JISR_TRY(const uint64_t before, txn.count_keys(Table::kChanges, from, TxnView::KeySide::kBefore));
    return total - before;
  }
  return txn.count_keys(Table::kChanges, from, TxnView::KeySide::kFrom);
}

}  // namespace jisr::store
