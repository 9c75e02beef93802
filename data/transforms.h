// kiln/data/transforms.h: image and feature transforms: to_tensor, Normalize (per-channel mean/std),
// Standardize (statistics fitted on the training split only), RandomHorizontalFlip and RandomCrop with
// padding. A Transform maps a batch x to a new tensor given a seed; random transforms draw image i's
// randomness from Rng(seed, i), so a DataLoader that passes (seed, epoch, batch)-derived seeds gets the
// same augmentations for any number of workers. Inputs are never modified. Depends on tensor/ and
// dataset.h (Standardize::fit over a dataset).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "kiln/data/dataset.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

using Transform = std::function<Tensor(const Tensor& x, uint64_t seed)>;

// The transforms applied one after another; transform k gets a seed derived from (seed, k).
Transform compose(std::vector<Transform> transforms);

// u8 images to f32 in [0, 1]: (N, H, W) -> (N, 1, H, W) and (N, H, W, C) -> (N, C, H, W). Other
// dtypes/shapes are an error.
Tensor to_tensor(const Tensor& images);

// (x - mean[c]) / std[c] for each channel c of x (N, C, ...) or, with a single image, (C, H, W) when
// x.dim() == 3. f32 or f64; mean and std have C entries (or 1, for every channel); std > 0.
Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std);

class Normalize {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor operator()(const Tensor& x, uint64_t seed = 0) const { return normalize(x, mean_, std_); }

 private:
  std::vector<double> mean_, std_;
};

// Per-feature standardization (scikit-learn's StandardScaler): for x (N, D) the statistics are per
// column; for x (N, C, ...) per channel. fit() on the training split only, then apply the same statistics
// to validation and test data. std is the population std (ddof 0); a constant feature gets std 1.
class Standardize {
 public:
  static Standardize fit(const Tensor& x_train);
  // The examples' x of a dataset (a training Subset), read in batches of `batch_size`.
  static Standardize fit(const Dataset& train, int64_t batch_size = 1024);
  Tensor operator()(const Tensor& x, uint64_t seed = 0) const { return normalize(x, mean_, std_); }
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& std() const { return std_; }

 private:
  std::vector<double> mean_, std_;
};

// Flips each image of x (N, C, H, W) (or one image (C, H, W)) left-right with probability p.
class RandomHorizontalFlip {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor operator()(const Tensor& x, uint64_t seed) const;

 private:
  double p_;
};

// Pads each image of x (N, C, H, W) (or (C, H, W)) by `padding` pixels of `fill` on every side, then cuts
// a (height, width) window at a uniformly random position (torchvision's RandomCrop).
class RandomCrop {
 public:
  // RandomCrop({height, width}, padding, fill); a square crop takes one size.
  RandomCrop(std::array<int64_t, 2> size, int64_t padding = 0, double fill = 0.0);
  explicit RandomCrop(int64_t size, int64_t padding = 0, double fill = 0.0)
      : RandomCrop({size, size}, padding, fill) {}
  Tensor operator()(const Tensor& x, uint64_t seed) const;

 private:
  int64_t height_, width_, padding_;
  double fill_;
};

}  // namespace kiln::data
