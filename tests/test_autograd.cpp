// tests/test_autograd.cpp: the tape (autograd/): leaf gradients and their accumulation, graph freeing and
// retain_graph, NoGradGuard, leaf and in-place checks, kiln::autograd::grad, second-order gradients and
// gradgradcheck, gradcheck's own ability to fail, tensors modified after being saved for backward,
// memory that stays flat over 10,000 training steps, and independent graphs (also across threads).
// Depends on GoogleTest and kiln::kiln.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <kiln/kiln.h>

#include "support/helpers.h"

using kiln::DType;
using kiln::NoGradGuard;
using kiln::Shape;
using kiln::Tensor;
using kiln::autograd::GradMode;
using kiln::autograd::Node;
using kiln::testing::error_of;

namespace {

// A leaf tensor that requires grad.
Tensor leaf(const std::vector<double>& v, const Shape& shape = {}) {
  Tensor t = kiln::from_vector(v, shape.empty() ? Shape{static_cast<int64_t>(v.size())} : shape);
  t.requires_grad_();
  return t;
}
Tensor leaf_f32(const std::vector<float>& v) {
  Tensor t = kiln::from_vector(v);
  t.requires_grad_();
  return t;
}

void expect_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  ASSERT_TRUE(t.defined());
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], tol) << "element " << i;
}

// ---------------------------------------------------------------------------------------------------
// Basics: requires_grad, .grad(), accumulation, retain_graph.

TEST(Backward, ScalarBackwardFillsLeafGrad) {
  Tensor x = leaf({1.0, -2.0, 3.0});
  Tensor w = kiln::from_vector(std::vector<double>{2.0, 2.0, 2.0});  // no grad
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(w.requires_grad());
  EXPECT_FALSE(x.grad().defined());  // nothing before the first backward
  Tensor y = (x * x * w).sum();
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_STREQ(y.grad_fn()->name(), "sum");
  y.backward();
  expect_values(x.grad(), {4.0, -8.0, 12.0});  // 2 w x
  EXPECT_EQ(x.grad().shape(), x.shape());
  EXPECT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_FALSE(x.grad().requires_grad());
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(y.grad().defined());  // non-leaves keep no .grad()
}

TEST(Backward, GradientsAccumulateAcrossSeparateGraphs) {
  Tensor x = leaf({1.0, 2.0});
  (x * x).sum().backward();
  expect_values(x.grad(), {2.0, 4.0});
  (x * 3.0).sum().backward();
  expect_values(x.grad(), {5.0, 7.0});
  x.grad().zero_();
  (x * x * x).sum().backward();
  expect_values(x.grad(), {3.0, 12.0});
  x.set_grad(Tensor());
  EXPECT_FALSE(x.grad().defined());
  x.sum().backward();
  expect_values(x.grad(), {1.0, 1.0});
}

TEST(Backward, LeafUsedTwiceInOneGraphSumsItsGradients) {
  Tensor x = leaf({2.0, -1.0});
  Tensor y = (x * x + x * 3.0 + x.exp()).sum();
  y.backward();
  expect_values(x.grad(), {2 * 2.0 + 3 + std::exp(2.0), 2 * -1.0 + 3 + std::exp(-1.0)});
  // A diamond: one intermediate feeding two branches.
  Tensor z = leaf({0.5});
  Tensor h = z * 2.0;
  (kiln::sin(h) * kiln::cos(h)).sum().backward();  // d/dz sin(2z)cos(2z) = 2 cos(4z)
  expect_values(z.grad(), {2.0 * std::cos(2.0)}, 1e-12);
}

TEST(Backward, BroadcastGradientsAreSummedBackToEachShape) {
  Tensor a = leaf({1.0, 2.0, 3.0}, {3, 1});
  Tensor b = leaf({1.0, 10.0, 100.0, 1000.0}, {1, 4});
  (a * b).sum().backward();
  EXPECT_EQ(a.grad().shape(), (Shape{3, 1}));
  EXPECT_EQ(b.grad().shape(), (Shape{1, 4}));
  expect_values(a.grad(), {1111.0, 1111.0, 1111.0});
  expect_values(b.grad(), {6.0, 6.0, 6.0, 6.0});
}

TEST(Backward, RetainGraphAllowsASecondBackward) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = (x * x).exp().sum();
  y.backward(Tensor(), /*retain_graph=*/true);
  std::vector<double> once = x.grad().to_vector<double>();
  y.backward();
  expect_values(x.grad(), {2 * once[0], 2 * once[1]}, 1e-9);
  expect_values(kiln::from_vector(once), {2 * std::exp(1.0), 4 * std::exp(4.0)}, 1e-9);
}

TEST(Backward, SecondBackwardOnAFreedGraphIsAnError) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = (x * x).sum();
  y.backward();
  std::string msg = error_of([&] { y.backward(); });
  EXPECT_CONTAINS(msg, "second time");
  EXPECT_CONTAINS(msg, "retain_graph");
  expect_values(x.grad(), {2.0, 4.0});  // the failed call added nothing
  // The same through autograd::grad.
  Tensor z = (x * 3.0).sum();
  kiln::autograd::grad({z}, {x});
  msg = error_of([&] { kiln::autograd::grad({z}, {x}); });
  EXPECT_CONTAINS(msg, "retain_graph");
}

TEST(Backward, DetachStopsGradients) {
  Tensor x = leaf({3.0, -4.0});
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.storage(), x.storage());  // shares data
  Tensor y = (d * x).sum();             // d/dx sees only the second factor
  y.backward();
  expect_values(x.grad(), {3.0, -4.0});
  Tensor only_detached = d * 2.0;
  EXPECT_FALSE(only_detached.requires_grad());
  EXPECT_EQ(only_detached.grad_fn(), nullptr);
}

TEST(Backward, NonScalarOutputNeedsAnExplicitGradient) {
  Tensor x = leaf({1.0, 2.0, 3.0});
  Tensor y = x * x;
  std::string msg = error_of([&] { y.backward(); });
  EXPECT_CONTAINS(msg, "backward");
  EXPECT_CONTAINS(msg, "[3]");
  EXPECT_FALSE(x.grad().defined());
  msg = error_of([&] { y.backward(kiln::ones({2}, {.dtype = DType::f64}), true); });
  EXPECT_CONTAINS(msg, "[2]");
  EXPECT_CONTAINS(msg, "[3]");
  y.backward(kiln::from_vector(std::vector<double>{1.0, 0.5, -1.0}));
  expect_values(x.grad(), {2.0, 2.0, -6.0});
  // A single-element non-scalar is fine.
  Tensor z = leaf({2.0});
  (z * z).backward();
  expect_values(z.grad(), {4.0});
}

TEST(Backward, OutputWithoutHistoryIsAnError) {
  Tensor c = kiln::ones({1});
  std::string msg = error_of([&] { c.backward(); });
  EXPECT_CONTAINS(msg, "does not require grad");
  Tensor x = leaf({1.0});
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * 2.0;
  }
  msg = error_of([&] { y.backward(); });
  EXPECT_CONTAINS(msg, "NoGradGuard");
}

// ---------------------------------------------------------------------------------------------------
// NoGradGuard and leaf checks.

TEST(GradModeTest, NoGradGuardStopsRecordingAndNests) {
  Tensor x = leaf({1.0, 2.0});
  ASSERT_TRUE(GradMode::is_enabled());
  {
    NoGradGuard outer;
    EXPECT_FALSE(GradMode::is_enabled());
    Tensor y = x * x + 1.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    {
      NoGradGuard inner;
      EXPECT_FALSE(GradMode::is_enabled());
      {
        kiln::autograd::EnableGradGuard enable;
        EXPECT_TRUE(GradMode::is_enabled());
        EXPECT_TRUE((x * 2.0).requires_grad());
      }
      EXPECT_FALSE(GradMode::is_enabled());
    }
    EXPECT_FALSE(GradMode::is_enabled());  // the inner guard restored "off", not "on"
    EXPECT_FALSE(x.exp().requires_grad());
    EXPECT_FALSE(kiln::matmul(x.reshape({1, 2}), x.reshape({2, 1})).requires_grad());
  }
  EXPECT_TRUE(GradMode::is_enabled());
  Tensor z = x * x;
  EXPECT_TRUE(z.requires_grad());
  EXPECT_NE(z.grad_fn(), nullptr);
}

TEST(GradModeTest, LeafChecks) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = x * 2.0;
  std::string msg = error_of([&] { y.requires_grad_(); });
  EXPECT_CONTAINS(msg, "requires_grad_");
  EXPECT_CONTAINS(msg, "leaf");
  msg = error_of([&] { kiln::zeros({2}, {.dtype = DType::i64}).requires_grad_(); });
  EXPECT_CONTAINS(msg, "floating");

  // In-place update of a leaf that requires grad: refused while recording...
  msg = error_of([&] { x.add_(kiln::ones({2}, {.dtype = DType::f64})); });
  EXPECT_CONTAINS(msg, "add_");
  EXPECT_CONTAINS(msg, "leaf");
  EXPECT_CONTAINS(msg, "NoGradGuard");
  msg = error_of([&] { x.mul_(2.0); });
  EXPECT_CONTAINS(msg, "mul_");
  expect_values(x, {1.0, 2.0});  // untouched
  // ...allowed under NoGradGuard, where it stays a leaf that requires grad.
  {
    NoGradGuard no_grad;
    x.add_(kiln::ones({2}, {.dtype = DType::f64}));
    x.sub_(kiln::ones({2}, {.dtype = DType::f64}), 0.5);
    x.mul_(2.0);
  }
  expect_values(x, {3.0, 5.0});
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  (x * x).sum().backward();
  expect_values(x.grad(), {6.0, 10.0});

  // In place on a tensor inside a recorded graph: refused.
  msg = error_of([&] { y.add_(1.0); });
  EXPECT_CONTAINS(msg, "add_");
  EXPECT_CONTAINS(msg, "graph");

  // requires_grad_(false) on a leaf turns recording off for it.
  Tensor w = leaf({1.0});
  w.requires_grad_(false);
  EXPECT_FALSE((w * 2.0).requires_grad());
}

// ---------------------------------------------------------------------------------------------------
// kiln::autograd::grad

TEST(GradFunction, ReturnsGradientsWithoutTouchingDotGrad) {
  Tensor x = leaf({1.0, 2.0, 3.0});
  Tensor w = leaf({0.5, -1.0, 2.0});
  Tensor h = x * w;
  Tensor y = (h * h).sum();
  std::vector<Tensor> g = kiln::autograd::grad({y}, {x, w, h}, {}, /*retain_graph=*/true);
  ASSERT_EQ(g.size(), 3u);
  expect_values(g[0], {2 * 1.0 * 0.25, 2 * 2.0 * 1.0, 2 * 3.0 * 4.0});  // 2 x w^2
  expect_values(g[1], {2 * 0.5 * 1.0, 2 * -1.0 * 4.0, 2 * 2.0 * 9.0});  // 2 w x^2
  expect_values(g[2], {1.0, -4.0, 12.0});                               // 2 h, h is not a leaf
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(g[0].requires_grad());
  // With an explicit output gradient.
  Tensor v = x * 3.0;
  std::vector<Tensor> gv =
      kiln::autograd::grad({v}, {x}, {kiln::from_vector(std::vector<double>{1.0, 0.0, -2.0})});
  expect_values(gv[0], {3.0, 0.0, -6.0});
  // The retained graph still supports backward into .grad().
  y.backward();
  expect_values(x.grad(), g[0].to_vector<double>());
}

TEST(GradFunction, AllowUnused) {
  Tensor x = leaf({1.0, 2.0});
  Tensor unused = leaf({5.0});
  Tensor y = (x * x).sum();
  std::string msg = error_of([&] { kiln::autograd::grad({y}, {x, unused}, {}, true); });
  EXPECT_CONTAINS(msg, "input 1");
  EXPECT_CONTAINS(msg, "allow_unused");
  std::vector<Tensor> g = kiln::autograd::grad({y}, {x, unused}, {}, false, false, /*allow_unused=*/true);
  ASSERT_EQ(g.size(), 2u);
  expect_values(g[0], {2.0, 4.0});
  EXPECT_FALSE(g[1].defined());
  // An input that does not require grad is an error, whatever allow_unused says.
  Tensor plain = kiln::ones({1}, {.dtype = DType::f64});
  Tensor y2 = (x * 2.0).sum();
  msg = error_of([&] { kiln::autograd::grad({y2}, {plain}, {}, false, false, true); });
  EXPECT_CONTAINS(msg, "input 0");
  EXPECT_CONTAINS(msg, "require grad");
}

// ---------------------------------------------------------------------------------------------------
// Second-order gradients.

TEST(SecondOrder, SecondDerivativeOfCubeIsSixX) {
  Tensor x = leaf({-1.5, 0.5, 2.0});
  Tensor y = x.pow(3.0).sum();
  Tensor g1 = kiln::autograd::grad({y}, {x}, {}, false, /*create_graph=*/true)[0];
  expect_values(g1, {3 * 2.25, 3 * 0.25, 3 * 4.0});
  EXPECT_TRUE(g1.requires_grad());
  Tensor g2 = kiln::autograd::grad({g1.sum()}, {x}, {}, false, /*create_graph=*/true)[0];
  expect_values(g2, {-9.0, 3.0, 12.0});
  Tensor g3 = kiln::autograd::grad({g2.sum()}, {x})[0];
  expect_values(g3, {6.0, 6.0, 6.0});
  EXPECT_FALSE(x.grad().defined());

  // The same with x * x * x and backward(create_graph=true), reading .grad().
  Tensor z = leaf({-1.5, 0.5, 2.0});
  (z * z * z).sum().backward(Tensor(), false, /*create_graph=*/true);
  Tensor gz = z.grad();
  expect_values(gz, {6.75, 0.75, 12.0});
  ASSERT_TRUE(gz.requires_grad());
  z.set_grad(Tensor());  // also breaks the z -> .grad -> graph -> z cycle
  gz.sum().backward();
  expect_values(z.grad(), {-9.0, 3.0, 12.0});
}

TEST(SecondOrder, GradientPenaltyMatchesAnalyticValue) {
  // f(x; w) = sum_n sin(x_n . w); the penalty P = ||df/dx||^2 = sum_n cos^2(s_n) ||w||^2 with s_n = x_n . w,
  // so dP/dw = sum_n [-2 cos(s_n) sin(s_n) ||w||^2 x_n + 2 cos^2(s_n) w].
  const std::vector<double> xv = {0.3, -0.2, 0.5, 1.0, 0.4, -0.7, -0.6, 0.1, 0.9, 0.2, 0.2, 0.2};
  const std::vector<double> wv = {0.8, -0.5, 1.2};
  Tensor x = leaf(xv, {4, 3});
  Tensor w = leaf(wv);
  Tensor f = kiln::sin(kiln::matmul(x, w)).sum();
  Tensor gx = kiln::autograd::grad({f}, {x}, {}, false, /*create_graph=*/true)[0];
  ASSERT_EQ(gx.shape(), (Shape{4, 3}));
  Tensor penalty = (gx * gx).sum();
  Tensor gw = kiln::autograd::grad({penalty}, {w})[0];

  double w2 = 0;
  for (double v : wv) w2 += v * v;
  std::vector<double> expected(3, 0.0);
  double expected_penalty = 0;
  for (int n = 0; n < 4; ++n) {
    double s = 0;
    for (int d = 0; d < 3; ++d) s += xv[n * 3 + d] * wv[d];
    expected_penalty += std::cos(s) * std::cos(s) * w2;
    for (int d = 0; d < 3; ++d)
      expected[d] +=
          -2 * std::cos(s) * std::sin(s) * w2 * xv[n * 3 + d] + 2 * std::cos(s) * std::cos(s) * wv[d];
  }
  EXPECT_NEAR(penalty.item<double>(), expected_penalty, 1e-12);
  expect_values(gw, expected, 1e-12);
  EXPECT_FALSE(w.grad().defined());
}

TEST(SecondOrder, GradgradcheckPasses) {
  using kiln::autograd::gradcheck;
  using kiln::autograd::gradgradcheck;
  kiln::manual_seed(3);
  auto input = [](const Shape& shape) {
    Tensor t = kiln::randn(shape, {.dtype = DType::f64});
    t.requires_grad_();
    return t;
  };
  struct Case {
    const char* name;
    kiln::autograd::Function f;
    std::vector<Tensor> inputs;
  };
  std::vector<Case> cases = {
      {"tanh(x*w)",
       [](const std::vector<Tensor>& v) { return kiln::tanh(v[0] * v[1]); },
       {input({3}), input({3})}},
      {"sigmoid", [](const std::vector<Tensor>& v) { return kiln::sigmoid(v[0]); }, {input({2, 3})}},
      {"matmul chain",
       [](const std::vector<Tensor>& v) { return kiln::matmul(kiln::tanh(kiln::matmul(v[0], v[1])), v[2]); },
       {input({2, 3}), input({3, 4}), input({4, 2})}},
      {"softmax", [](const std::vector<Tensor>& v) { return kiln::softmax(v[0], -1); }, {input({2, 4})}},
      {"log_softmax(x) * y",
       [](const std::vector<Tensor>& v) { return kiln::log_softmax(v[0], 1) * v[1]; },
       {input({3, 4}), input({3, 4})}},
  };
  for (const Case& c : cases) {
    auto first = gradcheck(c.f, c.inputs);
    EXPECT_TRUE(first.ok) << c.name << ": " << first.message;
    auto second = gradgradcheck(c.f, c.inputs);
    EXPECT_TRUE(second.ok) << c.name << ": " << second.message;
  }
}

// gradcheck must be able to fail: x.detach() * x has analytical gradient x but true gradient 2x.
TEST(Gradcheck, ReportsAMissingGradientTerm) {
  using kiln::autograd::gradcheck;
  Tensor x = leaf({0.5, -1.25, 2.0});
  auto honest = gradcheck([](const std::vector<Tensor>& v) { return v[0] * v[0]; }, {x});
  EXPECT_TRUE(honest.ok) << honest.message;
  auto broken = gradcheck([](const std::vector<Tensor>& v) { return v[0].detach() * v[0]; }, {x});
  EXPECT_FALSE(broken.ok);
  EXPECT_FALSE(static_cast<bool>(broken));
  EXPECT_CONTAINS(broken.message, "input 0");
  EXPECT_CONTAINS(broken.message, "analytical");

  // The message names the input whose gradient is wrong.
  Tensor a = leaf({1.5, -0.5});
  Tensor b = leaf({0.75, 2.0});
  auto second = gradcheck([](const std::vector<Tensor>& v) { return v[0] * v[1].detach() * v[1]; }, {a, b});
  EXPECT_FALSE(second.ok);
  EXPECT_CONTAINS(second.message, "input 1");
  // gradcheck never touches the caller's tensors or their .grad().
  expect_values(a, {1.5, -0.5});
  EXPECT_FALSE(a.grad().defined());
  // Inputs must be f64.
  std::string msg =
      error_of([] { gradcheck([](const std::vector<Tensor>& v) { return v[0]; }, {leaf_f32({1})}); });
  EXPECT_CONTAINS(msg, "f64");
}

// ---------------------------------------------------------------------------------------------------
// Tensors modified in place after being saved for backward.

TEST(SavedTensors, ModifiedSavedOutputIsDetected) {
  Tensor x = leaf({0.0, 1.0});
  Tensor y = kiln::exp(x);  // saves its output for the gradient
  // Outside NoGradGuard the in-place op itself is refused...
  std::string msg = error_of([&] { y.add_(1.0); });
  EXPECT_CONTAINS(msg, "add_");
  EXPECT_CONTAINS(msg, "recorded graph");
  // ...inside it the write goes through, and backward notices.
  {
    NoGradGuard no_grad;
    y.add_(1.0);
  }
  expect_values(y, {2.0, 1.0 + std::exp(1.0)});
  msg = error_of([&] { y.sum().backward(); });
  EXPECT_CONTAINS(msg, "exp");
  EXPECT_CONTAINS(msg, "modified in place");
  EXPECT_FALSE(x.grad().defined());
}

// mul saves its operands. PyTorch refuses backward after an operand is modified in place ("one of the
// variables needed for gradient computation has been modified by an inplace operation"); kiln must do
// the same rather than differentiate with the new values.
TEST(SavedTensors, ModifiedSavedInputIsDetected) {
  Tensor x = leaf({1.0, 2.0});
  Tensor w = kiln::from_vector(std::vector<double>{2.0, 2.0});  // does not require grad
  Tensor y = (x * w).sum();
  w.mul_(10.0);  // allowed: w is not part of the graph's history
  std::string msg = error_of([&] { y.backward(); });
  EXPECT_CONTAINS(msg, "in place");
  if (x.grad().defined())
    ADD_FAILURE() << "backward used the modified operand: x.grad() = " << x.grad() << " (forward used w = 2)";
}

TEST(SavedTensors, LeafModifiedUnderNoGradAfterBeingSavedIsDetected) {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = (x * x).sum();
  {
    NoGradGuard no_grad;
    x.add_(1.0);  // as an optimizer step between forward and backward would
  }
  std::string msg = error_of([&] { y.backward(); });
  EXPECT_CONTAINS(msg, "in place");
  if (x.grad().defined())
    ADD_FAILURE() << "backward used the modified leaf: x.grad() = " << x.grad() << " (expected 2x = [2, 4])";
}

// ---------------------------------------------------------------------------------------------------
// Graph lifetime and memory.

TEST(Memory, BackwardFreesSavedTensorsUnlessRetained) {
  const int64_t live_before = Node::live_count();
  Tensor x = kiln::randn({1000});
  x.requires_grad_();
  x.set_grad(kiln::zeros({1000}));  // so that backward allocates no .grad()
  Tensor loss;
  {
    Tensor y = kiln::exp(x);  // its output (4000 bytes) is saved by the exp node
    loss = y.sum();
  }
  EXPECT_GT(Node::live_count(), live_before);
  const int64_t held = kiln::memory_stats().allocated_bytes;
  loss.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_EQ(kiln::memory_stats().allocated_bytes, held);
  loss.backward();
  EXPECT_EQ(kiln::memory_stats().allocated_bytes, held - 4000);
  std::vector<float> g = x.grad().to_vector<float>(), xs = x.to_vector<float>();
  for (int i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(g[i], 2 * std::exp(xs[i]));
  loss = Tensor();
  EXPECT_EQ(Node::live_count(), live_before);
}

TEST(Memory, GraphsDieWithTheirTensors) {
  const int64_t live_before = Node::live_count();
  const int64_t bytes_before = kiln::memory_stats().allocated_bytes;
  {
    Tensor x = kiln::randn({64, 64});
    x.requires_grad_();
    Tensor y = kiln::tanh(kiln::matmul(x, x)).sum();
    EXPECT_GT(Node::live_count(), live_before);
    x = Tensor();  // the graph keeps what it needs of x
    EXPECT_EQ(y.dim(), 0);
  }  // never differentiated
  EXPECT_EQ(Node::live_count(), live_before);
  EXPECT_EQ(kiln::memory_stats().allocated_bytes, bytes_before);
}

// A tiny MLP trained with plain SGD: after a warm-up, neither allocator bytes nor live nodes grow.
struct TinyMlp {
  Tensor x, y, w1, b1, w2, b2;
  TinyMlp() {
    kiln::manual_seed(17);
    x = kiln::randn({16, 8});
    y = kiln::randint(0, 4, {16, 1});
    w1 = kiln::randn({8, 16}).mul_(0.3).requires_grad_();
    b1 = kiln::zeros({16}).requires_grad_();
    w2 = kiln::randn({16, 4}).mul_(0.3).requires_grad_();
    b2 = kiln::zeros({4}).requires_grad_();
  }
  std::vector<Tensor*> params() { return {&w1, &b1, &w2, &b2}; }

  // One training step; returns the loss before the update.
  double step(double lr, bool reset_grads) {
    Tensor h = kiln::relu(kiln::matmul(x, w1) + b1);
    Tensor logits = kiln::matmul(h, w2) + b2;
    Tensor loss = -kiln::gather(kiln::log_softmax(logits, 1), 1, y).mean();
    double value = loss.item<double>();
    loss.backward();
    {
      NoGradGuard no_grad;
      for (Tensor* p : params()) p->sub_(p->grad(), lr);
    }
    for (Tensor* p : params()) {
      if (reset_grads)
        p->set_grad(Tensor());
      else
        p->grad().zero_();
    }
    return value;
  }
};

void check_flat_memory(bool reset_grads, int steps) {
  TinyMlp mlp;
  const int64_t nodes_before = Node::live_count();
  double first = 0, last = 0;
  int64_t bytes_at_100 = 0, nodes_at_100 = 0, storages_at_100 = 0;
  for (int s = 1; s <= steps; ++s) {
    last = mlp.step(0.01, reset_grads);
    if (s == 1) first = last;
    if (s == 100) {
      bytes_at_100 = kiln::memory_stats().allocated_bytes;
      storages_at_100 = kiln::memory_stats().live_storages;
      nodes_at_100 = Node::live_count();
    }
  }
  EXPECT_EQ(kiln::memory_stats().allocated_bytes, bytes_at_100);
  EXPECT_EQ(kiln::memory_stats().live_storages, storages_at_100);
  EXPECT_EQ(Node::live_count(), nodes_at_100);
  EXPECT_EQ(Node::live_count(), nodes_before);  // no graph survives a step
  EXPECT_LT(last, 0.25 * first) << "loss " << first << " -> " << last;
}

TEST(Memory, DoesNotGrowAcrossTenThousandTrainingSteps) { check_flat_memory(/*reset_grads=*/true, 10000); }

TEST(Memory, DoesNotGrowWithGradsZeroedInPlace) { check_flat_memory(/*reset_grads=*/false, 2000); }

// ---------------------------------------------------------------------------------------------------
// Independent graphs.

TEST(Independence, InterleavedGraphsDoNotInterfere) {
  Tensor a = leaf({1.0, 2.0});
  Tensor b = leaf({3.0, -1.0});
  Tensor shared = leaf({0.5, 0.5});
  Tensor a1 = a * 2.0;
  Tensor b1 = b * 3.0;
  Tensor a2 = kiln::exp(a1) * shared;
  Tensor b2 = kiln::sin(b1) * shared;
  Tensor la = a2.sum();
  Tensor lb = b2.sum();
  la.backward();
  expect_values(a.grad(), {2 * std::exp(2.0) * 0.5, 2 * std::exp(4.0) * 0.5}, 1e-9);
  expect_values(shared.grad(), {std::exp(2.0), std::exp(4.0)}, 1e-9);
  EXPECT_FALSE(b.grad().defined());
  // Graph b is intact and usable after graph a was freed.
  lb.backward();
  expect_values(b.grad(), {3 * std::cos(9.0) * 0.5, 3 * std::cos(-3.0) * 0.5}, 1e-12);
  expect_values(shared.grad(), {std::exp(2.0) + std::sin(9.0), std::exp(4.0) + std::sin(-3.0)}, 1e-9);
  expect_values(a.grad(), {2 * std::exp(2.0) * 0.5, 2 * std::exp(4.0) * 0.5}, 1e-9);  // unchanged
  // And a's graph is the one that was freed.
  EXPECT_CONTAINS(error_of([&] { la.backward(); }), "second time");
}

TEST(Independence, ThreadsHaveTheirOwnGradModeAndGraphs) {
  std::latch guard_set(2);
  bool worker_recorded = true;
  bool main_recorded = false;
  std::vector<double> worker_grad;
  std::thread worker([&] {
    Tensor w = leaf({1.0, 2.0});
    {
      NoGradGuard no_grad;  // held while the main thread records
      guard_set.arrive_and_wait();
      worker_recorded = (w * 2.0).requires_grad();
    }
    for (int i = 0; i < 200; ++i) {
      w.set_grad(Tensor());
      (w * w * 3.0).sum().backward();
    }
    worker_grad = w.grad().to_vector<double>();
  });
  Tensor m = leaf({-1.0, 4.0});
  guard_set.arrive_and_wait();
  main_recorded = (m * 2.0).requires_grad();
  for (int i = 0; i < 200; ++i) {
    m.set_grad(Tensor());
    kiln::tanh(m * m).sum().backward();
  }
  worker.join();
  EXPECT_FALSE(worker_recorded);
  EXPECT_TRUE(main_recorded);
  EXPECT_EQ(worker_grad, (std::vector<double>{6.0, 12.0}));
  expect_values(m.grad(), {2 * -1.0 / std::pow(std::cosh(1.0), 2), 2 * 4.0 / std::pow(std::cosh(16.0), 2)},
                1e-12);
}

}  // namespace
