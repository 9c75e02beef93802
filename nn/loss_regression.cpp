// nn/loss_regression.cpp: mse_loss, l1_loss, smooth_l1_loss, huber_loss, margin_ranking_loss and
// cosine_embedding_loss, composed of elementwise ops, where and reductions. Depends on autograd/ops.h and
// nn/loss_detail.h.
#include "kiln/autograd/autocast.h"
#include "kiln/nn/loss.h"
#include "kiln/nn/loss_detail.h"

namespace kiln::nn::functional {

using detail::check_pair;
using detail::reduce_loss;

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  // Autocast runs every loss in f32 (see autograd/autocast.h).
  if (autocast::needs_f32({&input, &target}))
    return mse_loss(autocast::upper(input), autocast::upper(target), reduction);
  check_pair("mse_loss", input, target);
  return reduce_loss(square(input - target), reduction, "mse_loss");
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  if (autocast::needs_f32({&input, &target}))
    return l1_loss(autocast::upper(input), autocast::upper(target), reduction);
  check_pair("l1_loss", input, target);
  return reduce_loss(abs(input - target), reduction, "l1_loss");
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
  if (autocast::needs_f32({&input, &target}))
    return smooth_l1_loss(autocast::upper(input), autocast::upper(target), reduction, beta);
  check_pair("smooth_l1_loss", input, target);
  KILN_CHECK(beta >= 0.0, "smooth_l1_loss: beta must be >= 0, got ", beta);
  if (beta == 0.0) return reduce_loss(abs(input - target), reduction, "smooth_l1_loss");
  Tensor d = input - target;
  Tensor z = abs(d);
  // Both branches are finite everywhere, so where() never has to mask a NaN gradient.
  Tensor loss = where(z < beta, square(d) * (0.5 / beta), z - 0.5 * beta);
  return reduce_loss(loss, reduction, "smooth_l1_loss");
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
  if (autocast::needs_f32({&input, &target}))
    return huber_loss(autocast::upper(input), autocast::upper(target), reduction, delta);
  check_pair("huber_loss", input, target);
  KILN_CHECK(delta > 0.0, "huber_loss: delta must be > 0, got ", delta);
  Tensor d = input - target;
  Tensor z = abs(d);
  Tensor loss = where(z < delta, square(d) * 0.5, (z - 0.5 * delta) * delta);
  return reduce_loss(loss, reduction, "huber_loss");
}

namespace {

// A ±1 target in the inputs' dtype (integer targets are allowed and cast).
Tensor sign_target(const char* op, const Tensor& target, const Tensor& like) {
  detail::check_defined(op, target, "target");
  KILN_CHECK(target.dtype() != DType::boolean, op, ": target must hold 1 or -1 (a numeric dtype), got bool");
  KILN_CHECK(target.device() == like.device(), op, ": inputs are on ", like.device(), " but target on ",
             target.device());
  return target.dtype() == like.dtype() ? target : cast(target, like.dtype());
}

}  // namespace

Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin,
                           Reduction reduction) {
  const char* op = "margin_ranking_loss";
  check_pair(op, input1, input2, "input1", "input2");
  Tensor y = sign_target(op, target, input1);
  KILN_CHECK(y.shape() == input1.shape(), op, ": inputs ", shape_str(input1.shape()),
             " need a target of the same shape, got ", shape_str(y.shape()));
  Tensor loss = clamp(neg(y) * (input1 - input2) + margin, 0.0, std::nullopt);
  return reduce_loss(loss, reduction, op);
}

Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin,
                             Reduction reduction) {
  const char* op = "cosine_embedding_loss";
  check_pair(op, input1, input2, "input1", "input2");
  KILN_CHECK(input1.dim() == 1 || input1.dim() == 2, op, ": inputs must be (N, D) or (D), got ",
             shape_str(input1.shape()));
  Tensor y = sign_target(op, target, input1);
  Shape expected = input1.dim() == 2 ? Shape{input1.shape()[0]} : Shape{};
  KILN_CHECK(y.shape() == expected, op, ": inputs ", shape_str(input1.shape()), " need a target of shape ",
             shape_str(expected), ", got ", shape_str(y.shape()));
  int64_t d = input1.dim() - 1;
  // PyTorch adds its float constant 1e-12f (not the double 1e-12) to each squared norm.
  const double eps = static_cast<double>(1e-12f);
  Tensor dot = sum(input1 * input2, {d});
  Tensor cos = dot / sqrt((sum(square(input1), {d}) + eps) * (sum(square(input2), {d}) + eps));
  Tensor pos = where(eq(y, detail::scalar_as(1.0, y)), 1.0 - cos, 0.0);
  Tensor neg_part = where(eq(y, detail::scalar_as(-1.0, y)), clamp(cos - margin, 0.0, std::nullopt), 0.0);
  return reduce_loss(pos + neg_part, reduction, op);
}

}  // namespace kiln::nn::functional
