// softmax and log_softmax: primitive ops over the fused row kernel (one pass over a contiguous (O, R, I)
// view, max-subtracted so it never overflows), with backwards written with ops from the saved output:
//   softmax:      dx = y (g - sum(g y))        log_softmax:  dx = g - exp(y) sum(g)
// so gradients of any order work. A backend without the kernel gets the composite x - logsumexp(x).
// Depends on ops/common.h and the kernel table's softmax entry.
#include "kiln/autograd/autocast.h"
#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

Tensor softmax_op(autograd::OpName name, const Tensor& x, int64_t dim, bool log) {
  check_defined(name, x);
  if (autocast::needs_f32({&x})) return softmax_op(name, autocast::upper(x), dim, log);  // f32 under autocast
  check_floating(name, x);
  if (x.dim() == 0) return log ? x - x : exp(x - x);
  const int64_t d = wrap_dim(dim, x.dim(), name);
  if (!backend(x.device()).supports(FusedKernel::softmax, x.dtype())) {
    Tensor logp = x - logsumexp(x, {d}, /*keepdim=*/true);
    return log ? logp : exp(logp);
  }
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
  const Shape view{outer, x.size(d), inner};
  Tensor y = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
  if (y.numel() > 0) backend(x.device()).softmax(x.detach().contiguous().reshape(view), y.reshape(view), log);
  if (autograd::needs_grad({&x})) {
    record(
        name, {x}, y,
        [d, log](const Tensor& g, const Tensor& out) {
          if (log) return Grads{g - exp(out) * sum(g, {d}, /*keepdim=*/true)};
          return Grads{out * (g - sum(g * out, {d}, /*keepdim=*/true))};
        },
        /*save_output=*/true, /*save_inputs=*/false);
  }
  return y;
}
}  // namespace

Tensor log_softmax(const Tensor& x, int64_t dim) {
  return trace::traced(
      "log_softmax", [&] { return softmax_op("log_softmax", x, dim, true); },
      [&] {
        return trace::OpRecord{{x}, {{"dim", dim}}};
      });
}

Tensor softmax(const Tensor& x, int64_t dim) {
  return trace::traced(
      "softmax", [&] { return softmax_op("softmax", x, dim, false); },
      [&] {
        return trace::OpRecord{{x}, {{"dim", dim}}};
      });
}

}  // namespace kiln
