// tests/support/helpers.h: small helpers shared by the test programs (error messages, thread counts,
// element values).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <kiln/kiln.h>

namespace kiln::testing {

// The message of the kiln::Error that f throws (a test failure if it throws nothing or something else).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected kiln::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected kiln::Error, nothing was thrown";
  return "";
}

// The elements of t, row-major, as doubles.
inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Restores the thread count a test changed.
struct ThreadCountRestorer {
  int saved = kiln::get_num_threads();
  ~ThreadCountRestorer() { kiln::set_num_threads(saved); }
};

}  // namespace kiln::testing

#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "expected to find \"" << (needle) << "\" in:\n  " << std::string(haystack)
