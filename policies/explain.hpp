// Plain-words rendering of policy decisions for policy officers, in English or Arabic
// (`jisr policy explain`). Field NAMES only, never values: explain may be run on a shared
// screen. Condition constants written in the agreement (e.g. "yes", closed) are shown, since
// they are policy, not personal data.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "policies/agreement.hpp"

namespace jisr::policies {

enum class Language { kEnglish, kArabic };

// The condition in words, e.g. `consent_share_iimp is "yes"` / `consent_share_iimp يساوي "yes"`.
std::string describe_condition(const Condition& c, Language lang);

// The part of `c` that does not hold for `record` (the first failing child of an `all`, else
// `c` itself); nullptr when `c` holds.
const Condition* unmet_part(const Condition& c, const FieldMap& record);

// The full explanation of decide(agreement, {record, ...}) == decision for the record with the
// given local id, several lines ending in a newline. `record` is used only for field names and
// to say which condition of each rule was not met.
std::string explain_decision(const CompiledAgreement& agreement, std::string_view record_id,
                             const FieldMap& record, const Decision& decision, TimePoint now,
                             Language lang);

}  // namespace jisr::policies
