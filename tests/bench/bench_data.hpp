// Synthetic platform reports for benchmarks: deterministic (seeded), Arabic names, the
// columns of the platform export (deploy/demo/platform-reports.mapping.yaml maps them).
// Header-only so each benchmark program stays one file. Thread-safety: pure functions.
#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace jisr::bench {

inline std::string generate_reports_csv(size_t rows, const std::filesystem::path& path) {
  static const char* kGiven[] = {"أحمد", "محمد", "خالد", "مريم", "فاطمة", "عبد الرحمن", "حسن", "حسين", "شيركو", "ليلى"};
  static const char* kFamily[] = {"العلي", "الحسن", "الخطيب", "حسو", "الموسى", "الشيخ", "الحمد", "حداد"};
  static const char* kPlace[] = {"حلب", "حمص", "دمشق", "إدلب", "الرقة", "القامشلي", "منبج", "دير الزور"};
  std::mt19937 rng(42);
  std::ofstream out(path);
  out << "report_id,given_name,father_name,grandfather_name,family_name,mother_name,sex,birth_date,"
         "age_at_disappearance,birth_place,missing_date,missing_place,national_id,circumstances,"
         "reporter_phone,consent_share_iimp\n";
  auto pick = [&](auto& arr) { return arr[rng() % std::size(arr)]; };
  for (size_t i = 0; i < rows; ++i) {
    out << fmt::format("R{:08},{},{},{},{},{} {},{},{}-{:02}-{:02},,{},{}-{:02},{},,\"فقد الاتصال به، بعد خروجه\",09{:08},{}\n",
                       i, pick(kGiven), pick(kGiven), pick(kGiven), pick(kFamily), pick(kGiven),
                       pick(kFamily), rng() % 2 ? "ذكر" : "أنثى", 1950 + rng() % 60, 1 + rng() % 12,
                       1 + rng() % 28, pick(kPlace), 2011 + rng() % 12, 1 + rng() % 12,
                       pick(kPlace), rng() % 100000000, rng() % 3 ? "yes" : "no");
  }
  return path.string();
}

}  // namespace jisr::bench
