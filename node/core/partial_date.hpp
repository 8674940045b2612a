// PartialDate: an ISO date that may be known only to the year or the month
// (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`), as families and sources report them.
// Thread-safety: value type.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace jisr {

struct PartialDate {
  int year = 0;   // 1..9999
  int month = 0;  // 0 when unknown, else 1..12
  int day = 0;    // 0 when unknown, else 1..31 (checked against the month)

  // Parses exactly YYYY, YYYY-MM or YYYY-MM-DD (ASCII digits); nullopt when invalid,
  // including impossible days such as 2023-02-29.
  static std::optional<PartialDate> parse(std::string_view text);

  std::string to_string() const;
  // The earliest and latest days this date can stand for, as YYYYMMDD integers, for
  // comparisons between dates of different precision.
  int earliest() const;
  int latest() const;

  auto operator<=>(const PartialDate&) const = default;
};

// Days in a month of a year (Gregorian).
int days_in_month(int year, int month);

}  // namespace jisr
