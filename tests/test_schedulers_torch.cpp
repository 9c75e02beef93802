// tests/test_schedulers_torch.cpp: kiln's LR schedulers against frozen PyTorch 1.13 curves
// (tests/fixtures/torch_sched.txt, written by tests/gen_optim_fixtures.py; layout described there).
//
// Each case builds the optimizer and scheduler named in the table below (the same configuration as the
// generator's), records get_last_lr() after construction and after each of 100 steps (an optimizer step
// first, as PyTorch wants), and compares every value; OneCycleLR cases also compare the cycled momentum or
// beta1, and ReduceLROnPlateau cases feed the fixture's metric sequence. Tolerance:
// |got - expected| <= 1e-12 * max(1e-3, |expected|) (learning rates are about 1e-3 to 1; agreement to
// rounding). A case without an entry here, or an entry without a case, fails.
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/optim/optim.h>

#include "support/fixture.h"

namespace {

using kiln::Tensor;
using kiln::test::FixtureCase;
namespace optim = kiln::optim;

const std::vector<FixtureCase>& fixture() {
  static const std::vector<FixtureCase> cases =
      kiln::test::read_fixture_file(std::string(KILN_FIXTURES_DIR) + "/torch_sched.txt");
  return cases;
}

// One single-parameter group per learning rate (as sgd() / adam() in the generator).
std::vector<optim::ParamGroup> groups(const std::vector<double>& lrs) {
  std::vector<optim::ParamGroup> out;
  for (double lr : lrs)
    out.push_back({{kiln::zeros({2}, {.dtype = kiln::DType::f64, .requires_grad = true})}, {{"lr", lr}}});
  return out;
}

// The objects of one case; `step` advances one epoch (metric is used only by ReduceLROnPlateau).
struct SchedRun {
  std::unique_ptr<optim::Optimizer> opt;
  std::vector<std::unique_ptr<optim::LRScheduler>> parts;  // schedulers a SequentialLR chains
  std::unique_ptr<optim::LRScheduler> sched;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau;
  std::string momentum;  // option name to record ("momentum" / "beta1"), or empty

  std::vector<double> lrs() const { return sched ? sched->get_last_lr() : plateau->get_last_lr(); }
};
using MakeRun = std::function<SchedRun()>;

std::unique_ptr<optim::Optimizer> sgd(const std::vector<double>& lrs, double momentum = 0.0) {
  return std::make_unique<optim::SGD>(groups(lrs), optim::SGDOptions{.lr = lrs[0], .momentum = momentum});
}
std::unique_ptr<optim::Optimizer> adam(const std::vector<double>& lrs) {
  return std::make_unique<optim::Adam>(groups(lrs), optim::AdamOptions{.lr = lrs[0]});
}

template <class Sched, class Options>
MakeRun simple(std::vector<double> lrs, Options options) {
  return [lrs, options] {
    SchedRun r;
    r.opt = sgd(lrs);
    r.sched = std::make_unique<Sched>(*r.opt, options);
    return r;
  };
}

MakeRun plateau(std::vector<double> lrs, optim::ReduceLROnPlateauOptions options) {
  return [lrs, options] {
    SchedRun r;
    r.opt = sgd(lrs);
    r.plateau = std::make_unique<optim::ReduceLROnPlateau>(*r.opt, options);
    return r;
  };
}

// Must match sched_cases() in tests/gen_optim_fixtures.py.
const std::map<std::string, MakeRun>& scheduler_cases() {
  using namespace optim;
  static const std::map<std::string, MakeRun> table = {
      {"step_lr", simple<StepLR>({0.1}, StepLROptions{.step_size = 7, .gamma = 0.5})},
      {"multistep_lr", simple<MultiStepLR>({0.1, 0.02}, MultiStepLROptions{.milestones = {10, 25, 25, 60}, .gamma = 0.3})},
      {"exponential_lr", simple<ExponentialLR>({0.1}, ExponentialLROptions{.gamma = 0.97})},
      {"cosine_lr", simple<CosineAnnealingLR>({0.1, 0.05}, CosineAnnealingLROptions{.t_max = 30, .eta_min = 0.001})},
      {"cosine_lr_full", simple<CosineAnnealingLR>({0.1}, CosineAnnealingLROptions{.t_max = 100})},
      {"cosine_warm_restarts",
       simple<CosineAnnealingWarmRestarts>({0.1, 0.05}, CosineAnnealingWarmRestartsOptions{
                                                            .t_0 = 10, .t_mult = 2, .eta_min = 1e-4})},
      {"cosine_warm_restarts_mult1",
       simple<CosineAnnealingWarmRestarts>({0.1}, CosineAnnealingWarmRestartsOptions{.t_0 = 7})},
      {"linear_lr_warmup", simple<LinearLR>({0.1}, LinearLROptions{.start_factor = 0.1, .total_iters = 10})},
      {"linear_lr_decay",
       simple<LinearLR>({0.1, 0.3}, LinearLROptions{.start_factor = 1.0, .end_factor = 0.2, .total_iters = 30})},
      {"lambda_lr",
       [] {
         SchedRun r;
         r.opt = sgd({0.1});
         r.sched = std::make_unique<LambdaLR>(*r.opt, [](int64_t e) { return 1.0 / (1.0 + 0.1 * e); });
         return r;
       }},
      {"lambda_lr_per_group",
       [] {
         SchedRun r;
         r.opt = sgd({0.1, 0.2});
         r.sched = std::make_unique<LambdaLR>(
             *r.opt, std::vector<LambdaLR::Lambda>{[](int64_t e) { return std::pow(0.9, static_cast<double>(e)); },
                                                   [](int64_t e) { return 1.0 / (e + 1); }});
         return r;
       }},
      {"one_cycle_cos_sgd",
       [] {
         SchedRun r;
         r.opt = sgd({0.1}, 0.9);
         r.sched = std::make_unique<OneCycleLR>(*r.opt, OneCycleLROptions{.max_lr = 0.5, .total_steps = 100});
         r.momentum = "momentum";
         return r;
       }},
      {"one_cycle_linear_three_phase_adam",
       [] {
         SchedRun r;
         r.opt = adam({0.1, 0.1});
         r.sched = std::make_unique<OneCycleLR>(*r.opt, OneCycleLROptions{.max_lrs = {0.01, 0.02},
                                                                          .total_steps = 100,
                                                                          .pct_start = 0.25,
                                                                          .anneal_strategy = AnnealStrategy::linear,
                                                                          .base_momentum = 0.8,
                                                                          .max_momentum = 0.9,
                                                                          .div_factor = 10.0,
                                                                          .final_div_factor = 100.0,
                                                                          .three_phase = true});
         r.momentum = "beta1";
         return r;
       }},
      {"one_cycle_no_momentum",
       [] {
         SchedRun r;
         r.opt = sgd({0.1});
         r.sched = std::make_unique<OneCycleLR>(
             *r.opt, OneCycleLROptions{
                         .max_lr = 1.0, .epochs = 10, .steps_per_epoch = 11, .pct_start = 0.4, .cycle_momentum = false});
         return r;
       }},
      {"sequential_warmup_cosine",
       [] {
         SchedRun r;
         r.opt = sgd({0.1, 0.05});
         r.parts.push_back(std::make_unique<LinearLR>(*r.opt, LinearLROptions{.start_factor = 0.1, .total_iters = 5}));
         r.parts.push_back(std::make_unique<CosineAnnealingLR>(*r.opt, CosineAnnealingLROptions{.t_max = 95}));
         r.sched = std::make_unique<SequentialLR>(*r.opt, std::vector<std::reference_wrapper<LRScheduler>>{*r.parts[0], *r.parts[1]},
                                                  std::vector<int64_t>{5});
         return r;
       }},
      {"sequential_three",
       [] {
         SchedRun r;
         r.opt = sgd({0.1});
         r.parts.push_back(std::make_unique<LinearLR>(*r.opt, LinearLROptions{.start_factor = 0.5, .total_iters = 4}));
         r.parts.push_back(std::make_unique<StepLR>(*r.opt, StepLROptions{.step_size = 6, .gamma = 0.5}));
         r.parts.push_back(std::make_unique<ExponentialLR>(*r.opt, ExponentialLROptions{.gamma = 0.95}));
         r.sched = std::make_unique<SequentialLR>(
             *r.opt, std::vector<std::reference_wrapper<LRScheduler>>{*r.parts[0], *r.parts[1], *r.parts[2]},
             std::vector<int64_t>{10, 40});
         return r;
       }},
      {"plateau_min_rel", plateau({0.1, 0.05}, {.mode = PlateauMode::min,
                                                .factor = 0.5,
                                                .patience = 3,
                                                .threshold = 1e-2,
                                                .cooldown = 2,
                                                .min_lr = 1e-3})},
      {"plateau_max_abs", plateau({0.1, 0.05}, {.mode = PlateauMode::max,
                                                .factor = 0.3,
                                                .patience = 2,
                                                .threshold = 0.05,
                                                .threshold_mode = ThresholdMode::abs,
                                                .min_lrs = {0.01, 0.002},
                                                .eps = 1e-3})},
      {"plateau_defaults", plateau({0.1}, {})},
  };
  return table;
}

void expect_row(const std::vector<double>& got, const kiln::test::FixtureTensor& expected, std::size_t row,
                const std::string& what) {
  const std::size_t width = static_cast<std::size_t>(expected.shape[1]);
  ASSERT_EQ(got.size(), width) << what;
  for (std::size_t g = 0; g < width; ++g) {
    double e = expected.values[row * width + g];
    EXPECT_LE(std::abs(got[g] - e), 1e-12 * std::max(1e-3, std::abs(e)))
        << what << " group " << g << " at row " << row << ": got " << got[g] << ", PyTorch " << e;
  }
}

TEST(SchedulersTorch, EveryCaseHasASchedulerAndBack) {
  std::set<std::string> in_file;
  for (const auto& c : fixture()) in_file.insert(c.name);
  for (const auto& [name, make] : scheduler_cases())
    EXPECT_TRUE(in_file.count(name)) << "no fixture case " << name;
  for (const auto& name : in_file)
    EXPECT_TRUE(scheduler_cases().count(name)) << "no scheduler for case " << name;
}

TEST(SchedulersTorch, CurvesMatchPyTorch) {
  for (const auto& c : fixture()) {
    if (!scheduler_cases().count(c.name)) continue;
    SCOPED_TRACE(c.name);
    SchedRun r = scheduler_cases().at(c.name)();
    const auto& lr = c.get("lr");
    ASSERT_EQ(lr.shape.size(), 2u);
    const bool has_metric = c.has("metric");
    ASSERT_EQ(has_metric, r.plateau != nullptr);
    ASSERT_EQ(c.has("momentum"), !r.momentum.empty());
    auto momentum = [&] {
      std::vector<double> m;
      for (std::size_t g = 0; g < r.opt->num_param_groups(); ++g) m.push_back(r.opt->option(g, r.momentum));
      return m;
    };
    expect_row(r.lrs(), lr, 0, "lr");
    if (!r.momentum.empty()) expect_row(momentum(), c.get("momentum"), 0, "momentum");
    for (std::size_t row = 1; row < static_cast<std::size_t>(lr.shape[0]); ++row) {
      r.opt->step();  // no gradients: a no-op, in the order PyTorch expects
      if (has_metric) {
        r.plateau->step(c.get("metric").values[row - 1]);
      } else {
        r.sched->step();
      }
      expect_row(r.lrs(), lr, row, "lr");
      // The optimizer's own rate is what the scheduler reports.
      for (std::size_t g = 0; g < r.opt->num_param_groups(); ++g) EXPECT_EQ(r.opt->lr(g), r.lrs()[g]);
      if (!r.momentum.empty()) expect_row(momentum(), c.get("momentum"), row, "momentum");
    }
  }
}

}  // namespace
