// Normalization layers' functional forms: batch_norm, layer_norm, group_norm.
// batch_norm is primitive: one kernel computes the statistics, updates the running ones and normalizes;
// its backward is a recorded op (one kernel for grad_x, grad_weight and grad_bias) whose own backward is
// written with ops (the formulas at bn_grad_x_backward), so gradients of any order work. The composite
// form remains for what the kernel does not serve: evaluation with running statistics that require grad,
// and dtypes a backend lacks. layer_norm and group_norm run the same kernels on a (1, rows, D) view (each
// row normalized by its own statistics), then apply their affine parameters with ops.
// Depends on ops/common.h and the kernel table's batch_norm entries.
#include <algorithm>
#include <memory>

#include "kiln/autograd/autocast.h"
#include "kiln/autograd/ops/common.h"

namespace kiln {
using namespace autograd::detail;

namespace {

// The (1, C, 1, ...) view of a per-channel tensor (C) for an input of rank ndim.
Tensor channel_view(const Tensor& t, int64_t ndim) {
  Shape s(ndim, 1);
  s[1] = t.size(0);
  return reshape(t, s);
}

void check_per_channel(const char* op, const Tensor& t, const char* what, const Tensor& x) {
  if (!t.defined()) return;
  KILN_CHECK(t.dim() == 1 && t.size(0) == x.size(1), op, ": ", what, " ", shape_str(t.shape()), " must be (",
             x.size(1), ") for input ", shape_str(x.shape()));
  check_same_dtype(op, x, t);
}

Tensor affine(const Tensor& y, const Tensor& weight, const Tensor& bias, bool per_channel) {
  Tensor out = y;
  if (weight.defined()) out = out * (per_channel ? channel_view(weight, y.dim()) : weight);
  if (bias.defined()) out = out + (per_channel ? channel_view(bias, y.dim()) : bias);
  return out;
}

}  // namespace

namespace {
using autograd::record;
using Grads = std::vector<Tensor>;

// The composite form: for evaluation with running statistics that require grad, and for dtypes the
// device's kernel table lacks. Arguments are validated by batch_norm.
Tensor batch_norm_composite(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                            const Tensor& weight, const Tensor& bias, bool training, double momentum,
                            double eps) {
  Shape dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor y;
  if (training) {
    const int64_t count = x.numel() / x.size(1);
    Tensor mu = mean(x, dims, /*keepdim=*/true);
    Tensor centered = x - mu;
    Tensor v = mean(square(centered), dims, /*keepdim=*/true);  // biased, for normalizing
    y = centered * rsqrt(v + eps);
    NoGradGuard no_grad;
    if (running_mean.defined()) {
      Tensor m = running_mean;
      m.mul_(1.0 - momentum);
      m.add_(reshape(mu.detach(), {x.size(1)}), momentum);
    }
    if (running_var.defined()) {
      Tensor r = running_var;
      r.mul_(1.0 - momentum);
      r.add_(reshape(v.detach(), {x.size(1)}), momentum * double(count) / double(count - 1));
    }
  } else {
    y = (x - channel_view(running_mean, x.dim())) * rsqrt(channel_view(running_var, x.dim()) + eps);
  }
  return affine(y, weight, bias, /*per_channel=*/true);
}

Tensor raw(const Tensor& t) { return t.defined() ? contiguous(t.detach()) : Tensor(); }

// What the backward of one primitive batch_norm call needs besides grad_out, x and weight.
struct BnSaved {
  Tensor mean, invstd;  // (C), no history: the batch statistics (training) or the running ones
  bool training = true;
  double eps = 0;
};
using BnSavedPtr = std::shared_ptr<const BnSaved>;

// The per-channel formulas below work on (N, C, S) views of x-shaped tensors and (1, C, 1) views of
// per-channel ones; <t> is t's mean over N and S per channel (keepdim), M the count it divides by.
struct Views {
  Shape shape3, channel;
  Tensor to3(const Tensor& t) const { return reshape(t, shape3); }
  Tensor per_channel(const Tensor& t) const { return reshape(t, channel); }
};
Views views_of(const Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1);
  return Views{{n, c, n * c == 0 ? 0 : x.numel() / (n * c)}, {1, c, 1}};
}
Tensor cmean(const Tensor& t) { return mean(t, {0, 2}, /*keepdim=*/true); }
Tensor csum(const Tensor& t, int64_t c) { return reshape(sum(t, {0, 2}), {c}); }

// xhat = (x - mean) invstd (N, C, S) and invstd (1, C, 1). In training they are recomputed with ops
// when x requires grad, because then the batch statistics move with x and higher-order gradients must see
// it; otherwise the saved values serve.
std::pair<Tensor, Tensor> normalized(const Tensor& x, const BnSaved& s, const Views& v) {
  Tensor x3 = v.to3(x);
  if (s.training && x.requires_grad()) {
    Tensor centered = x3 - cmean(x3);
    Tensor r = rsqrt(cmean(square(centered)) + s.eps);
    return {centered * r, r};
  }
  Tensor r = v.per_channel(s.invstd);
  return {(x3 - v.per_channel(s.mean)) * r, r};
}

// Backward of grad_x = w r (g - <g> - xhat <g xhat>) (training) or w r g (evaluation), given u, the
// gradient reaching grad_x. With L = sum(u grad_x), per channel:
//   dL/dg = w r (u - <u> - xhat <u xhat>)                          (the same projection, applied to u)
//   dL/dw = r sum(u (g - <g> - xhat <g xhat>))
//   dL/dx = r (h - <h> - xhat <h xhat>) - w r^2 xhat (<u g> - <u><g> - <u xhat><g xhat>),
//           h = -w r (g <u xhat> + u <g xhat>)                     (through xhat, and through r itself)
// and in evaluation dL/dg = w r u, dL/dw = r sum(u g), dL/dx = 0.
Grads bn_grad_x_backward(const Tensor& u, const Tensor& g, const Tensor& x, const Tensor& w,
                         const BnSaved& s) {
  const Views v = views_of(x);
  const int64_t c = x.size(1);
  Tensor u3 = v.to3(u), g3 = v.to3(g);
  auto [xhat, r] = normalized(x, s, v);
  Tensor w3 = w.defined() ? v.per_channel(w) : Tensor();
  Tensor wr = w.defined() ? w3 * r : r;
  Tensor dg, dw, dx;
  if (!s.training) {
    if (g.requires_grad()) dg = reshape(wr * u3, g.shape());
    if (w.defined() && w.requires_grad()) dw = csum(r * (u3 * g3), c);
    return {dg, dx, dw};
  }
  Tensor mean_u = cmean(u3), mean_uh = cmean(u3 * xhat), mean_g = cmean(g3), mean_gh = cmean(g3 * xhat);
  if (g.requires_grad()) dg = reshape(wr * (u3 - mean_u - xhat * mean_uh), g.shape());
  if (w.defined() && w.requires_grad()) dw = csum(r * (u3 * (g3 - mean_g - xhat * mean_gh)), c);
  if (x.requires_grad()) {
    Tensor h = -(wr * (g3 * mean_uh + u3 * mean_gh));
    Tensor through_r = (wr * r) * (cmean(u3 * g3) - mean_u * mean_g - mean_uh * mean_gh);
    dx = reshape(r * (h - cmean(h) - xhat * cmean(h * xhat)) - through_r * xhat, x.shape());
  }
  return {dg, dx, dw};
}

// Backward of grad_weight = sum(g xhat), given u (C): dL/dg = u xhat; dL/dx = u r (g - <g> - xhat <g xhat>)
// in training (xhat's own derivative), u r g in evaluation.
Grads bn_grad_weight_backward(const Tensor& u, const Tensor& g, const Tensor& x, const BnSaved& s) {
  const Views v = views_of(x);
  Tensor u3 = v.per_channel(u), g3 = v.to3(g);
  auto [xhat, r] = normalized(x, s, v);
  Tensor dg, dx;
  if (g.requires_grad()) dg = reshape(u3 * xhat, g.shape());
  if (x.requires_grad()) {
    Tensor ur = u3 * r;
    dx = reshape(s.training ? ur * (g3 - cmean(g3) - xhat * cmean(g3 * xhat)) : ur * g3, x.shape());
  }
  return {dg, dx};
}

// The backward op: one kernel for the wanted gradients, each recorded as its own node (one differentiable
// output per node) when grad_out, x or weight require grad (double backward).
Grads bn_backward(const Tensor& g, const Tensor& x, const Tensor& w, const BnSavedPtr& s, bool want_x,
                  bool want_w, bool want_b) {
  const int64_t c = x.size(1);
  const TensorOptions vec{.dtype = x.dtype(), .device = x.device()};
  Tensor gx = want_x ? empty(x.shape(), vec) : Tensor();
  Tensor gw = want_w ? empty({c}, vec) : Tensor(), gb = want_b ? empty({c}, vec) : Tensor();
  backend(x.device())
      .batch_norm_backward(raw(g), raw(x), raw(w), s->mean, s->invstd, s->training, gx, gw, gb);
  if (want_x && autograd::needs_grad({&g, &x, &w})) {
    record(
        "batch_norm_backward", {g, x, w}, gx,
        [g, x, w, s](const Tensor& u, const Tensor&) { return bn_grad_x_backward(u, g, x, w, *s); },
        /*save_output=*/false, /*save_inputs=*/true);
  }
  if (want_w && autograd::needs_grad({&g, &x})) {
    record(
        "batch_norm_backward_weight", {g, x}, gw,
        [g, x, s](const Tensor& u, const Tensor&) { return bn_grad_weight_backward(u, g, x, *s); },
        /*save_output=*/false, /*save_inputs=*/true);
  }
  if (want_b && autograd::needs_grad({&g})) {
    const Views v = views_of(x);
    const Shape g_shape = g.shape();
    record("batch_norm_backward_bias", {g}, gb, [v, g_shape](const Tensor& u, const Tensor&) {
      return Grads{reshape(expand(v.per_channel(u), v.shape3), g_shape)};
    });
  }
  return {gx, gw, gb};
}

// The kernel form. Running statistics that are not contiguous are updated through a contiguous copy.
Tensor batch_norm_primitive(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                            const Tensor& weight, const Tensor& bias, bool training, double momentum,
                            double eps) {
  const int64_t c = x.size(1);
  const TensorOptions vec{.dtype = x.dtype(), .device = x.device()};
  auto s = std::make_shared<BnSaved>();
  s->mean = empty({c}, vec), s->invstd = empty({c}, vec), s->training = training, s->eps = eps;
  Tensor out = empty(x.shape(), vec);
  Tensor rm = raw(running_mean), rv = raw(running_var);
  backend(x.device())
      .batch_norm_forward(raw(x), raw(weight), raw(bias), rm, rv, training, momentum, eps, out, s->mean,
                          s->invstd);
  if (training) {
    for (auto [stat, used] : {std::pair{running_mean, rm}, std::pair{running_var, rv}}) {
      if (!stat.defined()) continue;
      if (used.storage() != stat.storage()) stat.detach().copy_(used);
      stat.storage()->bump_version();
    }
  }
  if (autograd::needs_grad({&x, &weight, &bias})) {
    BnSavedPtr saved = s;
    record(
        "batch_norm", {x, weight, bias}, out,
        [x, weight, bias, saved](const Tensor& g, const Tensor&) {
          return bn_backward(g, x, weight, saved, x.requires_grad(),
                             weight.defined() && weight.requires_grad(),
                             bias.defined() && bias.requires_grad());
        },
        /*save_output=*/false, /*save_inputs=*/true);
  }
  return out;
}

// Each row of x viewed as (R, D) normalized by its own mean and biased variance, without affine: batch
// norm's training kernel on a (1, R, D) view (R channels of D values each), so layer_norm and group_norm
// share its kernels and its gradients of every order. Composite where the device lacks the kernel.
Tensor normalize_rows(const Tensor& x, int64_t rows, double eps) {
  const int64_t d = rows == 0 ? 0 : x.numel() / rows;
  Tensor x3 = reshape(x, {1, rows, d});
  Tensor y;
  if (backend(x.device()).supports(BatchNormKernel::forward, x.dtype())) {
    y = batch_norm_primitive(x3, {}, {}, {}, {}, /*training=*/true, 0.0, eps);
  } else {
    Tensor centered = x3 - mean(x3, {2}, /*keepdim=*/true);
    y = centered * rsqrt(mean(square(centered), {2}, /*keepdim=*/true) + eps);
  }
  return reshape(y, x.shape());
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  return trace::traced(
      "batch_norm",
      [&]() -> Tensor {
        const char* op = "batch_norm";
        check_defined(op, x);
        if (autocast::needs_f32({&x, &weight, &bias}))
          return batch_norm(autocast::upper(x), running_mean, running_var, autocast::upper(weight),
                            autocast::upper(bias), training, momentum, eps);
        check_floating(op, x);
        check_same_device(op, {&x, &running_mean, &running_var, &weight, &bias});
        KILN_CHECK(x.dim() >= 2 && x.dim() <= 5, op,
                   ": input must be (N, C), (N, C, L) or (N, C, H, W), got ", shape_str(x.shape()));
        check_per_channel(op, running_mean, "running_mean", x);
        check_per_channel(op, running_var, "running_var", x);
        check_per_channel(op, weight, "weight", x);
        check_per_channel(op, bias, "bias", x);
        KILN_CHECK(eps >= 0, op, ": eps must be non-negative, got ", eps);
        if (training) {
          const int64_t count = x.size(1) == 0 ? 0 : x.numel() / x.size(1);
          KILN_CHECK(count > 1, op, ": training needs more than one value per channel, got input ",
                     shape_str(x.shape()));
        } else {
          KILN_CHECK(running_mean.defined() && running_var.defined(), op,
                     ": evaluation mode (training = false) needs running_mean and running_var; input ",
                     shape_str(x.shape()));
        }
        const bool stats_need_grad = !training && autograd::needs_grad({&running_mean, &running_var});
        if (stats_need_grad || !backend(x.device()).supports(BatchNormKernel::forward, x.dtype()))
          return batch_norm_composite(x, running_mean, running_var, weight, bias, training, momentum, eps);
        return batch_norm_primitive(x, running_mean, running_var, weight, bias, training, momentum, eps);
      },
      [&] {
        return trace::OpRecord{{x, running_mean, running_var, weight, bias},
                               {{"training", int64_t{training}}, {"eps", eps}}};
      });
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "layer_norm";
  check_defined(op, x);
  if (autocast::needs_f32({&x, &weight, &bias}))
    return layer_norm(autocast::upper(x), normalized_shape, autocast::upper(weight), autocast::upper(bias),
                      eps);
  check_floating(op, x);
  check_same_device(op, {&x, &weight, &bias});
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  KILN_CHECK(k >= 1 && k <= x.dim() &&
                 std::equal(normalized_shape.begin(), normalized_shape.end(), x.shape().end() - k),
             op, ": normalized_shape ", shape_str(normalized_shape), " must match the last dims of input ",
             shape_str(x.shape()));
  for (const Tensor* t : {&weight, &bias}) {
    if (!t->defined()) continue;
    KILN_CHECK(t->shape() == normalized_shape, op, ": ", (t == &weight ? "weight " : "bias "),
               shape_str(t->shape()), " must have normalized_shape ", shape_str(normalized_shape));
    check_same_dtype(op, x, *t);
  }
  int64_t rows = 1;
  for (int64_t d = 0; d < x.dim() - k; ++d) rows *= x.size(d);
  return affine(normalize_rows(x, rows, eps), weight, bias, /*per_channel=*/false);
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  check_defined(op, x);
  if (autocast::needs_f32({&x, &weight, &bias}))
    return group_norm(autocast::upper(x), num_groups, autocast::upper(weight), autocast::upper(bias), eps);
  check_floating(op, x);
  check_same_device(op, {&x, &weight, &bias});
  KILN_CHECK(x.dim() >= 2, op, ": input must be (N, C, ...), got ", shape_str(x.shape()));
  KILN_CHECK(num_groups >= 1 && x.size(1) % num_groups == 0, op, ": channels (", x.size(1),
             ") must be divisible by num_groups (", num_groups, "); input ", shape_str(x.shape()));
  check_per_channel(op, weight, "weight", x);
  check_per_channel(op, bias, "bias", x);
  return affine(normalize_rows(x, x.size(0) * num_groups, eps), weight, bias, /*per_channel=*/true);
}

}  // namespace kiln
