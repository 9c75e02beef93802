// The CPU thread count: the OpenMP team size every CPU kernel (GEMM included) uses.
#include "kiln/tensor/threads.h"

#include <omp.h>

#include "kiln/tensor/error.h"

namespace kiln {

void set_num_threads(int n) {
  KILN_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace kiln
