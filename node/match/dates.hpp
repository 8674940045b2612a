// Dates as linkage evidence: a full date, a year-month or a year only, or an age at an event
// (an estimated birth year with tolerance). Sources disagree on dates (estimates, the year off
// by one, 1 January as a placeholder, day and month swapped), so a date becomes a range of
// candidate years plus the month and day when they are trustworthy.
// Thread-safety: pure functions over values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace jisr::match {

struct YearRange {
  int lo = 0;
  int hi = 0;
  bool operator==(const YearRange&) const = default;
  // Years between the closest ends of the two ranges (0 when they overlap).
  int distance(const YearRange& other) const;
};

struct DateValue {
  YearRange years;
  int month = 0;  // 0 when unknown or a placeholder
  int day = 0;    // 0 when unknown or a placeholder
  bool operator==(const DateValue&) const = default;
};

// Parses YYYY, YYYY-MM or YYYY-MM-DD (what RecordSchema::canonical_value stores). The
// placeholder 1 January (YYYY-01-01) keeps only the year. nullopt when invalid.
std::optional<DateValue> parse_date_value(std::string_view iso);

// The birth years of someone `age` years old at the event date `event_iso` (which may be
// partial): between event_year - age - 1 and event_year - age, widened by `tolerance` years on
// each side for estimated ages. nullopt when the date is invalid or the age is outside 0..130.
std::optional<DateValue> birth_from_age(std::string_view event_iso, int age, int tolerance);

// Month and day agree, also when one source swapped them (03-11 vs 11-03). False when either
// side lacks them.
bool same_month_day(const DateValue& a, const DateValue& b);

}  // namespace jisr::match
