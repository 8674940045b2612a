// The agreement compiler: strict YAML (node/core/yaml_source.hpp) -> CompiledAgreement
// (STYLE.md 20). It validates everything a policy officer can get wrong — unknown and duplicate
// keys, field names not in the node's RecordSchema, unknown operators and transforms, invalid
// dates and ids, rules without fields, values outside a field's allowed list — and reports ALL
// problems of the file at once, each as `FILE:LINE:COL: message` (in Error::what, one per line).
//
// The embedded `tests:` section is compiled too (same strictness) into AgreementTest values that
// embedded_tests.hpp runs.
//
// Thread-safety: pure functions; a YamlSource is used by one thread at a time.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/core/record_schema.hpp"
#include "node/core/result.hpp"
#include "node/core/yaml_source.hpp"
#include "policies/agreement.hpp"

namespace jisr::policies {

// What one embedded test expects. Every key is optional; a test must set at least one.
struct TestExpectation {
  std::optional<bool> shared;                  // decision effect
  std::optional<std::string> rule;             // the rule that allowed it
  std::vector<std::string> fields_present;     // these leave
  std::vector<std::string> fields_absent;      // these do not leave
  std::vector<std::pair<std::string, std::string>> fields_equal;  // leave with this value
  std::optional<std::string> purpose;          // the purpose the decision was made for
};

struct AgreementTest {
  std::string name;
  int line = 0;                       // where the test starts in the file (1-based)
  FieldMap record;                    // canonical values
  std::string purpose;                // empty: the agreement's first purpose
  std::optional<PartialDate> now;     // the day the test runs on; nullopt: valid_from
  TestExpectation expect;
};

// A compiled agreement file: the agreement and its embedded tests.
struct AgreementFile {
  CompiledAgreement agreement;
  std::vector<AgreementTest> tests;
};

// Compiles an agreement document against a schema. On failure the Error (kInvalidInput)
// carries every diagnostic, one `FILE:LINE:COL: message` per line; the same diagnostics are
// left in `source.diagnostics()`.
Result<CompiledAgreement> compile_agreement(YamlSource& source, const RecordSchema& schema);
// Same, also returning the embedded tests.
Result<AgreementFile> compile_agreement_file(YamlSource& source, const RecordSchema& schema);

// Limits that keep a hostile file from exhausting the compiler (and decide()).
inline constexpr int kMaxConditionDepth = 16;
inline constexpr size_t kMaxRules = 256;
inline constexpr size_t kMaxTests = 1024;

}  // namespace jisr::policies
