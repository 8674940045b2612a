#include "policies/agreement.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace jisr::policies {

std::string_view condition_op_name(Condition::Op op) {
  switch (op) {
    case Condition::Op::kAll: return "all";
    case Condition::Op::kAny: return "any";
    case Condition::Op::kNot: return "not";
    case Condition::Op::kEquals: return "equals";
    case Condition::Op::kNotEquals: return "not_equals";
    case Condition::Op::kIn: return "in";
    case Condition::Op::kNotIn: return "not_in";
    case Condition::Op::kExists: return "exists";
    case Condition::Op::kMissing: return "missing";
    case Condition::Op::kBefore: return "before";
    case Condition::Op::kAfter: return "after";
  }
  return "?";
}

std::string_view transform_name(Transform t) {
  switch (t) {
    case Transform::kNone: return "none";
    case Transform::kYearOnly: return "year_only";
    case Transform::kYearMonth: return "year_month";
    case Transform::kDrop: return "drop";
  }
  return "?";
}

std::string_view match_method_name(MatchMethod m) {
  switch (m) {
    case MatchMethod::kPsi: return "psi";
    case MatchMethod::kBloom: return "bloom";
  }
  return "?";
}

Transform ShareRule::transform_of(std::string_view field) const {
  for (const auto& t : transforms) {
    if (t.field == field) return t.transform;
  }
  return Transform::kNone;
}

bool MatchSection::allows(MatchMethod m) const {
  return std::find(methods.begin(), methods.end(), m) != methods.end();
}

TimePoint start_of_day(const PartialDate& day) {
  using namespace std::chrono;
  const year_month_day ymd{year(day.year), month(static_cast<unsigned>(day.month)),
                           std::chrono::day(static_cast<unsigned>(day.day))};
  return time_point_cast<milliseconds>(sys_days(ymd));
}

TimePoint end_of_day(const PartialDate& day) {
  return start_of_day(day) + std::chrono::hours(24) - std::chrono::milliseconds(1);
}

bool CompiledAgreement::in_force(TimePoint now) const {
  if (now < start_of_day(valid_from_)) return false;
  if (valid_until_ && now > end_of_day(*valid_until_)) return false;
  return true;
}

bool CompiledAgreement::has_purpose(std::string_view purpose) const {
  return std::find(purposes_.begin(), purposes_.end(), purpose) != purposes_.end();
}

const ShareRule* CompiledAgreement::find_rule(std::string_view id) const {
  for (const auto& r : rules_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

bool CompiledAgreement::is_never(std::string_view field) const {
  return std::binary_search(never_.begin(), never_.end(), field);
}

namespace {

// Record: FieldMap or FieldsView (get/has by name); one evaluator for both.
template <class Record>
bool holds_in(const Condition& c, const Record& record) {
  using Op = Condition::Op;
  switch (c.op) {
    case Op::kAll:
      return std::all_of(c.children.begin(), c.children.end(),
                         [&](const Condition& child) { return holds_in(child, record); });
    case Op::kAny:
      return std::any_of(c.children.begin(), c.children.end(),
                         [&](const Condition& child) { return holds_in(child, record); });
    case Op::kNot:
      return !c.children.empty() && !holds_in(c.children.front(), record);
    case Op::kExists:
      return record.has(c.field);
    case Op::kMissing:
      return !record.has(c.field);
    default:
      break;
  }
  const auto value = record.get(c.field);
  if (!value) {
    // See Condition: the negations are the exact complement of equals/in.
    return c.op == Op::kNotEquals || c.op == Op::kNotIn;
  }
  switch (c.op) {
    case Op::kEquals:
      return !c.values.empty() && *value == c.values.front();
    case Op::kNotEquals:
      return !c.values.empty() && *value != c.values.front();
    case Op::kIn:
      return std::binary_search(c.values.begin(), c.values.end(), *value);
    case Op::kNotIn:
      return !std::binary_search(c.values.begin(), c.values.end(), *value);
    case Op::kBefore: {
      const auto d = PartialDate::parse(*value);
      return d && d->latest() < c.date.earliest();
    }
    case Op::kAfter: {
      const auto d = PartialDate::parse(*value);
      return d && d->earliest() > c.date.latest();
    }
    default:
      return false;
  }
}

}  // namespace

bool holds(const Condition& c, const FieldMap& record) { return holds_in(c, record); }

std::optional<std::string> apply_transform(Transform t, std::string_view value) {
  switch (t) {
    case Transform::kNone:
      return std::string(value);
    case Transform::kDrop:
      return std::nullopt;
    case Transform::kYearOnly:
    case Transform::kYearMonth: {
      auto d = PartialDate::parse(value);
      // A value that is not a date cannot be generalised; withholding it is the safe side.
      if (!d) return std::nullopt;
      // parse() accepts only the canonical forms YYYY, YYYY-MM and YYYY-MM-DD, so the
      // generalised date is a prefix of the value (formatting it again cost a sender 3%).
      const size_t keep = t == Transform::kYearOnly ? 4 : std::min<size_t>(value.size(), 7);
      return std::string(value.substr(0, keep));
    }
  }
  return std::nullopt;
}

namespace {

bool rule_serves(const ShareRule& rule, std::string_view purpose) {
  return rule.purposes.empty() ||
         std::find(rule.purposes.begin(), rule.purposes.end(), purpose) != rule.purposes.end();
}

void withhold_all(const FieldMap& record, Decision& d) {
  for (const auto& [name, value] : record) {
    d.withheld.push_back({name, WithheldReason::kNotShared});
  }
}

std::string_view effective_purpose(const CompiledAgreement& agreement, std::string_view purpose) {
  return purpose.empty() && !agreement.purposes().empty() ? std::string_view(agreement.purposes().front())
                                                          : purpose;
}

// The rule that decides a record: the first that serves the purpose and whose conditions hold.
// decide() and project() both choose through here, so they cannot disagree.
template <class Record>
const ShareRule* deciding_rule(const CompiledAgreement& agreement, const Record& record,
                               std::string_view purpose) {
  for (const auto& rule : agreement.rules()) {
    if (rule_serves(rule, purpose) && holds_in(rule.when, record)) return &rule;
  }
  return nullptr;
}

// Why a field of a record the rule allows stays home, or nullopt when it leaves (with
// transform t, which may still drop it: apply_transform).
std::optional<WithheldReason> field_withheld(const CompiledAgreement& agreement, const ShareRule& rule,
                                             std::string_view name) {
  if (agreement.is_never(name)) return WithheldReason::kNever;
  if (!std::binary_search(rule.fields.begin(), rule.fields.end(), name)) return WithheldReason::kNotInRule;
  return std::nullopt;
}

}  // namespace

Decision decide(const CompiledAgreement& agreement, const ShareRequest& request, TimePoint now) {
  Decision d;
  d.purpose = effective_purpose(agreement, request.purpose);
  if (!agreement.in_force(now)) {
    d.why = DecisionReason::kNotInForce;
    d.reason = fmt::format("agreement {} is not in force at {}", agreement.id().str(),
                           format_utc(now));
    withhold_all(request.record, d);
    return d;
  }
  if (!agreement.has_purpose(d.purpose)) {
    d.why = DecisionReason::kUnknownPurpose;
    d.reason = fmt::format("purpose '{}' is not a purpose of agreement {}", d.purpose,
                           agreement.id().str());
    withhold_all(request.record, d);
    return d;
  }
  if (const ShareRule* found = deciding_rule(agreement, request.record, d.purpose)) {
    const ShareRule& rule = *found;
    d.effect = Effect::kAllow;
    d.why = DecisionReason::kRuleMatched;
    d.rule_id = rule.id;
    d.fields.reserve(request.record.size());
    for (const auto& [name, value] : request.record) {
      if (const auto why = field_withheld(agreement, rule, name)) {
        d.withheld.push_back({name, *why});
        continue;
      }
      const Transform t = rule.transform_of(name);
      auto out = apply_transform(t, value);
      if (!out) {
        d.withheld.push_back({name, WithheldReason::kDropped});
        continue;
      }
      if (t != Transform::kNone) d.transformed.push_back({name, t});
      d.fields.set(name, std::move(*out));
    }
    d.reason = fmt::format("allowed by rule {} of agreement {} for purpose {}", rule.id,
                           agreement.id().str(), d.purpose);
    return d;
  }
  d.why = DecisionReason::kNoRuleMatched;
  d.reason = fmt::format("no rule of agreement {} allows this record for purpose {}",
                         agreement.id().str(), d.purpose);
  withhold_all(request.record, d);
  return d;
}

bool project(const CompiledAgreement& agreement, FieldsView record, std::string_view purpose,
             TimePoint now, Projection& out) {
  out.rule = nullptr;
  out.fields.clear();
  out.transformed.clear();
  const std::string_view effective = effective_purpose(agreement, purpose);
  if (!agreement.in_force(now) || !agreement.has_purpose(effective)) return false;
  const ShareRule* rule = deciding_rule(agreement, record, effective);
  if (!rule) return false;
  out.rule = rule;
  // Reserved before the first value is stored: the views below must not see it move.
  out.transformed.reserve(record.size());
  // The record's fields and the rule's leaving fields are both sorted by name: one merge, where
  // field_withheld() and transform_of() would search three lists per field. Same outcome: a
  // field leaves when it is in the rule and not on the never list.
  auto leave = rule->leaving.begin();
  const auto last = rule->leaving.end();
  for (const auto& [name, value] : record) {
    while (leave != last && std::string_view(leave->field) < name) ++leave;
    if (leave == last) break;
    if (std::string_view(leave->field) != name) continue;
    const Transform t = leave->transform;
    if (t == Transform::kNone) {
      out.fields.emplace_back(name, value);
      continue;
    }
    auto generalised = apply_transform(t, value);
    if (!generalised || generalised->empty()) continue;  // empty: FieldMap::set would drop it
    out.transformed.push_back(std::move(*generalised));
    out.fields.emplace_back(name, out.transformed.back());
  }
  return true;
}

bool accepts(const CompiledAgreement& agreement, std::string_view field) {
  const auto& allowed = agreement.accept_section().fields;
  return std::binary_search(allowed.begin(), allowed.end(), field);
}

AcceptResult accept(const CompiledAgreement& agreement, const FieldMap& incoming) {
  AcceptResult out;
  out.kept.reserve(incoming.size());
  for (const auto& [name, value] : incoming) {
    if (accepts(agreement, name)) {
      out.kept.set(name, value);
    } else {
      out.dropped.push_back(name);
    }
  }
  return out;
}

std::string_view decision_reason_name(DecisionReason r) {
  switch (r) {
    case DecisionReason::kRuleMatched: return "rule_matched";
    case DecisionReason::kNotInForce: return "not_in_force";
    case DecisionReason::kUnknownPurpose: return "unknown_purpose";
    case DecisionReason::kNoRuleMatched: return "no_rule_matched";
  }
  return "?";
}

std::string_view withheld_reason_name(WithheldReason r) {
  switch (r) {
    case WithheldReason::kNever: return "never";
    case WithheldReason::kNotInRule: return "not_in_rule";
    case WithheldReason::kDropped: return "dropped";
    case WithheldReason::kNotShared: return "not_shared";
  }
  return "?";
}

}  // namespace jisr::policies
