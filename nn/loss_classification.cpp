// nn/loss_classification.cpp: binary_cross_entropy (probabilities) and binary_cross_entropy_with_logits,
// composed of clamped logs, softplus and reductions. nll_loss and cross_entropy live in
// loss_cross_entropy.cpp. Depends on autograd/ops.h and nn/loss_detail.h.
#include <cmath>

#include "kiln/autograd/autocast.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/loss_detail.h"

namespace kiln::nn::functional {

namespace {

// Every element of x lies in [0, 1] (NaN does not); reads the values, so it synchronizes a device.
void check_probabilities(const char* op, const Tensor& x) {
  if (x.numel() == 0) return;
  Tensor inside = logical_and(x >= 0.0, x <= 1.0);
  int64_t outside = x.numel() - sum(inside).item<int64_t>();
  if (outside == 0) return;
  // Name the first offending value: users meant to pass sigmoid(logits) or to call the logits form.
  Tensor flat = reshape(x.detach(), {-1}).to(Device::cpu()).to(DType::f64).contiguous();
  const double* p = flat.data<double>();
  int64_t i = 0;
  while (i < flat.numel() && p[i] >= 0.0 && p[i] <= 1.0) ++i;
  KILN_CHECK(false, op, ": input must hold probabilities in [0, 1], but ", outside, " of its ", x.numel(),
             " elements do not (first: ", p[i], " at flat index ", i, ", input ", shape_str(x.shape()),
             "); for logits use binary_cross_entropy_with_logits");
}

}  // namespace

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            Reduction reduction) {
  if (autocast::needs_f32({&input, &target, &weight}))  // autocast runs losses in f32
    return binary_cross_entropy(autocast::upper(input), autocast::upper(target), autocast::upper(weight),
                                reduction);
  const char* op = "binary_cross_entropy";
  detail::check_pair(op, input, target);
  detail::check_broadcast_weight(op, weight, input, "weight");
  check_probabilities(op, input);
  Tensor loss = neg(target * detail::clamped_log(input) + (1.0 - target) * detail::clamped_log(1.0 - input));
  if (weight.defined()) loss = loss * weight;
  return detail::reduce_loss(loss, reduction, op);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsOptions& o) {
  if (autocast::needs_f32({&input, &target, &o.weight, &o.pos_weight})) {
    BCEWithLogitsOptions up = o;
    up.weight = autocast::upper(o.weight), up.pos_weight = autocast::upper(o.pos_weight);
    return binary_cross_entropy_with_logits(autocast::upper(input), autocast::upper(target), up);
  }
  const char* op = "binary_cross_entropy_with_logits";
  detail::check_pair(op, input, target);
  detail::check_broadcast_weight(op, o.weight, input, "weight");
  detail::check_broadcast_weight(op, o.pos_weight, input, "pos_weight");
  // -[pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] = (1 - t) x + (1 + (pw - 1) t) softplus(-x), and
  // softplus never overflows.
  Tensor sp = softplus(neg(input));
  Tensor loss = o.pos_weight.defined() ? (1.0 - target) * input + ((o.pos_weight - 1.0) * target + 1.0) * sp
                                       : (1.0 - target) * input + sp;
  if (o.weight.defined()) loss = loss * o.weight;
  return detail::reduce_loss(loss, o.reduction, op);
}

}  // namespace kiln::nn::functional
