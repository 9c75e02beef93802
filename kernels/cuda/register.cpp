// Fills the CUDA row of the kernel table and registers the caching allocator at static-initialization
// time (kiln::kiln links this library whole). The table is registered only when a device is present, so
// has_backend(DeviceType::cuda) answers "can I run on CUDA"; the allocator always is, so a CUDA tensor
// on a machine without a device fails with an error that says why.
#include "kiln/kernels/cuda/cuda.h"
#include "kiln/kernels/cuda/cuda_kernels.h"
#include "kiln/tensor/storage.h"

namespace kiln::cuda {
namespace {

bool supports(char family, int code, DType t) {
  // f16/bf16 compute in f32 inside the kernels: whatever f32 supports, except integer draws.
  const bool reduced = is_reduced_float(t);
  const bool floating = t == DType::f32 || t == DType::f64 || reduced;
  switch (family) {
    case 'u':
      return unary_supports(static_cast<UnaryKernel>(code), t);
    case 'b':
      return binary_supports(static_cast<BinaryKernel>(code), t);
    case 'g':
      return floating;
    case 'c':
      return false;  // conv2d and pooling: not on CUDA yet (cuDNN is the next slice)
    case 'r': {
      auto k = static_cast<RandomKernel>(code);
      if (k == RandomKernel::randint) return t != DType::boolean && !reduced;
      return floating;
    }
    default:  // 'd' reductions, and copy, fill, where, index kernels: every dtype
      return true;
  }
}

[[noreturn]] void missing_conv(const char* op) {
  ::kiln::detail::throw_error(__FILE__, __LINE__,
                              ::kiln::detail::cat_message(op,
                                                          ": not implemented on CUDA yet (move the tensors "
                                                          "to the CPU)"));
}

const Backend kCudaBackend = {
    .name = "cuda",
    .unary = unary,
    .binary = binary,
    .where = where,
    .reduce = reduce,
    .gemm = gemm,
    .copy = copy,
    .fill = fill,
    .index_select = index_select,
    .gather = gather,
    .scatter_add = scatter_add,
    .random = random,
    // supports('c', ...) is false, so the ops never get here; these only make a stray call say so.
    .conv2d = [](const Conv2dArgs&, const Tensor&, const Tensor&, const Tensor&,
                 const Tensor&) { missing_conv("conv2d"); },
    .conv2d_backward_data = [](const Conv2dArgs&, const Tensor&, const Tensor&,
                               const Tensor&) { missing_conv("conv2d_backward_data"); },
    .conv2d_backward_filter = [](const Conv2dArgs&, const Tensor&, const Tensor&,
                                 const Tensor&) { missing_conv("conv2d_backward_filter"); },
    .max_pool2d = [](const Pool2dArgs&, const Tensor&, const Tensor&,
                     const Tensor&) { missing_conv("max_pool2d"); },
    .max_pool2d_backward = [](const Pool2dArgs&, const Tensor&, const Tensor&,
                              const Tensor&) { missing_conv("max_pool2d_backward"); },
    .supports = supports,
};

const bool registered = [] {
  register_allocator(DeviceType::cuda, Allocator{.allocate = allocate,
                                                 .deallocate = deallocate,
                                                 .cached_bytes = memory_cached,
                                                 .empty_cache = kiln::cuda::empty_cache});
  if (device_count() > 0) register_backend(DeviceType::cuda, &kCudaBackend);
  return true;
}();

}  // namespace
}  // namespace kiln::cuda
