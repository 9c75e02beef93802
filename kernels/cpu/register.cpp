// Fills the CPU row of the kernel table at static-initialization time (kiln::kiln links this library
// whole, so the initializer is never dropped).
#include "kiln/kernels/cpu/cpu_kernels.h"
#include "kiln/kernels/shared/dtype_support.h"

namespace kiln::cpu {

bool is_capturing(int) { return false; }
Tensor pin_memory(const Tensor& t) { return t; }

namespace {

bool supports_optim(OptimKernel k, DType t) { return optim_supports(static_cast<int>(k), t); }

const Backend kCpuBackend = KILN_BACKEND_TABLE("cpu");

const bool registered = [] {
  register_backend(DeviceType::cpu, &kCpuBackend);
  return true;
}();

}  // namespace
}  // namespace kiln::cpu
