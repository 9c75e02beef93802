// Fills the CPU row of the kernel table at static-initialization time (kiln::kiln links this library
// whole, so the initializer is never dropped).
#include "kiln/kernels/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

bool supports(char family, int code, DType t) {
  bool floating = t == DType::f32 || t == DType::f64;
  switch (family) {
    case 'u':
      return unary_supports(static_cast<UnaryKernel>(code), t);
    case 'b':
      return binary_supports(static_cast<BinaryKernel>(code), t);
    case 'g':
    case 'c':
    case 'f':  // fused softmax, cross-entropy, bias + activation
    case 'n':
      return floating;
    case 'r': {
      auto k = static_cast<RandomKernel>(code);
      if (k == RandomKernel::randint) return t != DType::boolean && t != DType::f16 && t != DType::bf16;
      return floating;
    }
    case 'p':
      return optim_supports(code, t);
    case 'd':
      return t != DType::f16 && t != DType::bf16;  // reductions
    default:
      return t != DType::f16 && t != DType::bf16;  // copy, fill, where, index kernels
  }
}

const Backend kCpuBackend = {
    .name = "cpu",
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
