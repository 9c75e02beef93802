// Fused ops over the kernel table's family 'f': softmax_cross_entropy (per-element cross-entropy from
// logits and class indices, logsumexp saved for the backward) and bias_act (act(x + bias) in one pass),
// plus linear with an activation, which runs its bias and activation through bias_act.
// Each forward is one kernel; each first-order backward is one kernel too. When the backward itself is
// recorded (create_graph), it is written with ops instead, so gradients of any order work. Where a
// backend lacks the kernel (or class weights need a gradient), the ops run as composites.
// Depends on ops/common.h and the kernel table's fused entries.
#include <cmath>

#include "kiln/autograd/autocast.h"
#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

bool has_fused(const Tensor& x, FusedKernel k) { return backend(x.device()).supports(k, x.dtype()); }

// ---- softmax_cross_entropy ----

struct CeGeometry {
  int64_t outer = 1, k = 1, inner = 1;  // logits as (O, K, I), target as (O, I)
};

CeGeometry check_ce(const Tensor& logits, const Tensor& target, const Tensor& weight,
                    double label_smoothing) {
  const char* op = "softmax_cross_entropy";
  check_defined(op, logits, "logits");
  check_defined(op, target, "target");
  check_floating(op, logits);
  check_same_device(op, {&logits, &target, &weight});
  KILN_CHECK(logits.dim() >= 1, op, ": logits must be (N, K), (N, K, d1, ...) or (K), got ",
             shape_str(logits.shape()));
  KILN_CHECK(target.dtype() == DType::i64, op, ": target must hold i64 class indices, got ", target.dtype());
  const int64_t cdim = logits.dim() == 1 ? 0 : 1;
  Shape expected = logits.shape();
  expected.erase(expected.begin() + cdim);
  KILN_CHECK(target.shape() == expected, op, ": logits ", shape_str(logits.shape()),
             " need a target of shape ", shape_str(expected), ", got ", shape_str(target.shape()));
  CeGeometry g;
  g.k = logits.size(cdim);
  KILN_CHECK(g.k > 0, op, ": logits ", shape_str(logits.shape()), " have no classes");
  if (weight.defined()) {
    check_same_dtype(op, logits, weight);
    KILN_CHECK(weight.dim() == 1 && weight.size(0) == g.k, op, ": weight must be (K) = (", g.k, "), got ",
               shape_str(weight.shape()));
  }
  KILN_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op,
             ": label_smoothing must be in [0, 1], got ", label_smoothing);
  if (cdim == 1) {
    g.outer = logits.size(0);
    for (int64_t i = 2; i < logits.dim(); ++i) g.inner *= logits.size(i);
  }
  return g;
}

// Every target is a class in [0, K) or ignore_index: scanned now on the CPU; off it a device check whose
// error surfaces at the next synchronization (no host wait, capturable; check_index_range).
void check_ce_targets(const Tensor& target, int64_t k, int64_t ignore_index) {
  if (!target.device().is_cpu()) {
    check_index_range(target, 0, k, "softmax_cross_entropy", "K =", ignore_index);
    return;
  }
  int64_t ignored = 0;
  if (auto bad = first_invalid_class(target, k, ignore_index, ignored))
    KILN_CHECK(false, "softmax_cross_entropy: target holds ", *bad, ", not a class in [0, ", k,
               ") nor ignore_index (", ignore_index, ")");
}

// The target distribution T (O, K, I) of the kernel contract, as a constant (no gradient).
Tensor target_distribution(const Tensor& target3, const Tensor& weight, int64_t k, int64_t ignore_index,
                           double eps, const Tensor& like) {
  NoGradGuard no_grad;
  Tensor classes = reshape(arange(k, {.dtype = DType::i64, .device = like.device()}), {1, k, 1});
  Tensor ignored = eq(
      target3, full({}, static_cast<double>(ignore_index), {.dtype = DType::i64, .device = like.device()}));
  Tensor hit = eq(classes, target3);  // (O, K, I)
  Tensor w = weight.defined() ? reshape(weight, {1, k, 1})
                              : full({1, k, 1}, 1.0, {.dtype = like.dtype(), .device = like.device()});
  Tensor t = where(hit, w * (1.0 - eps), scalar_like(0.0, like)) + w * (eps / static_cast<double>(k));
  return where(ignored, scalar_like(0.0, like), t);
}

// The composite form (weights with a gradient, or no kernel): the picked log-probability is gathered, not
// multiplied by a one-hot, so a -inf logit elsewhere never turns into NaN.
Tensor ce_composite(const Tensor& x3, const Tensor& target3, const Tensor& weight, int64_t ignore_index,
                    double eps) {
  const int64_t k = x3.size(1);
  Tensor logp = log_softmax(x3, 1);
  Tensor ignored =
      eq(target3, full({}, static_cast<double>(ignore_index), {.dtype = DType::i64, .device = x3.device()}));
  Tensor safe = where(ignored, 0.0, target3);
  Tensor picked = gather(logp, 1, safe);  // (O, 1, I)
  if (weight.defined()) picked = picked * reshape(index_select(weight, 0, reshape(safe, {-1})), safe.shape());
  Tensor loss = neg(picked) * (1.0 - eps);
  if (eps > 0.0) {
    Tensor weighted = weight.defined() ? logp * reshape(weight, {1, k, 1}) : logp;
    loss = loss - sum(weighted, {1}, /*keepdim=*/true) * (eps / static_cast<double>(k));
  }
  return where(ignored, 0.0, loss);
}

Tensor ce_backward_kernel(const Tensor& x3, const Tensor& target2, const Tensor& weight, int64_t ignore_index,
                          double eps, const Tensor& lse, const Tensor& g2) {
  Tensor gx = empty(x3.shape(), {.dtype = x3.dtype(), .device = x3.device()});
  backend(x3.device())
      .cross_entropy_backward(x3, target2, weight, ignore_index, eps, lse, g2.detach().contiguous(), gx);
  return gx;
}

// ---- bias_act ----

Tensor activate(const Tensor& z, Activation act, double slope) {
  switch (act) {
    case Activation::none:
      return z;
    case Activation::relu:
      return relu(z);
    case Activation::gelu:
      return gelu(z);
    case Activation::silu:
      return silu(z);
    case Activation::sigmoid:
      return sigmoid(z);
    case Activation::tanh:
      return tanh(z);
    case Activation::leaky_relu:
      return leaky_relu(z, slope);
  }
  return z;
}

// g act'(z) written with ops (the formulas of autograd/ops/unary.cpp), for recorded backwards; y is the
// forward's output (used by none / relu / sigmoid / tanh), z = x + bias recomputed for the others.
Tensor act_grad_composite(Activation act, double slope, const Tensor& g, const Tensor& x, const Tensor& bias,
                          const Tensor& y) {
  switch (act) {
    case Activation::none:
      return g;
    case Activation::relu:
      return where(y > 0.0, g, 0.0);
    case Activation::sigmoid:
      return g * y * (1.0 - y);
    case Activation::tanh:
      return g * (1.0 - y * y);
    default:
      break;
  }
  Tensor z = x + bias;
  if (act == Activation::leaky_relu) return where(z > 0.0, g, g * slope);
  if (act == Activation::silu) {
    Tensor s = sigmoid(z);
    return g * s * (z * (1.0 - s) + 1.0);
  }
  Tensor cdf = (erf(z * M_SQRT1_2) + 1.0) * 0.5;
  Tensor pdf = exp(square(z) * -0.5) * (0.5 * M_2_SQRTPI * M_SQRT1_2);
  return g * (cdf + z * pdf);
}

// softmax_cross_entropy once the targets are known to be classes or ignore_index.
Tensor ce_checked(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                  double label_smoothing, const CeGeometry& geo) {
  const double eps = label_smoothing;
  const Shape x_view{geo.outer, geo.k, geo.inner}, t_view{geo.outer, 1, geo.inner};
  if (!has_fused(logits, FusedKernel::cross_entropy) || (weight.defined() && weight.requires_grad()))
    return reshape(ce_composite(reshape(logits, x_view), reshape(target, t_view), weight, ignore_index, eps),
                   target.shape());

  const TensorOptions opts{.dtype = logits.dtype(), .device = logits.device()};
  Tensor x3 = logits.detach().contiguous().reshape(x_view);
  Tensor t2 = target.contiguous().reshape({geo.outer, geo.inner});
  Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor loss = empty(target.shape(), opts);
  Tensor lse = empty({geo.outer, geo.inner}, {.dtype = DType::f64, .device = logits.device()});
  backend(logits.device())
      .cross_entropy(x3, t2, w, ignore_index, eps, loss.reshape({geo.outer, geo.inner}), lse);
  if (autograd::needs_grad({&logits})) {
    record(
        "softmax_cross_entropy", {logits, target, weight}, loss,
        [logits, x3, t2, w, lse, ignore_index, eps, geo, x_view, t_view](const Tensor& g, const Tensor&) {
          Tensor g3 = reshape(g, t_view);
          if (autograd::GradMode::is_enabled()) {  // recorded backward: written with ops
            Tensor t = target_distribution(reshape(t2, t_view), w, geo.k, ignore_index, eps, x3);
            Tensor p = softmax(reshape(logits, x_view), 1);
            Tensor gx = g3 * (p * sum(t, {1}, /*keepdim=*/true) - t);
            return Grads{reshape(gx, logits.shape()), Tensor(), Tensor()};
          }
          Tensor gx = ce_backward_kernel(x3, t2, w, ignore_index, eps, lse, g3);
          return Grads{gx.reshape(logits.shape()), Tensor(), Tensor()};
        },
        /*save_output=*/false, /*save_inputs=*/true);
  }
  return loss;
}

}  // namespace

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                             int64_t ignore_index, double label_smoothing) {
  const CeGeometry geo = check_ce(logits, target, weight, label_smoothing);
  check_ce_targets(target, geo.k, ignore_index);
  return ce_checked(logits, target, weight, ignore_index, label_smoothing, geo);
}

Tensor softmax_cross_entropy(const Tensor& logits, const autograd::ClassTargets& target, const Tensor& weight,
                             double label_smoothing) {
  const CeGeometry geo = check_ce(logits, target.tensor(), weight, label_smoothing);
  KILN_CHECK(target.classes() == geo.k,
             "softmax_cross_entropy: the targets were checked for K = ", target.classes(),
             " classes, but logits ", shape_str(logits.shape()), " have ", geo.k);
  return ce_checked(logits, target.tensor(), weight, target.ignore_index(), label_smoothing, geo);
}

Tensor bias_act(const Tensor& x, const Tensor& bias, Activation act, double negative_slope) {
  return trace::traced(
      "bias_act",
      [&]() -> Tensor {
        constexpr autograd::OpName op = "bias_act";
        check_defined(op, x);
        check_defined(op, bias, "bias");
        check_floating(op, x);
        check_same_device(op, {&x, &bias});
        check_same_dtype(op, x, bias);
        KILN_CHECK(x.dim() >= 1 && bias.dim() == 1 && bias.size(0) == x.size(-1), op, ": bias ",
                   shape_str(bias.shape()), " must be (D) for input ", shape_str(x.shape()), " (..., D)");
        if (!has_fused(x, FusedKernel::bias_act)) return activate(x + bias, act, negative_slope);

        const int64_t d = x.size(-1), n = d == 0 ? 0 : x.numel() / d;
        Tensor x2 = x.detach().contiguous().reshape({n, d});
        Tensor b = bias.detach().contiguous();
        Tensor y = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
        backend(x.device()).bias_act(act, negative_slope, x2, b, y.reshape({n, d}));
        if (autograd::needs_grad({&x, &bias})) {
          const bool from_input = reads_input(act);
          const bool gx_needed = x.requires_grad(), gb_needed = bias.requires_grad();
          // Only what the derivative reads is kept: the output for none / relu / sigmoid / tanh, x and bias
          // for the others.
          Tensor x_saved = from_input ? x : Tensor(), b_saved = from_input ? bias : Tensor();
          Tensor x2_saved = from_input ? x2 : Tensor();
          record(
              op, {x, bias}, y,
              [=](const Tensor& g, const Tensor& out) {
                Tensor gz;
                if (autograd::GradMode::is_enabled()) {  // recorded backward: written with ops
                  gz = act_grad_composite(act, negative_slope, g, x_saved, b_saved, out);
                } else {
                  gz = empty(g.shape(), {.dtype = g.dtype(), .device = g.device()});
                  backend(g.device())
                      .bias_act_backward(act, negative_slope, g.detach().contiguous().reshape({n, d}),
                                         x2_saved, from_input ? b_saved.detach().contiguous() : Tensor(),
                                         from_input ? Tensor() : out.detach().contiguous().reshape({n, d}),
                                         gz.reshape({n, d}));
                }
                return Grads{gx_needed ? gz : Tensor(), gb_needed ? sum_to(gz, {d}) : Tensor()};
              },
              /*save_output=*/!from_input, /*save_inputs=*/from_input);
        }
        return y;
      },
      [&] {
        return trace::OpRecord{{x, bias},
                               {{"act", static_cast<int64_t>(act)}, {"negative_slope", negative_slope}}};
      });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act,
              double negative_slope) {
  return trace::traced(
      "linear",
      [&]() -> Tensor {
        check_defined("linear", x);
        check_defined("linear", weight, "weight");
        // Autocast: cast the parameters themselves (not the transposed view), so its cache sees the leaves.
        if (autocast::needs_lower({&x, &weight, &bias}))
          return linear(autocast::lower(x), autocast::lower(weight), autocast::lower(bias), act,
                        negative_slope);
        KILN_CHECK(weight.dim() == 2, "linear: weight must be (D_out, D_in), got ",
                   shape_str(weight.shape()));
        KILN_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", shape_str(x.shape()),
                   " has ", (x.dim() ? x.size(-1) : 0), " features but weight ", shape_str(weight.shape()),
                   " expects ", weight.size(1));
        Tensor y = matmul(x, transpose(weight, 0, 1));
        if (!bias.defined()) return activate(y, act, negative_slope);
        KILN_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias ",
                   shape_str(bias.shape()), " does not match weight ", shape_str(weight.shape()));
        return bias_act(y, bias, act, negative_slope);
      },
      [&] {
        return trace::OpRecord{{x, weight, bias},
                               {{"act", static_cast<int64_t>(act)}, {"negative_slope", negative_slope}}};
      });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear(x, weight, bias, Activation::none);
}

}  // namespace kiln
