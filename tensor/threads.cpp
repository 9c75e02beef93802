// The CPU thread count: the OpenMP team size every CPU kernel (GEMM included) uses, and the start-up
// reading of KILN_NUM_THREADS.
#include "kiln/tensor/threads.h"

#include <omp.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "kiln/tensor/error.h"

namespace kiln {

void set_num_threads(int n) {
  KILN_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

namespace {

// The value of KILN_NUM_THREADS, or 0 where it is unset or not a whole number >= 1 (then reported).
int thread_count_from_environment() {
  const char* text = std::getenv("KILN_NUM_THREADS");
  if (text == nullptr || *text == '\0') return 0;
  errno = 0;
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < 1 || value > std::numeric_limits<int>::max()) {
    std::fprintf(stderr, "kiln: ignoring KILN_NUM_THREADS=\"%s\": need a whole number >= 1\n", text);
    return 0;
  }
  return static_cast<int>(value);
}

int apply_thread_count_from_environment() {
  int n = thread_count_from_environment();
  if (n > 0) omp_set_num_threads(n);
  return n;
}

}  // namespace

}  // namespace kiln

// Runs before main() on the main thread. The kiln_tensor target links with `-u` of this symbol
// (tensor/CMakeLists.txt), so the linker takes this file out of the static library into every program,
// even one that never names set_num_threads.
extern "C" const int kiln_num_threads_from_environment = kiln::apply_thread_count_from_environment();
