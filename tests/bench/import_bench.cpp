// import_bench: rows/s of `jisr import`'s code path (CSV parse -> mapping -> schema checks ->
// RecordStore with versions and change sequence) beside a raw LMDB put loop of the same
// records in the same run, and peak RSS. A program, not a test: it asserts nothing.
//   import_bench [ROWS]   (default 200000)
#include <fmt/format.h>
#include <lmdb.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "adapters/csv_import.hpp"
#include "tests/bench/bench_data.hpp"
#include "node/core/record.hpp"
#include "node/store/env.hpp"
#include "node/store/record_store.hpp"

using namespace jisr;
using Clock = std::chrono::steady_clock;

namespace {

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t rows = argc > 1 ? std::stoul(argv[1]) : 200000;
  const auto tmp = std::filesystem::temp_directory_path() / fmt::format("jisr-import-bench-{}", ::getpid());
  std::filesystem::create_directories(tmp);
  const auto csv = jisr::bench::generate_reports_csv(rows, tmp / "rows.csv");
  const auto csv_bytes = std::filesystem::file_size(csv);

  const char* mapping_yaml =
      "id: report_id\nfields:\n  given_name: given_name\n  father_name: father_name\n"
      "  grandfather_name: grandfather_name\n  family_name: family_name\n  mother_name: mother_name\n"
      "  sex: { column: sex, values: { 'ذكر': male, 'أنثى': female } }\n  birth_date: birth_date\n"
      "  birth_place: birth_place\n  missing_date: missing_date\n  missing_place: missing_place\n"
      "  circumstances: circumstances\n  reporter_phone: reporter_phone\n"
      "  consent_share_iimp: consent_share_iimp\n";
  auto src = YamlSource::from_string(mapping_yaml, "bench-mapping");
  const auto& schema = RecordSchema::missing_person();
  auto mapping = adapters::ColumnMapping::load(src, schema).value();

  // 1. The real import path.
  std::vector<std::pair<std::string, std::string>> records;  // for the raw loop: same content
  double import_secs = 0;
  {
    auto env = store::Env::open(tmp / "import").value();
    store::RecordStore store(*env);
    FILE* f = std::fopen(csv.c_str(), "rb");
    adapters::CsvReader reader([f](char* buf, size_t max) -> Result<size_t> {
      return std::fread(buf, 1, max, f);
    });
    const auto t0 = Clock::now();
    auto counts = adapters::import_csv(reader, mapping, schema, store, {});
    import_secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::fclose(f);
    if (!counts || counts.value().imported != rows) {
      std::fprintf(stderr, "import failed\n");
      return 1;
    }
    auto txn = env->read().value();
    records.reserve(rows);
    (void)store.for_each(txn, [&](const Record& r) {
      records.emplace_back(r.id.str(), encode_fields(r.fields));
      return true;
    });
  }
  const long rss_after_import = peak_rss_kib();

  // 2. Baseline: raw LMDB puts of the same keys and encoded values, same batch size, same sync.
  double raw_secs = 0;
  {
    const auto dir = tmp / "raw";
    std::filesystem::create_directories(dir);
    MDB_env* env = nullptr;
    mdb_env_create(&env);
    mdb_env_set_mapsize(env, size_t{4} << 30);
    mdb_env_set_maxdbs(env, 4);
    mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600);
    MDB_dbi dbi;
    MDB_txn* txn;
    mdb_txn_begin(env, nullptr, 0, &txn);
    mdb_dbi_open(txn, "records", MDB_CREATE, &dbi);
    mdb_txn_commit(txn);
    const auto t0 = Clock::now();
    for (size_t i = 0; i < records.size();) {
      mdb_txn_begin(env, nullptr, 0, &txn);
      for (size_t n = 0; n < 5000 && i < records.size(); ++n, ++i) {
        MDB_val k{records[i].first.size(), records[i].first.data()};
        MDB_val v{records[i].second.size(), records[i].second.data()};
        mdb_put(txn, dbi, &k, &v, 0);
      }
      mdb_txn_commit(txn);
    }
    raw_secs = std::chrono::duration<double>(Clock::now() - t0).count();
    mdb_env_close(env);
  }

  const double import_rate = static_cast<double>(rows) / import_secs;
  const double raw_rate = static_cast<double>(rows) / raw_secs;
  std::printf("import_bench: %zu rows, %.1f MiB of CSV\n", rows, static_cast<double>(csv_bytes) / (1 << 20));
  std::printf("  jisr import path   %10.0f rows/s  (%.2f s)\n", import_rate, import_secs);
  std::printf("  raw LMDB put loop  %10.0f rows/s  (%.2f s)  [baseline, same records, same batches]\n",
              raw_rate, raw_secs);
  std::printf("  import / raw       %10.1f %%\n", 100.0 * import_rate / raw_rate);
  std::printf("  peak RSS           %10.1f MiB (after import: %.1f MiB)\n", peak_rss_kib() / 1024.0,
              rss_after_import / 1024.0);
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  return 0;
}
