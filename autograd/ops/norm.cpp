// Normalization layers' functional forms: batch_norm, layer_norm, group_norm. All composite (mean, var,
// rsqrt and broadcasting arithmetic), so their gradients of any order come from those ops.
// Depends on ops/common.h.
#include <algorithm>

#include "kiln/autograd/autocast.h"
#include "kiln/autograd/ops/common.h"

namespace kiln {
using namespace autograd::detail;

namespace {

// The (1, C, 1, ...) view of a per-channel tensor (C) for an input of rank ndim.
Tensor channel_view(const Tensor& t, int64_t ndim) {
  Shape s(ndim, 1);
  s[1] = t.size(0);
  return reshape(t, s);
}

void check_per_channel(const char* op, const Tensor& t, const char* what, const Tensor& x) {
  if (!t.defined()) return;
  KILN_CHECK(t.dim() == 1 && t.size(0) == x.size(1), op, ": ", what, " ", shape_str(t.shape()), " must be (",
             x.size(1), ") for input ", shape_str(x.shape()));
  check_same_dtype(op, x, t);
}

Tensor affine(const Tensor& y, const Tensor& weight, const Tensor& bias, bool per_channel) {
  Tensor out = y;
  if (weight.defined()) out = out * (per_channel ? channel_view(weight, y.dim()) : weight);
  if (bias.defined()) out = out + (per_channel ? channel_view(bias, y.dim()) : bias);
  return out;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  check_defined(op, x);
  if (autocast::needs_f32({&x, &weight, &bias}))
    return batch_norm(autocast::upper(x), running_mean, running_var, autocast::upper(weight),
                      autocast::upper(bias), training, momentum, eps);
  check_floating(op, x);
  check_same_device(op, {&x, &running_mean, &running_var, &weight, &bias});
  KILN_CHECK(x.dim() >= 2 && x.dim() <= 5, op, ": input must be (N, C), (N, C, L) or (N, C, H, W), got ",
             shape_str(x.shape()));
  check_per_channel(op, running_mean, "running_mean", x);
  check_per_channel(op, running_var, "running_var", x);
  check_per_channel(op, weight, "weight", x);
  check_per_channel(op, bias, "bias", x);
  KILN_CHECK(eps >= 0, op, ": eps must be non-negative, got ", eps);
  Shape dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor y;
  if (training) {
    const int64_t count = x.size(1) == 0 ? 0 : x.numel() / x.size(1);
    KILN_CHECK(count > 1, op, ": training needs more than one value per channel, got input ",
               shape_str(x.shape()));
    Tensor mu = mean(x, dims, /*keepdim=*/true);
    Tensor centered = x - mu;
    Tensor v = mean(square(centered), dims, /*keepdim=*/true);  // biased, for normalizing
    y = centered * rsqrt(v + eps);
    NoGradGuard no_grad;
    if (running_mean.defined()) {
      Tensor m = running_mean;
      m.mul_(1.0 - momentum);
      m.add_(reshape(mu.detach(), {x.size(1)}), momentum);
    }
    if (running_var.defined()) {
      Tensor r = running_var;
      r.mul_(1.0 - momentum);
      r.add_(reshape(v.detach(), {x.size(1)}), momentum * double(count) / double(count - 1));
    }
  } else {
    KILN_CHECK(running_mean.defined() && running_var.defined(), op,
               ": evaluation mode (training = false) needs running_mean and running_var; input ",
               shape_str(x.shape()));
    y = (x - channel_view(running_mean, x.dim())) * rsqrt(channel_view(running_var, x.dim()) + eps);
  }
  return affine(y, weight, bias, /*per_channel=*/true);
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "layer_norm";
  check_defined(op, x);
  if (autocast::needs_f32({&x, &weight, &bias}))
    return layer_norm(autocast::upper(x), normalized_shape, autocast::upper(weight), autocast::upper(bias),
                      eps);
  check_floating(op, x);
  check_same_device(op, {&x, &weight, &bias});
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  KILN_CHECK(k >= 1 && k <= x.dim() &&
                 std::equal(normalized_shape.begin(), normalized_shape.end(), x.shape().end() - k),
             op, ": normalized_shape ", shape_str(normalized_shape), " must match the last dims of input ",
             shape_str(x.shape()));
  for (const Tensor* t : {&weight, &bias}) {
    if (!t->defined()) continue;
    KILN_CHECK(t->shape() == normalized_shape, op, ": ", (t == &weight ? "weight " : "bias "),
               shape_str(t->shape()), " must have normalized_shape ", shape_str(normalized_shape));
    check_same_dtype(op, x, *t);
  }
  Shape dims;
  for (int64_t d = x.dim() - k; d < x.dim(); ++d) dims.push_back(d);
  Tensor centered = x - mean(x, dims, /*keepdim=*/true);
  Tensor y = centered * rsqrt(mean(square(centered), dims, /*keepdim=*/true) + eps);
  return affine(y, weight, bias, /*per_channel=*/false);
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  check_defined(op, x);
  if (autocast::needs_f32({&x, &weight, &bias}))
    return group_norm(autocast::upper(x), num_groups, autocast::upper(weight), autocast::upper(bias), eps);
  check_floating(op, x);
  check_same_device(op, {&x, &weight, &bias});
  KILN_CHECK(x.dim() >= 2, op, ": input must be (N, C, ...), got ", shape_str(x.shape()));
  KILN_CHECK(num_groups >= 1 && x.size(1) % num_groups == 0, op, ": channels (", x.size(1),
             ") must be divisible by num_groups (", num_groups, "); input ", shape_str(x.shape()));
  check_per_channel(op, weight, "weight", x);
  check_per_channel(op, bias, "bias", x);
  Tensor g = reshape(x, {x.size(0), num_groups, -1});
  Tensor centered = g - mean(g, {2}, /*keepdim=*/true);
  Tensor y = centered * rsqrt(mean(square(centered), {2}, /*keepdim=*/true) + eps);
  return affine(reshape(y, x.shape()), weight, bias, /*per_channel=*/true);
}

}  // namespace kiln
