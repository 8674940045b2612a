#include "node/match/features.hpp"

#include <algorithm>
#include <charconv>

#include "node/match/normalize.hpp"

namespace jisr::match {

RecordFeatures extract_features(const CompiledMatchSpec& spec, const FieldMap& fields) {
  RecordFeatures out;
  out.fields.resize(spec.fields.size());
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    auto value = fields.get(spec.fields[i].name);
    if (!value) continue;
    FieldFeatures& f = out.fields[i];
    switch (spec.fields[i].role) {
      case MatchRole::kName: {
        auto names = name_skeletons(*value);
        f.skeleton = std::move(names.whole);
        f.first_name = std::move(names.first);
        f.vowelled = std::move(names.vowelled);
        f.present = !f.skeleton.empty();
        break;
      }
      case MatchRole::kPlace:
        f.parts = place_skeletons(*value);
        f.present = !f.parts.empty();
        break;
      case MatchRole::kText: {
        f.parts = text_words(*value);
        std::sort(f.parts.begin(), f.parts.end());
        f.parts.erase(std::unique(f.parts.begin(), f.parts.end()), f.parts.end());
        f.present = !f.parts.empty();
        break;
      }
      case MatchRole::kDate:
        f.date = parse_date_value(*value);
        f.present = f.date.has_value();
        break;
      case MatchRole::kId:
        f.value = id_digits(*value);
        f.present = !f.value.empty();
        break;
      case MatchRole::kCategory:
        f.value = fold_text(*value);
        f.present = !f.value.empty();
        break;
      case MatchRole::kNone: break;
    }
  }
  for (const auto& rule : spec.ages) {
    FieldFeatures& birth = out.fields[rule.birth_field];
    if (birth.present) continue;
    auto age_text = fields.get(rule.age_field);
    auto event = fields.get(rule.event_field);
    if (!age_text || !event) continue;
    int age = -1;
    auto [ptr, ec] = std::from_chars(age_text->data(), age_text->data() + age_text->size(), age);
    if (ec != std::errc() || ptr != age_text->data() + age_text->size()) continue;
    if (auto d = birth_from_age(*event, age, rule.tolerance_years)) {
      birth.date = d;
      birth.present = true;
      birth.derived = true;
    }
  }
  return out;
}

}  // namespace jisr::match
