// Shared by the audit tests: a store in a temporary directory, sample events (ids and field
// names only, like the real callers), fresh Ed25519 signers, and a one-line rendering of a
// verify report's findings for assertions. Thread-safety: single-threaded tests.
#pragma once

#include <sodium.h>

#include <memory>
#include <string>

#include "node/audit/audit_log.hpp"
#include "node/audit/verify.hpp"
#include "node/core/bytes.hpp"
#include "node/store/env.hpp"
#include "tests/test_support.hpp"

namespace jisr::audit::testing {

inline TimePoint t0() { return from_unix_ms(1'795'000'000'000); }  // 2026-11-18

inline CheckpointSigner fresh_signer() {
  if (sodium_init() < 0) throw std::runtime_error("sodium_init");
  std::array<uint8_t, 32> pk{};
  std::array<uint8_t, 64> sk{};
  crypto_sign_keypair(pk.data(), sk.data());
  return CheckpointSigner(sk);
}

inline AuditEvent disclosure(int i, std::string peer = "iimp") {
  AuditEvent e;
  e.kind = AuditKind::kRecordDisclosed;
  e.actor = {ActorKind::kNode, ""};
  e.peer = std::move(peer);
  e.record_id = "R-" + std::to_string(i);
  e.record_version = 1 + static_cast<uint64_t>(i % 3);
  e.batch_hash = sha256_hex("batch " + std::to_string(i / 10));
  e.agreement_id = "mpfp-iimp-2026";
  e.policy_hash = sha256_hex("policy v1");
  e.purpose = "tracing";
  e.fields = {"sex", "birth_date", "missing_date", "missing_place"};
  return e;
}

// What a sync commit logs for a batch: one entry naming several record versions.
inline AuditEvent batch_disclosure(std::vector<RecordRef> records, std::string peer = "iimp") {
  AuditEvent e = disclosure(0, std::move(peer));
  e.kind = AuditKind::kBatchDisclosed;
  e.record_id.clear();
  e.record_version = 0;
  e.records = std::move(records);
  return e;
}

inline AuditEvent import_event(uint64_t n) {
  AuditEvent e;
  e.kind = AuditKind::kRecordImported;
  e.actor = {ActorKind::kLocalAdmin, "admin"};
  e.counts = {{"updated", 0}, {"inserted", n}};  // unsorted on purpose: append sorts
  e.detail = "import cases.csv";
  return e;
}

struct StoreFixture {
  jisr::testing::TempDir tmp;
  std::unique_ptr<store::Env> env;
  CheckpointSigner signer = fresh_signer();
  std::unique_ptr<AuditLog> log;

  explicit StoreFixture(AuditOptions options = {}) {
    auto opened = store::Env::open(tmp / "data");
    if (!opened) throw std::runtime_error(opened.error().message());
    env = std::move(opened).value();
    log = std::make_unique<AuditLog>(*env, "mpfp", options);
  }

  // Appends n disclosures at t0 + i seconds.
  void append(int n, int first = 1) {
    for (int i = first; i < first + n; ++i) {
      auto r = log->append(disclosure(i), t0() + std::chrono::seconds(i));
      if (!r) throw std::runtime_error(r.error().message());
    }
  }
  void checkpoint(TimePoint at) {
    auto r = env->write([&](store::WriteTxn& t) { return log->checkpoint_now(t, at, signer); });
    if (!r) throw std::runtime_error(r.error().message());
  }
  VerifyReport verify(const std::map<std::string, PublicKey>& peers = {}) {
    auto txn = env->read();
    if (!txn) throw std::runtime_error(txn.error().message());
    auto r = verify_store(txn.value(), "mpfp", signer.public_key(), peers);
    if (!r) throw std::runtime_error(r.error().message());
    return r.value();
  }
  // Raw access, as an insider with LMDB write access has.
  std::string raw(uint64_t seq) {
    auto txn = env->read();
    return std::string(*txn.value().get(store::Table::kAuditLog, be64_key(seq)));
  }
  void put_raw(store::Table table, const std::string& key, const std::string& value) {
    auto r = env->write([&](store::WriteTxn& t) { return t.put(table, key, value); });
    if (!r) throw std::runtime_error(r.error().message());
  }
  void del_raw(store::Table table, const std::string& key) {
    auto r = env->write([&](store::WriteTxn& t) -> Result<void> {
      JISR_TRY(t.del(table, key));
      return ok();
    });
    if (!r) throw std::runtime_error(r.error().message());
  }
};

// "altered@5 removed@7" : the findings as one comparable string.
inline std::string findings(const VerifyReport& r) {
  std::string out;
  for (const auto& f : r.findings) {
    if (!out.empty()) out += ' ';
    out += std::string(finding_kind_name(f.kind)) + "@" + std::to_string(f.seq);
  }
  return out;
}

}  // namespace jisr::audit::testing
