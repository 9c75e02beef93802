// Differentiable collectives: forward and backward each run one collective.
#include "kiln/nn/parallel/functional.h"

#include "kiln/autograd/node.h"
#include "kiln/nn/parallel/distributed.h"

namespace kiln::distributed::functional {

Tensor all_reduce_sum(const Tensor& x) {
  if (!is_initialized()) return x;
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x.detach().clone();
  }
  all_reduce(y, ReduceOp::sum);
  if (autograd::needs_grad({&x}))
    autograd::record("all_reduce_sum", {x}, y, [](const Tensor& grad, const Tensor&) {
      return std::vector<Tensor>{all_reduce_sum(grad)};
    });
  return y;
}

}  // namespace kiln::distributed::functional
