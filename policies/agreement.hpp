// CompiledAgreement and the pure decision functions of the policy engine (DESIGN.md
// "Agreements", STYLE.md 20). An agreement governs what this node shares with ONE peer
// organisation (`share`), what it keeps of what that peer sends (`accept`) and how the peer may
// match against it (`match`). It is produced only by compile_agreement() (compiler.hpp), which
// has validated every field name against the node's RecordSchema, so decide() and accept()
// never see an unknown field, an unknown transform or a malformed date.
//
// Deny by default: decide() allows a record only when the agreement is in force at `now`, the
// purpose is one of the agreement's, and a rule's conditions hold; what leaves is then only
// the rule's fields, minus the `never` list (which beats every rule), with transforms applied.
//
// Thread-safety: CompiledAgreement is immutable after compilation; decide() and accept() are
// pure functions, safe to call from any number of threads on a shared agreement.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/core/clock.hpp"
#include "node/core/ids.hpp"
#include "node/core/partial_date.hpp"
#include "node/core/record.hpp"

namespace jisr::policies {

// A condition on a record (`when:` of a rule). `equals`, `in`, `before` and `after` are false on
// an absent field; `not_equals` and `not_in` are exactly `not` of `equals` and `in`, so they hold
// on an absent field (a record without a status is "not closed"), as a policy officer reads them.
// Add `{ field: F, exists: true }` to require the field.
struct Condition {
  enum class Op {
    kAll,        // every child holds (an empty list holds)
    kAny,        // at least one child holds
    kNot,        // the only child does not hold
    kEquals,     // field == values[0]
    kNotEquals,  // not kEquals: field absent or != values[0]
    kIn,         // field is one of values
    kNotIn,      // not kIn: field absent or not one of values
    kExists,     // field present
    kMissing,    // field absent
    kBefore,     // field is a date entirely before `date` (a partial date counts by its latest day)
    kAfter,      // field is a date entirely after `date` (a partial date counts by its earliest day)
  };
  Op op = Op::kAll;
  std::string field;                 // leaves only
  std::vector<std::string> values;   // equals/not_equals (one), in/not_in (sorted, unique)
  PartialDate date;                  // before/after
  std::vector<Condition> children;   // all/any/not

  bool operator==(const Condition&) const = default;
};

std::string_view condition_op_name(Condition::Op op);

// How a field is generalised before it leaves. A closed list: adding one means a new enumerator,
// its compile check, its application in decide() and its words in explain.
enum class Transform {
  kNone,
  kYearOnly,   // a date becomes YYYY
  kYearMonth,  // a date becomes YYYY-MM (a year-only date stays YYYY)
  kDrop,       // the field never leaves under this rule
};

std::string_view transform_name(Transform t);

struct FieldTransform {
  std::string field;
  Transform transform = Transform::kNone;
  bool operator==(const FieldTransform&) const = default;
};

struct ShareRule {
  std::string id;           // [a-z0-9-], unique in the agreement
  std::string description;  // for people; not part of any decision
  Condition when;           // absent in the file: kAll with no children (always holds)
  std::vector<std::string> purposes;  // empty: every purpose of the agreement
  std::vector<std::string> fields;    // sorted, unique, never empty
  std::vector<FieldTransform> transforms;  // sorted by field; each field is in `fields`
  // Derived by the compiler: `fields` minus the agreement's never list, each with its
  // transform, sorted by field. What project() merges a record's sorted fields with.
  std::vector<FieldTransform> leaving;

  Transform transform_of(std::string_view field) const;
  bool operator==(const ShareRule&) const = default;
};

struct AcceptSection {
  std::vector<std::string> fields;  // sorted, unique; empty: nothing is accepted
  uint32_t retain_days = 0;         // 0: the section is absent (nothing is accepted)
  bool operator==(const AcceptSection&) const = default;
};

enum class MatchMethod { kPsi, kBloom };
std::string_view match_method_name(MatchMethod m);

struct MatchKeySpec {
  std::string id;                   // [a-z0-9-]
  std::vector<std::string> fields;  // in the order written (key construction order matters)
  bool operator==(const MatchKeySpec&) const = default;
};

struct MatchSection {
  std::vector<MatchMethod> methods;  // sorted, unique; empty: the peer may not match
  std::vector<std::string> fields;   // sorted, unique
  uint32_t max_records_per_day = 0;  // per-peer quota; 0: no queries allowed
  std::vector<std::string> reveal;   // sorted, unique: what a confirmed match discloses
  std::optional<std::chrono::seconds> every;  // schedule of match jobs; nullopt: on demand only
  std::optional<double> bloom_threshold;      // Dice threshold 0..1; nullopt: matcher default
  std::vector<MatchKeySpec> keys;             // optional explicit match keys
  bool allows(MatchMethod m) const;
  bool operator==(const MatchSection&) const = default;
};

// An agreement ready for decisions. Built by compile_agreement(); never modified afterwards.
class CompiledAgreement {
 public:
  const AgreementId& id() const { return id_; }
  const std::string& title() const { return title_; }
  const OrgId& peer() const { return peer_; }
  // First and last day in force (UTC, inclusive); valid_until nullopt: open-ended.
  const PartialDate& valid_from() const { return valid_from_; }
  const std::optional<PartialDate>& valid_until() const { return valid_until_; }
  // Purposes in the order written; the first is the default purpose of a request.
  const std::vector<std::string>& purposes() const { return purposes_; }
  const std::vector<std::string>& never() const { return never_; }  // sorted
  const std::vector<ShareRule>& rules() const { return rules_; }   // evaluation order
  const AcceptSection& accept_section() const { return accept_; }
  uint32_t retain_days() const { return accept_.retain_days; }
  const MatchSection& match() const { return match_; }

  // The policy version: lowercase hex SHA-256 of canonical_form(). Every disclosure records it.
  const std::string& version() const { return version_; }
  // The first 12 hex digits of version(), for people.
  std::string short_version() const { return version_.substr(0, 12); }
  // The canonical text the version is computed over. It is the compiled structure re-emitted
  // in a fixed order with every value quoted and escaped: whitespace, comments, YAML quoting
  // style, key order and the order of lists whose order means nothing (field lists, `in`
  // values, methods) cannot change it, while anything that changes a decision, an accept, a
  // match permission or the words people read (title, rule descriptions) does. Embedded tests
  // are not part of it: they check the agreement, they do not change what it allows.
  const std::string& canonical_form() const { return canonical_; }

  bool in_force(TimePoint now) const;
  bool has_purpose(std::string_view purpose) const;
  const ShareRule* find_rule(std::string_view id) const;
  bool is_never(std::string_view field) const;

 private:
  friend class AgreementBuilder;
  AgreementId id_;
  std::string title_;
  OrgId peer_;
  PartialDate valid_from_;
  std::optional<PartialDate> valid_until_;
  std::vector<std::string> purposes_;
  std::vector<std::string> never_;
  std::vector<ShareRule> rules_;
  AcceptSection accept_;
  MatchSection match_;
  std::string canonical_;
  std::string version_;
};

struct ShareRequest {
  const FieldMap& record;
  std::string purpose;  // empty: the agreement's first purpose
};

enum class Effect { kAllow, kDeny };

// Why a decision came out as it did (explain renders it in each language).
enum class DecisionReason {
  kRuleMatched,     // allowed by rule_id
  kNotInForce,      // now is outside valid_from..valid_until
  kUnknownPurpose,  // the purpose is not one of the agreement's
  kNoRuleMatched,   // no rule's conditions held for this purpose (deny by default)
};

// Why one field of the record does not leave.
enum class WithheldReason {
  kNever,      // on the agreement's never list (beats every rule)
  kNotInRule,  // the matching rule does not list it
  kDropped,    // the rule lists it with transform `drop`
  kNotShared,  // the whole record is not shared
};

// Stable machine names ("rule_matched", "never", ...) used by --json output and test cases.
std::string_view decision_reason_name(DecisionReason r);
std::string_view withheld_reason_name(WithheldReason r);

struct WithheldField {
  std::string field;
  WithheldReason reason = WithheldReason::kNotInRule;
  bool operator==(const WithheldField&) const = default;
};

struct Decision {
  Effect effect = Effect::kDeny;
  DecisionReason why = DecisionReason::kNoRuleMatched;
  std::string rule_id;   // the rule that allowed it; empty on deny
  std::string purpose;   // the purpose the decision was made for (resolved default)
  FieldMap fields;       // what leaves, transforms applied; empty on deny
  // Record fields that do not leave, in field-name order, each with its reason. Field names
  // only: a Decision can be logged and shown without disclosing values.
  std::vector<WithheldField> withheld;
  // Fields that leave generalised, with their transform (for explain).
  std::vector<FieldTransform> transformed;
  std::string reason;  // one line of English for logs; names and ids only, never values

  bool allowed() const { return effect == Effect::kAllow; }
};

// Decides whether `request.record` may be sent to the agreement's peer at `now`, and exactly
// what leaves. Pure: same inputs, same Decision.
Decision decide(const CompiledAgreement& agreement, const ShareRequest& request, TimePoint now);

// What leaves, without the explanation: for a sender that evaluates every record of a store
// and needs only the fields. Same rule, same fields, same values as decide() (both choose the
// rule and filter the fields through the same steps; the property test holds them equal).
struct Projection {
  const ShareRule* rule = nullptr;  // the rule that allowed it; nullptr when nothing leaves
  // What leaves, in name order: views into the record, or into `transformed` for generalised
  // values. Valid while the record's bytes and this Projection are unchanged.
  std::vector<FieldView> fields;
  std::vector<std::string> transformed;
};
// true (out filled) when the record may be sent, false (out empty) when decide() would deny.
// out is reused between calls so a loop allocates nothing once it is warm.
bool project(const CompiledAgreement& agreement, FieldsView record, std::string_view purpose,
             TimePoint now, Projection& out);

// Whether a condition holds for a record (exposed for diff and tests).
bool holds(const Condition& condition, const FieldMap& record);

// Applies a transform to a canonical value; nullopt means the field does not leave.
std::optional<std::string> apply_transform(Transform t, std::string_view value);

struct AcceptResult {
  FieldMap kept;                     // the accepted fields of the incoming record
  std::vector<std::string> dropped;  // names of the fields that were not accepted, sorted
};

// What this node keeps of a record the peer sent: only accept.fields (nothing when the
// agreement has no accept section).
AcceptResult accept(const CompiledAgreement& agreement, const FieldMap& incoming);
// Whether accept() keeps a field of that name (for receivers that filter fields in place).
bool accepts(const CompiledAgreement& agreement, std::string_view field);
// accepts() for the fields of one record, asked in increasing name order (as a record holds
// them): each answer is a step of a merge with the sorted accept list, not a search of it.
// Asking out of order is a bug. Views the agreement: use while it lives.
class AcceptedFields {
 public:
  explicit AcceptedFields(const CompiledAgreement& agreement)
      : next_(agreement.accept_section().fields.begin()), end_(agreement.accept_section().fields.end()) {}
  bool accepts(std::string_view field) {
    while (next_ != end_ && std::string_view(*next_) < field) ++next_;
    return next_ != end_ && std::string_view(*next_) == field;
  }

 private:
  std::vector<std::string>::const_iterator next_;
  std::vector<std::string>::const_iterator end_;
};

// Start of valid_from / end of valid_until as time points (UTC), for callers that schedule.
TimePoint start_of_day(const PartialDate& day);
TimePoint end_of_day(const PartialDate& day);

}  // namespace jisr::policies
