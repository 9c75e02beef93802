// OneCycleLR (lr_scheduler.h): PyTorch 1.13's 1cycle policy, phases and momentum cycling included.
#include <cmath>
#include <numbers>

#include "kiln/optim/lr_scheduler.h"
#include "kiln/tensor/error.h"

namespace kiln::optim {

namespace {
enum Limit { kInitialLr = 0, kMaxLr = 1, kMinLr = 2, kMaxMomentum = 3, kBaseMomentum = 4 };
}

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  if (o_.total_steps != 0) {
    KILN_CHECK(o_.total_steps > 0, "OneCycleLR: expected a positive total_steps, got ", o_.total_steps);
    total_steps_ = o_.total_steps;
  } else {
    KILN_CHECK(o_.epochs != 0 || o_.steps_per_epoch != 0,
               "OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)");
    KILN_CHECK(o_.epochs > 0, "OneCycleLR: expected a positive epochs, got ", o_.epochs);
    KILN_CHECK(o_.steps_per_epoch > 0, "OneCycleLR: expected a positive steps_per_epoch, got ",
               o_.steps_per_epoch);
    total_steps_ = o_.epochs * o_.steps_per_epoch;
  }
  KILN_CHECK(o_.pct_start >= 0.0 && o_.pct_start <= 1.0, "OneCycleLR: expected pct_start in [0, 1], got ",
             o_.pct_start);
  const double total = static_cast<double>(total_steps_);
  if (o_.three_phase) {
    phases_ = {{o_.pct_start * total - 1, kInitialLr, kMaxLr, kMaxMomentum, kBaseMomentum},
               {2 * o_.pct_start * total - 2, kMaxLr, kInitialLr, kBaseMomentum, kMaxMomentum},
               {total - 1, kInitialLr, kMinLr, kMaxMomentum, kMaxMomentum}};
  } else {
    phases_ = {{o_.pct_start * total - 1, kInitialLr, kMaxLr, kMaxMomentum, kBaseMomentum},
               {total - 1, kMaxLr, kMinLr, kBaseMomentum, kMaxMomentum}};
  }

  std::vector<double> max_lrs = o_.max_lrs;
  if (max_lrs.empty()) {
    KILN_CHECK(!std::isnan(o_.max_lr),
               "OneCycleLR: max_lr is required, e.g. {.max_lr = 0.1, .total_steps = 100}");
    max_lrs.assign(num_groups(), o_.max_lr);
  }
  KILN_CHECK(max_lrs.size() == num_groups(), "OneCycleLR: expected ", num_groups(),
             " values for max_lr, got ", max_lrs.size());
  if (o_.cycle_momentum) {
    KILN_CHECK(optimizer.has_option("momentum") || optimizer.has_option("beta1"), "OneCycleLR: optimizer ",
               optimizer.name(), " has no momentum or beta1 to cycle; pass .cycle_momentum = false");
    momentum_name_ = optimizer.has_option("beta1") ? "beta1" : "momentum";
  }
  limits_.resize(num_groups());
  for (std::size_t g = 0; g < num_groups(); ++g) {
    double initial = max_lrs[g] / o_.div_factor;
    limits_[g] = {{initial, max_lrs[g], initial / o_.final_div_factor, o_.max_momentum, o_.base_momentum}};
    optimizer.set_initial_lr(g, initial);
    base_lrs_[g] = initial;
    if (o_.cycle_momentum) optimizer.set_option(g, momentum_name_, o_.max_momentum, false);
  }
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (o_.anneal_strategy == AnnealStrategy::cos) {
    double cos_out = std::cos(std::numbers::pi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }
  return (end - start) * pct + start;
}

std::vector<double> OneCycleLR::get_lr() {
  const int64_t step_num = last_epoch_;
  KILN_CHECK(step_num <= total_steps_, "OneCycleLR: tried to step ", step_num + 1,
             " times; the specified number of total steps is ", total_steps_);
  std::vector<double> lrs(num_groups());
  for (std::size_t g = 0; g < num_groups(); ++g) {
    const double* v = limits_[g].values;
    double start_step = 0, momentum = 0;
    for (std::size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (static_cast<double>(step_num) <= phase.end_step || i + 1 == phases_.size()) {
        double pct = (static_cast<double>(step_num) - start_step) / (phase.end_step - start_step);
        lrs[g] = anneal(v[phase.start_lr], v[phase.end_lr], pct);
        momentum = anneal(v[phase.start_momentum], v[phase.end_momentum], pct);
        break;
      }
      start_step = phase.end_step;
    }
    if (o_.cycle_momentum) optimizer_.set_option(g, momentum_name_, momentum, false);
  }
  return lrs;
}

}  // namespace kiln::optim
