// tests/test_optim_torch.cpp: kiln's optimizers and gradient clipping against frozen PyTorch 1.13 values
// (tests/fixtures/torch_optim.txt, written by tests/gen_optim_fixtures.py; layout described there).
//
// Each optimizer case trains the fixture's 3-4-2 tanh MLP for 20 steps on its fixed batch with the
// optimizer configuration named in the table below (the same as the generator's) and compares the loss
// before every step and all 26 parameters after every step. A case in the file without an entry here, or an
// entry without a case, fails.
//
// Tolerances: f64 runs |got - expected| <= 1e-10 * max(1, |expected|); _f32 runs (model, loss and update
// in float32) 1e-5 * max(1, |expected|). Clipping (f64): 1e-12 * max(1, |expected|), NaN only where
// PyTorch has NaN.
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/autograd/ops.h>
#include <kiln/optim/optim.h>

#include "support/fixture.h"

namespace {

using kiln::Tensor;
using kiln::test::FixtureCase;
namespace optim = kiln::optim;

const std::vector<FixtureCase>& fixture() {
  static const std::vector<FixtureCase> cases =
      kiln::test::read_fixture_file(std::string(KILN_FIXTURES_DIR) + "/torch_optim.txt");
  return cases;
}

const FixtureCase& find_case(const std::string& name) {
  for (const auto& c : fixture())
    if (c.name == name) return c;
  throw std::runtime_error("no fixture case " + name);
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>& params)>;
struct OptimizerCase {
  OptimizerCase(MakeOptimizer m, kiln::DType d = kiln::DType::f64, std::set<int> f = {})
      : make(std::move(m)), dtype(d), frozen(std::move(f)) {}
  MakeOptimizer make;
  kiln::DType dtype;
  std::set<int> frozen;  // parameters that do not require grad (their grad stays undefined)
};

// [w1, b1] with the defaults, [w2, b2] with `second` (mirrors groups() in the generator).
std::vector<optim::ParamGroup> two_groups(const std::vector<Tensor>& p,
                                          std::map<std::string, double> second) {
  return {{{p[0], p[1]}, {}}, {{p[2], p[3]}, std::move(second)}};
}

template <class Opt, class Options>
MakeOptimizer make(Options options) {
  return [options](const std::vector<Tensor>& p) { return std::make_unique<Opt>(p, options); };
}
template <class Opt, class Options>
MakeOptimizer make_groups(std::map<std::string, double> second, Options options) {
  return [second, options](const std::vector<Tensor>& p) {
    return std::make_unique<Opt>(two_groups(p, second), options);
  };
}

// Must match OPTIMIZERS in tests/gen_optim_fixtures.py.
const std::map<std::string, OptimizerCase>& optimizer_cases() {
  using namespace optim;
  static const std::map<std::string, OptimizerCase> table = {
      {"sgd_plain", {make<SGD>(SGDOptions{.lr = 0.1})}},
      {"sgd_momentum_dampening_wd",
       {make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-2})}},
      {"sgd_nesterov",
       {make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.8, .weight_decay = 1e-3, .nesterov = true})}},
      {"sgd_maximize_frozen",
       {make<SGD>(SGDOptions{.lr = 0.02, .momentum = 0.5, .maximize = true}), kiln::DType::f64, {1}}},
      {"sgd_two_groups",
       {make_groups<SGD>({{"lr", 0.01}, {"momentum", 0.5}}, SGDOptions{.lr = 0.1, .momentum = 0.9})}},
      {"adam_default", {make<Adam>(AdamOptions{.lr = 1e-2})}},
      {"adam_amsgrad_wd",
       {make<Adam>(AdamOptions{
           .lr = 2e-2, .betas = {0.8, 0.99}, .eps = 1e-6, .weight_decay = 0.1, .amsgrad = true})}},
      {"adam_maximize_wd", {make<Adam>(AdamOptions{.lr = 1e-2, .weight_decay = 0.05, .maximize = true})}},
      {"adamw_default", {make<AdamW>(AdamWOptions{.lr = 1e-2})}},
      {"adamw_amsgrad",
       {make<AdamW>(AdamWOptions{.lr = 3e-2, .betas = {0.85, 0.95}, .weight_decay = 0.1, .amsgrad = true})}},
      {"adamw_two_groups",
       {make_groups<AdamW>({{"lr", 5e-2}, {"weight_decay", 0.2}}, AdamWOptions{.lr = 1e-2})}},
      {"rmsprop_default", {make<RMSprop>(RMSpropOptions{.lr = 1e-2})}},
      {"rmsprop_centered_momentum",
       {make<RMSprop>(RMSpropOptions{
           .lr = 5e-3, .alpha = 0.9, .eps = 1e-6, .weight_decay = 1e-2, .momentum = 0.7, .centered = true})}},
      {"rmsprop_momentum_maximize",
       {make<RMSprop>(RMSpropOptions{.lr = 1e-3, .momentum = 0.9, .maximize = true})}},
      {"adagrad_default", {make<Adagrad>(AdagradOptions{.lr = 0.1})}},
      {"adagrad_options",
       {make<Adagrad>(AdagradOptions{.lr = 0.1,
                                     .lr_decay = 0.05,
                                     .weight_decay = 1e-2,
                                     .initial_accumulator_value = 0.1,
                                     .eps = 1e-8,
                                     .maximize = true})}},
      {"nadam_default", {make<NAdam>(NAdamOptions{.lr = 1e-2})}},
      {"nadam_options",
       {make<NAdam>(NAdamOptions{
           .lr = 2e-2, .betas = {0.85, 0.99}, .eps = 1e-7, .weight_decay = 1e-2, .momentum_decay = 5e-3})}},
      {"radam_default", {make<RAdam>(RAdamOptions{.lr = 1e-2})}},
      {"radam_options",
       {make<RAdam>(RAdamOptions{.lr = 2e-2, .betas = {0.8, 0.9}, .eps = 1e-6, .weight_decay = 0.1})}},
      {"adamw_f32", {make<AdamW>(AdamWOptions{.lr = 1e-2}), kiln::DType::f32}},
      {"sgd_nesterov_f32",
       {make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.8, .nesterov = true}), kiln::DType::f32}},
      {"adamax_default", {make<Adamax>(AdamaxOptions{.lr = 1e-2})}},
      {"adamax_options",
       {make<Adamax>(AdamaxOptions{.lr = 2e-2, .betas = {0.8, 0.99}, .eps = 1e-6, .weight_decay = 0.1})}},
      {"adamax_maximize_two_groups",
       {make_groups<Adamax>({{"lr", 5e-3}, {"weight_decay", 0.2}},
                            AdamaxOptions{.lr = 1e-2, .maximize = true})}},
      {"adamax_f32", {make<Adamax>(AdamaxOptions{.lr = 1e-2}), kiln::DType::f32}},
  };
  return table;
}

Tensor mlp_loss(const std::vector<Tensor>& p, const Tensor& x, const Tensor& y) {
  Tensor logits = kiln::linear(kiln::tanh(kiln::linear(x, p[0], p[1])), p[2], p[3]);
  return -kiln::gather(kiln::log_softmax(logits, 1), 1, y.unsqueeze(1)).mean();
}

struct Trajectory {
  std::vector<double> losses;
  std::vector<std::vector<double>> params;  // after each step, flattened and concatenated
};

Trajectory train(const OptimizerCase& oc, int steps) {
  const FixtureCase& model = find_case("model");
  Tensor x = model.tensor("x").to(oc.dtype), y = model.tensor("y");
  std::vector<Tensor> params;
  const char* names[] = {"w1", "b1", "w2", "b2"};
  for (int i = 0; i < 4; ++i)
    params.push_back(model.tensor(names[i]).to(oc.dtype).detach().requires_grad_(oc.frozen.count(i) == 0));
  std::unique_ptr<optim::Optimizer> opt = oc.make(params);
  Trajectory t;
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    Tensor loss = mlp_loss(params, x, y);
    loss.backward();
    opt->step();
    t.losses.push_back(loss.item<double>());
    std::vector<double> flat;
    for (const Tensor& p : params) {
      auto v = p.to_vector<double>();
      flat.insert(flat.end(), v.begin(), v.end());
    }
    t.params.push_back(flat);
  }
  return t;
}

void expect_close(double got, double expected, double tol, const std::string& what) {
  EXPECT_LE(std::abs(got - expected), tol * std::max(1.0, std::abs(expected)))
      << what << ": got " << got << ", PyTorch " << expected;
}

TEST(OptimTorch, EveryCaseHasAnOptimizerAndBack) {
  std::set<std::string> in_file;
  for (const auto& c : fixture())
    if (c.name != "model" && c.name.rfind("clip_", 0) != 0) in_file.insert(c.name);
  for (const auto& [name, oc] : optimizer_cases())
    EXPECT_TRUE(in_file.count(name)) << "no fixture case " << name;
  for (const auto& name : in_file)
    EXPECT_TRUE(optimizer_cases().count(name)) << "no optimizer for case " << name;
}

TEST(OptimTorch, TrajectoriesMatchPyTorch) {
  for (const auto& [name, oc] : optimizer_cases()) {
    SCOPED_TRACE(name);
    const FixtureCase& c = find_case(name);
    const auto& loss = c.get("loss");
    const auto& params = c.get("params");
    ASSERT_EQ(params.shape.size(), 2u);
    const int steps = static_cast<int>(params.shape[0]);
    const auto width = static_cast<std::size_t>(params.shape[1]);
    Trajectory t = train(oc, steps);
    const double tol = oc.dtype == kiln::DType::f64 ? 1e-10 : 1e-5;
    for (int s = 0; s < steps; ++s) {
      expect_close(t.losses[s], loss.values[s], tol, name + " loss before step " + std::to_string(s + 1));
      ASSERT_EQ(t.params[s].size(), width);
      for (std::size_t k = 0; k < width; ++k)
        expect_close(
            t.params[s][k], params.values[s * width + k], tol,
            name + " parameter element " + std::to_string(k) + " after step " + std::to_string(s + 1));
    }
  }
}

// The parameters' storage is updated in place (modules hold these tensors).
TEST(OptimTorch, UpdatesKeepTheParameterStorage) {
  const auto& oc = optimizer_cases().at("adamw_default");
  const FixtureCase& model = find_case("model");
  Tensor w = model.tensor("w1").detach().requires_grad_();
  const void* before = w.data_ptr();
  auto opt = oc.make({w});
  (w * w).sum().backward();
  opt->step();
  EXPECT_EQ(w.data_ptr(), before);
  EXPECT_NE(w.to_vector<double>(), model.tensor("w1").to_vector<double>());
}

// ---- clipping ----

std::vector<Tensor> params_with_grads(const FixtureCase& c) {
  std::vector<Tensor> ps;
  for (const char* g : {"g0", "g1"}) {
    Tensor grad = c.tensor(g);
    Tensor p = kiln::zeros(grad.shape(), {.dtype = kiln::DType::f64, .requires_grad = true});
    p.set_grad(grad);
    ps.push_back(p);
  }
  return ps;
}

void expect_grads(const FixtureCase& c, const std::vector<Tensor>& ps) {
  for (int k = 0; k < 2; ++k) {
    const auto& expected = c.get("out" + std::to_string(k));
    auto got = ps[k].grad().to_vector<double>();
    ASSERT_EQ(got.size(), expected.values.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (std::isnan(expected.values[i])) {
        EXPECT_TRUE(std::isnan(got[i])) << c.name << " out" << k << "[" << i << "]";
      } else {
        expect_close(got[i], expected.values[i], 1e-12,
                     c.name + " out" + std::to_string(k) + "[" + std::to_string(i) + "]");
      }
    }
  }
}

TEST(OptimTorch, ClipGradNormMatchesPyTorch) {
  int seen = 0;
  for (const auto& c : fixture()) {
    if (c.name.rfind("clip_norm", 0) != 0) continue;
    SCOPED_TRACE(c.name);
    ++seen;
    auto ps = params_with_grads(c);
    double total = optim::clip_grad_norm_(ps, c.get("max_norm").values[0], c.get("norm_type").values[0]);
    double expected = c.get("total_norm").values[0];
    if (std::isinf(expected)) {
      EXPECT_EQ(total, expected);
    } else {
      expect_close(total, expected, 1e-12, c.name + " total norm");
    }
    expect_grads(c, ps);
  }
  EXPECT_EQ(seen, 6);
}

TEST(OptimTorch, ClipGradValueMatchesPyTorch) {
  const FixtureCase& c = find_case("clip_value");
  auto ps = params_with_grads(c);
  optim::clip_grad_value_(ps, c.get("clip_value").values[0]);
  expect_grads(c, ps);
}

}  // namespace
