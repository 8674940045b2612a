#include <catch2/catch.hpp>

#include "node/core/bytes.hpp"
#include "node/core/digest.hpp"
#include "node/core/ids.hpp"
#include "node/core/node_config.hpp"
#include "node/core/partial_date.hpp"
#include "node/core/record.hpp"
#include "node/core/record_schema.hpp"
#include "node/core/yaml_source.hpp"
#include "tests/test_support.hpp"

using namespace jisr;

TEST_CASE("partial dates parse the three ISO precisions and refuse the rest", "[core]") {
  CHECK(PartialDate::parse("1988")->to_string() == "1988");
  CHECK(PartialDate::parse("1988-04")->to_string() == "1988-04");
  CHECK(PartialDate::parse("1988-04-12")->to_string() == "1988-04-12");
  CHECK(PartialDate::parse("2024-02-29").has_value());
  CHECK_FALSE(PartialDate::parse("2023-02-29"));
  CHECK_FALSE(PartialDate::parse("1988-13"));
  CHECK_FALSE(PartialDate::parse("1988-00-10"));
  CHECK_FALSE(PartialDate::parse("88"));
  CHECK_FALSE(PartialDate::parse("1988/04/12"));
  CHECK_FALSE(PartialDate::parse("١٩٨٨"));
  CHECK_FALSE(PartialDate::parse(""));
  const auto y = *PartialDate::parse("1988");
  CHECK(y.earliest() == 19880101);
  CHECK(y.latest() == 19881231);
  CHECK(PartialDate::parse("2024-02")->latest() == 20240229);
}

TEST_CASE("ids are validated", "[core]") {
  CHECK(is_valid_org_id("mpfp"));
  CHECK(is_valid_org_id("un-iimp-2"));
  CHECK_FALSE(is_valid_org_id("m"));
  CHECK_FALSE(is_valid_org_id("MPFP"));
  CHECK_FALSE(is_valid_org_id(std::string(33, 'a')));
  CHECK_FALSE(is_valid_org_id("a b"));
  CHECK(is_valid_record_id("R100423"));
  CHECK_FALSE(is_valid_record_id(""));
  CHECK_FALSE(is_valid_record_id("a,b"));
  CHECK_FALSE(is_valid_record_id("../etc"));
  CHECK_FALSE(is_valid_record_id("a b"));
}

TEST_CASE("field maps encode canonically and decode with bounds", "[core]") {
  FieldMap a;
  a.set("b", "2");
  a.set("a", "1");
  a.set("c", "");  // empty means absent
  FieldMap b;
  b.set("a", "1");
  b.set("b", "2");
  CHECK(a == b);
  CHECK(encode_fields(a) == encode_fields(b));
  CHECK(a.size() == 2);
  auto decoded = decode_fields(encode_fields(a));
  REQUIRE(decoded);
  CHECK(decoded.value() == a);
  // The allocation-free encoder of already sorted entries writes the same bytes.
  std::string direct;
  const std::vector<FieldView> sorted{{"a", "1"}, {"b", "2"}};
  encode_sorted_fields(sorted, direct);
  CHECK(direct == encode_fields(a));
  // Decoding in place gives the same fields as views of the bytes.
  std::vector<FieldView> views{{"stale", "entry"}};
  REQUIRE(decode_fields_view(direct, views));
  CHECK(views == sorted);
  CHECK(FieldsView(views).get("b") == "2");
  CHECK_FALSE(FieldsView(views).has("c"));
  SECTION("corrupt input is an error, never a crash") {
    const std::string enc = encode_fields(a);
    for (size_t cut = 0; cut < enc.size(); ++cut) {
      CHECK_FALSE(decode_fields(enc.substr(0, cut)));
      CHECK_FALSE(decode_fields_view(enc.substr(0, cut), views));
    }
    CHECK_FALSE(decode_fields(enc + "x"));
    CHECK_FALSE(decode_fields_view(enc + "x", views));
    CHECK_FALSE(decode_fields(std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11)));
    // Out of order or repeated names: not canonical.
    const std::string swapped = std::string("\x01\x02") + "\x01" + "b" + "\x01" + "2" + "\x01" + "a" + "\x01" + "1";
    CHECK_FALSE(decode_fields(swapped));
    CHECK_FALSE(decode_fields_view(swapped, views));
    const auto two = [](std::string_view first, std::string_view second) {
      return std::string("\x01\x02") + char(first.size()) + std::string(first) + "\x01" + "1" + char(second.size()) +
             std::string(second) + "\x01" + "2";
    };
    CHECK_FALSE(decode_fields_view(two("a", "a"), views));    // repeated
    CHECK_FALSE(decode_fields_view(two("ab", "a"), views));   // a prefix sorts first
    CHECK(decode_fields_view(two("a", "ab"), views));
    CHECK(decode_fields_view(two("z", "\xd8\xa7"), views));   // bytes compare unsigned
    CHECK_FALSE(decode_fields_view(two("\xd8\xa7", "z"), views));
  }
}

TEST_CASE("varints and big-endian keys round-trip", "[core]") {
  ByteWriter w;
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, ~0ull}) w.varint(v);
  ByteReader r(w.str());
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, ~0ull}) CHECK(r.varint() == v);
  CHECK(r.at_end());
  CHECK(be64_key(1) < be64_key(256));
  CHECK(parse_be64_key(be64_key(123456789)) == 123456789u);
}

TEST_CASE("sha256 matches the standard test vector", "[core]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Builder b;
  b.add("a").add("bc");
  CHECK(to_hex(b.finish()) == sha256_hex("abc"));
  // finish() starts it again, empty.
  b.add("de");
  CHECK(to_hex(b.finish()) == sha256_hex("de"));
  CHECK(to_hex(b.finish()) == sha256_hex(""));
  const Sha256 h = sha256("abc");
  const Sha256Hex chars = to_hex_chars(h);
  CHECK(std::string(chars.data(), chars.size()) == to_hex(h));
}

TEST_CASE("strict YAML reports duplicate and unknown keys with positions", "[core][yaml]") {
  auto src = YamlSource::from_string("a: 1\nb: 2\na: 3\nc:\n  x: 1\n  x: 2\n", "t.yaml");
  REQUIRE(src.diagnostics().size() == 2);
  CHECK(src.diagnostics()[0].to_string() == "t.yaml:3:1: duplicate key 'a'");
  CHECK(src.diagnostics()[1].to_string() == "t.yaml:6:3: duplicate key 'x'");
  auto ok = YamlSource::from_string("a: 1\nzz: 2\n", "u.yaml");
  CHECK_FALSE(ok.check_keys(ok.root(), {"a"}));
  CHECK(ok.diagnostics().at(0).to_string().rfind("u.yaml:2:1: unknown key 'zz'", 0) == 0);
  auto bad = YamlSource::from_string("a: [1, 2\n", "v.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.diagnostics()[0].to_string().rfind("v.yaml:", 0) == 0);
}

TEST_CASE("the built-in schema knows its fields, patterns and values", "[core][schema]") {
  const auto& s = RecordSchema::missing_person();
  CHECK(s.knows("given_name"));
  CHECK(s.knows("consent_share_iimp"));
  CHECK(s.knows("consent_share_mpfp"));
  CHECK_FALSE(s.knows("consent_share_"));
  CHECK_FALSE(s.knows("favourite_colour"));
  CHECK(s.find("given_name")->match == MatchRole::kName);
  CHECK(s.canonical_value("birth_date", "1988-04").value() == "1988-04");
  // Every date parse() accepts is already canonical, so canonical_view never reformats.
  for (const char* d : {"0001", "1988", "1988-04", "1988-04-30", "2000-02-29"}) {
    CHECK(RecordSchema::canonical_view(*s.find("birth_date"), "birth_date", d).value() == d);
    CHECK(PartialDate::parse(d)->to_string() == d);
  }
  CHECK_FALSE(s.canonical_value("birth_date", "1988-4"));
  CHECK_FALSE(s.canonical_value("birth_date", "1999-02-29"));
  CHECK_FALSE(s.canonical_value("birth_date", "12/04/1988"));
  CHECK(s.canonical_value("sex", "female").value() == "female");
  CHECK_FALSE(s.canonical_value("sex", "F"));
  CHECK(s.canonical_value("consent_share_iimp", "yes").value() == "yes");
  CHECK_FALSE(s.canonical_value("age_at_disappearance", "3x"));
  CHECK_FALSE(s.canonical_value("given_name", std::string(300, 'a')));
}

TEST_CASE("schema files are checked with positions", "[core][schema]") {
  auto src = YamlSource::from_string(
      "schema: s\nfields:\n  a: { type: strng }\n  B: { type: string }\n  c: { type: enum }\n"
      "  d: { type: string, colour: red }\n",
      "s.yaml");
  auto schema = RecordSchema::load(src);
  REQUIRE_FALSE(schema);
  const auto& text = schema.error().what;
  CHECK(text.find("s.yaml:3:") != std::string::npos);  // unknown type
  CHECK(text.find("s.yaml:4:3: field name 'B'") != std::string::npos);
  CHECK(text.find("enum field needs") != std::string::npos);
  CHECK(text.find("unknown key 'colour'") != std::string::npos);
}

TEST_CASE("age fields name the birth and event date fields they estimate", "[core][schema]") {
  const auto* age = RecordSchema::missing_person().find("age_at_disappearance");
  REQUIRE(age != nullptr);
  CHECK(age->age_of == "birth_date");
  CHECK(age->age_at == "missing_date");
  auto bad = YamlSource::from_string(
      "schema: s\nfields:\n  born: { type: date }\n  seen: { type: string }\n"
      "  age: { type: integer, age_of: born, age_at: seen }\n"
      "  years: { type: string, age_of: born, age_at: born }\n  half: { type: integer, age_of: born }\n",
      "s.yaml");
  auto schema = RecordSchema::load(bad);
  REQUIRE_FALSE(schema);
  const auto& text = schema.error().what;
  CHECK(text.find("s.yaml:5:8: field 'age': 'seen' is not a date field") != std::string::npos);
  CHECK(text.find("must be of type integer") != std::string::npos);
  CHECK(text.find("needs both 'age_of'") != std::string::npos);
}

TEST_CASE("node.yaml round-trips and refuses bad values", "[core][config]") {
  testing::TempDir dir;
  NodeConfig cfg;
  cfg.org = OrgId("mpfp");
  cfg.listen = HostPort::parse("127.0.0.1:0").value();
  cfg.peers.push_back({OrgId("iimp"), HostPort::parse("[::1]:7401").value()});
  cfg.limits.batch_records = 42;
  REQUIRE(cfg.save(dir / "node.yaml"));
  auto back = NodeConfig::load(dir / "node.yaml");
  REQUIRE(back);
  CHECK(back.value().org.str() == "mpfp");
  CHECK(back.value().peers.at(0).address.to_string() == "[::1]:7401");
  CHECK(back.value().limits.batch_records == 42);
  testing::write_text(dir / "bad.yaml", "org: mpfp\nlisten: nowhere\nlimits: { batch_records: 0 }\nextra: 1\n");
  auto bad = NodeConfig::load(dir / "bad.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().what.find("bad.yaml:2:9: 'nowhere' is not HOST:PORT") != std::string::npos);
  CHECK(bad.error().what.find("batch_records must be between") != std::string::npos);
  CHECK(bad.error().what.find("unknown key 'extra'") != std::string::npos);
  CHECK_FALSE(HostPort::parse("host:99999"));
  CHECK_FALSE(HostPort::parse(":80"));
  CHECK_FALSE(HostPort::parse("a:b:80"));
}
