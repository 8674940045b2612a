// How received records are stored: the provenance a batch's records share is stored once and
// named by id, the values written by a format-1 store (the provenance in every record) still
// read, and both give the same ReceivedRecord; the Inbox stores a batch's provenance once and
// purges records of either format. The rest of the Inbox is in sync_test.cpp.
#include <catch2/catch.hpp>

#include "node/core/bytes.hpp"
#include "node/exchange/inbox.hpp"
#include "node/exchange/sync_records.hpp"
#include "policies/compiler.hpp"
#include "tests/node/exchange/format1_received.hpp"
#include "tests/test_support.hpp"

using namespace jisr;
using namespace jisr::exchange;

namespace {

const std::string kPolicyA = "3f2a9c1e5b7d8f0a1c2e3b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6";
const std::string kPolicyB = "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff";

ReceivedRecord sample(const std::string& id) {
  ReceivedRecord r;
  r.peer = OrgId("mpfp");
  r.id = RecordId(id);
  r.version = 7;
  r.fields.set("given_name", "أحمد");
  r.fields.set("family_name", "الحسن, \"x\"");
  r.fields.set("birth_date", "1990");
  r.sender_agreement = "mpfp-iimp-mou";
  r.sender_policy_version = kPolicyA;
  r.purpose = "locate-missing-person";
  r.received_at = from_unix_ms(1'780'000'000'123);
  r.retain_until = from_unix_ms(1'780'000'000'123 + 365LL * 86'400'000);
  r.accept_agreement = "iimp-mpfp-mou";
  r.accept_policy_version = kPolicyB;
  return r;
}

// Everything a ReceivedRecord holds, as one comparable line.
std::string render(const ReceivedRecord& r) {
  std::string out = r.peer.str() + "/" + r.id.str() + " v" + std::to_string(r.version) + " " +
                    format_utc(r.received_at) + ".." + format_utc(r.retain_until) + " [" +
                    r.sender_agreement + " " + r.sender_policy_version + " " + r.purpose + " " +
                    r.accept_agreement + " " + r.accept_policy_version + "]";
  for (const auto& [name, value] : r.fields) out += " " + name + "=" + value;
  return out;
}

std::vector<std::string> held(store::Env& env, const std::string& peer = {}) {
  std::vector<std::string> out;
  auto txn = env.read().value();
  REQUIRE(for_each_received(txn, peer, [&](const ReceivedRecord& r) {
    out.push_back(render(r));
    return true;
  }));
  return out;
}

}  // namespace

TEST_CASE("a received record reads the same from a format-1 value and from the current one",
          "[exchange][sync]") {
  testing::TempDir dir;
  auto env = store::Env::open(dir.path()).value();
  ReceivedRecord r = sample("r1");
  SECTION("hex policy versions (stored as 32 raw bytes)") {}
  SECTION("policy versions that are not lowercase hex are kept as stated") {
    r.sender_policy_version = "v1";
    r.accept_policy_version = "3F2A9C1E5B7D8F0A1C2E3B4D5F6A7B8C9D0E1F2A3B4C5D6E7F8091A2B3C4D5E6";
  }
  SECTION("empty provenance texts and no fields") {
    r.sender_agreement.clear();
    r.sender_policy_version.clear();
    r.purpose.clear();
    r.fields = FieldMap();
  }
  const std::string old_value = testing::format1_received_value(r);
  REQUIRE(env->write([&](store::WriteTxn& t) -> Result<void> {
    JISR_TRY(t.put(store::Table::kReceived, peer_key(r.peer, "r1"), old_value));
    ReceivedRecord again = r;
    again.peer = OrgId("other");
    return put_received(t, again);
  }));
  const auto records = held(*env);
  REQUIRE(records.size() == 2);
  CHECK(records[0] == render(r));
  ReceivedRecord as_other = r;
  as_other.peer = OrgId("other");
  CHECK(records[1] == render(as_other));

  auto txn = env->read().value();
  const auto new_value = txn.get(store::Table::kReceived, peer_key(OrgId("other"), "r1"));
  REQUIRE(new_value);
  CHECK(received_version(old_value).value() == 7);
  CHECK(received_version(*new_value).value() == 7);
  // The point of the change: a record stores its fields, times and an 8-byte id, not the
  // agreement names, purpose and policy versions again.
  // format, version, provenance id, two times in ms (6 bytes each), fields
  CHECK(new_value->size() == 1 + 1 + 8 + 6 + 6 + encode_fields(r.fields).size());
}

TEST_CASE("the records of one provenance share one stored entry", "[exchange][sync]") {
  testing::TempDir dir;
  auto env = store::Env::open(dir.path()).value();
  std::vector<std::string> expected;
  REQUIRE(env->write([&](store::WriteTxn& t) -> Result<void> {
    for (int i = 0; i < 5; ++i) {
      ReceivedRecord r = sample("r" + std::to_string(i));
      r.version = static_cast<uint64_t>(i + 1);
      r.received_at += std::chrono::milliseconds(i);  // times are the record's own
      if (i == 3) r.purpose = "research";
      if (i == 4) r.peer = OrgId("icrc");  // another peer, same provenance: same entry
      JISR_TRY(put_received(t, r));
      expected.push_back(render(r));
    }
    return ok();
  }));
  std::sort(expected.begin(), expected.end());
  CHECK(held(*env) == expected);
  auto txn = env->read().value();
  CHECK(txn.count(store::Table::kProvenance) == 2);
  CHECK(held(*env, "icrc").size() == 1);
  CHECK(held(*env, "mpfp").size() == 4);

  SECTION("saving a provenance again gives the same id and stores nothing") {
    REQUIRE(env->write([&](store::WriteTxn& t) -> Result<void> {
      JISR_TRY(auto first, save_provenance(t, sample("x")));
      JISR_TRY(auto second, save_provenance(t, sample("y")));
      CHECK(first == second);
      CHECK(first.size() == 8);
      return ok();
    }));
    auto after = env->read().value();
    CHECK(after.count(store::Table::kProvenance) == 2);
  }
}

TEST_CASE("a provenance whose id another provenance holds takes the next id", "[exchange][sync]") {
  testing::TempDir dir;
  auto env = store::Env::open(dir.path()).value();
  ReceivedRecord mine = sample("r1");
  ReceivedRecord other = sample("r2");
  other.purpose = "research";
  REQUIRE(env->write([&](store::WriteTxn& t) -> Result<void> {
    // A 64-bit collision cannot be found, so one is made: the other provenance's stored tuple
    // is moved under the id that mine hashes to.
    JISR_TRY(auto id, save_provenance(t, mine));
    JISR_TRY(auto other_id, save_provenance(t, other));
    const std::string other_value(*t.get(store::Table::kProvenance, other_id));
    JISR_TRY(t.put(store::Table::kProvenance, id, other_value));
    JISR_TRY(auto next, save_provenance(t, mine));
    CHECK(parse_be64_key(next).value() == parse_be64_key(id).value() + 1);
    JISR_TRY(auto again, save_provenance(t, mine));
    CHECK(again == next);
    std::string value;
    encode_received(mine, next, encode_fields(mine.fields), value);
    return t.put(store::Table::kReceived, peer_key(mine.peer, mine.id.str()), value);
  }));
  CHECK(held(*env) == std::vector<std::string>{render(mine)});
}

TEST_CASE("a received record naming a missing provenance is an error, not a guess",
          "[exchange][sync]") {
  testing::TempDir dir;
  auto env = store::Env::open(dir.path()).value();
  const ReceivedRecord r = sample("r1");
  std::string value;
  encode_received(r, be64_key(42), encode_fields(r.fields), value);
  REQUIRE(env->write([&](store::WriteTxn& t) {
    return t.put(store::Table::kReceived, peer_key(r.peer, "r1"), value);
  }));
  auto txn = env->read().value();
  auto scan = for_each_received(txn, "", [](const ReceivedRecord&) { return true; });
  REQUIRE_FALSE(scan);
  CHECK(scan.error().code == Errc::kInternal);
  CHECK(received_version(value).value() == 7);  // what idempotence needs still reads
  CHECK_FALSE(received_version("\x03\x07"));    // an unknown format is refused
}

TEST_CASE("the inbox stores a batch's provenance once and purges records of either format",
          "[exchange][sync]") {
  FakeClock clock(from_unix_ms(1'780'000'000'000));
  testing::TempDir dir;
  auto env = store::Env::open(dir.path()).value();
  audit::AuditLog audit(*env, "iimp");
  auto src =
      YamlSource::from_file(testing::source_dir() / "policies" / "examples" / "iimp-to-mpfp.yaml");
  auto accept = policies::compile_agreement(src, RecordSchema::missing_person());
  REQUIRE(accept);
  Inbox inbox(*env, audit, clock, RecordSchema::missing_person(), OrgId("iimp"),
              pki::generate_signing_key());
  const auto send = [&](const std::string& batch_id, std::vector<std::string> ids) {
    protocol::RecordBatch batch;
    batch.batch_id = batch_id;
    batch.agreement = AgreementId("mpfp-iimp-mou");
    batch.policy_version = std::string(32, '\x11');
    batch.purpose = "locate-missing-person";
    for (const auto& id : ids)
      batch.records.push_back({RecordId(id), 1, encode_fields({{"given_name", id}})});
    REQUIRE(inbox.receive_batch(OrgId("mpfp"), batch, &accept.value()).value().accepted ==
            ids.size());
  };
  send("b1", {"a1", "a2", "a3"});
  clock.advance(std::chrono::hours(1));
  send("b2", {"b1", "b2"});
  // A record a format-1 store kept, due a day after the others.
  ReceivedRecord old = sample("z-old");
  old.retain_until = clock.now() + std::chrono::days(accept.value().retain_days() + 1);
  REQUIRE(env->write([&](store::WriteTxn& t) {
    return t.put(store::Table::kReceived, peer_key(old.peer, old.id.str()),
                 testing::format1_received_value(old));
  }));
  {
    auto txn = env->read().value();
    CHECK(txn.count(store::Table::kProvenance) == 1);
    REQUIRE(for_each_received(txn, "mpfp", [&](const ReceivedRecord& r) {
      if (r.id.str() == "z-old") return true;
      CHECK(r.sender_policy_version == std::string(64, '1'));
      CHECK(r.accept_policy_version == accept.value().version());
      CHECK(r.received_at ==
            from_unix_ms(r.id.str()[0] == 'a' ? 1'780'000'000'000 : 1'780'003'600'000));
      CHECK(r.retain_until == r.received_at + std::chrono::days(accept.value().retain_days()));
      return true;
    }));
  }
  CHECK(held(*env).size() == 6);
  CHECK(inbox.purge_expired().value() == 0);
  clock.set(from_unix_ms(1'780'000'000'000) + std::chrono::days(accept.value().retain_days()) +
            std::chrono::minutes(30));
  CHECK(inbox.purge_expired().value() == 3);
  CHECK(held(*env).size() == 3);
  clock.advance(std::chrono::days(1));
  CHECK(inbox.purge_expired().value() == 2);
  CHECK(held(*env) == std::vector<std::string>{render(old)});
  clock.advance(std::chrono::days(1));
  CHECK(inbox.purge_expired().value() == 1);
  CHECK(held(*env).empty());
}
