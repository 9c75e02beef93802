// kiln/tensor/threads.h: the CPU thread count used by kernels (OpenMP; kiln splits GEMM over threads itself).
#pragma once

namespace kiln {

// Sets the number of CPU threads kernels launched from the calling thread use (>= 1). Results never
// depend on it.
//
// At start-up kiln reads the environment variable KILN_NUM_THREADS once, as OpenMP reads OMP_NUM_THREADS,
// and applies it to the program's main thread: it overrides OMP_NUM_THREADS for kiln, and a later
// set_num_threads() overrides it. A value that is not a whole number >= 1 is reported on stderr and
// ignored (a library cannot throw before main()).
void set_num_threads(int n);
int get_num_threads();

}  // namespace kiln
