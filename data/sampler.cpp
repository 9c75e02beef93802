// data/sampler.cpp: the samplers (see sampler.h). Each epoch's draws come from Rng(seed, epoch-derived
// stream), so they are reproducible. Depends on rng.h and tensor/error.h.
#include "kiln/data/sampler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <queue>

#include "kiln/data/rng.h"
#include "kiln/tensor/error.h"

namespace kiln::data {
namespace {

// Distinct streams per sampler kind, so two samplers with one seed do not draw the same numbers.
constexpr uint64_t kRandomStream = 0x100, kWeightedStream = 0x200, kDistributedStream = 0x300;

uint64_t epoch_stream(uint64_t kind, int64_t epoch) { return mix_seed(kind, static_cast<uint64_t>(epoch)); }

}  // namespace

std::vector<int64_t> SequentialSampler::indices(int64_t n, uint64_t, int64_t) const {
  std::vector<int64_t> out(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), 0);
  return out;
}

RandomSampler::RandomSampler(bool replacement, std::optional<int64_t> num_samples)
    : replacement_(replacement), num_samples_(num_samples) {
  KILN_CHECK(!num_samples || *num_samples >= 0, "RandomSampler: num_samples must be >= 0, got ",
             *num_samples);
  KILN_CHECK(replacement || !num_samples, "RandomSampler: num_samples needs replacement = true");
}

std::vector<int64_t> RandomSampler::indices(int64_t n, uint64_t seed, int64_t epoch) const {
  const uint64_t stream = epoch_stream(kRandomStream, epoch);
  if (!replacement_) return permutation(n, seed, stream);
  const int64_t k = num_samples_.value_or(n);
  KILN_CHECK(k == 0 || n > 0, "RandomSampler: cannot draw from an empty dataset");
  Rng rng(seed, stream);
  std::vector<int64_t> out(static_cast<size_t>(k));
  for (int64_t& i : out) i = rng.below(n);
  return out;
}

WeightedRandomSampler::WeightedRandomSampler(std::vector<double> weights, int64_t num_samples,
                                             bool replacement)
    : weights_(std::move(weights)), num_samples_(num_samples), replacement_(replacement) {
  KILN_CHECK(!weights_.empty(), "WeightedRandomSampler: no weights");
  KILN_CHECK(num_samples >= 0, "WeightedRandomSampler: num_samples must be >= 0, got ", num_samples);
  double sum = 0;
  int64_t nonzero = 0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    KILN_CHECK(std::isfinite(weights_[i]) && weights_[i] >= 0, "WeightedRandomSampler: weight ", i, " is ",
               weights_[i], "; weights must be finite and >= 0");
    sum += weights_[i];
    nonzero += weights_[i] > 0;
    cumulative_.push_back(sum);
  }
  KILN_CHECK(sum > 0, "WeightedRandomSampler: the weights sum to 0");
  KILN_CHECK(replacement || num_samples <= nonzero, "WeightedRandomSampler: cannot draw ", num_samples,
             " examples without replacement from ", nonzero, " with nonzero weight");
}

std::vector<int64_t> WeightedRandomSampler::indices(int64_t n, uint64_t seed, int64_t epoch) const {
  KILN_CHECK(n == static_cast<int64_t>(weights_.size()), "WeightedRandomSampler: ", weights_.size(),
             " weights for a dataset of ", n, " examples");
  Rng rng(seed, epoch_stream(kWeightedStream, epoch));
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(num_samples_));
  if (replacement_) {
    const double total = cumulative_.back();
    for (int64_t k = 0; k < num_samples_; ++k) {
      double u = rng.uniform() * total;
      auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
      int64_t i = std::min<int64_t>(it - cumulative_.begin(), n - 1);
      while (weights_[i] == 0) --i;  // u landed on the end of a zero-width interval (rounding)
      out.push_back(i);
    }
    return out;
  }
  // Without replacement: the num_samples largest keys u^(1 / w) (Efraimidis and Spirakis), in key order,
  // which draws them one after another with probability proportional to the remaining weights.
  std::vector<std::pair<double, int64_t>> keys;
  for (int64_t i = 0; i < n; ++i) {
    double u = rng.uniform();
    if (weights_[i] > 0) keys.emplace_back(std::log(u > 0 ? u : 1e-300) / weights_[i], i);
  }
  std::partial_sort(keys.begin(), keys.begin() + num_samples_, keys.end(), std::greater<>());
  for (int64_t k = 0; k < num_samples_; ++k) out.push_back(keys[k].second);
  return out;
}

DistributedSampler::DistributedSampler(int64_t world_size, int64_t rank, bool shuffle, bool drop_last)
    : world_size_(world_size), rank_(rank), shuffle_(shuffle), drop_last_(drop_last) {
  KILN_CHECK(world_size >= 1, "DistributedSampler: world_size must be >= 1, got ", world_size);
  KILN_CHECK(rank >= 0 && rank < world_size, "DistributedSampler: rank ", rank, " is outside [0, ",
             world_size - 1, "]");
}

std::vector<int64_t> DistributedSampler::indices(int64_t n, uint64_t seed, int64_t epoch) const {
  std::vector<int64_t> order = shuffle_ ? permutation(n, seed, epoch_stream(kDistributedStream, epoch))
                                        : SequentialSampler().indices(n, seed, epoch);
  KILN_CHECK(n > 0, "DistributedSampler: empty dataset");
  const int64_t per_rank = drop_last_ ? n / world_size_ : (n + world_size_ - 1) / world_size_;
  const int64_t total = per_rank * world_size_;
  for (int64_t i = n; i < total; ++i) order.push_back(order[static_cast<size_t>((i - n) % n)]);
  std::vector<int64_t> out;
  for (int64_t i = rank_; i < total; i += world_size_) out.push_back(order[static_cast<size_t>(i)]);
  return out;
}

std::vector<double> balanced_weights(const std::vector<int64_t>& labels) {
  std::map<int64_t, int64_t> count;
  for (int64_t l : labels) ++count[l];
  std::vector<double> w;
  w.reserve(labels.size());
  for (int64_t l : labels) w.push_back(1.0 / static_cast<double>(count[l]));
  return w;
}

}  // namespace kiln::data
