#include "node/match/scorer.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "node/match/dice.hpp"

namespace jisr::match {
namespace {

// Places are compared by containment, not Dice: sources name a place at different precision
// ("النبك" beside "Al-Nabk, Rif Dimashq"), and the coarser name lies inside the finer one.
double similarity(MatchRole role, double common, double na, double nb) {
  if (na == 0 || nb == 0) return 0.0;
  if (role == MatchRole::kPlace) return common / std::min(na, nb);
  return 2.0 * common / (na + nb);
}

double set_similarity(MatchRole role, const std::vector<std::string>& a, const std::vector<std::string>& b) {
  // Both sorted and unique (field_grams guarantees it).
  size_t common = 0, i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++common, ++i, ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return similarity(role, static_cast<double>(common), static_cast<double>(a.size()), static_cast<double>(b.size()));
}

std::string years_text(const DateValue& d) {
  if (d.years.lo == d.years.hi) return std::to_string(d.years.lo);
  return std::to_string(d.years.lo) + "-" + std::to_string(d.years.hi);
}

// Length-prefixed concatenation, so ("ab","c") and ("a","bc") hash differently.
std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) {
    out += std::to_string(p.size());
    out.push_back(':');
    out.append(p);
  }
  return out;
}

uint64_t keyed_hash(std::string_view data, const std::array<uint8_t, 16>& key) {
  std::array<uint8_t, 8> out{};
  crypto_shorthash(out.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                   key.data());
  uint64_t v;
  std::memcpy(&v, out.data(), 8);
  return v;
}

// Index of the first two name fields when the spec allows them to be swapped.
std::optional<std::pair<uint32_t, uint32_t>> swappable_names(const CompiledMatchSpec& spec) {
  if (!spec.swap_first_names) return std::nullopt;
  int first = -1;
  for (uint32_t f = 0; f < spec.fields.size(); ++f) {
    if (spec.fields[f].role != MatchRole::kName) continue;
    if (first < 0) {
      first = static_cast<int>(f);
    } else {
      return std::make_pair(static_cast<uint32_t>(first), f);
    }
  }
  return std::nullopt;
}

bool counts_rarity(MatchRole role) { return role == MatchRole::kName || role == MatchRole::kPlace; }

// kRarityWeight times the rarity of b's value of every agreeing name field (b_field maps a
// comparison's field to b's field: they differ in a crosswise reading).
template <class BField>
double rarity_bonus(const CompiledMatchSpec& spec, std::span<const FieldComparison> fields,
                    std::span<const float> b_rarity, BField b_field) {
  if (b_rarity.empty()) return 0.0;
  double bits = 0.0;
  for (const auto& c : fields) {
    if (counts_rarity(spec.fields[c.field].role) && c.similarity >= kAgreeAbove) {
      bits += b_rarity[b_field(c.field)];
    }
  }
  return kRarityWeight * bits;
}

// kCommonNameBits: b's value is one of its side's commonest names; a name merely similar to it
// (not a likely misspelling of it: those meet through the corrected segment) counts half its
// similarity above kDisagreeBelow.
double near_common_name(double sim, std::span<const float> b_rarity, uint32_t b_field) {
  if (b_rarity.empty() || b_rarity[b_field] > -kCommonNameBits) return sim;
  if (sim < kDisagreeBelow || sim >= kSameNameSimilarity) return sim;
  return kDisagreeBelow + 0.5 * (sim - kDisagreeBelow);
}

// The forms a name field is compared in beyond the name itself (bloom.hpp's extra segments).
enum class NameForm { kWhole, kFirst, kCorrected };

// One rule for names, in clear and from filters: starting from the similarity of the two names
// (with long vowels when both are in Arabic script), a single name meets the first of several
// names; a name merely similar to one of b's commonest counts less (near_common_name); a likely
// misspelling meets as the name it is likely a misspelling of (NameSpellings), as similar.
// has_a(form) / has_b(form): whether a's / b's field has that form; compare(form of a, form of
// b): their similarity (only asked for forms both have).
template <class HasA, class HasB, class Compare>
double name_similarity(double sim, HasA has_a, HasB has_b, Compare compare, std::span<const float> b_rarity,
                       uint32_t b_field) {
  using enum NameForm;
  const bool a_several = has_a(kFirst), b_several = has_b(kFirst);
  if (a_several && !b_several) sim = std::max(sim, compare(kFirst, kWhole));
  if (!a_several && b_several) sim = std::max(sim, compare(kWhole, kFirst));
  sim = near_common_name(sim, b_rarity, b_field);
  const bool a_corrected = has_a(kCorrected), b_corrected = has_b(kCorrected);
  double through = 0.0;
  if (a_corrected) through = std::max(through, compare(kCorrected, kWhole));
  if (b_corrected) through = std::max(through, compare(kWhole, kCorrected));
  if (a_corrected && b_corrected) through = std::max(through, compare(kCorrected, kCorrected));
  return std::max(sim, through * kMisspeltSimilarity);
}

// Builds a Score from a similarity function sim(field of a, field of b) (nullopt when either
// side lacks the field), trying the first two names swapped when that fits much better.
// day(f) tells whether date field f agrees to the day (FieldComparison::day); it is only
// asked for date fields present on both sides.
template <class Sim, class Day>
Score score_with(const CompiledMatchSpec& spec, Sim sim, Day day, std::span<const float> b_rarity) {
  Score s;
  std::vector<std::optional<double>> v(spec.fields.size());
  for (uint32_t f = 0; f < spec.fields.size(); ++f) v[f] = sim(f, f);
  auto comparisons = [&spec, &day](const std::vector<std::optional<double>>& sims) {
    std::vector<FieldComparison> out;
    for (uint32_t f = 0; f < spec.fields.size(); ++f) {
      if (!sims[f]) continue;
      out.push_back(FieldComparison{f, *sims[f], {}, spec.fields[f].role == MatchRole::kDate ? day(f) : 0});
    }
    return out;
  };
  s.fields = comparisons(v);
  double total = evidence(spec, s.fields) + rarity_bonus(spec, s.fields, b_rarity, [](uint32_t f) { return f; });
  if (auto names = swappable_names(spec)) {
    auto [x, y] = *names;
    auto xy = sim(x, y), yx = sim(y, x);
    // With both names on both sides both crosswise comparisons exist; when a side lacks one of
    // them, the name it has may still stand in the other's place (a source that swapped the two
    // and lost one), so one crosswise comparison is reading enough.
    if (xy || yx) {
      std::vector<std::optional<double>> w = v;
      w[x] = xy;
      w[y] = yx;
      auto crossed = comparisons(w);
      const auto crosswise = [x = x, y = y](uint32_t f) { return f == x ? y : f == y ? x : f; };
      double crossed_total = evidence(spec, crossed) + rarity_bonus(spec, crossed, b_rarity, crosswise) -
                             kSwapPenaltyBits;
      if (crossed_total > total) {
        s.fields = std::move(crossed);
        total = crossed_total;
        s.swapped = true;
      }
    }
  }
  s.value = logistic_score(total);
  return s;
}

}  // namespace

double agreement_level(double similarity) {
  return std::clamp((similarity - kDisagreeBelow) / (kAgreeAbove - kDisagreeBelow), 0.0, 1.0);
}

double evidence(const CompiledMatchSpec& spec, std::span<const FieldComparison> fields) {
  double total = 0.0;
  for (const auto& c : fields) {
    const MatchField& f = spec.fields[c.field];
    double a = agreement_level(c.similarity);
    total += a * f.agree + (1.0 - a) * f.disagree;
    if (c.day != 0) total += a * (c.day > 0 ? f.day_agree : f.day_disagree);
  }
  return total;
}

double logistic_score(double evidence_bits) {
  return 1.0 / (1.0 + std::exp(-evidence_bits / kEvidenceScale));
}

double combine(const CompiledMatchSpec& spec, std::span<const FieldComparison> fields) {
  return logistic_score(evidence(spec, fields));
}

ValueRarity::ValueRarity(const CompiledMatchSpec& spec) : fields_(spec.fields.size()) {
  for (const auto& f : spec.fields) counted_.push_back(counts_rarity(f.role));
}

void ValueRarity::add(const RecordFeatures& record) {
  for (size_t f = 0; f < fields_; ++f) {
    const auto& v = record.fields[f];
    // 0 stands for "absent"; a real hash of 0 is moved to 1 (one more collision in 2^64).
    uint64_t h = 0;
    if (counted_[f] && v.present) {
      // A name by its skeleton, a place by its parts (as written, in order).
      std::string key = v.skeleton;
      for (const auto& p : v.parts) key.append("|").append(p);
      h = std::hash<std::string>{}(key);
    }
    if (counted_[f] && v.present && h == 0) h = 1;
    hashes_.push_back(h);
  }
}

void ValueRarity::finish() {
  const size_t rows = fields_ == 0 ? 0 : hashes_.size() / fields_;
  bits_.assign(hashes_.size(), 0.0f);
  for (size_t f = 0; f < fields_; ++f) {
    if (!counted_[f]) continue;
    std::unordered_map<uint64_t, uint32_t> count;
    size_t n = 0;
    for (size_t r = 0; r < rows; ++r) {
      if (uint64_t h = hashes_[r * fields_ + f]) ++count[h], ++n;
    }
    if (n == 0) continue;
    double mean = 0.0;
    for (const auto& [h, c] : count) mean += c * std::log2(double(n) / c);
    mean /= double(n);
    for (size_t r = 0; r < rows; ++r) {
      if (uint64_t h = hashes_[r * fields_ + f]) {
        bits_[r * fields_ + f] = static_cast<float>(std::log2(double(n) / count[h]) - mean);
      }
    }
  }
}

std::span<const float> ValueRarity::row(size_t j) const {
  if (bits_.empty()) return {};
  return std::span<const float>(bits_).subspan(j * fields_, fields_);
}

Score score_features(const CompiledMatchSpec& spec, const RecordFeatures& a,
                     const RecordFeatures& b, std::span<const float> b_rarity) {
  Score s = score_with(spec, [&](uint32_t fa, uint32_t fb) -> std::optional<double> {
    const FieldFeatures& x = a.fields[fa];
    const FieldFeatures& y = b.fields[fb];
    if (!x.present || !y.present) return std::nullopt;
    if (spec.fields[fa].role != MatchRole::kName) {
      const double sim = set_similarity(spec.fields[fb].role, field_grams(spec.fields[fa], x, spec.year_tolerance),
                                        field_grams(spec.fields[fb], y, spec.year_tolerance));
      if (spec.fields[fa].role != MatchRole::kPlace || sim >= kRegionSimilarity) return sim;
      const auto meets = [](const std::vector<std::string>& regions, const std::vector<std::string>& parts) {
        return std::any_of(regions.begin(), regions.end(), [&](const std::string& r) {
          return std::find(parts.begin(), parts.end(), r) != parts.end();
        });
      };
      return meets(x.regions, y.parts) || meets(x.parts, y.regions) ? kRegionSimilarity : sim;
    }
    // The grams of each form (NameForm order), of a and of b.
    const std::array<std::vector<std::string>, 3> gx = {field_grams(spec.fields[fa], x, 0), first_word_grams(x),
                                                        corrected_grams(x)};
    const std::array<std::vector<std::string>, 3> gy = {field_grams(spec.fields[fb], y, 0), first_word_grams(y),
                                                        corrected_grams(y)};
    const auto form = [](NameForm f) { return static_cast<size_t>(f); };
    // Names both written in Arabic script compare with their long vowels (bloom.hpp).
    const double sim = !x.vowelled.empty() && !y.vowelled.empty()
                           ? set_similarity(MatchRole::kName, vowel_grams(x), vowel_grams(y))
                           : set_similarity(MatchRole::kName, gx[0], gy[0]);
    return name_similarity(
        sim, [&](NameForm f) { return !gx[form(f)].empty(); }, [&](NameForm f) { return !gy[form(f)].empty(); },
        [&](NameForm f, NameForm g) { return set_similarity(MatchRole::kName, gx[form(f)], gy[form(g)]); }, b_rarity,
        fb);
  }, [&](uint32_t f) {
    const DateValue& x = *a.fields[f].date;
    const DateValue& y = *b.fields[f].date;
    if (x.month == 0 || x.day == 0 || y.month == 0 || y.day == 0) return 0;
    return same_month_day(x, y) ? 1 : -1;
  }, b_rarity);
  for (auto& c : s.fields) {
    if (spec.fields[c.field].role == MatchRole::kDate) {
      c.detail = years_text(*a.fields[c.field].date) + "/" + years_text(*b.fields[c.field].date);
    }
  }
  return s;
}

Score score_bloom(const CompiledMatchSpec& spec, const BloomMatrix& a, size_t i,
                  const BloomMatrix& b, size_t j, std::span<const float> b_rarity) {
  const size_t n = a.fields;
  const uint64_t* ra = a.row(i);
  const uint64_t* rb = b.row(j);
  const auto pop_a = [&](size_t sa) { return a.field_pops[i * n + sa]; };
  const auto pop_b = [&](size_t sb) { return b.field_pops[j * n + sb]; };
  // Bits set in both segment sa of a and segment sb of b.
  const auto common_bits = [&](size_t sa, size_t sb) {
    uint32_t common = 0;
    field_and_popcounts(ra + sa * kFieldWords, rb + sb * kFieldWords, 1, kFieldWords, &common);
    return common;
  };
  auto segment_similarity = [&](size_t sa, size_t sb, MatchRole role) -> std::optional<double> {
    if (pop_a(sa) == 0 || pop_b(sb) == 0) return std::nullopt;
    return similarity(role, common_bits(sa, sb), pop_a(sa), pop_b(sb));
  };
  // Filters with every extra segment of this spec (bloom_segments).
  const bool has_segments = a.fields == bloom_segments(spec) && b.fields == a.fields;
  // Whether any region gram of one side's region segment is in the other's place segment (all
  // its bits set there: a chance hit of kHashesPerGram given bits is rare).
  const auto region_meets = [&](size_t sa, size_t sb, bool a_regions) {
    if ((a_regions ? pop_a(sa) : pop_b(sb)) == 0) return false;
    return common_bits(sa, sb) >= static_cast<uint32_t>(kHashesPerGram);
  };
  return score_with(spec, [&](uint32_t fa, uint32_t fb) -> std::optional<double> {
    const auto plain = segment_similarity(fa, fb, spec.fields[fb].role);
    if (spec.fields[fa].role == MatchRole::kPlace) {
      const int rseg_a = spec.fields[fa].region_segment, rseg_b = spec.fields[fb].region_segment;
      if (!plain || *plain >= kRegionSimilarity || !has_segments || rseg_a < 0 || rseg_b < 0) return plain;
      const bool town_region = region_meets(static_cast<size_t>(rseg_a), fb, true) ||
                               region_meets(fa, static_cast<size_t>(rseg_b), false);
      return town_region ? kRegionSimilarity : *plain;
    }
    const int va = spec.fields[fa].vowel_segment, vb = spec.fields[fb].vowel_segment;
    if (!plain || !has_segments || va < 0 || vb < 0) return plain;
    // Names written in Arabic on both sides compare with their long vowels.
    const auto vowelled = segment_similarity(static_cast<size_t>(va), static_cast<size_t>(vb), MatchRole::kName);
    // The segment of each form (NameForm order), of a and of b. The first-name and misspelling
    // segments are under the names' key, so they compare with a whole name.
    const auto segments = [&spec](uint32_t f) {
      return std::array<size_t, 3>{f, static_cast<size_t>(spec.fields[f].first_word_segment),
                                   static_cast<size_t>(spec.fields[f].corrected_segment)};
    };
    const auto sa = segments(fa), sb = segments(fb);
    const auto form = [](NameForm f) { return static_cast<size_t>(f); };
    return name_similarity(
        vowelled ? *vowelled : *plain, [&](NameForm f) { return pop_a(sa[form(f)]) > 0; },
        [&](NameForm f) { return pop_b(sb[form(f)]) > 0; },
        [&](NameForm f, NameForm g) {
          return segment_similarity(sa[form(f)], sb[form(g)], MatchRole::kName).value_or(0.0);
        },
        b_rarity, fb);
  }, [&](uint32_t f) {
    const int seg = spec.fields[f].day_segment;
    if (!has_segments || seg < 0) return 0;
    const auto s = static_cast<size_t>(seg);
    if (pop_a(s) == 0 || pop_b(s) == 0) return 0;
    // One gram of kHashesPerGram bits each side: the same gram shares all of them, two
    // different ones share by chance a bit or so of 256.
    return common_bits(s, s) * 2 >= std::min(pop_a(s), pop_b(s)) ? 1 : -1;
  }, b_rarity);
}

std::string describe(const CompiledMatchSpec& spec, const Score& score) {
  std::vector<std::string> same, similar, different, details;
  for (const auto& c : score.fields) {
    const std::string& name = spec.fields[c.field].name;
    const char* day = c.day > 0 ? ", same day" : c.day < 0 ? ", another day" : "";
    if (!c.detail.empty()) {
      details.push_back(name + " " + c.detail + day);
      continue;
    }
    if (c.day != 0) details.push_back(name + (c.day > 0 ? " same day" : " another day"));
    if (c.similarity >= 0.95) {
      same.push_back(name);
    } else if (c.similarity >= 0.6) {
      similar.push_back(name);
    } else {
      different.push_back(name);
    }
  }
  std::string out;
  auto group = [&out](std::string_view label, const std::vector<std::string>& names) {
    if (names.empty()) return;
    if (!out.empty()) out += "; ";
    out += label;
    for (size_t k = 0; k < names.size(); ++k) out += (k ? ", " : "") + names[k];
  };
  if (score.swapped) out = "first two names swapped";
  group("same ", same);
  group("similar ", similar);
  for (const auto& d : details) out += (out.empty() ? "" : "; ") + d;
  group("different ", different);
  return out;
}

PsiDecision psi_decide(const CompiledMatchSpec& spec, std::span<const uint32_t> matched_kinds) {
  PsiDecision d;
  const size_t n = spec.keys.size();
  std::vector<bool> covered(spec.fields.size(), false), present(spec.fields.size(), false),
      similar(spec.fields.size(), false);
  for (uint32_t k : matched_kinds) {
    if (k < n) {
      for (uint32_t f : spec.keys[k].fields) {
        (static_cast<int>(f) == spec.keys[k].fuzzy ? similar : covered)[f] = true;
      }
    } else if (n > 0) {
      const uint32_t kind = (k - static_cast<uint32_t>(n)) % n;
      const size_t pos = (k - n) / n;
      if (pos < spec.keys[kind].fields.size()) present[spec.keys[kind].fields[pos]] = true;
    }
    // Other numbers: a kind we did not send cannot count.
  }
  std::string differ, alike;
  for (uint32_t f = 0; f < covered.size(); ++f) {
    if (covered[f]) {
      d.fields.push_back(f);
      d.weight += spec.fields[f].agree;
      d.evidence += (d.evidence.empty() ? "same " : ", ") + spec.fields[f].name;
    } else if (similar[f]) {
      d.weight += kSimilarNameBits;
      alike += (alike.empty() ? "similar " : ", ") + spec.fields[f].name;
    } else if (present[f]) {
      // Both sides have the field for a record agreeing on the kind's other fields, and no
      // kind with the field's value matched: it disagrees.
      d.weight += spec.fields[f].disagree;
      differ += (differ.empty() ? "different " : ", ") + spec.fields[f].name;
    }
  }
  if (!alike.empty()) d.evidence += (d.evidence.empty() ? "" : "; ") + alike;
  if (!differ.empty()) d.evidence += (d.evidence.empty() ? "" : "; ") + differ;
  d.candidate = d.weight >= spec.psi_threshold;
  return d;
}

std::vector<uint64_t> blocking_keys(const CompiledMatchSpec& spec, const RecordFeatures& record,
                                    const std::array<uint8_t, 16>& key) {
  std::vector<uint64_t> out;
  std::vector<uint32_t> names;
  int first_date = spec.first_of(MatchRole::kDate);
  for (uint32_t f = 0; f < spec.fields.size(); ++f) {
    const auto& ff = record.fields[f];
    if (!ff.present) continue;
    if (spec.fields[f].role == MatchRole::kName) names.push_back(f);
    if (spec.fields[f].role == MatchRole::kId) {
      out.push_back(keyed_hash(join({"id", spec.fields[f].name, ff.value}), key));
    }
  }
  for (size_t x = 0; x < names.size(); ++x) {
    for (size_t y = x + 1; y < names.size(); ++y) {
      std::string a = record.fields[names[x]].skeleton, b = record.fields[names[y]].skeleton;
      if (b < a) std::swap(a, b);
      out.push_back(keyed_hash(join({"nn", a, b}), key));
    }
  }
  if (!names.empty() && first_date >= 0 && record.fields[first_date].present) {
    const DateValue& d = *record.fields[first_date].date;
    // Buckets of two years, both alignments, so years one apart always share a bucket.
    for (int y = d.years.lo; y <= d.years.hi + 1; ++y) {
      std::string bucket = std::to_string(y / 2);
      out.push_back(keyed_hash(join({"ny", record.fields[names[0]].skeleton, bucket}), key));
    }
  }
  // Records with a typo in one name and another name missing share no pair of names; a full
  // date, or one name with the month of a date, still brings them together.
  for (uint32_t f = 0; f < spec.fields.size(); ++f) {
    const auto& ff = record.fields[f];
    if (spec.fields[f].role != MatchRole::kDate || !ff.present) continue;
    const DateValue& d = *ff.date;
    if (d.years.lo != d.years.hi || d.month == 0) continue;  // a year or an estimate only
    const std::string year = std::to_string(d.years.lo);
    for (const auto& day : day_grams(ff)) {  // the month and day, swap-tolerant (bloom.hpp)
      out.push_back(keyed_hash(join({"dd", spec.fields[f].name, year, day}), key));
    }
    for (uint32_t n : names) {
      out.push_back(keyed_hash(join({"nm", spec.fields[f].name, record.fields[n].skeleton, year, std::to_string(d.month)}), key));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::pair<uint32_t, uint32_t>> candidate_pairs(
    std::span<const std::vector<uint64_t>> a, std::span<const std::vector<uint64_t>> b,
    size_t max_block_pairs) {
  std::unordered_map<uint64_t, std::pair<std::vector<uint32_t>, std::vector<uint32_t>>> blocks;
  for (uint32_t i = 0; i < a.size(); ++i) {
    for (uint64_t k : a[i]) blocks[k].first.push_back(i);
  }
  for (uint32_t j = 0; j < b.size(); ++j) {
    for (uint64_t k : b[j]) {
      auto it = blocks.find(k);
      if (it != blocks.end()) it->second.second.push_back(j);
    }
  }
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  for (const auto& [k, members] : blocks) {
    const auto& [ia, jb] = members;
    if (jb.empty() || ia.size() * jb.size() > max_block_pairs) continue;
    for (uint32_t i : ia) {
      for (uint32_t j : jb) pairs.emplace_back(i, j);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

std::vector<bool> resolve_claims(std::span<const Claim> claims,
                                 const std::function<bool(uint32_t, uint32_t)>& same_person) {
  std::vector<uint32_t> order(claims.size());
  for (uint32_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return claims[x].score > claims[y].score; });
  std::vector<bool> aside(claims.size(), false);
  std::unordered_map<uint32_t, std::vector<uint32_t>> claimed;  // peer record -> claims (indices)
  std::unordered_map<uint32_t, bool> claiming;                  // our record -> has claimed
  for (uint32_t k : order) {
    const Claim& c = claims[k];
    auto& holders = claimed[c.peer];
    const bool taken = std::any_of(holders.begin(), holders.end(), [&](uint32_t h) {
      return claims[h].record != c.record && claims[h].score > c.score && !same_person(claims[h].record, c.record);
    });
    if (taken) {
      aside[k] = true;
      continue;
    }
    if (!claiming[c.record]) {
      claiming[c.record] = true;
      holders.push_back(k);
    }
  }
  return aside;
}

bool same_person(const CompiledMatchSpec& spec, const RecordFeatures& x, const RecordFeatures& y) {
  const int own = spec.first_of(MatchRole::kName);
  const Score s = score_features(spec, x, y);
  if (s.value < kSamePersonScore) return false;
  if (own < 0) return true;
  for (const auto& c : s.fields) {
    // Crosswise (first two names swapped), field `own` holds the own name against the other's
    // second name: that still has to agree.
    if (c.field == static_cast<uint32_t>(own)) return c.similarity >= 0.6;
  }
  return true;  // one of them lacks the own name: the rest of the record decided
}

}  // namespace jisr::match
