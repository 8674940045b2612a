// RecordStore: local records in LMDB with versions and the global change sequence
// (DESIGN.md "Records"). put() gives a record version 1 when new and +1 when its content
// changes, and a new change-sequence number each time; unchanged content changes nothing (so
// re-importing a file is idempotent). The `changes` table holds one entry per record, its
// latest change, in sequence order: what later sync work reads to fill the per-peer outboxes.
//
// Thread-safety: stateless beyond the Env reference; every call takes the caller's
// transaction, so it is as thread-safe as the transactions are (one per thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "node/core/record.hpp"
#include "node/core/result.hpp"
#include "node/store/env.hpp"

namespace jisr::store {

enum class PutOutcome { kInserted, kUpdated, kUnchanged };

// One entry of the change sequence.
struct Change {
  uint64_t seq = 0;
  RecordId id;
  uint64_t version = 0;
  bool deleted = false;
};

// A live record as stored: its fields still encoded (encode_fields), a view into the
// transaction's pages, valid until the transaction ends or writes.
struct EncodedRecord {
  uint64_t version = 0;
  uint64_t seq = 0;
  std::string_view fields;
};

class RecordStore;

// Writes many records in one transaction, reading the store's counters once and writing them
// once in finish() (import writes thousands of rows per transaction). finish() must be called
// before the transaction commits; a writer that is not finished leaves the counters stale, so
// the transaction must then be aborted.
class RecordWriter {
 public:
  RecordWriter(RecordStore& store, WriteTxn& txn);
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  Result<PutOutcome> put(const RecordId& id, const FieldMap& fields);
  // Same with the fields already encoded by encode_fields() / encode_sorted_fields() (import
  // encodes straight from the CSV row). id must be a valid record id.
  Result<PutOutcome> put_encoded(std::string_view id, std::string_view encoded_fields);
  Result<bool> remove(const RecordId& id);
  Result<void> finish();

 private:
  Result<uint64_t> record_change(std::string_view id, uint64_t version, bool deleted,
                                 uint64_t previous_seq);
  WriteTxn& txn_;
  uint64_t last_seq_;
  uint64_t live_;
  bool dirty_ = false;
  std::string value_buf_;   // reused per put: the stored record
  std::string change_buf_;  // reused per put: the change entry
};

class RecordStore {
 public:
  explicit RecordStore(Env& env) : env_(env) {}

  Env& env() { return env_; }

  // Stores the content of a record. fields must already be canonical for the schema.
  Result<PutOutcome> put(WriteTxn& txn, const RecordId& id, const FieldMap& fields);
  // Deletes a record (keeps a tombstone and records a change). false when it did not exist.
  Result<bool> remove(WriteTxn& txn, const RecordId& id);

  // The live record, or nullopt when absent or deleted.
  Result<std::optional<Record>> get(const TxnView& txn, const RecordId& id) const;
  // The same without decoding or copying the fields (for loops over many records).
  Result<std::optional<EncodedRecord>> get_encoded(const TxnView& txn, std::string_view id) const;
  // The same through a lookup of the records table (kept across many ids asked in order).
  Result<std::optional<EncodedRecord>> get_encoded(TableLookup& records, std::string_view id) const;
  // Calls fn for every live record in id order until it returns false.
  Result<void> for_each(const TxnView& txn, const std::function<bool(const Record&)>& fn) const;
  // Number of live records.
  uint64_t count(const TxnView& txn) const;
  // The last change-sequence number handed out (0 for an empty store).
  uint64_t last_seq(const TxnView& txn) const;
  // Calls fn for each change with seq > after, in order, until fn returns false.
  Result<void> changes_since(const TxnView& txn, uint64_t after,
                             const std::function<bool(const Change&)>& fn) const;
  // How many changes have seq > after (what changes_since would call fn for), counted from
  // whichever end of the change log is nearer: `jisr status` asks while a sync runs, on the io
  // thread, and the store may hold a million records.
  Result<uint64_t> count_changes_since(const TxnView& txn, uint64_t after) const;

 private:
  Env& env_;
};

}  // namespace jisr::store
