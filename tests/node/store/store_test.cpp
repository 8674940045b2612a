#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "node/core/bytes.hpp"
#include "node/store/env.hpp"
#include "node/store/record_store.hpp"
#include "tests/test_support.hpp"

using namespace jisr;
using namespace jisr::store;

namespace {
FieldMap fields(std::initializer_list<std::pair<const char*, const char*>> kv) {
  FieldMap m;
  for (auto& [k, v] : kv) m.set(k, v);
  return m;
}

// Renders the change sequence as one comparable string (leveldb's PrintContents idea).
std::string changes(Env& env, RecordStore& rs) {
  std::string out;
  auto txn = env.read();
  REQUIRE(txn);
  REQUIRE(rs.changes_since(txn.value(), 0, [&](const Change& c) {
    out += std::to_string(c.seq) + ":" + c.id.str() + "@" + std::to_string(c.version) +
           (c.deleted ? "-deleted" : "") + " ";
    return true;
  }));
  return out;
}
}  // namespace

TEST_CASE("records get versions and one change entry each", "[store]") {
  testing::TempDir dir;
  auto env = Env::open(dir.path());
  REQUIRE(env);
  RecordStore rs(*env.value());
  auto put = [&](const char* id, FieldMap f) {
    return env.value()->write([&](WriteTxn& t) { return rs.put(t, RecordId(id), f); }).value();
  };
  CHECK(put("a", fields({{"given_name", "x"}})) == PutOutcome::kInserted);
  CHECK(put("b", fields({{"given_name", "y"}})) == PutOutcome::kInserted);
  CHECK(put("a", fields({{"given_name", "x"}})) == PutOutcome::kUnchanged);
  CHECK(put("a", fields({{"given_name", "z"}})) == PutOutcome::kUpdated);
  CHECK(changes(*env.value(), rs) == "2:b@1 3:a@2 ");
  {
    auto txn = env.value()->read();
    auto a = rs.get(txn.value(), RecordId("a")).value();
    REQUIRE(a);
    CHECK(a->version == 2);
    CHECK(a->seq == 3);
    CHECK(a->fields.get("given_name") == "z");
    CHECK(rs.count(txn.value()) == 2);
    CHECK(rs.last_seq(txn.value()) == 3);
  }
  SECTION("delete keeps a tombstone so versions stay monotonic") {
    CHECK(env.value()->write([&](WriteTxn& t) { return rs.remove(t, RecordId("a")); }).value());
    CHECK_FALSE(env.value()->write([&](WriteTxn& t) { return rs.remove(t, RecordId("a")); }).value());
    CHECK(changes(*env.value(), rs) == "2:b@1 4:a@3-deleted ");
    auto txn = env.value()->read();
    CHECK_FALSE(rs.get(txn.value(), RecordId("a")).value());
    CHECK(rs.count(txn.value()) == 1);
  }
}

TEST_CASE("a failed write function leaves nothing behind", "[store]") {
  testing::TempDir dir;
  auto env = Env::open(dir.path()).value();
  RecordStore rs(*env);
  auto r = env->write([&](WriteTxn& t) -> Result<void> {
    JISR_TRY(rs.put(t, RecordId("a"), fields({{"given_name", "x"}})));
    return make_error(Errc::kInvalidInput, "changed my mind");
  });
  CHECK_FALSE(r);
  auto txn = env->read();
  CHECK(rs.count(txn.value()) == 0);
  CHECK(rs.last_seq(txn.value()) == 0);
}

TEST_CASE("a full map grows instead of failing", "[store]") {
  testing::TempDir dir;
  EnvOptions small;
  small.initial_map_bytes = 256 * 1024;  // tiny on purpose
  auto env = Env::open(dir.path(), small).value();
  RecordStore rs(*env);
  const size_t before = env->map_size();
  const std::string big(3000, 'x');
  for (int batch = 0; batch < 10; ++batch) {
    auto r = env->write([&](WriteTxn& t) -> Result<void> {
      for (int i = 0; i < 200; ++i) {
        JISR_TRY(rs.put(t, RecordId("r" + std::to_string(batch * 1000 + i)),
                        fields({{"circumstances", big.c_str()}})));
      }
      return ok();
    });
    REQUIRE(r);
  }
  CHECK(env->map_size() > before);
  auto txn = env->read();
  CHECK(rs.count(txn.value()) == 2000);
}

TEST_CASE("a store of an unknown format version is refused", "[store]") {
  testing::TempDir dir;
  {
    auto env = Env::open(dir.path()).value();
    REQUIRE(env->write([](WriteTxn& t) { return t.put(Table::kMeta, "format", "99"); }));
  }
  auto again = Env::open(dir.path());
  REQUIRE_FALSE(again);
  CHECK(again.error().what.find("store format version '99' is not supported") != std::string::npos);
  CHECK(again.error().what.find(fmt::format("this jisr reads {} to {}", kOldestReadableFormat,
                                            kFormatVersion)) != std::string::npos);
}

TEST_CASE("a store of an older readable format opens and is stamped with the current one",
          "[store]") {
  testing::TempDir dir;
  {
    auto env = Env::open(dir.path()).value();
    REQUIRE(env->write([](WriteTxn& t) -> Result<void> {
      JISR_TRY(t.put(Table::kMeta, "format", std::to_string(kOldestReadableFormat)));
      return t.put(Table::kRecords, "kept", "v");
    }));
  }
  auto again = Env::open(dir.path());
  REQUIRE(again);
  auto txn = again.value()->read().value();
  CHECK(txn.get(Table::kMeta, "format") == std::to_string(kFormatVersion));
  CHECK(txn.get(Table::kRecords, "kept") == "v");
}

TEST_CASE("reopening keeps data and table handles work", "[store]") {
  testing::TempDir dir;
  {
    auto env = Env::open(dir.path()).value();
    RecordStore rs(*env);
    REQUIRE(env->write([&](WriteTxn& t) { return rs.put(t, RecordId("a"), fields({{"sex", "male"}})); }));
  }
  auto env = Env::open(dir.path()).value();
  RecordStore rs(*env);
  auto txn = env->read();
  REQUIRE(txn);
  CHECK(rs.count(txn.value()) == 1);
  int n = 0;
  REQUIRE(rs.for_each(txn.value(), [&](const Record&) { return ++n, true; }));
  CHECK(n == 1);
}

TEST_CASE("insert puts only absent keys and shows what is stored", "[store]") {
  testing::TempDir dir;
  auto env = Env::open(dir.path());
  REQUIRE(env);
  REQUIRE(env.value()->write([&](WriteTxn& t) -> Result<void> {
    auto first = t.insert(Table::kRecords, "k", "one");
    REQUIRE(first);
    CHECK_FALSE(first.value());
    auto second = t.insert(Table::kRecords, "k", "two");
    REQUIRE(second);
    REQUIRE(second.value());
    CHECK(*second.value() == "one");
    CHECK(t.get(Table::kRecords, "k") == "one");
    return ok();
  }));
}

TEST_CASE("appends at a table's end mix with every other write", "[store]") {
  // insert() and append() write through a cursor kept at the table's end. Runs of ascending
  // keys (pages fill and split at the end) are interleaved with inserts of smaller and existing
  // keys, puts and deletes in the same transactions, on a map small enough to grow midway;
  // after each transaction the tables must hold exactly what a std::map model holds.
  testing::TempDir dir;
  EnvOptions small;
  small.initial_map_bytes = 256 * 1024;
  auto env = Env::open(dir.path(), small).value();
  std::map<std::string, std::string> records;
  std::map<std::string, std::string> changes;
  uint64_t next_seq = 1;
  const std::string pad(200, 'v');
  for (uint32_t txn_no = 0; txn_no < 12; ++txn_no) {
    // The operations of this transaction come from its number, so a retry after the map grows
    // does the same; the models change only once it commits.
    std::map<std::string, std::string> recs;
    std::map<std::string, std::string> chgs;
    uint64_t seq = 0;
    auto r = env->write([&](WriteTxn& t) -> Result<void> {
      recs = records;
      chgs = changes;
      seq = next_seq;
      uint32_t rng = txn_no * 2654435761u + 1;
      const auto roll = [&rng](uint32_t n) {
        rng = rng * 1103515245u + 12345u;
        return (rng >> 16) % n;
      };
      for (int i = 0; i < 400; ++i) {
        const uint32_t op = roll(10);
        std::string key;
        if (op < 6) {  // the next ascending key
          key = fmt::format("k{:06}", txn_no * 1000 + i);
        } else if (op < 8 && !recs.empty()) {  // an existing key
          auto it = recs.begin();
          std::advance(it, roll(static_cast<uint32_t>(recs.size())));
          key = it->first;
        } else {  // a key that sorts before the ascending ones
          key = fmt::format("a{:06}", roll(100000));
        }
        const std::string value = key + pad.substr(0, roll(200));
        if (op == 9 && recs.count(key)) {
          JISR_TRY(auto gone, t.del(Table::kRecords, key));
          CHECK(gone);
          recs.erase(key);
        } else if (op == 8) {
          JISR_TRY(t.put(Table::kRecords, key, value));
          recs[key] = value;
        } else {
          JISR_TRY(auto existing, t.insert(Table::kRecords, key, value));
          if (auto it = recs.find(key); it != recs.end()) {
            CHECK(existing == std::optional<std::string_view>(it->second));
          } else {
            CHECK_FALSE(existing);
            recs[key] = value;
          }
        }
        // The change sequence: drop an earlier entry now and then, always append the next.
        if (op == 9 && !chgs.empty()) {
          JISR_TRY(auto gone, t.del(Table::kChanges, chgs.begin()->first));
          CHECK(gone);
          chgs.erase(chgs.begin());
        }
        JISR_TRY(t.append(Table::kChanges, be64_key(seq), key));
        chgs[be64_key(seq)] = key;
        ++seq;
      }
      return ok();
    });
    REQUIRE(r);
    records = recs;
    changes = chgs;
    next_seq = seq;
    auto read = env->read();
    REQUIRE(read);
    for (const auto& [table, model] : {std::pair{Table::kRecords, &records},
                                       std::pair{Table::kChanges, &changes}}) {
      std::vector<std::pair<std::string, std::string>> stored;
      REQUIRE(read.value().scan(table, {}, [&](std::string_view k, std::string_view v) {
        stored.emplace_back(k, v);
        return true;
      }));
      CHECK(stored == std::vector<std::pair<std::string, std::string>>(model->begin(),
                                                                        model->end()));
    }
  }
  CHECK(env->map_size() > small.initial_map_bytes);
  // A key not greater than the last cannot be appended, and nothing is written.
  auto wrong = env->write([&](WriteTxn& t) -> Result<void> {
    return t.append(Table::kChanges, be64_key(1), "x");
  });
  CHECK_FALSE(wrong);
}

TEST_CASE("put_encoded stores what put stores, for new, unchanged, changed and deleted records",
          "[store]") {
  testing::TempDir dir;
  auto env = Env::open(dir.path());
  REQUIRE(env);
  RecordStore rs(*env.value());
  auto put_encoded = [&](const char* id, FieldMap f) {
    return env.value()
        ->write([&](WriteTxn& t) -> Result<PutOutcome> {
          RecordWriter w(rs, t);
          JISR_TRY(auto outcome, w.put_encoded(id, encode_fields(f)));
          JISR_TRY(w.finish());
          return outcome;
        })
        .value();
  };
  CHECK(put_encoded("a", fields({{"given_name", "x"}})) == PutOutcome::kInserted);
  CHECK(put_encoded("b", fields({{"given_name", "y"}})) == PutOutcome::kInserted);
  CHECK(put_encoded("a", fields({{"given_name", "x"}})) == PutOutcome::kUnchanged);
  CHECK(put_encoded("a", fields({{"given_name", "z"}})) == PutOutcome::kUpdated);
  CHECK(changes(*env.value(), rs) == "2:b@1 3:a@2 ");
  CHECK(env.value()->write([&](WriteTxn& t) { return rs.remove(t, RecordId("a")); }).value());
  // A deleted id that returns is a new live record with the next version, even with the same
  // content as its tombstone's last version.
  CHECK(put_encoded("a", fields({{"given_name", "z"}})) == PutOutcome::kInserted);
  CHECK(changes(*env.value(), rs) == "2:b@1 5:a@4 ");
  auto txn = env.value()->read();
  auto a = rs.get(txn.value(), RecordId("a")).value();
  REQUIRE(a);
  CHECK(a->version == 4);
  CHECK(a->seq == 5);
  CHECK(rs.count(txn.value()) == 2);
  CHECK(rs.last_seq(txn.value()) == 5);
}

TEST_CASE("the changes after a point are counted as changes_since would list them", "[store]") {
  testing::TempDir dir;
  auto env = Env::open(dir.path()).value();
  RecordStore rs(*env);
  const auto listed = [&](uint64_t after) {
    auto txn = env->read().value();
    uint64_t n = 0;
    REQUIRE(rs.changes_since(txn, after, [&](const Change&) { return ++n, true; }));
    return n;
  };
  const auto counted = [&](uint64_t after) {
    auto txn = env->read().value();
    return rs.count_changes_since(txn, after).value();
  };
  CHECK(counted(0) == 0);  // an empty log
  // 60 records, then every third changed again: the log has gaps where changes moved on.
  REQUIRE(env->write([&](WriteTxn& t) -> Result<void> {
    for (int i = 0; i < 60; ++i) {
      JISR_TRY(rs.put(t, RecordId(fmt::format("r{}", i)), fields({{"given_name", "x"}})));
    }
    for (int i = 0; i < 60; i += 3) {
      JISR_TRY(rs.put(t, RecordId(fmt::format("r{}", i)), fields({{"given_name", "y"}})));
    }
    return ok();
  }));
  uint64_t last = 0;
  {
    auto txn = env->read().value();
    last = rs.last_seq(txn);
  }
  REQUIRE(last == 80);
  for (uint64_t after = 0; after <= last + 2; ++after) {
    INFO("after " << after);
    CHECK(counted(after) == listed(after));  // from either end of the log
  }
  CHECK(counted(0) == 60);
  CHECK(counted(last) == 0);
}

TEST_CASE("a table lookup finds what get() finds, in any order of keys", "[store]") {
  testing::TempDir dir;
  auto env = Env::open(dir.path()).value();
  // Enough keys for several leaf pages, with gaps (odd numbers are absent).
  REQUIRE(env->write([&](WriteTxn& t) -> Result<void> {
    for (int i = 0; i < 3000; i += 2) {
      JISR_TRY(t.put(Table::kMeta, fmt::format("k{:05}", i), fmt::format("v{}", i)));
    }
    return ok();
  }));
  auto txn = env->read().value();
  std::vector<int> ascending(3100);
  for (int i = 0; i < 3100; ++i) ascending[i] = i;
  std::vector<int> descending(ascending.rbegin(), ascending.rend());
  std::vector<int> shuffled = ascending;
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (const auto* order : {&ascending, &descending, &shuffled}) {
    TableLookup lookup(txn, Table::kMeta);
    for (int i : *order) {
      const std::string key = fmt::format("k{:05}", i);
      INFO(key);
      const auto got = lookup.get(key);
      CHECK(got == txn.get(Table::kMeta, key));
      CHECK(got.has_value() == (i % 2 == 0 && i < 3000));
    }
    CHECK_FALSE(lookup.get("a"));  // before every key
    CHECK_FALSE(lookup.get("z"));  // after every key
    CHECK(lookup.get("k00000") == "v0");
  }
}
