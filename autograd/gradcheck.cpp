// Finite-difference checks of the tape. Both sides are projected on fixed vectors v (every output element
// alone for small outputs, else several random vectors): the analytical gradient of sum(f(x) * v) is
// compared, element by element of every input, with central differences of the same scalar. One pair of
// evaluations per input element serves every projection; one backward pass per projection.
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
Tensor projection_like(const Tensor& y, uint64_t stream = 0) {
  Generator& g = default_generator();
  uint64_t seed = g.seed(), offset = g.offset();
  g.manual_seed(0x9e3779b97f4a7c15ULL + stream);
  Tensor v = randn(y.shape(), {.dtype = y.dtype(), .device = y.device()});
  g.manual_seed(seed);
  g.set_offset(offset);
  return v;
}

// The vectors the Jacobian is checked against: every output element on its own (one-hot vectors) when the
// output is small, so each element's gradient is checked exactly; else kRandomProjections random ones, so
// that an error in one element cannot hide behind a single projection's cancellation.
constexpr int64_t kOneHotUpTo = 16;
constexpr int kRandomProjections = 4;
std::vector<Tensor> projections_for(const Tensor& y) {
  std::vector<Tensor> vs;
  if (y.numel() <= kOneHotUpTo) {
    for (int64_t e = 0; e < y.numel(); ++e) {
      std::vector<double> one_hot(static_cast<size_t>(y.numel()), 0.0);
      one_hot[static_cast<size_t>(e)] = 1.0;
      vs.push_back(from_vector(one_hot, y.shape()).to(y.dtype()).to(y.device()));
    }
    return vs;
  }
  for (int j = 0; j < kRandomProjections; ++j) vs.push_back(projection_like(y, static_cast<uint64_t>(j)));
  return vs;
}

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
  const std::vector<Tensor> vs = projections_for(y);
  // analytical[j][k]: the gradient of sum(y * v_j) with respect to wrt[k] (one backward per projection).
  std::vector<std::vector<std::vector<double>>> analytical(vs.size());
  for (size_t j = 0; j < vs.size(); ++j) {
    std::vector<Tensor> g(wrt.size());
    if (y.requires_grad()) g = grad({y}, wrt, {vs[j]}, /*retain_graph=*/true, false, /*allow_unused=*/true);
    for (size_t k = 0; k < wrt.size(); ++k)
      analytical[j].push_back(g[k].defined() ? g[k].to_vector<double>()
                                             : std::vector<double>(wrt[k].numel(), 0.0));
  }
  std::vector<std::vector<double>> v_values;
  for (const Tensor& v : vs) v_values.push_back(v.to_vector<double>());

  for (size_t k = 0; k < wrt.size(); ++k) {
    Tensor x = wrt[k];
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      // One pair of evaluations gives this input element's whole column of the Jacobian; every projection
      // is compared against it.
      double orig = p[i];
      p[i] = orig + opt.eps;
      std::vector<double> plus = f(inputs).detach().to_vector<double>();
      p[i] = orig - opt.eps;
      std::vector<double> minus = f(inputs).detach().to_vector<double>();
      p[i] = orig;
      for (size_t j = 0; j < vs.size(); ++j) {
        double numerical = 0;
        for (size_t e = 0; e < plus.size(); ++e) numerical += (plus[e] - minus[e]) * v_values[j][e];
        numerical /= 2 * opt.eps;
        const double a = analytical[j][k][i];
        // A NaN or infinite gradient on either side is a mismatch, never equal to anything.
        const bool bad = !std::isfinite(a) || !std::isfinite(numerical) ||
                         std::abs(a - numerical) > opt.atol + opt.rtol * std::abs(numerical);
        if (bad) {
          std::ostringstream os;
          os << "gradient mismatch for input " << wrt_index[k] << " (shape " << shape_str(x.shape())
             << ") at element " << i << " under projection " << j << " of " << vs.size() << ": analytical "
             << a << ", numerical " << numerical;
          return {false, os.str()};
        }
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
