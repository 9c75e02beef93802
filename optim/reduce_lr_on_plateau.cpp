// ReduceLROnPlateau (reduce_lr_on_plateau.h), following PyTorch 1.13 step for step.
#include "kiln/optim/reduce_lr_on_plateau.h"

#include <algorithm>
#include <limits>

#include "kiln/tensor/error.h"

namespace kiln::optim {

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer), o_(options) {
  KILN_CHECK(o_.factor < 1.0, "ReduceLROnPlateau: factor should be < 1.0, got ", o_.factor);
  KILN_CHECK(o_.patience >= 0, "ReduceLROnPlateau: patience must be >= 0, got ", o_.patience);
  KILN_CHECK(o_.cooldown >= 0, "ReduceLROnPlateau: cooldown must be >= 0, got ", o_.cooldown);
  const std::size_t groups = optimizer_.num_param_groups();
  if (o_.min_lrs.empty()) {
    min_lrs_.assign(groups, o_.min_lr);
  } else {
    KILN_CHECK(o_.min_lrs.size() == groups, "ReduceLROnPlateau: expected ", groups, " min_lrs, got ",
               o_.min_lrs.size());
    min_lrs_ = o_.min_lrs;
  }
  best_ = o_.mode == PlateauMode::min ? std::numeric_limits<double>::infinity()
                                      : -std::numeric_limits<double>::infinity();
  for (std::size_t g = 0; g < groups; ++g) last_lr_.push_back(optimizer_.lr(g));
}

bool ReduceLROnPlateau::is_better(double a) const {
  if (o_.mode == PlateauMode::min)
    return o_.threshold_mode == ThresholdMode::rel ? a < best_ * (1. - o_.threshold)
                                                   : a < best_ - o_.threshold;
  return o_.threshold_mode == ThresholdMode::rel ? a > best_ * (o_.threshold + 1.) : a > best_ + o_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  last_epoch_ += 1;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (cooldown_counter_ > 0) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > o_.patience) {
    for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
      double old_lr = optimizer_.lr(g);
      double new_lr = std::max(old_lr * o_.factor, min_lrs_[g]);
      if (old_lr - new_lr > o_.eps) optimizer_.set_scheduled_lr(g, new_lr);
    }
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
  }
  for (std::size_t g = 0; g < last_lr_.size(); ++g) last_lr_[g] = optimizer_.lr(g);
}

StateDict ReduceLROnPlateau::state_dict() const {
  StateDict dict;
  auto count = [](int64_t v) { return scalar_tensor(static_cast<double>(v), {.dtype = DType::i64}); };
  dict.insert("last_epoch", count(last_epoch_));
  dict.insert("num_bad_epochs", count(num_bad_epochs_));
  dict.insert("cooldown_counter", count(cooldown_counter_));
  dict.insert("best", scalar_tensor(best_, {.dtype = DType::f64}));
  dict.insert("last_lr", from_vector(last_lr_));
  return dict;
}

void ReduceLROnPlateau::load_state_dict(const StateDict& dict) {
  for (const char* key : {"last_epoch", "num_bad_epochs", "cooldown_counter", "best"})
    KILN_CHECK(dict.contains(key) && dict.at(key).dim() == 0,
               "ReduceLROnPlateau.load_state_dict: missing or non-scalar '", key, "'");
  KILN_CHECK(dict.contains("last_lr"), "ReduceLROnPlateau.load_state_dict: missing 'last_lr'");
  const Tensor& last = dict.at("last_lr");
  KILN_CHECK(last.dim() == 1 && last.numel() == static_cast<int64_t>(last_lr_.size()),
             "ReduceLROnPlateau.load_state_dict: 'last_lr' has shape ", shape_str(last.shape()),
             " but the optimizer has ", last_lr_.size(), " parameter groups");
  last_epoch_ = dict.at("last_epoch").item<int64_t>();
  num_bad_epochs_ = dict.at("num_bad_epochs").item<int64_t>();
  cooldown_counter_ = dict.at("cooldown_counter").item<int64_t>();
  best_ = dict.at("best").item<double>();
  last_lr_ = last.to_vector<double>();
}

}  // namespace kiln::optim
