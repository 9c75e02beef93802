// LR schedulers (lr_scheduler.h): the base class's stepping and state, and the closed-form / chainable
// schedules StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, LinearLR
// and LambdaLR, each transcribing PyTorch 1.13's formula and its order of floating-point operations.
#include "kiln/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kiln/tensor/error.h"

namespace kiln::optim {

namespace {

constexpr double kPi = std::numbers::pi;

// Python's a % b for b > 0 (never negative).
int64_t floor_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}

int64_t count_of(const std::vector<int64_t>& sorted, int64_t value) {
  auto [lo, hi] = std::equal_range(sorted.begin(), sorted.end(), value);
  return hi - lo;
}

}  // namespace

// ---- base ----

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (std::size_t g = 0; g < num_groups(); ++g) {
    if (!optimizer_.has_initial_lr(g)) optimizer_.set_initial_lr(g, optimizer_.lr(g));
    base_lrs_.push_back(optimizer_.initial_lr(g));
  }
}

std::vector<double> LRScheduler::current_lrs() const {
  std::vector<double> lrs(num_groups());
  for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] = optimizer_.lr(g);
  return lrs;
}

void LRScheduler::apply(const std::vector<double>& lrs) {
  KILN_ASSERT(lrs.size() == num_groups());
  for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_.set_scheduled_lr(g, lrs[g]);
  last_lr_ = current_lrs();
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  apply(get_lr());
}

void LRScheduler::step_to(int64_t epoch) {
  ++step_count_;
  last_epoch_ = epoch;
  auto closed = closed_form_lr();
  apply(closed ? *closed : get_lr());
}

StateDict LRScheduler::state_dict() const {
  StateDict dict;
  dict.insert("last_epoch", scalar_tensor(static_cast<double>(last_epoch_), {.dtype = DType::i64}));
  dict.insert("step_count", scalar_tensor(static_cast<double>(step_count_), {.dtype = DType::i64}));
  dict.insert("base_lrs", from_vector(base_lrs_));
  dict.insert("last_lr", from_vector(last_lr_));
  return dict;
}

void LRScheduler::load_state_dict(const StateDict& dict) {
  for (const char* key : {"last_epoch", "step_count", "base_lrs", "last_lr"})
    KILN_CHECK(dict.contains(key), "LRScheduler.load_state_dict: missing '", key, "'");
  const Tensor& base = dict.at("base_lrs");
  const Tensor& last = dict.at("last_lr");
  for (const Tensor* t : {&base, &last})
    KILN_CHECK(t->dim() == 1 && t->numel() == static_cast<int64_t>(num_groups()),
               "LRScheduler.load_state_dict: '", t == &base ? "base_lrs" : "last_lr", "' has shape ",
               shape_str(t->shape()), " but the optimizer has ", num_groups(), " parameter groups");
  for (const char* key : {"last_epoch", "step_count"})
    KILN_CHECK(dict.at(key).dim() == 0, "LRScheduler.load_state_dict: '", key,
               "' must be a 0-d tensor, got shape ", shape_str(dict.at(key).shape()));
  last_epoch_ = dict.at("last_epoch").item<int64_t>();
  step_count_ = dict.at("step_count").item<int64_t>();
  base_lrs_ = base.to_vector<double>();
  last_lr_ = last.to_vector<double>();
}

namespace {
// A decay factor must keep the learning rate a finite non-negative number. PyTorch does not check it; a
// negative gamma would flip the sign of every other update, which no schedule means.
void check_gamma(const char* who, double gamma) {
  KILN_CHECK(std::isfinite(gamma) && gamma >= 0, who, ": gamma must be finite and >= 0, got ", gamma);
}
}  // namespace

// ---- StepLR ----

StepLR::StepLR(Optimizer& optimizer, const StepLROptions& options) : LRScheduler(optimizer), o_(options) {
  KILN_CHECK(o_.step_size > 0, "StepLR: step_size must be > 0, got ", o_.step_size);
  check_gamma("StepLR", o_.gamma);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0 || last_epoch_ % o_.step_size != 0) return lrs;
  for (double& lr : lrs) lr = lr * o_.gamma;
  return lrs;
}

std::optional<std::vector<double>> StepLR::closed_form_lr() const {
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr = lr * std::pow(o_.gamma, static_cast<double>(last_epoch_ / o_.step_size));
  return lrs;
}

// ---- MultiStepLR ----

MultiStepLR::MultiStepLR(Optimizer& optimizer, const MultiStepLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  std::sort(o_.milestones.begin(), o_.milestones.end());
  check_gamma("MultiStepLR", o_.gamma);
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  int64_t count = count_of(o_.milestones, last_epoch_);
  if (count == 0) return lrs;
  for (double& lr : lrs) lr = lr * std::pow(o_.gamma, static_cast<double>(count));
  return lrs;
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() const {
  auto passed =
      std::upper_bound(o_.milestones.begin(), o_.milestones.end(), last_epoch_) - o_.milestones.begin();
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr = lr * std::pow(o_.gamma, static_cast<double>(passed));
  return lrs;
}

// ---- ExponentialLR ----

ExponentialLR::ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  KILN_CHECK(!std::isnan(o_.gamma), "ExponentialLR: gamma is required, e.g. {.gamma = 0.95}");
  check_gamma("ExponentialLR", o_.gamma);
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr = lr * o_.gamma;
  return lrs;
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() const {
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr = lr * std::pow(o_.gamma, static_cast<double>(last_epoch_));
  return lrs;
}

// ---- CosineAnnealingLR ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  KILN_CHECK(o_.t_max > 0, "CosineAnnealingLR: t_max must be > 0, got ", o_.t_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  const double t_max = static_cast<double>(o_.t_max), eta_min = o_.eta_min;
  const double epoch = static_cast<double>(last_epoch_);
  if (last_epoch_ == 0) return lrs;
  if (step_count_ == 1 && last_epoch_ > 0) {
    for (std::size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = eta_min + (base_lrs_[g] - eta_min) * (1 + std::cos(epoch * kPi / t_max)) / 2;
  } else if (floor_mod(last_epoch_ - 1 - o_.t_max, 2 * o_.t_max) == 0) {
    for (std::size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = lrs[g] + (base_lrs_[g] - eta_min) * (1 - std::cos(kPi / t_max)) / 2;
  } else {
    for (double& lr : lrs)
      lr = (1 + std::cos(kPi * epoch / t_max)) / (1 + std::cos(kPi * (epoch - 1) / t_max)) * (lr - eta_min) +
           eta_min;
  }
  return lrs;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() const {
  std::vector<double> lrs = base_lrs_;
  const double t_max = static_cast<double>(o_.t_max), epoch = static_cast<double>(last_epoch_);
  for (double& lr : lrs) lr = o_.eta_min + (lr - o_.eta_min) * (1 + std::cos(kPi * epoch / t_max)) / 2;
  return lrs;
}

// ---- CosineAnnealingWarmRestarts ----

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer,
                                                         const CosineAnnealingWarmRestartsOptions& options)
    : LRScheduler(optimizer), o_(options), t_i_(options.t_0) {
  KILN_CHECK(o_.t_0 > 0, "CosineAnnealingWarmRestarts: expected a positive integer t_0, got ", o_.t_0);
  KILN_CHECK(o_.t_mult >= 1, "CosineAnnealingWarmRestarts: expected an integer t_mult >= 1, got ", o_.t_mult);
  initial_step();
}

std::vector<double> CosineAnnealingWarmRestarts::get_lr() {
  std::vector<double> lrs = base_lrs_;
  const double t_cur = static_cast<double>(t_cur_), t_i = static_cast<double>(t_i_);
  for (double& lr : lrs) lr = o_.eta_min + (lr - o_.eta_min) * (1 + std::cos(kPi * t_cur / t_i)) / 2;
  return lrs;
}

void CosineAnnealingWarmRestarts::step() {
  if (last_epoch_ < 0) return step_to(0);
  t_cur_ += 1;
  if (t_cur_ >= t_i_) {
    t_cur_ -= t_i_;
    t_i_ *= o_.t_mult;
  }
  last_epoch_ += 1;
  apply(get_lr());
}

void CosineAnnealingWarmRestarts::step_to(int64_t epoch) {
  KILN_CHECK(epoch >= 0, "CosineAnnealingWarmRestarts: expected a non-negative epoch, got ", epoch);
  if (epoch >= o_.t_0) {
    if (o_.t_mult == 1) {
      t_cur_ = epoch % o_.t_0;
    } else {
      double x =
          static_cast<double>(epoch) / static_cast<double>(o_.t_0) * static_cast<double>(o_.t_mult - 1) + 1;
      auto n = static_cast<int64_t>(std::log(x) / std::log(static_cast<double>(o_.t_mult)));
      int64_t power = 1;
      for (int64_t k = 0; k < n; ++k) power *= o_.t_mult;
      t_cur_ = epoch - o_.t_0 * (power - 1) / (o_.t_mult - 1);
      t_i_ = o_.t_0 * power;
    }
  } else {
    t_i_ = o_.t_0;
    t_cur_ = epoch;
  }
  last_epoch_ = epoch;
  apply(get_lr());
}

StateDict CosineAnnealingWarmRestarts::state_dict() const {
  StateDict dict = LRScheduler::state_dict();
  dict.insert("t_i", scalar_tensor(static_cast<double>(t_i_), {.dtype = DType::i64}));
  dict.insert("t_cur", scalar_tensor(static_cast<double>(t_cur_), {.dtype = DType::i64}));
  return dict;
}

void CosineAnnealingWarmRestarts::load_state_dict(const StateDict& dict) {
  for (const char* key : {"t_i", "t_cur"})
    KILN_CHECK(dict.contains(key) && dict.at(key).dim() == 0,
               "CosineAnnealingWarmRestarts.load_state_dict: missing or non-scalar '", key, "'");
  LRScheduler::load_state_dict(dict);
  t_i_ = dict.at("t_i").item<int64_t>();
  t_cur_ = dict.at("t_cur").item<int64_t>();
}

// ---- LinearLR ----

LinearLR::LinearLR(Optimizer& optimizer, const LinearLROptions& options)
    : LRScheduler(optimizer), o_(options) {
  KILN_CHECK(o_.start_factor > 0.0 && o_.start_factor <= 1.0,
             "LinearLR: start_factor must be in (0, 1], got ", o_.start_factor);
  KILN_CHECK(o_.end_factor >= 0.0 && o_.end_factor <= 1.0, "LinearLR: end_factor must be in [0, 1], got ",
             o_.end_factor);
  KILN_CHECK(o_.total_iters > 0, "LinearLR: total_iters must be > 0, got ", o_.total_iters);
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * o_.start_factor;
    return lrs;
  }
  if (last_epoch_ > o_.total_iters) return lrs;
  const double span = o_.end_factor - o_.start_factor;
  const double factor = 1. + span / (static_cast<double>(o_.total_iters) * o_.start_factor +
                                     static_cast<double>(last_epoch_ - 1) * span);
  for (double& lr : lrs) lr = lr * factor;
  return lrs;
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() const {
  std::vector<double> lrs = base_lrs_;
  const double progress = static_cast<double>(std::min(o_.total_iters, last_epoch_));
  for (double& lr : lrs)
    lr = lr * (o_.start_factor +
               (o_.end_factor - o_.start_factor) * progress / static_cast<double>(o_.total_iters));
  return lrs;
}

// ---- LambdaLR ----

LambdaLR::LambdaLR(Optimizer& optimizer, Lambda lambda) : LRScheduler(optimizer) {
  KILN_CHECK(static_cast<bool>(lambda), "LambdaLR: the lambda is empty");
  lambdas_.assign(num_groups(), std::move(lambda));
  initial_step();
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas)
    : LRScheduler(optimizer), lambdas_(std::move(lambdas)) {
  KILN_CHECK(lambdas_.size() == num_groups(), "LambdaLR: expected ", num_groups(),
             " lambdas (one per group), got ", lambdas_.size());
  for (std::size_t g = 0; g < lambdas_.size(); ++g)
    KILN_CHECK(static_cast<bool>(lambdas_[g]), "LambdaLR: lambda ", g, " is empty");
  initial_step();
}

std::vector<double> LambdaLR::get_lr() {
  std::vector<double> lrs = base_lrs_;
  for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] = lrs[g] * lambdas_[g](last_epoch_);
  return lrs;
}

}  // namespace kiln::optim
