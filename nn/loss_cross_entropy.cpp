// nn/loss_cross_entropy.cpp: nll_loss and cross_entropy (class-index and class-probability targets, class
// weights, ignore_index, label smoothing). cross_entropy with class indices runs the fused
// softmax_cross_entropy op (one kernel forward, one backward) and reduces here; nll_loss and
// probability targets are composed of log_softmax, gather and reductions. Depends on autograd/ops.h and
// nn/loss_detail.h.
// Class-index targets are checked once, here (autograd::check_class_targets: one scan on the CPU, naming the
// loss), and handed to the op as checked; the count of ignored entries picks the mean's divisor.
#include <cmath>
#include <cstdint>

#include "kiln/autograd/autocast.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/loss_detail.h"
#include "kiln/tensor/backend.h"

namespace kiln::nn::functional {

namespace {

using autograd::check_class_targets;
using autograd::ClassTargets;
using detail::scalar_as;

// The class dim of an (N, K, ...) or unbatched (K) input.
int64_t class_dim(const Tensor& input) { return input.dim() == 1 ? 0 : 1; }

// Shape checks of an index target against input (N, K, d1, ...) or (K); returns K.
int64_t check_index_target(const char* op, const Tensor& input, const Tensor& target) {
  KILN_CHECK(input.dim() >= 1, op, ": input must be (N, K), (N, K, d1, ...) or (K), got ",
             shape_str(input.shape()));
  KILN_CHECK(target.dtype() == DType::i64, op, ": class-index target must be i64, got ", target.dtype(), " ",
             shape_str(target.shape()),
             " (for class probabilities pass a floating target of the input's shape)");
  KILN_CHECK(input.device() == target.device(), op, ": input is on ", input.device(), " but target on ",
             target.device());
  Shape expected = input.shape();
  expected.erase(expected.begin() + class_dim(input));
  KILN_CHECK(target.shape() == expected, op, ": input ", shape_str(input.shape()),
             " needs a class-index target of shape ", shape_str(expected), ", got ",
             shape_str(target.shape()));
  int64_t k = input.shape()[class_dim(input)];
  KILN_CHECK(k > 0, op, ": input ", shape_str(input.shape()), " has no classes");
  return k;
}

void check_class_weight(const char* op, const Tensor& weight, const Tensor& input, int64_t k) {
  if (!weight.defined()) return;
  detail::check_floating(op, weight, "weight");
  KILN_CHECK(weight.dim() == 1 && weight.shape()[0] == k, op, ": weight must be (K) = [", k, "] for input ",
             shape_str(input.shape()), ", got ", shape_str(weight.shape()));
  KILN_CHECK(weight.dtype() == input.dtype(), op, ": weight (", weight.dtype(),
             ") must have the input's dtype (", input.dtype(), ")");
  KILN_CHECK(weight.device() == input.device(), op, ": input is on ", input.device(), " but weight on ",
             weight.device());
}

// weight (K) shaped to broadcast along the class dim of input: (K) or (1, K, 1, ...).
Tensor class_weight_view(const Tensor& weight, const Tensor& input) {
  if (input.dim() == 1) return weight;
  Shape s(input.dim(), 1);
  s[1] = weight.shape()[0];
  return reshape(weight, s);
}

// numerator / denominator for the weighted mean. When every target is ignored the denominator is 0: the
// value is NaN and every gradient 0, as in PyTorch (dividing by the raw 0 would spread 0 * inf = NaN into
// the gradients and from there into the parameters).
Tensor divide_by_weight(const Tensor& numerator, const Tensor& denominator) {
  Tensor empty = eq(denominator, scalar_as(0.0, denominator));
  Tensor nan_if_empty = where(empty, std::nan(""), scalar_as(0.0, denominator));
  return numerator / where(empty, 1.0, denominator) + nan_if_empty;
}

// The ignored entries of checked targets: mask true where ignored (only built when some are, or may be,
// off the CPU) and the targets with those entries replaced by class 0, so they can index safely.
struct IgnoredTargets {
  Tensor mask;
  Tensor safe;
};
IgnoredTargets mask_ignored(const ClassTargets& t) {
  if (t.ignored() == 0) return {Tensor(), t.tensor()};
  Tensor mask = eq(t.tensor(), full({}, static_cast<double>(t.ignore_index()),
                                    {.dtype = DType::i64, .device = t.tensor().device()}));
  return {mask, where(mask, 0.0, t.tensor())};
}

// weight[target] for every target (ignored ones read class 0), in the target's shape.
Tensor picked_weights(const Tensor& weight, const ClassTargets& t, const IgnoredTargets& ig) {
  return reshape(index_select(weight, 0, reshape(ig.safe, {-1})), t.tensor().shape());
}

// PyTorch's mean over class-index targets: the summed loss divided by the summed weights w of the targets
// not ignored (their count where w is undefined). The count comes from the host scan on the CPU and is
// summed on the device elsewhere.
Tensor mean_over_targets(const Tensor& loss, const ClassTargets& t, const IgnoredTargets& ig, const Tensor& w,
                         const Tensor& like) {
  Tensor denom;
  if (w.defined()) {
    denom = t.ignored() != 0 ? sum(where(ig.mask, 0.0, w)) : sum(w);
  } else if (t.ignored() != ClassTargets::kUnknownIgnored) {
    denom = scalar_as(static_cast<double>(t.tensor().numel() - t.ignored()), like);
  } else {
    Tensor ones = full(t.tensor().shape(), 1.0, {.dtype = like.dtype(), .device = like.device()});
    denom = sum(where(ig.mask, 0.0, ones));
  }
  return divide_by_weight(sum(loss), denom);
}

// nll_loss after the target has been checked, reduced as asked.
Tensor nll_core(const Tensor& logp, const ClassTargets& target, const Tensor& weight, Reduction reduction,
                const char* op) {
  KILN_CHECK(reduction != Reduction::batchmean, op,
             ": reduction batchmean is only for kl_div (use mean, sum or none)");
  int64_t cdim = class_dim(logp);
  const IgnoredTargets ig = mask_ignored(target);
  Tensor picked = squeeze(gather(logp, cdim, unsqueeze(ig.safe, cdim)), cdim);
  if (!weight.defined() && target.ignored() == 0) {
    if (reduction == Reduction::none) return neg(picked);
    if (reduction == Reduction::sum) return neg(sum(picked));
    return neg(mean(picked));
  }
  // Ignored entries are selected away rather than multiplied by 0, so a -inf log-probability picked at a
  // placeholder class cannot turn into NaN.
  Tensor w = weight.defined() ? picked_weights(weight, target, ig) : Tensor();
  Tensor loss = w.defined() ? neg(picked * w) : neg(picked);
  if (target.ignored() != 0) loss = where(ig.mask, 0.0, loss);
  if (reduction == Reduction::none) return loss;
  if (reduction == Reduction::sum) return sum(loss);
  return mean_over_targets(loss, target, ig, w, logp);
}

Tensor cross_entropy_probs(const Tensor& input, const Tensor& logp, const Tensor& target,
                           const CrossEntropyOptions& o, int64_t k) {
  const char* op = "cross_entropy";
  KILN_CHECK(target.shape() == input.shape(), op, ": a class-probability target must have the input's shape ",
             shape_str(input.shape()), ", got ", shape_str(target.shape()));
  KILN_CHECK(target.dtype() == input.dtype(), op, ": a class-probability target (", target.dtype(),
             ") must have the input's dtype (", input.dtype(), ")");
  Tensor t = target;
  if (o.label_smoothing > 0)
    t = target * (1.0 - o.label_smoothing) + o.label_smoothing / static_cast<double>(k);
  Tensor prod = logp * t;
  if (o.weight.defined()) prod = prod * class_weight_view(o.weight, input);
  Tensor loss = neg(sum(prod, {class_dim(input)}));
  // PyTorch's mean for probability targets divides by the number of samples, weights or not.
  return detail::reduce_loss(loss, o.reduction, op);
}

}  // namespace

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLOptions& o) {
  if (autocast::needs_f32({&input, &o.weight})) {  // autocast runs losses in f32
    NLLOptions up = o;
    up.weight = autocast::upper(o.weight);
    return nll_loss(autocast::upper(input), target, up);
  }
  const char* op = "nll_loss";
  detail::check_floating(op, input, "input");
  detail::check_defined(op, target, "target");
  int64_t k = check_index_target(op, input, target);
  check_class_weight(op, o.weight, input, k);
  return nll_core(input, check_class_targets(op, input, target, k, o.ignore_index), o.weight, o.reduction,
                  op);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
  if (autocast::needs_f32({&input, &target, &o.weight})) {  // autocast runs losses in f32
    CrossEntropyOptions up = o;
    up.weight = autocast::upper(o.weight);
    return cross_entropy(autocast::upper(input), autocast::upper(target), up);
  }
  const char* op = "cross_entropy";
  detail::check_floating(op, input, "input");
  detail::check_defined(op, target, "target");
  KILN_CHECK(input.dim() >= 1, op, ": input must be (N, K), (N, K, d1, ...) or (K) logits, got ",
             shape_str(input.shape()));
  KILN_CHECK(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0, op,
             ": label_smoothing must be in [0, 1], got ", o.label_smoothing);
  KILN_CHECK(o.reduction != Reduction::batchmean, op,
             ": reduction batchmean is only for kl_div (use mean, sum or none)");
  int64_t cdim = class_dim(input);
  int64_t k = input.shape()[cdim];
  check_class_weight(op, o.weight, input, k);
  if (is_floating(target.dtype())) return cross_entropy_probs(input, log_softmax(input, cdim), target, o, k);

  check_index_target(op, input, target);
  const ClassTargets checked = check_class_targets(op, input, target, k, o.ignore_index);
  // One fused kernel computes the per-element loss (label smoothing and class weights included) and, in
  // the backward, (softmax - smoothed target) * weight * g; only the reduction is left here.
  Tensor loss = softmax_cross_entropy(input, checked, o.weight, o.label_smoothing);
  if (o.reduction == Reduction::none) return loss;
  if (o.reduction == Reduction::sum) return sum(loss);
  if (!o.weight.defined() && checked.ignored() == 0) return mean(loss);
  // Smoothing shares the weighted mean's divisor, as in PyTorch.
  const IgnoredTargets ig = mask_ignored(checked);
  return mean_over_targets(loss, checked, ig,
                           o.weight.defined() ? picked_weights(o.weight, checked, ig) : Tensor(), input);
}

}  // namespace kiln::nn::functional
