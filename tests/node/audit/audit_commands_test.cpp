// `jisr audit ...` on a real node home made by `jisr init`. Entries are written through the
// audit API on the home's own store (the test-only way in: the sharing code will write real
// disclosures later), then the commands are run as an administrator would, including the
// tamper cases: verify must exit 1 and name the sequence number.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "node/audit/audit_log.hpp"
#include "node/audit/checkpoint.hpp"
#include "node/core/file_io.hpp"
#include "tests/node/audit/audit_fixture.hpp"
#include "tests/test_support.hpp"

using namespace jisr;
using namespace jisr::audit;
using namespace jisr::audit::testing;
using jisr::testing::run_jisr;
using jisr::testing::TempDir;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct NodeHomeFixture {
  TempDir tmp;
  std::string dir = (tmp / "mpfp").string();

  NodeHomeFixture() {
    auto r = run_jisr({"init", "--org", "mpfp", "--dir", dir});
    REQUIRE(r.exit_code == 0);
  }
  // Runs fn with the home's store open, then closes it before jisr runs.
  template <class F>
  void with_store(F&& fn) {
    auto env = store::Env::open(std::filesystem::path(dir) / "data");
    REQUIRE(env);
    AuditLog log(*env.value(), "mpfp");
    fn(*env.value(), log);
  }
  CheckpointSigner signer() {
    auto hex = read_file(std::filesystem::path(dir) / "pki" / "sign.key");
    REQUIRE(hex);
    std::string text = hex.value();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    auto secret = parse_hex<64>(text);
    REQUIRE(secret);
    return CheckpointSigner(secret.value());
  }
  // R-1..R-n disclosed to iimp, a withdrawal of R-2, an import; checkpoint after the first 5.
  void populate(int n) {
    auto s = signer();
    with_store([&](store::Env& env, AuditLog& log) {
      REQUIRE(log.append(import_event(static_cast<uint64_t>(n)), t0()));
      for (int i = 1; i <= n; ++i) {
        REQUIRE(log.append(disclosure(i), t0() + std::chrono::seconds(i)));
        if (i == 4) {
          REQUIRE(env.write([&](store::WriteTxn& t) { return log.checkpoint_now(t, t0() + 1min, s); }));
        }
      }
      AuditEvent w = disclosure(2);
      w.kind = AuditKind::kWithdrawalSent;
      w.fields.clear();
      w.detail = "consent withdrawn";
      REQUIRE(log.append(w, t0() + 1h));
    });
  }
  void put_raw(store::Table table, const std::string& key, const std::string& value) {
    with_store([&](store::Env& env, AuditLog&) {
      REQUIRE(env.write([&](store::WriteTxn& t) { return t.put(table, key, value); }));
    });
  }
  void del_raw(store::Table table, const std::string& key) {
    with_store([&](store::Env& env, AuditLog&) {
      REQUIRE(env.write([&](store::WriteTxn& t) -> Result<void> {
        JISR_TRY(t.del(table, key));
        return ok();
      }));
    });
  }
  std::string raw(uint64_t seq) {
    std::string out;
    with_store([&](store::Env& env, AuditLog&) {
      auto txn = env.read();
      REQUIRE(txn);
      out = std::string(*txn.value().get(store::Table::kAuditLog, be64_key(seq)));
    });
    return out;
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("jisr audit log, record and verify on a populated node", "[audit][cli]") {
  NodeHomeFixture node;
  node.populate(6);  // seq 1 import, 2..7 disclosures R-1..R-6, 8 withdrawal of R-2

  SECTION("log shows entries, filters by kind, time and limit") {
    auto r = run_jisr({"audit", "log", "--dir", node.dir});
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "record_imported"));
    CHECK(contains(r.out, "record=R-3 v1 agreement=mpfp-iimp-2026 purpose=tracing fields=sex,birth_date"));
    auto kinds = run_jisr({"audit", "log", "--dir", node.dir, "--kind", "withdrawal_sent", "--json"});
    REQUIRE(kinds.exit_code == 0);
    auto j = json::parse(kinds.out);
    REQUIRE(j.size() == 1);
    CHECK(j[0]["seq"] == 8);
    CHECK(j[0]["record_id"] == "R-2");
    auto limited = run_jisr({"audit", "log", "--dir", node.dir, "--limit", "2", "--json"});
    auto l = json::parse(limited.out);
    REQUIRE(l.size() == 2);
    CHECK(l[0]["seq"] == 7);
    auto since = run_jisr({"audit", "log", "--dir", node.dir, "--since", format_utc(t0() + 30min), "--json"});
    CHECK(json::parse(since.out).size() == 1);
    auto bad_kind = run_jisr({"audit", "log", "--dir", node.dir, "--kind", "everything"});
    CHECK(bad_kind.exit_code == 2);
    CHECK(contains(bad_kind.err, "jisr: error: --kind: unknown kind 'everything'"));
    auto bad_since = run_jisr({"audit", "log", "--dir", node.dir, "--since", "yesterday"});
    CHECK(bad_since.exit_code == 2);
  }
  SECTION("record lists each disclosure and withdrawal of one record") {
    auto r = run_jisr({"audit", "record", "--dir", node.dir, "R-2", "--json"});
    REQUIRE(r.exit_code == 0);
    auto j = json::parse(r.out);
    REQUIRE(j["disclosures"].size() == 1);
    CHECK(j["disclosures"][0]["peer"] == "iimp");
    CHECK(j["disclosures"][0]["agreement_id"] == "mpfp-iimp-2026");
    CHECK(j["disclosures"][0]["purpose"] == "tracing");
    CHECK(j["disclosures"][0]["fields"].size() == 4);
    REQUIRE(j["withdrawals"].size() == 1);
    CHECK(j["withdrawals"][0]["kind"] == "withdrawal_sent");
    auto text = run_jisr({"audit", "record", "--dir", node.dir, "R-2"});
    CHECK(contains(text.out, "record R-2: 1 disclosure, 1 withdrawal event"));
    auto none = run_jisr({"audit", "record", "--dir", node.dir, "R-99"});
    CHECK(none.exit_code == 0);
    CHECK(contains(none.out, "record R-99: 0 disclosures"));
    CHECK(run_jisr({"audit", "record", "--dir", node.dir, "bad id"}).exit_code == 2);
  }
  SECTION("record finds a disclosure inside a batch entry") {
    node.with_store([&](store::Env&, AuditLog& log) {
      REQUIRE(log.append(batch_disclosure({{"R-1", 2}, {"R-7", 1}}), t0() + 2h));
    });
    auto r = run_jisr({"audit", "record", "--dir", node.dir, "R-7", "--json"});
    REQUIRE(r.exit_code == 0);
    auto j = json::parse(r.out);
    REQUIRE(j["disclosures"].size() == 1);
    CHECK(j["disclosures"][0]["kind"] == "batch_disclosed");
    CHECK(j["disclosures"][0]["seq"] == 9);
    CHECK(j["disclosures"][0]["record_version"] == 1);
    CHECK(j["disclosures"][0]["fields"].size() == 4);
    auto text = run_jisr({"audit", "record", "--dir", node.dir, "R-1"});
    CHECK(contains(text.out, "record R-1: 2 disclosures"));
    auto log = run_jisr({"audit", "log", "--dir", node.dir, "--kind", "batch_disclosed"});
    CHECK(contains(log.out, "records=2"));
    CHECK(run_jisr({"audit", "verify", "--dir", node.dir}).exit_code == 0);
  }
  SECTION("verify passes on an untouched log") {
    auto r = run_jisr({"audit", "verify", "--dir", node.dir});
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "8 entries (seq 1..8), 1 checkpoint,"));
    CHECK(contains(r.out, "latest signed checkpoint: seq 5"));
    CHECK(contains(r.out, "ok: the chain"));
  }
  SECTION("verify: one byte of an entry changed") {
    std::string bytes = node.raw(4);
    bytes[bytes.find("R-3") + 2] = '9';
    node.put_raw(store::Table::kAuditLog, be64_key(4), bytes);
    auto r = run_jisr({"audit", "verify", "--dir", node.dir});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, "FAIL seq 4: content does not match its hash (altered)"));
    CHECK(contains(r.err, "jisr: error: audit verification failed: 1 problem"));
  }
  SECTION("verify: an entry deleted") {
    node.del_raw(store::Table::kAuditLog, be64_key(6));
    auto r = run_jisr({"audit", "verify", "--dir", node.dir});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, "FAIL seq 6: missing (removed)"));
  }
  SECTION("verify: two entries swapped") {
    const std::string a = node.raw(6), b = node.raw(7);
    node.put_raw(store::Table::kAuditLog, be64_key(6), b);
    node.put_raw(store::Table::kAuditLog, be64_key(7), a);
    auto r = run_jisr({"audit", "verify", "--dir", node.dir, "--json"});
    CHECK(r.exit_code == 1);
    auto j = json::parse(r.out);
    REQUIRE(j["findings"].size() == 2);
    CHECK(j["findings"][0]["kind"] == "reordered");
    CHECK(j["findings"][0]["seq"] == 6);
    CHECK(j["findings"][1]["seq"] == 7);
  }
  SECTION("verify: the tail truncated after a checkpoint, counter and all") {
    for (uint64_t s = 4; s <= 8; ++s) node.del_raw(store::Table::kAuditLog, be64_key(s));
    auto e3 = decode_entry(node.raw(3)).value();
    node.put_raw(store::Table::kMeta, std::string(kHeadMetaKey),
                 be64_key(3) + std::string(e3.hash.begin(), e3.hash.end()));
    auto r = run_jisr({"audit", "verify", "--dir", node.dir});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, "FAIL seq 4..5: missing: a signed checkpoint covers seq 5 (tail truncated)"));
  }
  SECTION("verify: a checkpoint signed by a wrong key") {
    CheckpointSigner mallory = fresh_signer();
    auto e8 = decode_entry(node.raw(8)).value();
    node.put_raw(store::Table::kAuditCheckpoints, be64_key(8),
                 encode_checkpoint(sign_checkpoint("mpfp", 8, e8.hash, t0() + 2h, mallory)));
    auto r = run_jisr({"audit", "verify", "--dir", node.dir});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, "FAIL checkpoint at seq 8: signed by key"));
    CHECK(contains(r.out, "not this node's key"));
  }
  SECTION("export, then verify the bundle offline against the published key") {
    const std::string bundle = (node.tmp / "audit.json").string();
    auto r = run_jisr({"audit", "export", "--dir", node.dir, "--out", bundle});
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "exported 8 entries and 2 checkpoints of mpfp"));
    struct stat st{};
    REQUIRE(::stat(bundle.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const std::string pub = node.dir + "/pki/sign.pub";
    auto v = run_jisr({"audit", "verify", "--bundle", bundle, "--pubkey", pub});
    CHECK(v.exit_code == 0);
    CHECK(contains(v.out, "ok: the chain"));
    // The bundle edited by hand: a disclosure's purpose changed.
    auto j = json::parse(jisr::testing::read_text(bundle));
    j["entries"][3]["purpose"] = "research";
    jisr::testing::write_text(bundle, j.dump(1));
    auto edited = run_jisr({"audit", "verify", "--bundle", bundle});
    CHECK(edited.exit_code == 1);
    CHECK(contains(edited.out, "FAIL seq 4: content does not match its hash (altered)"));
    // The log itself is unchanged by export (besides its new checkpoint) and still verifies.
    CHECK(run_jisr({"audit", "verify", "--dir", node.dir}).exit_code == 0);
  }
  SECTION("checkpoint signs the head on demand") {
    auto r = run_jisr({"audit", "checkpoint", "--dir", node.dir, "--json"});
    REQUIRE(r.exit_code == 0);
    CHECK(json::parse(r.out)["seq"] == 8);
    auto v = run_jisr({"audit", "verify", "--dir", node.dir});
    CHECK(contains(v.out, "latest signed checkpoint: seq 8"));
  }
  SECTION("a stored peer head is checked against DIR/peers/ORG.sign.pub") {
    CheckpointSigner iimp = fresh_signer();
    auto head = sign_checkpoint("iimp", 40, sha256("iimp head"), t0(), iimp);
    node.with_store([&](store::Env& env, AuditLog&) {
      REQUIRE(env.write([&](store::WriteTxn& t) {
        return AuditLog::store_peer_checkpoint(t, "iimp", head, iimp.public_key());
      }));
    });
    // Pin iimp in node.yaml with a key file that is NOT the key that signed the stored head.
    auto yaml = jisr::testing::read_text(node.dir + "/node.yaml");
    const std::string no_peers = "peers:\n  []\n";
    REQUIRE(contains(yaml, no_peers));
    yaml.replace(yaml.find(no_peers), no_peers.size(), "peers:\n  - org: iimp\n    address: 127.0.0.1:7401\n");
    jisr::testing::write_text(node.dir + "/node.yaml", yaml);
    CheckpointSigner other = fresh_signer();
    jisr::testing::write_text(node.dir + "/peers/iimp.sign.pub", to_hex(other.public_key().data(), 32) + "\n");
    auto r = run_jisr({"audit", "verify", "--dir", node.dir});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, "FAIL peer iimp checkpoint at seq 40: signed by key"));
    jisr::testing::write_text(node.dir + "/peers/iimp.sign.pub", to_hex(iimp.public_key().data(), 32) + "\n");
    auto good = run_jisr({"audit", "verify", "--dir", node.dir});
    CHECK(good.exit_code == 0);
    CHECK(contains(good.out, "peer checkpoints checked: 1"));
  }
}
