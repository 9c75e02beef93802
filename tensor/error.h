// kiln/tensor/error.h: kiln::Error and the checking macros used across the library.
// KILN_CHECK(cond, parts...) throws kiln::Error for bad user input; the message streams every part, so
// pass the op name, shapes, dtypes and devices, and a hint where the fix is known. KILN_ASSERT guards
// internal invariants (a failure is a kiln bug). Neither ever exits or aborts.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Parts>
std::string cat_message(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);
[[noreturn]] void throw_internal(const char* file, int line, const char* cond, const std::string& msg);
}  // namespace detail

}  // namespace kiln

#define KILN_CHECK(cond, ...)                                                                    \
  do {                                                                                           \
    if (!(cond)) [[unlikely]]                                                                    \
      ::kiln::detail::throw_error(__FILE__, __LINE__, ::kiln::detail::cat_message(__VA_ARGS__)); \
  } while (0)

#define KILN_ASSERT(cond, ...)                                                                    \
  do {                                                                                            \
    if (!(cond)) [[unlikely]]                                                                     \
      ::kiln::detail::throw_internal(__FILE__, __LINE__, #cond,                                   \
                                     ::kiln::detail::cat_message("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)
