// PolicyStore: the node's record of applied agreement versions in LMDB (tables
// kPolicyVersions, kPolicyHistory and kPolicyActive of node/store/schema.hpp). Every
// `jisr policy apply` stores the exact YAML text under its version hash, appends a history
// entry (time, agreement, peer, hash, previous hash) and marks the version active for the
// peer — in one write transaction, so the three never disagree.
//
// Value layouts (all ByteWriter encodings, first byte a format number):
//   policy_versions[hash]   = [u8 1][bytes agreement][bytes peer][varint first_applied_ms][bytes yaml]
//   policy_history[be64 n]  = [u8 1][varint at_ms][bytes agreement][bytes peer][bytes hash][bytes previous]
//   policy_active[peer]     = hash (hex)
//
// Thread-safety: stateless beyond the Env reference; each call runs its own transaction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "node/core/clock.hpp"
#include "node/core/ids.hpp"
#include "node/core/result.hpp"
#include "node/audit/audit_log.hpp"
#include "node/store/env.hpp"
#include "policies/agreement.hpp"

namespace jisr::app {

struct PolicyHistoryEntry {
  uint64_t seq = 0;
  TimePoint at;
  std::string agreement;
  std::string peer;
  std::string hash;
  std::string previous;  // empty for the first version applied for the peer
};

struct StoredPolicyVersion {
  std::string hash;
  std::string agreement;
  std::string peer;
  TimePoint first_applied;
  std::string yaml;
};

class PolicyStore {
 public:
  explicit PolicyStore(store::Env& env) : env_(env) {}

  // Stores the version (text kept from its first apply), appends a history entry and makes it
  // the active version for the agreement's peer. When that version is already active, nothing
  // changes and nullopt is returned.
  // With an audit log, a policy_applied entry is appended in the same transaction.
  Result<std::optional<PolicyHistoryEntry>> record_apply(const policies::CompiledAgreement& agreement,
                                                         std::string_view yaml, TimePoint now,
                                                         const audit::AuditLog* audit = nullptr);
  // The active version hash for a peer, if any.
  Result<std::optional<std::string>> active(const OrgId& peer);
  // Every history entry, oldest first.
  Result<std::vector<PolicyHistoryEntry>> history();
  Result<std::optional<StoredPolicyVersion>> version(std::string_view hash);

 private:
  store::Env& env_;
};

}  // namespace jisr::app
