#include "node/store/env.hpp"

#include <fmt/format.h>
#include <lmdb.h>

#include <charconv>
#include <mutex>

namespace jisr::store {
namespace {

Error lmdb_error(int rc, std::string_view op, const std::filesystem::path& where = {}) {
  const Errc code = rc == MDB_MAP_FULL ? Errc::kOverloaded : (rc == ENOENT ? Errc::kNotFound : Errc::kIo);
  return make_error(code, fmt::format("store: {}: {}", op, mdb_strerror(rc)), where.string());
}

MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view from_val(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

}  // namespace

// ---- TxnView --------------------------------------------------------------------------------

unsigned TxnView::dbi(Table table) const { return env_->dbis_[static_cast<size_t>(table)]; }

std::optional<std::string_view> TxnView::get(Table table, std::string_view key) const {
  MDB_val k = to_val(key);
  MDB_val v;
  const int rc = mdb_get(txn_, dbi(table), &k, &v);
  if (rc != 0) return std::nullopt;  // MDB_NOTFOUND, or a bad key size: absent either way
  return from_val(v);
}

TableLookup::TableLookup(const TxnView& txn, Table table) : txn_(txn), table_(table) {
  if (mdb_cursor_open(txn.txn_, txn.dbi(table), &cursor_) != 0) cursor_ = nullptr;
}

TableLookup::~TableLookup() {
  if (cursor_) mdb_cursor_close(cursor_);
}

std::optional<std::string_view> TableLookup::get(std::string_view key) {
  if (!cursor_) return txn_.get(table_, key);
  MDB_val k = to_val(key);
  MDB_val v;
  if (mdb_cursor_get(cursor_, &k, &v, MDB_SET_KEY) != 0) return std::nullopt;  // as get()
  return from_val(v);
}

Result<void> TxnView::scan(Table table, std::string_view from,
                           const std::function<bool(std::string_view, std::string_view)>& fn) const {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn_, dbi(table), &cursor); rc != 0) return lmdb_error(rc, "cursor");
  MDB_val k = to_val(from);
  MDB_val v;
  int rc = from.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                        : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    if (!fn(from_val(k), from_val(v))) break;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "scan");
  return ok();
}

Result<void> TxnView::scan_prefix(
    Table table, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return scan(table, prefix, [&](std::string_view k, std::string_view v) {
    if (!k.starts_with(prefix)) return false;
    return fn(k, v);
  });
}

std::optional<std::pair<std::string_view, std::string_view>> TxnView::last(Table table) const {
  MDB_cursor* cursor = nullptr;
  if (mdb_cursor_open(txn_, dbi(table), &cursor) != 0) return std::nullopt;
  MDB_val k, v;
  const int rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
  mdb_cursor_close(cursor);
  if (rc != 0) return std::nullopt;
  return std::pair{from_val(k), from_val(v)};
}

uint64_t TxnView::count(Table table) const {
  MDB_stat st;
  if (mdb_stat(txn_, dbi(table), &st) != 0) return 0;
  return st.ms_entries;
}

Result<uint64_t> TxnView::count_keys(Table table, std::string_view from, KeySide side) const {
  if (side == KeySide::kBefore && from.empty()) return uint64_t{0};  // nothing sorts before ""
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn_, dbi(table), &cursor); rc != 0) return lmdb_error(rc, "cursor");
  MDB_val k = to_val(from);
  MDB_val v;
  uint64_t n = 0;
  // Positioned on the first key >= from; walked forward over it and the rest, or back over the
  // keys before it (from the last key when every key is before `from`).
  int rc = from.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST) : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  if (side == KeySide::kFrom) {
    for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) ++n;
  } else {
    if (rc == MDB_NOTFOUND && (rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)) == 0) ++n;
    while (rc == 0 && (rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV)) == 0) ++n;
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return lmdb_error(rc, "count");
  return n;
}

// ---- ReadTxn / WriteTxn ---------------------------------------------------------------------

ReadTxn::~ReadTxn() {
  if (txn_) mdb_txn_abort(txn_);
}

WriteTxn::~WriteTxn() {
  if (txn_) mdb_txn_abort(txn_);
}

Result<bool> WriteTxn::appended(Table table, std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > 511) {
    return make_error(Errc::kInvalidInput, "store: key empty or longer than 511 bytes",
                      std::string(table_name(table)));
  }
  const uint32_t bit = 1u << static_cast<unsigned>(table);
  if (unsorted_ & bit) return false;
  const int rc = append_at_tail(table, key, value);
  if (rc == 0) return true;
  if (rc != MDB_KEYEXIST) {
    if (rc == MDB_MAP_FULL) map_full_ = true;
    return lmdb_error(rc, fmt::format("put into {}", table_name(table)));
  }
  unsorted_ |= bit;  // nothing was written; from now on this table is written the plain way
  return false;
}

Result<void> WriteTxn::put(Table table, std::string_view key, std::string_view value) {
  JISR_TRY(const bool done, appended(table, key, value));
  if (done) return ok();
  forget_tail(table);
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  const int rc = mdb_put(txn_, dbi(table), &k, &v, 0);
  if (rc == MDB_MAP_FULL) map_full_ = true;
  if (rc != 0) return lmdb_error(rc, fmt::format("put into {}", table_name(table)));
  return ok();
}

Result<std::optional<std::string_view>> WriteTxn::insert(Table table, std::string_view key,
                                                         std::string_view value) {
  JISR_TRY(const bool done, appended(table, key, value));
  if (done) return std::optional<std::string_view>();
  forget_tail(table);
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  const int rc = mdb_put(txn_, dbi(table), &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return std::optional<std::string_view>(from_val(v));  // v: the stored value
  if (rc == MDB_MAP_FULL) map_full_ = true;
  if (rc != 0) return lmdb_error(rc, fmt::format("put into {}", table_name(table)));
  return std::optional<std::string_view>();
}

int WriteTxn::append_at_tail(Table table, std::string_view key, std::string_view value) {
  MDB_cursor*& cursor = tail_[static_cast<size_t>(table)];
  if (!cursor) {
    if (int rc = mdb_cursor_open(txn_, dbi(table), &cursor); rc != 0) {
      cursor = nullptr;
      return rc;
    }
  }
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return mdb_cursor_put(cursor, &k, &v, MDB_APPEND);
}

void WriteTxn::forget_tail(Table table) {
  MDB_cursor*& cursor = tail_[static_cast<size_t>(table)];
  if (cursor) mdb_cursor_close(cursor);
  cursor = nullptr;
}

Result<void> WriteTxn::append(Table table, std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > 511) {
    return make_error(Errc::kInvalidInput, "store: key empty or longer than 511 bytes",
                      std::string(table_name(table)));
  }
  const int rc = append_at_tail(table, key, value);
  if (rc == MDB_MAP_FULL) map_full_ = true;
  if (rc != 0) return lmdb_error(rc, fmt::format("put into {}", table_name(table)));
  return ok();
}

Result<bool> WriteTxn::del(Table table, std::string_view key) {
  forget_tail(table);
  MDB_val k = to_val(key);
  const int rc = mdb_del(txn_, dbi(table), &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc == MDB_MAP_FULL) map_full_ = true;
  if (rc != 0) return lmdb_error(rc, fmt::format("delete from {}", table_name(table)));
  return true;
}

Result<void> WriteTxn::clear(Table table) {
  forget_tail(table);
  const int rc = mdb_drop(txn_, dbi(table), 0);
  if (rc != 0) return lmdb_error(rc, fmt::format("clear {}", table_name(table)));
  return ok();
}

Result<void> WriteTxn::commit() {
  const int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;  // committed or not, the handle is gone (and its cursors with it)
  for (auto& cursor : tail_) cursor = nullptr;
  if (rc == MDB_MAP_FULL) map_full_ = true;
  if (rc != 0) return lmdb_error(rc, "commit");
  return ok();
}

// ---- Env ------------------------------------------------------------------------------------

Env::~Env() {
  if (env_) mdb_env_close(env_);
}

Result<std::unique_ptr<Env>> Env::open(const std::filesystem::path& dir, EnvOptions options) {
  std::unique_ptr<Env> env(new Env());
  env->options_ = options;
  env->dir_ = dir;
  std::error_code ec;
  if (!options.read_only) std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir)) {
    return make_error(Errc::kNotFound, "store directory missing", dir.string());
  }
  if (int rc = mdb_env_create(&env->env_); rc != 0) return lmdb_error(rc, "create env", dir);
  mdb_env_set_maxdbs(env->env_, static_cast<MDB_dbi>(Table::kCount) + 4);
  mdb_env_set_maxreaders(env->env_, 256);
  // The map size recorded in the file wins if it is larger (another process grew it).
  mdb_env_set_mapsize(env->env_, options.initial_map_bytes);
  unsigned flags = MDB_NOTLS;  // read txns are not tied to a thread-local slot
  if (options.read_only) flags |= MDB_RDONLY;
  if (!options.durable) flags |= MDB_NOSYNC;
  if (int rc = mdb_env_open(env->env_, dir.c_str(), flags, 0600); rc != 0) {
    return lmdb_error(rc, "open env", dir);
  }
  MDB_envinfo info;
  mdb_env_info(env->env_, &info);
  if (info.me_mapsize < options.initial_map_bytes && !options.read_only) {
    mdb_env_set_mapsize(env->env_, options.initial_map_bytes);
  }
  JISR_TRY(env->open_tables());
  return env;
}

Result<void> Env::open_tables() {
  // Open or create every table, then check (or stamp) the format version, in one transaction.
  MDB_txn* txn = nullptr;
  const unsigned txn_flags = options_.read_only ? MDB_RDONLY : 0;
  if (int rc = mdb_txn_begin(env_, nullptr, txn_flags, &txn); rc != 0) {
    return lmdb_error(rc, "begin", dir_);
  }
  // Table handles opened in an aborted transaction become invalid; every success path commits.
  for (size_t i = 0; i < kTables.size(); ++i) {
    MDB_dbi dbi = 0;
    const std::string name(kTables[i].name);
    int rc = mdb_dbi_open(txn, name.c_str(), options_.read_only ? 0 : MDB_CREATE, &dbi);
    if (rc == MDB_NOTFOUND && options_.read_only) {
      mdb_txn_abort(txn);
      return make_error(Errc::kNotFound, "store has no table " + name, dir_.string());
    }
    if (rc != 0) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "open table " + name, dir_);
    }
    dbis_[i] = dbi;
  }
  const std::string format_key = "format";
  MDB_val k = to_val(format_key);
  MDB_val v;
  const int rc = mdb_get(txn, dbis_[0], &k, &v);
  if (rc == 0) {
    const auto text = from_val(v);
    uint64_t version = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
    if (ec != std::errc() || ptr != text.data() + text.size() || version < kOldestReadableFormat ||
        version > kFormatVersion) {
      mdb_txn_abort(txn);
      return make_error(
          Errc::kInvalidInput,
          fmt::format("store format version '{}' is not supported (this jisr reads {} to {})", text,
                      kOldestReadableFormat, kFormatVersion),
          dir_.string());
    }
    // An older layout this jisr still reads: from now on it may hold values only this version
    // reads, so an older jisr must refuse it by its version (see schema.hpp).
    if (version != kFormatVersion && !options_.read_only) {
      const std::string current = std::to_string(kFormatVersion);
      MDB_val cv = to_val(current);
      if (int put = mdb_put(txn, dbis_[0], &k, &cv, 0); put != 0) {
        mdb_txn_abort(txn);
        return lmdb_error(put, "stamp format", dir_);
      }
    }
    // Commit, not abort: table handles opened in an aborted transaction are invalid afterwards.
    if (int c = mdb_txn_commit(txn); c != 0) return lmdb_error(c, "commit", dir_);
    return ok();
  }
  if (options_.read_only) {
    mdb_txn_abort(txn);
    return make_error(Errc::kInvalidInput, "store has no format version", dir_.string());
  }
  const std::string version = std::to_string(kFormatVersion);
  MDB_val vv = to_val(version);
  if (int put = mdb_put(txn, dbis_[0], &k, &vv, 0); put != 0) {
    mdb_txn_abort(txn);
    return lmdb_error(put, "stamp format", dir_);
  }
  if (int c = mdb_txn_commit(txn); c != 0) return lmdb_error(c, "commit", dir_);
  return ok();
}

Result<ReadTxn> Env::read() {
  std::shared_lock lock(resize_mutex_);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {
    // Another process grew the map: adopt its size (needs no transaction of ours open).
    lock.unlock();
    {
      std::unique_lock excl(resize_mutex_);
      mdb_env_set_mapsize(env_, 0);
    }
    lock.lock();
    rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  }
  if (rc != 0) return lmdb_error(rc, "begin read", dir_);
  return ReadTxn(this, txn, std::move(lock));
}

Result<WriteTxn> Env::begin_write() {
  if (options_.read_only) return make_error(Errc::kInvalidInput, "store opened read-only", dir_.string());
  std::shared_lock lock(resize_mutex_);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc == MDB_MAP_RESIZED) {
    lock.unlock();
    {
      std::unique_lock excl(resize_mutex_);
      mdb_env_set_mapsize(env_, 0);
    }
    lock.lock();
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  }
  if (rc != 0) return lmdb_error(rc, "begin write", dir_);
  return WriteTxn(this, txn, std::move(lock));
}

Result<void> Env::grow_map() {
  std::unique_lock excl(resize_mutex_);
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  const size_t current = info.me_mapsize;
  if (current >= options_.max_map_bytes) {
    return make_error(Errc::kOverloaded, "store is full (map size limit reached)", dir_.string());
  }
  const size_t next = std::min(current * 2, options_.max_map_bytes);
  if (int rc = mdb_env_set_mapsize(env_, next); rc != 0) return lmdb_error(rc, "grow map", dir_);
  return ok();
}

size_t Env::map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

}  // namespace jisr::store
