// kiln/nn/log/pr_curve.h: the counts and rates of TensorBoard's PR-curve plugin.
#pragma once

#include <string>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::logs {

// 6 x num_thresholds float32, row-major: true positives, false positives, true negatives, false
// negatives, precision, recall at thresholds i / (num_thresholds - 1). A prediction p falls in bucket
// floor(p * (num_thresholds - 1)) and counts as positive for every threshold at or below it, exactly as
// tensorboard.plugins.pr_curve.summary computes it (in the predictions' precision: float32 for f32).
// Throws kiln::Error naming `tag` for mismatched sizes, labels other than 0/1, predictions outside [0, 1].
std::vector<float> pr_curve_data(const std::string& tag, const Tensor& labels, const Tensor& predictions,
                                 int num_thresholds);

}  // namespace kiln::logs
