// tests/test_optim.cpp: optimizer behaviour that the PyTorch trajectories (test_optim_torch.cpp) do not
// cover: bit-exact resume from a state dict for every optimizer, the state dict's names, parameter groups
// (also mixing dtypes), zero_grad, skipped and strided parameters, and every error path with its message.
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "support/helpers.h"

namespace {

using kiln::Tensor;
using kiln::testing::error_of;
namespace optim = kiln::optim;

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;

template <class Opt, class Options>
MakeOptimizer make(Options options) {
  return [options](const std::vector<Tensor>& p) { return std::make_unique<Opt>(p, options); };
}

// Every optimizer with its stateful options on.
std::vector<std::pair<std::string, MakeOptimizer>> all_optimizers() {
  using namespace optim;
  return {
      {"SGD", make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true})},
      {"Adam", make<Adam>(AdamOptions{.lr = 1e-2, .weight_decay = 1e-2, .amsgrad = true})},
      {"AdamW", make<AdamW>(AdamWOptions{.lr = 1e-2})},
      {"RMSprop", make<RMSprop>(RMSpropOptions{.lr = 1e-2, .momentum = 0.5, .centered = true})},
      {"Adagrad",
       make<Adagrad>(AdagradOptions{.lr = 0.1, .lr_decay = 0.01, .initial_accumulator_value = 0.1})},
      {"NAdam", make<NAdam>(NAdamOptions{.lr = 1e-2})},
      {"RAdam", make<RAdam>(RAdamOptions{.lr = 1e-2})},
      {"Adamax", make<Adamax>(AdamaxOptions{.lr = 1e-2, .weight_decay = 1e-2})},
  };
}

// A small MLP (5-6-3, relu) and a fixed batch, in f32 or f64.
struct Problem {
  explicit Problem(kiln::DType dtype = kiln::DType::f64) {
    kiln::manual_seed(7);
    x = kiln::randn({10, 5}, {.dtype = dtype});
    y = kiln::randint(0, 3, {10});
    init = {kiln::randn({6, 5}, {.dtype = dtype}), kiln::randn({6}, {.dtype = dtype}),
            kiln::randn({3, 6}, {.dtype = dtype}), kiln::randn({3}, {.dtype = dtype})};
  }
  std::vector<Tensor> fresh_params() const {
    std::vector<Tensor> p;
    for (const Tensor& t : init) p.push_back(t.clone().detach().requires_grad_());
    return p;
  }
  Tensor loss(const std::vector<Tensor>& p) const {
    Tensor logits = kiln::linear(kiln::relu(kiln::linear(x, p[0], p[1])), p[2], p[3]);
    return -kiln::gather(kiln::log_softmax(logits, 1), 1, y.unsqueeze(1)).mean();
  }
  void train(optim::Optimizer& opt, const std::vector<Tensor>& p, int steps) const {
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      loss(p).backward();
      opt.step();
    }
  }
  Tensor x, y;
  std::vector<Tensor> init;
};

std::vector<double> flat(const std::vector<Tensor>& params) {
  std::vector<double> out;
  for (const Tensor& p : params) {
    auto v = p.to_vector<double>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// ---- resume ----

TEST(Optim, ResumeFromStateDictIsBitExact) {
  for (kiln::DType dtype : {kiln::DType::f64, kiln::DType::f32}) {
    Problem problem(dtype);
    for (const auto& [name, make_opt] : all_optimizers()) {
      SCOPED_TRACE(name);
      auto straight_params = problem.fresh_params();
      auto straight = make_opt(straight_params);
      problem.train(*straight, straight_params, 12);

      auto first_params = problem.fresh_params();
      auto first = make_opt(first_params);
      problem.train(*first, first_params, 5);
      kiln::StateDict saved = first->state_dict();
      std::vector<Tensor> resumed_params;
      for (const Tensor& p : first_params) resumed_params.push_back(p.clone().detach().requires_grad_());
      first.reset();

      auto resumed = make_opt(resumed_params);
      resumed->load_state_dict(saved);
      problem.train(*resumed, resumed_params, 7);
      EXPECT_EQ(flat(resumed_params), flat(straight_params));
      EXPECT_NE(flat(resumed_params), flat(problem.init));
    }
  }
}

// state_dict() is a snapshot: later steps do not change it.
TEST(Optim, StateDictIsASnapshot) {
  Problem problem;
  auto p = problem.fresh_params();
  optim::Adam opt(p, {.lr = 0.1});
  problem.train(opt, p, 2);
  kiln::StateDict saved = opt.state_dict();
  auto before = saved.at("state.0.exp_avg").to_vector<double>();
  problem.train(opt, p, 1);
  EXPECT_EQ(saved.at("state.0.exp_avg").to_vector<double>(), before);
  EXPECT_EQ(saved.at("state.0.step").item<int64_t>(), 2);
  EXPECT_EQ(opt.state_dict().at("state.0.step").item<int64_t>(), 3);
}

TEST(Optim, StateDictNames) {
  Problem problem;
  auto p = problem.fresh_params();
  p[1] = problem.init[1].clone();  // b1 does not require grad: no gradient, no state
  optim::Adam opt({{{p[0], p[1]}}, {{p[2], p[3]}, {{"lr", 0.5}}}}, {.lr = 0.1, .amsgrad = true});
  problem.train(opt, p, 1);
  kiln::StateDict d = opt.state_dict();
  std::vector<std::string> expected = {"state.0.step",           "state.0.exp_avg",
                                       "state.0.exp_avg_sq",     "state.0.max_exp_avg_sq",
                                       "state.2.step",           "state.2.exp_avg",
                                       "state.2.exp_avg_sq",     "state.2.max_exp_avg_sq",
                                       "state.3.step",           "state.3.exp_avg",
                                       "state.3.exp_avg_sq",     "state.3.max_exp_avg_sq",
                                       "param_groups.0.params",  "param_groups.0.lr",
                                       "param_groups.0.beta1",   "param_groups.0.beta2",
                                       "param_groups.0.eps",     "param_groups.0.weight_decay",
                                       "param_groups.0.amsgrad", "param_groups.0.maximize",
                                       "param_groups.1.params",  "param_groups.1.lr",
                                       "param_groups.1.beta1",   "param_groups.1.beta2",
                                       "param_groups.1.eps",     "param_groups.1.weight_decay",
                                       "param_groups.1.amsgrad", "param_groups.1.maximize"};
  EXPECT_EQ(d.keys(), expected);
  EXPECT_EQ(d.at("state.0.step").dtype(), kiln::DType::i64);
  EXPECT_EQ(d.at("state.0.step").dim(), 0);
  EXPECT_EQ(d.at("param_groups.1.params").to_vector<int64_t>(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(d.at("param_groups.1.lr").item<double>(), 0.5);
  EXPECT_EQ(d.at("param_groups.0.lr").dtype(), kiln::DType::f64);
  EXPECT_EQ(d.at("param_groups.0.amsgrad").item<double>(), 1.0);
}

// Loading restores hyper-parameters too (a scheduler may have changed the rate before the save).
TEST(Optim, LoadRestoresGroupOptions) {
  Problem problem;
  auto p = problem.fresh_params();
  optim::SGD a(p, {.lr = 0.1});
  a.set_lr(0, 0.025);
  optim::SGD b(problem.fresh_params(), {.lr = 0.1});
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.lr(), 0.025);
}

// ---- groups, zero_grad, skipping ----

TEST(Optim, GroupsFallBackToDefaultsAndOverride) {
  Problem problem;
  auto p = problem.fresh_params();
  optim::SGD opt({{{p[0], p[1]}}, {{p[2]}, {{"lr", 0.5}, {"momentum", 0.9}}}}, {.lr = 0.1, .momentum = 0.3});
  opt.add_param_group({{p[3]}, {{"weight_decay", 0.01}}});
  ASSERT_EQ(opt.num_param_groups(), 3u);
  EXPECT_EQ(opt.lr(0), 0.1);
  EXPECT_EQ(opt.option(0, "momentum"), 0.3);
  EXPECT_EQ(opt.lr(1), 0.5);
  EXPECT_EQ(opt.option(1, "momentum"), 0.9);
  EXPECT_EQ(opt.lr(2), 0.1);
  EXPECT_EQ(opt.option(2, "weight_decay"), 0.01);
  EXPECT_EQ(opt.params(2).size(), 1u);
  EXPECT_EQ(opt.all_params().size(), 4u);
  opt.set_lr(2, 0.2);
  EXPECT_EQ(opt.lr(2), 0.2);
}

// Plain SGD with two groups moves each parameter by its own group's lr.
TEST(Optim, EachGroupUsesItsOwnRate) {
  Tensor a = kiln::zeros({2}, {.dtype = kiln::DType::f64, .requires_grad = true});
  Tensor b = kiln::zeros({2}, {.dtype = kiln::DType::f64, .requires_grad = true});
  optim::SGD opt({{{a}}, {{b}, {{"lr", 0.5}}}}, {.lr = 0.1});
  (a.sum() + b.sum()).backward();
  opt.step();
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{-0.1, -0.1}));
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{-0.5, -0.5}));
}

TEST(Optim, ZeroGradSetsToNoneOrZeros) {
  Tensor w = kiln::ones({3}, {.requires_grad = true});
  optim::SGD opt({w}, {.lr = 0.1});
  (w * w).sum().backward();
  ASSERT_TRUE(w.grad().defined());
  Tensor g = w.grad();
  opt.zero_grad(false);
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().impl(), g.impl());  // zeroed in place
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{0, 0, 0}));
  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

// A create_graph gradient is replaced by zeros rather than written into (it belongs to a graph).
TEST(Optim, ZeroGradReplacesAGraphGradient) {
  Tensor w = kiln::ones({2}, {.requires_grad = true});
  optim::SGD opt({w}, {.lr = 0.1});
  (w * w).sum().backward(Tensor(), false, /*create_graph=*/true);
  ASSERT_TRUE(w.grad().requires_grad());
  opt.zero_grad(false);
  EXPECT_FALSE(w.grad().requires_grad());
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{0, 0}));
}

TEST(Optim, ParametersWithoutGradientAreSkipped) {
  for (const auto& [name, make_opt] : all_optimizers()) {
    SCOPED_TRACE(name);
    Tensor used = kiln::ones({2}, {.dtype = kiln::DType::f64, .requires_grad = true});
    Tensor unused = kiln::ones({2}, {.dtype = kiln::DType::f64, .requires_grad = true});
    auto opt = make_opt({used, unused});
    (used * used).sum().backward();
    opt->step();
    EXPECT_EQ(unused.to_vector<double>(), (std::vector<double>{1, 1}));
    EXPECT_NE(used.to_vector<double>(), (std::vector<double>{1, 1}));
    kiln::StateDict d = opt->state_dict();
    if (name == "Adagrad") {  // Adagrad creates its state at construction, as PyTorch's does
      EXPECT_EQ(d.at("state.1.step").item<int64_t>(), 0);
      EXPECT_EQ(d.at("state.0.step").item<int64_t>(), 1);
    } else {
      for (const auto& key : d.keys()) EXPECT_NE(key.rfind("state.1.", 0), 0u) << key;
    }
  }
}

// One group holding f32 and f64 parameters (one kernel-table call per dtype) updates each exactly as an
// optimizer over that parameter alone would.
TEST(Optim, GroupMixingDtypesMatchesSeparateOptimizers) {
  for (const auto& [name, make_opt] : all_optimizers()) {
    SCOPED_TRACE(name);
    kiln::manual_seed(4);
    Tensor a = kiln::randn({3, 2}), b = kiln::randn({5}, {.dtype = kiln::DType::f64});
    std::vector<Tensor> mixed = {a.clone().requires_grad_(), b.clone().requires_grad_()};
    std::vector<Tensor> alone = {a.clone().requires_grad_(), b.clone().requires_grad_()};
    auto opt = make_opt(mixed);
    auto opt_a = make_opt({alone[0]}), opt_b = make_opt({alone[1]});
    for (int s = 0; s < 4; ++s) {
      for (std::size_t i = 0; i < 2; ++i) {
        Tensor g = kiln::randn(mixed[i].shape(), {.dtype = mixed[i].dtype()});
        mixed[i].set_grad(g);
        alone[i].set_grad(g.clone());
      }
      opt->step();
      opt_a->step();
      opt_b->step();
    }
    for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(mixed[i].to_vector<double>(), alone[i].to_vector<double>());
  }
}

// A strided (non-contiguous) leaf parameter is updated through its own storage, like a contiguous one.
TEST(Optim, StridedParameterIsUpdatedInPlace) {
  Tensor storage = kiln::arange(0, 6, 1, {.dtype = kiln::DType::f64});
  Tensor strided = kiln::as_strided(storage, {3, 2}, {1, 3}, 0).requires_grad_();  // storage^T
  ASSERT_FALSE(strided.is_contiguous());
  Tensor dense = strided.detach().contiguous().requires_grad_();
  optim::Adam a({strided}, {.lr = 0.1}), b({dense}, {.lr = 0.1});
  for (int s = 0; s < 3; ++s) {
    a.zero_grad(), b.zero_grad();
    (strided * strided * strided).sum().backward();
    (dense * dense * dense).sum().backward();
    a.step(), b.step();
  }
  EXPECT_EQ(strided.to_vector<double>(), dense.to_vector<double>());
  EXPECT_EQ(storage.to_vector<double>(), dense.t().contiguous().to_vector<double>());
}

TEST(Optim, StepBumpsTheStorageVersion) {
  Tensor w = kiln::ones({2}, {.requires_grad = true});
  optim::SGD opt({w}, {.lr = 0.1});
  w.sum().backward();
  auto before = w.storage()->version();
  opt.step();
  EXPECT_GT(w.storage()->version(), before);
}

// Every element is updated independently, so the thread count cannot change a bit.
TEST(Optim, ResultsDoNotDependOnTheThreadCount) {
  kiln::testing::ThreadCountRestorer restore;
  auto run = [](int threads) {
    kiln::set_num_threads(threads);
    kiln::manual_seed(3);
    Tensor w = kiln::randn({300, 400}).requires_grad_();  // above the loops' parallel grain
    optim::AdamW opt({w}, {.lr = 0.05, .amsgrad = true});
    for (int s = 0; s < 3; ++s) {
      opt.zero_grad();
      (w * w * w).sum().backward();
      opt.step();
    }
    return w.to_vector<double>();
  };
  EXPECT_EQ(run(1), run(2));
}

// step() needs no NoGradGuard from the caller and records nothing.
TEST(Optim, StepOutsideNoGradRecordsNothing) {
  Tensor w = kiln::ones({3}, {.requires_grad = true});
  optim::Adam opt({w}, {.lr = 0.1});
  (w * 2.0).sum().backward();
  opt.step();
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(kiln::autograd::GradMode::is_enabled());
}

// A group added after training started gets fresh state numbered after the existing parameters.
TEST(Optim, AddParamGroupAfterSteps) {
  for (const auto& [name, make_opt] : all_optimizers()) {
    SCOPED_TRACE(name);
    Tensor a = kiln::ones({2}, {.dtype = kiln::DType::f64, .requires_grad = true});
    Tensor b = kiln::ones({3}, {.dtype = kiln::DType::f64, .requires_grad = true});
    auto opt = make_opt({a});
    (a * a).sum().backward();
    opt->step();
    opt->add_param_group({{b}, {{"lr", 0.0}}});
    opt->zero_grad();
    ((a * a).sum() + (b * b).sum()).backward();
    opt->step();
    EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{1, 1, 1}));  // lr 0 leaves it in place
    kiln::StateDict d = opt->state_dict();
    EXPECT_EQ(d.at("param_groups.1.params").to_vector<int64_t>(), std::vector<int64_t>{1});
    if (name != "SGD") {
      EXPECT_EQ(d.at("state.1.step").item<int64_t>(), 1);
    }
  }
}

// ---- errors ----

Tensor param(kiln::Shape shape = {2}) { return kiln::zeros(shape, {.requires_grad = true}); }

TEST(Optim, ConstructionErrors) {
  using namespace optim;
  Tensor p = param();
  EXPECT_CONTAINS(error_of([] { SGD(std::vector<Tensor>{}, {.lr = 0.1}); }),
                  "SGD: optimizer got an empty parameter list");
  EXPECT_CONTAINS(error_of([&] { SGD(std::vector<ParamGroup>{{{}}}, {.lr = 0.1}); }),
                  "SGD: optimizer got an empty parameter list (parameter group 0 has no parameters)");
  EXPECT_CONTAINS(error_of([&] { SGD({p}, {}); }), "SGD: lr is required");
  EXPECT_CONTAINS(error_of([&] { SGD({p}, {.lr = -1}); }), "SGD: invalid learning rate -1");
  EXPECT_CONTAINS(error_of([&] { SGD({p}, {.lr = 0.1, .momentum = -0.5}); }), "SGD: invalid momentum -0.5");
  EXPECT_CONTAINS(error_of([&] { SGD({p}, {.lr = 0.1, .weight_decay = -1}); }),
                  "SGD: invalid weight_decay -1");
  EXPECT_CONTAINS(error_of([&] { SGD({p}, {.lr = 0.1, .nesterov = true}); }),
                  "SGD: Nesterov momentum requires a momentum > 0 and zero dampening");
  EXPECT_CONTAINS(
      error_of([&] { SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); }),
      "dampening 0.1");
  for (const char* name : {"Adam", "AdamW", "NAdam", "RAdam", "Adamax"}) {
    auto build = [&](double lr, double b1, double b2, double eps, double wd) {
      std::array<double, 2> betas{b1, b2};
      if (std::string(name) == "Adam") Adam({p}, {.lr = lr, .betas = betas, .eps = eps, .weight_decay = wd});
      if (std::string(name) == "AdamW")
        AdamW({p}, {.lr = lr, .betas = betas, .eps = eps, .weight_decay = wd});
      if (std::string(name) == "NAdam")
        NAdam({p}, {.lr = lr, .betas = betas, .eps = eps, .weight_decay = wd});
      if (std::string(name) == "RAdam")
        RAdam({p}, {.lr = lr, .betas = betas, .eps = eps, .weight_decay = wd});
      if (std::string(name) == "Adamax")
        Adamax({p}, {.lr = lr, .betas = betas, .eps = eps, .weight_decay = wd});
    };
    SCOPED_TRACE(name);
    EXPECT_CONTAINS(error_of([&] { build(-0.1, 0.9, 0.999, 1e-8, 0); }),
                    std::string(name) + ": invalid learning rate -0.1");
    EXPECT_CONTAINS(error_of([&] { build(0.1, 1.0, 0.999, 1e-8, 0); }),
                    "invalid beta parameter at index 0: 1");
    EXPECT_CONTAINS(error_of([&] { build(0.1, 0.9, -0.1, 1e-8, 0); }),
                    "invalid beta parameter at index 1: -0.1");
    EXPECT_CONTAINS(error_of([&] { build(0.1, 0.9, 0.999, -1, 0); }), "invalid eps -1");
    EXPECT_CONTAINS(error_of([&] { build(0.1, 0.9, 0.999, 1e-8, -2); }), "invalid weight_decay -2");
  }
  EXPECT_CONTAINS(error_of([&] { NAdam({p}, {.momentum_decay = -1}); }), "NAdam: invalid momentum_decay -1");
  EXPECT_CONTAINS(error_of([&] { RMSprop({p}, {.alpha = -0.5}); }), "RMSprop: invalid alpha -0.5");
  EXPECT_CONTAINS(error_of([&] { RMSprop({p}, {.momentum = -1}); }), "RMSprop: invalid momentum -1");
  EXPECT_CONTAINS(error_of([&] { Adagrad({p}, {.lr_decay = -1}); }), "Adagrad: invalid lr_decay -1");
  EXPECT_CONTAINS(error_of([&] { Adagrad({p}, {.initial_accumulator_value = -1}); }),
                  "Adagrad: invalid initial_accumulator_value -1");
}

TEST(Optim, ParameterErrors) {
  using namespace optim;
  Tensor p = param({2, 3});
  EXPECT_CONTAINS(error_of([] { SGD({Tensor()}, {.lr = 0.1}); }), "SGD: parameter 0 of group 0 is undefined");
  EXPECT_CONTAINS(error_of([] { Adam({kiln::zeros({2}, {.dtype = kiln::DType::i64})}); }),
                  "Adam: parameter 0 of group 0 has dtype i64; only f32 and f64 parameters can be optimized");
  EXPECT_CONTAINS(error_of([&] { Adam({p * 2.0}); }), "can't optimize a non-leaf tensor");
  EXPECT_CONTAINS(error_of([&] {
                    Adam({p, p});
                  }),
                  "parameter 1 of group 0 (shape [2, 3]) appears more than once");
  EXPECT_CONTAINS(error_of([&] {
                    Adam(std::vector<ParamGroup>{{{p}, {{"momentum", 0.9}}}});
                  }),
                  "Adam: parameter group 0 sets unknown option 'momentum'");
  EXPECT_CONTAINS(error_of([&] {
                    Adam(std::vector<ParamGroup>{{{p}, {{"lr", -3}}}});
                  }),
                  "Adam: invalid learning rate -3");
  Adam opt({p});
  EXPECT_CONTAINS(error_of([&] { opt.add_param_group({{p}}); }),
                  "appears more than once across parameter groups");
  EXPECT_CONTAINS(error_of([&] {
                    opt.add_param_group({{param()}, {{"beta1", 1.5}}});
                  }),
                  "Adam: invalid beta parameter at index 0: 1.5");
  EXPECT_EQ(opt.num_param_groups(), 1u);
  EXPECT_CONTAINS(error_of([&] { opt.params(1); }), "Adam: no parameter group 1 (it has 1)");
  EXPECT_CONTAINS(error_of([&] { opt.option(2, "lr"); }), "Adam: no parameter group 2");
  EXPECT_CONTAINS(error_of([&] { opt.set_option(1, "lr", 0.1); }), "Adam: no parameter group 1");
  EXPECT_CONTAINS(
      error_of([&] { opt.option(0, "momentum"); }),
      "Adam has no option 'momentum' (Adam options: lr, beta1, beta2, eps, weight_decay, amsgrad, "
      "maximize)");
  EXPECT_CONTAINS(error_of([&] { opt.set_option(0, "betas", 0.5); }), "Adam has no option 'betas'");
  EXPECT_CONTAINS(error_of([&] { opt.set_option(0, "betas", 0.5, false); }), "Adam has no option 'betas'");
  optim::GroupOptions bare({{"lr", 0.1}});
  EXPECT_CONTAINS(error_of([&] { bare.get("eps"); }), "optimizer has no option 'eps' (its options: lr)");
  EXPECT_CONTAINS(error_of([&] { bare.set("eps", 1.0); }), "optimizer has no option 'eps'");
  EXPECT_CONTAINS(error_of([&] { opt.set_option(0, "eps", -1.0); }), "Adam: invalid eps -1");
  EXPECT_EQ(opt.option(0, "eps"), 1e-8);  // a refused value leaves the option as it was
  EXPECT_CONTAINS(error_of([&] { opt.initial_lr(0); }), "Adam: parameter group 0 has no initial_lr");
  EXPECT_CONTAINS(error_of([&] { opt.set_initial_lr(3, 0.1); }), "Adam: no parameter group 3");
  EXPECT_CONTAINS(error_of([&] { opt.has_initial_lr(3); }), "Adam: no parameter group 3");
}

TEST(Optim, LoadStateDictErrors) {
  Problem problem;
  auto p = problem.fresh_params();
  optim::Adam source(p, {.lr = 0.1});
  problem.train(source, p, 1);
  const kiln::StateDict good = source.state_dict();
  auto with = [&](const std::string& name, Tensor value) {
    kiln::StateDict d;
    for (const auto& [k, v] : good)
      if (k != name) d.insert(k, v);
    if (value.defined()) d.insert(name, value);
    return d;
  };
  auto without = [&](const std::string& name) { return with(name, Tensor()); };
  optim::Adam target(problem.fresh_params(), {.lr = 0.1});
  auto load = [&](const kiln::StateDict& d) { return error_of([&] { target.load_state_dict(d); }); };

  EXPECT_CONTAINS(load(without("param_groups.0.params")),
                  "Adam.load_state_dict: missing 'param_groups.0.params'");
  EXPECT_CONTAINS(load(with("param_groups.0.params", kiln::from_vector<int64_t>({0, 1, 2}))),
                  "'param_groups.0.params' holds");
  EXPECT_CONTAINS(load(without("param_groups.0.beta2")),
                  "Adam.load_state_dict: missing 'param_groups.0.beta2'");
  EXPECT_CONTAINS(load(with("param_groups.0.lr", kiln::zeros({2}, {.dtype = kiln::DType::f64}))),
                  "'param_groups.0.lr' must be a 0-d tensor, got shape [2]");
  EXPECT_CONTAINS(load(with("param_groups.0.lr", kiln::scalar_tensor(-1.0, {.dtype = kiln::DType::f64}))),
                  "Adam: invalid learning rate -1");
  EXPECT_CONTAINS(load(with("param_groups.0.momentum", kiln::scalar_tensor(0.9))),
                  "Adam.load_state_dict: unexpected entry 'param_groups.0.momentum'");
  EXPECT_CONTAINS(load(with("param_groups.1.lr", kiln::scalar_tensor(0.9))),
                  "unexpected entry 'param_groups.1.lr' (this optimizer has 1 parameter groups)");
  EXPECT_CONTAINS(load(with("model.weight", kiln::scalar_tensor(0.9))), "unexpected entry 'model.weight'");
  EXPECT_CONTAINS(load(with("state.x.step", kiln::scalar_tensor(0.9))), "unexpected entry 'state.x.step'");
  EXPECT_CONTAINS(load(with("state.4.step", kiln::scalar_tensor(1.0))),
                  "unexpected entry 'state.4.step' (this optimizer has 4 parameters)");
  EXPECT_CONTAINS(load(with("state.0.momentum_buffer", kiln::zeros({6, 5}))),
                  "Adam keeps no state named 'momentum_buffer'");
  EXPECT_CONTAINS(load(with("state.0.exp_avg", kiln::zeros({5, 6}))),
                  "'state.0.exp_avg' has shape [5, 6] and dtype f32 but parameter 0 has shape [6, 5]");
  EXPECT_CONTAINS(load(with("state.0.exp_avg", kiln::zeros({6, 5}, {.dtype = kiln::DType::i64}))),
                  "'state.0.exp_avg' has shape [6, 5] and dtype i64");
  EXPECT_CONTAINS(load(with("state.0.step", kiln::zeros({1}))), "'state.0.step' must be a 0-d tensor");
  EXPECT_CONTAINS(load(without("state.1.exp_avg_sq")),
                  "Adam.load_state_dict: missing 'state.1.exp_avg_sq' (parameter 1 has other state)");
  kiln::StateDict with_undefined = without("state.0.step");
  with_undefined.insert("state.0.step", Tensor());
  EXPECT_CONTAINS(load(with_undefined), "entry 'state.0.step' is an undefined tensor");
  // A failed load leaves the optimizer as it was.
  EXPECT_EQ(target.state_dict().keys().size(), 8u);  // param_groups.0.* only: no state yet
  // A foreign optimizer's state names its first difference.
  optim::SGD sgd(problem.fresh_params(), {.lr = 0.1});
  EXPECT_CONTAINS(error_of([&] { sgd.load_state_dict(good); }),
                  "SGD.load_state_dict: missing 'param_groups.0.momentum'");
}

// ---- gradient clipping (values against PyTorch are in test_optim_torch.cpp) ----

Tensor with_grad(std::vector<double> g) {
  Tensor p =
      kiln::zeros({static_cast<int64_t>(g.size())}, {.dtype = kiln::DType::f64, .requires_grad = true});
  p.set_grad(kiln::from_vector(g));
  return p;
}

TEST(Clip, NormSkipsMissingGradientsAndScalesInPlace) {
  Tensor a = with_grad({3, 4}), none = kiln::zeros({2}, {.requires_grad = true});
  Tensor g = a.grad();
  double total = optim::clip_grad_norm_({a, none}, 1.0);
  EXPECT_DOUBLE_EQ(total, 5.0);
  EXPECT_EQ(a.grad().impl(), g.impl());
  EXPECT_NEAR(a.grad().to_vector<double>()[0], 0.6, 1e-6);
  EXPECT_FALSE(none.grad().defined());
  EXPECT_EQ(optim::clip_grad_norm_({none}, 1.0), 0.0);
}

TEST(Clip, NormTypes) {
  auto total = [](double p) {
    return optim::clip_grad_norm_({with_grad({3, -4}), with_grad({1})}, 100.0, p);
  };
  EXPECT_DOUBLE_EQ(total(1.0), 8.0);
  EXPECT_DOUBLE_EQ(total(2.0), std::sqrt(26.0));
  EXPECT_DOUBLE_EQ(total(INFINITY), 4.0);
  EXPECT_DOUBLE_EQ(total(-INFINITY), 1.0);
  EXPECT_DOUBLE_EQ(total(0.0), 2.0);  // as PyTorch: the 0-"norm" of the per-tensor counts (2 and 1)
  EXPECT_NEAR(total(3.0), std::cbrt(27.0 + 64.0 + 1.0), 1e-12);
}

TEST(Clip, ValueClampsAndKeepsNaN) {
  Tensor a = with_grad({-2, 0.1, 3, NAN});
  optim::clip_grad_value_({a}, 0.5);
  auto v = a.grad().to_vector<double>();
  EXPECT_EQ(v[0], -0.5);
  EXPECT_EQ(v[1], 0.1);
  EXPECT_EQ(v[2], 0.5);
  EXPECT_TRUE(std::isnan(v[3]));
}

TEST(Clip, Errors) {
  Tensor a = with_grad({1, 2});
  EXPECT_CONTAINS(error_of([&] { optim::clip_grad_norm_({a}, -1.0); }),
                  "clip_grad_norm_: max_norm must be >= 0, got -1");
  EXPECT_CONTAINS(error_of([&] { optim::clip_grad_norm_({a}, 1.0, -2.0); }),
                  "clip_grad_norm_: norm_type must be >= 0 or -inf, got -2");
  EXPECT_CONTAINS(error_of([&] {
                    optim::clip_grad_norm_({a, Tensor()}, 1.0);
                  }),
                  "clip_grad_norm_: parameter 1 is undefined");
  EXPECT_CONTAINS(error_of([&] { optim::clip_grad_value_({a}, -0.5); }),
                  "clip_grad_value_: clip_value must be >= 0, got -0.5");
  Tensor ints = kiln::zeros({2}, {.dtype = kiln::DType::i64});
  ints.set_grad(kiln::zeros({2}, {.dtype = kiln::DType::i64}));
  EXPECT_CONTAINS(error_of([&] { optim::clip_grad_value_({ints}, 1.0); }),
                  "clip_grad_value_: the gradient of parameter 0 has dtype i64; only f32 and f64 gradients");
}

}  // namespace
