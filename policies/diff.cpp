#include "policies/diff.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "policies/explain.hpp"

namespace jisr::policies {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

// Items of `a` not in `b` (both sorted).
std::vector<std::string> minus(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

void list_change(std::vector<std::string>& out, const std::string& what,
                 const std::vector<std::string>& before, const std::vector<std::string>& after) {
  const auto added = minus(sorted(after), sorted(before));
  const auto removed = minus(sorted(before), sorted(after));
  if (!added.empty()) out.push_back(fmt::format("{}: added {}", what, join(added)));
  if (!removed.empty()) out.push_back(fmt::format("{}: removed {}", what, join(removed)));
}

std::string window(const CompiledAgreement& a) {
  return a.valid_from().to_string() + " to " +
         (a.valid_until() ? a.valid_until()->to_string() : std::string("open-ended"));
}

std::string transforms_text(const ShareRule& r) {
  if (r.transforms.empty()) return "none";
  std::vector<std::string> parts;
  for (const auto& t : r.transforms) parts.push_back(t.field + ": " + std::string(transform_name(t.transform)));
  return join(parts);
}

std::vector<std::string> method_names(const MatchSection& m) {
  std::vector<std::string> out;
  for (auto method : m.methods) out.emplace_back(match_method_name(method));
  return out;
}

}  // namespace

DisclosureDiff::DisclosureDiff(const CompiledAgreement& old_agreement,
                               const CompiledAgreement& new_agreement, std::string purpose,
                               TimePoint at)
    : old_(old_agreement), new_(new_agreement), purpose_(std::move(purpose)), at_(at) {
  counts_.peer = new_.peer().str();
  counts_.old_agreement = old_.id().str();
  counts_.new_agreement = new_.id().str();
  counts_.old_version = old_.version();
  counts_.new_version = new_.version();
  counts_.at = format_utc(at).substr(0, 10);
}

void DisclosureDiff::add(const FieldMap& record) {
  const Decision before = decide(old_, ShareRequest{record, purpose_}, at_);
  const Decision after = decide(new_, ShareRequest{record, purpose_}, at_);
  ++counts_.records;
  if (before.allowed()) ++counts_.shared_before;
  if (after.allowed()) ++counts_.shared_after;
  if (!before.allowed() && after.allowed()) ++counts_.newly_shared;
  if (before.allowed() && !after.allowed()) ++counts_.no_longer_shared;
  for (const auto& [name, value] : record) {
    const auto b = before.fields.get(name);
    const auto a = after.fields.get(name);
    if (!b && !a) continue;
    if (b && a && *a == *b) continue;
    auto& impact = fields_[name];
    impact.field = name;
    if (!b) {
      ++impact.newly_leaves;
    } else if (!a) {
      ++impact.stops_leaving;
    } else {
      ++impact.changes_form;
    }
  }
}

DiffReport DisclosureDiff::report() const {
  DiffReport r = counts_;
  for (const auto& [name, impact] : fields_) r.fields.push_back(impact);
  r.rule_changes = describe_changes(old_, new_);
  return r;
}

std::vector<std::string> describe_changes(const CompiledAgreement& o, const CompiledAgreement& n) {
  std::vector<std::string> out;
  if (o.id() != n.id()) out.push_back(fmt::format("agreement id: {} -> {}", o.id().str(), n.id().str()));
  if (o.peer() != n.peer()) out.push_back(fmt::format("peer: {} -> {}", o.peer().str(), n.peer().str()));
  if (o.title() != n.title()) out.push_back("title changed");
  if (window(o) != window(n)) out.push_back(fmt::format("validity: {} -> {}", window(o), window(n)));
  if (o.purposes() != n.purposes()) {
    list_change(out, "purposes", o.purposes(), n.purposes());
    if (sorted(o.purposes()) == sorted(n.purposes())) out.push_back("purposes: order changed (the first is the default)");
  }
  list_change(out, "never list", o.never(), n.never());
  for (const auto& r : o.rules()) {
    if (!n.find_rule(r.id)) out.push_back(fmt::format("rule {} removed (it shared {})", r.id, join(r.fields)));
  }
  for (size_t i = 0; i < n.rules().size(); ++i) {
    const auto& r = n.rules()[i];
    const ShareRule* old_rule = o.find_rule(r.id);
    if (!old_rule) {
      out.push_back(fmt::format("rule {} added: when {}, shares {}", r.id,
                                describe_condition(r.when, Language::kEnglish), join(r.fields)));
      continue;
    }
    const std::string what = "rule " + r.id;
    list_change(out, what + " fields", old_rule->fields, r.fields);
    if (old_rule->when != r.when) {
      out.push_back(fmt::format("{} condition: {} -> {}", what,
                                describe_condition(old_rule->when, Language::kEnglish),
                                describe_condition(r.when, Language::kEnglish)));
    }
    if (old_rule->transforms != r.transforms) {
      out.push_back(fmt::format("{} transforms: {} -> {}", what, transforms_text(*old_rule), transforms_text(r)));
    }
    if (old_rule->purposes != r.purposes) {
      out.push_back(fmt::format("{} purposes: {} -> {}", what,
                                old_rule->purposes.empty() ? "all" : join(old_rule->purposes),
                                r.purposes.empty() ? "all" : join(r.purposes)));
    }
    if (old_rule->description != r.description) out.push_back(what + " description changed");
    const auto old_pos = static_cast<size_t>(old_rule - o.rules().data());
    if (old_pos != i) {
      out.push_back(fmt::format("{} moved from position {} to {} (the first matching rule decides)",
                                what, old_pos + 1, i + 1));
    }
  }
  const auto& oa = o.accept_section();
  const auto& na = n.accept_section();
  list_change(out, "accept fields", oa.fields, na.fields);
  if (oa.retain_days != na.retain_days) {
    out.push_back(fmt::format("accept retain_days: {} -> {}", oa.retain_days, na.retain_days));
  }
  const auto& om = o.match();
  const auto& nm = n.match();
  list_change(out, "match methods", method_names(om), method_names(nm));
  list_change(out, "match fields", om.fields, nm.fields);
  list_change(out, "match reveal", om.reveal, nm.reveal);
  if (om.max_records_per_day != nm.max_records_per_day) {
    out.push_back(fmt::format("match max_records_per_day: {} -> {}", om.max_records_per_day,
                              nm.max_records_per_day));
  }
  if (om.every != nm.every || om.bloom_threshold != nm.bloom_threshold || om.keys != nm.keys) {
    out.push_back("match schedule, threshold or keys changed");
  }
  return out;
}

std::string render_diff(const DiffReport& r) {
  std::string out = fmt::format(
      "Disclosure impact for peer {}: {} (version {}…) -> {} (version {}…), evaluated on {}\n",
      r.peer, r.old_agreement, r.old_version.substr(0, 12), r.new_agreement,
      r.new_version.substr(0, 12), r.at);
  out += fmt::format("  records in the store:  {}\n", r.records);
  out += fmt::format("  shared before:         {}\n", r.shared_before);
  out += fmt::format("  shared after:          {}\n", r.shared_after);
  out += fmt::format("  newly shared:          {}\n", r.newly_shared);
  out += fmt::format("  no longer shared:      {}\n", r.no_longer_shared);
  if (r.fields.empty()) {
    out += "Fields: no change in what leaves.\n";
  } else {
    out += "Fields (records affected):\n";
    for (const auto& f : r.fields) {
      std::vector<std::string> parts;
      if (f.newly_leaves) parts.push_back(fmt::format("newly leaves for {}", f.newly_leaves));
      if (f.stops_leaving) parts.push_back(fmt::format("stops leaving for {}", f.stops_leaving));
      if (f.changes_form) parts.push_back(fmt::format("leaves in another form for {}", f.changes_form));
      out += fmt::format("  {}: {}\n", f.field, join(parts));
    }
  }
  if (r.rule_changes.empty()) {
    out += "Rule changes: none.\n";
  } else {
    out += "Rule changes:\n";
    for (const auto& c : r.rule_changes) out += "  - " + c + "\n";
  }
  return out;
}

}  // namespace jisr::policies
