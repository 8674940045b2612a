// MatchEngine: both halves of a privacy-preserving match job (issue 6) and of the reveal that
// follows a confirmed candidate, as plain functions over the store, without any transport, so
// the whole protocol can be driven in-process (tests) or over PeerNetwork (MatchService).
//
// Querier                                         Responder
//   begin_job: keys of own records, blinded  --->   answer: agreement, method, fields, quota;
//                                                   re-blinds the querier's points, blinds its
//   finish_job: re-blinds, intersects,       <---   own keys under per-job random handles and
//   stores candidates (kMatches)                    keeps handle -> record for kHandleLifetime
//   begin_reveal(candidate)                  --->   answer_reveal: only the agreement's reveal
//   finish_reveal: stores revealed fields    <---   fields of the record behind each handle
//
// Both sides must compute byte-identical keys, so the querier sends the match spec it used
// (fields and key kinds, by name) in MatchRequest::key_kind; the responder accepts it only
// when every field is in ITS agreement's match.fields (the responder's agreement governs what
// may be matched) and computes its keys with that same spec. Keys are domain-separated by a
// pair-agreed string, "jisr-match/<org a>/<org b>" with the two org ids sorted, because each
// side's agreement file has its own id; match_keys adds the key kind id.
//
// The querier learns which of its records match which opaque handle and on which key kinds;
// the responder learns only counts. Secrets are wiped when the job state is destroyed.
// Audit: kMatchJob on both sides (method, counts), kQuotaRefused on a refused query, kReveal on
// both sides of a reveal (field names only). Personal data is never logged; the candidate
// store holds revealed values, which `jisr matches show` prints to the reviewer.
//
// A job larger than one frame travels in upload parts and answer pages (match_paging.hpp): the
// responder keeps a job's parts, then its paged answer, in memory between steps (a few jobs per
// peer, dropped kPendingJobLifetime after their last step).
//
// Thread-safety: its methods may be called from one thread at a time (MatchService's worker);
// the pending jobs are also guarded by a mutex. Store writes are LMDB transactions.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/audit/audit_log.hpp"
#include "node/core/clock.hpp"
#include "node/core/ids.hpp"
#include "node/core/record_schema.hpp"
#include "node/core/result.hpp"
#include "node/match/match_spec.hpp"
#include "node/match/psi.hpp"
#include "node/store/env.hpp"
#include "policies/agreement.hpp"
#include "protocol/messages.hpp"

namespace jisr::exchange {

// How long a responder keeps the handle -> record map of a job (a reveal must come before).
inline constexpr auto kHandleLifetime = std::chrono::hours(24 * 30);
// Bounds on a peer's query (hostile input stops here).
inline constexpr size_t kMaxQueryPoints = 2'000'000;
// PSI: candidates of one of our records kept when within this many bits of its best one. One
// bit keeps a peer's duplicate records of one person that carry the same fields; a relative
// beside the person falls below (on arabic-dev, 2 bits kept 8 more false candidates and 2
// more true ones than 1 bit).
inline constexpr double kRunnerUpBits = 1.0;
inline constexpr size_t kMaxSpecFields = 64;
inline constexpr size_t kMaxRevealHandles = 1000;
inline constexpr size_t kMaxBlockKeys = 1024;     // blocking keys per record in a bloom query
inline constexpr size_t kMaxEvidenceBytes = 512;  // evidence text of a bloom candidate

std::string_view method_name(protocol::MatchMethod m);
std::optional<protocol::MatchMethod> parse_method(std::string_view name);

// The pair-agreed key domain: "jisr-match/<smaller org>/<larger org>".
std::string match_domain(const OrgId& a, const OrgId& b);

// The spec a querier uses under its agreement's match section: fields in schema order (only
// those its key kinds use when the agreement lists keys; default keys otherwise), keys
// explicit. kDenied when the section allows no matching at all.
Result<match::MatchSpec> spec_for(const policies::MatchSection& section, const RecordSchema& schema,
                                  const OrgId& self, const OrgId& peer);
// "f1,f2;kind-a=f1+f2,kind-b=f2" and back (kInvalidInput on anything malformed or oversized).
std::string encode_spec(const match::MatchSpec& spec);
Result<match::MatchSpec> decode_spec(std::string_view text);

// A candidate on the querier's side (table kMatches).
struct Candidate {
  uint64_t id = 0;
  std::string job_id;
  OrgId peer;
  std::string method;       // "psi" | "bloom"
  std::string agreement;    // our agreement id at the time of the job
  RecordId record;          // our record
  std::string handle;       // the peer's opaque handle, hex
  double score = 0.0;       // psi: evidence weight in bits; bloom: 0..1
  std::string evidence;     // field names and grades, no values
  std::string status = "candidate";  // candidate | confirmed | rejected
  TimePoint created{};
  std::optional<TimePoint> decided;
  std::vector<std::pair<std::string, std::string>> revealed;  // after a confirm
};

// Candidate store (used by the node and by `jisr matches` directly).
Result<std::vector<Candidate>> list_candidates(const store::TxnView& txn);
Result<std::optional<Candidate>> get_candidate(const store::TxnView& txn, uint64_t id);
Result<void> put_candidate(store::WriteTxn& txn, const Candidate& c);

// Responder: the record behind one of our handles given to `peer` (nullopt: unknown, another
// peer's, or expired). For reveals, and for evaluation programs that own both nodes.
std::optional<RecordId> record_behind_handle(const store::TxnView& txn, const OrgId& peer, std::string_view handle_hex,
                                             TimePoint now);

// Querier state of one job between begin_job and finish_job. Move-only (holds the secret).
struct MatchQuery {
  std::string job_id;
  OrgId peer;
  std::string agreement_id;
  protocol::MatchMethod method = protocol::MatchMethod::kPsi;
  std::unique_ptr<match::CompiledMatchSpec> spec;
  std::optional<match::PsiSecret> secret;
  std::vector<RecordId> records;
  std::vector<uint32_t> point_record;  // per point sent: index into records
  std::vector<uint32_t> point_kind;    // per point sent: key kind
  uint64_t change_seq = 0;             // our record change sequence when the keys were read
  protocol::MatchRequest request;
};

// When the last job with a peer ran (manual or scheduled), and our record change sequence
// then: a scheduled job is due when `every` has passed and our records changed since.
struct LastJob {
  TimePoint at{};
  uint64_t change_seq = 0;
  std::string method;
};

struct MatchJobOutcome {
  std::string job_id;
  OrgId peer;
  std::string method;
  uint64_t query_records = 0;  // our records with at least one key
  uint64_t query_points = 0;
  uint64_t peer_points = 0;
  uint64_t candidates = 0;              // new candidates of this job
  uint64_t known = 0;                   // pairs found again (already candidates)
  // Pairs not kept: another of our records, not the same person, claimed the peer record with
  // a higher score (scorer.hpp resolve_claims).
  uint64_t set_aside = 0;
  std::vector<uint64_t> candidate_ids;  // the new ones
  uint32_t quota_left = 0;
};

struct RevealOutcome {
  uint64_t candidate = 0;
  size_t fields = 0;
  uint32_t refused = 0;
};

class MatchEngine {
 public:
  // sign_secret: our node's Ed25519 secret key (libsodium, 64 bytes), from which the bloom
  // secret is derived with the peer's key; nullptr when bloom jobs are not possible (CLI).
  MatchEngine(store::Env& env, const audit::AuditLog& audit, const Clock& clock,
              const RecordSchema& schema, OrgId self, const std::array<uint8_t, 64>* sign_secret = nullptr);
  MatchEngine(const MatchEngine&) = delete;
  MatchEngine& operator=(const MatchEngine&) = delete;

  // Querier: computes, blinds and packs the keys of every local record under `ours` (our
  // agreement with the peer). kDenied when it is not in force or allows no matching. Bloom
  // needs the peer's Ed25519 key (from its certificate) and our secret key (kDenied without).
  Result<MatchQuery> begin_job(const policies::CompiledAgreement& ours, protocol::MatchMethod method,
                               const std::optional<std::array<uint8_t, 32>>& peer_key = std::nullopt);
  // Querier: intersects the responder's answer, stores candidates, logs kMatchJob.
  Result<MatchJobOutcome> finish_job(MatchQuery& query, const protocol::MatchResponse& response);

  // Responder: answers a peer's query under `ours` (our agreement with that peer, nullptr when
  // none). Errors are meant for the peer (one line, no personal data): kDenied (no agreement,
  // not in force, method or field not allowed), kOverloaded (quota), kInvalidInput (malformed).
  // Bloom: the querier sends its filters with keyed blocking hashes (both derived from the
  // pair's bloom secret); only pairs sharing a blocking key are scored per field, and only
  // candidates at or above the threshold (the larger of ours and the querier's) come back,
  // with handles, scores and per-field grades (field names only), never our filters.
  Result<protocol::MatchResponse> answer(const OrgId& peer, const policies::CompiledAgreement* ours,
                                         const protocol::MatchRequest& request,
                                         const std::optional<std::array<uint8_t, 32>>& peer_key = std::nullopt);

  // Responder, one step of a job that may come in parts: an upload part is kept (the answer
  // acknowledges it, pages = 0) until the last one, whose answer is page 0 of answer()'s reply
  // split into pages of ~page_budget bytes; a request with page >= 1 fetches the next page.
  // kInvalidInput for parts or pages out of order or of an unknown job, kOverloaded when the
  // peer has kMaxPendingJobs jobs in flight.
  Result<protocol::MatchResponse> answer_step(const OrgId& peer, const policies::CompiledAgreement* ours,
                                              protocol::MatchRequest request,
                                              const std::optional<std::array<uint8_t, 32>>& peer_key,
                                              size_t page_budget);
  static constexpr size_t kMaxPendingJobs = 2;
  static constexpr size_t kMaxUploadBytes = 256u << 20;  // one job's parts held at once
  static constexpr std::chrono::minutes kPendingJobLifetime{30};

  // Querier: the reveal request for a candidate (kNotFound, kConflict when rejected).
  Result<protocol::RevealRequest> begin_reveal(uint64_t candidate_id, const policies::CompiledAgreement& ours);
  // Responder: the agreement's reveal fields of each known, unexpired handle of this peer;
  // unknown handles are counted in `refused`. Logs kReveal per record (field names).
  Result<protocol::RevealResponse> answer_reveal(const OrgId& peer, const policies::CompiledAgreement* ours,
                                                 const protocol::RevealRequest& request);
  // Querier: stores what was revealed with the candidate, marks it confirmed, logs kReveal.
  Result<RevealOutcome> finish_reveal(uint64_t candidate_id, const protocol::RevealResponse& response);

  // The last job we ran with this peer (nullopt: none yet), and whether a scheduled job with
  // period `every` is due now: `every` has passed since the last job (since `first_from` when
  // there was none: the first scheduled job comes one period after the node started, not at
  // once), and our records changed since.
  Result<std::optional<LastJob>> last_job(const OrgId& peer);
  Result<bool> scheduled_job_due(const OrgId& peer, std::chrono::seconds every, TimePoint first_from);

  // The stored candidate (kNotFound when there is none).
  Result<Candidate> candidate(uint64_t candidate_id);

  // Marks a candidate rejected (local decision; logged as an admin command).
  Result<void> reject(uint64_t candidate_id);

 private:
  // A query that passed every check before work: agreement in force, method and fields
  // allowed, spec compiled against our schema, quota left for req.count records. With
  // whole = false (the first part of an upload) the checks that need every point are skipped.
  struct Admitted {
    match::MatchSpec spec;
    match::CompiledMatchSpec compiled;
    std::string quota_key;
    uint64_t used = 0;
  };
  Result<Admitted> admit(const OrgId& peer, const policies::CompiledAgreement* ours, const protocol::MatchRequest& req,
                         const std::optional<std::array<uint8_t, 32>>& peer_key, bool whole);

  // The key of our stable handles (created on first use, kept in the store, never sent).
  Result<std::array<uint8_t, 32>> load_handle_secret();
  // A query refused: logged (kind, with the job, agreement and record count, no values) and
  // returned as the error for the peer.
  Error refuse(const OrgId& peer, const policies::CompiledAgreement* ours, const protocol::MatchRequest& req,
               Errc code, const std::string& what, audit::AuditKind kind);

  store::Env& env_;
  const audit::AuditLog& audit_;
  const Clock& clock_;
  Result<void> answer_bloom(const OrgId& peer, const policies::CompiledAgreement& ours,
                            const match::CompiledMatchSpec& spec, const protocol::MatchRequest& request,
                            const std::array<uint8_t, 32>& peer_key, const std::array<uint8_t, 32>& handle_secret,
                            protocol::MatchResponse& response,
                            std::vector<std::pair<std::string, RecordId>>& handles);

  const RecordSchema& schema_;
  OrgId self_;
  const std::array<uint8_t, 64>* sign_secret_;

  // A job between steps: its upload so far, or its answer's pages not yet fetched.
  struct PendingJob {
    protocol::MatchRequest request;
    std::vector<protocol::MatchResponse> pages;
    TimePoint touched;
  };
  std::mutex pending_mutex_;
  std::map<std::pair<std::string, std::string>, PendingJob> pending_;  // (peer, job id)
};

}  // namespace jisr::exchange
