// JSON forms of audit entries and checkpoints, and the self-contained export bundle a third
// party verifies offline (`jisr audit export` / `jisr audit verify --bundle`).
//
// A bundle holds every entry and checkpoint in readable JSON, the org and the node's public
// key. Verification re-encodes each entry canonically from its JSON and recomputes the chain,
// so editing anything a reader sees (a purpose, a field name, a time) breaks a hash; the JSON
// is read strictly (unknown, missing or mistyped members are errors). The exporter signs the
// head first, so every entry of a bundle must be covered by a valid checkpoint: entries after
// the last checkpoint could have been appended by anyone and fail verification. The key in
// the bundle only says which key signed; a verifier who wants to know WHO signed compares it
// with the key the organisation publishes (`--pubkey`).
//
// Bundle: {"format":"jisr-audit-bundle-v1","org":..,"public_key":hex,"exported_at":iso,
//          "entries":[entry...],"checkpoints":[checkpoint...]}
// Entry:  {"seq","time","time_ms","kind","actor":{"kind","id"},"peer","record_id",
//          "record_version","batch_hash","job_id","agreement_id","policy_hash","purpose",
//          "fields":[..],"counts":{name:n},"detail","prev","hash"}
// Checkpoint: {"seq","time","time_ms","org","head","key","signature"}
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "node/audit/audit_event.hpp"
#include "node/audit/checkpoint.hpp"
#include "node/audit/verify.hpp"
#include "node/core/clock.hpp"
#include "node/core/result.hpp"
#include "node/store/env.hpp"

namespace jisr::audit {

inline constexpr std::string_view kBundleFormat = "jisr-audit-bundle-v1";
// Bundles larger than this are refused before parsing (hostile input is bounded).
inline constexpr size_t kMaxBundleBytes = size_t{512} << 20;

nlohmann::json entry_to_json(const AuditEntry& entry);
// Strict: kInvalidInput naming the member for anything entry_to_json would not produce.
Result<AuditEntry> entry_from_json(const nlohmann::json& json);
nlohmann::json checkpoint_to_json(const CheckpointHead& cp);
Result<CheckpointHead> checkpoint_from_json(const nlohmann::json& json);

// Builds the bundle of everything in the store's log (the caller signs the head first, in the
// same transaction, so the bundle ends on a checkpoint). Fails if an entry does not decode.
Result<nlohmann::json> export_bundle(const store::TxnView& txn, const std::string& org,
                                     const PublicKey& key, TimePoint now);

// Verifies a bundle's text. Fails (kInvalidInput, one line) when the text is not a bundle at
// all; otherwise returns the report, whose findings say what is wrong. expected_key: when
// given, the bundle's key must be it (the org's published key).
Result<VerifyReport> verify_bundle(std::string_view text,
                                   const std::optional<PublicKey>& expected_key = std::nullopt);

}  // namespace jisr::audit
