// The CPU thread count: OpenMP's team size and Eigen's GEMM threads move together.
#include "kiln/tensor/threads.h"

#include <omp.h>

#include <Eigen/Core>

#include "kiln/tensor/error.h"

namespace kiln {

void set_num_threads(int n) {
  KILN_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  omp_set_num_threads(n);
  Eigen::setNbThreads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace kiln
