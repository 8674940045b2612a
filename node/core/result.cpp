#include "node/core/result.hpp"

namespace jisr {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidInput: return "invalid_input";
    case Errc::kDenied: return "denied";
    case Errc::kNotFound: return "not_found";
    case Errc::kConflict: return "conflict";
    case Errc::kOverloaded: return "overloaded";
    case Errc::kDisconnected: return "disconnected";
    case Errc::kIo: return "io";
    case Errc::kInternal: return "internal";
  }
  return "internal";
}

std::string Error::message() const {
  if (where.empty()) return what;
  return what + " (" + where + ")";
}

}  // namespace jisr
