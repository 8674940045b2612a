#include "node/exchange/match_engine.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "node/core/bytes.hpp"
#include "node/core/digest.hpp"
#include "node/exchange/match_paging.hpp"
#include "node/match/bloom.hpp"
#include "node/match/dice.hpp"
#include "node/match/features.hpp"
#include "node/match/keys.hpp"
#include "node/match/scorer.hpp"
#include "node/store/record_store.hpp"

namespace jisr::exchange {

namespace {

using store::Table;
constexpr std::string_view kCandidatePrefix = "cand/";
constexpr std::string_view kNextKey = "next";
constexpr std::string_view kHandlePrefix = "handle/";
constexpr size_t kHandleBytes = 16;

std::string random_hex(size_t bytes) {
  std::vector<uint8_t> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  return to_hex(buf.data(), buf.size());
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(), hex.size(),
                     nullptr, &len, nullptr) != 0 ||
      len != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string utc_day(TimePoint t) { return format_utc(t).substr(0, 10); }

std::string quota_key(const OrgId& peer, TimePoint now) { return peer.str() + std::string(1, '\0') + utc_day(now); }

std::string candidate_key(uint64_t id) { return std::string(kCandidatePrefix) + be64_key(id); }

// Bloom: a first pass learns the places' regions and the names' likely misspellings from all of
// our records (their fields only, nothing kept per record), so that the second pass can encode
// each record as it goes.
Result<match::OwnVocabulary> learn_vocabulary(const store::RecordStore& records, const store::TxnView& txn,
                                              const match::CompiledMatchSpec& spec) {
  match::OwnVocabulary vocabulary(spec);
  JISR_TRY(records.for_each(txn, [&](const Record& r) {
    vocabulary.learn(r.fields);
    return true;
  }));
  vocabulary.finish();
  return vocabulary;
}

// Handles are stable per (peer, record): a keyed hash under a random key that never leaves
// this node. A scheduled job that finds the same pair again then gives the querier the same
// handle, so its reviewers see one candidate, not one per job; the handle says nothing about
// our record id, and no other peer gets the same handle for it.
constexpr std::string_view kHandleSecretKey = "handle-secret";
std::string handle_key(const OrgId& peer, std::string_view handle_hex) {
  return fmt::format("{}{}/{}", kHandlePrefix, peer.str(), handle_hex);
}

std::string last_job_key(const OrgId& peer) { return "lastjob/" + peer.str(); }

// The querier's index of candidates by pair, so a pair found again is not a new candidate.
std::string pair_key(const OrgId& peer, const RecordId& record, std::string_view method, std::string_view handle_hex) {
  return fmt::format("pair/{}/{}/{}/{}", peer.str(), method, handle_hex, record.str());
}

// Blocking keys travel as little-endian uint64s, concatenated, at most kMaxBlockKeys per
// record (more would only come from odd data, and all-pairs blocks are skipped anyway).
std::string pack_block_keys(std::vector<uint64_t> keys) {
  if (keys.size() > kMaxBlockKeys) keys.resize(kMaxBlockKeys);
  std::string out(keys.size() * 8, '\0');
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t b = 0; b < 8; ++b) out[i * 8 + b] = static_cast<char>((keys[i] >> (8 * b)) & 0xff);
  }
  return out;
}

std::optional<std::vector<uint64_t>> unpack_block_keys(std::string_view bytes) {
  if (bytes.size() % 8 != 0 || bytes.size() > kMaxBlockKeys * 8) return std::nullopt;
  std::vector<uint64_t> keys(bytes.size() / 8);
  for (size_t i = 0; i < keys.size(); ++i) {
    uint64_t k = 0;
    for (size_t b = 0; b < 8; ++b) k |= uint64_t{static_cast<uint8_t>(bytes[i * 8 + b])} << (8 * b);
    keys[i] = k;
  }
  return keys;
}

// Evidence from a peer is shown to our reviewers: short, printable ASCII only.
bool is_plain_evidence(std::string_view s) {
  return s.size() <= kMaxEvidenceBytes && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

std::string stable_handle(const std::array<uint8_t, 32>& secret, const OrgId& peer, const RecordId& record) {
  std::string msg = peer.str();
  msg.push_back('\0');
  msg += record.str();
  std::string h(kHandleBytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(h.data()), h.size(), reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size(), secret.data(), secret.size());
  return h;
}

// PSI group operations use every core: a job is tens of thousands of scalar multiplications,
// and it runs off the node's io thread (MatchService), so the cores are otherwise idle.
unsigned psi_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }
bool is_name(std::string_view s) { return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), is_name_char); }
// Key kind ids: agreement ids ([a-z0-9-]) or default ones ("given_name+father_name+...").
bool is_key_id(std::string_view s) {
  return !s.empty() && s.size() <= 512 && std::all_of(s.begin(), s.end(), [](char c) { return is_name_char(c) || c == '+' || c == '~'; });
}
bool is_job_id(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

nlohmann::json to_json(const Candidate& c) {
  nlohmann::json j{{"id", c.id},          {"job", c.job_id},       {"peer", c.peer.str()},
                   {"method", c.method},  {"agreement", c.agreement}, {"record", c.record.str()},
                   {"handle", c.handle},  {"score", c.score},      {"evidence", c.evidence},
                   {"status", c.status},  {"created_ms", to_unix_ms(c.created)}};
  if (c.decided) j["decided_ms"] = to_unix_ms(*c.decided);
  nlohmann::json rev = nlohmann::json::array();
  for (const auto& [k, v] : c.revealed) rev.push_back({k, v});
  j["revealed"] = std::move(rev);
  return j;
}

Result<Candidate> candidate_from(std::string_view bytes) {
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(Errc::kInternal, "corrupt match candidate", "matches");
  try {
    Candidate c;
    c.id = j.at("id").get<uint64_t>();
    c.job_id = j.at("job").get<std::string>();
    c.peer = OrgId(j.at("peer").get<std::string>());
    c.method = j.at("method").get<std::string>();
    c.agreement = j.at("agreement").get<std::string>();
    c.record = RecordId(j.at("record").get<std::string>());
    c.handle = j.at("handle").get<std::string>();
    c.score = j.at("score").get<double>();
    c.evidence = j.at("evidence").get<std::string>();
    c.status = j.at("status").get<std::string>();
    c.created = from_unix_ms(j.at("created_ms").get<int64_t>());
    if (j.contains("decided_ms")) c.decided = from_unix_ms(j["decided_ms"].get<int64_t>());
    for (const auto& p : j.at("revealed")) c.revealed.emplace_back(p.at(0).get<std::string>(), p.at(1).get<std::string>());
    return c;
  } catch (const nlohmann::json::exception&) {
    return make_error(Errc::kInternal, "corrupt match candidate", "matches");
  }
}

uint64_t quota_used(const store::TxnView& txn, const std::string& key) {
  auto v = txn.get(Table::kMatchQuota, key);
  if (!v) return 0;
  uint64_t n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::string as_bytes(const match::GroupElement& p) { return std::string(reinterpret_cast<const char*>(p.data()), p.size()); }

Result<std::vector<match::GroupElement>> points_from(const std::vector<std::string>& in, const char* where) {
  std::vector<match::GroupElement> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].size() != 32) return make_error(Errc::kInvalidInput, "a point is not 32 bytes", where);
    std::copy(in[i].begin(), in[i].end(), out[i].begin());
  }
  return out;
}

policies::MatchMethod policy_method(protocol::MatchMethod m) {
  return m == protocol::MatchMethod::kBloom ? policies::MatchMethod::kBloom : policies::MatchMethod::kPsi;
}

}  // namespace

std::string_view method_name(protocol::MatchMethod m) { return m == protocol::MatchMethod::kBloom ? "bloom" : "psi"; }

std::optional<protocol::MatchMethod> parse_method(std::string_view name) {
  if (name == "psi") return protocol::MatchMethod::kPsi;
  if (name == "bloom") return protocol::MatchMethod::kBloom;
  return std::nullopt;
}

std::string match_domain(const OrgId& a, const OrgId& b) {
  const auto& lo = std::min(a.str(), b.str());
  const auto& hi = std::max(a.str(), b.str());
  return fmt::format("jisr-match/{}/{}", lo, hi);
}

// Age rules from our schema's age fields (record_schema.hpp) whose birth field is matched and
// whose age field the agreement lists: they only estimate birth years of our own records, so
// each side takes them from its own schema and nothing about them travels.
static void add_age_rules(match::MatchSpec& spec, const RecordSchema& schema, const std::vector<std::string>& allowed) {
  for (const auto& f : schema.fields()) {
    if (f.age_of.empty() || !std::binary_search(allowed.begin(), allowed.end(), f.name)) continue;
    if (std::find(spec.fields.begin(), spec.fields.end(), f.age_of) == spec.fields.end()) continue;
    spec.ages.push_back(match::AgeRule{f.name, f.age_at, f.age_of, 1});
  }
}

Result<match::MatchSpec> spec_for(const policies::MatchSection& section, const RecordSchema& schema,
                                  const OrgId& self, const OrgId& peer) {
  if (section.methods.empty() || section.fields.empty()) {
    return make_error(Errc::kDenied, "the agreement allows no matching", peer.str());
  }
  match::MatchSpec spec;
  spec.agreement_id = match_domain(self, peer);
  std::set<std::string> wanted;
  if (!section.keys.empty()) {
    for (const auto& k : section.keys) wanted.insert(k.fields.begin(), k.fields.end());
  } else {
    wanted.insert(section.fields.begin(), section.fields.end());
  }
  // Schema order: the first name field is the person's own name, the first date the birth date.
  for (const auto& f : schema.fields()) {
    // An age field is not matched itself: it estimates the birth date (add_age_rules).
    if (!f.is_pattern && f.age_of.empty() && wanted.count(f.name)) spec.fields.push_back(f.name);
  }
  if (!section.keys.empty()) {
    for (const auto& k : section.keys) spec.keys.push_back({k.id, k.fields, {}});
  } else {
    JISR_TRY(auto compiled, match::compile_match_spec(spec, schema));
    for (const auto& k : compiled.keys) {
      match::KeySpec ks{k.id, {}, k.fuzzy >= 0 ? compiled.fields[k.fuzzy].name : std::string()};
      for (uint32_t f : k.fields) ks.fields.push_back(compiled.fields[f].name);
      spec.keys.push_back(std::move(ks));
    }
  }
  if (section.bloom_threshold) spec.bloom_threshold = *section.bloom_threshold;
  add_age_rules(spec, schema, section.fields);
  return spec;
}

std::string encode_spec(const match::MatchSpec& spec) {
  std::string out;
  for (size_t i = 0; i < spec.fields.size(); ++i) out += (i ? "," : "") + spec.fields[i];
  out += ";";
  for (size_t i = 0; i < spec.keys.size(); ++i) {
    out += (i ? "," : "") + spec.keys[i].id + "=";
    // A fuzzy field is written with a trailing '~' ("given_name~+father_name+birth_date").
    for (size_t f = 0; f < spec.keys[i].fields.size(); ++f) {
      const auto& name = spec.keys[i].fields[f];
      out += (f ? "+" : "") + name + (name == spec.keys[i].fuzzy ? "~" : "");
    }
  }
  return out;
}

Result<match::MatchSpec> decode_spec(std::string_view text) {
  auto bad = [](const char* what) { return make_error(Errc::kInvalidInput, what, "match spec"); };
  if (text.size() > 32768) return bad("match spec too long");
  auto halves = split(text, ';');
  if (halves.size() != 2) return bad("malformed match spec");
  match::MatchSpec spec;
  spec.fields = split(halves[0], ',');
  if (spec.fields.size() > kMaxSpecFields) return bad("too many fields in match spec");
  for (const auto& f : spec.fields) {
    if (!is_name(f)) return bad("malformed field name in match spec");
  }
  auto kinds = split(halves[1], ',');
  if (kinds.size() > kMaxSpecFields) return bad("too many key kinds in match spec");
  for (const auto& k : kinds) {
    auto parts = split(k, '=');
    if (parts.size() != 2 || !is_key_id(parts[0])) return bad("malformed key kind in match spec");
    match::KeySpec ks{parts[0], split(parts[1], '+'), {}};
    for (auto& f : ks.fields) {
      if (!f.empty() && f.back() == '~') {
        if (!ks.fuzzy.empty()) return bad("more than one fuzzy field in a key kind");
        f.pop_back();
        ks.fuzzy = f;
      }
      if (std::find(spec.fields.begin(), spec.fields.end(), f) == spec.fields.end()) {
        return bad("key kind names a field the spec does not list");
      }
    }
    spec.keys.push_back(std::move(ks));
  }
  return spec;
}

Result<std::vector<Candidate>> list_candidates(const store::TxnView& txn) {
  std::vector<Candidate> out;
  Result<void> inner = ok();
  JISR_TRY(txn.scan_prefix(Table::kMatches, kCandidatePrefix, [&](std::string_view, std::string_view v) {
    auto c = candidate_from(v);
    if (!c) {
      inner = c.error();
      return false;
    }
    out.push_back(std::move(c).value());
    return true;
  }));
  JISR_TRY(inner);
  return out;
}

std::optional<RecordId> record_behind_handle(const store::TxnView& txn, const OrgId& peer, std::string_view handle_hex,
                                             TimePoint now) {
  auto v = txn.get(Table::kMatches, handle_key(peer, handle_hex));
  if (!v) return std::nullopt;
  auto j = nlohmann::json::parse(*v, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("peer", std::string()) != peer.str() ||
      j.value("expires_ms", int64_t{0}) < to_unix_ms(now)) {
    return std::nullopt;
  }
  RecordId id(j.value("record", std::string()));
  if (!is_valid_record_id(id.str())) return std::nullopt;
  return id;
}

Result<std::optional<Candidate>> get_candidate(const store::TxnView& txn, uint64_t id) {
  auto v = txn.get(Table::kMatches, candidate_key(id));
  if (!v) return std::optional<Candidate>{};
  JISR_TRY(auto c, candidate_from(*v));
  return std::optional<Candidate>(std::move(c));
}

Result<void> put_candidate(store::WriteTxn& txn, const Candidate& c) {
  return txn.put(Table::kMatches, candidate_key(c.id), to_json(c).dump());
}

MatchEngine::MatchEngine(store::Env& env, const audit::AuditLog& audit, const Clock& clock,
                         const RecordSchema& schema, OrgId self, const std::array<uint8_t, 64>* sign_secret)
    : env_(env), audit_(audit), clock_(clock), schema_(schema), self_(std::move(self)), sign_secret_(sign_secret) {}

Result<MatchQuery> MatchEngine::begin_job(const policies::CompiledAgreement& ours, protocol::MatchMethod method,
                                          const std::optional<std::array<uint8_t, 32>>& peer_key) {
  const OrgId& peer = ours.peer();
  if (!ours.in_force(clock_.now())) {
    return make_error(Errc::kDenied, fmt::format("agreement {} is not in force", ours.id().str()), peer.str());
  }
  // Both agreements must allow the method: ours to send, the peer's to answer.
  if (!ours.match().allows(policy_method(method))) {
    return make_error(Errc::kDenied,
                      fmt::format("method {} is not allowed by agreement {}", method_name(method), ours.id().str()),
                      peer.str());
  }
  const bool bloom = method == protocol::MatchMethod::kBloom;
  if (bloom && (!peer_key || sign_secret_ == nullptr)) {
    return make_error(Errc::kDenied, "bloom needs the peer's certified signing key (is it connected?)", peer.str());
  }
  JISR_TRY(auto spec, spec_for(ours.match(), schema_, self_, peer));
  JISR_TRY(auto compiled, match::compile_match_spec(spec, schema_));
  MatchQuery q;
  q.job_id = random_hex(16);
  q.peer = peer;
  q.agreement_id = ours.id().str();
  q.method = method;
  q.spec = std::make_unique<match::CompiledMatchSpec>(std::move(compiled));
  std::vector<match::MatchKey> keys;
  std::optional<match::BloomSecret> bloom_secret;
  std::optional<match::BloomEncoder> encoder;
  match::BloomMatrix filters;
  std::array<uint8_t, 16> block_key{};
  if (bloom) {
    JISR_TRY(auto secret, match::derive_bloom_secret(*sign_secret_, *peer_key, match_domain(self_, peer)));
    bloom_secret.emplace(std::move(secret));
    block_key = bloom_secret->block_key();
    encoder.emplace(*q.spec, *bloom_secret);
    filters = encoder->make_matrix();
  } else {
    q.secret.emplace(match::PsiSecret::generate());
  }
  store::RecordStore records(env_);
  {
    JISR_TRY(auto txn, env_.read());
    q.change_seq = records.last_seq(txn);
    std::optional<match::OwnVocabulary> vocabulary;
    if (bloom) {
      JISR_TRY(auto learned, learn_vocabulary(records, txn, *q.spec));
      vocabulary.emplace(std::move(learned));
    }
    JISR_TRY(records.for_each(txn, [&](const Record& r) {
      auto features = match::extract_features(*q.spec, r.fields);
      if (bloom) {
        q.records.push_back(r.id);
        vocabulary->extend(features);
        encoder->encode(features, filters);
        q.request.block_keys.push_back(pack_block_keys(match::blocking_keys(*q.spec, features, block_key)));
        return true;
      }
      auto ks = match::match_keys(*q.spec, features, match::KeySide::kQuerier);
      if (ks.empty()) return true;
      const auto index = static_cast<uint32_t>(q.records.size());
      q.records.push_back(r.id);
      for (auto& k : ks) {
        q.point_record.push_back(index);
        q.point_kind.push_back(k.kind);
        keys.push_back(std::move(k));
      }
      return true;
    }));
  }
  if (bloom) {
    const size_t bytes = filters.words() * 8;
    for (size_t i = 0; i < filters.size(); ++i) {
      q.request.blooms.emplace_back(reinterpret_cast<const char*>(filters.row(i)), bytes);
    }
    q.request.threshold = static_cast<float>(q.spec->bloom_threshold);
  } else {
    JISR_TRY(auto blinded, match::blind_keys(*q.secret, keys, psi_threads()));
    q.request.points.reserve(blinded.size());
    for (const auto& p : blinded) q.request.points.push_back(as_bytes(p));
  }
  q.request.method = method;
  q.request.job_id = q.job_id;
  q.request.agreement = ours.id();
  q.request.key_kind = encode_spec(spec);
  q.request.count = static_cast<uint32_t>(q.records.size());
  return q;
}

Result<MatchJobOutcome> MatchEngine::finish_job(MatchQuery& q, const protocol::MatchResponse& response) {
  if (response.job_id != q.job_id || response.method != q.method) {
    return make_error(Errc::kInvalidInput, "the answer is for another job", q.peer.str());
  }
  struct Found {
    uint32_t record = 0;
    std::string handle;  // bytes
    double score = 0.0;
    std::string evidence;
  };
  std::vector<Found> found;
  if (q.method == protocol::MatchMethod::kBloom) {
    if (!response.points.empty() || !response.responder_points.empty() || response.candidates.size() > kMaxQueryPoints) {
      return make_error(Errc::kInvalidInput, "malformed match answer", q.peer.str());
    }
    for (const auto& c : response.candidates) {
      if (c.query_index >= q.records.size() || c.handle.size() != kHandleBytes || !(c.score >= 0.0f && c.score <= 1.0f) ||
          !is_plain_evidence(c.evidence)) {
        return make_error(Errc::kInvalidInput, "malformed candidate in match answer", q.peer.str());
      }
      found.push_back({c.query_index, c.handle, c.score,
                       c.evidence.empty() ? fmt::format("bloom score {:.2f}", c.score)
                                          : fmt::format("bloom score {:.2f}: {}", c.score, c.evidence)});
    }
  } else {
    if (response.points.size() != q.request.points.size() ||
        response.handles.size() != response.responder_points.size() || !response.candidates.empty()) {
      return make_error(Errc::kInvalidInput, "malformed match answer", q.peer.str());
    }
    for (const auto& h : response.handles) {
      if (h.size() != kHandleBytes) return make_error(Errc::kInvalidInput, "malformed handle in match answer", q.peer.str());
    }
    JISR_TRY(auto mine, points_from(response.points, "match answer"));
    JISR_TRY(auto theirs_once, points_from(response.responder_points, "match answer"));
    JISR_TRY(auto theirs, match::reblind_all(*q.secret, theirs_once, psi_threads()));
    q.secret.reset();  // wiped: nothing more to blind in this job
    // (our record, their handle) -> matched key kinds
    std::map<std::pair<uint32_t, std::string>, std::vector<uint32_t>> kinds;
    for (const auto& h : match::intersect(mine, theirs)) {
      auto& v = kinds[{q.point_record[h.mine], response.handles[h.theirs]}];
      const uint32_t kind = q.point_kind[h.mine];
      if (std::find(v.begin(), v.end(), kind) == v.end()) v.push_back(kind);
    }
    for (auto& [pair, ks] : kinds) {
      std::sort(ks.begin(), ks.end());
      auto decision = match::psi_decide(*q.spec, ks);
      if (decision.candidate) found.push_back({pair.first, pair.second, decision.weight, decision.evidence});
    }
    // A record describes one person: a candidate far weaker than the best one for the same
    // record is a relative or namesake, not worth a reviewer's time. Close ones (twins, a
    // person recorded twice by the peer) all stay.
    std::map<uint32_t, double> best;
    for (const auto& f : found) best[f.record] = std::max(best[f.record], f.score);
    std::erase_if(found, [&](const Found& f) { return f.score < best[f.record] - kRunnerUpBits; });
  }
  uint64_t set_aside = 0;
  if (found.size() > 1) {
    // Two of our records claiming one peer record: the weaker is set aside unless our own
    // records say they describe one person (scorer.hpp resolve_claims). Only the records in
    // such a conflict are read again.
    std::map<std::string, uint32_t> peer_index;
    std::vector<match::Claim> claims;
    for (const auto& f : found) {
      auto [it, fresh] = peer_index.try_emplace(f.handle, static_cast<uint32_t>(peer_index.size()));
      claims.push_back({f.record, it->second, f.score});
    }
    std::map<uint32_t, std::optional<match::RecordFeatures>> features;
    store::RecordStore records(env_);
    JISR_TRY(auto txn, env_.read());
    Result<void> failure = ok();
    auto features_of = [&](uint32_t r) -> const std::optional<match::RecordFeatures>& {
      auto [it, fresh] = features.try_emplace(r);
      if (fresh) {
        auto rec = records.get(txn, q.records[r]);
        if (!rec) {
          failure = rec.error();
        } else if (rec.value()) {
          it->second = match::extract_features(*q.spec, rec.value()->fields);
        }
      }
      return it->second;
    };
    auto aside = match::resolve_claims(claims, [&](uint32_t x, uint32_t y) {
      const auto& fx = features_of(x);
      const auto& fy = features_of(y);
      // A record deleted since the job began claims nothing against another.
      return !fx || !fy || match::same_person(*q.spec, *fx, *fy);
    });
    JISR_TRY(failure);
    size_t k = 0;
    std::erase_if(found, [&](const Found&) { return aside[k++]; });
    set_aside = static_cast<uint64_t>(std::count(aside.begin(), aside.end(), true));
  }
  MatchJobOutcome out;
  out.set_aside = set_aside;
  out.job_id = q.job_id;
  out.peer = q.peer;
  out.method = std::string(method_name(q.method));
  out.query_records = q.records.size();
  out.query_points = q.method == protocol::MatchMethod::kBloom ? q.request.blooms.size() : q.request.points.size();
  out.peer_points = response.responder_points.size();
  out.quota_left = response.quota_left;
  const TimePoint now = clock_.now();
  JISR_TRY(env_.write([&](store::WriteTxn& txn) -> Result<void> {
    out.candidates = 0;
    out.candidate_ids.clear();
    uint64_t next = 0;
    if (auto v = txn.get(Table::kMatches, kNextKey)) next = std::strtoull(std::string(*v).c_str(), nullptr, 10);
    out.known = 0;
    for (const auto& f : found) {
      const std::string handle_hex = to_hex(reinterpret_cast<const uint8_t*>(f.handle.data()), f.handle.size());
      const std::string pkey = pair_key(q.peer, q.records[f.record], out.method, handle_hex);
      if (auto known = txn.get(Table::kMatches, pkey)) {
        // Found before: one candidate per pair. One still waiting for review shows the latest
        // score and evidence; a decided one stays as the reviewer left it.
        ++out.known;
        JISR_TRY(auto prev, get_candidate(txn, std::strtoull(std::string(*known).c_str(), nullptr, 10)));
        if (prev && prev->status == "candidate" && (prev->score != f.score || prev->evidence != f.evidence)) {
          prev->score = f.score;
          prev->evidence = f.evidence;
          prev->job_id = q.job_id;
          JISR_TRY(put_candidate(txn, *prev));
        }
        continue;
      }
      Candidate c;
      c.id = ++next;
      c.job_id = q.job_id;
      c.peer = q.peer;
      c.method = out.method;
      c.agreement = q.agreement_id;
      c.record = q.records[f.record];
      c.handle = handle_hex;
      c.score = f.score;
      c.evidence = f.evidence;
      c.created = now;
      JISR_TRY(put_candidate(txn, c));
      JISR_TRY(txn.put(Table::kMatches, pkey, std::to_string(c.id)));
      out.candidate_ids.push_back(c.id);
      ++out.candidates;
    }
    JISR_TRY(txn.put(Table::kMatches, kNextKey, std::to_string(next)));
    nlohmann::json last{{"at_ms", to_unix_ms(now)}, {"change_seq", q.change_seq}, {"method", out.method}};
    JISR_TRY(txn.put(Table::kMatches, last_job_key(q.peer), last.dump()));
    audit::AuditEvent e;
    e.kind = audit::AuditKind::kMatchJob;
    e.actor = {audit::ActorKind::kNode, {}};
    e.peer = q.peer.str();
    e.job_id = q.job_id;
    e.agreement_id = q.agreement_id;
    e.counts = {{"query_records", out.query_records},
                {"query_points", out.query_points},
                {"peer_points", out.peer_points},
                {"candidates", out.candidates},
                {"known_candidates", out.known},
                {"set_aside", out.set_aside}};
    e.detail = fmt::format("{} query", out.method);
    JISR_TRY(audit_.append(txn, e, now));
    return ok();
  }));
  return out;
}

namespace {

Result<std::optional<LastJob>> read_last_job(const store::TxnView& txn, const OrgId& peer) {
  auto v = txn.get(Table::kMatches, last_job_key(peer));
  if (!v) return std::optional<LastJob>{};
  auto j = nlohmann::json::parse(*v, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("at_ms") || !j["at_ms"].is_number_integer() ||
      !j.contains("change_seq") || !j["change_seq"].is_number_unsigned()) {
    return make_error(Errc::kInternal, "corrupt last-job entry", peer.str());
  }
  return std::optional<LastJob>(
      LastJob{from_unix_ms(j["at_ms"].get<int64_t>()), j["change_seq"].get<uint64_t>(), j.value("method", std::string())});
}

}  // namespace

Result<std::optional<LastJob>> MatchEngine::last_job(const OrgId& peer) {
  JISR_TRY(auto txn, env_.read());
  return read_last_job(txn, peer);
}

Result<bool> MatchEngine::scheduled_job_due(const OrgId& peer, std::chrono::seconds every, TimePoint first_from) {
  JISR_TRY(auto txn, env_.read());
  JISR_TRY(auto last, read_last_job(txn, peer));
  if (clock_.now() - (last ? last->at : first_from) < every) return false;
  return store::RecordStore(env_).last_seq(txn) > (last ? last->change_seq : 0);
}

Result<std::array<uint8_t, 32>> MatchEngine::load_handle_secret() {
  std::array<uint8_t, 32> secret{};
  auto stored = [&](const store::TxnView& txn) {
    auto v = txn.get(Table::kMatches, kHandleSecretKey);
    if (!v || v->size() != secret.size()) return false;
    std::memcpy(secret.data(), v->data(), secret.size());
    return true;
  };
  {
    // Every job after the first only reads it: no write transaction (and fsync) per job.
    JISR_TRY(auto txn, env_.read());
    if (stored(txn)) return secret;
  }
  JISR_TRY(env_.write([&](store::WriteTxn& txn) -> Result<void> {
    if (stored(txn)) return ok();  // another writer was first
    randombytes_buf(secret.data(), secret.size());
    return txn.put(Table::kMatches, kHandleSecretKey,
                   std::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()));
  }));
  return secret;
}

Error MatchEngine::refuse(const OrgId& peer, const policies::CompiledAgreement* ours, const protocol::MatchRequest& req,
                          Errc code, const std::string& what, audit::AuditKind kind) {
  audit::AuditEvent e;
  e.kind = kind;
  e.actor = {audit::ActorKind::kPeer, peer.str()};
  e.peer = peer.str();
  if (is_job_id(req.job_id)) e.job_id = req.job_id;
  if (ours != nullptr) e.agreement_id = ours->id().str();
  e.counts = {{"query_records", req.count}};
  e.detail = fmt::format("{} query refused: {}", method_name(req.method), what).substr(0, audit::kMaxDetailBytes);
  // The refusal goes back to the peer even if it could not be logged (e.g. the disk is full).
  (void)audit_.append(e, clock_.now());
  return Error{code, what, peer.str()};
}

Result<void> MatchEngine::answer_bloom(const OrgId& peer, const policies::CompiledAgreement& ours,
                                      const match::CompiledMatchSpec& spec, const protocol::MatchRequest& req,
                                      const std::array<uint8_t, 32>& peer_key,
                                      const std::array<uint8_t, 32>& handle_secret, protocol::MatchResponse& resp,
                                      std::vector<std::pair<std::string, RecordId>>& handles) {
  JISR_TRY(auto secret, match::derive_bloom_secret(*sign_secret_, peer_key, match_domain(self_, peer)));
  match::BloomEncoder encoder(spec, secret);
  // The querier's filters, checked and counted as our encoder would.
  match::BloomMatrix theirs = encoder.make_matrix();
  const size_t words = theirs.words();
  for (const auto& b : req.blooms) {
    if (b.size() != words * 8) return make_error(Errc::kInvalidInput, "a filter has the wrong size", peer.str());
    const size_t at = theirs.bits.size();
    theirs.bits.resize(at + words);
    std::memcpy(theirs.bits.data() + at, b.data(), b.size());
    const uint64_t* row = theirs.bits.data() + at;
    theirs.pops.push_back(match::popcount_words(row, words));
    for (size_t f = 0; f < theirs.fields; ++f) {
      theirs.field_pops.push_back(match::popcount_words(row + f * match::kFieldWords, match::kFieldWords));
    }
  }
  // The querier's blocking keys, one list per filter.
  std::vector<std::vector<uint64_t>> their_blocks;
  their_blocks.reserve(req.block_keys.size());
  for (const auto& b : req.block_keys) {
    auto keys = unpack_block_keys(b);
    if (!keys) return make_error(Errc::kInvalidInput, "malformed blocking keys", peer.str());
    their_blocks.push_back(std::move(*keys));
  }
  const auto block_key = secret.block_key();
  match::BloomMatrix mine = encoder.make_matrix();
  match::ValueRarity rarity(spec);  // of our own records' names and places: weighs agreements (scorer.hpp)
  std::vector<std::vector<uint64_t>> my_blocks;
  std::vector<RecordId> ids;
  store::RecordStore records(env_);
  {
    JISR_TRY(auto txn, env_.read());
    JISR_TRY(const auto vocabulary, learn_vocabulary(records, txn, spec));
    JISR_TRY(records.for_each(txn, [&](const Record& r) {
      auto features = match::extract_features(spec, r.fields);
      vocabulary.extend(features);
      encoder.encode(features, mine);
      rarity.add(features);
      my_blocks.push_back(match::blocking_keys(spec, features, block_key));
      if (my_blocks.back().size() > kMaxBlockKeys) my_blocks.back().resize(kMaxBlockKeys);
      ids.push_back(r.id);
      return true;
    }));
  }
  rarity.finish();
  resp.count = static_cast<uint32_t>(ids.size());
  // Our agreement's threshold governs; a querier may only ask for stricter.
  const double threshold = std::max<double>(ours.match().bloom_threshold.value_or(spec.bloom_threshold), req.threshold);
  // Only pairs that share a blocking key are compared (never all pairs); each is scored per
  // field, and the evidence names fields and grades only.
  std::map<size_t, std::string> handle_of;  // our row -> handle
  for (auto [i, j] : match::candidate_pairs(their_blocks, my_blocks)) {
    auto score = match::score_bloom(spec, theirs, i, mine, j, rarity.row(j));
    if (score.value < threshold) continue;
    auto [it, fresh] = handle_of.try_emplace(j);
    if (fresh) {
      it->second = stable_handle(handle_secret, peer, ids[j]);
      handles.emplace_back(it->second, ids[j]);
    }
    std::string evidence = match::describe(spec, score);
    if (!is_plain_evidence(evidence)) evidence.clear();
    resp.candidates.push_back({i, it->second, static_cast<float>(score.value), std::move(evidence)});
  }
  return ok();
}

Result<MatchEngine::Admitted> MatchEngine::admit(const OrgId& peer, const policies::CompiledAgreement* ours,
                                                 const protocol::MatchRequest& req,
                                                 const std::optional<std::array<uint8_t, 32>>& peer_key, bool whole) {
  const TimePoint now = clock_.now();
  const std::string method(method_name(req.method));
  auto refuse = [&](Errc code, const std::string& what, audit::AuditKind kind) {
    return this->refuse(peer, ours, req, code, what, kind);
  };
  if (!is_job_id(req.job_id)) return make_error(Errc::kInvalidInput, "malformed job id", peer.str());
  if (ours == nullptr) {
    return refuse(Errc::kDenied, fmt::format("no agreement with {} in force on {}", peer.str(), self_.str()),
                  audit::AuditKind::kMatchJob);
  }
  if (!ours->in_force(now)) {
    return refuse(Errc::kDenied, fmt::format("agreement {} is not in force", ours->id().str()), audit::AuditKind::kMatchJob);
  }
  const auto& section = ours->match();
  if (!section.allows(policy_method(req.method))) {
    return refuse(Errc::kDenied, fmt::format("method {} is not allowed by agreement {}", method, ours->id().str()),
                  audit::AuditKind::kMatchJob);
  }
  auto spec = decode_spec(req.key_kind);
  if (!spec) return refuse(Errc::kInvalidInput, spec.error().what, audit::AuditKind::kMatchJob);
  for (const auto& f : spec.value().fields) {
    if (!std::binary_search(section.fields.begin(), section.fields.end(), f)) {
      return refuse(Errc::kDenied, fmt::format("field {} is not allowed for matching by agreement {}", f, ours->id().str()),
                    audit::AuditKind::kMatchJob);
    }
  }
  if (req.points.size() > kMaxQueryPoints) return refuse(Errc::kInvalidInput, "too many points", audit::AuditKind::kMatchJob);
  // Per record and kind: its value keys and a presence key per field position, each with at
  // most kMaxVariantsPerKind variants.
  size_t keys_per_record = 0;
  for (const auto& k : spec.value().keys) keys_per_record += match::kMaxVariantsPerKind * (1 + k.fields.size());
  if (req.points.size() > static_cast<size_t>(req.count) * keys_per_record) {
    return refuse(Errc::kInvalidInput, "more points than the record count allows", audit::AuditKind::kMatchJob);
  }
  spec.value().agreement_id = match_domain(self_, peer);
  add_age_rules(spec.value(), schema_, section.fields);
  auto compiled = match::compile_match_spec(spec.value(), schema_);
  if (!compiled) return refuse(Errc::kInvalidInput, "match spec does not fit this node's schema", audit::AuditKind::kMatchJob);
  const bool bloom = req.method == protocol::MatchMethod::kBloom;
  if (bloom && (!peer_key || sign_secret_ == nullptr)) {
    return refuse(Errc::kDenied, "bloom needs both nodes' certified signing keys", audit::AuditKind::kMatchJob);
  }
  if (bloom && (!req.points.empty() || req.blooms.size() > kMaxQueryPoints ||
                req.block_keys.size() != req.blooms.size() || (whole && req.blooms.size() != req.count))) {
    return refuse(Errc::kInvalidInput, "malformed bloom query", audit::AuditKind::kMatchJob);
  }
  if (!bloom && (!req.blooms.empty() || !req.block_keys.empty())) return refuse(Errc::kInvalidInput, "malformed psi query", audit::AuditKind::kMatchJob);

  // Quota before any work: records queried per peer per UTC day.
  Admitted a{std::move(spec).value(), std::move(compiled).value(), quota_key(peer, now), 0};
  {
    JISR_TRY(auto txn, env_.read());
    a.used = quota_used(txn, a.quota_key);
  }
  if (a.used + req.count > section.max_records_per_day) {
    return refuse(Errc::kOverloaded,
                  fmt::format("match quota exceeded: {} of {} records already queried today, this query has {}",
                              a.used, section.max_records_per_day, req.count),
                  audit::AuditKind::kQuotaRefused);
  }
  return a;
}

Result<protocol::MatchResponse> MatchEngine::answer(const OrgId& peer, const policies::CompiledAgreement* ours,
                                                    const protocol::MatchRequest& req,
                                                    const std::optional<std::array<uint8_t, 32>>& peer_key) {
  const TimePoint now = clock_.now();
  const std::string method(method_name(req.method));
  auto refuse = [&](Errc code, const std::string& what, audit::AuditKind kind) {
    return this->refuse(peer, ours, req, code, what, kind);
  };
  JISR_TRY(auto admitted, admit(peer, ours, req, peer_key, true));
  const auto& section = ours->match();
  const bool bloom = req.method == protocol::MatchMethod::kBloom;
  auto& spec = admitted.spec;
  auto& compiled = admitted.compiled;
  const std::string& qkey = admitted.quota_key;
  const uint64_t used = admitted.used;
  JISR_TRY(auto query_points, points_from(req.points, "match query"));

  JISR_TRY(const auto handle_secret, load_handle_secret());
  protocol::MatchResponse resp;
  resp.method = req.method;
  resp.job_id = req.job_id;
  std::vector<std::pair<std::string, RecordId>> handles;  // handle bytes -> record
  uint64_t own_points = 0;
  if (bloom) {
    auto done = answer_bloom(peer, *ours, compiled, req, *peer_key, handle_secret, resp, handles);
    if (!done) return refuse(done.error().code, done.error().what, audit::AuditKind::kMatchJob);
  } else {
    auto secret = match::PsiSecret::generate();
    auto reblinded = match::reblind_all(secret, query_points, psi_threads());
    if (!reblinded) return refuse(Errc::kInvalidInput, "invalid point in match query", audit::AuditKind::kMatchJob);
    for (const auto& p : reblinded.value()) resp.points.push_back(as_bytes(p));
    std::vector<match::MatchKey> keys;
    std::vector<size_t> key_owner;
    store::RecordStore records(env_);
    {
      JISR_TRY(auto txn, env_.read());
      JISR_TRY(records.for_each(txn, [&](const Record& r) {
        auto features = match::extract_features(compiled, r.fields);
        auto ks = match::match_keys(compiled, features, match::KeySide::kResponder);
        if (ks.empty()) return true;
        handles.emplace_back(stable_handle(handle_secret, peer, r.id), r.id);
        for (auto& k : ks) {
          keys.push_back(std::move(k));
          key_owner.push_back(handles.size() - 1);
        }
        return true;
      }));
    }
    JISR_TRY(auto own, match::blind_keys(secret, keys, psi_threads()));
    // Shuffled so the order of points says nothing about record order or key kinds.
    std::vector<size_t> order(own.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[randombytes_uniform(static_cast<uint32_t>(i))]);
    for (size_t i : order) {
      resp.responder_points.push_back(as_bytes(own[i]));
      resp.handles.push_back(handles[key_owner[i]].first);
    }
    own_points = keys.size();
  }
  if (!bloom) resp.count = static_cast<uint32_t>(handles.size());
  resp.quota_left = static_cast<uint32_t>(section.max_records_per_day - used - req.count);

  JISR_TRY(env_.write([&](store::WriteTxn& txn) -> Result<void> {
    JISR_TRY(txn.put(Table::kMatchQuota, qkey, std::to_string(quota_used(txn, qkey) + req.count)));
    // Expired handle maps go first (a reveal after kHandleLifetime is refused anyway).
    std::vector<std::string> expired;
    JISR_TRY(txn.scan_prefix(Table::kMatches, kHandlePrefix, [&](std::string_view k, std::string_view v) {
      auto j = nlohmann::json::parse(v, nullptr, false);
      if (j.is_discarded() || !j.is_object() || j.value("expires_ms", int64_t{0}) < to_unix_ms(now)) expired.emplace_back(k);
      return true;
    }));
    for (const auto& k : expired) {
      JISR_TRY(txn.del(Table::kMatches, k));
    }
    const int64_t expires = to_unix_ms(now + kHandleLifetime);
    for (const auto& [h, id] : handles) {
      nlohmann::json j{{"peer", peer.str()}, {"record", id.str()}, {"expires_ms", expires}};
      JISR_TRY(txn.put(Table::kMatches,
                       handle_key(peer, to_hex(reinterpret_cast<const uint8_t*>(h.data()), h.size())), j.dump()));
    }
    audit::AuditEvent e;
    e.kind = audit::AuditKind::kMatchJob;
    e.actor = {audit::ActorKind::kPeer, peer.str()};
    e.peer = peer.str();
    e.job_id = req.job_id;
    e.agreement_id = ours->id().str();
    e.policy_hash = ours->version();
    e.fields = spec.fields;
    e.counts = {{"query_records", req.count},
                {"query_points", req.points.size()},
                {"own_records", bloom ? resp.count : handles.size()},
                {"own_points", own_points}};
    // Bloom: the responder decides, so it knows how many; psi: it learns no more than counts.
    if (bloom) e.counts.emplace_back("candidates", resp.candidates.size());
    e.detail = fmt::format("{} answer", method);
    JISR_TRY(audit_.append(txn, e, now));
    return ok();
  }));
  return resp;
}

Result<protocol::MatchResponse> MatchEngine::answer_step(const OrgId& peer, const policies::CompiledAgreement* ours,
                                                         protocol::MatchRequest req,
                                                         const std::optional<std::array<uint8_t, 32>>& peer_key,
                                                         size_t page_budget) {
  const TimePoint now = clock_.now();
  const auto key = std::make_pair(peer.str(), req.job_id);
  std::unique_lock lock(pending_mutex_);
  std::erase_if(pending_, [&](const auto& p) { return now - p.second.touched > kPendingJobLifetime; });
  if (req.page > 0) {
    auto it = pending_.find(key);
    if (it == pending_.end() || req.page >= it->second.pages.size() || it->second.pages[req.page].pages == 0) {
      return make_error(Errc::kInvalidInput, "no such page of a match answer (unknown or expired job?)", peer.str());
    }
    protocol::MatchResponse page = std::move(it->second.pages[req.page]);
    it->second.pages[req.page].pages = 0;  // fetched: a page is handed out once
    it->second.touched = now;
    if (req.page + 1 == it->second.pages.size()) pending_.erase(it);
    return page;
  }
  const uint32_t parts = std::max<uint32_t>(req.parts, 1);
  if (req.part >= parts) return make_error(Errc::kInvalidInput, "match query part out of range", peer.str());
  if (parts > 1) {
    if (req.part == 0) {
      if (pending_.count(key)) return make_error(Errc::kInvalidInput, "match job id already in use", peer.str());
      size_t in_flight = 0;
      for (const auto& [k, v] : pending_) in_flight += k.first == peer.str() ? 1 : 0;
      if (in_flight >= kMaxPendingJobs) {
        return make_error(Errc::kOverloaded, fmt::format("{} match jobs already in progress", in_flight), peer.str());
      }
      // Refused at the first part, before anything is held: no agreement, method, fields or
      // quota for the records the job declares.
      lock.unlock();
      JISR_TRY(admit(peer, ours, req, peer_key, false));
      lock.lock();
      if (pending_.count(key)) return make_error(Errc::kInvalidInput, "match job id already in use", peer.str());
      pending_[key] = PendingJob{std::move(req), {}, now};
      protocol::MatchResponse ack;
      ack.method = pending_[key].request.method;
      ack.job_id = pending_[key].request.job_id;
      return ack;
    }
    auto it = pending_.find(key);
    if (it == pending_.end() || !it->second.pages.empty()) {
      return make_error(Errc::kInvalidInput, "match query part of an unknown or expired job", peer.str());
    }
    auto appended = append_part(it->second.request, std::move(req));
    if (!appended) {
      pending_.erase(it);
      return Error{appended.error().code, appended.error().what, peer.str()};
    }
    if (it->second.request.points.size() > kMaxQueryPoints || it->second.request.blooms.size() > kMaxQueryPoints ||
        estimated_bytes(it->second.request) > kMaxUploadBytes) {
      pending_.erase(it);
      return make_error(Errc::kInvalidInput, "match query too large", peer.str());
    }
    it->second.touched = now;
    if (it->second.request.part + 1 < parts) {
      protocol::MatchResponse ack;
      ack.method = it->second.request.method;
      ack.job_id = it->second.request.job_id;
      return ack;
    }
    req = std::move(it->second.request);
    pending_.erase(it);
  }
  // The whole query is here: answered once (quota, audit) without holding the lock.
  lock.unlock();
  JISR_TRY(auto whole, answer(peer, ours, req, peer_key));
  auto pages = split_response(std::move(whole), page_budget);
  protocol::MatchResponse first = std::move(pages.front());
  if (pages.size() > 1) {
    lock.lock();
    pages.front().pages = 0;
    pending_[key] = PendingJob{{}, std::move(pages), clock_.now()};
  }
  return first;
}

Result<protocol::RevealRequest> MatchEngine::begin_reveal(uint64_t candidate_id, const policies::CompiledAgreement& ours) {
  JISR_TRY(auto txn, env_.read());
  JISR_TRY(auto c, get_candidate(txn, candidate_id));
  if (!c) return make_error(Errc::kNotFound, "no such match candidate", std::to_string(candidate_id));
  if (c->status == "rejected") return make_error(Errc::kConflict, "the candidate was rejected", std::to_string(candidate_id));
  if (c->peer != ours.peer()) return make_error(Errc::kInternal, "agreement is for another peer", c->peer.str());
  auto handle = from_hex(c->handle);
  if (!handle) return make_error(Errc::kInternal, "corrupt handle", std::to_string(candidate_id));
  protocol::RevealRequest r;
  r.job_id = c->job_id;
  r.agreement = ours.id();
  r.handles.push_back(std::move(*handle));
  return r;
}

Result<protocol::RevealResponse> MatchEngine::answer_reveal(const OrgId& peer, const policies::CompiledAgreement* ours,
                                                            const protocol::RevealRequest& req) {
  const TimePoint now = clock_.now();
  if (ours == nullptr || !ours->in_force(now)) {
    return make_error(Errc::kDenied, fmt::format("no agreement with {} in force on {}", peer.str(), self_.str()), peer.str());
  }
  if (!is_job_id(req.job_id)) return make_error(Errc::kInvalidInput, "malformed job id", peer.str());
  if (req.handles.size() > kMaxRevealHandles) return make_error(Errc::kInvalidInput, "too many handles", peer.str());
  const auto& reveal = ours->match().reveal;
  if (reveal.empty()) {
    return make_error(Errc::kDenied, fmt::format("agreement {} reveals nothing", ours->id().str()), peer.str());
  }
  protocol::RevealResponse resp;
  resp.job_id = req.job_id;
  store::RecordStore records(env_);
  JISR_TRY(env_.write([&](store::WriteTxn& txn) -> Result<void> {
    resp.records.clear();
    resp.refused = 0;
    for (const auto& h : req.handles) {
      if (h.size() != kHandleBytes) {
        ++resp.refused;
        continue;
      }
      const std::string hex = to_hex(reinterpret_cast<const uint8_t*>(h.data()), h.size());
      auto id = record_behind_handle(txn, peer, hex, now);
      if (!id) {
        ++resp.refused;
        continue;
      }
      JISR_TRY(auto rec, records.get(txn, *id));
      if (!rec) {  // deleted since the job: nothing to reveal
        ++resp.refused;
        continue;
      }
      protocol::WireRecord w;
      w.id = RecordId(hex);  // the handle, never our record id
      std::vector<std::string> names;
      std::vector<FieldMap::Entry> revealed;
      for (const auto& f : reveal) {
        if (auto value = rec->fields.get(f)) {
          revealed.emplace_back(f, std::string(*value));
          names.push_back(f);
        }
      }
      w.fields = encode_fields(std::move(revealed));
      audit::AuditEvent e;
      e.kind = audit::AuditKind::kReveal;
      e.actor = {audit::ActorKind::kPeer, peer.str()};
      e.peer = peer.str();
      e.record_id = id->str();
      e.record_version = rec->version;
      e.job_id = req.job_id;
      e.agreement_id = ours->id().str();
      e.policy_hash = ours->version();
      e.fields = names;
      e.detail = "revealed to peer after a confirmed match";
      JISR_TRY(audit_.append(txn, e, now));
      resp.records.push_back(std::move(w));
    }
    return ok();
  }));
  return resp;
}

Result<RevealOutcome> MatchEngine::finish_reveal(uint64_t candidate_id, const protocol::RevealResponse& response) {
  const TimePoint now = clock_.now();
  RevealOutcome out;
  out.candidate = candidate_id;
  out.refused = response.refused;
  JISR_TRY(env_.write([&](store::WriteTxn& txn) -> Result<void> {
    JISR_TRY(auto c, get_candidate(txn, candidate_id));
    if (!c) return make_error(Errc::kNotFound, "no such match candidate", std::to_string(candidate_id));
    if (response.job_id != c->job_id || response.records.size() > 1) {
      return make_error(Errc::kInvalidInput, "the reveal answer is for another job", c->peer.str());
    }
    c->revealed.clear();
    std::vector<std::string> names;
    for (const auto& r : response.records) {
      if (r.id.str() != c->handle) return make_error(Errc::kInvalidInput, "the reveal answer is for another handle", c->peer.str());
      std::vector<FieldView> fields;
      if (!decode_fields_view(r.fields, fields)) {
        return make_error(Errc::kInvalidInput, "malformed fields in reveal answer", c->peer.str());
      }
      for (const auto& [name, value] : fields) {
        if (!is_name(name) || value.size() > 4096) {
          return make_error(Errc::kInvalidInput, "malformed field in reveal answer", c->peer.str());
        }
        c->revealed.emplace_back(name, value);
        names.emplace_back(name);
      }
    }
    c->status = "confirmed";
    c->decided = now;
    out.fields = c->revealed.size();
    JISR_TRY(put_candidate(txn, *c));
    audit::AuditEvent e;
    e.kind = audit::AuditKind::kReveal;
    e.actor = {audit::ActorKind::kLocalAdmin, {}};
    e.peer = c->peer.str();
    e.record_id = c->record.str();
    e.job_id = c->job_id;
    e.agreement_id = c->agreement;
    e.fields = names;
    e.counts = {{"revealed_records", response.records.size()}, {"refused", response.refused}};
    e.detail = "revealed by peer after a confirmed match";
    JISR_TRY(audit_.append(txn, e, now));
    return ok();
  }));
  return out;
}

Result<Candidate> MatchEngine::candidate(uint64_t candidate_id) {
  JISR_TRY(auto txn, env_.read());
  JISR_TRY(auto c, get_candidate(txn, candidate_id));
  if (!c) return make_error(Errc::kNotFound, "no such match candidate", std::to_string(candidate_id));
  return std::move(*c);
}

Result<void> MatchEngine::reject(uint64_t candidate_id) {
  const TimePoint now = clock_.now();
  return env_.write([&](store::WriteTxn& txn) -> Result<void> {
    JISR_TRY(auto c, get_candidate(txn, candidate_id));
    if (!c) return make_error(Errc::kNotFound, "no such match candidate", std::to_string(candidate_id));
    if (c->status == "confirmed") return make_error(Errc::kConflict, "the candidate is already confirmed", std::to_string(candidate_id));
    c->status = "rejected";
    c->decided = now;
    JISR_TRY(put_candidate(txn, *c));
    audit::AuditEvent e;
    e.kind = audit::AuditKind::kAdminCommand;
    e.actor = {audit::ActorKind::kLocalAdmin, {}};
    e.peer = c->peer.str();
    e.record_id = c->record.str();
    e.job_id = c->job_id;
    e.detail = "matches reject";
    JISR_TRY(audit_.append(txn, e, now));
    return ok();
  });
}

}  // namespace jisr::exchange
