// tests/test_fused.cpp: the fused ops on the CPU beyond the op table (tests/support/op_cases.cpp, which
// gradchecks them): softmax_cross_entropy against the composite formula and at awkward values, their
// errors, bias_act against the unfused ops, and nn::Sequential's Linear + activation fusion (same values,
// same gradients, hooks still fire, shown by operator<<, and off when switched off).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "support/graph.h"
#include "support/helpers.h"

namespace kiln::testing {
namespace {

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  auto g = values(got), w = values(want);
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::abs(g[i] - w[i]), tol * (1 + std::abs(w[i])))
        << "element " << i << ": " << g[i] << " vs " << w[i];
}

// The per-element loss spelled with ops: -sum_k T_k log_softmax(x)_k, T the smoothed, weighted target.
Tensor reference_ce(const Tensor& x, const Tensor& t, const Tensor& w, int64_t ignore, double eps) {
  const int64_t k = x.size(1);
  Tensor safe = where(eq(t, full({}, static_cast<double>(ignore), {.dtype = DType::i64})), 0.0, t);
  Tensor hit = cast(one_hot(safe, k), x.dtype());
  Tensor wv = w.defined() ? w : ones({k}, {.dtype = x.dtype()});
  Tensor dist = hit * wv * (1.0 - eps) + wv * (eps / static_cast<double>(k));
  Tensor loss = neg(sum(dist * log_softmax(x, 1), {1}));
  return where(eq(t, full({}, static_cast<double>(ignore), {.dtype = DType::i64})), 0.0, loss);
}

TEST(FusedCrossEntropy, MatchesTheCompositeFormulaWithGradients) {
  manual_seed(3);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = (randn({7, 6}) * 3.0).to(dt).requires_grad_();
    Tensor t = from_vector(std::vector<double>{0, 5, 2, 2, -1, 4, 1}, Shape{7}, DType::i64);
    Tensor w = (rand({6}) + 0.5).to(dt);
    Tensor got = softmax_cross_entropy(x, t, w, /*ignore_index=*/-1, 0.15);
    Tensor g = rand({7}).to(dt);
    Tensor gx = autograd::grad({got}, {x}, {g})[0];
    Tensor want = reference_ce(x, t, w, -1, 0.15);
    Tensor gx_want = autograd::grad({want}, {x}, {g})[0];
    const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
    expect_close(got, want, tol);
    expect_close(gx, gx_want, tol);
  }
}

TEST(FusedCrossEntropy, MinusInfinityOutsideTheTargetStaysFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor x = from_vector(std::vector<double>{1, -inf, 2, 0, 0.5, -inf}, Shape{2, 3}).requires_grad_();
  Tensor t = from_vector(std::vector<double>{0, 1}, Shape{2}, DType::i64);
  Tensor loss = softmax_cross_entropy(x, t);
  sum(loss).backward();
  for (double v : values(loss)) EXPECT_TRUE(std::isfinite(v)) << v;
  for (double v : values(x.grad())) EXPECT_TRUE(std::isfinite(v)) << v;
  EXPECT_EQ(values(x.grad())[1], 0.0);  // exp(-inf) = 0: no gradient at the -inf logit
}

TEST(FusedCrossEntropy, IgnoredRowsHaveZeroLossAndGradient) {
  Tensor x = randn({3, 4}).requires_grad_();
  Tensor t = from_vector(std::vector<double>{7, 2, 7}, Shape{3}, DType::i64);
  Tensor loss = softmax_cross_entropy(x, t, {}, /*ignore_index=*/7, 0.3);
  sum(loss).backward();
  auto l = values(loss), g = values(x.grad());
  EXPECT_EQ(l[0], 0.0);
  EXPECT_EQ(l[2], 0.0);
  EXPECT_GT(l[1], 0.0);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(g[k], 0.0);
    EXPECT_EQ(g[8 + k], 0.0);
  }
}

TEST(FusedCrossEntropy, SecondOrderGradientsFollowTheComposite) {
  Tensor x = randn({3, 4}, {.dtype = DType::f64}).requires_grad_();
  Tensor t = from_vector(std::vector<double>{1, 3, 0}, Shape{3}, DType::i64);
  Tensor gx = autograd::grad({sum(softmax_cross_entropy(x, t, {}, -100, 0.1))}, {x}, {}, true, true)[0];
  Tensor gx_ref = autograd::grad({sum(reference_ce(x, t, {}, -100, 0.1))}, {x}, {}, true, true)[0];
  Tensor v = randn({3, 4}, {.dtype = DType::f64});
  Tensor hv = autograd::grad({sum(gx * v)}, {x})[0];
  Tensor hv_ref = autograd::grad({sum(gx_ref * v)}, {x})[0];
  expect_close(hv, hv_ref, 1e-10);
}

TEST(FusedCrossEntropy, ErrorsNameTheOpAndShapes) {
  Tensor x = randn({4, 3});
  Tensor t = from_vector(std::vector<double>{0, 1, 2, 1}, Shape{4}, DType::i64);
  EXPECT_CONTAINS(error_of([&] {
                    softmax_cross_entropy(x, reshape(t, {2, 2}));
                  }),
                  "softmax_cross_entropy: logits [4, 3] need a target of shape [4], got [2, 2]");
  EXPECT_CONTAINS(error_of([&] { softmax_cross_entropy(x, cast(t, DType::f32)); }),
                  "softmax_cross_entropy: target must hold i64 class indices");
  EXPECT_CONTAINS(
      error_of([&] {
        softmax_cross_entropy(x, from_vector(std::vector<double>{0, 3, 1, 1}, Shape{4}, DType::i64));
      }),
      "softmax_cross_entropy: target holds 3, not a class in [0, 3) nor ignore_index (-100)");
  EXPECT_CONTAINS(error_of([&] { softmax_cross_entropy(x, t, ones({4})); }),
                  "softmax_cross_entropy: weight must be (K) = (3), got [4]");
  EXPECT_CONTAINS(error_of([&] { softmax_cross_entropy(x, t, {}, -100, 1.5); }),
                  "softmax_cross_entropy: label_smoothing must be in [0, 1], got 1.5");
  EXPECT_CONTAINS(error_of([&] { softmax_cross_entropy(zeros({4, 0}), t); }), "have no classes");
  EXPECT_CONTAINS(error_of([&] { softmax_cross_entropy(zeros({}), t); }),
                  "softmax_cross_entropy: logits must be");
}

TEST(FusedSoftmax, LargeLogitsDoNotOverflowInEitherLayout) {
  Tensor x = from_vector(std::vector<double>{1000, 1001, 999, -1000, 0, 1000}, Shape{2, 3}, DType::f32);
  auto p = values(softmax(x, 1));
  EXPECT_NEAR(p[1], 0.66524096, 1e-6);
  EXPECT_NEAR(p[5], 1.0, 1e-6);
  auto q = values(log_softmax(x, 0));  // the strided (I > 1) path
  EXPECT_NEAR(q[0], 0.0, 1e-6);
  EXPECT_NEAR(q[3], -2000.0, 1e-3);
  EXPECT_FALSE(std::isnan(q[4]));
}

// Targets a loss has checked reach the op without a second scan, give the same loss, count the ignored
// entries, and cannot be used with logits of another class count.
TEST(FusedCrossEntropy, CheckedTargetsAreCountedAndBoundToTheirK) {
  manual_seed(8);
  Tensor x = randn({5, 3});
  Tensor t = from_vector(std::vector<double>{0, -100, 2, -100, 1}, Shape{5}, DType::i64);
  const autograd::ClassTargets checked = autograd::check_class_targets("my_loss", x, t, 3, -100);
  EXPECT_EQ(checked.ignored(), 2);
  EXPECT_EQ(checked.classes(), 3);
  EXPECT_EQ(values(softmax_cross_entropy(x, checked, {}, 0.1)),
            values(softmax_cross_entropy(x, t, {}, -100, 0.1)));
  EXPECT_CONTAINS(
      error_of([&] {
        softmax_cross_entropy(randn({5, 4}), checked, {}, 0.0);
      }),
      "softmax_cross_entropy: the targets were checked for K = 3 classes, but logits [5, 4] have 4");
  EXPECT_CONTAINS(
      error_of([&] { autograd::check_class_targets("my_loss", x, t, 2, -100); }),
      "my_loss: target holds class index 2, out of range for K = 2 classes (input [5, 3], target [5]");
  EXPECT_CONTAINS(error_of([&] { autograd::check_class_targets("my_loss", x, t, 3, 0); }),
                  "my_loss: target holds the negative class index -100");
  EXPECT_CONTAINS(error_of([&] { autograd::check_class_targets("my_loss", x, cast(t, DType::f32), 3, 0); }),
                  "my_loss: class-index target must be i64");
}

// bias_act against the unfused add + activation, values and both gradients.
TEST(FusedBiasAct, MatchesAddThenActivation) {
  const std::pair<Activation, std::function<Tensor(const Tensor&)>> cases[] = {
      {Activation::none, [](const Tensor& z) { return z; }},
      {Activation::relu, [](const Tensor& z) { return relu(z); }},
      {Activation::gelu, [](const Tensor& z) { return gelu(z); }},
      {Activation::silu, [](const Tensor& z) { return silu(z); }},
      {Activation::sigmoid, [](const Tensor& z) { return sigmoid(z); }},
      {Activation::tanh, [](const Tensor& z) { return tanh(z); }},
      {Activation::leaky_relu, [](const Tensor& z) { return leaky_relu(z, 0.1); }}};
  manual_seed(5);
  for (const auto& [act, f] : cases) {
    Tensor x = (randn({9, 40}) * 2.0).requires_grad_();
    Tensor b = randn({40}).requires_grad_();
    Tensor g = randn({9, 40});
    Tensor y = bias_act(x, b, act, 0.1);
    auto grads = autograd::grad({y}, {x, b}, {g});
    Tensor y_ref = f(x + b);
    auto grads_ref = autograd::grad({y_ref}, {x, b}, {g});
    SCOPED_TRACE(activation_name(act));
    expect_close(y, y_ref, 1e-6);
    expect_close(grads[0], grads_ref[0], 1e-6);
    expect_close(grads[1], grads_ref[1], 1e-5);
  }
}

TEST(FusedBiasAct, ErrorsNameTheOpAndShapes) {
  EXPECT_CONTAINS(error_of([] {
                    bias_act(zeros({2, 3}), zeros({4}), Activation::relu);
                  }),
                  "bias_act: bias [4] must be (D) for input [2, 3] (..., D)");
  EXPECT_CONTAINS(error_of([] {
                    bias_act(zeros({2, 3}), zeros({3}, {.dtype = DType::f64}), Activation::relu);
                  }),
                  "bias_act");
  EXPECT_CONTAINS(error_of([] { bias_act(zeros({2, 3}), Tensor(), Activation::relu); }), "bias_act: bias");
  EXPECT_CONTAINS(error_of([] {
                    linear(zeros({2, 3}), zeros({4, 3}), zeros({5}), Activation::relu);
                  }),
                  "linear: bias [5] does not match weight [4, 3]");
}

// Runs `model` fused (Sequential::forward) and its children one by one, on the same parameters.
void expect_fusion_invisible(nn::Sequential& model, const Tensor& x) {
  Tensor g = randn({x.size(0), 5});
  Tensor y = model(x);
  auto params = model.parameters();
  auto grads = autograd::grad({y}, params, {g});
  Tensor y_ref = x;
  for (size_t i = 0; i < model.size(); ++i) y_ref = (*model[static_cast<int64_t>(i)])(y_ref);
  auto grads_ref = autograd::grad({y_ref}, params, {g});
  expect_close(y, y_ref, 1e-6);
  for (size_t i = 0; i < params.size(); ++i) expect_close(grads[i], grads_ref[i], 1e-5);
}

TEST(FusedSequential, LinearActivationFusionIsInvisible) {
  manual_seed(11);
  nn::Sequential relu_model{nn::Linear(6, 8), nn::ReLU(), nn::Linear(8, 5), nn::Tanh()};
  nn::Sequential gelu_model{nn::Linear(6, 8),   nn::GELU(),       nn::Linear(8, 8),
                            nn::LeakyReLU(0.3), nn::Linear(8, 5), nn::SiLU()};
  nn::Sequential sigmoid_model{nn::Linear(6, 5, /*bias=*/false), nn::Sigmoid()};
  Tensor x = randn({10, 6});
  expect_fusion_invisible(relu_model, x);
  expect_fusion_invisible(gelu_model, x);
  expect_fusion_invisible(sigmoid_model, x);
}

TEST(FusedSequential, HooksStillFireAndTheirResultsCount) {
  manual_seed(12);
  nn::Sequential model{nn::Linear(4, 5), nn::ReLU()};
  Tensor x = randn({3, 4});
  Tensor plain = model(x);
  int act_calls = 0, lin_calls = 0;
  int64_t act_hook = model[1]->register_forward_hook([&](nn::Module&, const Tensor& in, const Tensor& out) {
    ++act_calls;
    EXPECT_EQ(in.shape(), (Shape{3, 5}));  // the activation saw the Linear's output
    return out * 2.0;
  });
  Tensor hooked = model(x);
  EXPECT_EQ(act_calls, 1);
  expect_close(hooked, plain * 2.0, 1e-6);
  model[1]->remove_hook(act_hook);
  int64_t lin_hook = model[0]->register_forward_pre_hook([&](nn::Module&, const Tensor&) {
    ++lin_calls;
    return Tensor();
  });
  expect_close(model(x), plain, 1e-6);
  EXPECT_EQ(lin_calls, 1);
  model[0]->remove_hook(lin_hook);
  expect_close(model(x), plain, 0.0);
}

std::string printed(const nn::Module& m) {
  std::ostringstream os;
  os << m;
  return os.str();
}

TEST(FusedSequential, OperatorPrintMarksEachFusedPair) {
  nn::Sequential model{nn::Linear(6, 8), nn::ReLU(),       nn::Linear(8, 8),
                       nn::Dropout(0.1), nn::Linear(8, 5), nn::LeakyReLU(0.3)};
  const std::string text = printed(model);
  EXPECT_CONTAINS(text,
                  "(0): Linear(in_features=6, out_features=8, bias=true)  # fused with (1): linear + relu "
                  "in one pass\n  (1): ReLU()\n");
  EXPECT_CONTAINS(text, "(2): Linear(in_features=8, out_features=8, bias=true)\n");  // Dropout does not fuse
  EXPECT_CONTAINS(text,
                  "(4): Linear(in_features=8, out_features=5, bias=true)  # fused with (5): linear + "
                  "leaky_relu in one pass\n");
  // A hooked pair runs unfused, and the print says so.
  int64_t hook =
      model[1]->register_forward_hook([](nn::Module&, const Tensor&, const Tensor& y) { return y; });
  EXPECT_CONTAINS(printed(model), "(0): Linear(in_features=6, out_features=8, bias=true)\n");
  model[1]->remove_hook(hook);
  model.set_fuse_linear_activation(false);
  EXPECT_EQ(printed(model).find("fused"), std::string::npos) << printed(model);
}

TEST(FusedSequential, SwitchedOffRunsEveryChildOnItsOwn) {
  manual_seed(13);
  nn::Sequential model{nn::Linear(6, 8), nn::GELU(), nn::Linear(8, 5), nn::Sigmoid()};
  EXPECT_TRUE(model.fuse_linear_activation());  // the default
  Tensor x = randn({7, 6});
  // Fused, each activation is applied inside a bias_act node (Linear's own bias add is a bias_act too).
  auto fused_ops = graph_ops(model(x));
  EXPECT_EQ(fused_ops.count("gelu") + fused_ops.count("sigmoid"), 0u);

  model.set_fuse_linear_activation(false);
  EXPECT_FALSE(model.fuse_linear_activation());
  Tensor y = model(x);
  auto plain_ops = graph_ops(y);
  EXPECT_EQ(plain_ops.count("gelu"), 1u);
  EXPECT_EQ(plain_ops.count("sigmoid"), 1u);
  // Unfused is exactly the children called one after the other.
  Tensor y_ref = x;
  for (size_t i = 0; i < model.size(); ++i) y_ref = (*model[static_cast<int64_t>(i)])(y_ref);
  EXPECT_EQ(values(y), values(y_ref));
  expect_fusion_invisible(model, x);
}

TEST(FusedSequential, ShapeErrorsStillNameTheLinear) {
  nn::Sequential model{nn::Linear(4, 5), nn::ReLU()};
  EXPECT_CONTAINS(error_of([&] {
                    model(zeros({2, 3}));
                  }),
                  "Linear(4, 5): input of shape [2, 3] does not end in 4 features");
}

}  // namespace
}  // namespace kiln::testing
