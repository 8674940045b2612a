#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "node/core/record_schema.hpp"
#include "node/match/dates.hpp"
#include "node/match/features.hpp"
#include "node/match/keys.hpp"
#include "node/match/match_spec.hpp"

using namespace jisr;
using namespace jisr::match;

namespace {

FieldMap fields(std::initializer_list<std::pair<const char*, const char*>> kv) {
  FieldMap m;
  for (const auto& [k, v] : kv) m.set(k, v);
  return m;
}

CompiledMatchSpec missing_person_spec(std::string agreement = "mpfp-iimp") {
  MatchSpec spec;
  spec.agreement_id = std::move(agreement);
  spec.fields = {"given_name", "father_name", "family_name", "mother_name", "sex",
                 "birth_date", "missing_date", "missing_place", "national_id"};
  spec.ages = {AgeRule{"age_at_disappearance", "missing_date", "birth_date", 1}};
  auto c = compile_match_spec(spec, RecordSchema::missing_person());
  REQUIRE(c);
  return c.value();
}

std::set<std::string> bytes_of(const std::vector<MatchKey>& keys) {
  std::set<std::string> out;
  for (const auto& k : keys) out.insert(k.bytes);
  return out;
}

bool meet(const std::vector<MatchKey>& a, const std::vector<MatchKey>& b) {
  auto sa = bytes_of(a);
  return std::any_of(b.begin(), b.end(), [&](const MatchKey& k) { return sa.count(k.bytes); });
}

}  // namespace

TEST_CASE("dates: full, year-month, year, placeholder, age at an event", "[match][dates]") {
  auto full = parse_date_value("1988-03-11");
  REQUIRE(full);
  CHECK(full->years == YearRange{1988, 1988});
  CHECK(full->month == 3);
  CHECK(full->day == 11);
  auto ym = parse_date_value("2013-07");
  REQUIRE(ym);
  CHECK(ym->month == 7);
  CHECK(ym->day == 0);
  auto y = parse_date_value("1975");
  REQUIRE(y);
  CHECK(y->month == 0);
  SECTION("1 January is a placeholder: year only") {
    auto p = parse_date_value("1979-01-01");
    REQUIRE(p);
    CHECK(p->month == 0);
    CHECK(p->day == 0);
  }
  SECTION("invalid dates are refused") {
    CHECK_FALSE(parse_date_value("2023-02-29"));
    CHECK_FALSE(parse_date_value("88"));
    CHECK_FALSE(parse_date_value("1988/03/11"));
  }
  SECTION("age at an event gives a year range with tolerance") {
    auto b = birth_from_age("2019-05-01", 30, 1);
    REQUIRE(b);
    CHECK(b->years == YearRange{1987, 1990});
    CHECK(birth_from_age("2019", 0, 0)->years == YearRange{2018, 2019});
    CHECK_FALSE(birth_from_age("2019", -1, 1));
    CHECK_FALSE(birth_from_age("2019", 131, 1));
    CHECK_FALSE(birth_from_age("soon", 30, 1));
  }
  SECTION("distance between ranges and swapped day/month") {
    CHECK(YearRange{1988, 1988}.distance({1989, 1990}) == 1);
    CHECK(YearRange{1985, 1990}.distance({1988, 1988}) == 0);
    CHECK(YearRange{1990, 1990}.distance({1980, 1985}) == 5);
    CHECK(same_month_day(*parse_date_value("1988-03-11"), *parse_date_value("1988-11-03")));
    CHECK_FALSE(same_month_day(*parse_date_value("1988-03-11"), *parse_date_value("1988-03")));
  }
}

TEST_CASE("match spec compiles against the schema and refuses bad config", "[match][spec]") {
  const auto& schema = RecordSchema::missing_person();
  SECTION("default keys come from roles") {
    auto spec = missing_person_spec();
    std::set<std::string> ids;
    for (const auto& k : spec.keys) ids.insert(k.id);
    CHECK(ids.count("given_name+father_name+birth_date"));
    CHECK(ids.count("given_name+father_name+family_name"));
    CHECK(ids.count("given_name+mother_name+family_name") == 0);  // order follows match.fields
    CHECK(ids.count("given_name+family_name+mother_name"));
    CHECK(ids.count("given_name+family_name+missing_place"));
    CHECK(ids.count("national_id"));
    // Every default key has the person's own name except the id key.
    for (const auto& k : spec.keys) {
      if (k.id != "national_id") CHECK(k.fields.front() == 0);
    }
    CHECK(spec.fields[0].agree > spec.fields[1].agree);  // own name weighs more
  }
  SECTION("explicit keys are used as given") {
    MatchSpec s;
    s.agreement_id = "a";
    s.fields = {"given_name", "family_name", "birth_date"};
    s.keys = {KeySpec{"name-year", {"given_name", "family_name", "birth_date"}, {}}};
    auto c = compile_match_spec(s, schema);
    REQUIRE(c);
    REQUIRE(c.value().keys.size() == 1);
    CHECK(c.value().keys[0].fields == std::vector<uint32_t>{0, 1, 2});
  }
  SECTION("all problems in one error") {
    MatchSpec s;
    s.agreement_id = "";
    s.fields = {"given_name", "shoe_size", "circumstances", "given_name"};
    s.keys = {KeySpec{"k", {"family_name"}, {}}, KeySpec{"k", {"given_name"}, {}}};
    s.ages = {AgeRule{"age_at_disappearance", "missing_date", "given_name", 1}};
    auto c = compile_match_spec(s, schema);
    REQUIRE_FALSE(c);
    CHECK(c.error().code == Errc::kInvalidInput);
    const std::string& w = c.error().what;
    CHECK(w.find("agreement id is empty") != std::string::npos);
    CHECK(w.find("unknown field 'shoe_size'") != std::string::npos);
    CHECK(w.find("'circumstances' has no match role") != std::string::npos);
    CHECK(w.find("listed twice") != std::string::npos);
    CHECK(w.find("not in match.fields") != std::string::npos);
    CHECK(w.find("age rule") != std::string::npos);
  }
  SECTION("empty field list and bad thresholds") {
    MatchSpec s;
    s.agreement_id = "a";
    s.bloom_threshold = 1.5;
    auto c = compile_match_spec(s, schema);
    REQUIRE_FALSE(c);
    CHECK(c.error().what.find("match.fields is empty") != std::string::npos);
    CHECK(c.error().what.find("bloom threshold") != std::string::npos);
  }
}

TEST_CASE("match keys: cross-script, variants, domain separation", "[match][keys]") {
  auto spec = missing_person_spec();
  auto arabic = extract_features(spec, fields({{"given_name", "محمد"},
                                               {"father_name", "خالد"},
                                               {"family_name", "الحسن"},
                                               {"birth_date", "1988-05-02"},
                                               {"missing_place", "حلب"}}));
  auto latin = extract_features(spec, fields({{"given_name", "Mohamed"},
                                              {"father_name", "Khaled"},
                                              {"family_name", "Al-Hassan"},
                                              {"birth_date", "1989"},
                                              {"missing_place", "Aleppo"}}));
  auto q = match_keys(spec, arabic, KeySide::kQuerier);
  auto r = match_keys(spec, latin, KeySide::kResponder);
  REQUIRE_FALSE(q.empty());
  CHECK(meet(q, r));

  SECTION("the kinds that meet") {
    std::set<uint32_t> kinds;
    auto rb = bytes_of(r);
    for (const auto& k : q) {
      if (rb.count(k.bytes)) kinds.insert(k.kind);
    }
    std::set<std::string> ids;
    for (auto k : kinds) {
      // Kinds from keys.size() on are presence keys (the kind with the field at one position
      // "present"): presence_kind(kinds, kind, position).
      const size_t n = spec.keys.size();
      ids.insert(k < n ? spec.keys[k].id
                       : spec.keys[(k - n) % n].id + "#present@" + std::to_string((k - n) / n));
    }
    CHECK(ids.count("given_name+father_name+birth_date"));  // 1988 within 1 of 1989
    CHECK(ids.count("given_name+father_name+birth_date#present@2"));  // the birth date
    CHECK(ids.count("given_name+father_name+birth_date#present@1"));  // the father name
    // The own name is in every kind: no presence key for it (it could never be weighed).
    CHECK_FALSE(ids.count("given_name+father_name+birth_date#present@0"));
    CHECK(ids.count("given_name+father_name+family_name"));
    CHECK(ids.count("given_name+family_name+missing_place"));  // Aleppo = حلب
  }
  SECTION("birth years further apart than the tolerance do not meet") {
    auto far = extract_features(spec, fields({{"given_name", "Mohamed"},
                                              {"father_name", "Khaled"},
                                              {"birth_date", "1991"}}));
    auto near = extract_features(spec, fields({{"given_name", "محمد"},
                                               {"father_name", "خالد"},
                                               {"birth_date", "1988"}}));
    auto qn = match_keys(spec, near, KeySide::kQuerier);
    auto rf = match_keys(spec, far, KeySide::kResponder);
    auto values_only = [&spec](std::vector<MatchKey> v) {
      std::erase_if(v, [&spec](const MatchKey& k) { return k.kind >= spec.keys.size(); });
      return v;
    };
    CHECK_FALSE(meet(values_only(qn), values_only(rf)));
    CHECK(meet(qn, rf));  // the presence keys do: both have a birth date, and it differs
  }
  SECTION("another agreement's keys never meet") {
    auto other = missing_person_spec("other-agreement");
    auto r2 = match_keys(other, extract_features(other, fields({{"given_name", "Mohamed"},
                                                                {"father_name", "Khaled"},
                                                                {"family_name", "Al-Hassan"}})),
                         KeySide::kResponder);
    CHECK_FALSE(meet(q, r2));
  }
  SECTION("a kind is skipped when one of its fields is absent") {
    auto only_given = extract_features(spec, fields({{"given_name", "محمد"}}));
    CHECK(match_keys(spec, only_given, KeySide::kQuerier).empty());
  }
  SECTION("swapped given and father names meet when the birth year agrees") {
    auto swapped = extract_features(spec, fields({{"given_name", "Khalid"},
                                                  {"father_name", "Muhammad"},
                                                  {"birth_date", "1988"}}));
    CHECK(meet(q, match_keys(spec, swapped, KeySide::kResponder)));
    auto swapped_no_year = extract_features(
        spec, fields({{"given_name", "Khalid"}, {"father_name", "Muhammad"}, {"family_name", "Hasan"}}));
    CHECK_FALSE(meet(q, match_keys(spec, swapped_no_year, KeySide::kResponder)));
  }
  SECTION("age at disappearance stands in for a missing birth date") {
    auto aged = extract_features(spec, fields({{"given_name", "محمد"},
                                               {"father_name", "خالد"},
                                               {"age_at_disappearance", "25"},
                                               {"missing_date", "2013-04"}}));
    REQUIRE(aged.fields[5].present);
    CHECK(aged.fields[5].derived);
    CHECK(meet(match_keys(spec, aged, KeySide::kQuerier), r));
    auto bad_age = extract_features(spec, fields({{"age_at_disappearance", "about 25"},
                                                  {"missing_date", "2013-04"}}));
    CHECK_FALSE(bad_age.fields[5].present);
  }
  SECTION("national ids meet despite lost leading zeros and Arabic-Indic digits") {
    auto a = extract_features(spec, fields({{"national_id", "٠٦٠٨٥٥٢١٤٦٢"}}));
    auto b = extract_features(spec, fields({{"national_id", "6085521462"}}));
    CHECK(meet(match_keys(spec, a, KeySide::kQuerier), match_keys(spec, b, KeySide::kResponder)));
  }
  SECTION("keys are sorted, unique and carry no plain field name order ambiguity") {
    CHECK(std::is_sorted(q.begin(), q.end()));
    CHECK(std::adjacent_find(q.begin(), q.end()) == q.end());
  }
}

TEST_CASE("a schema with other fields works through config alone", "[match][keys][spec]") {
  auto src = YamlSource::from_string(R"(schema: tenant
fields:
  full_name: { type: string, identity: true, match: name }
  dob:       { type: date, identity: true, match: date }
  street:    { type: string, match: text }
  postcode:  { type: string, match: text }
)",
                                     "tenant.yaml");
  auto schema = RecordSchema::load(src);
  REQUIRE(schema);
  MatchSpec s;
  s.agreement_id = "city-housing";
  s.fields = {"full_name", "dob", "street", "postcode"};
  auto spec = compile_match_spec(s, schema.value());
  REQUIRE(spec);
  std::set<std::string> ids;
  for (const auto& k : spec.value().keys) ids.insert(k.id);
  CHECK(ids.count("full_name+dob"));
  CHECK(ids.count("full_name+postcode"));
  auto a = extract_features(spec.value(), fields({{"full_name", "Anna Schmidt"},
                                                  {"street", "Hauptstraße 5"},
                                                  {"postcode", "10115"}}));
  auto b = extract_features(spec.value(), fields({{"full_name", "ANNA SCHMIDT"},
                                                  {"street", "hauptstrasse 5"},
                                                  {"postcode", "10115"}}));
  CHECK(meet(match_keys(spec.value(), a, KeySide::kQuerier),
             match_keys(spec.value(), b, KeySide::kResponder)));
}
