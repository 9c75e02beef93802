// kiln/optim/lr_scheduler.h: learning-rate schedulers with PyTorch 1.13's exact curves (its recursive
// "chainable" formulas, so the values agree to rounding), including the step the constructor takes:
// after construction get_last_lr() is the epoch-0 rate and last_epoch() is 0. Call step() after each
// optimizer.step() (per epoch or per batch, as the schedule is meant). Depends on optimizer.h.
//
// A scheduler holds a reference to its optimizer (which must outlive it) and writes each group's lr.
// The first scheduler attached records each group's initial_lr in the optimizer; base_lrs come from it, so
// a second scheduler on the same optimizer (SequentialLR's case) starts from the original rates.
//
// State dict (scalars 0-d: i64 counts, f64 reals): last_epoch, step_count, base_lrs [G], last_lr [G], plus
// each scheduler's own counters (documented below). Hyper-parameters (gamma, t_max, ...) are not saved:
// construct the scheduler with the same options, then load.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "kiln/optim/optimizer.h"

namespace kiln::optim {

class LRScheduler {
 public:
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;
  virtual ~LRScheduler() = default;

  // Advances one epoch and writes the new rate into every group.
  virtual void step();
  // PyTorch's deprecated step(epoch): jumps to `epoch` using the closed form where the schedule has one
  // (SequentialLR uses it at its milestones).
  virtual void step_to(int64_t epoch);
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  Optimizer& optimizer() const { return optimizer_; }

  virtual StateDict state_dict() const;
  // Throws kiln::Error naming a missing entry or a group count that differs from the optimizer's.
  virtual void load_state_dict(const StateDict& dict);

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // The rates for last_epoch_ (already advanced), from the current group rates where the form is recursive.
  virtual std::vector<double> get_lr() = 0;
  virtual std::optional<std::vector<double>> closed_form_lr() const { return std::nullopt; }
  // PyTorch's _initial_step: resets the step count and takes the first step. Every concrete constructor
  // ends with it (a base constructor cannot call the overridden get_lr).
  void initial_step();
  std::vector<double> current_lrs() const;
  void apply(const std::vector<double>& lrs);
  std::size_t num_groups() const { return optimizer_.num_param_groups(); }

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;
  std::vector<double> last_lr_;

  friend class SequentialLR;
};

// lr * gamma every step_size epochs.
struct StepLROptions {
  int64_t step_size = 0;  // required, > 0
  double gamma = 0.1;
};
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, const StepLROptions& options);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  StepLROptions o_;
};

// lr * gamma at each milestone (a milestone listed twice multiplies by gamma^2, as PyTorch's Counter).
struct MultiStepLROptions {
  std::vector<int64_t> milestones = {};
  double gamma = 0.1;
};
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, const MultiStepLROptions& options);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  MultiStepLROptions o_;  // milestones sorted
};

// lr * gamma every epoch.
struct ExponentialLROptions {
  double gamma = std::numeric_limits<double>::quiet_NaN();  // required
};
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  ExponentialLROptions o_;
};

// eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2, continued as a cosine wave past t_max.
struct CosineAnnealingLROptions {
  int64_t t_max = 0;  // required, > 0
  double eta_min = 0.0;
};
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  CosineAnnealingLROptions o_;
};

// SGDR: cosine annealing restarted every t_i epochs, t_0 first, t_i *= t_mult at each restart.
// Extra state: t_i, t_cur (i64).
struct CosineAnnealingWarmRestartsOptions {
  int64_t t_0 = 0;  // required, > 0
  int64_t t_mult = 1;
  double eta_min = 0.0;
};
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& optimizer, const CosineAnnealingWarmRestartsOptions& options);
  void step() override;
  void step_to(int64_t epoch) override;
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& dict) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  CosineAnnealingWarmRestartsOptions o_;
  int64_t t_i_ = 0;
  int64_t t_cur_ = -1;
};

// Warm-up: the factor goes linearly from start_factor to end_factor over total_iters epochs.
struct LinearLROptions {
  double start_factor = 1.0 / 3;  // in (0, 1]
  double end_factor = 1.0;        // in [0, 1]
  int64_t total_iters = 5;        // > 0
};
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, const LinearLROptions& options = {});

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;

 private:
  LinearLROptions o_;
};

// base_lr * lambda(epoch); one function for every group, or one per group.
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t)>;
  LambdaLR(Optimizer& optimizer, Lambda lambda);
  LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas);  // lambdas.size() == number of groups

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<Lambda> lambdas_;
};

// 1cycle (Smith): warm up from max_lr / div_factor to max_lr over pct_start of total_steps, then anneal to
// initial_lr / final_div_factor (three_phase: back to the initial rate first, then down). With
// cycle_momentum the optimizer's momentum (SGD, RMSprop) or beta1 (Adam family) moves inversely between
// max_momentum and base_momentum. Stepping past total_steps is a kiln::Error.
enum class AnnealStrategy { cos, linear };
struct OneCycleLROptions {
  double max_lr = std::numeric_limits<double>::quiet_NaN();  // required unless max_lrs is given
  std::vector<double> max_lrs = {};                          // per group; overrides max_lr
  int64_t total_steps = 0;                                   // or epochs * steps_per_epoch
  int64_t epochs = 0;
  int64_t steps_per_epoch = 0;
  double pct_start = 0.3;
  AnnealStrategy anneal_strategy = AnnealStrategy::cos;
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
};
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);
  int64_t total_steps() const { return total_steps_; }

 protected:
  std::vector<double> get_lr() override;

 private:
  struct Phase {
    double end_step;
    int start_lr, end_lr, start_momentum, end_momentum;  // indices into GroupLimits::values
  };
  struct GroupLimits {
    double values[5];  // initial_lr, max_lr, min_lr, max_momentum, base_momentum
  };
  double anneal(double start, double end, double pct) const;

  OneCycleLROptions o_;
  int64_t total_steps_ = 0;
  std::vector<Phase> phases_;
  std::vector<GroupLimits> limits_;
  std::string momentum_name_;  // "momentum" or "beta1" when cycling
};

// Runs schedulers one after another: schedulers[k] from milestones[k-1] on (restarted at its epoch 0).
// The schedulers must be attached to `optimizer` and outlive this object. State: its own last_epoch and
// last_lr, and each scheduler's state under schedulers.<k>.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::reference_wrapper<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  void step() override;
  void step_to(int64_t epoch) override;  // not supported (as in PyTorch): throws kiln::Error
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& dict) override;

 protected:
  std::vector<double> get_lr() override { return current_lrs(); }

 private:
  std::vector<std::reference_wrapper<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

}  // namespace kiln::optim
