// nn/linear.cpp: Linear, Flatten and Unflatten. Depends on autograd ops and nn/init.
#include "kiln/nn/linear.h"

#include <cmath>
#include <sstream>

#include "kiln/autograd/ops.h"
#include "kiln/nn/init.h"

namespace kiln::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  KILN_CHECK(in > 0 && out > 0, "Linear: in_features and out_features must be positive, got ", in, " and ",
             out);
  weight = register_parameter("weight", empty({out, in}));
  if (with_bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}

void Linear::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) { return forward_activated(x, Activation::none); }

Tensor Linear::forward_activated(const Tensor& x, Activation act, double negative_slope) {
  KILN_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear(", in_features, ", ", out_features,
             "): input of shape ", shape_str(x.shape()), " does not end in ", in_features, " features");
  return linear(x, weight, bias, act, negative_slope);
}

std::string Linear::extra_repr() const {
  std::ostringstream os;
  os << "in_features=" << in_features << ", out_features=" << out_features
     << ", bias=" << (bias.defined() ? "true" : "false");
  return os.str();
}

std::string Flatten::extra_repr() const {
  std::ostringstream os;
  os << "start_dim=" << start_dim << ", end_dim=" << end_dim;
  return os.str();
}

Tensor Unflatten::forward(const Tensor& x) {
  const int64_t d = dim < 0 ? dim + x.dim() : dim;
  KILN_CHECK(d >= 0 && d < x.dim(), "Unflatten: dim ", dim, " out of range for input of shape ",
             shape_str(x.shape()));
  int64_t product = 1;
  for (int64_t s : sizes) product *= s;
  KILN_CHECK(product == x.size(d), "Unflatten: sizes ", shape_str(sizes), " do not multiply to ", x.size(d),
             " (dim ", dim, " of input shape ", shape_str(x.shape()), ")");
  Shape out(x.shape().begin(), x.shape().begin() + d);
  out.insert(out.end(), sizes.begin(), sizes.end());
  out.insert(out.end(), x.shape().begin() + d + 1, x.shape().end());
  return x.reshape(out);
}

std::string Unflatten::extra_repr() const {
  std::ostringstream os;
  os << "dim=" << dim << ", unflattened_size=" << shape_str(sizes);
  return os.str();
}

}  // namespace kiln::nn
