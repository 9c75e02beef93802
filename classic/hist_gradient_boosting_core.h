// kiln/classic/hist_gradient_boosting_core.h: the engine behind HistGradientBoosting* (internal, namespace
// detail): feature binning into at most 255 bins (scikit-learn's _BinMapper: midpoints between distinct
// values when there are few, quantile midpoints otherwise) and a leaf-wise (best-first) grower of one
// gradient/hessian regression tree on the binned data, with histogram subtraction (the larger child's
// histogram is the parent's minus the smaller child's). Depends on tree_common.h and OpenMP.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kiln/classic/tree_common.h"

namespace kiln::classic::detail {

// Feature f's bin edges: a value x falls in the first bin b with x <= thresholds[f][b] (the last bin has no
// edge). Binned data is feature-major: bins[f * N + i].
struct BinMapper {
  std::vector<std::vector<double>> thresholds;
  static BinMapper fit(const std::vector<double>& rows, int64_t n, int64_t d, int64_t max_bins);
  std::vector<uint8_t> transform(const std::vector<double>& rows, int64_t n, int jobs) const;
  int64_t n_features() const { return static_cast<int64_t>(thresholds.size()); }
};

// One fitted boosting tree. Leaves have left = -1 and hold value (already multiplied by the learning rate).
struct HgbTree {
  std::vector<int32_t> left, right, feature;
  std::vector<uint8_t> bin;       // go left when the row's bin <= bin (binned data)
  std::vector<double> threshold;  // the same test on raw values: x <= threshold
  std::vector<double> value;

  double predict_raw(const double* row) const {
    int32_t node = 0;
    while (left[node] >= 0) node = row[feature[node]] <= threshold[node] ? left[node] : right[node];
    return value[node];
  }
  double predict_binned(const uint8_t* bins, int64_t n, int64_t i) const {
    int32_t node = 0;
    while (left[node] >= 0) node = bins[feature[node] * n + i] <= bin[node] ? left[node] : right[node];
    return value[node];
  }
  int64_t leaf_count() const;
};

struct GrowerSettings {
  int64_t max_leaf_nodes = 31;  // -1: unlimited
  int64_t max_depth = -1;       // -1: unlimited
  int64_t min_samples_leaf = 20;
  double l2_regularization = 0.0;
  double learning_rate = 0.1;
  int jobs = 1;
};

// Grows trees on a fixed binned training set; keeps its buffers between trees (no per-node allocation
// once warm).
class HgbGrower {
 public:
  HgbGrower(const std::vector<uint8_t>& bins, int64_t n, const BinMapper& mapper, const GrowerSettings& s);
  ~HgbGrower();
  HgbGrower(const HgbGrower&) = delete;
  HgbGrower& operator=(const HgbGrower&) = delete;
  // Grows one tree on gradients g and hessians h (N each) and adds its leaf values to raw (N, stride
  // `raw_stride`, column `raw_col`) for the training rows.
  HgbTree grow(const double* g, const double* h, double* raw, int64_t raw_stride, int64_t raw_col);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::classic::detail
