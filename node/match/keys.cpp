#include "node/match/keys.hpp"

#include <algorithm>

#include "node/core/bytes.hpp"

namespace jisr::match {
namespace {

constexpr std::string_view kKeyDomain = "jisr.match.key.v1";

std::vector<std::string> variants(const MatchField& field, const FieldFeatures& f, KeySide side,
                                  int tolerance, bool fuzzy) {
  std::vector<std::string> out;
  if (fuzzy && field.role == MatchRole::kName) {
    // The skeleton and, from three letters on, the skeleton less each letter: two names one
    // dropped, added, changed or swapped letter apart share one of these.
    out.push_back(f.skeleton);
    if (f.skeleton.size() >= 3) {
      for (size_t i = 0; i < f.skeleton.size(); ++i) {
        std::string less = f.skeleton;
        less.erase(i, 1);
        if (std::find(out.begin(), out.end(), less) == out.end()) out.push_back(std::move(less));
      }
    }
    return out;
  }
  switch (field.role) {
    case MatchRole::kName:
      // The first of several names too: "Fatima" meets "Fatima al-Hasan" (and "Fatima
      // al-Hasan" meets "Fatima Khalil": a mother's family name is the part sources omit).
      out.push_back(f.skeleton);
      if (!f.first_name.empty() && f.first_name != f.skeleton) out.push_back(f.first_name);
      break;
    case MatchRole::kPlace: out = f.parts; break;
    case MatchRole::kText: {
      std::string joined;
      for (const auto& w : f.parts) joined += (joined.empty() ? "" : " ") + w;
      out.push_back(std::move(joined));
      break;
    }
    case MatchRole::kDate: {
      int widen = side == KeySide::kResponder ? tolerance : 0;
      for (int y = f.date->years.lo - widen; y <= f.date->years.hi + widen; ++y) {
        out.push_back(std::to_string(y));
      }
      break;
    }
    case MatchRole::kId:
    case MatchRole::kCategory: out.push_back(f.value); break;
    case MatchRole::kNone: break;
  }
  return out;
}

void add_keys(const CompiledMatchSpec& spec, const RecordFeatures& record, KeySide side,
              int required_field, std::vector<MatchKey>& out) {
  for (uint32_t k = 0; k < spec.keys.size(); ++k) {
    const CompiledKey& key = spec.keys[k];
    if (required_field >= 0 &&
        std::find(key.fields.begin(), key.fields.end(), static_cast<uint32_t>(required_field)) ==
            key.fields.end()) {
      continue;
    }
    std::vector<std::vector<std::string>> values;
    bool complete = true;
    for (uint32_t fi : key.fields) {
      const FieldFeatures& f = record.fields[fi];
      if (!f.present) {
        complete = false;
        break;
      }
      values.push_back(variants(spec.fields[fi], f, side, spec.year_tolerance,
                                static_cast<int>(fi) == key.fuzzy));
      if (values.back().empty()) {
        complete = false;
        break;
      }
    }
    if (!complete) continue;
    {
      // Presence keys: the other fields' values and only "present" for the field at position
      // p, once per position the spec chose (CompiledKey::presence), so that a match on one
      // without a match on any kind holding the field's value says that field disagrees
      // (negative evidence PSI cannot otherwise give: a namesake's other father).
      for (size_t p : key.presence) {
        std::vector<size_t> pos(values.size(), 0);
        for (size_t n = 0; n < kMaxVariantsPerKind; ++n) {
          ByteWriter w;
          w.bytes(kKeyDomain);
          w.bytes(spec.agreement_id);
          w.bytes(key.id + "#present" + (p + 1 == values.size() ? std::string() : "@" + std::to_string(p)));
          for (size_t i = 0; i < values.size(); ++i) {
            if (i != p) w.bytes(values[i][pos[i]]);
          }
          out.push_back(MatchKey{presence_kind(spec.keys.size(), k, p), w.take()});
          size_t i = 0;
          while (i < pos.size() && (i == p || ++pos[i] == values[i].size())) pos[i++] = 0;
          if (i == pos.size()) break;
        }
      }
    }
    // Cartesian product of the variants, bounded.
    std::vector<size_t> pos(values.size(), 0);
    for (size_t n = 0; n < kMaxVariantsPerKind; ++n) {
      ByteWriter w;
      w.bytes(kKeyDomain);
      w.bytes(spec.agreement_id);
      w.bytes(key.id);
      for (size_t i = 0; i < values.size(); ++i) w.bytes(values[i][pos[i]]);
      out.push_back(MatchKey{k, w.take()});
      size_t i = 0;
      while (i < pos.size() && ++pos[i] == values[i].size()) pos[i++] = 0;
      if (i == pos.size()) break;
    }
  }
}

}  // namespace

std::vector<MatchKey> match_keys(const CompiledMatchSpec& spec, const RecordFeatures& record,
                                 KeySide side) {
  std::vector<MatchKey> out;
  add_keys(spec, record, side, -1, out);
  if (side == KeySide::kQuerier && spec.swap_first_names) {
    int first = -1, second = -1;
    for (size_t i = 0; i < spec.fields.size(); ++i) {
      if (spec.fields[i].role != MatchRole::kName) continue;
      if (first < 0) {
        first = static_cast<int>(i);
      } else {
        second = static_cast<int>(i);
        break;
      }
    }
    if (second >= 0 && record.fields[first].present && record.fields[second].present &&
        record.fields[first].skeleton != record.fields[second].skeleton) {
      RecordFeatures swapped = record;
      std::swap(swapped.fields[first].skeleton, swapped.fields[second].skeleton);
      // Only kinds with the birth date: with it, swapped names are one person written two
      // ways; without it they are as often a father and his son.
      int primary_date = spec.first_of(MatchRole::kDate);
      if (primary_date >= 0) add_keys(spec, swapped, side, primary_date, out);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace jisr::match
