// tests/test_batch_norm.cpp: batch_norm as a primitive op (kernel-table entries batch_norm_forward /
// batch_norm_backward): BatchNorm layers over several training steps against frozen PyTorch values
// (tests/fixtures/torch_batch_norm.txt, written by tests/gen_batch_norm_fixtures.py), in f64 and f32;
// gradients of first, second and third order against the composite formula written with ops and against
// finite differences; thread-count independence of values, running statistics and gradients; f32
// precision with a large mean; strided inputs and running statistics; in-place modification detection;
// layer_norm and group_norm, which share the kernels, against their composite formulas up to third order.
// The op table (tests/support/op_cases.cpp) covers the op's other modes.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include <kiln/autograd/engine.h>
#include <kiln/autograd/gradcheck.h>

#include "support/fixture.h"
#include "support/helpers.h"

namespace kiln::testing {
namespace {

using kiln::test::FixtureCase;

void expect_close(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = values(got), w = values(want);
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_LE(std::abs(g[i] - w[i]), atol + rtol * std::abs(w[i]))
        << what << " element " << i << ": " << g[i] << " vs " << w[i];
}

// batch_norm in training written with ops (the pre-kernel composite form): the reference for gradients.
Tensor composite_bn(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  Shape dims{0}, view(x.dim(), 1);
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  view[1] = x.size(1);
  Tensor centered = x - mean(x, dims, true);
  Tensor y = centered * rsqrt(mean(square(centered), dims, true) + eps);
  if (w.defined()) y = y * reshape(w, view);
  if (b.defined()) y = y + reshape(b, view);
  return y;
}

// ---- several training steps against PyTorch ----
struct StepsCase {
  std::string name;
  bool two_d;  // BatchNorm2d, else BatchNorm1d
  int64_t channels;
  nn::BatchNormOptions options;
};

void run_steps(const StepsCase& sc, const FixtureCase& fc, DType dtype, double rtol, double atol) {
  nn::ModulePtr layer = sc.two_d ? nn::ModulePtr(std::make_shared<nn::BatchNorm2d>(sc.channels, sc.options))
                                 : nn::ModulePtr(std::make_shared<nn::BatchNorm1d>(sc.channels, sc.options));
  auto& bn = dynamic_cast<nn::BatchNormBase&>(*layer);
  layer->to(dtype);
  {
    NoGradGuard g;
    bn.weight.copy_(fc.tensor("weight"));
    bn.bias.copy_(fc.tensor("bias"));
  }
  layer->train();
  for (int k = 0; fc.has("x" + std::to_string(k)); ++k) {
    const std::string s = std::to_string(k);
    Tensor out = (*layer)(fc.tensor("x" + s).to(dtype));
    expect_close(out, fc.tensor("out" + s), rtol, atol, sc.name + " out" + s);
    expect_close(bn.running_mean, fc.tensor("running_mean" + s), rtol, atol, sc.name + " running_mean" + s);
    expect_close(bn.running_var, fc.tensor("running_var" + s), rtol, atol, sc.name + " running_var" + s);
    EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), k + 1);
  }
  layer->eval();
  expect_close((*layer)(fc.tensor("eval_x").to(dtype)), fc.tensor("eval_out"), rtol, atol, sc.name + " eval");
}

const std::vector<StepsCase>& steps_cases() {
  static const std::vector<StepsCase> cases = {
      {"batchnorm2d_c3_momentum0.1_eps1e-5", true, 3, {}},
      {"batchnorm1d_c5_momentum0.3_eps1e-3", false, 5, {.eps = 1e-3, .momentum = 0.3}},
      {"batchnorm1d_3d_c2_large_mean", false, 2, {}},
  };
  return cases;
}

TEST(BatchNormSteps, RunningStatisticsAndOutputsFollowPyTorch) {
  auto file = kiln::test::read_fixture_file(std::string(KILN_FIXTURES_DIR) + "/torch_batch_norm.txt");
  ASSERT_EQ(file.size(), steps_cases().size());
  for (const StepsCase& sc : steps_cases()) {
    const FixtureCase* fc = nullptr;
    for (const auto& c : file)
      if (c.name == sc.name) fc = &c;
    ASSERT_NE(fc, nullptr) << sc.name << " missing from the fixture file";
    run_steps(sc, *fc, DType::f64, 1e-10, 1e-10);
    // f32 sums accumulate in double; what is left is f32 rounding of the inputs and outputs (large_mean's
    // inputs near 1000 carry only ~1e-4 absolute precision, 1e-2 of their spread).
    const double atol = sc.name.find("large_mean") != std::string::npos ? 2e-2 : 2e-5;
    run_steps(sc, *fc, DType::f32, 2e-5, atol);
  }
}

// ---- gradients ----
struct GradCase {
  const char* name;
  Shape shape;
  bool weight, bias;
  bool training;
};

std::vector<Tensor> grad_inputs(const GradCase& gc, uint64_t seed) {
  manual_seed(seed);
  const int64_t c = gc.shape[1];
  std::vector<Tensor> in{randn(gc.shape, {.dtype = DType::f64}) * 2.0 + 0.5};
  if (gc.weight) in.push_back(rand({c}, {.dtype = DType::f64}) + 0.5);
  if (gc.bias) in.push_back(randn({c}, {.dtype = DType::f64}));
  for (auto& t : in) t.requires_grad_();
  return in;
}

// The op under test on inputs {x, [weight], [bias]}: training without running statistics, or evaluation
// with fixed ones.
Tensor apply_bn(const GradCase& gc, const std::vector<Tensor>& in, bool composite) {
  Tensor w = gc.weight ? in[1] : Tensor(), b = gc.bias ? in[gc.weight ? 2 : 1] : Tensor();
  const int64_t c = gc.shape[1];
  if (!gc.training) {
    Tensor rm = arange(0, c).to(DType::f64) * 0.1, rv = arange(0, c).to(DType::f64) * 0.2 + 0.5;
    if (composite) {
      Shape view(gc.shape.size(), 1);
      view[1] = c;
      Tensor y = (in[0] - reshape(rm, view)) * rsqrt(reshape(rv, view) + 1e-5);
      if (w.defined()) y = y * reshape(w, view);
      if (b.defined()) y = y + reshape(b, view);
      return y;
    }
    return batch_norm(in[0], rm, rv, w, b, false);
  }
  return composite ? composite_bn(in[0], w, b, 1e-5) : batch_norm(in[0], {}, {}, w, b, true);
}

const std::vector<GradCase>& grad_cases() {
  static const std::vector<GradCase> cases = {
      {"train_4d_affine", {3, 2, 3, 2}, true, true, true},
      {"train_2d_weight_only", {5, 3}, true, false, true},
      {"train_3d_bias_only", {2, 3, 4}, false, true, true},
      {"train_3d_plain", {4, 2, 3}, false, false, true},
      {"eval_4d_affine", {2, 3, 2, 2}, true, true, false},
      {"eval_2d_plain", {4, 3}, false, false, false},
  };
  return cases;
}

TEST(BatchNormGrad, FiniteDifferencesFirstAndSecondOrder) {
  for (const GradCase& gc : grad_cases()) {
    auto f = [&](const std::vector<Tensor>& in) { return apply_bn(gc, in, false); };
    auto in = grad_inputs(gc, 7);
    auto r1 = autograd::gradcheck(f, in);
    EXPECT_TRUE(r1.ok) << gc.name << ": " << r1.message;
    auto r2 = autograd::gradgradcheck(f, in);
    EXPECT_TRUE(r2.ok) << gc.name << ": " << r2.message;
  }
}

// Gradients of orders 1 to 3 of sum(bn(in) * c1), each contracted with a fixed random tensor before the
// next differentiation, for the kernel path and the composite formula: the double-backward formulas
// (written with ops) must themselves differentiate correctly.
std::vector<Tensor> higher_order(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                 const std::vector<Tensor>& in) {
  manual_seed(99);
  Tensor y = f(in);
  Tensor acc = sum(y * randn(y.shape(), {.dtype = DType::f64}));
  std::vector<Tensor> out;  // undefined where a gradient does not depend on the input (zero)
  for (int order = 1; order <= 3; ++order) {
    if (!acc.requires_grad()) {
      out.resize(out.size() + in.size());
      continue;
    }
    auto g = autograd::grad({acc}, in, {}, false, /*create_graph=*/order < 3, /*allow_unused=*/true);
    acc = scalar_tensor(0.0, {.dtype = DType::f64});
    for (const Tensor& t : g) {
      out.push_back(t.defined() ? t.detach() : Tensor());
      if (t.defined() && t.requires_grad()) acc = acc + sum(t * randn(t.shape(), {.dtype = DType::f64}));
    }
  }
  return out;
}

void expect_same_gradients(const std::vector<Tensor>& got, const std::vector<Tensor>& want,
                           const std::string& name) {
  ASSERT_EQ(got.size(), want.size()) << name;
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string what = name + " gradient " + std::to_string(i);
    // An undefined gradient on one side is a zero gradient on the other.
    if (!got[i].defined() || !want[i].defined()) {
      const Tensor& d = got[i].defined() ? got[i] : want[i];
      if (d.defined()) expect_close(d, zeros_like(d), 0, 1e-9, what);
      continue;
    }
    expect_close(got[i], want[i], 1e-8, 1e-9, what);
  }
}

TEST(BatchNormGrad, OrdersOneToThreeMatchTheCompositeFormula) {
  for (const GradCase& gc : grad_cases()) {
    auto in = grad_inputs(gc, 11);
    auto got = higher_order([&](const std::vector<Tensor>& v) { return apply_bn(gc, v, false); }, in);
    auto want = higher_order([&](const std::vector<Tensor>& v) { return apply_bn(gc, v, true); }, in);
    expect_same_gradients(got, want, gc.name);
  }
}

// layer_norm and group_norm run the batch-norm kernels on a (1, rows, D) view: the same checks against
// their composite formulas.
TEST(BatchNormGrad, LayerNormAndGroupNormOrdersOneToThree) {
  manual_seed(12);
  std::vector<Tensor> ln_in{randn({3, 2, 4}, {.dtype = DType::f64}) + 1.0,
                            rand({2, 4}, {.dtype = DType::f64}) + 0.5, randn({2, 4}, {.dtype = DType::f64})};
  for (auto& t : ln_in) t.requires_grad_();
  auto ln_ref = [](const std::vector<Tensor>& v) {
    Tensor c = v[0] - mean(v[0], {1, 2}, true);
    return c * rsqrt(mean(square(c), {1, 2}, true) + 1e-5) * v[1] + v[2];
  };
  expect_same_gradients(higher_order(
                            [](const std::vector<Tensor>& v) {
                              return layer_norm(v[0], {2, 4}, v[1], v[2]);
                            },
                            ln_in),
                        higher_order(ln_ref, ln_in), "layer_norm");
  std::vector<Tensor> gn_in{randn({2, 6, 2, 2}, {.dtype = DType::f64}) - 0.5,
                            rand({6}, {.dtype = DType::f64}) + 0.5, randn({6}, {.dtype = DType::f64})};
  for (auto& t : gn_in) t.requires_grad_();
  auto gn_ref = [](const std::vector<Tensor>& v) {
    Tensor g = reshape(v[0], {2, 3, 8});
    Tensor c = g - mean(g, {2}, true);
    Tensor y = reshape(c * rsqrt(mean(square(c), {2}, true) + 1e-5), {2, 6, 2, 2});
    return y * reshape(v[1], {1, 6, 1, 1}) + reshape(v[2], {1, 6, 1, 1});
  };
  expect_same_gradients(
      higher_order([](const std::vector<Tensor>& v) { return group_norm(v[0], 3, v[1], v[2]); }, gn_in),
      higher_order(gn_ref, gn_in), "group_norm");
}

// ---- kernels: thread counts, precision, layouts ----
struct RunResult {
  std::vector<double> out, rm, rv, gx, gw, gb;
};

RunResult run_large(int threads, DType dtype) {
  const int before = get_num_threads();
  set_num_threads(threads);
  manual_seed(3);
  Tensor x = (randn({6, 12, 17, 13}) * 3.0 + 1.0).to(dtype).requires_grad_();
  Tensor w = (rand({12}) + 0.5).to(dtype).requires_grad_(), b = randn({12}).to(dtype).requires_grad_();
  Tensor rm = zeros({12}, {.dtype = dtype}), rv = ones({12}, {.dtype = dtype});
  Tensor y = batch_norm(x, rm, rv, w, b, true);
  y.backward(randn(y.shape()).to(dtype));
  set_num_threads(before);
  return {values(y), values(rm), values(rv), values(x.grad()), values(w.grad()), values(b.grad())};
}

TEST(BatchNormKernel, ResultsDoNotDependOnThreadCount) {
  for (DType dt : {DType::f32, DType::f64}) {
    RunResult one = run_large(1, dt), two = run_large(2, dt), three = run_large(3, dt);
    EXPECT_EQ(one.out, two.out);
    EXPECT_EQ(one.rm, two.rm);
    EXPECT_EQ(one.rv, two.rv);
    EXPECT_EQ(one.gx, two.gx);
    EXPECT_EQ(one.gw, two.gw);
    EXPECT_EQ(one.gb, two.gb);
    EXPECT_EQ(one.gx, three.gx);
    EXPECT_EQ(one.out, three.out);
  }
}

// f32 with a mean 10^4 times its spread: the statistics (double sums, two passes) stay as exact as the f32
// inputs allow, so f32 results match an f64 run on the same f32 values.
TEST(BatchNormKernel, Float32StatisticsSurviveALargeMean) {
  manual_seed(5);
  Tensor x32 = (randn({64, 4, 9, 9}) * 0.1 + 1000.0).to(DType::f32);
  Tensor x64 = x32.to(DType::f64);
  Tensor rm32 = zeros({4}), rv32 = ones({4});
  Tensor rm64 = zeros({4}, {.dtype = DType::f64}), rv64 = ones({4}, {.dtype = DType::f64});
  Tensor y32 = batch_norm(x32, rm32, rv32, {}, {}, true), y64 = batch_norm(x64, rm64, rv64, {}, {}, true);
  expect_close(y32, y64, 0, 1e-4, "normalized");
  expect_close(rm32, rm64, 1e-7, 0, "running_mean");
  expect_close(rv32, rv64, 1e-5, 0, "running_var");
}

TEST(BatchNormKernel, StridedInputAndRunningStatistics) {
  manual_seed(8);
  Tensor base = randn({3, 5, 4, 2}, {.dtype = DType::f64});
  Tensor x = permute(base, {3, 1, 2, 0});  // (2, 5, 4, 3), not contiguous
  Tensor stats = zeros({10}, {.dtype = DType::f64});
  Tensor rm = slice(stats, 0, 0, 10, 2);  // every other element: stride 2
  Tensor rv = ones({5}, {.dtype = DType::f64});
  Tensor y = batch_norm(x, rm, rv, {}, {}, true, 0.5);
  Tensor xc = contiguous(x);
  Tensor rm_ref = zeros({5}, {.dtype = DType::f64}), rv_ref = ones({5}, {.dtype = DType::f64});
  expect_close(y, batch_norm(xc, rm_ref, rv_ref, {}, {}, true, 0.5), 1e-12, 1e-12, "strided out");
  expect_close(rm, rm_ref, 1e-12, 1e-12, "strided running_mean");
  auto s = values(stats);
  for (size_t i = 1; i < s.size(); i += 2)
    EXPECT_EQ(s[i], 0.0) << "element " << i << " between the strided ones";
  expect_close(rm, mean(xc, {0, 2, 3}) * 0.5, 1e-12, 1e-12, "running_mean value");
}

TEST(BatchNormKernel, ModifyingTheSavedInputBeforeBackwardIsAnError) {
  Tensor p = randn({4, 3}, {.dtype = DType::f64}).requires_grad_();
  Tensor x = p * 2.0;
  Tensor y = batch_norm(x, {}, {}, {}, {}, true);
  {
    NoGradGuard g;
    x.detach().add_(1.0);
  }
  EXPECT_CONTAINS(error_of([&] { sum(y * y).backward(); }),
                  "backward of 'batch_norm': its input 0 was modified in place");
}

// Evaluation with running statistics that require grad takes the composite path, and their gradients
// follow from (x - running_mean) / sqrt(running_var + eps).
TEST(BatchNormGrad, EvaluationRunningStatisticsGetGradients) {
  Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, Shape{3, 2});
  Tensor rm = from_vector<double>({0.5, -1}).requires_grad_(),
         rv = from_vector<double>({2, 3}).requires_grad_();
  Tensor y = batch_norm(x, rm, rv, {}, {}, false, 0.1, 0.0);
  sum(y).backward();
  EXPECT_NEAR(rm.grad().at<double>({0}), -3 / std::sqrt(2.0), 1e-12);
  // d/dv sum((x - m) v^-1/2) = -1/2 sum(x - m) v^-3/2; channel 1: x = 2, 4, 6, m = -1
  EXPECT_NEAR(rv.grad().at<double>({1}), -0.5 * 15 * std::pow(3.0, -1.5), 1e-12);
}

}  // namespace
}  // namespace kiln::testing
