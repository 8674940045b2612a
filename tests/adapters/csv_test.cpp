#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "adapters/column_mapping.hpp"
#include "adapters/csv_import.hpp"
#include "adapters/csv_reader.hpp"
#include "node/store/env.hpp"
#include "tests/test_support.hpp"

using namespace jisr;
using namespace jisr::adapters;

namespace {
std::vector<CsvRow> read_all(std::string text, CsvOptions opt = {}) {
  auto reader = CsvReader::from_string(std::move(text), opt);
  std::vector<CsvRow> rows;
  for (;;) {
    auto row = reader.next();
    REQUIRE(row);
    if (!row.value()) break;
    rows.push_back(std::move(*row.value()));
  }
  return rows;
}
}  // namespace

TEST_CASE("CSV: quoted fields with commas, quotes and newlines", "[adapters][csv]") {
  auto rows = read_all("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"two\nlines\",z\n");
  REQUIRE(rows.size() == 3);
  CHECK(rows[1].fields == std::vector<std::string>{"1", "x, y", "say \"hi\""});
  CHECK(rows[2].fields == std::vector<std::string>{"2", "two\nlines", "z"});
  CHECK(rows[2].line == 3);
  CHECK_FALSE(rows[2].error);
}

TEST_CASE("CSV: CRLF, BOM, empty fields and a missing final newline", "[adapters][csv]") {
  auto rows = read_all("\xEF\xBB\xBFid,name\r\n1,\r\n2,b");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].fields == std::vector<std::string>{"id", "name"});
  CHECK(rows[1].fields == std::vector<std::string>{"1", ""});
  CHECK(rows[2].fields == std::vector<std::string>{"2", "b"});
}

TEST_CASE("CSV: malformed rows are reported, reading goes on", "[adapters][csv]") {
  SECTION("invalid UTF-8") {
    auto rows = read_all("a\n\xff\xfe\nok\n");
    REQUIRE(rows.size() == 3);
    CHECK(rows[1].error == "invalid UTF-8");
    CHECK_FALSE(rows[2].error);
  }
  SECTION("overlong encodings and surrogates are invalid") {
    CHECK_FALSE(is_valid_utf8("\xC0\xAF"));
    CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));
    CHECK(is_valid_utf8("أحمد Şêrko"));
  }
  SECTION("text after a closing quote") {
    auto rows = read_all("\"a\"b,c\nx,y\n");
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].error);
    CHECK(rows[1].fields == std::vector<std::string>{"x", "y"});
  }
  SECTION("unterminated quote at the end") {
    auto rows = read_all("a,b\n1,\"open\n");
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].error.value().find("not closed") != std::string::npos);
  }
  SECTION("a field over the limit") {
    CsvOptions opt;
    opt.max_field_bytes = 8;
    auto rows = read_all("a\n123456789\nok\n", opt);
    REQUIRE(rows.size() == 3);
    CHECK(rows[1].error.value().find("longer than 8 bytes") != std::string::npos);
    CHECK(rows[2].fields == std::vector<std::string>{"ok"});
  }
  SECTION("too many columns") {
    CsvOptions opt;
    opt.max_columns = 2;
    auto rows = read_all("a,b,c\n", opt);
    CHECK(rows[0].error.value().find("more than 2 columns") != std::string::npos);
  }
}

TEST_CASE("CSV: reading survives every prefix of a tricky file", "[adapters][csv]") {
  const std::string text = "\xEF\xBB\xBFid,\"n\"\"a,me\"\r\n1,\"a\nb\"\r\n2,\xD8\xA3\n";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    auto reader = CsvReader::from_string(text.substr(0, cut));
    for (int i = 0; i < 10; ++i) {
      auto row = reader.next();
      REQUIRE(row);
      if (!row.value()) break;
    }
  }
}

TEST_CASE("CSV: rows are the same whatever sizes the source's reads have", "[adapters][csv]") {
  // Fields are views into the reader's buffer, so a row that a read cuts in two (in a quoted
  // field, between a quote and its double, between CR and LF, inside a UTF-8 sequence) must
  // come out as if it had arrived whole.
  const std::string text =
      "\xEF\xBB\xBFid,\"n\"\"a,me\"\r\n1,\"a\nb\"\r\n2,\xD8\xA3\xD8\xAD\xD9\x85\xD8\xAF\n"
      "\"x\"y,bad\n3,\"\"\"\"\r4,\xff\n5,\"q\"\"\"\n,\n";
  const auto expected = read_all(text);
  REQUIRE(expected.size() == 8);
  CHECK(expected[2].fields == std::vector<std::string>{"2", "أحمد"});
  CHECK(expected[4].fields == std::vector<std::string>{"3", "\""});
  CHECK(expected[6].fields == std::vector<std::string>{"5", "q\""});
  for (size_t step = 1; step <= 5; ++step) {
    size_t offset = 0;
    CsvReader reader([&](char* buf, size_t max) -> Result<size_t> {
      const size_t n = std::min({max, step, text.size() - offset});
      std::memcpy(buf, text.data() + offset, n);
      offset += n;
      return n;
    });
    for (const auto& want : expected) {
      auto row = reader.next();
      REQUIRE(row);
      REQUIRE(row.value());
      CHECK(row.value()->line == want.line);
      CHECK(row.value()->error == want.error);
      CHECK(row.value()->fields == want.fields);
    }
    auto end = reader.next();
    REQUIRE(end);
    CHECK_FALSE(end.value());
  }
}

TEST_CASE("CSV: a bad row ends where its line really ends", "[adapters][csv]") {
  // After the error the row is still read by the quoting rules, so a quoted field with a line
  // break later in the bad row does not split it into a second, bogus row.
  auto rows = read_all("\"a\"b,\"c\nd\"\nx,y\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].error);
  CHECK(rows[1].line == 3);
  CHECK(rows[1].fields == std::vector<std::string>{"x", "y"});
}

TEST_CASE("CSV: UTF-8 validation across word boundaries", "[adapters][csv]") {
  // The validator takes eight bytes at a time for ASCII and two-byte text; every offset of a
  // sequence against the word boundary must give the byte-wise answer.
  for (size_t pad = 0; pad < 9; ++pad) {
    const std::string ascii(pad, 'a');
    CHECK(is_valid_utf8(ascii + "\xD8\xA3\xD8\xAD\xD9\x85\xD8\xAF \xC3\xA9"));
    CHECK(is_valid_utf8(ascii + "\xD8\xA3\xE2\x82\xAC\xD8\xAD\xF0\x9F\x98\x80\xD9\x85x"));
    CHECK_FALSE(is_valid_utf8(ascii + "\xD8\xA3\xD8"));              // cut at the end
    CHECK_FALSE(is_valid_utf8(ascii + "\xD8\xA3\xA3\xD8\xAD"));      // a stray continuation
    CHECK_FALSE(is_valid_utf8(ascii + "\xD8\xA3\xC1\xBF\xD8\xAD"));  // overlong C1 lead
    CHECK_FALSE(is_valid_utf8(ascii + "\xD8\xD8\xA3zzzzzzzz"));      // a lead without its byte
    CHECK_FALSE(is_valid_utf8(ascii + "\xD8\xA3\xED\xA0\x80"));      // a surrogate
    CHECK_FALSE(is_valid_utf8(ascii + "\xF8\x88\x80\x80\x80"));      // five-byte form
  }
}

namespace {
Result<ColumnMapping> mapping_from(const std::string& yaml) {
  auto src = YamlSource::from_string(yaml, "map.yaml");
  return ColumnMapping::load(src, RecordSchema::missing_person());
}
}  // namespace

TEST_CASE("mappings: unknown fields and missing columns name the mapping line", "[adapters][mapping]") {
  auto bad = mapping_from("id: rid\nfields:\n  given_name: first\n  favourite: colour\n");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().what.find("map.yaml:4:3: 'favourite' is not a field of schema 'missing-person'") !=
        std::string::npos);
  auto m = mapping_from("id: rid\nfields:\n  given_name: first\n  family_name: last\n");
  REQUIRE(m);
  auto bound = bind_mapping(m.value(), {"rid", "first"}, nullptr);
  REQUIRE_FALSE(bound);
  CHECK(bound.error().what == "map.yaml:4: the file has no column 'last'");
  auto nokey = mapping_from("fields:\n  given_name: first\n");
  CHECK_FALSE(nokey);
}

TEST_CASE("mappings: HXL tags bind by hashtag and attributes", "[adapters][mapping]") {
  auto m = mapping_from("id: '#case+id'\nhxl: true\nfields:\n  given_name: '#person+name+given'\n"
                        "  missing_date: '#date+missing'\n");
  REQUIRE(m);
  std::vector<std::string> header{"Case", "Name", "When"};
  std::vector<std::string> tags{"#case +id", "#person+given+name+ar", "#date+missing"};
  auto bound = bind_mapping(m.value(), header, &tags);
  REQUIRE(bound);
  CHECK(bound.value().id_index == 0);
  CHECK(bound.value().fields.at(0).index == 1);
  CHECK(bound.value().fields.at(1).index == 2);
  CHECK(looks_like_hxl_row(tags));
  CHECK_FALSE(looks_like_hxl_row(header));
}

TEST_CASE("import: bad rows are skipped with reasons, good rows stored", "[adapters][import]") {
  testing::TempDir dir;
  auto env = store::Env::open(dir.path()).value();
  store::RecordStore records(*env);
  auto m = mapping_from(
      "id: rid\nfields:\n  given_name: name\n  birth_date: born\n"
      "  sex: { column: sex, values: { 'ذكر': male, 'أنثى': female, M: male } }\n");
  REQUIRE(m);
  const std::string csv =
      "rid,name,born,sex\n"
      "r1,أحمد,1988,ذكر\n"
      "r2,مريم,1990-02-30,انثى\n"   // invalid date
      ",x,1990,M\n"                 // missing id
      "r3,y\n"                      // wrong column count
      "r4,\xff,1990,M\n"            // invalid UTF-8
      "r5,z,1991,m\n";              // value translation folds case
  std::vector<RowRejection> rejected;
  ImportOptions opt;
  opt.on_reject = [&](const RowRejection& r) { rejected.push_back(r); };
  auto reader = CsvReader::from_string(csv);
  auto counts = import_csv(reader, m.value(), RecordSchema::missing_person(), records, opt);
  REQUIRE(counts);
  CHECK(counts.value().imported == 2);
  CHECK(counts.value().rejected == 4);
  REQUIRE(rejected.size() == 4);
  CHECK(rejected[0].line == 3);
  CHECK(rejected[0].reason == "field 'birth_date' is not a date (YYYY, YYYY-MM or YYYY-MM-DD)");
  CHECK(rejected[1].reason == "missing id");
  CHECK(rejected[2].reason == "2 columns, the header has 4");
  CHECK(rejected[3].reason == "invalid UTF-8");
  auto txn = env->read();
  auto r1 = records.get(txn.value(), RecordId("r1")).value();
  REQUIRE(r1);
  CHECK(r1->fields.get("sex") == "male");
  CHECK(records.get(txn.value(), RecordId("r5")).value()->fields.get("sex") == "male");

  SECTION("re-import changes nothing; dry run writes nothing") {
    auto again = CsvReader::from_string(csv);
    auto c2 = import_csv(again, m.value(), RecordSchema::missing_person(), records, {});
    CHECK(c2.value().unchanged == 2);
    CHECK(c2.value().imported == 0);
    ImportOptions dry;
    dry.dry_run = true;
    auto changed = CsvReader::from_string("rid,name,born,sex\nr1,أحمد,1989,ذكر\nr9,n,2000,M\n");
    auto c3 = import_csv(changed, m.value(), RecordSchema::missing_person(), records, dry);
    CHECK(c3.value().updated == 1);
    CHECK(c3.value().imported == 1);
    auto t2 = env->read();
    CHECK(records.count(t2.value()) == 2);
    CHECK(records.get(t2.value(), RecordId("r1")).value()->fields.get("birth_date") == "1988");
  }
}

TEST_CASE("CSV: a row reused across calls holds exactly the current row", "[adapters][csv]") {
  // Import reads into one CsvRowView for the whole file; leftovers of a longer, quoted or bad
  // row must never leak into the next one.
  auto reader = CsvReader::from_string(
      "a,b,c,d\n\"x\"\"y\",,\"long\nvalue\",4\n1,2\n\"open,\"bad\"\n,\n5,6,7,8\n");
  CsvRowView row;
  std::vector<std::vector<std::string>> seen;
  std::vector<bool> bad;
  for (;;) {
    auto more = reader.next(row);
    REQUIRE(more);
    if (!more.value()) break;
    bad.push_back(row.error.has_value());
    if (!row.error) seen.emplace_back(row.fields.begin(), row.fields.end());
  }
  REQUIRE(bad == std::vector<bool>{false, false, false, true, false, false});
  REQUIRE(seen.size() == 5);
  CHECK(seen[0] == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(seen[1] == std::vector<std::string>{"x\"y", "", "long\nvalue", "4"});
  CHECK(seen[2] == std::vector<std::string>{"1", "2"});
  CHECK(seen[3] == std::vector<std::string>{"", ""});
  CHECK(seen[4] == std::vector<std::string>{"5", "6", "7", "8"});
}

TEST_CASE("import: records are stored exactly as FieldMap would encode them", "[adapters][import]") {
  // Import encodes straight from the row in field-name order, whatever the column order.
  testing::TempDir dir;
  auto env = store::Env::open(dir.path()).value();
  store::RecordStore records(*env);
  auto m = mapping_from(
      "id: rid\nfields:\n  sex: { column: sex, values: { F: female } }\n  given_name: name\n"
      "  birth_date: born\n  family_name: fam\n");
  REQUIRE(m);
  auto reader = CsvReader::from_string("sex,fam,rid,born,name\nF,,r1,1990-02,مريم\n,حداد,r2,,أحمد\n");
  auto counts = import_csv(reader, m.value(), RecordSchema::missing_person(), records, {});
  REQUIRE(counts);
  CHECK(counts.value().imported == 2);
  FieldMap r1;
  r1.set("sex", "female");
  r1.set("given_name", "مريم");
  r1.set("birth_date", "1990-02");
  FieldMap r2;
  r2.set("family_name", "حداد");
  r2.set("given_name", "أحمد");
  auto txn = env->read();
  auto got1 = records.get(txn.value(), RecordId("r1")).value();
  auto got2 = records.get(txn.value(), RecordId("r2")).value();
  REQUIRE(got1);
  REQUIRE(got2);
  CHECK(got1->fields == r1);
  CHECK(got2->fields == r2);
}
