// Finite-difference checks of the tape. To keep the cost at one backward pass per check, both sides
// are projected on a fixed random vector v: the analytical gradient of sum(f(x) * v) is compared, element
// by element of every input, with central differences of the same scalar.
#include "kiln/autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "kiln/autograd/engine.h"
#include "kiln/autograd/ops.h"
#include "kiln/tensor/random.h"

namespace kiln::autograd {
namespace {

// Private copies of the inputs: contiguous, owned, with the same requires_grad flags.
std::vector<Tensor> own_inputs(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      out.push_back(t);
      continue;
    }
    Tensor c = empty(t.shape(), {.dtype = t.dtype(), .device = t.device()});
    c.copy_(t.detach());
    if (t.requires_grad()) {
      KILN_CHECK(t.dtype() == DType::f64, "gradcheck: inputs that require grad should be f64 (got ",
                 t.dtype(), "); f32 is too imprecise for finite differences");
      c.requires_grad_();
    }
    out.push_back(c);
  }
  return out;
}

// A projection vector drawn from a private generator, so checks never disturb the user's stream.
Tensor projection_like(const Tensor& y) {
  Generator& g = default_generator();
  uint64_t seed = g.seed(), offset = g.offset();
  g.manual_seed(0x9e3779b97f4a7c15ULL);
  Tensor v = randn(y.shape(), {.dtype = y.dtype(), .device = y.device()});
  g.manual_seed(seed);
  g.set_offset(offset);
  return v;
}

double project(const Tensor& y, const Tensor& v) { return sum(y.detach() * v).item<double>(); }

}  // namespace

GradcheckResult gradcheck(const Function& f, const std::vector<Tensor>& inputs_in, GradcheckOptions opt) {
  std::vector<Tensor> inputs = own_inputs(inputs_in);
  std::vector<Tensor> wrt;
  std::vector<size_t> wrt_index;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) wrt.push_back(inputs[i]), wrt_index.push_back(i);
  KILN_CHECK(!wrt.empty(), "gradcheck: no input requires grad");

  Tensor y = f(inputs);
  KILN_CHECK(y.defined() && is_floating(y.dtype()), "gradcheck: the function must return a floating tensor");
  Tensor v = projection_like(y);
  std::vector<Tensor> analytical;
  if (y.requires_grad()) {
    analytical = grad({y}, wrt, {v}, false, false, /*allow_unused=*/true);
  } else {
    analytical.resize(wrt.size());
  }

  for (size_t k = 0; k < wrt.size(); ++k) {
    Tensor x = wrt[k];
    double* p = x.data<double>();
    std::vector<double> a =
        analytical[k].defined() ? analytical[k].to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      double orig = p[i];
      p[i] = orig + opt.eps;
      double plus = project(f(inputs), v);
      p[i] = orig - opt.eps;
      double minus = project(f(inputs), v);
      p[i] = orig;
      double numerical = (plus - minus) / (2 * opt.eps);
      bool bad = std::isnan(a[i]) != std::isnan(numerical) ||
                 std::abs(a[i] - numerical) > opt.atol + opt.rtol * std::abs(numerical);
      if (bad) {
        std::ostringstream os;
        os << "gradient mismatch for input " << wrt_index[k] << " (shape " << shape_str(x.shape())
           << ") at element " << i << ": analytical " << a[i] << ", numerical " << numerical;
        return {false, os.str()};
      }
    }
  }
  return {true, ""};
}

GradcheckResult gradgradcheck(const Function& f, const std::vector<Tensor>& inputs_in, GradcheckOptions opt) {
  std::vector<Tensor> inputs = own_inputs(inputs_in);
  // h(x) = sum_k <d(f(x) . v)/dx_k, w_k>: its gradient is a second derivative of f.
  Tensor y0 = f(inputs);
  Tensor v = projection_like(y0);
  std::vector<Tensor> ws;
  for (const Tensor& t : inputs)
    ws.push_back(t.defined() && t.requires_grad() ? projection_like(t) * 0.5 + 0.25 : Tensor());
  Function h = [&](const std::vector<Tensor>& xs) {
    std::vector<Tensor> wrt, wk;
    for (size_t i = 0; i < xs.size(); ++i)
      if (xs[i].defined() && xs[i].requires_grad()) wrt.push_back(xs[i]), wk.push_back(ws[i]);
    EnableGradGuard enable;
    Tensor y = f(xs);
    if (!y.requires_grad()) return zeros({}, {.dtype = DType::f64});
    std::vector<Tensor> gs = grad({y}, wrt, {v}, true, /*create_graph=*/true, /*allow_unused=*/true);
    Tensor total = zeros({}, {.dtype = DType::f64});
    for (size_t i = 0; i < gs.size(); ++i)
      if (gs[i].defined()) total = total + sum(gs[i] * wk[i]);
    return total;
  };
  return gradcheck(h, inputs, opt);
}

}  // namespace kiln::autograd
