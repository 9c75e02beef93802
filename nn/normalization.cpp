// nn/normalization.cpp: the normalization layers. Depends on autograd ops (batch_norm, layer_norm,
// group_norm) and NoGradGuard for the step counter.
#include "kiln/nn/normalization.h"

#include <sstream>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"

namespace kiln::nn {

BatchNormBase::BatchNormBase(int64_t c, BatchNormOptions o) : num_features(c), options(o) {
  KILN_CHECK(c > 0, "BatchNorm: num_features must be positive, got ", c);
  KILN_CHECK(o.momentum >= 0 && o.momentum <= 1, "BatchNorm: momentum must be in [0, 1], got ", o.momentum);
  if (o.affine) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::i64}));
  }
}

void BatchNormBase::reset_running_stats() {
  if (!options.track_running_stats) return;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

Tensor BatchNormBase::forward(const Tensor& x) {
  check_input(x);
  KILN_CHECK(x.size(1) == num_features, type_name(), "(", num_features, "): input of shape ",
             shape_str(x.shape()), " has ", x.size(1), " channels");
  // Batch statistics in training, and always when no running statistics are kept (PyTorch's rule).
  const bool use_batch_stats = is_training() || !options.track_running_stats;
  if (is_training() && options.track_running_stats) {
    autograd::NoGradGuard g;
    num_batches_tracked.add_(1.0);
  }
  return batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, options.momentum,
                    options.eps);
}

std::string BatchNormBase::extra_repr() const {
  std::ostringstream os;
  os << num_features << ", eps=" << options.eps << ", momentum=" << options.momentum
     << ", affine=" << (options.affine ? "true" : "false")
     << ", track_running_stats=" << (options.track_running_stats ? "true" : "false");
  return os.str();
}

void BatchNorm1d::check_input(const Tensor& x) const {
  KILN_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected a (N, C) or (N, C, L) input, got shape ",
             shape_str(x.shape()));
}

void BatchNorm2d::check_input(const Tensor& x) const {
  KILN_CHECK(x.dim() == 4, "BatchNorm2d: expected a (N, C, H, W) input, got shape ", shape_str(x.shape()));
}

LayerNorm::LayerNorm(Shape shape, LayerNormOptions o) : normalized_shape(std::move(shape)), options(o) {
  KILN_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape is empty");
  if (o.elementwise_affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    bias = register_parameter("bias", zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  return layer_norm(x, normalized_shape, weight, bias, options.eps);
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream os;
  os << shape_str(normalized_shape) << ", eps=" << options.eps
     << ", elementwise_affine=" << (options.elementwise_affine ? "true" : "false");
  return os.str();
}

GroupNorm::GroupNorm(int64_t groups, int64_t channels, GroupNormOptions o)
    : num_groups(groups), num_channels(channels), options(o) {
  KILN_CHECK(groups > 0 && channels % groups == 0, "GroupNorm: num_channels (", channels,
             ") must be divisible by num_groups (", groups, ")");
  if (o.affine) {
    weight = register_parameter("weight", ones({channels}));
    bias = register_parameter("bias", zeros({channels}));
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  KILN_CHECK(x.dim() >= 2 && x.size(1) == num_channels, "GroupNorm(", num_groups, ", ", num_channels,
             "): input of shape ", shape_str(x.shape()), " does not have ", num_channels, " channels");
  return group_norm(x, num_groups, weight, bias, options.eps);
}

std::string GroupNorm::extra_repr() const {
  std::ostringstream os;
  os << num_groups << ", " << num_channels << ", eps=" << options.eps
     << ", affine=" << (options.affine ? "true" : "false");
  return os.str();
}

}  // namespace kiln::nn
