// Result<T>: the value-or-error return type for every expected failure in Jisr.
//
// An expected failure (bad input, policy deny, not found, full store, peer gone) is a value of
// type Error carried in Result<T>; exceptions are reserved for bugs and environment faults and
// are caught only at session, dispatcher and main boundaries (STYLE.md 10-11).
//
// Result is Boost.Outcome's result with our Error type: it carries a kind the caller can act
// on, a one-line message and where it happened, which is what the CLI prints as
// `jisr: error: <what> (<where>)`. (std::error_code alone cannot carry the message and place.)
//
// Thread-safety: value types; no shared state.
#pragma once

#include <boost/outcome/result.hpp>
#include <boost/outcome/try.hpp>
#include <string>
#include <string_view>

namespace jisr {

// What the caller should do about an error.
enum class Errc {
  kInvalidInput = 1,  // the caller or the input is wrong; retrying the same thing will fail
  kDenied,            // policy or authentication said no
  kNotFound,          // the thing asked for does not exist
  kConflict,          // the state does not allow this now (e.g. home already exists)
  kOverloaded,        // retry later (quota, backpressure)
  kDisconnected,      // the peer or the node is not reachable; reconnect
  kIo,                // the file system or the OS failed
  kInternal,          // a bug or an inconsistent store
};

std::string_view errc_name(Errc code);

struct Error {
  Errc code = Errc::kInternal;
  std::string what;   // one line, no personal data
  std::string where;  // file, file:line:col, peer, table... may be empty

  // "what (where)" or "what" when where is empty.
  std::string message() const;
};

template <class T>
using Result = boost::outcome_v2::result<T, Error, boost::outcome_v2::policy::terminate>;

inline Error make_error(Errc code, std::string what, std::string where = {}) {
  return Error{code, std::move(what), std::move(where)};
}

inline auto ok() { return boost::outcome_v2::success(); }

}  // namespace jisr

// JISR_TRY(auto x, expr) / JISR_TRY(expr): return the error of expr from the enclosing function.
// It expands to several statements: always brace the body of an if that uses it.
#define JISR_TRY BOOST_OUTCOME_TRY
// The same inside a coroutine (co_return instead of return).
#define JISR_CO_TRY BOOST_OUTCOME_CO_TRY
