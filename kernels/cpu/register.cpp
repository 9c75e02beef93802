// Fills the CPU row of the kernel table at static-initialization time (kiln::kiln links this library
// whole, so the initializer is never dropped).
#include "kiln/kernels/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

bool supports(char family, int code, DType t) {
  // f16/bf16 compute in f32 (reduced_float.cpp): whatever f32 supports, except integer draws.
  const bool reduced = is_reduced_float(t);
  const DType compute = reduced ? DType::f32 : t;
  const bool floating = compute == DType::f32 || compute == DType::f64;
  switch (family) {
    case 'u':
      return unary_supports(static_cast<UnaryKernel>(code), compute);
    case 'b':
      return binary_supports(static_cast<BinaryKernel>(code), compute);
    case 'g':
    case 'c':
      return floating;
    case 'n':  // batch norm (batch_norm.cpp): f32/f64 (f16/bf16 take the op's composite path)
      return t == DType::f32 || t == DType::f64;
    case 'f':  // fused softmax, cross-entropy, bias + activation: f32/f64 kernels (f16/bf16 take the
               // composite path of the ops, which runs on the wrappers above)
      return t == DType::f32 || t == DType::f64;
    case 'r': {
      auto k = static_cast<RandomKernel>(code);
      if (k == RandomKernel::randint) return t != DType::boolean && !reduced;
      return floating;
    }
    case 'p':
      return optim_supports(code, t);
    default:  // 'd' reductions, copy, fill, where, index kernels: every dtype
      return true;
  }
}

const Backend kCpuBackend = {
    .name = "cpu",
    .unary = unary_any,
    .binary = binary_any,
    .where = where,
    .reduce = reduce_any,
    .gemm = gemm_any,
    .copy = copy,
    .fill = fill,
    .index_select = index_select,
    .gather = gather,
    .scatter_add = scatter_add_any,
    .random = random_any,
    .conv2d = conv2d_any,
    .conv2d_backward_data = conv2d_backward_data_any,
    .conv2d_backward_filter = conv2d_backward_filter_any,
    .max_pool2d = max_pool2d_any,
    .max_pool2d_backward = max_pool2d_backward_any,
    .softmax = softmax,
    .cross_entropy = cross_entropy,
    .cross_entropy_backward = cross_entropy_backward,
    .bias_act = bias_act,
    .bias_act_backward = bias_act_backward,
    .batch_norm_forward = batch_norm_forward,
    .batch_norm_backward = batch_norm_backward,
    .is_capturing = [](int) { return false; },
    .pin_memory = [](const Tensor& t) { return t; },
    .optim_step = optim_step,
    .unscale_check = unscale_check,
    .check_index = check_index,
    .arange = arange,
    .supports = supports,
};

const bool registered = [] {
  register_backend(DeviceType::cpu, &kCpuBackend);
  return true;
}();

}  // namespace
}  // namespace kiln::cpu
