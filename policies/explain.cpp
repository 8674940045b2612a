#include "policies/explain.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace jisr::policies {
namespace {

bool ar(Language l) { return l == Language::kArabic; }

// The list separator of each language (Arabic uses the Arabic comma).
std::string_view sep(Language l) { return ar(l) ? "، " : ", "; }

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

std::string quoted_values(const std::vector<std::string>& values, Language l) {
  std::vector<std::string> q;
  for (const auto& v : values) q.push_back("\"" + v + "\"");
  return join(q, sep(l));
}

std::string transform_words(Transform t, Language l) {
  switch (t) {
    case Transform::kYearOnly: return ar(l) ? "السنة فقط" : "as year only";
    case Transform::kYearMonth: return ar(l) ? "السنة والشهر فقط" : "as year and month";
    case Transform::kDrop: return ar(l) ? "محذوف" : "dropped";
    case Transform::kNone: break;
  }
  return {};
}

std::string withheld_words(WithheldReason r, Language l) {
  switch (r) {
    case WithheldReason::kNever: return ar(l) ? "مدرج في قائمة الحظر الدائم" : "on the never list";
    case WithheldReason::kNotInRule: return ar(l) ? "ليس من حقول القاعدة" : "not in the rule's fields";
    case WithheldReason::kDropped: return ar(l) ? "محذوف بتحويل في القاعدة" : "dropped by the rule's transform";
    case WithheldReason::kNotShared: return ar(l) ? "السجل لا يُشارَك" : "the record is not shared";
  }
  return {};
}

std::string validity_words(const CompiledAgreement& a, Language l) {
  const std::string from = a.valid_from().to_string();
  if (!a.valid_until()) {
    return ar(l) ? fmt::format("سارية اعتبارًا من {}", from) : fmt::format("valid from {}", from);
  }
  const std::string until = a.valid_until()->to_string();
  return ar(l) ? fmt::format("مدة سريانها من {} إلى {}", from, until)
               : fmt::format("valid {} to {}", from, until);
}

std::string day_of(TimePoint t) { return format_utc(t).substr(0, 10); }

}  // namespace

std::string describe_condition(const Condition& c, Language l) {
  using Op = Condition::Op;
  const auto children = [&](std::string_view separator) {
    std::vector<std::string> parts;
    for (const auto& child : c.children) parts.push_back(describe_condition(child, l));
    return join(parts, separator);
  };
  switch (c.op) {
    case Op::kAll:
      if (c.children.empty()) return ar(l) ? "دائمًا" : "always";
      return ar(l) ? fmt::format("جميع الشروط: ({})", children("؛ "))
                   : fmt::format("all of ({})", children("; "));
    case Op::kAny:
      return ar(l) ? fmt::format("أيٌّ من الشروط: ({})", children("؛ "))
                   : fmt::format("any of ({})", children("; "));
    case Op::kNot:
      return ar(l) ? fmt::format("ليس ({})", children("؛ ")) : fmt::format("not ({})", children("; "));
    case Op::kEquals:
      return ar(l) ? fmt::format("{} يساوي {}", c.field, quoted_values(c.values, l))
                   : fmt::format("{} is {}", c.field, quoted_values(c.values, l));
    case Op::kNotEquals:
      return ar(l) ? fmt::format("{} لا يساوي {}", c.field, quoted_values(c.values, l))
                   : fmt::format("{} is not {}", c.field, quoted_values(c.values, l));
    case Op::kIn:
      return ar(l) ? fmt::format("{} أحد القيم: {}", c.field, quoted_values(c.values, l))
                   : fmt::format("{} is one of {}", c.field, quoted_values(c.values, l));
    case Op::kNotIn:
      return ar(l) ? fmt::format("{} ليس أحد القيم: {}", c.field, quoted_values(c.values, l))
                   : fmt::format("{} is not one of {}", c.field, quoted_values(c.values, l));
    case Op::kExists:
      return ar(l) ? fmt::format("{} موجود", c.field) : fmt::format("{} is present", c.field);
    case Op::kMissing:
      return ar(l) ? fmt::format("{} غير موجود", c.field) : fmt::format("{} is absent", c.field);
    case Op::kBefore:
      return ar(l) ? fmt::format("{} قبل {}", c.field, c.date.to_string())
                   : fmt::format("{} is before {}", c.field, c.date.to_string());
    case Op::kAfter:
      return ar(l) ? fmt::format("{} بعد {}", c.field, c.date.to_string())
                   : fmt::format("{} is after {}", c.field, c.date.to_string());
  }
  return {};
}

const Condition* unmet_part(const Condition& c, const FieldMap& record) {
  if (holds(c, record)) return nullptr;
  if (c.op == Condition::Op::kAll) {
    for (const auto& child : c.children) {
      if (const Condition* u = unmet_part(child, record)) return u;
    }
  }
  return &c;
}

std::string explain_decision(const CompiledAgreement& a, std::string_view record_id,
                             const FieldMap& record, const Decision& d, TimePoint now,
                             Language l) {
  const std::string version = a.short_version() + "…";
  std::string out;
  if (d.allowed()) {
    out += ar(l) ? fmt::format("السجل {} سيُشارَك مع {} بموجب الاتفاقية {} (الإصدار {})، وفق القاعدة "
                               "{}، لغرض {}.\n",
                               record_id, a.peer().str(), a.id().str(), version, d.rule_id, d.purpose)
                 : fmt::format("Record {} WOULD be shared with {} under agreement {} (version {}), "
                               "rule {}, for purpose {}.\n",
                               record_id, a.peer().str(), a.id().str(), version, d.rule_id, d.purpose);
    std::vector<std::string> leaves;
    for (const auto& [name, value] : d.fields) {
      std::string item = name;
      for (const auto& t : d.transformed) {
        if (t.field == name) item += " (" + transform_words(t.transform, l) + ")";
      }
      leaves.push_back(item);
    }
    out += ar(l) ? "  الحقول التي ستُرسَل: " : "  leaves: ";
    out += leaves.empty() ? (ar(l) ? "لا شيء" : "nothing") : join(leaves, sep(l));
    out += "\n";
    std::vector<std::string> withheld;
    for (const auto& w : d.withheld) withheld.push_back(w.field + " (" + withheld_words(w.reason, l) + ")");
    out += ar(l) ? "  الحقول المحجوبة: " : "  withheld: ";
    out += withheld.empty() ? (ar(l) ? "لا شيء" : "nothing") : join(withheld, sep(l));
    out += "\n";
    return out;
  }
  out += ar(l) ? fmt::format("السجل {} لن يُشارَك مع {} بموجب الاتفاقية {} (الإصدار {})، لغرض {}: ",
                             record_id, a.peer().str(), a.id().str(), version, d.purpose)
               : fmt::format("Record {} would NOT be shared with {} under agreement {} (version {}), "
                             "for purpose {}: ",
                             record_id, a.peer().str(), a.id().str(), version, d.purpose);
  switch (d.why) {
    case DecisionReason::kNotInForce:
      out += ar(l) ? fmt::format("الاتفاقية غير سارية بتاريخ {} ({}).\n", day_of(now), validity_words(a, l))
                   : fmt::format("the agreement is not in force on {} ({}).\n", day_of(now),
                                 validity_words(a, l));
      break;
    case DecisionReason::kUnknownPurpose:
      out += ar(l) ? fmt::format("الغرض {} ليس من أغراض الاتفاقية ({}).\n", d.purpose,
                                 join(a.purposes(), sep(l)))
                   : fmt::format("purpose {} is not one of the agreement's purposes ({}).\n",
                                 d.purpose, join(a.purposes(), sep(l)));
      break;
    case DecisionReason::kNoRuleMatched:
    case DecisionReason::kRuleMatched:
      out += ar(l) ? "لا توجد قاعدة تسمح بمشاركته.\n" : "no rule allows it.\n";
      if (a.rules().empty()) {
        out += ar(l) ? "  الاتفاقية لا تتضمن أي قاعدة مشاركة.\n" : "  the agreement has no share rules.\n";
      }
      for (const auto& r : a.rules()) {
        if (!r.purposes.empty() &&
            std::find(r.purposes.begin(), r.purposes.end(), d.purpose) == r.purposes.end()) {
          out += ar(l) ? fmt::format("  القاعدة {}: لا تخدم الغرض {}\n", r.id, d.purpose)
                       : fmt::format("  rule {}: does not serve purpose {}\n", r.id, d.purpose);
          continue;
        }
        const Condition* u = unmet_part(r.when, record);
        const std::string what = u ? describe_condition(*u, l) : std::string("?");
        out += ar(l) ? fmt::format("  القاعدة {}: شرط غير مستوفى: {}\n", r.id, what)
                     : fmt::format("  rule {}: not met: {}\n", r.id, what);
      }
      break;
  }
  out += ar(l) ? fmt::format("  لن يُرسَل أي حقل من حقول السجل (عددها {}).\n", record.size())
               : fmt::format("  nothing leaves ({} fields withheld).\n", record.size());
  return out;
}

}  // namespace jisr::policies
