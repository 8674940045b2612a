// Env: the node's LMDB environment, and the only code that talks to LMDB (with env.cpp).
// Move-only ReadTxn and WriteTxn (distinct types; both abort in their destructor unless
// committed). Env::write() runs a function in a write transaction, commits on success and,
// when the map is full, aborts, grows the map and runs the function again (so the function
// must only have effects inside the transaction). Lookups return std::optional.
//
// Thread-safety: Env is shared by all threads of a process. A transaction belongs to one
// thread for its whole life and never spans a co_await. LMDB serialises writers (also across
// processes: `jisr import` may run while `jisr serve` does). Read transactions stay short.
// A string_view returned by a transaction is valid only until that transaction ends.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>

#include "node/core/result.hpp"
#include "node/store/schema.hpp"

struct MDB_env;
struct MDB_txn;
struct MDB_cursor;

namespace jisr::store {

struct EnvOptions {
  size_t initial_map_bytes = size_t{64} << 20;  // first map size; grows by doubling when full
  size_t max_map_bytes = size_t{1} << 40;       // growth stops here (then writes fail: full)
  bool read_only = false;                       // open for reading only (no table creation)
  bool durable = true;                          // false: no fsync on commit (benchmarks only)
};

class Env;

// Read operations shared by both kinds of transaction.
class TxnView {
 public:
  TxnView(const TxnView&) = delete;
  TxnView& operator=(const TxnView&) = delete;

  std::optional<std::string_view> get(Table table, std::string_view key) const;
  // Calls fn(key, value) for keys >= from in order until fn returns false.
  Result<void> scan(Table table, std::string_view from,
                    const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // Same, for keys that start with prefix.
  Result<void> scan_prefix(Table table, std::string_view prefix,
                           const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // The last (greatest) key and its value, if the table is not empty.
  std::optional<std::pair<std::string_view, std::string_view>> last(Table table) const;
  // Number of entries.
  uint64_t count(Table table) const;
  // Number of keys >= from (kFrom) or < from (kBefore): a cursor walk over that side only,
  // no values read.
  enum class KeySide { kFrom, kBefore };
  Result<uint64_t> count_keys(Table table, std::string_view from, KeySide side) const;

 protected:
  TxnView(Env* env, MDB_txn* txn) : env_(env), txn_(txn) {}
  TxnView(TxnView&& other) noexcept
      : env_(std::exchange(other.env_, nullptr)), txn_(std::exchange(other.txn_, nullptr)) {}
  ~TxnView() = default;
  unsigned dbi(Table table) const;
  friend class TableLookup;

  Env* env_;
  MDB_txn* txn_;
};

// Point lookups in one table of a transaction through one cursor. Keys asked in ascending
// order (a change log walked in the order records were imported) are often on the leaf page
// the cursor is on, where LMDB finds them without descending from the root as get() does.
// Views valid like get()'s. Thread-safety: the transaction's (one thread).
class TableLookup {
 public:
  TableLookup(const TxnView& txn, Table table);
  ~TableLookup();
  TableLookup(const TableLookup&) = delete;
  TableLookup& operator=(const TableLookup&) = delete;
  std::optional<std::string_view> get(std::string_view key);

 private:
  const TxnView& txn_;
  Table table_;
  MDB_cursor* cursor_ = nullptr;  // null when it could not be opened: get() falls back
};

class ReadTxn : public TxnView {
 public:
  ReadTxn(ReadTxn&& other) noexcept : TxnView(std::move(other)), lock_(std::move(other.lock_)) {}
  ~ReadTxn();

 private:
  friend class Env;
  ReadTxn(Env* env, MDB_txn* txn, std::shared_lock<std::shared_mutex> lock)
      : TxnView(env, txn), lock_(std::move(lock)) {}
  std::shared_lock<std::shared_mutex> lock_;
};

class WriteTxn : public TxnView {
 public:
  WriteTxn(WriteTxn&& other) noexcept
      : TxnView(std::move(other)),
        lock_(std::move(other.lock_)),
        map_full_(other.map_full_),
        unsorted_(other.unsorted_) {
    for (size_t i = 0; i < kTableCount; ++i) tail_[i] = std::exchange(other.tail_[i], nullptr);
  }
  ~WriteTxn();

  // Puts key -> value, replacing what the key held. Like insert(), a key greater than every
  // key in the table is appended (no descent), until the first key of this transaction that
  // is not: keys written in order (the sender's per-record state, written in record order)
  // cost a third of a descending put.
  Result<void> put(Table table, std::string_view key, std::string_view value);
  // Puts key -> value only when key is absent: nullopt when it was put; otherwise writes
  // nothing and returns the value already stored (a view, valid like get()'s until the next
  // write). One B-tree descent for "insert unless present", where get() then put() takes two.
  // A key greater than every key in the table is appended instead (see append()), the common
  // case of a file sorted by id; after the first key that is not, the transaction inserts into
  // that table the plain way, so an unsorted file pays one failed attempt.
  Result<std::optional<std::string_view>> insert(Table table, std::string_view key,
                                                 std::string_view value);
  // Appends a key greater than every key in the table (fails otherwise). Faster than put():
  // a cursor kept at the table's end needs no descent and no key comparisons, and a full last
  // page is not split in half, so sequential keys fill their pages.
  Result<void> append(Table table, std::string_view key, std::string_view value);
  // Returns false when the key was absent.
  Result<bool> del(Table table, std::string_view key);
  // Removes every entry of a table.
  Result<void> clear(Table table);

  bool map_full() const { return map_full_; }

 private:
  friend class Env;
  WriteTxn(Env* env, MDB_txn* txn, std::shared_lock<std::shared_mutex> lock)
      : TxnView(env, txn), lock_(std::move(lock)) {}
  // Checks the key, then appends it at the table's tail unless this transaction already met a
  // key of that table that did not sort last: true when appended, false when the caller
  // writes the plain way (nothing was written).
  Result<bool> appended(Table table, std::string_view key, std::string_view value);
  // Appends through the table's tail cursor: 0 or an LMDB error code (MDB_KEYEXIST when key is
  // not greater than the last key; nothing is written then).
  int append_at_tail(Table table, std::string_view key, std::string_view value);
  // Before any other write to table: closes its tail cursor, so an append never depends on
  // LMDB having re-positioned it after another cursor's splits and merges (it does, but the
  // next append's fresh descent costs what a put costs anyway).
  void forget_tail(Table table);
  Result<void> commit();
  static constexpr size_t kTableCount = static_cast<size_t>(Table::kCount);
  std::shared_lock<std::shared_mutex> lock_;
  bool map_full_ = false;
  // One cursor per table for appends, opened on first use and used for nothing else; LMDB
  // closes a write transaction's cursors when it ends.
  MDB_cursor* tail_[kTableCount] = {};
  uint32_t unsorted_ = 0;  // bit per table: an insert or put met a key not greater than the last
  static_assert(kTableCount <= 32);
};

class Env {
 public:
  // Opens (creating if needed, unless read_only) the environment in `dir`, checks the format
  // version, and creates the tables of schema.hpp.
  static Result<std::unique_ptr<Env>> open(const std::filesystem::path& dir,
                                           EnvOptions options = {});
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  Result<ReadTxn> read();

  // Runs fn(WriteTxn&) -> Result<R>; commits when it succeeds, aborts when it fails. On a full
  // map, grows the map and runs fn again on a fresh transaction.
  template <class F>
  auto write(F&& fn) -> decltype(fn(std::declval<WriteTxn&>())) {
    for (;;) {
      {
        auto txn = begin_write();
        if (!txn) return txn.error();
        auto result = fn(txn.value());
        if (!txn.value().map_full()) {
          if (!result) return result;  // the transaction aborts as it goes out of scope
          auto committed = txn.value().commit();
          if (committed) return result;
          if (!txn.value().map_full()) return committed.error();
        }
      }  // aborted and unlocked here, so the map can grow
      if (auto grown = grow_map(); !grown) return grown.error();
    }
  }

  // Current map size in bytes.
  size_t map_size() const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  friend class TxnView;
  friend class WriteTxn;
  friend class ReadTxn;
  Env() = default;
  Result<WriteTxn> begin_write();
  Result<void> grow_map();
  Result<void> open_tables();

  MDB_env* env_ = nullptr;
  unsigned dbis_[static_cast<size_t>(Table::kCount)] = {};
  EnvOptions options_;
  std::filesystem::path dir_;
  mutable std::shared_mutex resize_mutex_;  // shared by every txn; exclusive to grow the map
};

}  // namespace jisr::store
