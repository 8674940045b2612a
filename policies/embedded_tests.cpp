#include "policies/embedded_tests.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace jisr::policies {
namespace {

std::string describe_denial(const Decision& d) {
  switch (d.why) {
    case DecisionReason::kNotInForce: return "agreement not in force on that day";
    case DecisionReason::kUnknownPurpose: return fmt::format("purpose '{}' not in the agreement", d.purpose);
    case DecisionReason::kNoRuleMatched: return "no rule matched";
    case DecisionReason::kRuleMatched: break;
  }
  return "allowed";
}

std::string withheld_reason(const Decision& d, const std::string& field) {
  for (const auto& w : d.withheld) {
    if (w.field != field) continue;
    switch (w.reason) {
      case WithheldReason::kNever: return "on the never list";
      case WithheldReason::kNotInRule: return "not in the rule's fields";
      case WithheldReason::kDropped: return "dropped by the rule's transform";
      case WithheldReason::kNotShared: return "the record is not shared";
    }
  }
  return "not in the test record";
}

}  // namespace

TimePoint test_time(const CompiledAgreement& agreement, const AgreementTest& test) {
  const PartialDate day = test.now ? *test.now : agreement.valid_from();
  return start_of_day(day) + std::chrono::hours(12);
}

TestReport run_embedded_tests(const AgreementFile& file) {
  TestReport report;
  std::set<std::string> covered;
  const auto& a = file.agreement;
  for (const auto& t : file.tests) {
    const Decision d = decide(a, ShareRequest{t.record, t.purpose}, test_time(a, t));
    TestOutcome o{t.name, t.line, false, {}, d.rule_id};
    if (d.allowed()) covered.insert(d.rule_id);
    const auto& x = t.expect;
    if (x.shared && *x.shared != d.allowed()) {
      o.failures.push_back(
          *x.shared ? fmt::format("expected shared: true, got not shared ({})", describe_denial(d))
                    : fmt::format("expected shared: false, got shared by rule {}", d.rule_id));
    }
    if (x.rule && *x.rule != d.rule_id) {
      o.failures.push_back(d.allowed() ? fmt::format("expected rule {}, got rule {}", *x.rule, d.rule_id)
                                       : fmt::format("expected rule {}, got not shared ({})", *x.rule,
                                                     describe_denial(d)));
    }
    if (x.purpose && *x.purpose != d.purpose) {
      o.failures.push_back(fmt::format("expected purpose {}, got {}", *x.purpose, d.purpose));
    }
    for (const auto& f : x.fields_present) {
      if (!d.fields.has(f)) {
        o.failures.push_back(fmt::format("expected {} to leave, it does not ({})", f, withheld_reason(d, f)));
      }
    }
    for (const auto& f : x.fields_absent) {
      if (d.fields.has(f)) o.failures.push_back(fmt::format("expected {} not to leave, it leaves", f));
    }
    for (const auto& [f, want] : x.fields_equal) {
      const auto got = d.fields.get(f);
      if (!got) {
        o.failures.push_back(fmt::format("expected {} to leave as \"{}\", it does not leave ({})", f,
                                         want, withheld_reason(d, f)));
      } else if (*got != want) {
        // Test records are written in the agreement file itself, so echoing them is safe.
        o.failures.push_back(fmt::format("expected {} to leave as \"{}\", it leaves as \"{}\"", f, want, *got));
      }
    }
    o.passed = o.failures.empty();
    (o.passed ? report.passed : report.failed)++;
    report.outcomes.push_back(std::move(o));
  }
  for (const auto& r : a.rules()) {
    if (!covered.count(r.id)) report.uncovered_rules.push_back(r.id);
  }
  return report;
}

}  // namespace jisr::policies
