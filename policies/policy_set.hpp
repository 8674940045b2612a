// PolicySet: the agreements in force on a node, one per peer, as an immutable snapshot; and
// PolicyHolder, which lets the running node swap in a new snapshot atomically on reload while
// sessions keep deciding against the snapshot they started with (STYLE.md 20).
//
// load_policy_dir() reads every DIR/policies/*.yaml (sorted by name), compiles each against the
// node's schema and refuses the whole set — reporting every problem of every file — when any
// file is invalid or two files govern the same peer. A failed reload keeps the old snapshot.
//
// Thread-safety: PolicySet is immutable; share it freely. PolicyHolder's current() and replace()
// may be called from any thread at any time (std::atomic<std::shared_ptr>).
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "node/core/record_schema.hpp"
#include "node/core/result.hpp"
#include "policies/agreement.hpp"

namespace jisr::policies {

class PolicySet {
 public:
  PolicySet() = default;
  // Adds an agreement; kConflict when another agreement already governs the same peer.
  Result<void> add(std::shared_ptr<const CompiledAgreement> agreement, std::string source);

  // The agreement in force with a peer, or nullptr (then nothing is shared with that peer).
  std::shared_ptr<const CompiledAgreement> for_peer(const OrgId& peer) const;
  // The file the peer's agreement came from (empty when unknown).
  std::string source_of(const OrgId& peer) const;
  size_t size() const { return by_peer_.size(); }
  // Peers in name order with their agreements.
  const auto& entries() const { return by_peer_; }

 private:
  struct Entry {
    std::shared_ptr<const CompiledAgreement> agreement;
    std::string source;
  };
  std::map<OrgId, Entry> by_peer_;
};

// Compiles every *.yaml in `dir` (a missing directory is an empty set). All errors of all files
// are reported together, one `FILE:LINE:COL: message` per line.
Result<PolicySet> load_policy_dir(const std::filesystem::path& dir, const RecordSchema& schema);

class PolicyHolder {
 public:
  explicit PolicyHolder(std::shared_ptr<const PolicySet> initial =
                            std::make_shared<const PolicySet>())
      : current_(std::move(initial)) {}
  PolicyHolder(const PolicyHolder&) = delete;
  PolicyHolder& operator=(const PolicyHolder&) = delete;

  // The snapshot in force now; keep it for the whole of one decision or batch.
  std::shared_ptr<const PolicySet> current() const { return current_.load(); }
  // Makes `next` the snapshot in force; returns the previous one.
  std::shared_ptr<const PolicySet> replace(std::shared_ptr<const PolicySet> next) {
    return current_.exchange(std::move(next));
  }
  // Loads `dir` and swaps it in; on failure the snapshot in force is unchanged.
  Result<std::shared_ptr<const PolicySet>> reload(const std::filesystem::path& dir,
                                                  const RecordSchema& schema);

 private:
  std::atomic<std::shared_ptr<const PolicySet>> current_;
};

}  // namespace jisr::policies
