#include "node/match/scorer.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "node/match/dice.hpp"

namespace jisr::match {
namespace {

double set_dice(const std::vector<std::string>& a, const std::vector<std::string>& b) {
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
  size_t total = a.size() + b.size();
  return total == 0 ? 0.0 : 2.0 * static_cast<double>(common) / static_cast<double>(total);
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

}  // namespace

double combine(const CompiledMatchSpec& spec, std::span<const FieldComparison> fields) {
  double num = 0.0, den = kCoveragePrior;
  for (const auto& c : fields) {
    double w = role_weight(spec.fields[c.field].role);
    num += w * c.similarity;
    den += w;
  }
  return num / den;
}

Score score_features(const CompiledMatchSpec& spec, const RecordFeatures& a,
                     const RecordFeatures& b) {
  Score s;
  for (uint32_t f = 0; f < spec.fields.size(); ++f) {
    const auto& fa = a.fields[f];
    const auto& fb = b.fields[f];
    if (!fa.present || !fb.present) continue;
    FieldComparison c{f, 0.0, {}};
    c.similarity = set_dice(field_grams(spec.fields[f], fa, spec.year_tolerance),
                            field_grams(spec.fields[f], fb, spec.year_tolerance));
    if (spec.fields[f].role == MatchRole::kDate) {
      c.detail = years_text(*fa.date) + "/" + years_text(*fb.date);
    }
    s.fields.push_back(std::move(c));
  }
  s.value = combine(spec, s.fields);
  return s;
}

Score score_bloom(const CompiledMatchSpec& spec, const BloomMatrix& a, size_t i,
                  const BloomMatrix& b, size_t j) {
  Score s;
  const size_t n = spec.fields.size();
  std::vector<uint32_t> common(n);
  field_and_popcounts(a.row(i), b.row(j), n, kFieldWords, common.data());
  for (uint32_t f = 0; f < n; ++f) {
    uint32_t pa = a.field_pops[i * n + f], pb = b.field_pops[j * n + f];
    if (pa == 0 || pb == 0) continue;
    s.fields.push_back(FieldComparison{f, dice(common[f], pa, pb), {}});
  }
  s.value = combine(spec, s.fields);
  return s;
}

std::string describe(const CompiledMatchSpec& spec, const Score& score) {
  std::vector<std::string> same, similar, different, details;
  for (const auto& c : score.fields) {
    const std::string& name = spec.fields[c.field].name;
    if (!c.detail.empty()) {
      details.push_back(name + " " + c.detail);
      continue;
    }
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
  group("same ", same);
  group("similar ", similar);
  for (const auto& d : details) out += (out.empty() ? "" : "; ") + d;
  group("different ", different);
  return out;
}

PsiDecision psi_decide(const CompiledMatchSpec& spec, std::span<const uint32_t> matched_kinds) {
  PsiDecision d;
  std::vector<bool> covered(spec.fields.size(), false);
  for (uint32_t k : matched_kinds) {
    if (k >= spec.keys.size()) continue;  // a kind we did not send cannot count
    for (uint32_t f : spec.keys[k].fields) covered[f] = true;
  }
  for (uint32_t f = 0; f < covered.size(); ++f) {
    if (!covered[f]) continue;
    d.fields.push_back(f);
    d.weight += role_weight(spec.fields[f].role);
    d.evidence += (d.evidence.empty() ? "same " : ", ") + spec.fields[f].name;
  }
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

}  // namespace jisr::match
