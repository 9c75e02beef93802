// kiln/nn/train/finding.h: one diagnostic finding of a training run (diagnostics.h makes them): what was
// found, the numbers that show it, and the concrete change that addresses it. Depends on nothing.
#pragma once

#include <string>

namespace kiln::nn::train {

struct Finding {
  // "overfitting", "underfitting", "non_finite_loss", "exploding_gradients", "lr_too_high",
  // "lr_too_low", "dead_relu", "class_imbalance", "unscaled_inputs", "train_val_overlap",
  // "not_reproducible".
  std::string kind;
  std::string evidence;  // the measurements, e.g. "val_loss rose for 4 epochs (0.29 -> 0.35) while loss fell"
  std::string fix;       // e.g. "EarlyStopping(patience=3) would have stopped at epoch 7 ...; add Dropout"
};

}  // namespace kiln::nn::train
