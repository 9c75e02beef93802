// kiln::cuda's API in a build without KILN_CUDA: no device, nothing allocated, and the calls that need a
// device say how to get one.
#include "kiln/kernels/cuda/cuda.h"
#include "kiln/tensor/error.h"

namespace kiln::cuda {

bool is_available() { return false; }
int device_count() { return 0; }
void synchronize(int index) {
  KILN_CHECK(false, "cuda::synchronize: kiln was built without CUDA (configure with -DKILN_CUDA=ON)");
}
namespace {
bool g_allow_tf32 = false;
}
void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }
bool allow_tf32() { return g_allow_tf32; }
void set_vectorized_elementwise(bool) {}
bool vectorized_elementwise() { return false; }
int64_t memory_allocated() { return 0; }
int64_t max_memory_allocated() { return 0; }
int64_t memory_cached() { return 0; }
void empty_cache() {}
Tensor pin_memory(const Tensor& t) {
  KILN_CHECK(false, "pin_memory: kiln was built without CUDA (configure with -DKILN_CUDA=ON)");
  return t;
}
bool is_pinned(const Tensor&) { return false; }

}  // namespace kiln::cuda
