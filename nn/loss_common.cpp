// nn/loss_common.cpp: the shared checks and helpers of nn/loss_detail.h, reduction names, and the class
// forms of every loss (each forwards to its functional form). Depends on autograd/ops.h.
#include <cmath>

#include "kiln/nn/loss.h"
#include "kiln/nn/loss_detail.h"

namespace kiln::nn {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none:
      return "none";
    case Reduction::mean:
      return "mean";
    case Reduction::sum:
      return "sum";
    case Reduction::batchmean:
      return "batchmean";
  }
  return "?";
}

namespace detail {

Tensor reduce_loss(const Tensor& loss, Reduction reduction, const char* op) {
  switch (reduction) {
    case Reduction::none:
      return loss;
    case Reduction::mean:
      return mean(loss);
    case Reduction::sum:
      return sum(loss);
    case Reduction::batchmean:
      break;
  }
  KILN_CHECK(false, op, ": reduction batchmean is only for kl_div (use mean, sum or none)");
  return {};
}

void check_defined(const char* op, const Tensor& t, const char* what) {
  KILN_CHECK(t.defined(), op, ": ", what, " is undefined");
}

void check_floating(const char* op, const Tensor& t, const char* what) {
  check_defined(op, t, what);
  KILN_CHECK(is_floating(t.dtype()), op, ": ", what, " must be floating (f32 or f64), got ", t.dtype(), " ",
             shape_str(t.shape()));
}

void check_pair(const char* op, const Tensor& input, const Tensor& target, const char* input_name,
                const char* target_name) {
  check_floating(op, input, input_name);
  check_floating(op, target, target_name);
  KILN_CHECK(input.shape() == target.shape(), op, ": ", input_name, " ", shape_str(input.shape()), " and ",
             target_name, " ", shape_str(target.shape()), " must have the same shape");
  KILN_CHECK(input.dtype() == target.dtype(), op, ": ", input_name, " (", input.dtype(), ") and ",
             target_name, " (", target.dtype(), ") must have the same dtype");
  KILN_CHECK(input.device() == target.device(), op, ": ", input_name, " is on ", input.device(), " but ",
             target_name, " on ", target.device());
}

void check_broadcast_weight(const char* op, const Tensor& weight, const Tensor& input, const char* what) {
  if (!weight.defined()) return;
  check_floating(op, weight, what);
  KILN_CHECK(weight.dtype() == input.dtype(), op, ": ", what, " (", weight.dtype(),
             ") must have the input's dtype (", input.dtype(), ")");
  KILN_CHECK(weight.device() == input.device(), op, ": input is on ", input.device(), " but ", what, " on ",
             weight.device());
  bool fits = weight.dim() <= input.dim();
  for (int64_t i = 1; fits && i <= weight.dim(); ++i) {
    int64_t w = weight.shape()[weight.dim() - i], x = input.shape()[input.dim() - i];
    fits = w == 1 || w == x;
  }
  KILN_CHECK(fits, op, ": ", what, " ", shape_str(weight.shape()),
             " does not broadcast to the input's shape ", shape_str(input.shape()));
}

Tensor clamped_log(const Tensor& x) {
  const double floor = std::exp(-100.0);
  Tensor above = x > floor;
  // log only ever sees values above the floor (1 elsewhere), so its backward cannot divide by 0.
  return where(above, log(where(above, x, 1.0)), -100.0);
}

Tensor scalar_as(double value, const Tensor& like) {
  return full({}, value, {.dtype = like.dtype(), .device = like.device()});
}

}  // namespace detail

namespace F = functional;

Tensor MSELoss::operator()(const Tensor& input, const Tensor& target) const {
  return F::mse_loss(input, target, reduction_);
}
Tensor L1Loss::operator()(const Tensor& input, const Tensor& target) const {
  return F::l1_loss(input, target, reduction_);
}
Tensor SmoothL1Loss::operator()(const Tensor& input, const Tensor& target) const {
  return F::smooth_l1_loss(input, target, options_.reduction, options_.beta);
}
Tensor HuberLoss::operator()(const Tensor& input, const Tensor& target) const {
  return F::huber_loss(input, target, options_.reduction, options_.delta);
}
Tensor BCELoss::operator()(const Tensor& input, const Tensor& target) const {
  return F::binary_cross_entropy(input, target, options_.weight, options_.reduction);
}
Tensor BCEWithLogitsLoss::operator()(const Tensor& input, const Tensor& target) const {
  return F::binary_cross_entropy_with_logits(input, target, options_);
}
Tensor CrossEntropyLoss::operator()(const Tensor& input, const Tensor& target) const {
  return F::cross_entropy(input, target, options_);
}
Tensor NLLLoss::operator()(const Tensor& input, const Tensor& target) const {
  return F::nll_loss(input, target, options_);
}
Tensor KLDivLoss::operator()(const Tensor& input, const Tensor& target) const {
  return F::kl_div(input, target, options_.reduction, options_.log_target);
}
Tensor CosineEmbeddingLoss::operator()(const Tensor& input1, const Tensor& input2,
                                       const Tensor& target) const {
  return F::cosine_embedding_loss(input1, input2, target, options_.margin, options_.reduction);
}
Tensor MarginRankingLoss::operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) const {
  return F::margin_ranking_loss(input1, input2, target, options_.margin, options_.reduction);
}

}  // namespace kiln::nn
