// AuditLog at the API level: entries, atomic append in the caller's transaction, checkpoints,
// peer heads, and verify catching each kind of tampering with the right sequence number.
#include <catch2/catch.hpp>

#include "node/audit/audit_event.hpp"
#include "node/audit/audit_log.hpp"
#include "node/audit/refusal_summary.hpp"
#include "node/audit/verify.hpp"
#include "tests/node/audit/audit_fixture.hpp"

using namespace jisr;
using namespace jisr::audit;
using namespace jisr::audit::testing;
using namespace std::chrono_literals;

TEST_CASE("entries encode canonically and decode back", "[audit]") {
  const AuditEntry e = make_entry(7, t0(), disclosure(7), sha256("prev"));
  const std::string bytes = encode_entry(e);
  auto back = decode_entry(bytes);
  REQUIRE(back);
  CHECK(back.value() == e);
  CHECK(compute_hash(back.value()) == e.hash);

  SECTION("every kind has a stable name that parses back") {
    for (auto k : kAllKinds) {
      CHECK(parse_kind(kind_name(k)) == k);
      CHECK(kind_from_number(static_cast<uint8_t>(k)) == k);
    }
    CHECK(kind_name(AuditKind::kRecordDisclosed) == "record_disclosed");
    CHECK(kind_name(AuditKind::kConnectionRefused) == "connection_refused");
    CHECK_FALSE(parse_kind("record_leaked"));
    CHECK_FALSE(kind_from_number(0));
  }
  SECTION("hostile bytes are refused, never read past") {
    for (size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(decode_entry(bytes.substr(0, n)));
    CHECK_FALSE(decode_entry(bytes + "x"));
    CHECK_FALSE(decode_entry(std::string(kMaxEntryBytes + 1, '\x01')));
    std::string bad_kind = bytes;
    bad_kind[3 + 6] = '\x7f';  // somewhere in the header: must not decode to another entry
    auto r = decode_entry(bad_kind);
    if (r) CHECK(r.value() != e);
  }
  SECTION("a non-canonical varint is refused") {
    // seq 7 written as two bytes (0x87 0x00) decodes to 7 but would hash differently.
    std::string overlong = bytes.substr(0, 1) + "\x87" + std::string(1, '\0') + bytes.substr(2);
    auto r = decode_entry(overlong);
    REQUIRE_FALSE(r);
    CHECK(r.error().what.find("not canonical") != std::string::npos);
  }
}

TEST_CASE("batch entries name every record version and encode canonically", "[audit]") {
  const AuditEvent batch = batch_disclosure({{"R-1", 1}, {"R-2", 3}, {"R-10", 2}});
  CHECK(validate(batch));
  const AuditEntry e = make_entry(9, t0(), batch, sha256("prev"));
  const std::string bytes = encode_entry(e);
  CHECK(static_cast<uint8_t>(bytes[0]) == kEntryFormatWithRecords);
  auto back = decode_entry(bytes);
  REQUIRE(back);
  CHECK(back.value() == e);
  CHECK(back.value().event.records == batch.records);
  CHECK(compute_hash(back.value()) == e.hash);
  // Entries without records keep format 1, so the hashes of older logs do not change.
  CHECK(static_cast<uint8_t>(encode_entry(make_entry(9, t0(), disclosure(1), {}))[0]) == kEntryFormat);
  for (size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(decode_entry(bytes.substr(0, n)));

  SECTION("format 2 with an empty record list is not canonical") {
    const std::string body = encode_body(9, t0(), disclosure(1));
    std::string forged = body;
    forged[0] = static_cast<char>(kEntryFormatWithRecords);
    forged.push_back('\0');  // n records = 0
    forged.append(64, '\0');
    CHECK_FALSE(decode_entry(forged));
  }
  SECTION("record ids and versions are checked like record_id") {
    AuditEvent bad = batch;
    bad.records.emplace_back("has space", 1);
    CHECK_FALSE(validate(bad));
    bad = batch;
    bad.records.emplace_back("R-3", 0);
    CHECK_FALSE(validate(bad));
    bad = batch;
    bad.records.assign(kMaxRecords + 1, {"R-1", 1});
    CHECK_FALSE(validate(bad));
  }
}

TEST_CASE("events are validated: names and ids only, bounded", "[audit]") {
  AuditEvent ok_event = disclosure(1);
  CHECK(validate(ok_event));
  auto refused = [](AuditEvent e) {
    auto r = validate(e);
    return !r && r.error().code == Errc::kInvalidInput;
  };
  AuditEvent e = ok_event;
  e.fields.push_back("Given Name");
  CHECK(refused(e));
  e = ok_event;
  e.detail = "name: \xd9\x85\xd8\xad\xd9\x85\xd8\xaf";  // non-ASCII text cannot carry a name
  CHECK(refused(e));
  e = ok_event;
  e.detail = std::string(201, 'a');
  CHECK(refused(e));
  e = ok_event;
  e.peer = "IIMP";
  CHECK(refused(e));
  e = ok_event;
  e.record_id = "has space";
  CHECK(refused(e));
  e = ok_event;
  e.policy_hash = "abc";
  CHECK(refused(e));
  e = ok_event;
  e.actor = {ActorKind::kPeer, ""};
  CHECK(refused(e));
  e = ok_event;
  e.actor = {ActorKind::kNode, "someone"};
  CHECK(refused(e));
  e = ok_event;
  e.counts = {{"b", 1}, {"a", 2}};
  CHECK(refused(e));  // validate wants canonical order; append sorts for the caller
  e.counts = {{"a", 1}, {"a", 2}};
  CHECK(refused(e));
  e = ok_event;
  e.fields.assign(kMaxFields + 1, "sex");
  CHECK(refused(e));

  SECTION("safe_detail makes any text a valid detail") {
    e = ok_event;
    e.detail = safe_detail("refused: \xd9\x85\n" + std::string(500, 'x'));
    CHECK(validate(e));
    CHECK(e.detail.size() == kMaxDetailBytes);
    CHECK(e.detail.rfind("refused: ???", 0) == 0);
  }
}

TEST_CASE("append chains entries inside the caller's transaction", "[audit]") {
  StoreFixture f;
  SECTION("seq, links and the counter") {
    f.append(3);
    auto txn = f.env->read();
    REQUIRE(txn);
    auto head = AuditLog::head(txn.value());
    REQUIRE(head);
    CHECK(head.value().seq == 3);
    Sha256 prev{};
    uint64_t n = 0;
    REQUIRE(AuditLog::for_each(txn.value(), 0, [&](const AuditEntry& e) {
      ++n;
      CHECK(e.seq == n);
      CHECK(e.prev == prev);
      CHECK(compute_hash(e) == e.hash);
      CHECK(e.event == disclosure(static_cast<int>(n)));
      prev = e.hash;
      return true;
    }));
    CHECK(n == 3);
    CHECK(head.value().hash == prev);
  }
  SECTION("an aborted transaction leaves neither the act nor its entry") {
    auto r = f.env->write([&](store::WriteTxn& txn) -> Result<void> {
      JISR_TRY(txn.put(store::Table::kMeta, "disclosed-R-1", "1"));
      JISR_TRY(f.log->append(txn, disclosure(1), t0()));
      return make_error(Errc::kDenied, "send failed before commit");
    });
    REQUIRE_FALSE(r);
    auto txn = f.env->read();
    CHECK_FALSE(txn.value().get(store::Table::kMeta, "disclosed-R-1"));
    CHECK(txn.value().count(store::Table::kAuditLog) == 0);
    CHECK(AuditLog::head(txn.value()).value().seq == 0);
  }
  SECTION("a committed transaction holds both") {
    auto r = f.env->write([&](store::WriteTxn& txn) -> Result<uint64_t> {
      JISR_TRY(txn.put(store::Table::kMeta, "disclosed-R-1", "1"));
      return f.log->append(txn, disclosure(1), t0());
    });
    REQUIRE(r);
    CHECK(r.value() == 1);
    auto txn = f.env->read();
    CHECK(txn.value().get(store::Table::kMeta, "disclosed-R-1"));
    CHECK(AuditLog::get(txn.value(), 1).value()->event == disclosure(1));
  }
  SECTION("an invalid event writes nothing") {
    AuditEvent bad = disclosure(1);
    bad.fields = {"given name"};
    auto r = f.log->append(bad, t0());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalidInput);
    CHECK(f.env->read().value().count(store::Table::kAuditLog) == 0);
  }
  SECTION("counts are stored in name order") {
    REQUIRE(f.log->append(import_event(12), t0()));
    auto entry = AuditLog::get(f.env->read().value(), 1).value();
    REQUIRE(entry);
    CHECK(entry->event.counts == std::vector<Count>{{"inserted", 12}, {"updated", 0}});
  }
  SECTION("append_all stores exactly what one append per event would") {
    StoreFixture one_by_one;
    std::vector<AuditEvent> events{disclosure(1), import_event(7), disclosure(2)};
    REQUIRE(one_by_one.env->write([&](store::WriteTxn& txn) -> Result<void> {
      for (const auto& e : events) {
        JISR_TRY(one_by_one.log->append(txn, e, t0()));
      }
      return ok();
    }));
    auto last = f.env->write([&](store::WriteTxn& txn) { return f.log->append_all(txn, events, t0()); });
    REQUIRE(last);
    CHECK(last.value() == 3);
    auto a = one_by_one.env->read().value();
    auto b = f.env->read().value();
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      CHECK(a.get(store::Table::kAuditLog, be64_key(seq)) == b.get(store::Table::kAuditLog, be64_key(seq)));
    }
    CHECK(AuditLog::head(a).value().hash == AuditLog::head(b).value().hash);
    CHECK(AuditLog::get(b, 2).value()->event.counts == std::vector<Count>{{"inserted", 7}, {"updated", 0}});
    CHECK(f.verify().ok());
  }
  SECTION("append_all with one invalid event writes nothing") {
    AuditEvent bad = disclosure(2);
    bad.record_id = "bad id";
    std::vector<AuditEvent> events{disclosure(1), bad};
    auto r = f.env->write([&](store::WriteTxn& txn) { return f.log->append_all(txn, events, t0()); });
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalidInput);
    CHECK(f.env->read().value().count(store::Table::kAuditLog) == 0);
  }
  SECTION("append refuses to chain onto a log whose counter disagrees") {
    f.append(3);
    f.del_raw(store::Table::kAuditLog, be64_key(3));
    auto r = f.log->append(disclosure(4), t0());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInternal);
  }
}

TEST_CASE("checkpoints every N entries or T minutes", "[audit]") {
  AuditOptions options;
  options.checkpoint_every_entries = 5;
  options.checkpoint_every = 10min;
  StoreFixture f(options);
  auto maybe = [&](TimePoint now) {
    auto r = f.env->write([&](store::WriteTxn& t) { return f.log->maybe_checkpoint(t, now, f.signer); });
    REQUIRE(r);
    return r.value();
  };
  CHECK_FALSE(maybe(t0()));  // empty log: nothing to sign
  f.append(4);               // entries at t0+1s .. t0+4s
  CHECK_FALSE(maybe(t0() + 5s));
  f.append(1, 5);
  auto cp = maybe(t0() + 6s);  // the 5th entry makes it due by count
  REQUIRE(cp);
  CHECK(cp->seq == 5);
  CHECK(cp->org == "mpfp");
  CHECK(signature_valid(*cp));
  CHECK_FALSE(maybe(t0() + 7s));  // nothing new
  f.append(2, 6);
  CHECK_FALSE(maybe(t0() + 9min));          // oldest unsigned entry (t0+6s) is not 10 min old
  auto by_time = maybe(t0() + 10min + 6s);  // now it is
  REQUIRE(by_time);
  CHECK(by_time->seq == 7);
  auto report = f.verify();
  CHECK(report.ok());
  CHECK(report.valid_checkpoints == 2);
  CHECK(report.unsigned_entries == 0);

  SECTION("make_checkpoint_head signs a fresh head for peers, once") {
    f.append(1, 8);
    auto head = f.env->write([&](store::WriteTxn& t) { return f.log->make_checkpoint_head(t, t0() + 11min, f.signer); });
    REQUIRE(head);
    CHECK(head.value().seq == 8);
    auto again = f.env->write([&](store::WriteTxn& t) { return f.log->make_checkpoint_head(t, t0() + 12min, f.signer); });
    REQUIRE(again);
    CHECK(again.value() == head.value());  // same head: the stored checkpoint, not a new one
  }
}

TEST_CASE("audit options come from a strict YAML mapping", "[audit]") {
  auto parse = [](const std::string& text) {
    auto src = YamlSource::from_string(text, "node.yaml");
    auto opts = AuditOptions::parse(src, src.root()["audit"]);
    return std::pair{opts, src.diagnostics().empty() ? std::string() : src.diagnostics()[0].to_string()};
  };
  auto [defaults, none] = parse("org: mpfp\n");
  REQUIRE(defaults);
  CHECK(defaults->checkpoint_every_entries == 1000);
  CHECK(defaults->checkpoint_every == 15min);
  auto [set, none2] = parse("audit:\n  checkpoint_every_entries: 10\n  checkpoint_every_minutes: 2\n");
  REQUIRE(set);
  CHECK(set->checkpoint_every_entries == 10);
  CHECK(set->checkpoint_every == 2min);
  auto [bad, msg] = parse("audit:\n  checkpoint_every_entries: 0\n");
  CHECK_FALSE(bad);
  CHECK(msg.find("node.yaml:2:") == 0);
  auto [unknown, msg2] = parse("audit:\n  checkpoint_every_hours: 1\n");
  CHECK_FALSE(unknown);
  CHECK(msg2.find("node.yaml:2:") == 0);
}

TEST_CASE("verify catches tampering and names the sequence number", "[audit][tamper]") {
  StoreFixture f;
  f.append(10);
  f.checkpoint(t0() + 20s);  // signs seq 10
  f.append(2, 11);           // 11, 12 not yet signed
  REQUIRE(f.verify().ok());
  CHECK(f.verify().unsigned_entries == 2);

  SECTION("one byte of an entry changed") {
    std::string bytes = f.raw(5);
    const auto pos = bytes.find("tracing");
    REQUIRE(pos != std::string::npos);
    bytes[pos] = 'T';
    f.put_raw(store::Table::kAuditLog, be64_key(5), bytes);
    CHECK(findings(f.verify()) == "altered@5");
  }
  SECTION("one byte changed and the entry's own hash recomputed") {
    auto e = decode_entry(f.raw(5)).value();
    e.event.purpose = "research";
    e.hash = compute_hash(e);
    f.put_raw(store::Table::kAuditLog, be64_key(5), encode_entry(e));
    CHECK(findings(f.verify()) == "altered@5");
  }
  SECTION("an entry rewritten and the whole chain after it recomputed: the checkpoint catches it") {
    Sha256 prev = decode_entry(f.raw(4)).value().hash;
    for (uint64_t s = 5; s <= 12; ++s) {
      auto e = decode_entry(f.raw(s)).value();
      if (s == 5) e.event.fields.push_back("national_id");
      e.prev = prev;
      e.hash = compute_hash(e);
      prev = e.hash;
      f.put_raw(store::Table::kAuditLog, be64_key(s), encode_entry(e));
    }
    f.put_raw(store::Table::kMeta, std::string(kHeadMetaKey), be64_key(12) + std::string(prev.begin(), prev.end()));
    auto r = f.verify();
    CHECK(findings(r) == "altered@10");
    CHECK(r.findings[0].message.find("checkpoint at seq 10") != std::string::npos);
  }
  SECTION("an entry deleted") {
    f.del_raw(store::Table::kAuditLog, be64_key(4));
    CHECK(findings(f.verify()) == "removed@4");
  }
  SECTION("two entries swapped") {
    const std::string a = f.raw(6), b = f.raw(7);
    f.put_raw(store::Table::kAuditLog, be64_key(6), b);
    f.put_raw(store::Table::kAuditLog, be64_key(7), a);
    CHECK(findings(f.verify()) == "reordered@6 reordered@7");
  }
  SECTION("the tail truncated after a checkpoint, counter lowered to match") {
    for (uint64_t s = 8; s <= 12; ++s) f.del_raw(store::Table::kAuditLog, be64_key(s));
    const Sha256 h7 = decode_entry(f.raw(7)).value().hash;
    f.put_raw(store::Table::kMeta, std::string(kHeadMetaKey), be64_key(7) + std::string(h7.begin(), h7.end()));
    auto r = f.verify();
    CHECK(findings(r) == "truncated@8");
    CHECK(r.findings[0].message.find("seq 8..10") != std::string::npos);
  }
  SECTION("the unsigned tail truncated: the counter catches it") {
    f.del_raw(store::Table::kAuditLog, be64_key(12));
    CHECK(findings(f.verify()) == "truncated@12");
  }
  SECTION("an entry inserted after the last one") {
    const auto last = decode_entry(f.raw(12)).value();
    const AuditEntry forged = make_entry(13, t0() + 1h, disclosure(99), last.hash);
    f.put_raw(store::Table::kAuditLog, be64_key(13), encode_entry(forged));
    CHECK(findings(f.verify()) == "inserted@13");
  }
  SECTION("an entry replaced by a forged one that links correctly") {
    const auto e4 = decode_entry(f.raw(4)).value();
    const AuditEntry forged = make_entry(5, t0(), disclosure(55), e4.hash);
    f.put_raw(store::Table::kAuditLog, be64_key(5), encode_entry(forged));
    CHECK(findings(f.verify()) == "altered@5");  // seq 6 no longer links to it
  }
  SECTION("a checkpoint signed by a wrong key") {
    CheckpointSigner mallory = fresh_signer();
    auto forged = sign_checkpoint("mpfp", 12, decode_entry(f.raw(12)).value().hash, t0() + 1h, mallory);
    f.put_raw(store::Table::kAuditCheckpoints, be64_key(12), encode_checkpoint(forged));
    auto r = f.verify();
    CHECK(findings(r) == "wrong_key@12");
    CHECK(r.findings[0].message.find("not this node's key") != std::string::npos);
  }
  SECTION("a checkpoint's signature or content altered") {
    CheckpointHead cp;
    {
      auto txn = f.env->read();  // ended before the write below (one transaction per thread)
      cp = AuditLog::latest_checkpoint(txn.value()).value().value();
    }
    cp.time += 1s;
    f.put_raw(store::Table::kAuditCheckpoints, be64_key(10), encode_checkpoint(cp));
    CHECK(findings(f.verify()) == "bad_checkpoint@10");
  }
  SECTION("the counter deleted") {
    f.del_raw(store::Table::kMeta, std::string(kHeadMetaKey));
    CHECK(findings(f.verify()) == "counter@12");
  }
}

TEST_CASE("peer checkpoint heads: verified before they are stored", "[audit][peer]") {
  StoreFixture ours;     // mpfp
  StoreFixture theirs;   // iimp's node, with its own key
  AuditLog iimp_log(*theirs.env, "iimp");
  for (int i = 1; i <= 3; ++i) REQUIRE(iimp_log.append(disclosure(i, "mpfp"), t0()));
  auto head = theirs.env->write([&](store::WriteTxn& t) { return iimp_log.make_checkpoint_head(t, t0(), theirs.signer); });
  REQUIRE(head);
  const PublicKey iimp_key = theirs.signer.public_key();
  auto store = [&](const std::string& peer, const CheckpointHead& h, const PublicKey& key) {
    return ours.env->write([&](store::WriteTxn& t) { return AuditLog::store_peer_checkpoint(t, peer, h, key); });
  };

  auto stored = store("iimp", head.value(), iimp_key);
  REQUIRE(stored);
  CHECK(stored.value() == PeerCheckpointOutcome::kStored);
  CHECK(store("iimp", head.value(), iimp_key).value() == PeerCheckpointOutcome::kAlreadyStored);

  SECTION("refusals") {
    auto wrong_org = store("mpfp-two", head.value(), iimp_key);
    REQUIRE_FALSE(wrong_org);
    CHECK(wrong_org.error().code == Errc::kDenied);
    auto wrong_key = store("iimp", head.value(), ours.signer.public_key());
    REQUIRE_FALSE(wrong_key);
    CHECK(wrong_key.error().code == Errc::kDenied);
    CheckpointHead tampered = head.value();
    tampered.seq = 2;  // claims another state than what was signed
    auto bad_sig = store("iimp", tampered, iimp_key);
    REQUIRE_FALSE(bad_sig);
    CHECK(bad_sig.error().code == Errc::kDenied);
    CheckpointSigner mallory = fresh_signer();
    auto by_mallory = sign_checkpoint("iimp", 9, sha256("x"), t0(), mallory);
    CHECK_FALSE(store("iimp", by_mallory, iimp_key));
  }
  SECTION("a different head for a seq already held is a fork: kept, refused") {
    auto fork = sign_checkpoint("iimp", 3, sha256("rewritten"), t0() + 1s, theirs.signer);
    auto r = store("iimp", fork, iimp_key);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kConflict);
    std::vector<CheckpointHead> held;
    REQUIRE(AuditLog::for_each_peer_checkpoint(ours.env->read().value(), "iimp",
                                               [&](const std::string&, uint64_t, const Result<CheckpointHead>& cp) {
                                                 held.push_back(cp.value());
                                               }));
    REQUIRE(held.size() == 1);
    CHECK(held[0] == head.value());
  }
  SECTION("verify checks stored heads, against the peer's known key too") {
    auto r = ours.verify({{"iimp", iimp_key}});
    CHECK(r.ok());
    CHECK(r.peer_checkpoints == 1);
    auto other = fresh_signer();
    CHECK(findings(ours.verify({{"iimp", other.public_key()}})) == "peer_checkpoint@3");
    // An insider edits the stored head (to hide what the peer had acknowledged).
    CheckpointHead edited = head.value();
    edited.head = sha256("hidden");
    ours.put_raw(store::Table::kPeerCheckpoints, AuditLog::peer_checkpoint_key("iimp", 3), encode_checkpoint(edited));
    CHECK(findings(ours.verify()) == "peer_checkpoint@3");
  }
}

TEST_CASE("connection refusals become one summary entry per interval", "[audit]") {
  RefusalSummary summary(1min);
  CHECK_FALSE(summary.take_due(t0()));
  for (int i = 0; i < 500; ++i) summary.count("unknown_ca", t0() + std::chrono::milliseconds(i));
  summary.count("rate_limited", t0() + 1s);
  summary.count("Robert from 10.0.0.1", t0() + 2s);  // not a reason name: never stored as text
  CHECK_FALSE(summary.take_due(t0() + 59s));
  auto e = summary.take_due(t0() + 60s);
  REQUIRE(e);
  CHECK(e->kind == AuditKind::kConnectionRefused);
  CHECK(e->counts == std::vector<Count>{{"invalid_reason", 1}, {"rate_limited", 1}, {"total", 502}, {"unknown_ca", 500}});
  CHECK(validate(*e));
  CHECK_FALSE(summary.take_due(t0() + 2min));  // reset
  for (int i = 0; i < 40; ++i) summary.count("reason_" + std::to_string(i), t0() + 3min);
  auto flushed = summary.flush();
  REQUIRE(flushed);
  CHECK(flushed->counts.size() == RefusalSummary::kMaxReasons + 2);  // + other + total
  CHECK(validate(*flushed));
  StoreFixture f;
  CHECK(f.log->append(*flushed, t0()));
}
