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

PlaceHierarchy::PlaceHierarchy(const CompiledMatchSpec& spec) {
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    if (spec.fields[i].role != MatchRole::kPlace) continue;
    place_fields_.push_back(i);
    place_names_.push_back(spec.fields[i].name);
  }
}

void PlaceHierarchy::count(const std::vector<std::string>& parts) {
  for (size_t x = 0; x < parts.size(); ++x) {
    for (size_t y = 0; y < parts.size(); ++y) {
      if (x != y) ++together_[parts[x]][parts[y]];
    }
  }
}

void PlaceHierarchy::learn(const RecordFeatures& record) {
  for (size_t f : place_fields_) count(record.fields[f].parts);
}

void PlaceHierarchy::learn(const FieldMap& fields) {
  for (const auto& name : place_names_) {
    if (auto value = fields.get(name)) count(place_skeletons(*value));
  }
}

void PlaceHierarchy::finish() {
  larger_.clear();
  for (const auto& [place, beside] : together_) {
    const std::string* best = nullptr;
    uint32_t best_count = 0;
    for (const auto& [other, count] : beside) {
      if (count < kMinTogether) continue;
      // Larger: written beside more different places. A tie says nothing.
      if (together_.at(other).size() <= beside.size()) continue;
      if (count > best_count || (count == best_count && other < *best)) {
        best = &other;
        best_count = count;
      }
    }
    if (best != nullptr) larger_.emplace(place, *best);
  }
  together_.clear();
}

void PlaceHierarchy::extend(RecordFeatures& record) const {
  for (size_t f : place_fields_) {
    auto& field = record.fields[f];
    field.regions.clear();
    for (const auto& part : field.parts) {
      auto it = larger_.find(part);
      if (it == larger_.end()) continue;
      const std::string& region = it->second;
      if (std::find(field.parts.begin(), field.parts.end(), region) != field.parts.end()) continue;
      if (std::find(field.regions.begin(), field.regions.end(), region) != field.regions.end()) continue;
      field.regions.push_back(region);
    }
  }
}

NameSpellings::NameSpellings(const CompiledMatchSpec& spec) {
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    if (spec.fields[i].role != MatchRole::kName) continue;
    name_fields_.push_back(i);
    field_names_.push_back(spec.fields[i].name);
  }
}

void NameSpellings::learn(const RecordFeatures& record) {
  for (size_t f : name_fields_) {
    if (record.fields[f].present) ++count_[record.fields[f].skeleton];
  }
}

void NameSpellings::learn(const FieldMap& fields) {
  for (const auto& name : field_names_) {
    if (auto value = fields.get(name)) {
      std::string skeleton = name_skeleton(*value);
      if (!skeleton.empty()) ++count_[skeleton];
    }
  }
}

void NameSpellings::finish() {
  corrected_.clear();
  std::string alphabet;
  for (const auto& [skeleton, n] : count_) {
    for (char c : skeleton) {
      if (alphabet.find(c) == std::string::npos) alphabet.push_back(c);
    }
  }
  for (const auto& [skeleton, n] : count_) {
    // The skeletons one edit away that are written somewhere (each once, however reached).
    std::vector<const std::pair<const std::string, uint32_t>*> neighbours;
    auto consider = [&](const std::string& candidate) {
      auto it = count_.find(candidate);
      if (it != count_.end() && it->first != skeleton) neighbours.push_back(&*it);
    };
    std::string e;
    for (size_t i = 0; i <= skeleton.size(); ++i) {
      for (char c : alphabet) {  // a letter added
        e = skeleton;
        e.insert(e.begin() + static_cast<std::ptrdiff_t>(i), c);
        consider(e);
      }
      if (i == skeleton.size()) break;
      e = skeleton;  // dropped
      e.erase(i, 1);
      if (!e.empty()) consider(e);
      for (char c : alphabet) {  // replaced
        if (c == skeleton[i]) continue;
        e = skeleton;
        e[i] = c;
        consider(e);
      }
      if (i + 1 < skeleton.size() && skeleton[i] != skeleton[i + 1]) {  // neighbours swapped
        e = skeleton;
        std::swap(e[i], e[i + 1]);
        consider(e);
      }
    }
    std::sort(neighbours.begin(), neighbours.end());
    neighbours.erase(std::unique(neighbours.begin(), neighbours.end()), neighbours.end());
    const std::pair<const std::string, uint32_t>* best = nullptr;
    uint32_t second = 0;
    for (const auto* nb : neighbours) {
      if (best == nullptr || nb->second > best->second) {
        if (best != nullptr) second = std::max(second, best->second);
        best = nb;
      } else {
        second = std::max(second, nb->second);
      }
    }
    if (best != nullptr && best->second >= kCommonAtLeast && best->second >= kCommonRatio * n &&
        best->second >= kUnambiguousRatio * second) {
      corrected_.emplace(skeleton, best->first);
    }
  }
  count_.clear();
}

void NameSpellings::extend(RecordFeatures& record) const {
  for (size_t f : name_fields_) {
    auto& field = record.fields[f];
    field.corrected.clear();
    if (!field.present) continue;
    if (auto it = corrected_.find(field.skeleton); it != corrected_.end()) field.corrected = it->second;
  }
}

}  // namespace jisr::match
