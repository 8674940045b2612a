// audit_bench: how fast the audit log appends and verifies, beside baselines measured in the same
// run on the same bytes: raw SHA-256 (the floor for hashing a chain) and raw LMDB appends (the
// floor for storing it). Prints figures; asserts nothing (the machine is shared and noisy).
//
//   audit_bench [ENTRIES]     default 1000000 (the verify figure the issue asks for)
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <unistd.h>
#include <filesystem>

#include "node/audit/audit_log.hpp"
#include "node/audit/verify.hpp"
#include "node/core/bytes.hpp"
#include "node/store/env.hpp"

using namespace jisr;
using namespace jisr::audit;
using BenchClock = std::chrono::steady_clock;

namespace {

AuditEvent disclosure(uint64_t i) {
  AuditEvent e;
  e.kind = AuditKind::kRecordDisclosed;
  e.peer = "iimp";
  e.record_id = "MPFP-2026-" + std::to_string(100000 + i);
  e.record_version = 1 + i % 3;
  e.batch_hash = sha256_hex("batch " + std::to_string(i / 500));
  e.agreement_id = "mpfp-iimp-2026";
  e.policy_hash = sha256_hex("policy v1");
  e.purpose = "tracing";
  e.fields = {"sex", "birth_date", "birth_place", "missing_date", "missing_place", "circumstances"};
  return e;
}

// A scratch directory removed at exit (benchmarks do not link the test support library).
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "audit-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      std::perror("audit_bench: mkdtemp");
      std::exit(1);
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;  // best effort: a leftover scratch dir must not fail the run
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path operator/(const char* name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

double seconds_since(BenchClock::time_point start) {
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

void row(const char* what, uint64_t n, double secs) {
  std::printf("  %-52s %9llu in %7.3f s  %12.0f /s\n", what, static_cast<unsigned long long>(n), secs,
              n / secs);
}

std::unique_ptr<store::Env> open_env(const std::filesystem::path& dir, bool durable) {
  store::EnvOptions options;
  options.durable = durable;
  options.initial_map_bytes = size_t{1} << 30;
  auto env = store::Env::open(dir, options);
  if (!env) {
    std::fprintf(stderr, "audit_bench: %s\n", env.error().message().c_str());
    std::exit(1);
  }
  return std::move(env).value();
}

template <class R>
void must(const R& r) {
  if (!r) {
    std::fprintf(stderr, "audit_bench: %s\n", r.error().message().c_str());
    std::exit(1);
  }
}

// Appends n entries in transactions of `batch`.
double append_entries(store::Env& env, const AuditLog& log, uint64_t n, uint64_t batch, TimePoint t) {
  const auto start = BenchClock::now();
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = std::min(batch, n - done);
    must(env.write([&](store::WriteTxn& txn) -> Result<void> {
      for (uint64_t i = 0; i < k; ++i) {
        JISR_TRY(log.append(txn, disclosure(done + i), t));
      }
      return ok();
    }));
    done += k;
  }
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  if (n == 0) {
    std::fprintf(stderr, "usage: audit_bench [ENTRIES]\n");
    return 2;
  }
  ScratchDir tmp;
  const TimePoint t = from_unix_ms(1'795'000'000'000);
  std::array<uint8_t, 32> pk{};
  std::array<uint8_t, 64> sk{};
  crypto_sign_keypair(pk.data(), sk.data());
  CheckpointSigner signer(sk);

  // The bytes the log will store, prepared once for the baselines.
  std::vector<std::string> bodies;
  bodies.reserve(n);
  uint64_t bytes_total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    bodies.push_back(encode_body(i + 1, t, disclosure(i)));
    bytes_total += bodies.back().size() + 64;
  }
  std::printf("audit_bench: %llu disclosure entries, %.1f bytes each on average\n",
              static_cast<unsigned long long>(n), double(bytes_total) / double(n));

  std::printf("baselines:\n");
  {
    auto start = BenchClock::now();
    Sha256 prev{};
    for (const auto& b : bodies) prev = entry_hash(b, prev);
    row("raw SHA-256 chain of the encoded entries", n, seconds_since(start));
  }
  {
    auto env = open_env(tmp / "raw", /*durable=*/false);
    auto start = BenchClock::now();
    for (uint64_t done = 0; done < n; done += 1000) {
      must(env->write([&](store::WriteTxn& txn) -> Result<void> {
        for (uint64_t i = done; i < std::min(n, done + 1000); ++i) {
          JISR_TRY(txn.append(store::Table::kAuditLog, be64_key(i + 1), bodies[i]));
        }
        return ok();
      }));
    }
    row("raw LMDB appends, 1000 per txn, no fsync", n, seconds_since(start));
    start = BenchClock::now();
    uint64_t seen = 0;
    auto txn = env->read();
    must(txn);
    must(txn.value().scan(store::Table::kAuditLog, {}, [&](std::string_view, std::string_view v) {
      seen += v.size() > 0;
      return true;
    }));
    row("raw LMDB scan of the same table", seen, seconds_since(start));
  }
  bodies.clear();
  bodies.shrink_to_fit();

  std::printf("audit log:\n");
  {
    auto env = open_env(tmp / "batched", /*durable=*/false);
    AuditLog log(*env, "mpfp");
    row("AuditLog::append, 1000 per txn, no fsync", n, append_entries(*env, log, n, 1000, t));
    must(env->write([&](store::WriteTxn& txn) { return log.checkpoint_now(txn, t, signer); }));
    auto start = BenchClock::now();
    auto txn = env->read();
    must(txn);
    auto report = verify_store(txn.value(), "mpfp", signer.public_key());
    must(report);
    row(report.value().ok() ? "verify_store (chain + checkpoint + counter): ok"
                            : "verify_store: FAILED (bug)",
        report.value().entries, seconds_since(start));
  }
  {
    const uint64_t k = std::min<uint64_t>(n, 20'000);
    auto env = open_env(tmp / "single", /*durable=*/false);
    AuditLog log(*env, "mpfp");
    row("AuditLog::append, 1 per txn, no fsync", k, append_entries(*env, log, k, 1, t));
  }
  {
    const uint64_t k = std::min<uint64_t>(n, 1'000);
    auto env = open_env(tmp / "durable", /*durable=*/true);
    AuditLog log(*env, "mpfp");
    row("AuditLog::append, 1 per txn, fsync (production)", k, append_entries(*env, log, k, 1, t));
    auto env2 = open_env(tmp / "durable_batched", /*durable=*/true);
    AuditLog log2(*env2, "mpfp");
    const uint64_t k2 = std::min<uint64_t>(n, 100'000);
    row("AuditLog::append, 1000 per txn, fsync (production)", k2, append_entries(*env2, log2, k2, 1000, t));
  }
  return 0;
}
