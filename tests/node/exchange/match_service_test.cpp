// Match jobs without the transport: the querier's and the responder's MatchEngine exchange the
// protocol messages directly, so the PSI flow, candidates, reveal, quota and every refusal are
// checked deterministically. (The same flow between `jisr serve` processes is in
// tests/integration/match_cli_test.cpp.)
#include <catch2/catch.hpp>

#include <set>

#include "node/core/file_io.hpp"
#include "node/exchange/match_engine.hpp"
#include "node/exchange/match_paging.hpp"
#include "node/pki/pki.hpp"
#include "node/store/record_store.hpp"
#include "policies/compiler.hpp"
#include "tests/test_support.hpp"

using namespace jisr;
using namespace jisr::exchange;

namespace {

std::string example_text(const std::string& name) {
  auto text = read_file(testing::source_dir() / "policies" / "examples" / name);
  REQUIRE(text);
  return text.value();
}

std::shared_ptr<const policies::CompiledAgreement> compile(const std::string& text, const std::string& name) {
  auto src = YamlSource::from_string(text, name);
  auto compiled = policies::compile_agreement(src, RecordSchema::missing_person());
  REQUIRE(compiled);
  return std::make_shared<const policies::CompiledAgreement>(std::move(compiled).value());
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  REQUIRE(p != std::string::npos);
  return s.replace(p, from.size(), to);
}

struct Node {
  Node(const std::string& org, const Clock& clock)
      : env(store::Env::open(dir.path()).value()),
        audit(*env, org),
        schema(RecordSchema::missing_person()),
        engine(*env, audit, clock, schema, OrgId(org)) {}
  void put(const char* id, std::initializer_list<std::pair<const char*, const char*>> fields) {
    FieldMap f;
    for (const auto& [k, v] : fields) f.set(k, v);
    store::RecordStore records(*env);
    REQUIRE(env->write([&](store::WriteTxn& t) -> Result<void> {
      JISR_TRY(records.put(t, RecordId(id), f));
      return ok();
    }));
  }
  std::vector<audit::AuditEntry> entries(audit::AuditKind kind) {
    std::vector<audit::AuditEntry> out;
    auto txn = env->read().value();
    REQUIRE(audit::AuditLog::for_each(txn, 0, [&](const audit::AuditEntry& e) {
      if (e.event.kind == kind) out.push_back(e);
      return true;
    }));
    return out;
  }
  std::vector<Candidate> candidates() {
    auto txn = env->read().value();
    auto c = list_candidates(txn);
    REQUIRE(c);
    return c.value();
  }
  testing::TempDir dir;
  std::unique_ptr<store::Env> env;
  audit::AuditLog audit;
  RecordSchema schema;
  MatchEngine engine;
};

}  // namespace

TEST_CASE("a psi job finds the shared person, stores a candidate and reveals on confirm", "[exchange][match]") {
  FakeClock clock(from_unix_ms(1'780'000'000'000));  // 2026-05-28, inside both agreements
  Node platform("mpfp", clock);
  Node institution("iimp", clock);
  auto platform_agreement = compile(example_text("mpfp-to-iimp.yaml"), "mpfp-to-iimp.yaml");
  auto institution_agreement = compile(example_text("iimp-to-mpfp.yaml"), "iimp-to-mpfp.yaml");

  platform.put("P1", {{"given_name", "أحمد"}, {"father_name", "خالد"}, {"family_name", "العلي"},
                      {"mother_name", "فاطمة الحسن"}, {"birth_date", "1988-04-12"}, {"reporter_phone", "0999"}});
  platform.put("P2", {{"given_name", "مريم"}, {"father_name", "يوسف"}, {"family_name", "الخطيب"}, {"birth_date", "1992"}});
  // The same person as P1, written in Latin script by the institution, birth year off by one.
  institution.put("C1", {{"given_name", "Ahmad"}, {"father_name", "Khaled"}, {"family_name", "Al-Ali"},
                         {"birth_date", "1989"}, {"status", "open"}, {"national_id", "0123"}});
  institution.put("C2", {{"given_name", "Omar"}, {"father_name", "Hassan"}, {"family_name", "Haddad"},
                         {"birth_date", "1975"}});

  auto query = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
  REQUIRE(query);
  CHECK(query.value().request.count == 2);
  CHECK(query.value().request.key_kind.find("grandfather_name") == std::string::npos);  // unused by its keys
  auto answer = institution.engine.answer(OrgId("mpfp"), institution_agreement.get(), query.value().request);
  REQUIRE(answer);
  CHECK(answer.value().count == 2);
  CHECK(answer.value().quota_left == 5000 - 2);
  std::set<std::string> handles(answer.value().handles.begin(), answer.value().handles.end());
  CHECK(handles.size() == 2);  // one opaque handle per responder record
  auto outcome = platform.engine.finish_job(query.value(), answer.value());
  REQUIRE(outcome);
  CHECK(outcome.value().candidates == 1);

  auto candidates = platform.candidates();
  REQUIRE(candidates.size() == 1);
  const Candidate c = candidates.front();
  CHECK(c.record.str() == "P1");
  CHECK(c.peer.str() == "iimp");
  CHECK(c.method == "psi");
  CHECK(c.status == "candidate");
  CHECK(c.score >= 10.0);
  CHECK(c.evidence.find("father_name") != std::string::npos);
  CHECK(c.evidence.find("Ahmad") == std::string::npos);

  // Both sides logged the job with counts; the responder's names the fields, no values.
  auto q_jobs = platform.entries(audit::AuditKind::kMatchJob);
  auto r_jobs = institution.entries(audit::AuditKind::kMatchJob);
  REQUIRE(q_jobs.size() == 1);
  REQUIRE(r_jobs.size() == 1);
  CHECK(q_jobs[0].event.job_id == r_jobs[0].event.job_id);
  CHECK(r_jobs[0].event.peer == "mpfp");
  CHECK(std::find(r_jobs[0].event.counts.begin(), r_jobs[0].event.counts.end(), audit::Count{"query_records", 2}) !=
        r_jobs[0].event.counts.end());

  SECTION("confirm reveals only the responder's reveal fields, logged on both sides") {
    auto reveal = platform.engine.begin_reveal(c.id, *platform_agreement);
    REQUIRE(reveal);
    auto revealed = institution.engine.answer_reveal(OrgId("mpfp"), institution_agreement.get(), reveal.value());
    REQUIRE(revealed);
    REQUIRE(revealed.value().records.size() == 1);
    CHECK(revealed.value().records[0].id.str() != "C1");  // the handle, not the record id
    auto done = platform.engine.finish_reveal(c.id, revealed.value());
    REQUIRE(done);
    auto after = platform.candidates().front();
    CHECK(after.status == "confirmed");
    std::set<std::string> names;
    for (const auto& [k, v] : after.revealed) names.insert(k);
    CHECK(names == std::set<std::string>{"given_name", "family_name", "status"});  // never national_id
    CHECK(platform.entries(audit::AuditKind::kReveal).size() == 1);
    auto r_reveals = institution.entries(audit::AuditKind::kReveal);
    REQUIRE(r_reveals.size() == 1);
    CHECK(r_reveals[0].event.record_id == "C1");
    CHECK(r_reveals[0].event.fields == std::vector<std::string>{"family_name", "given_name", "status"});
    CHECK_FALSE(platform.engine.reject(c.id));  // confirmed stays confirmed
  }

  SECTION("a handle of another peer or an unknown handle reveals nothing") {
    auto reveal = platform.engine.begin_reveal(c.id, *platform_agreement);
    REQUIRE(reveal);
    auto other = institution.engine.answer_reveal(OrgId("other"), institution_agreement.get(), reveal.value());
    // No agreement with "other" is passed as the institution's agreement here on purpose: the
    // handle map is bound to mpfp, so even a misrouted request finds nothing.
    REQUIRE(other);
    CHECK(other.value().records.empty());
    CHECK(other.value().refused == 1);
    reveal.value().handles[0][0] ^= 1;
    auto unknown = institution.engine.answer_reveal(OrgId("mpfp"), institution_agreement.get(), reveal.value());
    REQUIRE(unknown);
    CHECK(unknown.value().refused == 1);
    CHECK(institution.entries(audit::AuditKind::kReveal).empty());
  }

  SECTION("a second job finds the pair again under the same handle: no new candidate") {
    auto again = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(again);
    auto answer2 = institution.engine.answer(OrgId("mpfp"), institution_agreement.get(), again.value().request);
    REQUIRE(answer2);
    std::set<std::string> handles2(answer2.value().handles.begin(), answer2.value().handles.end());
    CHECK(handles2 == handles);  // stable per (peer, record)
    auto outcome2 = platform.engine.finish_job(again.value(), answer2.value());
    REQUIRE(outcome2);
    CHECK(outcome2.value().candidates == 0);
    CHECK(outcome2.value().known == 1);
    CHECK(platform.candidates().size() == 1);
    // A reveal still works for the candidate of the first job.
    auto reveal = platform.engine.begin_reveal(c.id, *platform_agreement);
    REQUIRE(reveal);
    auto revealed = institution.engine.answer_reveal(OrgId("mpfp"), institution_agreement.get(), reveal.value());
    REQUIRE(revealed);
    CHECK(revealed.value().records.size() == 1);
  }

  SECTION("a candidate far weaker than the best one for the same record is not kept") {
    // C3 agrees with P1 on the mother's name too: 14.5 bits against C1's 12.
    institution.put("C3", {{"given_name", "Ahmad"}, {"father_name", "Khaled"}, {"family_name", "Al-Ali"},
                           {"mother_name", "Fatima"}, {"birth_date", "1988"}});
    auto q2 = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(q2);
    auto a2 = institution.engine.answer(OrgId("mpfp"), institution_agreement.get(), q2.value().request);
    REQUIRE(a2);
    auto o2 = platform.engine.finish_job(q2.value(), a2.value());
    REQUIRE(o2);
    CHECK(o2.value().candidates == 1);  // C3
    CHECK(o2.value().known == 0);       // C1, more than kRunnerUpBits below C3, is left out
  }

  SECTION("another peer gets other handles for the same records") {
    auto other_agreement = compile(replace(example_text("iimp-to-mpfp.yaml"), "peer: mpfp", "peer: other"), "other.yaml");
    auto q2 = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(q2);
    auto answer2 = institution.engine.answer(OrgId("other"), other_agreement.get(), q2.value().request);
    REQUIRE(answer2);
    for (const auto& h : answer2.value().handles) CHECK(handles.count(h) == 0);
  }

  SECTION("a scheduled job is due one period after the last job, and only when our records changed") {
    const auto every = std::chrono::seconds(3600);
    const TimePoint started = clock.now();
    // The job above ran at `started`: not due before a period has passed.
    CHECK_FALSE(platform.engine.scheduled_job_due(OrgId("iimp"), every, started).value());
    clock.advance(every);
    CHECK_FALSE(platform.engine.scheduled_job_due(OrgId("iimp"), every, started).value());  // nothing changed
    platform.put("P3", {{"given_name", "سلمى"}, {"family_name", "الحسن"}});
    CHECK(platform.engine.scheduled_job_due(OrgId("iimp"), every, started).value());
    // With no job yet, the first one comes one period after the node started.
    CHECK_FALSE(platform.engine.scheduled_job_due(OrgId("nobody"), every, clock.now()).value());
    CHECK(platform.engine.scheduled_job_due(OrgId("nobody"), every, clock.now() - every).value());
    auto last = platform.engine.last_job(OrgId("iimp"));
    REQUIRE(last);
    REQUIRE(last.value());
    CHECK(last.value()->method == "psi");
  }

  SECTION("a job larger than a frame: uploaded in parts, answered in pages, same result") {
    platform.put("P3", {{"given_name", "سلمى"}, {"father_name", "نادر"}, {"family_name", "الحسن"}, {"birth_date", "1990"}});
    auto paged = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(paged);
    const size_t budget = 80;  // two points per frame
    auto parts = split_request(paged.value().request, budget);
    REQUIRE(parts.size() > 2);
    std::optional<protocol::MatchResponse> whole;
    for (auto& part : parts) {
      const bool last = part.part + 1 == part.parts;
      auto step = institution.engine.answer_step(OrgId("mpfp"), institution_agreement.get(), part, std::nullopt, budget);
      REQUIRE(step);
      CHECK((step.value().pages == 0) != last);  // acknowledged until the last part is in
      if (last) whole = step.value();
    }
    REQUIRE(whole->pages > 1);
    // Another peer cannot fetch this job's pages.
    protocol::MatchRequest page;
    page.method = protocol::MatchMethod::kPsi;
    page.job_id = paged.value().job_id;
    page.page = 1;
    CHECK(institution.engine.answer_step(OrgId("other"), institution_agreement.get(), page, std::nullopt, budget)
              .error()
              .code == Errc::kInvalidInput);
    for (uint32_t p = 1; p < whole->pages; ++p) {
      page.page = p;
      auto next = institution.engine.answer_step(OrgId("mpfp"), institution_agreement.get(), page, std::nullopt, budget);
      REQUIRE(next);
      REQUIRE(append_page(*whole, std::move(next).value()));
    }
    // Fetched pages are gone: the job's state is dropped with its last page.
    page.page = 1;
    CHECK_FALSE(institution.engine.answer_step(OrgId("mpfp"), institution_agreement.get(), page, std::nullopt, budget));
    auto found = platform.engine.finish_job(paged.value(), *whole);
    REQUIRE(found);
    CHECK(found.value().known == 1);  // P1 and C1 again, under the same handle
    CHECK(found.value().candidates == 0);
    // One answer in the responder's audit for the whole paged job.
    CHECK(institution.entries(audit::AuditKind::kMatchJob).size() == 2);
  }

  SECTION("parts of an unknown job, out of order, or too many jobs at once are refused") {
    auto q = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(q);
    auto parts = split_request(q.value().request, 80);
    REQUIRE(parts.size() > 2);
    CHECK(institution.engine.answer_step(OrgId("mpfp"), institution_agreement.get(), parts[1], std::nullopt, 80)
              .error()
              .code == Errc::kInvalidInput);
    REQUIRE(institution.engine.answer_step(OrgId("mpfp"), institution_agreement.get(), parts[0], std::nullopt, 80));
    CHECK_FALSE(institution.engine.answer_step(OrgId("mpfp"), institution_agreement.get(), parts[2], std::nullopt, 80));
    // A refused part ends that job: its next part finds nothing.
    CHECK_FALSE(institution.engine.answer_step(OrgId("mpfp"), institution_agreement.get(), parts[1], std::nullopt, 80));
    for (int i = 0; i < static_cast<int>(MatchEngine::kMaxPendingJobs); ++i) {
      auto qi = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
      REQUIRE(qi);
      auto pi = split_request(qi.value().request, 80);
      REQUIRE(institution.engine.answer_step(OrgId("mpfp"), institution_agreement.get(), pi[0], std::nullopt, 80));
    }
    auto qn = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    auto pn = split_request(qn.value().request, 80);
    CHECK(institution.engine.answer_step(OrgId("mpfp"), institution_agreement.get(), pn[0], std::nullopt, 80)
              .error()
              .code == Errc::kOverloaded);
  }

  SECTION("reject marks the candidate and a rejected candidate cannot be confirmed") {
    REQUIRE(platform.engine.reject(c.id));
    CHECK(platform.candidates().front().status == "rejected");
    auto reveal = platform.engine.begin_reveal(c.id, *platform_agreement);
    REQUIRE_FALSE(reveal);
    CHECK(reveal.error().code == Errc::kConflict);
    CHECK(platform.engine.reject(999).error().code == Errc::kNotFound);
  }
}

TEST_CASE("the responder enforces its agreement: methods, fields, quota", "[exchange][match]") {
  FakeClock clock(from_unix_ms(1'780'000'000'000));
  Node platform("mpfp", clock);
  Node institution("iimp", clock);
  auto platform_agreement = compile(example_text("mpfp-to-iimp.yaml"), "mpfp-to-iimp.yaml");
  auto tight = compile(replace(example_text("iimp-to-mpfp.yaml"), "max_records_per_day: 5000", "max_records_per_day: 3"),
                       "iimp-to-mpfp.yaml");
  platform.put("P1", {{"given_name", "أحمد"}, {"father_name", "خالد"}, {"family_name", "العلي"}, {"birth_date", "1988"}});
  platform.put("P2", {{"given_name", "مريم"}, {"father_name", "يوسف"}, {"family_name", "الخطيب"}, {"birth_date", "1992"}});
  institution.put("C1", {{"given_name", "Ahmad"}, {"father_name", "Khaled"}, {"family_name", "Al-Ali"}, {"birth_date", "1988"}});

  SECTION("over the daily quota: a clear error and a quota_refused entry; the next UTC day is fresh") {
    auto q1 = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(q1);
    REQUIRE(institution.engine.answer(OrgId("mpfp"), tight.get(), q1.value().request));
    auto q2 = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(q2);
    auto refused = institution.engine.answer(OrgId("mpfp"), tight.get(), q2.value().request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == Errc::kOverloaded);
    CHECK(refused.error().what.find("match quota exceeded") != std::string::npos);
    auto entries = institution.entries(audit::AuditKind::kQuotaRefused);
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].event.peer == "mpfp");
    CHECK(entries[0].event.job_id == q2.value().job_id);
    clock.advance(std::chrono::hours(24));
    CHECK(institution.engine.answer(OrgId("mpfp"), tight.get(), q2.value().request));
  }

  SECTION("a job uploaded in parts is refused at its first part, before anything is held") {
    for (const char* id : {"P3", "P4"}) {
      platform.put(id, {{"given_name", "سلمى"}, {"father_name", "نادر"}, {"family_name", "الحسن"}, {"birth_date", "1990"}});
    }
    auto q = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(q);
    REQUIRE(q.value().request.count == 4);  // over the quota of 3
    auto parts = split_request(q.value().request, 80);
    REQUIRE(parts.size() > 1);
    auto first = institution.engine.answer_step(OrgId("mpfp"), tight.get(), parts[0], std::nullopt, 80);
    REQUIRE_FALSE(first);
    CHECK(first.error().code == Errc::kOverloaded);
    CHECK(institution.entries(audit::AuditKind::kQuotaRefused).size() == 1);
    // Nothing was kept: the next part belongs to no job.
    CHECK(institution.engine.answer_step(OrgId("mpfp"), tight.get(), parts[1], std::nullopt, 80).error().code ==
          Errc::kInvalidInput);
    // Nor is a job without an agreement held.
    CHECK(institution.engine.answer_step(OrgId("mpfp"), nullptr, parts[0], std::nullopt, 80).error().code ==
          Errc::kDenied);
  }

  SECTION("a method the responder's agreement does not list is refused") {
    auto q = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(q);
    q.value().request.method = protocol::MatchMethod::kBloom;
    auto refused = institution.engine.answer(OrgId("mpfp"), tight.get(), q.value().request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == Errc::kDenied);
    CHECK(refused.error().what == "method bloom is not allowed by agreement iimp-mpfp-mou");
  }

  SECTION("a field outside the responder's match.fields is refused") {
    auto q = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(q);
    q.value().request.key_kind = "given_name,national_id;by-id=national_id";
    auto refused = institution.engine.answer(OrgId("mpfp"), tight.get(), q.value().request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == Errc::kDenied);
    CHECK(refused.error().what.find("national_id is not allowed for matching") != std::string::npos);
  }

  SECTION("no agreement, malformed specs and points are refused without work") {
    auto q = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE(q);
    CHECK(institution.engine.answer(OrgId("mpfp"), nullptr, q.value().request).error().code == Errc::kDenied);
    auto bad = q.value().request;
    bad.key_kind = "given_name;k=father_name";
    CHECK(institution.engine.answer(OrgId("mpfp"), tight.get(), bad).error().code == Errc::kInvalidInput);
    bad = q.value().request;
    bad.points[0] = std::string(32, '\0');  // the identity: would match everything
    CHECK(institution.engine.answer(OrgId("mpfp"), tight.get(), bad).error().code == Errc::kInvalidInput);
    bad = q.value().request;
    bad.points[0].pop_back();
    CHECK(institution.engine.answer(OrgId("mpfp"), tight.get(), bad).error().code == Errc::kInvalidInput);
    bad = q.value().request;
    bad.job_id = "../../x";
    CHECK(institution.engine.answer(OrgId("mpfp"), tight.get(), bad).error().code == Errc::kInvalidInput);
  }

  SECTION("an agreement that is not in force runs no job") {
    clock.set(from_unix_ms(1'950'000'000'000));  // 2031: after both agreements end
    auto q = platform.engine.begin_job(*platform_agreement, protocol::MatchMethod::kPsi);
    REQUIRE_FALSE(q);
    CHECK(q.error().code == Errc::kDenied);
  }
}

TEST_CASE("match specs travel as text and refuse malformed input", "[exchange][match]") {
  auto spec = decode_spec("given_name,father_name,birth_date;a=given_name+father_name,b=given_name+birth_date");
  REQUIRE(spec);
  CHECK(spec.value().fields.size() == 3);
  CHECK(spec.value().keys.size() == 2);
  CHECK(encode_spec(spec.value()) == "given_name,father_name,birth_date;a=given_name+father_name,b=given_name+birth_date");
  CHECK_FALSE(decode_spec(""));
  CHECK_FALSE(decode_spec("given_name"));
  CHECK_FALSE(decode_spec("Given;a=Given"));
  CHECK_FALSE(decode_spec("a;b=c"));
  CHECK_FALSE(decode_spec(std::string(40000, 'a')));
  CHECK(decode_spec("a_b,c;a_b+c=a_b+c"));
  // A fuzzy field travels with a trailing '~'; one per kind, and it must be one of the kind's.
  auto fuzzy = decode_spec("given_name,father_name,birth_date;a~=given_name~+father_name+birth_date");
  REQUIRE(fuzzy);
  CHECK(fuzzy.value().keys[0].fuzzy == "given_name");
  CHECK(fuzzy.value().keys[0].fields[0] == "given_name");
  CHECK(encode_spec(fuzzy.value()) == "given_name,father_name,birth_date;a~=given_name~+father_name+birth_date");
  CHECK_FALSE(decode_spec("given_name,father_name;a=given_name~+father_name~"));
  CHECK_FALSE(decode_spec("given_name,father_name;a=surname~+father_name"));
  CHECK(match_domain(OrgId("mpfp"), OrgId("iimp")) == match_domain(OrgId("iimp"), OrgId("mpfp")));
}

TEST_CASE("a bloom job: filters under a secret both nodes derive, candidates with scores", "[exchange][match]") {
  FakeClock clock(from_unix_ms(1'780'000'000'000));
  const auto platform_key = pki::generate_signing_key();
  const auto institution_key = pki::generate_signing_key();
  testing::TempDir pdir, idir;
  auto penv = store::Env::open(pdir.path()).value();
  auto ienv = store::Env::open(idir.path()).value();
  audit::AuditLog paudit(*penv, "mpfp"), iaudit(*ienv, "iimp");
  const auto schema = RecordSchema::missing_person();
  MatchEngine platform(*penv, paudit, clock, schema, OrgId("mpfp"), &platform_key.secret);
  MatchEngine institution(*ienv, iaudit, clock, schema, OrgId("iimp"), &institution_key.secret);
  auto platform_agreement = compile(example_text("mpfp-to-iimp.yaml"), "mpfp-to-iimp.yaml");
  // The institution queries the platform here: its own agreement must list bloom too.
  auto institution_agreement = compile(replace(example_text("iimp-to-mpfp.yaml"), "methods: [psi]", "methods: [psi, bloom]"),
                                       "iimp-to-mpfp.yaml");
  auto put = [](store::Env& env, const char* id, std::initializer_list<std::pair<const char*, const char*>> fields) {
    FieldMap f;
    for (const auto& [k, v] : fields) f.set(k, v);
    store::RecordStore records(env);
    REQUIRE(env.write([&](store::WriteTxn& t) -> Result<void> {
      JISR_TRY(records.put(t, RecordId(id), f));
      return ok();
    }));
  };
  put(*penv, "P1", {{"given_name", "أحمد"}, {"father_name", "خالد"}, {"family_name", "العلي"}, {"birth_date", "1988-04-12"},
                    {"missing_date", "2013-06-02"}});
  put(*penv, "P2", {{"given_name", "مريم"}, {"father_name", "يوسف"}, {"family_name", "الخطيب"}, {"birth_date", "1992"}});
  put(*ienv, "C1", {{"given_name", "أحمد"}, {"father_name", "خالد"}, {"family_name", "العلي"}, {"birth_date", "1988"}});
  put(*ienv, "C2", {{"given_name", "عمر"}, {"father_name", "حسن"}, {"family_name", "حداد"}, {"birth_date", "1960"}});

  SECTION("without the peer's key there is no bloom job") {
    auto q = institution.begin_job(*institution_agreement, protocol::MatchMethod::kBloom);
    REQUIRE_FALSE(q);
    CHECK(q.error().code == Errc::kDenied);
  }

  auto q = institution.begin_job(*institution_agreement, protocol::MatchMethod::kBloom, platform_key.public_key);
  REQUIRE(q);
  CHECK(q.value().request.points.empty());
  CHECK(q.value().request.blooms.size() == 2);
  auto answer = platform.answer(OrgId("iimp"), platform_agreement.get(), q.value().request, institution_key.public_key);
  INFO((answer ? std::string() : answer.error().message()));
  REQUIRE(answer);
  CHECK(answer.value().responder_points.empty());  // the responder's filters never leave
  REQUIRE(answer.value().candidates.size() == 1);
  CHECK(answer.value().candidates[0].score >= 0.85f);
  auto outcome = institution.finish_job(q.value(), answer.value());
  REQUIRE(outcome);
  REQUIRE(outcome.value().candidates == 1);
  auto txn = ienv->read().value();
  auto stored = list_candidates(txn).value();
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].record.str() == "C1");
  CHECK(stored[0].method == "bloom");
  // Per-field evidence by field name, never a value.
  CHECK(stored[0].evidence.find("given_name") != std::string::npos);
  CHECK(stored[0].evidence.find("same") != std::string::npos);
  CHECK(stored[0].evidence.find("1988") == std::string::npos);
  CHECK(q.value().request.block_keys.size() == 2);

  SECTION("a third node's key derives another secret: nothing matches") {
    const auto other = pki::generate_signing_key();
    auto wrong = platform.answer(OrgId("iimp"), platform_agreement.get(), q.value().request, other.public_key);
    REQUIRE(wrong);
    CHECK(wrong.value().candidates.empty());
  }
  SECTION("filters of the wrong size are refused") {
    auto bad = q.value().request;
    bad.blooms[0].pop_back();
    CHECK(platform.answer(OrgId("iimp"), platform_agreement.get(), bad, institution_key.public_key).error().code ==
          Errc::kInvalidInput);
  }
  SECTION("blocking keys must come with every filter, whole") {
    auto missing = q.value().request;
    missing.block_keys.pop_back();
    CHECK(platform.answer(OrgId("iimp"), platform_agreement.get(), missing, institution_key.public_key).error().code ==
          Errc::kInvalidInput);
    auto torn = q.value().request;
    torn.block_keys[0].push_back('x');
    CHECK(platform.answer(OrgId("iimp"), platform_agreement.get(), torn, institution_key.public_key).error().code ==
          Errc::kInvalidInput);
  }
  SECTION("no shared blocking key, no comparison: the pair is not scored") {
    auto unblocked = q.value().request;
    for (auto& b : unblocked.block_keys) b.clear();
    auto none = platform.answer(OrgId("iimp"), platform_agreement.get(), unblocked, institution_key.public_key);
    REQUIRE(none);
    CHECK(none.value().candidates.empty());
  }
  SECTION("evidence from the peer that is not plain text is refused") {
    auto hostile = answer.value();
    hostile.candidates[0].evidence = "same \x1b[31mgiven_name";
    CHECK(institution.finish_job(q.value(), hostile).error().code == Errc::kInvalidInput);
  }
}
