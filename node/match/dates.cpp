#include "node/match/dates.hpp"

#include <algorithm>

#include "node/core/partial_date.hpp"

namespace jisr::match {

int YearRange::distance(const YearRange& other) const {
  if (hi < other.lo) return other.lo - hi;
  if (other.hi < lo) return lo - other.hi;
  return 0;
}

std::optional<DateValue> parse_date_value(std::string_view iso) {
  auto d = PartialDate::parse(iso);
  if (!d) return std::nullopt;
  DateValue v;
  v.years = {d->year, d->year};
  // 1 January is what registries write when only the year is known.
  if (!(d->month == 1 && d->day == 1)) {
    v.month = d->month;
    v.day = d->day;
  }
  return v;
}

std::optional<DateValue> birth_from_age(std::string_view event_iso, int age, int tolerance) {
  auto d = PartialDate::parse(event_iso);
  if (!d || age < 0 || age > 130 || tolerance < 0 || tolerance > 20) return std::nullopt;
  DateValue v;
  v.years = {d->year - age - 1 - tolerance, d->year - age + tolerance};
  return v;
}

bool same_month_day(const DateValue& a, const DateValue& b) {
  if (a.month == 0 || b.month == 0 || a.day == 0 || b.day == 0) return false;
  if (a.month == b.month && a.day == b.day) return true;
  return a.month == b.day && a.day == b.month;
}

}  // namespace jisr::match
