// nn/loss_divergence.cpp: kl_div, the pointwise Kullback-Leibler divergence, with kl_div's own batchmean
// reduction. Depends on autograd/ops.h and nn/loss_detail.h.
#include "kiln/autograd/autocast.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/loss_detail.h"

namespace kiln::nn::functional {

Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction, bool log_target) {
  if (autocast::needs_f32({&input, &target}))  // autocast runs losses in f32
    return kl_div(autocast::upper(input), autocast::upper(target), reduction, log_target);
  const char* op = "kl_div";
  detail::check_pair(op, input, target);
  Tensor loss;
  if (log_target) {
    loss = exp(target) * (target - input);
  } else {
    // xlogy(t, t) - t * input: 0 where t == 0 (with a finite gradient for input); negative t gives NaN, as
    // log would.
    Tensor zero = eq(target, detail::scalar_as(0.0, target));
    Tensor t_log_t = where(zero, 0.0, target * log(where(zero, 1.0, target)));
    loss = t_log_t - target * input;
  }
  if (reduction == Reduction::batchmean) {
    // PyTorch: the sum divided by the batch size input.size(0); a 0-d input is summed.
    return input.dim() == 0 ? sum(loss) : sum(loss) / static_cast<double>(input.shape()[0]);
  }
  return detail::reduce_loss(loss, reduction, op);
}

}  // namespace kiln::nn::functional
