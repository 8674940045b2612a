// RefusalSummary: rate-limits connection_refused audit entries. A node under a scan or a
// misconfigured peer may refuse thousands of connections a minute; logging each would flood
// the chain (and let an attacker grow it at will). Sessions count refusals here by reason;
// the node appends one connection_refused entry per interval with a count per reason.
//
// Reasons are short machine names ("unknown_ca", "revoked", "rate_limited", "bad_hello"...).
// Anything that is not [a-z0-9_]{1,32} is counted as "invalid_reason", and reasons beyond the
// first kMaxReasons distinct ones in an interval as "other", so the summary stays bounded
// whatever callers pass. No addresses or names are kept.
//
// Thread-safety: count() and take_due() may be called from any thread (internal mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "node/audit/audit_event.hpp"
#include "node/core/clock.hpp"

namespace jisr::audit {

class RefusalSummary {
 public:
  static constexpr size_t kMaxReasons = 16;

  // interval: how long refusals accumulate before one entry is due (default one minute).
  explicit RefusalSummary(std::chrono::milliseconds interval = std::chrono::minutes(1));
  RefusalSummary(const RefusalSummary&) = delete;
  RefusalSummary& operator=(const RefusalSummary&) = delete;

  // Counts one refused connection at time now.
  void count(std::string_view reason, TimePoint now);
  // The connection_refused event to append when the interval that began with the first
  // pending refusal has passed (and resets the counts); nullopt when nothing is due.
  std::optional<AuditEvent> take_due(TimePoint now);
  // Whatever is pending, due or not (at shutdown); nullopt when nothing is pending.
  std::optional<AuditEvent> flush();

 private:
  std::optional<AuditEvent> take_locked();

  std::mutex mutex_;
  std::chrono::milliseconds interval_;
  std::optional<TimePoint> window_start_;
  std::map<std::string, uint64_t> counts_;
};

}  // namespace jisr::audit
