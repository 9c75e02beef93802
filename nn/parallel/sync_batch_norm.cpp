// SyncBatchNorm's training forward, written with differentiable ops and functional::all_reduce_sum so
// that autograd derives the backward (and its all-reduces) by itself.
#include "kiln/nn/parallel/sync_batch_norm.h"

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/nn/parallel/distributed.h"
#include "kiln/nn/parallel/functional.h"
#include "kiln/tensor/error.h"

namespace kiln::distributed {

void SyncBatchNorm::check_input(const Tensor& x) const {
  KILN_CHECK(x.dim() >= 2, "SyncBatchNorm: expected an (N, C, ...) input, got shape ", shape_str(x.shape()));
}

Tensor SyncBatchNorm::forward(const Tensor& x) {
  check_input(x);
  KILN_CHECK(x.size(1) == num_features, "SyncBatchNorm(", num_features, "): input of shape ",
             shape_str(x.shape()), " has ", x.size(1), " channels");
  const bool use_batch_stats = is_training() || !options.track_running_stats;
  if (!use_batch_stats)
    return batch_norm(x, running_mean, running_var, weight, bias, false, options.momentum, options.eps);

  Shape dims{0};
  Shape stat_shape(x.dim(), 1);
  stat_shape[1] = num_features;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor count = full({1}, static_cast<double>(x.numel() / num_features), {.dtype = DType::f64});
  if (is_initialized()) all_reduce(count, ReduceOp::sum);
  const double n = count.item<double>();
  KILN_CHECK(n > 1 || !is_training(),
             "SyncBatchNorm: expected more than 1 value per channel over all ranks when "
             "training, got input shape ",
             shape_str(x.shape()), " and ", n, " values in all");

  Tensor mean = div(functional::all_reduce_sum(sum(x, dims)), full({}, n, {.dtype = x.dtype()}));
  Tensor centred = sub(x, mean.view(stat_shape));
  Tensor var =
      div(functional::all_reduce_sum(sum(mul(centred, centred), dims)), full({}, n, {.dtype = x.dtype()}));
  Tensor y = mul(centred, rsqrt(add(var, full({}, options.eps, {.dtype = x.dtype()}))).view(stat_shape));
  if (weight.defined()) y = add(mul(y, weight.view(stat_shape)), bias.view(stat_shape));

  if (is_training() && options.track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1.0);
    const double m = options.momentum;
    Tensor unbiased = mul(var.detach(), full({}, n / (n - 1), {.dtype = var.dtype()}));
    running_mean.mul_(1 - m).add_(mean.detach().to(running_mean.dtype()), m);
    running_var.mul_(1 - m).add_(unbiased.to(running_var.dtype()), m);
  }
  return y;
}

}  // namespace kiln::distributed
