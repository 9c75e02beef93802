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
    case 'n':  // batch norm (batch_norm.cu): f32/f64 (f16/bf16 take the op's composite path)
      return t == DType::f32 || t == DType::f64;
    case 'f':  // fused softmax, cross-entropy, bias + activation (fused.cu dispatches f32/f64; f16/bf16
               // take the ops' composite path)
      return t == DType::f32 || t == DType::f64;
    case 'p':
      return optim_supports(code, t);
    case 'c':  // conv2d (cuDNN or the im2col fallback) and max pooling: f16/bf16 compute in float
      return t == DType::f32 || t == DType::f64 || reduced;
    case 'r': {
      auto k = static_cast<RandomKernel>(code);
      if (k == RandomKernel::randint) return t != DType::boolean && !reduced;
      return floating;
    }
    default:  // 'd' reductions, and copy, fill, where, index kernels: every dtype
      return true;
  }
}

// While a Graph captures, a draw's Philox seed and base counter come from the Graph's device state, which
// each replay rewrites from the host generator (graph.cpp): replays draw new numbers, the ones eager steps
// would have drawn. The draw's offset is taken relative to the generator's offset when capture began.
void random_entry(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b) {
  const int dev = device_of(out, "random");
  if (!stream_capturing(dev)) return random(k, out, seed, offset, a, b);
  const CaptureRandom r = capture_random(dev);
  KILN_CHECK(r.state != nullptr,
             "a random draw (dropout, rand, randn, ...) during a CUDA Graph capture on cuda:", dev,
             " that kiln::cuda::Graph did not begin: its replays could not draw new numbers");
  KILN_CHECK(seed == r.seed && offset >= r.start_offset,
             "a random draw during CUDA Graph capture on cuda:", dev,
             " after the generator was reseeded (manual_seed) since capture began; seed before capture()");
  random(k, out, seed, offset - r.start_offset, a, b, r.state);
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
    .random = random_entry,
    .conv2d = conv2d,
    .conv2d_backward_data = conv2d_backward_data,
    .conv2d_backward_filter = conv2d_backward_filter,
    .max_pool2d = max_pool2d,
    .max_pool2d_backward = max_pool2d_backward,
    .softmax = softmax,
    .cross_entropy = cross_entropy,
    .cross_entropy_backward = cross_entropy_backward,
    .bias_act = bias_act,
    .bias_act_backward = bias_act_backward,
    .batch_norm_forward = batch_norm_forward,
    .batch_norm_backward = batch_norm_backward,
    .is_capturing = stream_capturing,
    .pin_memory = kiln::cuda::pin_memory,
    .optim_step = optim_step,
    .unscale_check = unscale_check,
    .check_index = check_index,
    .arange = arange,
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
