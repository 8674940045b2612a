#include "node/audit/refusal_summary.hpp"

#include <algorithm>

namespace jisr::audit {
namespace {

bool is_reason(std::string_view r) {
  return !r.empty() && r.size() <= 32 && std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

RefusalSummary::RefusalSummary(std::chrono::milliseconds interval) : interval_(interval) {}

void RefusalSummary::count(std::string_view reason, TimePoint now) {
  std::lock_guard lock(mutex_);
  if (!window_start_) window_start_ = now;
  std::string key = is_reason(reason) ? std::string(reason) : std::string("invalid_reason");
  if (!counts_.contains(key) && counts_.size() >= kMaxReasons) key = "other";
  ++counts_[key];
}

std::optional<AuditEvent> RefusalSummary::take_due(TimePoint now) {
  std::lock_guard lock(mutex_);
  if (!window_start_ || now - *window_start_ < interval_) return std::nullopt;
  return take_locked();
}

std::optional<AuditEvent> RefusalSummary::flush() {
  std::lock_guard lock(mutex_);
  if (!window_start_) return std::nullopt;
  return take_locked();
}

std::optional<AuditEvent> RefusalSummary::take_locked() {
  AuditEvent event;
  event.kind = AuditKind::kConnectionRefused;
  event.actor.kind = ActorKind::kNode;
  uint64_t total = 0;
  for (const auto& [reason, n] : counts_) {
    event.counts.emplace_back(reason, n);
    total += n;
  }
  // "total" cannot collide with a reason's count name only if no reason is called total;
  // then the reason's own count is what the entry shows.
  if (!counts_.contains("total")) event.counts.emplace_back("total", total);
  std::sort(event.counts.begin(), event.counts.end());
  event.detail = "refused connections since " + format_utc(*window_start_);
  counts_.clear();
  window_start_.reset();
  return event;
}

}  // namespace jisr::audit
