// Runs the `tests:` embedded in an agreement file against the compiled agreement (the policy
// officer's unit tests, STYLE.md 23 / OPA-style tests as data) and reports rule coverage.
// Each test's request is decided at its `now:` day (noon UTC) or, without one, at noon of the
// agreement's valid_from: tests describe what the rules do, so they must not start failing
// because the calendar moved on.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "policies/compiler.hpp"

namespace jisr::policies {

struct TestOutcome {
  std::string name;
  int line = 0;
  bool passed = false;
  std::vector<std::string> failures;  // one line each, e.g. "expected shared: true, got denied (...)"
  std::string rule_id;                // the rule that decided (empty when denied)
};

struct TestReport {
  std::vector<TestOutcome> outcomes;
  std::vector<std::string> uncovered_rules;  // rules no test was allowed by, in agreement order
  size_t passed = 0;
  size_t failed = 0;
  // True when there is at least one test and none failed.
  bool ok() const { return failed == 0 && !outcomes.empty(); }
};

TestReport run_embedded_tests(const AgreementFile& file);

// The time a test is decided at.
TimePoint test_time(const CompiledAgreement& agreement, const AgreementTest& test);

}  // namespace jisr::policies
