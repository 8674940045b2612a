#include "node/core/ids.hpp"

#include <algorithm>

namespace jisr {
namespace {
bool all_of_lower_digit_dash(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}
}  // namespace

bool is_valid_org_id(std::string_view s) {
  return s.size() >= 2 && s.size() <= 32 && all_of_lower_digit_dash(s);
}

bool is_valid_agreement_id(std::string_view s) {
  return !s.empty() && s.size() <= 64 && all_of_lower_digit_dash(s);
}

bool is_valid_record_id(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != ',' && c != '"' && c != '\'' && c != '/' && c != '\\';
  });
}

}  // namespace jisr
