#include "node/core/partial_date.hpp"

#include <fmt/format.h>

namespace jisr {
namespace {
bool parse_digits(std::string_view s, int& out) {
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return !s.empty();
}
}  // namespace

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

std::optional<PartialDate> PartialDate::parse(std::string_view text) {
  PartialDate d;
  if (text.size() != 4 && text.size() != 7 && text.size() != 10) return std::nullopt;
  if (!parse_digits(text.substr(0, 4), d.year) || d.year < 1) return std::nullopt;
  if (text.size() >= 7) {
    if (text[4] != '-' || !parse_digits(text.substr(5, 2), d.month)) return std::nullopt;
    if (d.month < 1 || d.month > 12) return std::nullopt;
  }
  if (text.size() == 10) {
    if (text[7] != '-' || !parse_digits(text.substr(8, 2), d.day)) return std::nullopt;
    if (d.day < 1 || d.day > days_in_month(d.year, d.month)) return std::nullopt;
  }
  return d;
}

std::string PartialDate::to_string() const {
  if (month == 0) return fmt::format("{:04}", year);
  if (day == 0) return fmt::format("{:04}-{:02}", year, month);
  return fmt::format("{:04}-{:02}-{:02}", year, month, day);
}

int PartialDate::earliest() const {
  return year * 10000 + (month == 0 ? 1 : month) * 100 + (day == 0 ? 1 : day);
}

int PartialDate::latest() const {
  const int m = month == 0 ? 12 : month;
  const int dd = day == 0 ? days_in_month(year, m) : day;
  return year * 10000 + m * 100 + dd;
}

}  // namespace jisr
