// Two assertion macros (STYLE.md 12). Both throw; they mark bugs, not expected failures.
//   JISR_REQUIRE(cond, ctx...): the caller or the input is wrong (a precondition).
//   JISR_ASSERT(cond, ctx...):  we have a bug (an invariant).
// The context values are formatted into the message. Thread-safety: stateless.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace jisr::detail {

template <class... Ctx>
[[noreturn]] void assertion_failed(const char* kind, const char* cond, const char* file, int line,
                                   const Ctx&... ctx) {
  std::ostringstream out;
  out << kind << " failed: " << cond << " at " << file << ":" << line;
  ((out << " [" << ctx << "]"), ...);
  throw std::logic_error(out.str());
}

}  // namespace jisr::detail

#define JISR_REQUIRE(cond, ...) \
  ((cond) ? (void)0             \
          : ::jisr::detail::assertion_failed("requirement", #cond, __FILE__, __LINE__ __VA_OPT__(, ) __VA_ARGS__))
#define JISR_ASSERT(cond, ...) \
  ((cond) ? (void)0            \
          : ::jisr::detail::assertion_failed("assertion", #cond, __FILE__, __LINE__ __VA_OPT__(, ) __VA_ARGS__))
