#include "node/match/match_spec.hpp"

#include <algorithm>
#include <set>

namespace jisr::match {

int CompiledMatchSpec::first_of(MatchRole role) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].role == role) return static_cast<int>(i);
  }
  return -1;
}

FieldWeights field_weights(const std::vector<MatchField>& fields, size_t index) {
  MatchRole role = fields[index].role;
  bool first_of_role = true;
  for (size_t i = 0; i < index; ++i) {
    if (fields[i].role == role) first_of_role = false;
  }
  switch (role) {
    case MatchRole::kName: return first_of_role ? FieldWeights{4, -4} : FieldWeights{2.5, -2};
    case MatchRole::kDate: return first_of_role ? FieldWeights{3, -3, 2, -2} : FieldWeights{2, -1.5, 1, 0};
    case MatchRole::kPlace: return {2, -1.5};
    case MatchRole::kId: return {12, -2};
    case MatchRole::kCategory: return {0.5, -3};
    case MatchRole::kText: return {1.5, -1};
    case MatchRole::kNone: return {0, 0};
  }
  return {0, 0};
}

std::vector<KeySpec> default_keys(const std::vector<MatchField>& fields) {
  std::vector<std::string> names, events, ids;
  std::string primary_date;
  for (const auto& f : fields) {
    switch (f.role) {
      case MatchRole::kName: names.push_back(f.name); break;
      case MatchRole::kDate:
        if (primary_date.empty()) {
          primary_date = f.name;
        } else {
          events.push_back(f.name);
        }
        break;
      case MatchRole::kPlace:
      case MatchRole::kText: events.push_back(f.name); break;
      case MatchRole::kId: ids.push_back(f.name); break;
      case MatchRole::kCategory:
      case MatchRole::kNone: break;
    }
  }
  std::vector<KeySpec> keys;
  auto add = [&keys](std::vector<std::string> fs) {
    std::string id;
    for (const auto& f : fs) id += (id.empty() ? "" : "+") + f;
    keys.push_back(KeySpec{std::move(id), std::move(fs), {}});
  };
  if (!names.empty()) {
    const std::string& own = names.front();
    if (names.size() == 1) {
      if (!primary_date.empty()) add({own, primary_date});
      for (const auto& e : events) add({own, e});
    }
    for (size_t i = 1; i < names.size(); ++i) {
      if (!primary_date.empty()) add({own, names[i], primary_date});
    }
    for (size_t i = 1; i < names.size(); ++i) {
      for (size_t j = i + 1; j < names.size(); ++j) add({own, names[i], names[j]});
    }
    for (size_t i = 1; i < names.size(); ++i) {
      for (const auto& e : events) add({own, names[i], e});
    }
    // Fuzzy twins of the kinds with the own and the father's name (names[1]).
    const size_t exact = keys.size();
    for (size_t i = 0; i < exact && names.size() >= 2; ++i) {
      const auto& fs = keys[i].fields;
      if (fs.size() >= 3 && fs[0] == own && fs[1] == names[1]) {
        keys.push_back(KeySpec{keys[i].id + "~", fs, own});
      }
    }
  } else if (!primary_date.empty()) {
    // No names at all (an unusual schema): dates with each event still link.
    for (const auto& e : events) add({primary_date, e});
  }
  for (const auto& id : ids) add({id});
  return keys;
}

Result<CompiledMatchSpec> compile_match_spec(const MatchSpec& spec, const RecordSchema& schema) {
  std::vector<std::string> problems;
  CompiledMatchSpec out;
  out.agreement_id = spec.agreement_id;
  out.year_tolerance = spec.year_tolerance;
  out.swap_first_names = spec.swap_first_names;
  out.bloom_threshold = spec.bloom_threshold;
  out.psi_threshold = spec.psi_threshold;
  if (spec.agreement_id.empty()) problems.push_back("agreement id is empty");
  if (spec.year_tolerance < 0 || spec.year_tolerance > 10) {
    problems.push_back("year tolerance must be 0..10");
  }
  if (!(spec.bloom_threshold > 0.0 && spec.bloom_threshold <= 1.0)) {
    problems.push_back("bloom threshold must be in (0, 1]");
  }
  if (!(spec.psi_threshold > 0.0)) problems.push_back("psi threshold must be positive");
  if (spec.fields.empty()) problems.push_back("match.fields is empty");

  std::set<std::string> seen;
  for (const auto& name : spec.fields) {
    const FieldSpec* f = schema.find(name);
    if (f == nullptr || f->is_pattern) {
      problems.push_back("unknown field '" + name + "'");
    } else if (f->match == MatchRole::kNone) {
      problems.push_back("field '" + name + "' has no match role in schema " + schema.name());
    } else if (!seen.insert(name).second) {
      problems.push_back("field '" + name + "' listed twice");
    } else {
      out.fields.push_back(MatchField{name, f->match});
    }
  }
  for (size_t i = 0; i < out.fields.size(); ++i) {
    FieldWeights w = field_weights(out.fields, i);
    out.fields[i].agree = w.agree;
    out.fields[i].disagree = w.disagree;
    out.fields[i].day_agree = w.day_agree;
    out.fields[i].day_disagree = w.day_disagree;
  }
  // Bloom segments after one per field: the vowel segments of the names, the day segments of
  // the dates, the first-name segments of the names, the region segments of the places, the
  // misspelling segments of the names (bloom.hpp), each kind in field order.
  int next_segment = static_cast<int>(out.fields.size());
  const auto number = [&out, &next_segment](MatchRole role, int MatchField::*segment) {
    for (auto& f : out.fields) {
      if (f.role == role) f.*segment = next_segment++;
    }
  };
  number(MatchRole::kName, &MatchField::vowel_segment);
  number(MatchRole::kDate, &MatchField::day_segment);
  number(MatchRole::kName, &MatchField::first_word_segment);
  number(MatchRole::kPlace, &MatchField::region_segment);
  number(MatchRole::kName, &MatchField::corrected_segment);
  auto index_of = [&out](const std::string& name) -> int {
    for (size_t i = 0; i < out.fields.size(); ++i) {
      if (out.fields[i].name == name) return static_cast<int>(i);
    }
    return -1;
  };

  std::vector<KeySpec> keys = spec.keys.empty() ? default_keys(out.fields) : spec.keys;
  std::set<std::string> key_ids;
  for (const auto& k : keys) {
    if (k.id.empty() || k.fields.empty()) {
      problems.push_back("a key needs an id and fields");
      continue;
    }
    if (!key_ids.insert(k.id).second) problems.push_back("key '" + k.id + "' listed twice");
    CompiledKey ck{k.id, {}, -1, {}};
    for (const auto& f : k.fields) {
      int i = index_of(f);
      if (i < 0) {
        problems.push_back("key '" + k.id + "' uses field '" + f + "' not in match.fields");
      } else {
        ck.fields.push_back(static_cast<uint32_t>(i));
        if (f == k.fuzzy) ck.fuzzy = i;
      }
    }
    if (!k.fuzzy.empty() && (ck.fuzzy < 0 || out.fields[ck.fuzzy].role != MatchRole::kName)) {
      problems.push_back("key '" + k.id + "': fuzzy field '" + k.fuzzy + "' is not one of its name fields");
    }
    out.keys.push_back(std::move(ck));
  }
  if (out.keys.empty() && problems.empty()) problems.push_back("no match key can be built");
  std::vector<bool> in_every_kind(out.fields.size(), true);
  for (const auto& k : out.keys) {
    if (k.fields.size() < 2) continue;
    for (size_t f = 0; f < in_every_kind.size(); ++f) {
      if (std::find(k.fields.begin(), k.fields.end(), f) == k.fields.end()) in_every_kind[f] = false;
    }
  }
  for (auto& k : out.keys) {
    if (k.fields.size() < 2 || k.fuzzy >= 0) continue;
    for (uint32_t p = 0; p < k.fields.size(); ++p) {
      if (!in_every_kind[k.fields[p]]) k.presence.push_back(p);
    }
  }

  for (const auto& a : spec.ages) {
    int b = index_of(a.birth_field);
    if (b < 0 || out.fields[b].role != MatchRole::kDate) {
      problems.push_back("age rule: '" + a.birth_field + "' is not a date field of match.fields");
      continue;
    }
    if (!schema.knows(a.age_field) || !schema.knows(a.event_field)) {
      problems.push_back("age rule: unknown field '" +
                         (schema.knows(a.age_field) ? a.event_field : a.age_field) + "'");
      continue;
    }
    if (a.tolerance_years < 0 || a.tolerance_years > 20) {
      problems.push_back("age rule: tolerance must be 0..20");
      continue;
    }
    out.ages.push_back(CompiledAgeRule{a.age_field, a.event_field, static_cast<uint32_t>(b),
                                       a.tolerance_years});
  }

  if (!problems.empty()) {
    std::string what;
    for (const auto& p : problems) what += (what.empty() ? "" : "; ") + p;
    return make_error(Errc::kInvalidInput, what, "match");
  }
  return out;
}

}  // namespace jisr::match
