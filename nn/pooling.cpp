// nn/pooling.cpp: the pooling layers. Depends on autograd ops.
#include "kiln/nn/pooling.h"

#include <sstream>

#include "kiln/autograd/ops.h"

namespace kiln::nn {
namespace {
std::string pair_str(const Size2& s) { return "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")"; }
Size2 or_kernel(const Size2& stride, const Size2& kernel) {
  return stride.h == 0 && stride.w == 0 ? kernel : stride;
}
}  // namespace

Tensor MaxPool2d::forward(const Tensor& x) {
  const auto& o = options;
  return max_pool2d(x, kernel_size.arr(), or_kernel(o.stride, kernel_size).arr(), o.padding.arr(),
                    o.dilation.arr(), o.ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  std::ostringstream os;
  os << "kernel_size=" << pair_str(kernel_size)
     << ", stride=" << pair_str(or_kernel(options.stride, kernel_size))
     << ", padding=" << pair_str(options.padding);
  if (options.dilation.h != 1 || options.dilation.w != 1) os << ", dilation=" << pair_str(options.dilation);
  if (options.ceil_mode) os << ", ceil_mode=true";
  return os.str();
}

Tensor AvgPool2d::forward(const Tensor& x) {
  const auto& o = options;
  return avg_pool2d(x, kernel_size.arr(), or_kernel(o.stride, kernel_size).arr(), o.padding.arr(),
                    o.ceil_mode, o.count_include_pad);
}

std::string AvgPool2d::extra_repr() const {
  std::ostringstream os;
  os << "kernel_size=" << pair_str(kernel_size)
     << ", stride=" << pair_str(or_kernel(options.stride, kernel_size))
     << ", padding=" << pair_str(options.padding);
  if (options.ceil_mode) os << ", ceil_mode=true";
  if (!options.count_include_pad) os << ", count_include_pad=false";
  return os.str();
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size.arr()); }
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + pair_str(output_size); }

}  // namespace kiln::nn
