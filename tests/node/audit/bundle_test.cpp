// Export bundles: a third party verifies them offline; any hand edit fails.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "node/audit/bundle.hpp"
#include "tests/node/audit/audit_fixture.hpp"

using namespace jisr;
using namespace jisr::audit;
using namespace jisr::audit::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json export_of(StoreFixture& f) {
  auto b = f.env->write([&](store::WriteTxn& t) -> Result<json> {
    JISR_TRY(f.log->checkpoint_now(t, t0() + 1h, f.signer));
    return export_bundle(t, "mpfp", f.signer.public_key(), t0() + 1h);
  });
  REQUIRE(b);
  return b.value();
}

VerifyReport verify_json(const json& j, const std::optional<PublicKey>& key = std::nullopt) {
  auto r = verify_bundle(j.dump(), key);
  REQUIRE(r);
  return r.value();
}

}  // namespace

TEST_CASE("an exported bundle verifies offline; a hand-edited one does not", "[audit][bundle]") {
  StoreFixture f;
  f.append(6);
  f.checkpoint(t0() + 10s);
  f.append(2, 7);
  json b = export_of(f);
  REQUIRE(b["entries"].size() == 8);
  REQUIRE(b["checkpoints"].size() == 2);
  CHECK(b["entries"][0]["fields"] == json{"sex", "birth_date", "missing_date", "missing_place"});

  auto good = verify_json(b, f.signer.public_key());
  CHECK(good.ok());
  CHECK(good.entries == 8);
  CHECK(good.latest_valid_checkpoint->seq == 8);

  SECTION("entry JSON round-trips exactly") {
    for (const auto& e : b["entries"]) {
      auto parsed = entry_from_json(e);
      REQUIRE(parsed);
      CHECK(entry_to_json(parsed.value()) == e);
    }
  }
  SECTION("a purpose edited") {
    b["entries"][2]["purpose"] = "research";
    CHECK(findings(verify_json(b)) == "altered@3");
  }
  SECTION("a field name removed and the hash recomputed by hand") {
    auto e = entry_from_json(b["entries"][2]).value();
    e.event.fields.pop_back();
    e.hash = compute_hash(e);
    b["entries"][2] = entry_to_json(e);
    CHECK(findings(verify_json(b)) == "altered@3");
  }
  SECTION("the readable time edited") {
    b["entries"][1]["time"] = "2020-01-01T00:00:00.000Z";
    auto r = verify_json(b);
    CHECK(findings(r) == "altered@2");
    CHECK(r.findings[0].message.find("time does not match") != std::string::npos);
  }
  SECTION("an entry deleted") {
    b["entries"].erase(3);
    CHECK(findings(verify_json(b)) == "removed@4");
  }
  SECTION("two entries swapped") {
    std::swap(b["entries"][4], b["entries"][5]);
    CHECK(findings(verify_json(b)) == "reordered@5");
  }
  SECTION("an entry duplicated") {
    b["entries"].push_back(b["entries"][1]);
    CHECK(findings(verify_json(b)) == "reordered@2 inserted@2");
  }
  SECTION("the tail and its checkpoint removed: what is left is shorter, and says so") {
    b["entries"].erase(7);
    b["checkpoints"].erase(1);
    auto r = verify_json(b);
    CHECK(findings(r) == "unsigned@7");
  }
  SECTION("the tail removed, checkpoint kept") {
    b["entries"].erase(7);
    CHECK(findings(verify_json(b)) == "truncated@8");
  }
  SECTION("an entry appended without the key") {
    auto last = entry_from_json(b["entries"][7]).value();
    b["entries"].push_back(entry_to_json(make_entry(9, t0() + 2h, disclosure(9), last.hash)));
    CHECK(findings(verify_json(b)) == "unsigned@9");
  }
  SECTION("re-signed with another key: caught by the org's published key") {
    CheckpointSigner mallory = fresh_signer();
    b["public_key"] = to_hex(mallory.public_key().data(), 32);
    for (auto& c : b["checkpoints"]) {
      auto cp = checkpoint_from_json(c).value();
      c = checkpoint_to_json(sign_checkpoint(cp.org, cp.seq, cp.head, cp.time, mallory));
    }
    CHECK(verify_json(b).ok());  // self-consistent...
    auto r = verify_json(b, f.signer.public_key());
    CHECK(findings(r) == "wrong_key@0");  // ...but not signed by mpfp's key
  }
  SECTION("a checkpoint signature edited") {
    std::string sig = b["checkpoints"][0]["signature"];
    sig[0] = sig[0] == 'a' ? 'b' : 'a';
    b["checkpoints"][0]["signature"] = sig;
    CHECK(findings(verify_json(b)) == "bad_checkpoint@6");
  }
}

TEST_CASE("a bundle with batch entries round-trips and verifies", "[audit][bundle]") {
  StoreFixture f;
  f.append(2);
  REQUIRE(f.log->append(batch_disclosure({{"R-5", 1}, {"R-6", 2}}), t0() + 5s));
  json b = export_of(f);
  REQUIRE(b["entries"].size() == 3);
  CHECK(b["entries"][2]["records"] == json::array({json::array({"R-5", 1}), json::array({"R-6", 2})}));
  CHECK_FALSE(b["entries"][0].contains("records"));  // entries without records read as before
  for (const auto& e : b["entries"]) {
    auto parsed = entry_from_json(e);
    REQUIRE(parsed);
    CHECK(entry_to_json(parsed.value()) == e);
  }
  CHECK(verify_json(b, f.signer.public_key()).ok());
  SECTION("a record removed from a batch entry is caught") {
    b["entries"][2]["records"].erase(1);
    CHECK(findings(verify_json(b)) == "altered@3");
  }
}

TEST_CASE("what is not a bundle gets one clear error", "[audit][bundle]") {
  auto error_of = [](const std::string& text) {
    auto r = verify_bundle(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalidInput);
    return r.error().what;
  };
  CHECK(error_of("") == "not valid JSON");
  CHECK(error_of("{\"format\": ") == "not valid JSON");
  CHECK(error_of("[]") == "expected a JSON object");
  CHECK(error_of(R"({"format":"x","org":"a","public_key":"","exported_at":"","entries":[],"checkpoints":[]})") ==
        "unknown bundle format");
  CHECK(error_of(R"({"format":"jisr-audit-bundle-v1","org":"mpfp","public_key":"00","exported_at":"","entries":[],"checkpoints":[]})")
            .find("public_key") == 0);
  CHECK(error_of(R"({"format":"jisr-audit-bundle-v1","org":"mpfp","extra":1})").find("unknown member") == 0);
  CHECK_FALSE(verify_bundle(std::string(100000, '[') + std::string(100000, ']')));

  SECTION("a bad entry inside a bundle is a finding, not a crash") {
    StoreFixture f;
    f.append(2);
    json b = export_of(f);
    b["entries"][0]["unexpected"] = "x";
    b["entries"][1]["record_version"] = -1;
    auto r = verify_json(b);
    CHECK(findings(r) == "altered@1 altered@2");
  }
}
