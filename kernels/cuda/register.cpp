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
    case 'p':
      return optim_supports(code, t);
    case 'c':  // conv2d (cuDNN or the im2col fallback) and max pooling: the fallback and pooling kernels
               // dispatch f32/f64 only, so f16/bf16 are not claimed yet (cuDNN itself would take them)
      return t == DType::f32 || t == DType::f64;
    case 'r': {
      auto k = static_cast<RandomKernel>(code);
      if (k == RandomKernel::randint) return t != DType::boolean && !reduced;
      return floating;
    }
    default:  // 'd' reductions, and copy, fill, where, index kernels: every dtype
      return true;
  }
}

// A draw's Philox offset is taken from the host generator when the op runs, so a captured draw would
// repeat the same numbers on every replay: refused while capturing.
void random_outside_capture(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a,
                            double b) {
  check_not_capturing(device_of(out, "random"),
                      "a random draw (dropout, rand, randn, ...: its Philox offset is fixed on the host, so "
                      "every replay would repeat the same numbers)");
  random(k, out, seed, offset, a, b);
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
    .random = random_outside_capture,
    .conv2d = conv2d,
    .conv2d_backward_data = conv2d_backward_data,
    .conv2d_backward_filter = conv2d_backward_filter,
    .max_pool2d = max_pool2d,
    .max_pool2d_backward = max_pool2d_backward,
    .is_capturing = stream_capturing,
    .pin_memory = kiln::cuda::pin_memory,
    .optim_step = optim_step,
    .unscale_check = unscale_check,
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
