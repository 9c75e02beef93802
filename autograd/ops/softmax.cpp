// softmax and log_softmax, composite and numerically stable: x - logsumexp(x) never overflows, since
// logsumexp subtracts the max before exponentiating.
#include "kiln/autograd/autocast.h"
#include "kiln/autograd/ops/common.h"

namespace kiln {
using namespace autograd::detail;

Tensor log_softmax(const Tensor& x, int64_t dim) {
  check_defined("log_softmax", x);
  if (autocast::needs_f32({&x})) return log_softmax(autocast::upper(x), dim);
  check_floating("log_softmax", x);
  if (x.dim() == 0) return x - x;
  int64_t d = wrap_dim(dim, x.dim(), "log_softmax");
  return x - logsumexp(x, {d}, /*keepdim=*/true);
}

Tensor softmax(const Tensor& x, int64_t dim) {
  check_defined("softmax", x);
  if (autocast::needs_f32({&x})) return softmax(autocast::upper(x), dim);
  return exp(log_softmax(x, dim));
}

}  // namespace kiln
