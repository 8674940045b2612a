#include <catch2/catch.hpp>

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
