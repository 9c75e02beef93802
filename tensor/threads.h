// kiln/tensor/threads.h: the CPU thread count used by kernels (OpenMP; kiln splits GEMM over threads itself).
#pragma once

namespace kiln {

// Sets the number of CPU threads kernels use (>= 1). Results never depend on it.
void set_num_threads(int n);
int get_num_threads();

}  // namespace kiln
