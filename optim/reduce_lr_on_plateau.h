// kiln/optim/reduce_lr_on_plateau.h: ReduceLROnPlateau, PyTorch 1.13's metric-driven scheduler: multiplies
// each group's lr by `factor` once the metric has not improved for more than `patience` steps, then waits
// `cooldown` steps before counting again. Depends on optimizer.h.
//
// Improvement: mode min / rel: metric < best * (1 - threshold); min / abs: metric < best - threshold;
// max / rel: metric > best * (1 + threshold); max / abs: metric > best + threshold. A reduction never goes
// below the group's min_lr and is skipped when it would change the lr by eps or less.
// State dict: last_epoch, num_bad_epochs, cooldown_counter (i64 0-d), best (f64 0-d), last_lr (f64 [G]).
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/optim/optimizer.h"

namespace kiln::optim {

enum class PlateauMode { min, max };
enum class ThresholdMode { rel, abs };

struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::min;
  double factor = 0.1;  // < 1
  int64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::rel;
  int64_t cooldown = 0;
  double min_lr = 0.0;
  std::vector<double> min_lrs = {};  // per group; overrides min_lr when given
  double eps = 1e-8;
};

class ReduceLROnPlateau {
 public:
  // Throws kiln::Error for factor >= 1, negative patience or cooldown, or a min_lrs of the wrong length.
  ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  // One epoch with its metric (validation loss, accuracy, ...).
  void step(double metric);
  // The group rates after the last step (the optimizer's rates before the first).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }

  StateDict state_dict() const;
  // Throws kiln::Error naming a missing entry or a last_lr whose length differs from the group count.
  void load_state_dict(const StateDict& dict);

 private:
  bool is_better(double a) const;

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions o_;
  std::vector<double> min_lrs_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace kiln::optim
