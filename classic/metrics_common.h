// kiln/classic/metrics_common.h: internal helpers shared by the metrics_*.cpp files (namespace
// classic::prep_detail): label/weight extraction with length checks, per-label counts. Depends on
// preprocessing_util.h. Not part of the public API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/classic/preprocessing_util.h"

namespace kiln::classic::prep_detail {

// Labels of y_true and y_pred, checked to be 1-D integer tensors of one length.
struct LabelPair {
  std::vector<int64_t> t, p;
};
LabelPair label_pair(const Tensor& y_true, const Tensor& y_pred, const std::string& who);
// sample_weight as (n) doubles: ones when undefined; else checked 1-D, length n, finite and >= 0.
std::vector<double> weights_of(const Tensor& sample_weight, size_t n, const std::string& who);
// Sorted union of the labels in a and b.
std::vector<int64_t> union_labels(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
// Position of each label in `labels` (sorted or not), or -1.
int64_t label_index(const std::vector<int64_t>& labels, int64_t label);

// Per-label weighted counts for the chosen labels: true positives, predicted, true.
struct LabelCounts {
  std::vector<double> tp, pred, truth;
};
LabelCounts label_counts(const LabelPair& y, const std::vector<double>& w,
                         const std::vector<int64_t>& labels);

// Precision/recall/F of already-resolved labels and average (the core of precision_recall_fscore_support).
struct Prf {
  std::vector<double> precision, recall, fscore, support;  // one entry when averaged
};
Prf prf(const LabelPair& y, const std::vector<double>& w, const std::vector<int64_t>& labels,
        const std::string& average, double beta, double zero_division);

}  // namespace kiln::classic::prep_detail
