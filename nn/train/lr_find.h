// kiln/nn/train/lr_find.h: the learning-rate range test (fastai's lr_find, Smith 2015): trains for up to
// num_iter batches while the rate grows exponentially from start_lr to end_lr, records the smoothed loss
// (an exponential moving average, debiased), stops early once the loss diverges, and suggests a rate at
// the steepest descent of the smoothed curve and one tenth of the rate at its minimum. The model, the
// optimizer, the loader and the default generator are restored exactly as they were. Depends on fit.h.
//
//   auto r = train::lr_find(model, opt, loader);
//   r.plot("lr_find.svg");  std::cout << r.suggestion_steep << " " << r.suggestion_min_div10;
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/nn/train/fit.h"

namespace kiln::nn::train {

struct LRFindOptions {
  double start_lr = 1e-7;
  double end_lr = 10.0;
  int64_t num_iter = 100;
  double smooth_beta = 0.98;       // the moving average's weight of the past
  double diverge_threshold = 4.0;  // stop once smoothed loss > threshold * its minimum
  LossFn loss = nullptr;           // default: cross-entropy
  std::optional<Device> device = std::nullopt;
};

struct LRFindResult {
  std::vector<double> lrs;     // the rate of each step taken
  std::vector<double> losses;  // raw batch losses
  std::vector<double> smoothed_losses;
  double suggestion_steep = 0;               // the rate at the steepest descent of the smoothed loss
  double suggestion_min_div10 = 0;           // the rate at the minimum smoothed loss, divided by 10
  std::string to_svg() const;                // loss against log lr, both suggestions marked
  void plot(const std::string& path) const;  // written atomically
};

LRFindResult lr_find(nn::Module& model, optim::Optimizer& optimizer, data::DataLoader& loader,
                     const LRFindOptions& options = {});

}  // namespace kiln::nn::train
