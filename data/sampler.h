// kiln/data/sampler.h: samplers, which choose the example indices of one epoch for a DataLoader.
// A sampler is stateless: indices(n, seed, epoch) depends only on its arguments, so an epoch can be
// replayed (resuming a loader) and never depends on worker threads. Depends on nothing but the standard
// library (and rng.h in sampler.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace kiln::data {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The indices (each in [0, n)) to visit in `epoch` of a dataset of n examples.
  virtual std::vector<int64_t> indices(int64_t n, uint64_t seed, int64_t epoch) const = 0;
};

// 0, 1, ..., n-1.
class SequentialSampler : public Sampler {
 public:
  std::vector<int64_t> indices(int64_t n, uint64_t seed, int64_t epoch) const override;
};

// A new random permutation each epoch; with replacement, num_samples (default n) uniform draws.
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(bool replacement = false, std::optional<int64_t> num_samples = std::nullopt);
  std::vector<int64_t> indices(int64_t n, uint64_t seed, int64_t epoch) const override;

 private:
  bool replacement_;
  std::optional<int64_t> num_samples_;
};

// num_samples draws where index i has probability weights[i] / sum(weights) (PyTorch's
// WeightedRandomSampler); for class imbalance give each example 1 / (count of its class). Without
// replacement, no index repeats (num_samples <= number of nonzero weights). Weights must be finite and
// >= 0 with a positive sum, and the dataset must have weights.size() examples.
class WeightedRandomSampler : public Sampler {
 public:
  WeightedRandomSampler(std::vector<double> weights, int64_t num_samples, bool replacement = true);
  std::vector<int64_t> indices(int64_t n, uint64_t seed, int64_t epoch) const override;

 private:
  std::vector<double> cumulative_;  // running sums of the weights
  std::vector<double> weights_;
  int64_t num_samples_;
  bool replacement_;
};

// This rank's share of an epoch for data-parallel training (PyTorch's DistributedSampler): the epoch's
// order (shuffled with seed and epoch, the same on every rank) is padded by repeating its start to a
// multiple of world_size (or cut to one with drop_last), then rank r takes positions r, r + world_size, ...
// Every rank gets the same number of indices, and the ranks together cover every example.
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(int64_t world_size, int64_t rank, bool shuffle = true, bool drop_last = false);
  std::vector<int64_t> indices(int64_t n, uint64_t seed, int64_t epoch) const override;

 private:
  int64_t world_size_, rank_;
  bool shuffle_, drop_last_;
};

// Weights 1 / (count of the example's class) for integer labels: with WeightedRandomSampler, every class
// is drawn equally often.
std::vector<double> balanced_weights(const std::vector<int64_t>& labels);

}  // namespace kiln::data
