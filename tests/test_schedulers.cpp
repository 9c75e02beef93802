// tests/test_schedulers.cpp: LR scheduler behaviour beyond the PyTorch curves (test_schedulers_torch.cpp):
// bit-exact resume from optimizer + scheduler state dicts for every scheduler, initial_lr bookkeeping, the
// state dicts' names, momentum cycling, and every error path with its message.
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

std::unique_ptr<optim::SGD> sgd(std::vector<double> lrs = {0.1, 0.03}, double momentum = 0.9) {
  std::vector<optim::ParamGroup> groups;
  for (double lr : lrs) groups.push_back({{kiln::zeros({2}, {.requires_grad = true})}, {{"lr", lr}}});
  return std::make_unique<optim::SGD>(groups, optim::SGDOptions{.lr = lrs[0], .momentum = momentum});
}

// A scheduler and the schedulers it chains, built on one optimizer.
struct Bundle {
  std::vector<std::unique_ptr<optim::LRScheduler>> parts;
  std::unique_ptr<optim::LRScheduler> main;
};
using MakeBundle = std::function<Bundle(optim::Optimizer&)>;

template <class S, class Options>
MakeBundle single(Options o) {
  return [o](optim::Optimizer& opt) { return Bundle{{}, std::make_unique<S>(opt, o)}; };
}

std::vector<std::pair<std::string, MakeBundle>> all_schedulers() {
  using namespace optim;
  return {
      {"StepLR", single<StepLR>(StepLROptions{.step_size = 5, .gamma = 0.5})},
      {"MultiStepLR", single<MultiStepLR>(MultiStepLROptions{.milestones = {3, 20, 40}})},
      {"ExponentialLR", single<ExponentialLR>(ExponentialLROptions{.gamma = 0.9})},
      {"CosineAnnealingLR",
       single<CosineAnnealingLR>(CosineAnnealingLROptions{.t_max = 17, .eta_min = 1e-3})},
      {"CosineAnnealingWarmRestarts",
       single<CosineAnnealingWarmRestarts>(CosineAnnealingWarmRestartsOptions{.t_0 = 4, .t_mult = 3})},
      {"LinearLR", single<LinearLR>(LinearLROptions{.start_factor = 0.2, .total_iters = 30})},
      {"LambdaLR",
       [](Optimizer& opt) {
         return Bundle{{}, std::make_unique<LambdaLR>(opt, [](int64_t e) { return 1.0 / (1 + e); })};
       }},
      {"OneCycleLR",
       single<OneCycleLR>(OneCycleLROptions{.max_lr = 1.0, .total_steps = 80, .three_phase = true})},
      {"SequentialLR",
       [](Optimizer& opt) {
         Bundle b;
         b.parts.push_back(
             std::make_unique<LinearLR>(opt, LinearLROptions{.start_factor = 0.1, .total_iters = 8}));
         b.parts.push_back(std::make_unique<CosineAnnealingWarmRestarts>(
             opt, CosineAnnealingWarmRestartsOptions{.t_0 = 9}));
         b.main = std::make_unique<SequentialLR>(
             opt, std::vector<std::reference_wrapper<LRScheduler>>{*b.parts[0], *b.parts[1]},
             std::vector<int64_t>{12});
         return b;
       }},
  };
}

std::vector<double> lrs_and_momenta(const optim::Optimizer& opt) {
  std::vector<double> v;
  for (std::size_t g = 0; g < opt.num_param_groups(); ++g) {
    v.push_back(opt.lr(g));
    v.push_back(opt.option(g, "momentum"));
  }
  return v;
}

TEST(Schedulers, ResumeFromStateDictIsBitExact) {
  const int total = 60, cut = 23;
  for (const auto& [name, make] : all_schedulers()) {
    SCOPED_TRACE(name);
    auto opt = sgd();
    Bundle straight = make(*opt);
    std::vector<std::vector<double>> expected;
    for (int s = 0; s < total; ++s) {
      opt->step();
      straight.main->step();
      expected.push_back(lrs_and_momenta(*opt));
    }

    auto first_opt = sgd();
    Bundle first = make(*first_opt);
    for (int s = 0; s < cut; ++s) first_opt->step(), first.main->step();
    kiln::StateDict opt_state = first_opt->state_dict(), sched_state = first.main->state_dict();

    auto opt2 = sgd();
    Bundle resumed = make(*opt2);  // takes its own initial step, which the loads below overwrite
    opt2->load_state_dict(opt_state);
    resumed.main->load_state_dict(sched_state);
    EXPECT_EQ(resumed.main->last_epoch(), cut);
    for (int s = cut; s < total; ++s) {
      opt2->step();
      resumed.main->step();
      EXPECT_EQ(lrs_and_momenta(*opt2), expected[s]) << "step " << s + 1;
      EXPECT_EQ(resumed.main->get_last_lr(), (std::vector<double>{opt2->lr(0), opt2->lr(1)}));
    }
  }
}

TEST(Schedulers, PlateauResumeIsBitExact) {
  auto metric = [](int s) { return 1.0 / (1 + s % 17) + 0.01 * s; };
  optim::ReduceLROnPlateauOptions options{.factor = 0.5, .patience = 2, .cooldown = 1};
  auto opt = sgd();
  optim::ReduceLROnPlateau straight(*opt, options);
  std::vector<std::vector<double>> expected;
  for (int s = 0; s < 50; ++s) straight.step(metric(s)), expected.push_back(straight.get_last_lr());

  auto opt1 = sgd();
  optim::ReduceLROnPlateau first(*opt1, options);
  for (int s = 0; s < 21; ++s) first.step(metric(s));
  auto opt2 = sgd();
  optim::ReduceLROnPlateau resumed(*opt2, options);
  opt2->load_state_dict(opt1->state_dict());
  resumed.load_state_dict(first.state_dict());
  EXPECT_EQ(resumed.best(), first.best());
  EXPECT_EQ(resumed.num_bad_epochs(), first.num_bad_epochs());
  for (int s = 21; s < 50; ++s) {
    resumed.step(metric(s));
    EXPECT_EQ(resumed.get_last_lr(), expected[s]) << "step " << s + 1;
  }
  EXPECT_EQ(resumed.last_epoch(), 50);
  EXPECT_LT(resumed.get_last_lr()[0], 0.1);  // it did reduce
}

TEST(Schedulers, ConstructorTakesTheFirstStep) {
  auto opt = sgd({0.1});
  optim::LinearLR warm(*opt, {.start_factor = 0.25, .total_iters = 4});
  EXPECT_EQ(warm.last_epoch(), 0);
  EXPECT_DOUBLE_EQ(opt->lr(), 0.025);
  EXPECT_EQ(warm.get_last_lr(), std::vector<double>{opt->lr()});
  EXPECT_EQ(opt->initial_lr(0), 0.1);
  // A second scheduler on the same optimizer starts from initial_lr, not the warmed-down rate.
  optim::StepLR step(*opt, {.step_size = 2});
  EXPECT_EQ(step.state_dict().at("base_lrs").to_vector<double>(), std::vector<double>{0.1});
  EXPECT_EQ(opt->state_dict().at("param_groups.0.initial_lr").item<double>(), 0.1);
}

TEST(Schedulers, StateDictNames) {
  auto opt = sgd();
  optim::CosineAnnealingWarmRestarts cawr(*opt, {.t_0 = 3});
  EXPECT_EQ(cawr.state_dict().keys(),
            (std::vector<std::string>{"last_epoch", "step_count", "base_lrs", "last_lr", "t_i", "t_cur"}));
  optim::LinearLR a(*opt, {});
  optim::ExponentialLR b(*opt, {.gamma = 0.5});
  optim::SequentialLR seq(*opt, {a, b}, {3});
  auto keys = seq.state_dict().keys();
  EXPECT_EQ(keys[0], "last_epoch");
  EXPECT_EQ(keys[2], "schedulers.0.last_epoch");
  EXPECT_EQ(keys.back(), "schedulers.1.last_lr");
  optim::ReduceLROnPlateau plateau(*opt);
  EXPECT_EQ(plateau.state_dict().keys(), (std::vector<std::string>{"last_epoch", "num_bad_epochs",
                                                                   "cooldown_counter", "best", "last_lr"}));
}

TEST(Schedulers, OneCycleCyclesBeta1OfAdam) {
  Tensor w = kiln::zeros({2}, {.requires_grad = true});
  optim::Adam opt({w}, {.lr = 1.0});
  optim::OneCycleLR sched(opt, {.max_lr = 0.1, .total_steps = 10});
  EXPECT_DOUBLE_EQ(opt.option(0, "beta1"), 0.95);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.1 / 25);
  for (int s = 0; s < 2; ++s) sched.step();  // the peak: epoch pct_start * total_steps - 1 = 2
  EXPECT_NEAR(opt.option(0, "beta1"), 0.85, 1e-12);
  EXPECT_NEAR(opt.lr(), 0.1, 1e-12);
  EXPECT_EQ(opt.option(0, "beta2"), 0.999);
  for (int s = 2; s < 10; ++s) sched.step();  // epoch 10 = total_steps is still allowed, as in PyTorch
  EXPECT_CONTAINS(error_of([&] { sched.step(); }),
                  "OneCycleLR: tried to step 12 times; the specified number of total steps is 10");
}

TEST(Schedulers, PlateauModes) {
  auto opt = sgd({1.0});
  optim::ReduceLROnPlateau max_mode(*opt, {.mode = optim::PlateauMode::max, .patience = 0, .min_lr = 0.05});
  max_mode.step(1.0);
  EXPECT_EQ(opt->lr(), 1.0);
  max_mode.step(0.5);  // worse: reduce
  EXPECT_DOUBLE_EQ(opt->lr(), 0.1);
  max_mode.step(0.4);  // min_lr bounds the reduction
  EXPECT_DOUBLE_EQ(opt->lr(), 0.05);
  max_mode.step(0.3);  // at min_lr: unchanged (the change would be below eps)
  EXPECT_DOUBLE_EQ(opt->lr(), 0.05);
  EXPECT_EQ(max_mode.best(), 1.0);
}

TEST(Schedulers, Errors) {
  using namespace optim;
  auto opt = sgd();
  EXPECT_CONTAINS(error_of([&] { StepLR(*opt, {}); }), "StepLR: step_size must be > 0, got 0");
  EXPECT_CONTAINS(error_of([&] { ExponentialLR(*opt, {}); }), "ExponentialLR: gamma is required");
  EXPECT_CONTAINS(error_of([&] { CosineAnnealingLR(*opt, {}); }),
                  "CosineAnnealingLR: t_max must be > 0, got 0");
  EXPECT_CONTAINS(error_of([&] { CosineAnnealingWarmRestarts(*opt, {.t_0 = -1}); }),
                  "CosineAnnealingWarmRestarts: expected a positive integer t_0, got -1");
  EXPECT_CONTAINS(error_of([&] { CosineAnnealingWarmRestarts(*opt, {.t_0 = 2, .t_mult = 0}); }),
                  "expected an integer t_mult >= 1, got 0");
  CosineAnnealingWarmRestarts cawr(*opt, {.t_0 = 2});
  EXPECT_CONTAINS(error_of([&] { cawr.step_to(-3); }),
                  "CosineAnnealingWarmRestarts: expected a non-negative epoch, got -3");
  EXPECT_CONTAINS(error_of([&] { LinearLR(*opt, {.start_factor = 0}); }),
                  "LinearLR: start_factor must be in (0, 1], got 0");
  EXPECT_CONTAINS(error_of([&] { LinearLR(*opt, {.end_factor = 1.5}); }),
                  "LinearLR: end_factor must be in [0, 1], got 1.5");
  EXPECT_CONTAINS(error_of([&] { LinearLR(*opt, {.total_iters = 0}); }),
                  "LinearLR: total_iters must be > 0, got 0");
  EXPECT_CONTAINS(error_of([&] { LambdaLR(*opt, LambdaLR::Lambda()); }), "LambdaLR: the lambda is empty");
  EXPECT_CONTAINS(
      error_of([&] { LambdaLR(*opt, std::vector<LambdaLR::Lambda>{[](int64_t) { return 1.0; }}); }),
      "LambdaLR: expected 2 lambdas (one per group), got 1");
  EXPECT_CONTAINS(error_of([&] {
                    LambdaLR(*opt, std::vector<LambdaLR::Lambda>{[](int64_t) { return 1.0; }, {}});
                  }),
                  "LambdaLR: lambda 1 is empty");

  EXPECT_CONTAINS(error_of([&] { OneCycleLR(*opt, {.max_lr = 1, .total_steps = -5}); }),
                  "OneCycleLR: expected a positive total_steps, got -5");
  EXPECT_CONTAINS(error_of([&] { OneCycleLR(*opt, {.max_lr = 1}); }),
                  "OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)");
  EXPECT_CONTAINS(error_of([&] { OneCycleLR(*opt, {.max_lr = 1, .steps_per_epoch = 3}); }),
                  "OneCycleLR: expected a positive epochs, got 0");
  EXPECT_CONTAINS(error_of([&] { OneCycleLR(*opt, {.max_lr = 1, .epochs = 3}); }),
                  "OneCycleLR: expected a positive steps_per_epoch, got 0");
  EXPECT_CONTAINS(error_of([&] { OneCycleLR(*opt, {.max_lr = 1, .total_steps = 9, .pct_start = 1.5}); }),
                  "OneCycleLR: expected pct_start in [0, 1], got 1.5");
  EXPECT_CONTAINS(error_of([&] { OneCycleLR(*opt, {.total_steps = 9}); }), "OneCycleLR: max_lr is required");
  EXPECT_CONTAINS(error_of([&] {
                    OneCycleLR(*opt, {.max_lrs = {1, 2, 3}, .total_steps = 9});
                  }),
                  "OneCycleLR: expected 2 values for max_lr, got 3");
  Tensor w = kiln::zeros({2}, {.requires_grad = true});
  Adagrad adagrad({w});
  EXPECT_CONTAINS(
      error_of([&] { OneCycleLR(adagrad, {.max_lr = 1, .total_steps = 9}); }),
      "OneCycleLR: optimizer Adagrad has no momentum or beta1 to cycle; pass .cycle_momentum = false");

  LinearLR a(*opt, {});
  ExponentialLR b(*opt, {.gamma = 0.5});
  LinearLR foreign(adagrad, {});
  EXPECT_CONTAINS(error_of([&] { SequentialLR(*opt, {}, {}); }),
                  "SequentialLR: needs at least one scheduler");
  EXPECT_CONTAINS(error_of([&] {
                    SequentialLR(*opt, {a, foreign}, {3});
                  }),
                  "SequentialLR: scheduler 1 is attached to a different optimizer");
  EXPECT_CONTAINS(
      error_of([&] {
        SequentialLR(*opt, {a, b}, {3, 4});
      }),
      "SequentialLR: expects one milestone fewer than schedulers, got 2 schedulers and 2 milestones");
  EXPECT_CONTAINS(error_of([&] {
                    SequentialLR(*opt, {a, b, a}, {5, 4});
                  }),
                  "SequentialLR: milestones must be increasing");
  SequentialLR seq(*opt, {a, b}, {3});
  EXPECT_CONTAINS(error_of([&] { seq.step_to(3); }),
                  "SequentialLR: step_to(3) is not supported; call step()");

  EXPECT_CONTAINS(error_of([&] { ReduceLROnPlateau(*opt, {.factor = 1.0}); }),
                  "ReduceLROnPlateau: factor should be < 1.0, got 1");
  EXPECT_CONTAINS(error_of([&] { ReduceLROnPlateau(*opt, {.patience = -1}); }),
                  "ReduceLROnPlateau: patience must be >= 0, got -1");
  EXPECT_CONTAINS(error_of([&] { ReduceLROnPlateau(*opt, {.cooldown = -2}); }),
                  "ReduceLROnPlateau: cooldown must be >= 0, got -2");
  EXPECT_CONTAINS(error_of([&] { ReduceLROnPlateau(*opt, {.min_lrs = {0.1}}); }),
                  "ReduceLROnPlateau: expected 2 min_lrs, got 1");
}

TEST(Schedulers, LoadStateDictErrors) {
  using namespace optim;
  auto opt = sgd();
  StepLR step(*opt, {.step_size = 3});
  auto edit = [](kiln::StateDict d, const std::string& drop, const std::string& name = "",
                 Tensor value = Tensor()) {
    kiln::StateDict out;
    for (const auto& [k, v] : d)
      if (k != drop && k != name) out.insert(k, v);
    if (value.defined()) out.insert(name, value);
    return out;
  };
  kiln::StateDict good = step.state_dict();
  EXPECT_CONTAINS(error_of([&] { step.load_state_dict(edit(good, "step_count")); }),
                  "LRScheduler.load_state_dict: missing 'step_count'");
  EXPECT_CONTAINS(error_of([&] { step.load_state_dict(edit(good, "", "base_lrs", kiln::zeros({3}))); }),
                  "'base_lrs' has shape [3] but the optimizer has 2 parameter groups");
  EXPECT_CONTAINS(error_of([&] { step.load_state_dict(edit(good, "", "last_epoch", kiln::zeros({1}))); }),
                  "'last_epoch' must be a 0-d tensor, got shape [1]");
  CosineAnnealingWarmRestarts cawr(*opt, {.t_0 = 3});
  EXPECT_CONTAINS(error_of([&] { cawr.load_state_dict(edit(cawr.state_dict(), "t_cur")); }),
                  "CosineAnnealingWarmRestarts.load_state_dict: missing or non-scalar 't_cur'");
  LinearLR a(*opt, {});
  ExponentialLR b(*opt, {.gamma = 0.5});
  SequentialLR seq(*opt, {a, b}, {3});
  kiln::StateDict s = seq.state_dict();
  EXPECT_CONTAINS(error_of([&] { seq.load_state_dict(edit(s, "last_lr")); }),
                  "SequentialLR.load_state_dict: missing 'last_lr'");
  EXPECT_CONTAINS(
      error_of([&] { seq.load_state_dict(edit(s, "", "schedulers.2.last_epoch", kiln::scalar_tensor(1))); }),
      "SequentialLR.load_state_dict: unexpected entry 'schedulers.2.last_epoch'");
  EXPECT_CONTAINS(error_of([&] { seq.load_state_dict(edit(s, "", "other", kiln::scalar_tensor(1))); }),
                  "unexpected entry 'other'");
  EXPECT_CONTAINS(error_of([&] { seq.load_state_dict(edit(s, "", "last_lr", kiln::zeros({5}))); }),
                  "SequentialLR.load_state_dict: 'last_lr' has shape [5]");
  EXPECT_CONTAINS(error_of([&] { seq.load_state_dict(edit(s, "schedulers.1.base_lrs")); }),
                  "LRScheduler.load_state_dict: missing 'base_lrs'");
  ReduceLROnPlateau plateau(*opt);
  kiln::StateDict p = plateau.state_dict();
  EXPECT_CONTAINS(error_of([&] { plateau.load_state_dict(edit(p, "best")); }),
                  "ReduceLROnPlateau.load_state_dict: missing or non-scalar 'best'");
  EXPECT_CONTAINS(error_of([&] { plateau.load_state_dict(edit(p, "last_lr")); }),
                  "ReduceLROnPlateau.load_state_dict: missing 'last_lr'");
  EXPECT_CONTAINS(
      error_of([&] { plateau.load_state_dict(edit(p, "", "last_lr", kiln::zeros({1}))); }),
      "ReduceLROnPlateau.load_state_dict: 'last_lr' has shape [1] but the optimizer has 2 parameter groups");
}

}  // namespace
