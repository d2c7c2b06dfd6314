// Errors and invariant checks shared by every bestserve library.
//
// Two kinds of failure, kept apart on purpose (open_spiel SPIEL_CHECK vs user errors):
//  * bestserve::Error: the user's input is wrong (config, CLI value, CSV row, missing profile).
//    The message says what, where (file, key path or line:column) and what was expected. The
//    command-line app prints it and exits non-zero. ConfigError is the subclass for bad configs
//    and input files (exit code 3); plain Error is a runtime failure (exit code 1).
//  * BS_CHECK: an internal invariant broke (a bug in bestserve). Always on, also in Release,
//    because a simulator that silently loses a request is worse than one that stops.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace bestserve {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad configuration or input data. The message names file, location and expectation.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// An internal invariant failed: a bestserve bug, never the user's fault.
class InvariantError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// The one helper through which user-facing errors are raised (fmt's report_error pattern).
template <typename... Args>
[[noreturn]] void ThrowConfigError(fmt::format_string<Args...> format, Args&&... args) {
  throw ConfigError(fmt::format(format, std::forward<Args>(args)...));
}

[[noreturn]] void FailInvariant(const char* file, int line, const char* condition,
                                const std::string& detail);

}  // namespace bestserve

#define BS_CHECK(condition)                                                   \
  do {                                                                        \
    if (!(condition)) ::bestserve::FailInvariant(__FILE__, __LINE__, #condition, ""); \
  } while (false)

#define BS_CHECK_MSG(condition, ...)                                          \
  do {                                                                        \
    if (!(condition))                                                         \
      ::bestserve::FailInvariant(__FILE__, __LINE__, #condition, fmt::format(__VA_ARGS__)); \
  } while (false)

#ifdef NDEBUG
#define BS_DCHECK(condition) \
  do {                       \
  } while (false)
#else
#define BS_DCHECK(condition) BS_CHECK(condition)
#endif
