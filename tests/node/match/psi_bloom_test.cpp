#include <sodium.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <random>

#include "node/core/record_schema.hpp"
#include "node/match/bloom.hpp"
#include "node/match/dice.hpp"
#include "node/match/features.hpp"
#include "node/match/keys.hpp"
#include "node/match/psi.hpp"
#include "node/match/scorer.hpp"

using namespace jisr;
using namespace jisr::match;

namespace {

FieldMap fields(std::initializer_list<std::pair<const char*, const char*>> kv) {
  FieldMap m;
  for (const auto& [k, v] : kv) m.set(k, v);
  return m;
}

CompiledMatchSpec spec() {
  MatchSpec s;
  s.agreement_id = "mpfp-iimp";
  s.fields = {"given_name", "father_name", "family_name", "mother_name", "sex",
              "birth_date", "missing_date", "missing_place", "national_id"};
  auto c = compile_match_spec(s, RecordSchema::missing_person());
  REQUIRE(c);
  return c.value();
}

// The PSI decision for querier q and responder r from their keys compared in clear (the same
// kinds meet as after blinding: "PSI over real match keys across scripts" checks that).
PsiDecision psi_in_clear(const CompiledMatchSpec& s, const RecordFeatures& q, const RecordFeatures& r) {
  std::set<std::string> theirs;
  for (const auto& k : match_keys(s, r, KeySide::kResponder)) theirs.insert(k.bytes);
  std::vector<uint32_t> kinds;
  for (const auto& k : match_keys(s, q, KeySide::kQuerier)) {
    if (theirs.count(k.bytes)) kinds.push_back(k.kind);
  }
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  return psi_decide(s, kinds);
}

std::vector<MatchKey> keys(const std::vector<std::string>& values) {
  std::vector<MatchKey> out;
  for (const auto& v : values) out.push_back(MatchKey{0, v});
  return out;
}

}  // namespace

TEST_CASE("PSI round trip finds matches and only matches", "[match][psi]") {
  auto querier = keys({"alpha", "bravo", "charlie", "delta"});
  auto responder = keys({"echo", "charlie", "alpha", "foxtrot", "golf"});
  PsiSecret q = PsiSecret::generate();
  PsiSecret r = PsiSecret::generate();

  auto q_blinded = blind_keys(q, querier);
  auto r_blinded = blind_keys(r, responder);
  REQUIRE(q_blinded);
  REQUIRE(r_blinded);
  // Blinded points reveal nothing directly: not equal to the bare hash, and different under
  // the two secrets.
  CHECK(q_blinded.value()[0] != hash_to_group("alpha"));
  CHECK(q_blinded.value()[0] != r_blinded.value()[2]);

  auto q_double = reblind_all(r, q_blinded.value());  // the responder re-blinds
  auto r_double = reblind_all(q, r_blinded.value());  // the querier re-blinds
  REQUIRE(q_double);
  REQUIRE(r_double);
  auto hits = intersect(q_double.value(), r_double.value());
  std::vector<PsiHit> want = {{0, 2}, {2, 1}};
  CHECK(hits == want);
}

TEST_CASE("PSI refuses the identity and invalid points", "[match][psi]") {
  PsiSecret s = PsiSecret::generate();
  GroupElement identity{};  // all zeros encodes the identity
  auto r = s.reblind(identity);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kInvalidInput);
  GroupElement junk;
  junk.fill(0xff);  // not a canonical encoding
  auto j = s.reblind(junk);
  REQUIRE_FALSE(j);
  CHECK(j.error().code == Errc::kInvalidInput);
  std::vector<GroupElement> batch = {hash_to_group("ok"), identity};
  auto all = reblind_all(s, batch);
  REQUIRE_FALSE(all);
  CHECK(all.error().where == "psi element 1");
}

TEST_CASE("PSI secrets are per job and hash-to-group is deterministic", "[match][psi]") {
  CHECK(hash_to_group("k") == hash_to_group("k"));
  CHECK(hash_to_group("k") != hash_to_group("K"));
  PsiSecret a = PsiSecret::generate();
  PsiSecret b = PsiSecret::generate();
  CHECK(a.blind("k").value() != b.blind("k").value());
  PsiSecret moved = std::move(a);
  CHECK(moved.blind("k").value() != b.blind("k").value());
}

TEST_CASE("PSI over real match keys across scripts", "[match][psi][keys]") {
  auto s = spec();
  auto a = extract_features(s, fields({{"given_name", "عبد الرحمن"}, {"father_name", "شيركو"},
                                       {"family_name", "الخالد"}, {"birth_date", "1990"}}));
  auto b = extract_features(s, fields({{"given_name", "Abdulrahman"}, {"father_name", "Şêrko"},
                                       {"family_name", "Khalid"}, {"birth_date", "1991-06-02"}}));
  auto c = extract_features(s, fields({{"given_name", "Abdulrahman"}, {"father_name", "Ahmad"},
                                       {"family_name", "Khalid"}, {"birth_date", "1960"}}));
  auto qk = match_keys(s, a, KeySide::kQuerier);
  std::vector<MatchKey> rk;
  std::vector<int> owner;
  for (int rec = 0; rec < 2; ++rec) {
    for (auto& k : match_keys(s, rec == 0 ? b : c, KeySide::kResponder)) {
      rk.push_back(std::move(k));
      owner.push_back(rec);
    }
  }
  PsiSecret q = PsiSecret::generate();
  PsiSecret r = PsiSecret::generate();
  auto hits = intersect(reblind_all(r, blind_keys(q, qk).value()).value(),
                        reblind_all(q, blind_keys(r, rk).value()).value());
  std::vector<uint32_t> kinds_b, kinds_c;
  for (const auto& h : hits) (owner[h.theirs] == 0 ? kinds_b : kinds_c).push_back(qk[h.mine].kind);
  auto db = psi_decide(s, kinds_b);
  auto dc = psi_decide(s, kinds_c);
  CHECK(db.candidate);
  CHECK(db.evidence == "same given_name, father_name, family_name, birth_date");
  CHECK_FALSE(dc.candidate);  // a namesake with another father and birth year
  // Its presence keys match: both have a father name and a birth date, and they differ.
  CHECK(dc.evidence.find("different") != std::string::npos);
  SECTION("a typo in the own name still meets through the fuzzy twin kinds") {
    auto right = extract_features(s, fields({{"given_name", "أحمد"}, {"father_name", "عمر"},
                                             {"family_name", "المحمد"}, {"birth_date", "1985"},
                                             {"missing_place", "Hama"}, {"missing_date", "2013-05"}}));
    auto typo = extract_features(s, fields({{"given_name", "احدم"}, {"father_name", "Omar"},
                                            {"family_name", "Al-Mohammad"}, {"birth_date", "1985"},
                                            {"missing_place", "حماة"}, {"missing_date", "2013"}}));
    auto other = extract_features(s, fields({{"given_name", "Yusuf"}, {"father_name", "Omar"},
                                             {"family_name", "Al-Mohammad"}, {"birth_date", "1985"},
                                             {"missing_place", "حماة"}}));
    auto decide = [&s](const RecordFeatures& q, const RecordFeatures& r) { return psi_in_clear(s, q, r); };
    auto d = decide(right, typo);
    CHECK(d.candidate);  // 0 for the name, 2.5 + 2.5 + 3 + 2 + 2 for the rest
    CHECK(d.evidence.find("similar given_name") != std::string::npos);
    CHECK(d.evidence.find("same father_name, family_name, birth_date") != std::string::npos);
    // A brother with another name is not similar: nothing of his meets.
    CHECK_FALSE(decide(right, other).candidate);
    CHECK(decide(right, other).evidence.find("similar") == std::string::npos);
  }
  SECTION("a namesake with another father, met at the same place, is told apart") {
    auto person = extract_features(s, fields({{"given_name", "Khaled"}, {"father_name", "Omar"},
                                              {"family_name", "Haddad"}, {"missing_place", "Hama"},
                                              {"missing_date", "2013"}, {"birth_place", "Hama"}}));
    auto namesake = extract_features(s, fields({{"given_name", "خالد"}, {"father_name", "سليم"},
                                                {"family_name", "حداد"}, {"missing_place", "حماة"},
                                                {"missing_date", "2013"}, {"birth_place", "حماه"}}));
    auto d = psi_in_clear(s, person, namesake);
    CHECK(d.evidence.find("different father_name") != std::string::npos);
    CHECK_FALSE(d.candidate);  // 10.5 bits without the father's presence key, 8.5 with it
  }
}

TEST_CASE("bloom secret: both nodes derive the same, bound to the agreement", "[match][bloom]") {
  REQUIRE(sodium_init() >= 0);
  std::array<uint8_t, 32> pk_a{}, pk_b{}, pk_c{};
  std::array<uint8_t, 64> sk_a{}, sk_b{}, sk_c{};
  crypto_sign_keypair(pk_a.data(), sk_a.data());
  crypto_sign_keypair(pk_b.data(), sk_b.data());
  crypto_sign_keypair(pk_c.data(), sk_c.data());
  auto ab = derive_bloom_secret(sk_a, pk_b, "agr-1");
  auto ba = derive_bloom_secret(sk_b, pk_a, "agr-1");
  REQUIRE(ab);
  REQUIRE(ba);
  CHECK(ab.value().bytes() == ba.value().bytes());
  CHECK(derive_bloom_secret(sk_a, pk_b, "agr-2").value().bytes() != ab.value().bytes());
  CHECK(derive_bloom_secret(sk_c, pk_b, "agr-1").value().bytes() != ab.value().bytes());
  SECTION("a low-order or invalid peer key is refused") {
    std::array<uint8_t, 32> zero{};
    std::array<uint8_t, 32> x_sk{}, x_pk{};
    crypto_box_keypair(x_pk.data(), x_sk.data());
    auto low = derive_bloom_secret_x25519(x_sk, x_pk, zero, "agr-1");
    REQUIRE_FALSE(low);
    CHECK(low.error().code == Errc::kInvalidInput);
    std::array<uint8_t, 32> bad;
    bad.fill(0xff);
    CHECK_FALSE(derive_bloom_secret(sk_a, bad, "agr-1"));
  }
}

TEST_CASE("bloom encodings: similar records have high Dice, others low", "[match][bloom]") {
  auto s = spec();
  BloomSecret secret(std::array<uint8_t, 32>{1, 2, 3});
  BloomEncoder enc(s, secret);
  BloomMatrix m = enc.make_matrix();
  auto add = [&](FieldMap f) { enc.encode(extract_features(s, f), m); };
  add(fields({{"given_name", "خالد"}, {"father_name", "محمد"}, {"family_name", "الحسن"},
              {"birth_date", "1988-03-11"}, {"sex", "male"}}));
  add(fields({{"given_name", "Khaled"}, {"father_name", "Mohamed"}, {"family_name", "Al-Hasan"},
              {"birth_date", "1989"}, {"sex", "male"}}));
  add(fields({{"given_name", "Yusuf"}, {"father_name", "Omar"}, {"family_name", "Darwish"},
              {"birth_date", "1960"}, {"sex", "male"}}));
  add(fields({{"given_name", "Mohamed"}, {"father_name", "Khaled"}, {"family_name", "Al-Hasan"},
              {"birth_date", "1988"}, {"sex", "male"}}));  // given and father swapped
  REQUIRE(m.size() == 4);
  // One segment per field, a vowel, a first-name and a corrected segment per name field, a day
  // segment per date field and a region segment per place field.
  CHECK(m.words() == (s.fields.size() + 4 + 2 + 4 + 1 + 4) * kFieldWords);
  CHECK(bloom_segments(s) == s.fields.size() + 4 + 2 + 4 + 1 + 4);

  auto same = score_bloom(s, m, 0, m, 1);
  auto other = score_bloom(s, m, 0, m, 2);
  auto swapped = score_bloom(s, m, 0, m, 3);
  CHECK(same.value > s.bloom_threshold);
  CHECK(other.value < 0.2);
  CHECK(swapped.swapped);
  CHECK(swapped.value > 0.9);
  CHECK(score_bloom(s, m, 0, m, 0).value > same.value);
  SECTION("the same record under another secret encodes differently") {
    BloomSecret other_secret(std::array<uint8_t, 32>{9});
    BloomEncoder enc2(s, other_secret);
    BloomMatrix m2 = enc2.make_matrix();
    enc2.encode(extract_features(s, fields({{"given_name", "خالد"}})), m2);
    BloomMatrix m1 = enc.make_matrix();
    enc.encode(extract_features(s, fields({{"given_name", "خالد"}})), m1);
    CHECK(m1.bits != m2.bits);
  }
  SECTION("absent fields leave their segment empty and are not compared") {
    BloomMatrix e = enc.make_matrix();
    enc.encode(extract_features(s, fields({{"given_name", "خالد"}})), e);
    CHECK(e.field_pops[0] > 0);
    for (size_t f = 1; f < s.fields.size(); ++f) CHECK(e.field_pops[f] == 0);
    CHECK(score_bloom(s, e, 0, m, 0).fields.size() == 1);
  }
}

TEST_CASE("scorer: a birth date that agrees to the day weighs more than the year alone", "[match][scorer]") {
  auto s = spec();
  auto rec = [&](const char* given, const char* born) {
    return fields({{"given_name", given}, {"father_name", "محمد"}, {"family_name", "الحسن"},
                   {"birth_date", born}, {"sex", "male"}});
  };
  // The same names throughout (a person, or a cousin and namesake): only the day differs.
  const FieldMap person = rec("خالد", "1988-03-11");
  const FieldMap same_day = rec("Khaled", "1988-11-03");      // day and month swapped by a source
  const FieldMap year_only = rec("Khaled", "1988");
  const FieldMap placeholder = rec("Khaled", "1988-01-01");   // 1 January: the year only
  const FieldMap another_day = rec("Khaled", "1988-07-25");
  const FieldMap other_year = rec("Khaled", "1979-03-11");    // same day, ten years apart
  std::vector<FieldMap> all{person, same_day, year_only, placeholder, another_day, other_year};

  auto day_of = [&](const Score& sc) {
    for (const auto& c : sc.fields) {
      if (s.fields[c.field].name == "birth_date") return c.day;
    }
    return 99;
  };
  SECTION("in clear") {
    std::vector<RecordFeatures> f;
    for (const auto& m : all) f.push_back(extract_features(s, m));
    const Score sd = score_features(s, f[0], f[1]), yo = score_features(s, f[0], f[2]),
                ph = score_features(s, f[0], f[3]), ad = score_features(s, f[0], f[4]),
                oy = score_features(s, f[0], f[5]);
    CHECK(day_of(sd) == 1);
    CHECK(day_of(yo) == 0);
    CHECK(day_of(ph) == 0);
    CHECK(day_of(ad) == -1);
    CHECK(sd.value > yo.value);
    CHECK(yo.value > ad.value);
    CHECK(ph.value == Approx(yo.value));
    // A day that agrees in a year that does not adds nothing.
    CHECK(oy.value < ad.value);
    CHECK(describe(s, sd).find("birth_date 1988/1988, same day") != std::string::npos);
    CHECK(describe(s, ad).find("birth_date 1988/1988, another day") != std::string::npos);
  }
  SECTION("from Bloom filters, the same decisions") {
    BloomSecret secret(std::array<uint8_t, 32>{4, 5, 6});
    BloomEncoder enc(s, secret);
    BloomMatrix m = enc.make_matrix();
    for (const auto& r : all) enc.encode(extract_features(s, r), m);
    const int day_seg = s.fields[static_cast<size_t>(s.first_of(MatchRole::kDate))].day_segment;
    REQUIRE(day_seg >= 0);
    CHECK(m.field_pops[0 * m.fields + static_cast<size_t>(day_seg)] > 0);
    CHECK(m.field_pops[2 * m.fields + static_cast<size_t>(day_seg)] == 0);  // year only
    CHECK(m.field_pops[3 * m.fields + static_cast<size_t>(day_seg)] == 0);  // placeholder
    const Score sd = score_bloom(s, m, 0, m, 1), yo = score_bloom(s, m, 0, m, 2),
                ad = score_bloom(s, m, 0, m, 4), oy = score_bloom(s, m, 0, m, 5);
    CHECK(day_of(sd) == 1);
    CHECK(day_of(yo) == 0);
    CHECK(day_of(ad) == -1);
    CHECK(sd.value > yo.value);
    CHECK(yo.value > ad.value);
    CHECK(oy.value < ad.value);
    CHECK(describe(s, ad).find("birth_date another day") != std::string::npos);
  }
}

TEST_CASE("scorer: a name written alone meets the first of several names", "[match][scorer]") {
  auto s = spec();
  auto rec = [&](const char* mother) {
    return fields({{"given_name", "خالد"}, {"father_name", "محمد"}, {"mother_name", mother}});
  };
  std::vector<FieldMap> all{rec("فاطمة الخطيب"), rec("فاطمة"), rec("Fatima"), rec("خديجة"),
                            rec("فاطمة العلي")};
  auto mother_sim = [&](const Score& sc) {
    for (const auto& c : sc.fields) {
      if (s.fields[c.field].name == "mother_name") return c.similarity;
    }
    return -1.0;
  };
  std::vector<RecordFeatures> f;
  for (const auto& m : all) f.push_back(extract_features(s, m));
  SECTION("in clear") {
    CHECK(mother_sim(score_features(s, f[0], f[1])) == Approx(1.0));
    CHECK(mother_sim(score_features(s, f[1], f[0])) == Approx(1.0));
    CHECK(mother_sim(score_features(s, f[0], f[2])) == Approx(1.0));  // across scripts
    CHECK(mother_sim(score_features(s, f[0], f[3])) < 0.5);
    // Both wrote two names: the whole names compare, the family names differ.
    CHECK(mother_sim(score_features(s, f[0], f[4])) < 0.9);
  }
  SECTION("from Bloom filters") {
    BloomSecret secret(std::array<uint8_t, 32>{7, 7});
    BloomEncoder enc(s, secret);
    BloomMatrix m = enc.make_matrix();
    for (const auto& r : f) enc.encode(r, m);
    const auto seg = static_cast<size_t>(s.fields[3].first_word_segment);
    REQUIRE(s.fields[3].name == "mother_name");
    CHECK(m.field_pops[0 * m.fields + seg] > 0);
    CHECK(m.field_pops[1 * m.fields + seg] == 0);  // a single name
    CHECK(mother_sim(score_bloom(s, m, 0, m, 1)) == Approx(1.0));
    CHECK(mother_sim(score_bloom(s, m, 1, m, 0)) == Approx(1.0));
    CHECK(mother_sim(score_bloom(s, m, 0, m, 2)) == Approx(1.0));
    CHECK(mother_sim(score_bloom(s, m, 0, m, 3)) < 0.5);
    CHECK(mother_sim(score_bloom(s, m, 0, m, 4)) < 0.9);
  }
}

TEST_CASE("places: regions learned from one side's own records, a town meets its region", "[match][scorer]") {
  auto s = spec();
  auto rec = [&](const char* place) {
    return extract_features(s, fields({{"given_name", "خالد"}, {"father_name", "محمد"}, {"missing_place", place}}));
  };
  // The side's records: Idlib is written beside three towns, each town beside Idlib twice.
  std::vector<RecordFeatures> side;
  PlaceHierarchy from_fields(s);  // the same, learned from the records' fields (a first pass)
  for (const char* p : {"سراقب، ادلب", "ادلب - سراقب", "معرة النعمان، ادلب", "معرة النعمان - ادلب",
                        "Kafranbel, Idlib", "كفرنبل - ادلب", "حماة - السلمية"}) {
    side.push_back(rec(p));
    from_fields.learn(fields({{"given_name", "خالد"}, {"missing_place", p}}));
  }
  PlaceHierarchy places(s);
  for (const auto& f : side) places.learn(f);
  places.finish();
  from_fields.finish();
  CHECK(places.size() == from_fields.size());
  const size_t mp = 7;  // missing_place in spec()
  REQUIRE(s.fields[mp].name == "missing_place");
  auto town = rec("سراقب");
  auto town_again = town;
  places.extend(town);
  from_fields.extend(town_again);
  CHECK(town.fields[mp].regions.size() == 1);
  CHECK(town_again.fields[mp].regions == town.fields[mp].regions);
  auto region = rec("Idlib");
  places.extend(region);
  CHECK(region.fields[mp].regions.empty());  // the larger place has no larger place
  auto once = rec("السلمية");                 // seen with Hama once only: not learned
  places.extend(once);
  CHECK(once.fields[mp].regions.empty());
  auto other_town = rec("معرة النعمان");
  places.extend(other_town);

  auto place_sim = [&](const Score& sc) {
    for (const auto& c : sc.fields) {
      if (c.field == mp) return c.similarity;
    }
    return -1.0;
  };
  SECTION("in clear") {
    CHECK(place_sim(score_features(s, town, region)) == Approx(kRegionSimilarity));
    CHECK(place_sim(score_features(s, region, town)) == Approx(kRegionSimilarity));
    CHECK(place_sim(score_features(s, town, other_town)) < kDisagreeBelow);  // two towns of a region
    CHECK(score_features(s, town, region).value > score_features(s, town, other_town).value);
  }
  SECTION("from Bloom filters") {
    BloomSecret secret(std::array<uint8_t, 32>{3, 1, 4});
    BloomEncoder enc(s, secret);
    BloomMatrix m = enc.make_matrix();
    for (const auto* f : {&town, &region, &other_town}) enc.encode(*f, m);
    CHECK(place_sim(score_bloom(s, m, 0, m, 1)) == Approx(kRegionSimilarity));
    CHECK(place_sim(score_bloom(s, m, 1, m, 0)) == Approx(kRegionSimilarity));
    CHECK(place_sim(score_bloom(s, m, 0, m, 2)) < kDisagreeBelow);
  }
}

TEST_CASE("Dice kernels: properties, SIMD equals scalar, tiled equals naive", "[match][dice]") {
  std::mt19937_64 rng(42);
  const size_t words = 40;
  const size_t na = 150, nb = 97;  // not multiples of the tile size
  std::vector<uint64_t> a(na * words), b(nb * words);
  for (auto& w : a) w = rng() & rng();
  for (auto& w : b) w = rng() & rng();
  std::vector<uint32_t> pa(na), pb(nb);
  for (size_t i = 0; i < na; ++i) pa[i] = popcount_words(&a[i * words], words);
  for (size_t j = 0; j < nb; ++j) pb[j] = popcount_words(&b[j * words], words);

  SECTION("all kernels agree, also on odd lengths") {
    for (size_t len : {size_t{1}, size_t{3}, size_t{7}, size_t{8}, size_t{13}, words}) {
      for (size_t i = 0; i < 10; ++i) {
        uint32_t want = and_popcount_with(PopcountKernel::kScalar, &a[i * words], &b[i * words], len);
        CHECK(and_popcount_with(PopcountKernel::kAvx2, &a[i * words], &b[i * words], len) == want);
        CHECK(and_popcount_with(PopcountKernel::kAvx512, &a[i * words], &b[i * words], len) == want);
        CHECK(and_popcount(&a[i * words], &b[i * words], len) == want);
      }
    }
  }
  SECTION("tiled matrix equals the naive one") {
    std::vector<float> tiled(na * nb), naive(na * nb);
    dice_matrix(a.data(), pa.data(), na, b.data(), pb.data(), nb, words, tiled.data());
    dice_matrix_naive(a.data(), pa.data(), na, b.data(), pb.data(), nb, words, naive.data());
    CHECK(tiled == naive);
  }
  SECTION("Dice of a filter with itself is 1, with a disjoint one 0, symmetric") {
    std::vector<uint64_t> x(words), y(words);
    for (size_t w = 0; w < words; ++w) {
      x[w] = rng();
      y[w] = ~x[w];
    }
    uint32_t px = popcount_words(x.data(), words), py = popcount_words(y.data(), words);
    CHECK(dice(and_popcount(x.data(), x.data(), words), px, px) == Approx(1.0));
    CHECK(dice(and_popcount(x.data(), y.data(), words), px, py) == 0.0);
    CHECK(dice(and_popcount(&a[0], &b[0], words), pa[0], pb[0]) ==
          dice(and_popcount(&b[0], &a[0], words), pb[0], pa[0]));
    CHECK(dice(0, 0, 0) == 0.0);
  }
  SECTION("per-field counts add up to the row count") {
    std::vector<uint32_t> per(words / kFieldWords);
    field_and_popcounts(&a[0], &b[0], per.size(), kFieldWords, per.data());
    uint32_t sum = 0;
    for (auto c : per) sum += c;
    CHECK(sum == and_popcount(&a[0], &b[0], words));
  }
}

TEST_CASE("scorer: evidence text and relatives kept apart", "[match][scorer]") {
  auto s = spec();
  auto person = extract_features(s, fields({{"given_name", "حسن"}, {"father_name", "علي"},
                                            {"family_name", "الخطيب"}, {"mother_name", "فاطمة"},
                                            {"birth_date", "1988-04-02"}, {"sex", "male"}}));
  auto same = extract_features(s, fields({{"given_name", "Hassan"}, {"father_name", "Ali"},
                                          {"family_name", "El-Khatib"}, {"mother_name", "Fatma"},
                                          {"birth_date", "1989"}, {"sex", "male"}}));
  auto brother = extract_features(s, fields({{"given_name", "Yasser"}, {"father_name", "Ali"},
                                             {"family_name", "Al-Khatib"},
                                             {"mother_name", "Fatima"},
                                             {"birth_date", "1992"}, {"sex", "male"}}));
  auto sister = extract_features(s, fields({{"given_name", "Amina"}, {"father_name", "Ali"},
                                            {"family_name", "Al-Khatib"},
                                            {"birth_date", "1988"}, {"sex", "female"}}));
  auto s_same = score_features(s, person, same);
  auto s_brother = score_features(s, person, brother);
  auto s_sister = score_features(s, person, sister);
  CHECK(s_same.value > 0.9);
  CHECK(s_brother.value < s.bloom_threshold);
  CHECK(s_sister.value < s.bloom_threshold);
  CHECK(describe(s, s_same) ==
        "same given_name, father_name, family_name, mother_name, sex; birth_date 1988/1989");
  CHECK(describe(s, s_brother).find("different given_name") != std::string::npos);
  SECTION("no comparable field: no evidence either way") {
    auto empty = extract_features(s, FieldMap{});
    auto sc = score_features(s, person, empty);
    CHECK(sc.fields.empty());
    CHECK(sc.value == Approx(0.5));
  }
  SECTION("PSI decision weighs the fields the matched kinds cover") {
    CHECK_FALSE(psi_decide(s, {}).candidate);
    std::vector<uint32_t> all;
    for (uint32_t k = 0; k < s.keys.size(); ++k) all.push_back(k);
    auto d = psi_decide(s, all);
    CHECK(d.candidate);
    CHECK(d.fields.size() == s.fields.size() - 1);  // sex is in no default key
    std::vector<uint32_t> bogus = {9999};
    CHECK(psi_decide(s, bogus).fields.empty());
  }
}

TEST_CASE("scorer: a crosswise reading of the first two names pays the prior of a swap",
          "[match][scorer]") {
  auto s = spec();
  // A father and his son who carries the grandfather's name: the son's father name is the
  // father's given name and vice versa; nothing else agrees.
  auto son = extract_features(s, fields({{"given_name", "Omar"}, {"father_name", "Salim"},
                                         {"family_name", "Haddad"}, {"birth_date", "1990"},
                                         {"missing_place", "Hama"}}));
  auto father = extract_features(s, fields({{"given_name", "Salim"}, {"father_name", "Omar"},
                                            {"family_name", "Haddad"}, {"birth_date", "1962"},
                                            {"missing_place", "Idlib"}}));
  auto sc = score_features(s, son, father);
  CHECK(sc.value < s.bloom_threshold);
  // The crosswise reading wins only with the penalty paid.
  CHECK(sc.value == Approx(logistic_score(evidence(s, sc.fields) - (sc.swapped ? kSwapPenaltyBits : 0))));
  SECTION("a real swap with the rest agreeing stays a strong candidate") {
    auto same = extract_features(s, fields({{"given_name", "Salim"}, {"father_name", "Omar"},
                                            {"family_name", "Haddad"}, {"birth_date", "1990"},
                                            {"missing_place", "Hama"}}));
    auto sw = score_features(s, son, same);
    CHECK(sw.swapped);
    CHECK(sw.value > s.bloom_threshold);
  }
  SECTION("a side that lacks one of the two names is read crosswise too") {
    // The other source swapped the names and lost the father's: its given name is the son's
    // father name.
    auto lost = extract_features(s, fields({{"given_name", "Salim"}, {"family_name", "Haddad"},
                                            {"birth_date", "1990"}, {"missing_place", "Hama"}}));
    auto sw = score_features(s, son, lost);
    CHECK(sw.swapped);
    CHECK(sw.value > s.bloom_threshold);
    // And from filters.
    BloomSecret secret(std::array<uint8_t, 32>{5});
    BloomEncoder enc(s, secret);
    BloomMatrix m = enc.make_matrix();
    enc.encode(son, m);
    enc.encode(lost, m);
    CHECK(score_bloom(s, m, 0, m, 1).swapped);
    // Without the swap price the father alone, nothing else agreeing, stays below.
    auto other = extract_features(s, fields({{"given_name", "Salim"}, {"family_name", "Nasr"},
                                             {"birth_date", "1960"}, {"missing_place", "Idlib"}}));
    CHECK(score_features(s, son, other).value < s.bloom_threshold);
  }
}

TEST_CASE("names written in Arabic on both sides compare with their long vowels",
          "[match][scorer][bloom]") {
  auto s = spec();
  auto rec = [&](const char* given, const char* father) {
    return extract_features(s, fields({{"given_name", given}, {"father_name", father},
                                       {"family_name", "الحسن"}, {"birth_date", "1988"}}));
  };
  // Twins حسن and حسين share their consonants; so do محمد and محمود.
  const auto hasan = rec("حسن", "محمد"), husain = rec("حسين", "محمد"), hasan_latin = rec("Hassan", "Mohammed"),
             husain_latin = rec("Hussein", "Mohamed"), mahmud_father = rec("حسن", "محمود");
  auto sim = [&s](const Score& sc, const std::string& name) {
    for (const auto& c : sc.fields) {
      if (s.fields[c.field].name == name) return c.similarity;
    }
    return -1.0;
  };
  SECTION("in clear") {
    CHECK(sim(score_features(s, hasan, rec("حسن", "محمد")), "given_name") == Approx(1.0));
    // A vowel apart: "similar", no longer "same" (about 0.67 and 0.7).
    CHECK(sim(score_features(s, hasan, husain), "given_name") < 0.75);
    CHECK(sim(score_features(s, hasan, mahmud_father), "father_name") < 0.75);
    // Latin does not mark vowel length: across scripts the consonants alone decide.
    CHECK(sim(score_features(s, hasan, hasan_latin), "given_name") == Approx(1.0));
    CHECK(sim(score_features(s, husain, husain_latin), "given_name") == Approx(1.0));
    CHECK(sim(score_features(s, hasan, husain_latin), "given_name") == Approx(1.0));
    CHECK(score_features(s, hasan, husain).value < score_features(s, hasan, rec("حسن", "محمد")).value);
  }
  SECTION("through Bloom filters") {
    BloomSecret secret(std::array<uint8_t, 32>{4, 5, 6});
    BloomEncoder enc(s, secret);
    BloomMatrix m = enc.make_matrix();
    for (const auto* r : {&hasan, &husain, &hasan_latin, &mahmud_father}) enc.encode(*r, m);
    CHECK(m.field_pops[0 * m.fields + static_cast<size_t>(s.fields[0].vowel_segment)] > 0);
    CHECK(m.field_pops[2 * m.fields + static_cast<size_t>(s.fields[0].vowel_segment)] == 0);  // Latin
    // Bloom filters overlap a little more than the grams do (shared bits).
    CHECK(sim(score_bloom(s, m, 0, m, 1), "given_name") < 0.85);
    CHECK(sim(score_bloom(s, m, 0, m, 3), "father_name") < 0.85);
    CHECK(sim(score_bloom(s, m, 0, m, 2), "given_name") == Approx(1.0));
    CHECK(sim(score_bloom(s, m, 0, m, 0), "given_name") == Approx(1.0));
  }
  SECTION("a final vowel letter does not count: ى, ا and ي end names interchangeably") {
    CHECK(sim(score_features(s, rec("شذى", "محمد"), rec("شذا", "محمد")), "given_name") == Approx(1.0));
  }
}

TEST_CASE("name rarity: agreeing on a rare name weighs more than on the commonest",
          "[match][scorer]") {
  auto s = spec();
  auto rec = [&](const char* given, const char* family) {
    return extract_features(s, fields({{"given_name", given}, {"father_name", "Ali"},
                                       {"family_name", family}, {"birth_date", "1980"}}));
  };
  // The responder's records: eight Mohammads, one Yazan; family names all different.
  std::vector<RecordFeatures> theirs;
  for (const char* fam : {"Haddad", "Khatib", "Nasr", "Hamdan", "Saleh", "Omar", "Issa", "Darwish"}) {
    theirs.push_back(rec("Mohammad", fam));
  }
  theirs.push_back(rec("Yazan", "Zoubi"));
  theirs.push_back(extract_features(s, fields({{"father_name", "Ali"}})));  // no given name
  ValueRarity rarity(s);
  for (const auto& r : theirs) rarity.add(r);
  CHECK(rarity.row(0).empty());  // nothing before finish()
  rarity.finish();
  const size_t given = 0, father = 1;
  CHECK(rarity.row(8)[given] > 0.0f);
  CHECK(rarity.row(0)[given] < 0.0f);
  CHECK(rarity.row(9)[given] == 0.0f);            // absent
  CHECK(rarity.row(0)[father] == Approx(0.0f));   // everyone's father is Ali: no information
  // The same agreement pattern (given, father, birth year; family differs), a rare name vs the
  // commonest: the rare one scores higher than without rarity, the common one lower.
  const auto yazan = rec("Yazan", "Hariri"), mohammad = rec("Mohammad", "Hariri");
  const double rare = score_features(s, yazan, theirs[8], rarity.row(8)).value;
  const double common = score_features(s, mohammad, theirs[0], rarity.row(0)).value;
  CHECK(rare > score_features(s, yazan, theirs[8]).value);
  CHECK(common < score_features(s, mohammad, theirs[0]).value);
  CHECK(rare > common);
  SECTION("the same through Bloom filters") {
    BloomSecret secret(std::array<uint8_t, 32>{7});
    BloomEncoder enc(s, secret);
    BloomMatrix q = enc.make_matrix(), r = enc.make_matrix();
    enc.encode(yazan, q);
    enc.encode(mohammad, q);
    for (const auto& t : theirs) enc.encode(t, r);
    CHECK(score_bloom(s, q, 0, r, 8, rarity.row(8)).value > score_bloom(s, q, 0, r, 8).value);
    CHECK(score_bloom(s, q, 1, r, 0, rarity.row(0)).value < score_bloom(s, q, 1, r, 0).value);
  }
}

TEST_CASE("value rarity: a village agreeing weighs more than the capital; a name only similar to "
          "the commonest is another name", "[match][scorer]") {
  auto s = spec();
  // The responder's records: half of them محمد from Damascus, the rest each a name and a
  // village of its own.
  std::vector<RecordFeatures> theirs;
  const char* consonants = "BTKLRSFG";
  for (int k = 0; k < 30; ++k) {
    theirs.push_back(extract_features(s, fields({{"given_name", "محمد"}, {"missing_place", "دمشق"}})));
    const std::string name{consonants[k % 8], 'a', consonants[(k / 8) % 8], 'i', consonants[(k + 3) % 8]};
    theirs.push_back(extract_features(s, fields({{"given_name", name.c_str()}, {"missing_place", ("Kafr " + name).c_str()}})));
  }
  ValueRarity rarity(s);
  for (const auto& r : theirs) rarity.add(r);
  rarity.finish();
  const size_t given = 0, place = 7;
  REQUIRE(s.fields[place].name == "missing_place");
  CHECK(rarity.row(0)[place] < 0.0f);  // the capital
  CHECK(rarity.row(1)[place] > 0.0f);  // a village
  CHECK(rarity.row(0)[given] < -kCommonNameBits);

  auto ours = [&](const char* given_name, const char* place_name) {
    return extract_features(s, fields({{"given_name", given_name}, {"missing_place", place_name}}));
  };
  const auto village = ours("Zaid", "Kafr BaBiL");  // theirs[1]'s village, another name
  REQUIRE(village.fields[place].parts == theirs[1].fields[place].parts);
  CHECK(score_features(s, village, theirs[1], rarity.row(1)).value > score_features(s, village, theirs[1]).value);
  const auto capital = ours("Zaid", "دمشق");
  CHECK(score_features(s, capital, theirs[0], rarity.row(0)).value < score_features(s, capital, theirs[0]).value);

  auto given_sim = [](const Score& sc) {
    for (const auto& c : sc.fields) {
      if (c.field == 0) return c.similarity;
    }
    return -1.0;
  };
  const auto mahmoud = ours("محمود", "دمشق");
  const double plain = given_sim(score_features(s, mahmoud, theirs[0]));
  REQUIRE(plain > kDisagreeBelow);
  REQUIRE(plain < kSameNameSimilarity);
  CHECK(given_sim(score_features(s, mahmoud, theirs[0], rarity.row(0))) < plain);
  // The same name itself is unaffected.
  CHECK(given_sim(score_features(s, ours("محمد", "دمشق"), theirs[0], rarity.row(0))) == Approx(1.0));
}

TEST_CASE("scorer: places by containment, names tolerate one typo", "[match][scorer]") {
  auto s = spec();
  auto field_sim = [&s](const Score& sc, const std::string& name) {
    for (const auto& c : sc.fields) {
      if (s.fields[c.field].name == name) return c.similarity;
    }
    return -1.0;
  };
  SECTION("a place named coarsely lies inside the finer name") {
    auto fine = extract_features(s, fields({{"missing_place", "Al-Nabk, Rif Dimashq"}}));
    auto coarse = extract_features(s, fields({{"missing_place", "النبك"}}));
    auto other = extract_features(s, fields({{"missing_place", "Hama"}}));
    CHECK(field_sim(score_features(s, fine, coarse), "missing_place") == Approx(1.0));
    CHECK(field_sim(score_features(s, coarse, fine), "missing_place") == Approx(1.0));
    CHECK(field_sim(score_features(s, fine, other), "missing_place") < 0.3);
  }
  SECTION("one letter dropped from a short name keeps half its similarity, another name not") {
    auto full = extract_features(s, fields({{"given_name", "حسن"}}));
    auto typo = extract_features(s, fields({{"given_name", "حن"}}));
    auto other = extract_features(s, fields({{"given_name", "عمر"}}));
    double typo_sim = field_sim(score_features(s, full, typo), "given_name");
    CHECK(typo_sim > 0.5);  // about 0.57 (0.44 with bigrams alone)
    CHECK(field_sim(score_features(s, full, other), "given_name") < 0.3);
  }
}

TEST_CASE("scorer: an agreeing id is conclusive on its own, a differing one is weak",
          "[match][scorer]") {
  auto s = spec();
  int id = s.first_of(MatchRole::kId);
  REQUIRE(id >= 0);
  CHECK(s.fields[id].agree >= s.psi_threshold);
  CHECK(s.fields[id].disagree > s.fields[0].disagree);
  // PSI: the id kind alone makes a candidate.
  for (uint32_t k = 0; k < s.keys.size(); ++k) {
    if (s.keys[k].fields.size() == 1 && s.keys[k].fields[0] == static_cast<uint32_t>(id)) {
      std::vector<uint32_t> only = {k};
      CHECK(psi_decide(s, only).candidate);
    }
  }
}

TEST_CASE("blocking: shared blocks only, oversized blocks skipped", "[match][blocking]") {
  auto s = spec();
  std::array<uint8_t, 16> key{7};
  auto f1 = extract_features(s, fields({{"given_name", "محمد"}, {"father_name", "خالد"},
                                        {"birth_date", "1988"}}));
  auto f2 = extract_features(s, fields({{"given_name", "Khaled"}, {"father_name", "Mohamed"}}));
  auto f3 = extract_features(s, fields({{"given_name", "Yusuf"}, {"father_name", "Omar"}}));
  std::vector<std::vector<uint64_t>> a = {blocking_keys(s, f1, key)};
  std::vector<std::vector<uint64_t>> b = {blocking_keys(s, f2, key), blocking_keys(s, f3, key)};
  auto pairs = candidate_pairs(a, b);
  REQUIRE(pairs.size() == 1);
  CHECK(pairs[0] == std::pair<uint32_t, uint32_t>{0, 0});  // swapped names share the pair block
  CHECK(blocking_keys(s, f1, key) != blocking_keys(s, f1, std::array<uint8_t, 16>{8}));
  CHECK(candidate_pairs(a, b, 0).empty());
  SECTION("a typo in one name and another missing: a full date or a name with a month still meets") {
    auto typo = extract_features(s, fields({{"given_name", "شاجي"}, {"father_name", "محمد"},
                                            {"missing_date", "2012-08-19"}}));
    auto month = extract_features(s, fields({{"given_name", "شادي"}, {"family_name", "احمد"},
                                             {"missing_date", "2012-08"}, {"father_name", "محمد"}}));
    auto day = extract_features(s, fields({{"given_name", "Shadi"}, {"birth_date", "1994-01-17"}}));
    auto day_swapped = extract_features(s, fields({{"given_name", "Yusuf"}, {"birth_date", "1994-11-03"}}));
    auto day_unswapped = extract_features(s, fields({{"given_name", "عمر"}, {"birth_date", "1994-03-11"}}));
    auto day_typo = extract_features(s, fields({{"given_name", "شاجي"}, {"birth_date", "1994-01-17"}}));
    auto other_month = extract_features(s, fields({{"given_name", "شاجي"}, {"father_name", "علي"},
                                                   {"missing_date", "2012-09"}}));
    auto share = [&](const RecordFeatures& x, const RecordFeatures& y) {
      std::vector<std::vector<uint64_t>> xa = {blocking_keys(s, x, key)}, yb = {blocking_keys(s, y, key)};
      return !candidate_pairs(xa, yb).empty();
    };
    CHECK(share(typo, month));       // father_name with 2012-08
    CHECK(share(day, day_typo));     // the same full birth date
    CHECK(share(day_swapped, day_unswapped));  // only the date, its day and month swapped
    CHECK_FALSE(share(typo, other_month));
    CHECK_FALSE(share(day, day_unswapped));
  }
}

TEST_CASE("spellings: a rare one-edit variant of a common name is taken for a misspelling",
          "[match][scorer]") {
  auto s = spec();
  NameSpellings spellings(s);
  NameSpellings from_fields(s);  // the same, learned from the records' fields (a first pass)
  auto learn = [&](const char* given, const char* father, int times) {
    for (int k = 0; k < times; ++k) {
      auto f = fields({{"given_name", given}, {"father_name", father}});
      spellings.learn(extract_features(s, f));
      from_fields.learn(f);
    }
  };
  learn("محمد", "علي", 40);   // common
  learn("محدم", "خالد", 1);   // two letters swapped: a typo of the common one
  learn("سامي", "عمر", 12);   // two common names one letter apart: both real
  learn("رامي", "عمر", 12);
  learn("زكريا", "حسن", 1);   // rare, nothing common near it: a real rare name
  spellings.finish();
  from_fields.finish();
  CHECK(spellings.size() == from_fields.size());
  auto corrected = [&](const char* given) {
    auto f = extract_features(s, fields({{"given_name", given}}));
    spellings.extend(f);
    return f;
  };
  auto typo = corrected("محدم");
  CHECK(typo.fields[0].corrected == corrected("محمد").fields[0].skeleton);
  CHECK(corrected("محمد").fields[0].corrected.empty());  // the common name itself
  CHECK(corrected("سامي").fields[0].corrected.empty());
  CHECK(corrected("رامي").fields[0].corrected.empty());
  CHECK(corrected("زكريا").fields[0].corrected.empty());

  // The typo meets the name it misspells as similar, not the same; an unrelated name it does not.
  auto right = corrected("محمد");
  auto other = corrected("سامي");
  auto given_sim = [](const Score& sc) {
    for (const auto& c : sc.fields) {
      if (c.field == 0) return c.similarity;
    }
    return -1.0;
  };
  SECTION("in clear") {
    CHECK(given_sim(score_features(s, typo, right)) >= kMisspeltSimilarity - 1e-9);
    CHECK(given_sim(score_features(s, typo, right)) < 0.95);
    CHECK(given_sim(score_features(s, right, typo)) >= kMisspeltSimilarity - 1e-9);
    CHECK(given_sim(score_features(s, typo, other)) < kDisagreeBelow);
  }
  SECTION("from Bloom filters") {
    BloomSecret secret(std::array<uint8_t, 32>{2, 7, 1});
    BloomEncoder enc(s, secret);
    BloomMatrix m = enc.make_matrix();
    for (const auto* f : {&typo, &right, &other}) enc.encode(*f, m);
    CHECK(given_sim(score_bloom(s, m, 0, m, 1)) > 0.7);
    CHECK(given_sim(score_bloom(s, m, 1, m, 0)) > 0.7);
    CHECK(given_sim(score_bloom(s, m, 0, m, 2)) < 0.5);  // a shared letter and chance bits
  }
}

TEST_CASE("claims: of two records claiming one peer record, the weaker different person is set aside",
          "[match][scorer]") {
  // Records 0 and 1 both claim peer record 7; 2 claims 8 alone.
  std::vector<Claim> claims = {{0, 7, 0.95}, {1, 7, 0.91}, {2, 8, 0.90}};
  SECTION("different persons: the weaker claim is set aside") {
    auto aside = resolve_claims(claims, [](uint32_t, uint32_t) { return false; });
    CHECK(aside == std::vector<bool>{false, true, false});
  }
  SECTION("one person reported twice: both stay") {
    auto aside = resolve_claims(claims, [](uint32_t, uint32_t) { return true; });
    CHECK(aside == std::vector<bool>{false, false, false});
  }
  SECTION("a record claims with its strongest pair only; its weaker pairs block nobody") {
    // Record 0's best is peer 9; its weaker pair on 7 stays as an alternative, and record 1's
    // claim on 7 is not set aside by it.
    std::vector<Claim> c = {{0, 9, 0.99}, {0, 7, 0.95}, {1, 7, 0.91}};
    auto aside = resolve_claims(c, [](uint32_t, uint32_t) { return false; });
    CHECK(aside == std::vector<bool>{false, false, false});
  }
  SECTION("equal scores: both stay for a reviewer") {
    std::vector<Claim> c = {{0, 7, 0.9}, {1, 7, 0.9}};
    auto aside = resolve_claims(c, [](uint32_t, uint32_t) { return false; });
    CHECK(aside == std::vector<bool>{false, false});
  }
  SECTION("no claims") { CHECK(resolve_claims({}, [](uint32_t, uint32_t) { return false; }).empty()); }
}

TEST_CASE("same person: one side's two reports of one person, not of two brothers", "[match][scorer]") {
  auto s = spec();
  auto report = extract_features(s, fields({{"given_name", "حسن"}, {"father_name", "علي"},
                                            {"family_name", "الخطيب"}, {"mother_name", "فاطمة"},
                                            {"birth_date", "1988"}, {"missing_date", "2013-05-02"},
                                            {"missing_place", "حلب"}, {"sex", "male"}}));
  auto again = extract_features(s, fields({{"given_name", "حسن"}, {"father_name", "علي"},
                                           {"family_name", "خطيب"}, {"birth_date", "1988-04-02"},
                                           {"missing_date", "2013-05"}, {"missing_place", "مدينة حلب"},
                                           {"sex", "male"}}));
  // Everything shared but the own name, as brothers who disappeared together.
  auto brother = extract_features(s, fields({{"given_name", "ياسر"}, {"father_name", "علي"},
                                             {"family_name", "الخطيب"}, {"mother_name", "فاطمة"},
                                             {"birth_date", "1988"}, {"missing_date", "2013-05-02"},
                                             {"missing_place", "حلب"}, {"sex", "male"}}));
  auto stranger = extract_features(s, fields({{"given_name", "حسن"}, {"father_name", "محمود"},
                                              {"family_name", "الحلبي"}, {"birth_date", "1970"}}));
  CHECK(same_person(s, report, again));
  CHECK(same_person(s, again, report));
  CHECK_FALSE(same_person(s, report, brother));
  CHECK_FALSE(same_person(s, report, stranger));
}
