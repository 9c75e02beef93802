// KILN_NUM_THREADS is read once at start-up by the library itself, so each case runs in a fresh process
// of this program (tests/support/child_process.h) with the environment it names.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "kiln/kiln.h"
#include "support/child_process.h"

namespace {

// The child's exit code is the thread count kiln starts with.
const bool registered = kiln::test::register_child_role(
    "report-threads", [](const std::vector<std::string>&) { return kiln::get_num_threads(); });

// Runs the role with KILN_NUM_THREADS and OMP_NUM_THREADS set as given (unset where nullopt).
int threads_at_startup(std::optional<std::string> kiln_threads, std::optional<std::string> omp_threads) {
  auto put = [](const char* name, const std::optional<std::string>& value) {
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  };
  std::optional<std::string> saved_kiln, saved_omp;
  if (const char* v = std::getenv("KILN_NUM_THREADS")) saved_kiln = v;
  if (const char* v = std::getenv("OMP_NUM_THREADS")) saved_omp = v;
  put("KILN_NUM_THREADS", kiln_threads);
  put("OMP_NUM_THREADS", omp_threads);
  int code = kiln::test::run_child("report-threads", {});
  put("KILN_NUM_THREADS", saved_kiln);
  put("OMP_NUM_THREADS", saved_omp);
  return code;
}

TEST(ThreadsEnvironment, KilnNumThreadsSetsTheCount) {
  ASSERT_TRUE(registered);
  EXPECT_EQ(threads_at_startup("3", std::nullopt), 3);
  EXPECT_EQ(threads_at_startup("7", std::nullopt), 7);
}

TEST(ThreadsEnvironment, KilnNumThreadsOverridesOmpNumThreads) {
  EXPECT_EQ(threads_at_startup("3", "2"), 3);
  EXPECT_EQ(threads_at_startup(std::nullopt, "2"), 2);
}

TEST(ThreadsEnvironment, InvalidValuesAreIgnored) {
  for (const char* bad : {"0", "-4", "abc", "3x", "99999999999999999999"})
    EXPECT_EQ(threads_at_startup(bad, "2"), 2) << "KILN_NUM_THREADS=" << bad;
}

TEST(ThreadsEnvironment, SetNumThreadsOverridesTheEnvironment) {
  kiln::set_num_threads(2);
  EXPECT_EQ(kiln::get_num_threads(), 2);
  EXPECT_THROW(kiln::set_num_threads(0), kiln::Error);
}

}  // namespace
