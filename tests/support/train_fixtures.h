// tests/support/train_fixtures.h: data and models shared by the nn/train tests: separable Gaussian blobs,
// small MLPs, a Fashion-MNIST subset, quiet fit options, and bitwise comparison of model states.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <kiln/kiln.h>

namespace kiln::testing {

// n points in `dim` dimensions around k class centres (spread `noise`), labels 0..k-1 in turn. The centres
// depend only on (dim, k), so sets drawn with different seeds come from one distribution. The default
// generator is left as it was.
inline std::shared_ptr<data::TensorDataset> blobs(int64_t n, int64_t dim, int64_t k, double noise = 0.5,
                                                  uint64_t seed = 7) {
  Generator saved = default_generator();
  manual_seed(1000 + static_cast<uint64_t>(dim * 31 + k));
  Tensor centres = randn({k, dim}) * 3.0;
  manual_seed(seed);
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = i % k;
  Tensor y = from_vector(labels);
  Tensor x = index_select(centres, 0, y) + randn({n, dim}) * noise;
  default_generator() = saved;
  return std::make_shared<data::TensorDataset>(x.contiguous(), y);
}

inline std::shared_ptr<nn::Sequential> mlp(int64_t in, int64_t hidden, int64_t out, double dropout = 0.0) {
  if (dropout > 0)
    return std::make_shared<nn::Sequential>(nn::Linear(in, hidden), nn::ReLU(), nn::Dropout(dropout),
                                            nn::Linear(hidden, out));
  return std::make_shared<nn::Sequential>(nn::Linear(in, hidden), nn::ReLU(), nn::Linear(hidden, out));
}

// `o` without the progress bar and the diagnostics report, for tests that read only the history.
inline nn::train::FitOptions quiet(nn::train::FitOptions o = {}) {
  o.verbose = 0;
  o.diagnostics = false;
  return o;
}

// The first n training images of Fashion-MNIST as f32 (n, 1, 28, 28) in [0, 1] with their labels.
inline std::shared_ptr<data::TensorDataset> fashion_subset(int64_t n, int64_t offset = 0) {
  static auto loaded = data::FashionMNIST::load();
  Tensor x = data::to_tensor(loaded.first.images).narrow(0, offset, n).contiguous();
  Tensor y = loaded.first.labels.narrow(0, offset, n).contiguous();
  return std::make_shared<data::TensorDataset>(x, y);
}

// Every entry of two state dicts has the same name, shape, dtype and bytes.
inline ::testing::AssertionResult bitwise_equal(const StateDict& a, const StateDict& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " entries";
  for (const auto& [name, ta] : a) {
    if (!b.contains(name)) return ::testing::AssertionFailure() << "missing " << name;
    Tensor x = ta.contiguous(), y = b.at(name).contiguous();
    if (x.shape() != y.shape() || x.dtype() != y.dtype())
      return ::testing::AssertionFailure() << name << ": shape or dtype differs";
    const size_t bytes = static_cast<size_t>(x.numel()) * dtype_size(x.dtype());
    if (std::memcmp(x.data_ptr(), y.data_ptr(), bytes) != 0)
      return ::testing::AssertionFailure() << name << ": values differ";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace kiln::testing
