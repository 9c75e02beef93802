// kiln/data/dataset.h: the Dataset interface (size, get, get_batch) and the datasets built on it:
// TensorDataset, Subset, ConcatDataset, random_split and train_val_test_split (optionally stratified).
// Datasets are shared, read-only objects: wrappers hold their parents by std::shared_ptr<const Dataset>
// (DatasetPtr), so a Subset never copies data, and get/get_batch may run on several threads at once.
// Depends on tensor/ only (batches are gathered with memcpy and copy_, never with autograd ops).
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::data {

// One example: input x (any shape) and target y (a 0-d label, a vector, or undefined when unlabeled).
struct Example {
  Tensor x;
  Tensor y;
};

// A batch of B examples: x (B, ...) and y (B, ...) stacked along a new first dim (y undefined if unlabeled).
struct Batch {
  Tensor x;
  Tensor y;
  int64_t size() const { return x.defined() ? x.size(0) : 0; }
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example `index`, 0 <= index < size(); throws kiln::Error otherwise.
  virtual Example get(int64_t index) const = 0;
  // The examples at `indices`, stacked. The default calls get() for each and collate(); datasets that can
  // gather a whole batch at once (TensorDataset) override it.
  virtual Batch get_batch(const std::vector<int64_t>& indices) const;
  // All targets as one tensor (N, ...), for stratified splits and class weights. The default stacks the
  // y of every example.
  virtual Tensor targets() const;
};
using DatasetPtr = std::shared_ptr<const Dataset>;

template <class D>
concept DatasetType = std::derived_from<std::remove_cvref_t<D>, Dataset>;

// A shared handle to a copy of `ds` (cheap for the datasets here: they hold tensor handles and pointers).
template <DatasetType D>
DatasetPtr share(D&& ds) {
  return std::make_shared<std::remove_cvref_t<D>>(std::forward<D>(ds));
}
inline DatasetPtr share(DatasetPtr ds) { return ds; }

// Stacks examples into a batch. Requires every x (and every y) to have one shape and dtype; throws
// kiln::Error naming the first example that differs.
Batch collate(const std::vector<Example>& examples);

// Examples are the rows of x (N, ...) and y (N, ...). Both are stored contiguous (a copy is made if
// needed); get() returns views, get_batch() gathers rows with one memcpy each.
class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(Tensor x, Tensor y = Tensor());
  int64_t size() const override { return x_.size(0); }
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  Tensor targets() const override;
  const Tensor& x() const { return x_; }
  const Tensor& y() const { return y_; }

 private:
  Tensor x_, y_;
};

// The examples of `dataset` at `indices` (which may repeat), in that order.
class Subset : public Dataset {
 public:
  Subset() = default;
  Subset(DatasetPtr dataset, std::vector<int64_t> indices);
  template <DatasetType D>
  Subset(D&& dataset, std::vector<int64_t> indices)
      : Subset(share(std::forward<D>(dataset)), std::move(indices)) {}
  int64_t size() const override { return indices_ ? static_cast<int64_t>(indices_->size()) : 0; }
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  Tensor targets() const override;
  const std::vector<int64_t>& indices() const { return *indices_; }
  const DatasetPtr& dataset() const { return dataset_; }

 private:
  int64_t map(int64_t index) const;
  DatasetPtr dataset_;
  std::shared_ptr<const std::vector<int64_t>> indices_;  // shared, so copying a Subset is cheap
};

// The datasets one after another.
class ConcatDataset : public Dataset {
 public:
  explicit ConcatDataset(std::vector<DatasetPtr> datasets);
  int64_t size() const override { return offsets_.back(); }
  Example get(int64_t index) const override;
  Tensor targets() const override;

 private:
  std::vector<DatasetPtr> datasets_;
  std::vector<int64_t> offsets_;  // offsets_[i] = examples before datasets_[i]; back() = total
};

// Random disjoint subsets with the given fractions of the examples (which must be in [0, 1] and sum to
// 1). Sizes are floor(n * fraction), the remainder handed out one each to the splits with the largest
// fractional parts, so each size is within one of n * fraction. The order depends only on `seed`. `auto
// [train, val] = random_split(ds, {0.85, 0.15}, 42);`
std::vector<Subset> random_split(DatasetPtr dataset, const std::vector<double>& fractions, uint64_t seed);
template <size_t N>
std::array<Subset, N> random_split(DatasetPtr dataset, const double (&fractions)[N], uint64_t seed) {
  std::vector<Subset> v =
      random_split(std::move(dataset), std::vector<double>(fractions, fractions + N), seed);
  std::array<Subset, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = std::move(v[i]);
  return out;
}
template <DatasetType D, size_t N>
std::array<Subset, N> random_split(D&& dataset, const double (&fractions)[N], uint64_t seed) {
  return random_split(share(std::forward<D>(dataset)), fractions, seed);
}
template <DatasetType D>
std::vector<Subset> random_split(D&& dataset, const std::vector<double>& fractions, uint64_t seed) {
  return random_split(share(std::forward<D>(dataset)), fractions, seed);
}

struct SplitOptions {
  std::array<double, 3> fractions = {0.70, 0.15, 0.15};  // train, validation, test
  uint64_t seed = 0;
  // Split each class separately (classes from dataset.targets(), integer labels (N)), so every split holds
  // each class in proportion, within one example per class.
  bool stratify = false;
};
struct TrainValTest {
  Subset train, val, test;
};
TrainValTest train_val_test_split(DatasetPtr dataset, const SplitOptions& options = {});
template <DatasetType D>
TrainValTest train_val_test_split(D&& dataset, const SplitOptions& options = {}) {
  return train_val_test_split(share(std::forward<D>(dataset)), options);
}

// Rows `indices` of the contiguous tensor t (N, ...), as a new contiguous tensor (B, ...).
Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& indices);

}  // namespace kiln::data
